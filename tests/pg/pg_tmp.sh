#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests: initdb in a temporary directory,
# started on a free loopback port, trust authentication, superuser
# "blobsync", nothing left behind.
#
#   pg_tmp.sh start DIR      initialise and start in DIR (created, must not
#                            exist or be empty); prints the URL and writes it
#                            to DIR/url
#   pg_tmp.sh stop DIR       stop the server and remove DIR
#   pg_tmp.sh run -- CMD...  start in a new temporary DIR, run CMD with
#                            BLOBSYNC_TEST_PG_URL=<url> and PATH including the
#                            PostgreSQL binaries, stop, exit with CMD's status
#
# Exits 77 (CTest SKIP_RETURN_CODE) when the PostgreSQL server binaries are
# not installed (Debian: apt-get install postgresql). As root the server runs
# as the unprivileged `postgres` user (initdb refuses root), in a directory
# that user owns. PG_BIN overrides where initdb and pg_ctl are looked for.
set -euo pipefail

find_bin() {
  if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ]; then echo "$d"; return; fi
  if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
  echo ""
}

PG_BIN=$(find_bin)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ] || [ ! -x "$PG_BIN/pg_ctl" ]; then
  echo "pg_tmp.sh: PostgreSQL server binaries not found (apt-get install postgresql); skipping" >&2
  exit 77
fi

# Runs a command as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u "${PG_USER:-postgres}" -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    id "${PG_USER:-postgres}" >/dev/null 2>&1 || { echo "pg_tmp.sh: no user ${PG_USER:-postgres} to run the server as" >&2; exit 1; }
    chown "${PG_USER:-postgres}" "$dir"
    chmod 700 "$dir"
  fi
  as_owner "$PG_BIN/initdb" -D "$dir/data" -U blobsync -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  # A port picked here can be taken before the server binds it: try a few.
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
      local url="postgresql://blobsync@127.0.0.1:$port/postgres"
      echo "$url" >"$dir/url"
      echo "$url"
      return 0
    fi
  done
  echo "pg_tmp.sh: the server did not start; log:" >&2
  cat "$dir/server.log" >&2 || true
  exit 1
}

stop() {
  local dir=$1
  if [ -d "$dir/data" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || { echo "usage: $0 start DIR" >&2; exit 2; }; start "$2" ;;
  stop) [ $# -eq 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$2" ;;
  run)
    shift
    [ "${1:-}" = "--" ] && shift
    [ $# -ge 1 ] || { echo "usage: $0 run -- CMD..." >&2; exit 2; }
    dir=$(mktemp -d "${TMPDIR:-/tmp}/blobsync-pg.XXXXXX")
    trap 'stop "$dir"' EXIT INT TERM
    url=$(start "$dir")
    status=0
    BLOBSYNC_TEST_PG_URL="$url" PATH="$PG_BIN:$PATH" "$@" || status=$?
    exit $status
    ;;
  *) echo "usage: $0 start DIR | stop DIR | run -- CMD..." >&2; exit 2 ;;
esac

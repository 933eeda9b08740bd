#!/usr/bin/env bash
# Rooms and connections at rest, against the reference y-websocket server
# (y-websocket@1.5.4 bin/server.js, in memory, no persistence), same run
# (issue 20):
#   1. Loading ROOMS rooms (default 1,000), one connection each, kept open:
#      each client sends sync step 1 and its awareness state after the
#      greeting, then writes BYTES (2,048) of text in UPDATES (32) updates,
#      each once the previous one came back (bench/sync_load load, PARALLEL
#      rooms at a time). Prints the server's CPU for the whole load
#      (utime + stime of /proc/PID/stat, all threads, from the first
#      connection to the last room loaded) and the RSS per loaded room with
#      its open connection (VmRSS after the load minus before it, over
#      ROOMS; readings 1 s after the load, the reference's after a full GC,
#      bench/ref_gc.cjs). Then the connections close, and after
#      room_idle_timeout (IDLE_TIMEOUT, set short) plus SETTLE seconds, the
#      RSS again: ours must be back within 10% or 2 MiB of before the load
#      (the reference keeps its documents: it never unloads one).
#   2. CONNS (10,000) idle connections over 100 rooms: RSS per connection.
#      Each sends sync step 1 and its awareness state after the greeting, as
#      a y-websocket client does on opening, then nothing (bench/sync.sh's
#      part 3 opens silent connections instead: IDLE_HELLO=0 here).
# Ours runs with durable commits (synchronous=FULL, group commit) unless
# SYNC_BENCH_NOFSYNC=1. REPEAT rounds (default 2), the servers interleaved
# within each; every round's figures are printed, then the medians.
# BLOBSYNC_BASE_BIN=/path/to/blobsync adds a second blobsync ("base", e.g.
# main's binary) to every round, for an A/B in the same minutes;
# BLOBSYNC_ARGS: more `serve` flags for both (e.g. "--threads 1").
# Goals: load CPU <= 1/2 of the reference's; RSS per room with its
# connection <= 1/5; RSS after unload within 10% or 2 MiB of before;
# idle connections <= 4 KiB each.
#
# Usage: bench/rooms.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
#   ROOMS_BENCH_ONLY=load|idle: one part only.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target sync_load >/dev/null
[[ -n "${BLOBSYNC_SYNC_BIN:-}" ]] || cmake --build "$BUILD" --target blobsync >/dev/null
LOAD="$BUILD/bench/sync_load"
OURS=${BLOBSYNC_SYNC_BIN:-$BUILD/src/cli/blobsync}
BASE=${BLOBSYNC_BASE_BIN:-}
ROOMS=${ROOMS:-1000}
UPDATES=${UPDATES:-32}
BYTES=${BYTES:-2048}
PARALLEL=${PARALLEL:-50}
CONNS=${CONNS:-10000}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-2}  # seconds
SETTLE=${SETTLE:-3}
REPEAT=${REPEAT:-2}
ONLY=${ROOMS_BENCH_ONLY:-all}
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d /tmp/blobsync-rooms.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# utime + stime of every thread, in clock ticks (field 2 may hold spaces).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
TICKS=$(getconf CLK_TCK)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_blobsync() {  # BIN -> PID PORT
  local port; port=$(free_port)
  local extra=(); [[ "${SYNC_BENCH_NOFSYNC:-0}" == 1 ]] && extra+=(--sync-fsync false)
  read -r -a more <<<"${BLOBSYNC_ARGS:-}"; extra+=("${more[@]}")
  "$1" serve --listen "127.0.0.1:$port" --data "$WORK/ours-$port" --access-log off --max-connections 20000 \
    --max-connections-per-ip 20000 --sync-max-new-rooms-per-address 0 --room-idle-timeout "${IDLE_TIMEOUT}s" \
    "${extra[@]}" >"$WORK/ours-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q listening "$WORK/ours-$port.log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid $port"
}
start_ours() { start_blobsync "$OURS"; }
start_base() { start_blobsync "$BASE"; }
start_ref() {
  local port; port=$(free_port)
  HOST=127.0.0.1 PORT=$port node --expose-gc -r ./bench/ref_gc.cjs tests/node_modules/y-websocket/bin/server.js \
    >"$WORK/ref-$port.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q running "$WORK/ref-$port.log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid $port"
}
prefix_of() { [[ $1 == ref ]] && echo "" || echo "sync/"; }
settled_rss_kb() {  # WHO PID
  [[ $1 == ref ]] && kill -USR2 "$2"
  sleep 1
  rss_kb "$2"
}
wait_ready() {  # FILE
  for _ in $(seq 3000); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "load generator never got ready: $(cat "$1")" >&2
  return 1
}
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else printf "%.15g\n", (v[NR/2]+v[NR/2+1])/2}'; }

WHO=(ours ref); [[ -n $BASE ]] && WHO=(ours base ref)
declare -A R
read -r load1 _ < /proc/loadavg
echo "# rooms bench: $(nproc) cores, load average $load1, node $(node --version), durable=$([[ ${SYNC_BENCH_NOFSYNC:-0} == 1 ]] && echo no || echo yes)"
echo "# $ROOMS rooms x $UPDATES updates ($BYTES bytes of text), $PARALLEL at a time; room_idle_timeout ${IDLE_TIMEOUT}s; $CONNS idle connections"
for rep in $(seq "$REPEAT"); do
  if [[ $ONLY != idle ]]; then
    for who in "${WHO[@]}"; do
      read -r pid port < <(start_$who)
      PIDS+=("$pid")
      before=$(settled_rss_kb $who "$pid")
      c0=$(cpu_ticks "$pid")
      rm -f "$WORK/load-$who.out"  # a previous round's "ready" must not count
      exec {fd}> >("$LOAD" load --port "$port" --prefix "$(prefix_of $who)" --count "$ROOMS" --updates "$UPDATES" \
        --bytes "$BYTES" --parallel "$PARALLEL" >"$WORK/load-$who.out")
      wait_ready "$WORK/load-$who.out"
      c1=$(cpu_ticks "$pid")
      loaded=$(settled_rss_kb $who "$pid")
      exec {fd}>&-
      sleep $((IDLE_TIMEOUT + SETTLE))
      unloaded=$(settled_rss_kb $who "$pid")
      secs=$(awk '{print $3}' "$WORK/load-$who.out")
      cpu=$(echo "($c1 - $c0) / $TICKS" | bc -l)
      per_room=$(( (loaded - before) * 1024 / ROOMS ))
      printf '# round %d %-4s load: %.2f CPU-s in %.2f s; RSS %d -> %d KiB (%d B/room) -> %d KiB after unload\n' \
        "$rep" "$who" "$cpu" "$secs" "$before" "$loaded" "$per_room" "$unloaded"
      R[$who.cpu]+="$cpu "; R[$who.room]+="$per_room "; R[$who.secs]+="$secs "
      R[$who.back]+="$(( unloaded - before )) "; R[$who.before]+="$before "; R[$who.grown]+="$(( loaded - before )) "
      kill "$pid"; wait "$pid" 2>/dev/null || true
    done
  fi
  if [[ $ONLY != load ]]; then
    for who in "${WHO[@]}"; do
      read -r pid port < <(start_$who)
      PIDS+=("$pid")
      before=$(settled_rss_kb $who "$pid")
      rm -f "$WORK/idle-$who.out"
      exec {fd}> >("$LOAD" idle --port "$port" --prefix "$(prefix_of $who)" --count "$CONNS" --rooms 100 --hello "${IDLE_HELLO:-1}" >"$WORK/idle-$who.out")
      wait_ready "$WORK/idle-$who.out"
      after=$(settled_rss_kb $who "$pid")
      exec {fd}>&-
      per_conn=$(( (after - before) * 1024 / CONNS ))
      printf '# round %d %-4s idle: RSS %d -> %d KiB for %d connections (%d B each)\n' "$rep" "$who" "$before" "$after" "$CONNS" "$per_conn"
      R[$who.conn]+="$per_conn "
      kill "$pid"; wait "$pid" 2>/dev/null || true
    done
  fi
done
read -r load2 _ < /proc/loadavg

med() { tr ' ' '\n' <<<"${R[$1]:-}" | grep -v '^$' | median; }
echo "# medians of $REPEAT rounds, load average $load1 -> $load2"
printf '%-48s %12s %12s %12s\n' metric blobsync "$([[ -n $BASE ]] && echo base || echo -)" y-websocket
row() {  # LABEL KEY FORMAT
  local b=-; [[ -n $BASE ]] && b=$(printf "$3" "$(med base.$2)")
  printf '%-48s %12s %12s %12s\n' "$1" "$(printf "$3" "$(med ours.$2)")" "$b" "$(printf "$3" "$(med ref.$2)")"
}
if [[ $ONLY != idle ]]; then
  row "CPU-s to load $ROOMS rooms" cpu %.2f
  row "  wall s" secs %.2f
  row "B RSS per loaded room with its connection" room %.0f
  row "KiB RSS after unload minus before the load" back %.0f
  ours_cpu=$(med ours.cpu); ref_cpu=$(med ref.cpu); ours_room=$(med ours.room); ref_room=$(med ref.room)
  back=$(med ours.back); grown=$(med ours.grown); allowed=$(med ours.before | awk '{a = $1 / 10; print (a > 2048 ? int(a) : 2048)}')
  printf 'load CPU ratio %.2f (goal <= 0.5); memory per room ratio %.2f (goal <= 0.2); RSS after unload %s KiB above before the load (goal <= %s KiB: 10%% or 2 MiB), of %s KiB grown\n' \
    "$(echo "$ours_cpu / $ref_cpu" | bc -l)" "$(echo "$ours_room / $ref_room" | bc -l)" "$back" "$allowed" "$grown"
fi
if [[ $ONLY != load ]]; then
  row "B RSS per idle connection ($CONNS over 100 rooms)" conn %.0f
  printf 'idle connection: %s B (goal <= 4096), ratio to the reference %.2f\n' "$(med ours.conn)" "$(echo "$(med ours.conn) / $(med ref.conn)" | bc -l)"
fi

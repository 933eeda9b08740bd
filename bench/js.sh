#!/usr/bin/env bash
# @blobsync/client (Node) next to the C++ client on the same file in the same
# run: putBlob/getBlob of a 256 MiB buffer against one server, as ratios to
# `blobsync put --server` / `get --server` (the same protocol and the same
# work: hash, keep a local copy, upload through the blob channel; fetch,
# verify every chunk, keep it locally). Goal: both ratios >= 0.7 (ratio =
# C++ time / JS time, so 1.0 is as fast). Each side gets a fresh server (else
# the second upload would be deduplicated to nothing) and fresh local stores.
# Then, unless JS_BENCH_RSS=0, peak RSS of the Node process for a 1 GiB
# put and get from a file-backed Blob (goal < 200 MiB).
#
# Differences that remain: the C++ client's local store is durable (fsync)
# and `get` copies the blob to stdout (here /dev/null) after fetching it; the
# JS cache is not fsynced.
#
# Usage: bench/js.sh [BUILD_DIR]   (default build/release); BENCH_DIR=/path (default bench/out)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
BIN=$BUILD/src/cli/blobsync
[ -x "$BIN" ] || cmake --build "$BUILD" --target blobsync >/dev/null
(cd clients/js && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error >/dev/null; } && npm run --silent build)
WORK=${BENCH_DIR:-bench/out}/js
rm -rf "$WORK"; mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
export BENCH_TMP=$WORK
# Every server this script starts is stopped on exit (its pid is kept in a file).
cleanup() { [ -f "$WORK/pids" ] && while read -r p; do kill "$p" 2>/dev/null || true; done < "$WORK/pids"; rm -rf "$WORK"; }
trap cleanup EXIT

# Starts a server on a free port with a fresh store; sets $url to its sync URL.
serve() {
  local dir=$WORK/$1 log=$WORK/$1.log
  mkdir -p "$dir"
  "$BIN" serve --listen 127.0.0.1:0 --data "$dir" --access-log off --max-upload-bytes $((4 << 30)) >"$log" 2>&1 &
  echo $! >> "$WORK/pids"
  for _ in $(seq 200); do
    if grep -q 'listening on' "$log"; then
      url="ws://$(grep -o 'listening on [^ ]*' "$log" | head -1 | cut -d' ' -f3)/sync"; return
    fi
    sleep 0.05
  done
  echo "bench/js.sh: server did not start: $(cat "$log")" >&2; exit 1
}
# Stops the servers started so far (each run has its own; none needs to outlive it).
stop_servers() { while read -r p; do kill "$p" 2>/dev/null || true; done < "$WORK/pids"; : > "$WORK/pids"; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

read -r load1 _ < /proc/loadavg
echo "# @blobsync/client (node $(node --version)) vs the C++ client: $(nproc) cores, load average $load1"
MIB=${JS_BENCH_MIB:-256}
head -c $((MIB << 20)) /dev/urandom > "$WORK/input.bin"

serve cpp-server
t0=$(now)
ref=$("$BIN" put "$WORK/input.bin" --server "$url" --room bench --data "$WORK/cpp-put")
cpp_put=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')
hash=$(echo "$ref" | grep -o 'sha256:[0-9a-f]*')
t0=$(now)
"$BIN" get "$hash" --server "$url" --room bench --data "$WORK/cpp-get" >/dev/null
cpp_get=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { print b - a }')

stop_servers
serve js-server
out=$(node bench/js_bench.mjs time "$WORK/input.bin" "$url" bench)
js_put=$(echo "$out" | grep -o '"put_s":[0-9.]*' | cut -d: -f2)
js_get=$(echo "$out" | grep -o '"get_s":[0-9.]*' | cut -d: -f2)
[ "$(echo "$out" | grep -o 'sha256:[0-9a-f]*')" = "$hash" ] || { echo "bench/js.sh: the clients disagree on the hash" >&2; exit 1; }

printf '%-26s %10s %10s %8s\n' "$MIB MiB" "C++ (s)" "JS (s)" "ratio"
printf '%-26s %10.3f %10.3f %8s\n' "put (hash, store, upload)" "$cpp_put" "$js_put" "$(ratio "$cpp_put" "$js_put")"
printf '%-26s %10.3f %10.3f %8s\n' "get (fetch, verify, store)" "$cpp_get" "$js_get" "$(ratio "$cpp_get" "$js_get")"

if [ "${JS_BENCH_RSS:-1}" != 0 ]; then
  rm -f "$WORK/input.bin"
  head -c $((1 << 30)) /dev/urandom > "$WORK/big.bin"
  stop_servers
  serve rss-server
  out=$(node bench/js_bench.mjs rss "$WORK/big.bin" "$url" bench)
  echo "1 GiB from a file-backed Blob: $out (goal: max_rss_mib < 200)"
fi

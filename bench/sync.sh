#!/usr/bin/env bash
# Sync server vs the reference y-websocket server (y-websocket@1.5.4
# bin/server.js, in-memory, no persistence), same machine, same run:
#   1. throughput: 100 clients in one room, each appending to its own Y.Text
#      with 4 updates in flight; deliveries/s (every [0,2] received by every
#      client) and p50/p99 latency (send -> delivery)
#   2. memory per loaded idle room: the marginal cost. WARM_ROOMS rooms first
#      (past each runtime's one-off growth: V8 grows its heap spaces by tens
#      of MiB during the first thousand rooms, which a plain "RSS growth over
#      N rooms" would charge to the rooms), then RSS growth over ROOMS more
#      rooms, divided by ROOMS. Each room got one update, then its connection
#      closed; ours keeps rooms loaded for 10 min. Readings are taken at a
#      steady state: 1 s after the load, and the reference gets a full GC
#      first (bench/ref_gc.cjs, SIGUSR2) so garbage is not counted as rooms.
#   3. memory for 10,000 idle connections (100 rooms), same readings
#   4. fixed-rate delivery (bench/sync_rate.mjs): 100 clients in one room,
#      each sending a small Y.Text edit RATE times a second (RATES, default
#      "5 10 12"), every update delivered to the other 99. Per rate: the
#      server's CPU per delivery (utime+stime from /proc/PID/stat over the
#      measured window), its system calls per delivery (perf stat
#      raw_syscalls:sys_enter, "-" without perf) and send -> delivery p50/p99,
#      for ours, the reference and the floor: bench/relay_floor, a minimal
#      epoll relay doing one send() per delivery (what the kernel allows).
#      The three run back to back per rate, REPEAT times (default 2),
#      interleaved; the median of each is printed. The clients speak the
#      y-websocket protocol with updates made by a real Y.Doc each, but scan
#      received updates for their stamps instead of applying them
#      (SYNC_RATE_MODE=provider: real WebsocketProviders that apply every
#      update; their Yjs work is 100-140 us per received update here, so they
#      cannot keep up with 100 x 99 deliveries at these rates on 2 cores).
#      BLOBSYNC_SYNC_BASE=PATH adds a fourth server, another blobsync binary
#      (e.g. main's), interleaved with the others: an A/B in the same minutes.
# Ours runs with durable commits (synchronous=FULL, group commit) unless
# SYNC_BENCH_NOFSYNC=1. Goals: >= 5x throughput, <= 1/5 memory per room.
#
# Usage: bench/sync.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
#   SYNC_BENCH_ONLY=rate: only part 4; SYNC_BENCH_ONLY=classic: parts 1-3.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target sync_load relay_floor >/dev/null
[[ -n "${BLOBSYNC_SYNC_BIN:-}" ]] || cmake --build "$BUILD" --target blobsync >/dev/null
LOAD="$BUILD/bench/sync_load"
OURS=${BLOBSYNC_SYNC_BIN:-$BUILD/src/cli/blobsync}
WARM_ROOMS=${WARM_ROOMS:-2000}
ROOMS=${ROOMS:-4000}
CONNS=${CONNS:-10000}
SECONDS_RUN=${SECONDS_RUN:-10}
RATES=${RATES:-5 10 12}
REPEAT=${REPEAT:-2}
RATE_SECONDS=${RATE_SECONDS:-10}
ONLY=${SYNC_BENCH_ONLY:-all}
ulimit -n "$(ulimit -Hn)"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_ours() {  # -> PID PORT
  local port; port=$(free_port)
  local extra=(); [[ "${SYNC_BENCH_NOFSYNC:-0}" == 1 ]] && extra+=(--sync-fsync false)
  $OURS serve --listen "127.0.0.1:$port" --data "$WORK/ours-$port" --access-log off --max-connections 20000 --max-connections-per-ip 20000 --sync-max-new-rooms-per-address 0 \
    --room-idle-timeout 10m "${extra[@]}" >"$WORK/ours-$port.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  for _ in $(seq 100); do grep -q listening "$WORK/ours-$port.log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid $port"
}
start_base() {  # another blobsync binary (BLOBSYNC_SYNC_BASE), same flags
  OURS=$BLOBSYNC_SYNC_BASE start_ours
}
start_ref() {
  local port; port=$(free_port)
  HOST=127.0.0.1 PORT=$port node --expose-gc -r ./bench/ref_gc.cjs tests/node_modules/y-websocket/bin/server.js \
    >"$WORK/ref-$port.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  for _ in $(seq 100); do grep -q running "$WORK/ref-$port.log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid $port"
}
start_floor() {
  local port; port=$(free_port)
  "$BUILD/bench/relay_floor" "$port" >"$WORK/floor-$port.log" 2>&1 &
  local pid=$!; PIDS+=("$pid")
  for _ in $(seq 100); do grep -q listening "$WORK/floor-$port.log" 2>/dev/null && break; sleep 0.1; done
  echo "$pid $port"
}
prefix_of() { [[ $1 == ours ]] && echo "sync/" || echo ""; }
# RSS in KiB at a steady state: the reference collects its garbage first.
settled_rss_kb() {  # WHO PID
  [[ $1 == ref ]] && kill -USR2 "$2"
  sleep 1
  rss_kb "$2"
}

read -r load1 _ < /proc/loadavg
echo "# sync bench: $(nproc) cores, load average $load1, node $(node --version), durable=$([[ ${SYNC_BENCH_NOFSYNC:-0} == 1 ]] && echo no || echo yes)"
declare -A R
if [[ $ONLY != rate ]]; then
for who in ours ref; do
  read -r pid port < <(start_$who)
  out=$("$LOAD" throughput --port "$port" --prefix "$(prefix_of $who)" --clients 100 --seconds "$SECONDS_RUN")
  R[$who.dps]=$(awk '/deliveries_per_s/ {print $2}' <<<"$out")
  R[$who.p50]=$(awk '/p50_ms/ {print $2}' <<<"$out")
  R[$who.p99]=$(awk '/p99_ms/ {print $2}' <<<"$out")
  kill "$pid"; wait "$pid" 2>/dev/null || true

  read -r pid port < <(start_$who)
  start=$(settled_rss_kb $who "$pid")
  "$LOAD" rooms --port "$port" --prefix "$(prefix_of $who)" --count "$WARM_ROOMS" >/dev/null  # warm up
  before=$(settled_rss_kb $who "$pid")
  R[$who.warm]=$(( (before - start) * 1024 / WARM_ROOMS ))
  "$LOAD" rooms --port "$port" --prefix "$(prefix_of $who)" --count "$ROOMS" --first "$WARM_ROOMS" >/dev/null
  after=$(settled_rss_kb $who "$pid")
  R[$who.room]=$(( (after - before) * 1024 / ROOMS ))
  kill "$pid"; wait "$pid" 2>/dev/null || true

  read -r pid port < <(start_$who)
  before=$(settled_rss_kb $who "$pid")
  exec {fd}> >("$LOAD" idle --port "$port" --prefix "$(prefix_of $who)" --count "$CONNS" --rooms 100 >"$WORK/idle-$who.out")
  for _ in $(seq 600); do grep -q ready "$WORK/idle-$who.out" 2>/dev/null && break; sleep 0.1; done
  after=$(settled_rss_kb $who "$pid")
  R[$who.conns]=$(( (after - before) ))
  exec {fd}>&-
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
fi

# ---- 4. fixed-rate delivery ----
url_of() { case $1 in ours|base) echo "ws://127.0.0.1:$2/sync" ;; *) echo "ws://127.0.0.1:$2" ;; esac; }
median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else printf "%.15g\n", (v[NR/2]+v[NR/2+1])/2}'; }
declare -A RATE
if [[ $ONLY != classic ]]; then
  for rep in $(seq "$REPEAT"); do
    for rate in $RATES; do
      for who in floor ours ref ${BLOBSYNC_SYNC_BASE:+base}; do
        read -r pid port < <(start_$who)
        out=$(node bench/sync_rate.mjs --url "$(url_of $who "$port")" --room "rate$rate" --pid "$pid" --rate "$rate" \
          --seconds "$RATE_SECONDS" --mode "${SYNC_RATE_MODE:-wire}") || { kill "$pid"; exit 1; }  # PIDS is a subshell's
        kill "$pid"; wait "$pid" 2>/dev/null || true
        echo "# $who rate=$rep/$rate $out" >&2
        for k in us_per_delivery syscalls_per_delivery p50_ms p99_ms cpu_user_s cpu_sys_s delivered expected; do
          v=$(node -e 'const o=JSON.parse(process.argv[1]); const v=o[process.argv[2]]; console.log(v == null ? "nan" : v)' "$out" "$k")
          RATE[$who.$rate.$k]+="$v "
        done
      done
    done
  done
fi

read -r load2 _ < /proc/loadavg
if [[ $ONLY != rate ]]; then
printf '%-44s %14s %14s %8s\n' metric blobsync y-websocket ratio
printf '%-44s %14s %14s %8.2f\n' "deliveries/s (100 clients, 1 room)" "${R[ours.dps]}" "${R[ref.dps]}" "$(echo "${R[ours.dps]} / ${R[ref.dps]}" | bc -l)"
printf '%-44s %14s %14s %8.2f\n' "p50 latency ms" "${R[ours.p50]}" "${R[ref.p50]}" "$(echo "${R[ours.p50]} / ${R[ref.p50]}" | bc -l)"
printf '%-44s %14s %14s %8.2f\n' "p99 latency ms" "${R[ours.p99]}" "${R[ref.p99]}" "$(echo "${R[ours.p99]} / ${R[ref.p99]}" | bc -l)"
printf '%-44s %14s %14s %8.2f\n' "bytes per loaded idle room (+$ROOMS rooms)" "${R[ours.room]}" "${R[ref.room]}" "$(echo "${R[ours.room]} / ${R[ref.room]}" | bc -l)"
printf '%-44s %14s %14s %8.2f\n' "  (first $WARM_ROOMS rooms incl. one-off growth)" "${R[ours.warm]}" "${R[ref.warm]}" "$(echo "${R[ours.warm]} / ${R[ref.warm]}" | bc -l)"
printf '%-44s %14s %14s %8.2f\n' "KiB RSS for $CONNS idle connections" "${R[ours.conns]}" "${R[ref.conns]}" "$(echo "${R[ours.conns]} / ${R[ref.conns]}" | bc -l)"
echo "# goals: deliveries ratio >= 5, room memory ratio <= 0.2"
fi
if [[ $ONLY != classic ]]; then
  med() { tr ' ' '\n' <<<"${RATE[$1]}" | grep -v '^$' | median; }
  echo "# fixed rate: 100 clients x RATE updates/s in one room, ${RATE_SECONDS}s windows, median of $REPEAT, load average $load1 -> $load2"
  printf '%-6s %-11s %10s %10s %10s %9s %9s %10s %10s\n' rate server us/deliv user_s sys_s sys/deliv p50_ms p99_ms delivered%
  for rate in $RATES; do
    for who in ours ${BLOBSYNC_SYNC_BASE:+base} ref floor; do
      name=$who; [[ $who == ours ]] && name=blobsync; [[ $who == ref ]] && name=y-websocket
      d=$(med $who.$rate.delivered); e=$(med $who.$rate.expected)
      printf '%-6s %-11s %10.2f %10.2f %10.2f %9s %9.2f %10.2f %10.1f\n' "$rate" "$name" "$(med $who.$rate.us_per_delivery)" \
        "$(med $who.$rate.cpu_user_s)" "$(med $who.$rate.cpu_sys_s)" "$(printf '%.2f' "$(med $who.$rate.syscalls_per_delivery)" 2>/dev/null || echo -)" \
        "$(med $who.$rate.p50_ms)" "$(med $who.$rate.p99_ms)" "$(echo "100 * $d / $e" | bc -l)"
    done
    ours=$(med ours.$rate.us_per_delivery); ref=$(med ref.$rate.us_per_delivery); floor=$(med floor.$rate.us_per_delivery)
    goal=$(case $rate in 5) echo 0.5 ;; 10) echo 0.33 ;; 12) echo 0.25 ;; *) echo - ;; esac)
    printf '%-6s CPU per delivery ratio blobsync/y-websocket %.2f (goal <= %s), blobsync/floor %.2f; blobsync p99 %.2f ms (goal <= 10)\n' \
      "$rate" "$(echo "$ours / $ref" | bc -l)" "$goal" "$(echo "$ours / $floor" | bc -l)" "$(med ours.$rate.p99_ms)"
    if [[ -n ${BLOBSYNC_SYNC_BASE:-} ]]; then
      base=$(med base.$rate.us_per_delivery)
      printf '%-6s A/B: blobsync/base CPU per delivery %.2f; base/y-websocket %.2f\n' "$rate" "$(echo "$ours / $base" | bc -l)" "$(echo "$base / $ref" | bc -l)"
    fi
  done
fi

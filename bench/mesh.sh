#!/usr/bin/env bash
# Mesh replication vs rsync, in the same run: server B replicates from server
# A (replication = all) 1,000 blobs of 1 MiB, then one blob of 1 GiB; rsync
# copies the same files over loopback to an rsync daemon. Prints the times
# and the ratio rsync/mesh (>= 1: the mesh is no slower). Goal: >= 1.
#
# The mesh time runs from B listening (peer A, empty data dir; B's process
# start, 0.1-0.15 s of dynamic linking and opening its store, is not timed,
# as the rsync daemon's start is not) until B has logged every blob
# replicated: link setup, registry sync, transfer,
# chunk and blob verification, and durable ingest (fdatasync, rename,
# directory fsync, SQLite commit) of every blob. rsync never fsyncs, so
# "rsync+sync" also times a `sync -f` of its destination afterwards. Both
# sources start in the page cache (A's blobs are read once before B starts).
#
# Under each case it also prints the CPU time each server used (A while B
# replicated; B from its start), to tell a CPU-bound run from a disk-bound one.
#
# Usage: bench/mesh.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
#        MESH_SMALL_N=1000 MESH_BIG_MIB=1024 MESH_POLL_SECONDS=0.02 BENCH_DIR=/tmp bench/mesh.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target mesh_seed >/dev/null
[[ -n "${BLOBSYNC_MESH_BIN:-}" ]] || cmake --build "$BUILD" --target blobsync >/dev/null
SERVER=${BLOBSYNC_MESH_BIN:-$BUILD/src/cli/blobsync}
SEED="$BUILD/bench/mesh_seed"
SMALL_N=${MESH_SMALL_N:-1000}
BIG_MIB=${MESH_BIG_MIB:-1024}
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/mesh-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now() { date +%s.%N; }
# The interpreter itself, not a version manager's shim (pyenv's runs a few
# shell scripts at every start: tens of ms of CPU, taken from the servers
# while the poller starts inside the timed part).
PY=$(python3 -c 'import sys; print(sys.executable)')
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME PORT [ARGS...]: starts it, waits for "listening on".
start_server() {
  local name=$1 port=$2; shift 2
  $SERVER serve --listen "127.0.0.1:$port" --data "$WORK/$name" --access-log off --max-upload-bytes $((4 << 30)) "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 2000); do
    grep -q "listening on" "$WORK/$name.out" 2>/dev/null && return 0
    sleep 0.005
  done
  echo "server $name did not start: $(cat "$WORK/$name.err")" >&2
  exit 1
}

# cpu_seconds PID: user+system CPU time the process has used so far.
cpu_seconds() {
  python3 -c "import os,sys; f=open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$1"
}

stop_servers() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  PIDS=()
}

# wait_replicated PORT COUNT LOG: one poller (not a curl and a python3 per
# poll, which cost 50-100 ms each on a loaded machine and were counted as mesh
# time) follows B's log, where each blob is reported ("mesh: replicated")
# once it is verified, durable and indexed; reading a few new log bytes every
# MESH_POLL_SECONDS (0.02) costs next to nothing, where asking /peers cost
# the poller about 5 ms of CPU a time (a tenth of a core at 0.05 s), taken
# from the servers. At COUNT lines the time is taken, then /peers confirms
# the count and no fetch active or queued. Prints "END_TIME BYTES".
wait_replicated() {
  "$PY" - "$1" "$2" "$3" "${MESH_POLL_SECONDS:-0.02}" <<'PY'
import json, sys, time, urllib.request
port, count, log, poll = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
deadline, seen, tail = time.time() + 1800, 0, b""
with open(log, "rb") as f:
    while seen < count:
        data = f.read()
        if data:
            data = tail + data
            seen += data.count(b"mesh: replicated ")
            cut = data.rfind(b"\n") + 1
            tail = data[cut:]
            seen -= tail.count(b"mesh: replicated ")  # counted again once its line is whole
        elif time.time() > deadline:
            sys.exit(f"timed out: {seen}/{count} replicated")
        else:
            time.sleep(poll)
end = time.time()
while True:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/peers", timeout=10) as resp:
        r = json.load(resp)
    if r["blobs_replicated"] >= count and r["fetches_active"] == 0 and r["fetches_queued"] == 0:
        break
    if time.time() > deadline:
        sys.exit(f"/peers disagrees with the log: {r}")
    time.sleep(0.05)
print(f"{end:.6f} {r['bytes_replicated']}")
PY
}

# mesh_run LABEL COUNT FILES...: seeds A, then times B replicating COUNT blobs.
mesh_run() {
  local label=$1 count=$2; shift 2
  local pa pb
  pa=$(free_port); pb=$(free_port)
  rm -rf "$WORK/a" "$WORK/b" "$WORK/seed"
  start_server a "$pa"
  "$SEED" --server "ws://127.0.0.1:$pa/sync" --room bench --data "$WORK/seed" "$@" >/dev/null
  rm -rf "$WORK/seed"
  # Same start as rsync's: its source files sit in the page cache (just
  # written), while A's store wrote its blobs with O_DIRECT, past the cache.
  find "$WORK/a/blobs" -type f -size +0 -exec cat {} + >/dev/null
  local t0 t1 bytes cpu_a0 cpu_a1 cpu_b1
  cpu_a0=$(cpu_seconds "${PIDS[0]}")
  start_server b "$pb" --peer "ws://127.0.0.1:$pa/sync"
  t0=$(now)
  read -r t1 bytes < <(wait_replicated "$pb" "$count" "$WORK/b.err")
  [ -n "${t1:-}" ] || exit 1
  cpu_a1=$(cpu_seconds "${PIDS[0]}"); cpu_b1=$(cpu_seconds "${PIDS[1]}")
  stop_servers
  MESH_CPU=$(python3 -c "print(f'A (sender) {$cpu_a1 - $cpu_a0:.2f} s, B (receiver, with its start) {$cpu_b1:.2f} s')")
  MESH_SECONDS=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  MESH_BYTES=$bytes
}

# rsync_run LABEL SRC: times rsync -a SRC to the daemon, then with sync -f.
rsync_run() {
  local src=$1 port dst t0 t1 t2
  port=$(free_port)
  dst="$WORK/rsync-dst"
  rm -rf "$dst"; mkdir -p "$dst"
  cat >"$WORK/rsyncd.conf" <<CONF
pid file = $WORK/rsyncd.pid
use chroot = false
uid = $(id -u)
gid = $(id -g)
[dst]
  path = $dst
  read only = false
CONF
  rsync --daemon --no-detach --config="$WORK/rsyncd.conf" --port="$port" --address=127.0.0.1 &
  PIDS+=($!)
  for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.02; done
  t0=$(now)
  rsync -a "$src" "rsync://127.0.0.1:$port/dst/"
  t1=$(now)
  sync -f "$dst"
  t2=$(now)
  stop_servers
  RSYNC_SECONDS=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  RSYNC_SYNC_SECONDS=$(python3 -c "print(f'{$t2 - $t0:.3f}')")
}

report() {
  local label=$1 bytes=$2
  python3 - "$label" "$bytes" "$MESH_SECONDS" "$RSYNC_SECONDS" "$RSYNC_SYNC_SECONDS" <<'PY'
import sys
label, n, mesh, rs, rss = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
mb = n / 1e6
print(f"{label:<22} mesh {mesh:7.2f} s ({mb/mesh:7.1f} MB/s)   rsync {rs:7.2f} s ({mb/rs:7.1f} MB/s)"
      f"   rsync+sync {rss:7.2f} s   ratio rsync/mesh {rs/mesh:5.2f}   (rsync+sync)/mesh {rss/mesh:5.2f}")
PY
  echo "    mesh CPU: $MESH_CPU"
}

read -r load1 _ < /proc/loadavg
echo "# mesh replication (A -> B, loopback) vs rsync daemon: $(nproc) cores, $(rsync --version | head -1 | cut -d' ' -f1-4), load $load1"
mkdir -p "$WORK/in/small" "$WORK/in/big"
# Seeded pseudo-random bytes: the same files every run.
python3 - "$WORK/in" "$SMALL_N" "$BIG_MIB" <<'PY'
import random, sys
out, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    with open(f"{out}/small/f{i:05d}", "wb") as f:
        f.write(random.Random(i).randbytes(1 << 20))
rng = random.Random(-1)
with open(f"{out}/big/big.bin", "wb") as f:
    left = big << 20
    while left:
        k = min(left, 8 << 20)
        f.write(rng.randbytes(k))
        left -= k
PY

mesh_run small "$SMALL_N" "$WORK"/in/small/f*
rsync_run "$WORK/in/small"
report "$SMALL_N x 1 MiB" "$MESH_BYTES"

mesh_run big 1 "$WORK/in/big/big.bin"
rsync_run "$WORK/in/big"
report "1 x $BIG_MIB MiB" "$MESH_BYTES"

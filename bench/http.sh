#!/usr/bin/env bash
# HTTP benchmarks for `blobsync serve`, each printed next to a baseline and as
# a ratio, all in one run:
#   1. download 1 MiB and 64 MiB blobs: blobsync (sendfile) vs nginx (sendfile on), wrk
#   2. upload a 64 MiB blob vs `openssl dgst -sha256` on the same file
#   3. requests/s for 16 KiB downloads (vs nginx) and uploads, 32 concurrent
#      clients (wrk); the uploads next to nginx's WebDAV PUT (dav_methods, no
#      fsync) and the disk alone (32 writers: write, fdatasync, rename,
#      directory fsync: bench/durable_writers.py)
#   4. peak RSS of the server while 32 clients upload 64 MiB each at once
# Usage: bench/http.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
# Env: DURATION (wrk seconds, default 5); BENCH_DIR (where the data goes, default /tmp);
#      SECTIONS (which of 1-4 to run, default 1234).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
BIN=$BUILD/src/cli/blobsync
DURATION=${DURATION:-5}
SECTIONS=${SECTIONS:-1234}
[ -x "$BIN" ] || { echo "http.sh: $BIN not found (build the blobsync target first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "http.sh: wrk missing (scripts/setup)" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/blobsync-bench.XXXXXX")
chmod 755 "$WORK"  # nginx workers run as an unprivileged user
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
ratio() { python3 -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
# wrk "Transfer/sec" / "Requests/sec" -> plain numbers (bytes/s, req/s)
wrk_field() {
  python3 - "$1" "$2" <<'PY'
import re,sys
text=open(sys.argv[1]).read(); field=sys.argv[2]
m=re.search(field+r":\s+([\d.]+)([KMGT]?B)?",text)
if not m: print(0); sys.exit()
v=float(m.group(1)); unit=m.group(2) or ''
v*={'':1,'B':1,'KB':1024,'MB':1024**2,'GB':1024**3,'TB':1024**4}[unit]
print(f"{v:.0f}")
PY
}
# CPU seconds (user + system) used so far by the given pids, from /proc.
cpu_of() {
  python3 - "$@" <<'PY'
import os,sys
hz=os.sysconf("SC_CLK_TCK"); t=0
for p in sys.argv[1:]:
    try: f=open(f"/proc/{p}/stat").read().rsplit(")",1)[1].split()
    except OSError: continue
    t+=int(f[11])+int(f[12])
print(t/hz)
PY
}
# CPU microseconds per request: cpu_before cpu_after requests/s
us_per() { python3 -c "import sys;a,b,r=map(float,sys.argv[1:]);d=$DURATION;print(f'{(b-a)*1e6/(r*d):.0f}' if r else 'n/a')" "$1" "$2" "$3"; }
human() { python3 -c "import sys;v=float(sys.argv[1]);print(f'{v/1048576:.1f} MiB/s')" "$1"; }

# --- server --------------------------------------------------------------
PORT=$(free_port)
BLOBSYNC_ACCESS_LOG=off BLOBSYNC_GC_INTERVAL=0 BLOBSYNC_LOG_LEVEL=warn \
  "$BIN" --data "$WORK/data" serve --listen 127.0.0.1:0 --max-connections 4096 --max-connections-per-ip 4096 >"$WORK/server.out" 2>"$WORK/server.err" &
SPID=$!; PIDS+=("$SPID")
for _ in $(seq 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out")
[ -n "$ADDR" ] || { echo "server did not start:"; cat "$WORK/server.err"; exit 1; }
BASE="http://$ADDR"
TOKEN=$(curl -sf -XPOST "$BASE/xrpc/com.atproto.server.createAccount" -H 'content-type: application/json' \
  -d '{"handle":"bench.test","email":"bench@example.com","password":"bench"}' |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["accessJwt"])')

mkdir -p "$WORK/www"
put_file() {  # file -> hex; stores it permanently through PUT /blobs/<hex>
  local hex; hex=$(sha256sum "$1" | cut -d' ' -f1)
  curl -sf -XPUT "$BASE/blobs/$hex" -H "authorization: Bearer $TOKEN" -H 'content-type: application/octet-stream' --data-binary @"$1" >/dev/null
  cp "$1" "$WORK/www/$hex"; chmod 644 "$WORK/www/$hex"
  echo "$hex"
}
head -c 1048576 /dev/urandom >"$WORK/f1m"
head -c 67108864 /dev/urandom >"$WORK/f64m"
head -c 16384 /dev/urandom >"$WORK/f16k"
H1=$(put_file "$WORK/f1m"); H64=$(put_file "$WORK/f64m"); H16=$(put_file "$WORK/f16k")

# --- nginx baseline --------------------------------------------------------
NPORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  sendfile on; tcp_nopush on; access_log off;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NPORT; root $WORK/www;
    location /blobs/ { alias $WORK/www/; }
    # WebDAV PUT: the body goes to a temporary file that is renamed into
    # place, never fsynced (nginx has no option to).
    location /dav/ { alias $WORK/dav/; dav_methods PUT; create_full_put_path on; client_max_body_size 1m;
                     client_body_buffer_size 64k; }
  }
}
CONF
mkdir -p "$WORK/dav"; chmod 777 "$WORK/dav"
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr" &
NGPID=$!; PIDS+=("$NGPID")
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$NPORT/blobs/$H16" && break; sleep 0.1; done

NGW=$(pgrep -P "$NGPID" | tr '\n' ' ')  # nginx's workers, for their CPU time
read -r load1 _ < /proc/loadavg
echo "blobsync HTTP benchmarks ($(nproc) cores, wrk ${DURATION}s per run, load average $load1)"
echo
if [[ $SECTIONS == *1* ]]; then
echo "1. downloads (GET /blobs/<hex>, sendfile) vs nginx on the same files"
for spec in "1MiB $H1 16" "64MiB $H64 4"; do
  set -- $spec
  wrk -t2 -c"$3" -d"${DURATION}s" "$BASE/blobs/$2" >"$WORK/wrk_b" 2>&1
  wrk -t2 -c"$3" -d"${DURATION}s" "http://127.0.0.1:$NPORT/blobs/$2" >"$WORK/wrk_n" 2>&1
  for f in "$WORK/wrk_b" "$WORK/wrk_n"; do
    grep -q "Non-2xx" "$f" && { echo "http.sh: errors during the download run:"; cat "$f"; exit 1; }
  done
  B=$(wrk_field "$WORK/wrk_b" Transfer/sec); N=$(wrk_field "$WORK/wrk_n" Transfer/sec)
  printf '   %-6s blobsync %-14s nginx %-14s ratio %s (goal >= 0.8)\n' "$1" "$(human "$B")" "$(human "$N")" "$(ratio "$B" "$N")"
done

fi

if [[ $SECTIONS == *2* ]]; then
echo
echo "2. upload 64 MiB (uploadBlob) vs openssl dgst -sha256 on the same file (best of 3)"
# The inputs are written and synced first, so their own writeback does not
# compete with the server's writes, and sent with `-T` (streamed, as a real
# client would; --data-binary @FILE first loads all 64 MiB into curl).
# Neither tool's own start-up counts (curl's is 20 ms here, openssl's 10:
# dynamic linking, not work on the bytes): the upload is curl's
# time_total (the request, connect to response), openssl's time is its wall
# time minus that of hashing an empty file.
# The disk alone: the same file copied durably with no hashing and no
# network (dd: O_DIRECT writes, then one fdatasync) next to the same openssl
# run. The upload writes as much and must be durable before it is answered
# (it can beat dd: its early flushes overlap the transfer).
best_up=999; best_ssl=999; best_dd=999; ssl0=999
for i in 1 2 3; do head -c 67108864 /dev/urandom >"$WORK/up$i"; done
sync
for i in 1 2 3; do
  t0=$(date +%s.%N); openssl dgst -sha256 /dev/null >/dev/null; t1=$(date +%s.%N)
  ssl0=$(python3 -c "print(min($ssl0,$t1-$t0))")
done
for i in 1 2 3; do
  t0=$(date +%s.%N); openssl dgst -sha256 "$WORK/up$i" >/dev/null; t1=$(date +%s.%N)
  ssl=$(python3 -c "print($t1-$t0-$ssl0)")
  t0=$(date +%s.%N); dd if="$WORK/up$i" of="$WORK/copy" bs=1M oflag=direct conv=fdatasync status=none; t1=$(date +%s.%N)
  best_dd=$(python3 -c "print(min($best_dd,$t1-$t0))"); rm -f "$WORK/copy"
  up=$(curl -sf -XPOST -T "$WORK/up$i" "$BASE/xrpc/com.atproto.repo.uploadBlob" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/octet-stream' -H 'Expect:' -o /dev/null -w '%{time_total}')
  best_up=$(python3 -c "print(min($best_up,$up))"); best_ssl=$(python3 -c "print(min($best_ssl,$ssl))")
  rm -f "$WORK/up$i"
done
printf '   upload %.3fs (%s)  openssl %.3fs (%s; start-up %.3fs not counted)  ratio %s (goal >= 0.7)\n' "$best_up" \
  "$(human "$(python3 -c "print(67108864/$best_up)")")" "$best_ssl" \
  "$(human "$(python3 -c "print(67108864/$best_ssl)")")" "$ssl0" "$(ratio "$best_ssl" "$best_up")"
printf '   the disk alone: dd O_DIRECT+fdatasync of the file %.3fs, %s of openssl; the upload is %s of it\n' \
  "$best_dd" "$(ratio "$best_ssl" "$best_dd")" "$(ratio "$best_dd" "$best_up")"

fi

if [[ $SECTIONS == *3* ]]; then
echo
echo "3. 16 KiB requests, 32 concurrent clients"
c0=$(cpu_of "$SPID")
wrk -t2 -c32 -d"${DURATION}s" "$BASE/blobs/$H16" >"$WORK/wrk_d" 2>&1
c1=$(cpu_of "$SPID"); n0=$(cpu_of $NGW)
wrk -t2 -c32 -d"${DURATION}s" "http://127.0.0.1:$NPORT/blobs/$H16" >"$WORK/wrk_dn" 2>&1
n1=$(cpu_of $NGW)
for f in "$WORK/wrk_d" "$WORK/wrk_dn"; do
  grep -q "Non-2xx" "$f" && { echo "http.sh: errors during the 16 KiB download run:"; cat "$f"; exit 1; }
done
D=$(wrk_field "$WORK/wrk_d" Requests/sec); DN=$(wrk_field "$WORK/wrk_dn" Requests/sec)
printf '   downloads: blobsync %s req/s, nginx %s req/s, ratio %s (goal >= 0.7)\n' "$D" "$DN" "$(ratio "$D" "$DN")"
printf '              server CPU per request: blobsync %s us, nginx %s us\n' "$(us_per "$c0" "$c1" "$D")" "$(us_per "$n0" "$n1" "$DN")"
# Every upload request carries a different 16 KiB body (a counter and a
# random tag in the last bytes), so each one is hashed, written, fsynced and
# committed; nginx gets the same bodies under different names.
upload_lua() {  # method path-prefix -> a wrk script
  cat <<LUA
local base = io.open("$WORK/f16k", "rb"):read("*a")
local n = 0
-- Each wrk thread has its own Lua state, with the same counter and the same
-- unseeded math.random: without a nonce of its own, both threads sent the
-- same bodies and half the uploads were duplicates (no fsync, no new row).
local nonce = ""
init = function(args)
  nonce = io.open("/dev/urandom", "rb"):read(8):gsub(".", function(c) return string.format("%02x", c:byte()) end)
end
wrk.method = "$1"
wrk.headers["authorization"] = "Bearer $TOKEN"
wrk.headers["content-type"] = "application/octet-stream"
request = function()
  n = n + 1
  local tag = string.format("%s%016x", nonce, n)
  local path = "$2"
  if path == "/dav/" then path = path .. tag end
  return wrk.format(nil, path, nil, base:sub(1, #base - #tag) .. tag)
end
LUA
}
upload_lua POST /xrpc/com.atproto.repo.uploadBlob >"$WORK/upload.lua"
upload_lua PUT /dav/ >"$WORK/dav.lua"
sync
c0=$(cpu_of "$SPID")
wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/upload.lua" "$BASE" >"$WORK/wrk_u" 2>&1
c1=$(cpu_of "$SPID")
U=$(wrk_field "$WORK/wrk_u" Requests/sec)
NON2XX=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/wrk_u" || echo "Non-2xx or 3xx responses: 0")
sync
n0=$(cpu_of $NGW)
wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/dav.lua" "http://127.0.0.1:$NPORT" >"$WORK/wrk_un" 2>&1
n1=$(cpu_of $NGW)
grep -q "Non-2xx" "$WORK/wrk_un" && { echo "http.sh: errors during the WebDAV PUT run:"; cat "$WORK/wrk_un"; exit 1; }
UN=$(wrk_field "$WORK/wrk_un" Requests/sec)
sync
UD=$(python3 bench/durable_writers.py "$WORK/disk" --threads 32 --size 16384 --seconds "$DURATION"); rm -rf "$WORK/disk"
printf '   uploads:   blobsync %s req/s (%s), durable before each answer; CPU %s us/request (nginx %s)\n' \
  "$U" "$NON2XX" "$(us_per "$c0" "$c1" "$U")" "$(us_per "$n0" "$n1" "$UN")"
printf '              nginx WebDAV PUT %s req/s (no fsync): ratio %s (goal >= 0.5)\n' "$UN" "$(ratio "$U" "$UN")"
printf '              the disk alone (32 writers: write, fdatasync, rename, dir fsync) %s/s: ratio %s (goal >= 0.8)\n' \
  "$UD" "$(ratio "$U" "$UD")"
GOAL=$(python3 -c "print(f'{min(0.5*$UN, 0.8*$UD):.0f}')")
printf '              goal: the lower of the two, %s req/s: %s\n' "$GOAL" \
  "$(python3 -c "print('met' if $U >= $GOAL else 'not met')")"

fi

if [[ $SECTIONS == *4* ]]; then
echo
echo "4. peak RSS while 32 clients upload 64 MiB each concurrently"
RSS0=$(awk '/VmRSS/{print $2}' /proc/$SPID/status)
CPIDS=()
for i in $(seq 32); do
  curl -sf -XPOST "$BASE/xrpc/com.atproto.repo.uploadBlob" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/octet-stream' -H 'Expect:' --data-binary @"$WORK/f64m" -o /dev/null &
  CPIDS+=($!)
done
PEAK=0; ok=0
while :; do
  r=$(awk '/VmRSS/{print $2}' /proc/$SPID/status); [ "$r" -gt "$PEAK" ] && PEAK=$r
  alive=0; for p in "${CPIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break; sleep 0.05
done
for p in "${CPIDS[@]}"; do wait "$p" && ok=$((ok+1)); done
HWM=$(awk '/VmHWM/{print $2}' /proc/$SPID/status)
printf '   RSS before %d MiB, peak sampled %d MiB, process high-water mark %d MiB (%d/32 uploads ok, 2 GiB total)\n' \
  $((RSS0/1024)) $((PEAK/1024)) $((HWM/1024)) "$ok"
fi

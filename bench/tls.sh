#!/usr/bin/env bash
# TLS cost: a 64 MiB blob downloaded (GET /blobs/<hex>) and uploaded
# (uploadBlob) over HTTPS, each as a ratio to the same over plain HTTP, in the
# same run: two servers from the same binary, one with tls_cert/tls_key (a
# certificate made here with openssl), curl as the client. Best of RUNS
# (default 7) each, the runs interleaved. Goal: at least 0.6 both ways.
# Plain downloads go out with sendfile(2); TLS ones are encrypted in user
# space (OpenSSL through Asio), so the download ratio is the real price.
# Usage: bench/tls.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
# Env: RUNS; BENCH_DIR (where the data goes, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
BIN=$BUILD/src/cli/blobsync
RUNS=${RUNS:-7}
[ -x "$BIN" ] || { echo "tls.sh: $BIN not found (build the blobsync target first)" >&2; exit 1; }

WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/blobsync-tls-bench.XXXXXX")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

start() {  # name [args...]: a server in the background (its pid in PIDS)
  local name=$1; shift
  BLOBSYNC_ACCESS_LOG=off BLOBSYNC_GC_INTERVAL=0 BLOBSYNC_LOG_LEVEL=warn BLOBSYNC_SCRUB_RATE=0 \
    "$BIN" --data "$WORK/$name" serve --listen 127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=($!)
}
port() {  # name -> the port it listens on, once it does
  for _ in $(seq 100); do grep -q "listening on" "$WORK/$1.out" 2>/dev/null && break; sleep 0.1; done
  sed -n 's/^listening on .*://p' "$WORK/$1.out"
}
start plain
start tls --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
PLAIN=http://127.0.0.1:$(port plain)
TLS=https://localhost:$(port tls)
CURL=(curl -sf --cacert "$WORK/cert.pem")

token() {
  "${CURL[@]}" -XPOST "$1/xrpc/com.atproto.server.createAccount" -H 'content-type: application/json' \
    -d '{"handle":"bench.test","email":"bench@example.com","password":"bench"}' |
    python3 -c 'import json,sys;print(json.load(sys.stdin)["accessJwt"])'
}
TOK_PLAIN=$(token "$PLAIN"); TOK_TLS=$(token "$TLS")

head -c 67108864 /dev/urandom >"$WORK/f64m"
HEX=$(sha256sum "$WORK/f64m" | cut -d' ' -f1)
for pair in "$PLAIN $TOK_PLAIN" "$TLS $TOK_TLS"; do
  set -- $pair
  "${CURL[@]}" -XPUT "$1/blobs/$HEX" -H "authorization: Bearer $2" -H 'content-type: application/octet-stream' \
    -T "$WORK/f64m" -o /dev/null
done

best() { python3 -c "import sys;print(max(float(x) for x in sys.argv[1:]))" "$@"; }
mib() { python3 -c "import sys;print(f'{float(sys.argv[1])/1048576:.0f} MiB/s')" "$1"; }
ratio() { python3 -c "import sys;a,b=float(sys.argv[1]),float(sys.argv[2]);print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }

down() {  # base -> bytes/s of one 64 MiB download (connect included)
  "${CURL[@]}" -o /dev/null -w '%{speed_download}' "$1/blobs/$HEX"
}
up() {  # base token file -> bytes/s of one 64 MiB upload, the durable commit included
  local t; t=$("${CURL[@]}" -XPOST -T "$3" "$1/xrpc/com.atproto.repo.uploadBlob" -H "authorization: Bearer $2" \
    -H 'content-type: application/octet-stream' -H 'Expect:' -o /dev/null -w '%{time_total}')
  python3 -c "print(67108864/$t)"
}

dp=(); dt=(); upl=(); upt=()
for i in $(seq "$RUNS"); do
  dp+=("$(down "$PLAIN")"); dt+=("$(down "$TLS")")
done
for i in $(seq "$RUNS"); do
  # A new file each run (the same bytes would be the same blob).
  head -c 67108864 /dev/urandom >"$WORK/up"; sync
  upl+=("$(up "$PLAIN" "$TOK_PLAIN" "$WORK/up")")
  head -c 67108864 /dev/urandom >"$WORK/up"; sync
  upt+=("$(up "$TLS" "$TOK_TLS" "$WORK/up")")
done
DP=$(best "${dp[@]}"); DT=$(best "${dt[@]}"); UP=$(best "${upl[@]}"); UT=$(best "${upt[@]}")
echo "blobsync TLS benchmark ($(nproc) cores, $(openssl version | cut -d' ' -f1-2), 64 MiB, curl, best of $RUNS)"
printf '   download  plain %-10s  TLS %-10s  ratio %s (goal >= 0.6)\n' "$(mib "$DP")" "$(mib "$DT")" "$(ratio "$DT" "$DP")"
printf '   upload    plain %-10s  TLS %-10s  ratio %s (goal >= 0.6)\n' "$(mib "$UP")" "$(mib "$UT")" "$(ratio "$UT" "$UP")"

#!/usr/bin/env bash
# TLS cost: a 64 MiB blob downloaded (GET /blobs/<hex>) and uploaded
# (uploadBlob) over HTTPS, each as a ratio to the same over plain HTTP, in the
# same run: two servers from the same binary, one with tls_cert/tls_key (a
# certificate made here with openssl), curl as the client. Best of RUNS
# (default 7) each, the runs interleaved. Goal: at least 0.6 both ways.
# Plain downloads go out with sendfile(2); TLS ones are encrypted in user
# space (OpenSSL through memory BIOs), so the download ratio is the real price.
# What this machine allows: nginx serving the same file with the same
# certificate, plain and TLS (sendfile on), downloaded by the same curl in the
# same runs; its TLS/plain ratio is printed beside ours.
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

# --- nginx reference: the same file, plain and TLS -------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
chmod 755 "$WORK"; mkdir -p "$WORK/www" "$WORK/nginx"; cp "$WORK/f64m" "$WORK/www/$HEX"; chmod 644 "$WORK"/*.pem "$WORK/www/$HEX"
NPORTS=$(python3 -c 'import socket
ps=[]
for _ in range(2):
    s=socket.socket(); s.bind(("127.0.0.1",0)); ps.append(s)
print(" ".join(str(s.getsockname()[1]) for s in ps))')
read -r NP NT <<<"$NPORTS"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 256; }
http {
  sendfile on; tcp_nopush on; access_log off;
  client_body_temp_path $WORK/nginx/body; proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi; uwsgi_temp_path $WORK/nginx/uwsgi; scgi_temp_path $WORK/nginx/scgi;
  ssl_protocols TLSv1.2 TLSv1.3;
  server { listen 127.0.0.1:$NP; location /blobs/ { alias $WORK/www/; } }
  server { listen 127.0.0.1:$NT ssl; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem;
           location /blobs/ { alias $WORK/www/; } }
}
CONF
"$NGINX" -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>"$WORK/nginx/stderr" &
PIDS+=($!)
NPLAIN=http://127.0.0.1:$NP; NTLS=https://localhost:$NT
for _ in $(seq 50); do "${CURL[@]}" -o /dev/null "$NTLS/blobs/$HEX" 2>/dev/null && break; sleep 0.1; done

dp=(); dt=(); np=(); nt=(); upl=(); upt=()
for i in $(seq "$RUNS"); do
  dp+=("$(down "$PLAIN")"); dt+=("$(down "$TLS")"); np+=("$(down "$NPLAIN")"); nt+=("$(down "$NTLS")")
done
for i in $(seq "$RUNS"); do
  # A new file each run (the same bytes would be the same blob).
  head -c 67108864 /dev/urandom >"$WORK/up"; sync
  upl+=("$(up "$PLAIN" "$TOK_PLAIN" "$WORK/up")")
  head -c 67108864 /dev/urandom >"$WORK/up"; sync
  upt+=("$(up "$TLS" "$TOK_TLS" "$WORK/up")")
done
DP=$(best "${dp[@]}"); DT=$(best "${dt[@]}"); NPB=$(best "${np[@]}"); NTB=$(best "${nt[@]}"); UP=$(best "${upl[@]}"); UT=$(best "${upt[@]}")
echo "blobsync TLS benchmark ($(nproc) cores, $(openssl version | cut -d' ' -f1-2), 64 MiB, curl, best of $RUNS)"
printf '   download  plain %-10s  TLS %-10s  ratio %s (goal >= 0.6)\n' "$(mib "$DP")" "$(mib "$DT")" "$(ratio "$DT" "$DP")"
printf '   nginx     plain %-10s  TLS %-10s  ratio %s (what this machine allows: the same file, certificate and curl)\n' "$(mib "$NPB")" "$(mib "$NTB")" "$(ratio "$NTB" "$NPB")"
printf '   download over TLS: blobsync / nginx %s\n' "$(ratio "$DT" "$NTB")"
printf '   upload    plain %-10s  TLS %-10s  ratio %s (goal >= 0.6)\n' "$(mib "$UP")" "$(mib "$UT")" "$(ratio "$UT" "$UP")"

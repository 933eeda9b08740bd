#!/usr/bin/env bash
# Derived images: 20 generated 12 MP JPEGs (4000x3000) to 400x400 (fit
# inside, JPEG q80) through the server (GET /blobs/<hash>/image, 2
# concurrent clients, image_workers=2) against one `vipsthumbnail` run over
# the same files, in the same run; then the same requests again, now cache
# hits. Prints both rates and the ratios (goals: renders >= 0.8 of
# vipsthumbnail's rate; hits >= 20x the render rate).
#
# Usage: bench/images.sh [BUILD_DIR]     (default: $BUILD_DIR, else build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target blobsync >/dev/null
BIN=$BUILD/src/cli/blobsync
N=20
HIT_ROUNDS=10
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
# Smooth texture (noise upscaled 4x) so the files look like photos to the
# encoder (2-3 MB each), each one different so each has its own hash.
vips gaussnoise "$work/noise.v" 1000 750 --sigma 40 >/dev/null
vips resize "$work/noise.v" "$work/base.v" 4 >/dev/null
for i in $(seq 1 $N); do
  vips linear "$work/base.v" "$work/img$i.jpg[Q=85]" 1 "$i" --uchar >/dev/null
done
# Three bands, as a camera writes them.
for i in $(seq 1 $N); do
  vips bandjoin "$work/img$i.jpg $work/img$i.jpg $work/img$i.jpg" "$work/p$i.jpg[Q=85]" >/dev/null
  mv "$work/p$i.jpg" "$work/img$i.jpg"
done
bytes=$(du -cb "$work"/img*.jpg | tail -1 | cut -f1)
echo "sources: $N JPEGs, $(vipsheader "$work/img1.jpg" | cut -d, -f1 | sed 's/.*: //'), $((bytes / N / 1024)) KiB on average"

# Reference: one vipsthumbnail run over the same files (its default
# concurrency: every core).
mkdir "$work/ref"
t0=$(now)
vipsthumbnail -s 400x400 -o "$work/ref/%s.jpg[Q=80,strip]" "$work"/img*.jpg
t1=$(now)
ref_rate=$(calc "$N / ($t1 - $t0)")

# The server.
data=$work/data
mkdir "$data"
BLOBSYNC_ACCESS_LOG=off BLOBSYNC_JWT_SECRET=bench-secret-0123456789abcdef01 BLOBSYNC_IMAGE_WORKERS=2 \
  "$BIN" --data "$data" serve --listen 127.0.0.1:0 >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$work/server.out" 2>/dev/null && break
  sleep 0.1
done
base="http://$(grep -o 'listening on [0-9.:]*' "$work/server.out" | cut -d' ' -f3)"
jwt=$(curl -sf -XPOST "$base/xrpc/com.atproto.server.createAccount" -H 'content-type: application/json' \
  -d '{"handle":"bench.test","email":"b@example.com","password":"hunter22"}' | sed 's/.*"accessJwt":"\([^"]*\)".*/\1/')
urls=()
for i in $(seq 1 $N); do
  h=$(sha256sum "$work/img$i.jpg" | cut -d' ' -f1)
  curl -sf -o /dev/null -XPUT "$base/blobs/$h" -H "authorization: Bearer $jwt" -H 'content-type: image/jpeg' \
    --data-binary "@$work/img$i.jpg"
  urls+=("$base/blobs/$h/image?w=400&h=400&fit=inside&format=jpeg&q=80")
done

# Two clients, each with one keep-alive connection, half the URLs each
# (`rounds` times over); every answer must be a 200.
fetch() {  # rounds
  local rounds=$1 pids=() c
  for c in 0 1; do
    (
      args=()
      for _ in $(seq 1 "$rounds"); do
        for ((i = c; i < N; i += 2)); do args+=(-o /dev/null -w '%{http_code}\n' "${urls[$i]}"); done
      done
      curl -s "${args[@]}" >"$work/codes$c"
    ) &
    pids+=($!)
  done
  wait "${pids[@]}"
  if grep -v '^200$' "$work/codes0" "$work/codes1"; then echo "bench/images.sh: a request failed" >&2; exit 1; fi
}
t0=$(now)
fetch 1
t1=$(now)
miss_rate=$(calc "$N / ($t1 - $t0)")
t0=$(now)
fetch $HIT_ROUNDS
t1=$(now)
hit_rate=$(calc "$N * $HIT_ROUNDS / ($t1 - $t0)")

out=$(curl -s "${urls[0]}" -o "$work/one.jpg" -w '%{http_code}')
[ "$out" = 200 ] || { echo "bench/images.sh: GET ${urls[0]}: $out" >&2; exit 1; }
printf 'vipsthumbnail (1 run, %d files)      %8.2f images/s\n' "$N" "$ref_rate"
printf 'server renders (2 clients)           %8.2f images/s   ratio to vipsthumbnail %.2f (goal >= 0.8)\n' \
  "$miss_rate" "$(calc "$miss_rate / $ref_rate")"
printf 'server cache hits (2 clients)        %8.2f images/s   ratio to renders %.1f (goal >= 20)\n' \
  "$hit_rate" "$(calc "$hit_rate / $miss_rate")"
echo "output: $(vipsheader "$work/one.jpg" | cut -d, -f1 | sed 's/.*: //'); vipsthumbnail's: $(vipsheader "$work"/ref/img1.jpg | cut -d, -f1 | sed 's/.*: //')"

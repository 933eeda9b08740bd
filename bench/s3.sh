#!/usr/bin/env bash
# S3 backend throughput against plain curl, both talking to s3rver (npm) on
# loopback in the same run, on the same file (in the page cache for both):
#   upload:   S3Backend writer told the digest and the size (PUT
#             /blobs/<hash> with a Content-Length, migrate: one PutObject
#             streamed straight to blobs/<hex>, signed with the digest)
#   upload (tmp): told the size only (uploadBlob, `blobsync put`: one
#             streamed PutObject to tmp/, then a server-side copy)
#   upload (multipart): told the digest only (replication, the blob
#             channel: parallel multipart to blobs/<hex>, per-part SHA-256)
#   upload (multipart tmp): told neither (chunked uploads, stdin: multipart
#             to tmp/, complete, server-side copy)
#             all vs  curl --aws-sigv4 -T FILE (one PUT, UNSIGNED-PAYLOAD)
#   download: S3Backend reader as BlobStore opens it (no HEAD; ranged GET,
#             1 MiB reads)  vs  curl --aws-sigv4 -o /dev/null
# Prints medians over RUNS and the ratios backend/curl (goal >= 0.8).
# Usage: bench/s3.sh [BUILD_DIR]   (default: $BUILD_DIR, else build/release)
# Env: SIZE_MIB (256), RUNS (3), PART_SIZE (bytes; default the backend's 8 MiB;
#      PART_SIZE >= the file size measures the buffered single-PutObject path;
#      S3_BENCH_OPS picks backend paths, see bench/s3_bench.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-3}
BUILD=${1:-${BUILD_DIR:-build/release}}
BUCKET=blobsync-bench
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER  # s3rver's only account

cmake --build "$BUILD" --target s3_bench >/dev/null
BENCH=$BUILD/bench/s3_bench

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
mkdir "$tmp/data"
node --openssl-legacy-provider tests/store/s3/s3rver_main.mjs "$tmp/data" "$BUCKET" >"$tmp/port" &
pid=$!
for _ in $(seq 100); do grep -q PORT "$tmp/port" 2>/dev/null && break; sleep 0.1; done
PORT=$(awk '/PORT/ {print $2}' "$tmp/port")
[ -n "$PORT" ] || { echo "s3rver did not start"; exit 1; }
EP=http://127.0.0.1:$PORT

head -c $((SIZE_MIB << 20)) /dev/urandom >"$tmp/blob"
CURL=(curl -sS --fail --aws-sigv4 aws:amz:us-east-1:s3 -u "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
now() { date +%s.%N; }

read -r load1 _ </proc/loadavg
echo "# S3 throughput, $SIZE_MIB MiB, s3rver $EP, $RUNS runs, $(nproc) cores, load average $load1"
if awk -v l="$load1" 'BEGIN { exit !(l > 1.0) }'; then
  echo "# warning: the machine is busy (load $load1); ratios will be off"
fi
: >"$tmp/results"
for run in $(seq "$RUNS"); do
  # Same start for every timed transfer (the backend bench does the same):
  # the target key deleted beforehand (s3rver would otherwise truncate the
  # old file inside the timed PUT) and no dirty pages left to write back.
  "${CURL[@]}" -X DELETE "$EP/$BUCKET/curl-ref" -o /dev/null
  sync
  t0=$(now); "${CURL[@]}" -T "$tmp/blob" "$EP/$BUCKET/curl-ref" -o /dev/null; t1p=$(now)
  sync
  t1=$(now); "${CURL[@]}" "$EP/$BUCKET/curl-ref" -o /dev/null; t2=$(now)
  echo "curl $run put_s $(awk "BEGIN{print $t1p - $t0}") get_s $(awk "BEGIN{print $t2 - $t1}")" >>"$tmp/results"
  "$BENCH" "$EP" "$BUCKET" "$tmp/blob" 1 ${PART_SIZE:-} | sed "s/^run 1/backend $run/" >>"$tmp/results"
done
cat "$tmp/results"
python3 - "$tmp/results" "$SIZE_MIB" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
mib = float(sys.argv[2])
med = {}
for who in ("curl", "backend"):
    for op in ("put_s", "put_tmp_s", "put_mp_s", "put_mp_tmp_s", "get_s"):
        vals = [float(r[r.index(op) + 1]) for r in rows if r[0] == who and op in r]
        if vals: med[who, op] = statistics.median(vals)
for op, ref, name in (("put_s", "put_s", "upload"), ("put_tmp_s", "put_s", "upload (tmp)"),
                      ("put_mp_s", "put_s", "upload (multipart)"), ("put_mp_tmp_s", "put_s", "upload (mp tmp)"),
                      ("get_s", "get_s", "download")):
    if ("backend", op) not in med: continue
    c, b = mib / med["curl", ref], mib / med["backend", op]
    print(f"{name:18s}: backend {b:7.1f} MiB/s  curl {c:7.1f} MiB/s  ratio {b / c:.2f}")
PY

#!/usr/bin/env bash
# False refusals of the upload MIME rule on random bytes (encrypted or
# compressed uploads look random): 200,000 buffers of 16 KiB declared
# application/octet-stream, per libmagic guess, next to the rule before
# strong signatures. Fails if the current rule refused any.
#
# Usage: bench/mime.sh [BUILD_DIR]     (default: $BUILD_DIR, else build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${BUILD_DIR:-build/release}}
cmake --build "$BUILD" --target mime_refusals >/dev/null
"$BUILD/bench/mime_refusals" --count 200000 --size 16384

#!/usr/bin/env bash
# Runs every benchmark script in bench/ (each prints its figures and ratios
# against a reference run in the same script: openssl, nginx, yjs, rsync...).
# Usage: bench/run_all.sh [build dir, default build/release]
set -uo pipefail
cd "$(dirname "$0")/.."
export BUILD_DIR=${1:-build/release}
scripts/build release >/dev/null
status=0
for script in bench/*.sh; do
  [ "$(basename "$script")" = run_all.sh ] && continue
  echo "===== $script"
  bash "$script" || { echo "FAILED: $script"; status=1; }
done
exit $status

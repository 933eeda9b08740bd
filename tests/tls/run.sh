#!/usr/bin/env bash
# Runs one TLS test file (node --test) with a fresh CA and certificates
# (make_certs.sh) in a temp dir: BLOBSYNC_TLS_CERTS names the dir and
# NODE_EXTRA_CA_CERTS makes every Node client (fetch, ws, https) trust the CA.
# Usage: run.sh TEST.mjs
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/blobsync-tls-certs.XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$here/make_certs.sh" "$dir"
BLOBSYNC_TLS_CERTS=$dir NODE_EXTRA_CA_CERTS=$dir/ca.pem node --test "$1"

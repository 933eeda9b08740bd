#!/usr/bin/env bash
# Adds the peers' certificates of the client-side TLS tests to what
# make_certs.sh makes (the test CA ca.pem/.key and the unrelated
# other-ca.pem/.key, made now with openssl; nothing is committed):
#   make_peer_certs.sh DIR NAME...
# DIR/NAME.pem, NAME.key    one server certificate per NAME, signed by ca.pem
#                           (each server of a mesh has its own)
# DIR/rogue.pem, rogue.key  signed by other-ca.pem: a server a client that
#                           trusts ca.pem must refuse
# All for 127.0.0.1 and localhost, as make_certs.sh's server.pem.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$1; shift
"$here/make_certs.sh" "$dir" >/dev/null
cd "$dir"
leaf () {  # NAME ISSUER
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
  openssl req -new -key "$1.key" -subj "/CN=blobsync test peer $1" -out "$1.csr"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" \
    -out "$1.pem" 2>/dev/null
}
for name in "$@"; do leaf "$name" ca; done
leaf rogue other-ca

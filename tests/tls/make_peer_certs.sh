#!/usr/bin/env bash
# Makes the TLS material of the client-side TLS tests, at test time, with
# the openssl CLI (nothing is committed):
#   make_peer_certs.sh DIR NAME...
# DIR/ca.pem, ca.key        the test CA
# DIR/NAME.pem, NAME.key    one server certificate per NAME, signed by the
#                           test CA, for 127.0.0.1, ::1 and localhost
# DIR/other-ca.pem          an unrelated CA, and DIR/rogue.pem, rogue.key: a
#                           certificate it signed for the same names (a peer
#                           a client with ca.pem must refuse)
# Keys are P-256 (fast to make); certificates last a day.
set -euo pipefail
dir=$1; shift
mkdir -p "$dir"
cd "$dir"
san="subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"

make_ca () {  # make_ca NAME SUBJECT
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
make_leaf () {  # make_leaf NAME CA
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 1 -out "$1.pem" \
    -extfile <(printf '%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n' "$san") 2>/dev/null
  rm -f "$1.csr"
}

make_ca ca "blobsync test CA"
make_ca other-ca "unrelated test CA"
for name in "$@"; do make_leaf "$name" ca; done
make_leaf rogue other-ca

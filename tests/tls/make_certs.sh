#!/usr/bin/env bash
# Makes the TLS tests' keys and certificates in DIR with openssl, at test time:
#   ca.pem            a test CA (the one clients trust: NODE_EXTRA_CA_CERTS)
#   server.pem/.key   signed by it, for localhost and 127.0.0.1 (SANs), CN "blobsync test server 1"
#   inter.pem         an intermediate CA under ca.pem
#   server2-chain.pem/server2.key  leaf "blobsync test server 2" signed by inter.pem, leaf then
#                     intermediate (a chain file), for the reload tests
#   other-ca.pem      an unrelated CA that signed nothing here (clients trusting only it must fail)
# Usage: make_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
ca() {  # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -days 3 -subj "$2" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() {  # name subject issuer
  key "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -CAcreateserial -days 2 -extfile "$1.ext" \
    -out "$1.pem" 2>/dev/null
}
ca ca "/CN=blobsync test CA"
ca other-ca "/CN=unrelated test CA"
key inter.key
openssl req -new -key inter.key -subj "/CN=blobsync test intermediate" -out inter.csr
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' >inter.ext
openssl x509 -req -in inter.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3 -extfile inter.ext -out inter.pem 2>/dev/null
leaf server "/CN=blobsync test server 1" ca
leaf server2 "/CN=blobsync test server 2" inter
cat server2.pem inter.pem >server2-chain.pem

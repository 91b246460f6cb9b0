#!/bin/sh
# Makes the TEST-ONLY self-signed certificates used by conf/examples/edge-tls.toml and the HTTPS tests:
#   example.test.crt/.key      ECDSA P-256, names example.test and *.example.test (the default certificate)
#   www.example.test.crt/.key  ECDSA P-256, name www.example.test (chosen by SNI)
# The private keys are published in the repository: never use them for anything but local tests.
# Usage: make-certs.sh [DIR]   (default: this script's folder)
set -eu
dir=${1:-$(dirname "$0")}
mk() { # name, subjectAltName, days
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days "$3" \
        -subj "/CN=$1/O=Meridian TEST ONLY" -addext "subjectAltName=$2" \
        -keyout "$dir/$1.key" -out "$dir/$1.crt" 2>/dev/null
    chmod 600 "$dir/$1.key"
}
mk example.test "DNS:example.test,DNS:*.example.test" 3650
mk www.example.test "DNS:www.example.test" 3650
echo "wrote $dir/example.test.{crt,key} and $dir/www.example.test.{crt,key} (test only)"

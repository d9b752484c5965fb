#!/usr/bin/env bash
# A private CA, a broker certificate and one client certificate per NAME,
# for trying TLS and CI (docs/protocol.md, "Deploy"). Each client
# certificate's common name is its MQTT identity: Mosquitto's
# `use_identity_as_username` makes it the username its ACL reads, so name
# them `serve`, `shop` and the lockers' ids. A production CA keeps its key
# offline and issues certificates for longer than these 30 days.
#
#   tools/make-certs.sh DIR [--host NAME]... NAME...
#
# Writes DIR/ca.pem (give it to clients as --tls-ca and to the broker as
# cafile), DIR/broker.pem + broker.key (for localhost, 127.0.0.1 and each
# --host), and DIR/NAME.pem + NAME.key. Keys are readable by their owner only.
set -euo pipefail
if [ $# -lt 1 ]; then
    echo "usage: $0 DIR [--host NAME]... NAME..." >&2
    exit 2
fi
dir="$1"
shift
san="DNS:localhost,IP:127.0.0.1,IP:::1"
names=()
while [ $# -gt 0 ]; do
    case "$1" in
        --host) san="$san,DNS:$2"; shift 2 ;;
        *) names+=("$1"); shift ;;
    esac
done
mkdir -p "$dir"
umask 077
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key "$dir/ca.key"
openssl req -x509 -new -key "$dir/ca.key" -days 30 -subj "/CN=lockerlab test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.pem"

# issue NAME EXTENSIONS: a key and a certificate signed by the CA.
issue() {
    key "$dir/$1.key"
    openssl req -new -key "$dir/$1.key" -subj "/CN=$1" -out "$dir/$1.csr"
    printf '%b\n' "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n$2" > "$dir/$1.ext"
    openssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -set_serial "0x$(openssl rand -hex 12)" -days 30 -extfile "$dir/$1.ext" \
        -out "$dir/$1.pem" 2>/dev/null
    rm -f "$dir/$1.csr" "$dir/$1.ext"
}
issue broker "extendedKeyUsage=serverAuth\nsubjectAltName=$san"
for n in "${names[@]}"; do
    issue "$n" "extendedKeyUsage=clientAuth"
done
chmod 644 "$dir"/*.pem

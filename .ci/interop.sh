#!/usr/bin/env bash
# Interop with Debian's Mosquitto and its command-line clients over TLS with
# a client certificate per identity (tools/make-certs.sh; the certificate's
# name is the username the repo's ACL reads), `lockerlab serve` and
# `controller-emu` as released, a reservation sent with mosquitto_pub
# exactly as docs/protocol.md shows it, a drop-off and a pickup, and a
# malformed request answered on svc/error.
set -euo pipefail
cd "$(dirname "$0")/.."
name=interop
# shellcheck source=.ci/processes.sh
. .ci/processes.sh

port=18883
chmod 755 "$work"
certs="$work/certs"
tools/make-certs.sh "$certs" serve shop L001 L002
cat > "$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
user root
cafile $certs/ca.pem
certfile $certs/broker.pem
keyfile $certs/broker.key
require_certificate true
use_identity_as_username true
allow_anonymous false
acl_file $PWD/controller-emu/mosquitto/acl
persistence true
persistence_location $work/
set_tcp_nodelay true
CONF
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
broker="mqtts://localhost:$port"
tls() { echo --tls-ca "$certs/ca.pem" --tls-cert "$certs/$1.pem" --tls-key "$certs/$1.key"; }
# Real secrets, as an operator makes them: the service and the locker fail
# closed without them.
"$bin/lockerlab" keys new --out "$work/region.key"
"$bin/lockerlab" keys derive --secret-file "$work/region.key" --locker L001 --out "$work/L001.key"

mkfifo "$work/emu.in"
exec 3<>"$work/emu.in"
# shellcheck disable=SC2046
"$bin/controller-emu" --locker L001 --broker "$broker" $(tls L001) --store "$work/L001.sqlite" \
    --key-file "$work/L001.key" --durability normal < "$work/emu.in" > "$work/emu.txt" 2> "$work/emu.log" &
pids+=($!)

sub() { mosquitto_sub -h localhost -p $port --cafile "$certs/ca.pem" --cert "$certs/$1.pem" --key "$certs/$1.key" "${@:2}"; }
pub() { mosquitto_pub -h localhost -p $port --cafile "$certs/ca.pem" --cert "$certs/$1.pem" --key "$certs/$1.key" "${@:2}"; }

# The retained status says online once the locker is connected (a dropped
# first connection leaves its will, `offline`, until it reconnects).
for _ in $(seq 20); do
    sub serve -t lockerlab/r1/L001/status -C 1 -W 5 > "$work/status.txt" || fail "no retained status"
    grep -q '"state":"online"' "$work/status.txt" && break
    sleep 0.5
done
grep -q '"state":"online"' "$work/status.txt" || fail "status is not online"
# The service starts after the locker announced itself, so it learns the
# locker's ledger from the retained status and a `sync` command.
# shellcheck disable=SC2046
"$bin/lockerlab" serve --broker "$broker" $(tls serve) --scenario scenarios/live.toml --policy snapshot --region r1 \
    --secret-file "$work/region.key" --store "$work/serve.sqlite" > "$work/serve.log" 2>&1 &
pids+=($!)
sleep 1.5

sub shop -t lockerlab/r1/svc/reply/shop -C 3 -W 20 > "$work/replies.txt" &
subpid=$!
sleep 0.5
# The request as docs/protocol.md prints it.
pub shop -q 1 -t lockerlab/r1/svc/reserve \
    -m '{"v":1,"id":"shop-0001","ts":1700000000000,"body":{"order":1001,"locker":"L001","tier":"same_day","size":"S","client":"shop"}}'
for _ in $(seq 50); do grep -q '"accepted"' "$work/replies.txt" 2>/dev/null && break; sleep 0.1; done
grep -q '"type":"accepted"' "$work/replies.txt" || fail "the reservation was not accepted"
sleep 0.5
# The driver signs in with a route pass (as docs/protocol.md shows) first.
pass="$("$bin/lockerlab" keys pass --secret-file "$work/region.key" --role driver --route R1 --locker L001 --hours 1)" \
    || fail "keys pass failed"
echo "{\"act\":\"sign_in\",\"pass\":\"$pass\"}" >&3
echo '{"act":"driver_scan","package":1001}' >&3
echo '{"act":"put"}' >&3
for _ in $(seq 50); do grep -q '"type":"code"' "$work/replies.txt" 2>/dev/null && break; sleep 0.1; done
code="$(grep -o '"code":"[0-9]*"' "$work/replies.txt" | head -1 | cut -d'"' -f4)"
[ -n "$code" ] || fail "no pickup code"
sleep 0.5
echo "{\"act\":\"keypad\",\"code\":\"$code\"}" >&3
echo '{"act":"take"}' >&3
wait $subpid || fail "fewer than three replies"
grep -q '"outcome":"picked_up"' "$work/replies.txt" || fail "no picked_up outcome"
grep -q '"event":"deposited"' "$work/emu.txt" || fail "the controller did not report the deposit"

sub shop -t lockerlab/r1/svc/error -C 1 -W 10 > "$work/error.txt" &
errpid=$!
sleep 0.5
pub shop -q 1 -t lockerlab/r1/svc/reserve -m 'not json'
wait $errpid || fail "no answer on svc/error"
grep -q 'not UTF-8 JSON' "$work/error.txt" || fail "the error does not say what is wrong"

# A locker's credentials do not let it read another locker's commands.
sub L001 -t lockerlab/r1/L002/cmd/+ -C 1 -W 2 > "$work/intrude.txt" 2>&1 &
intr=$!
sleep 0.5
pub serve -q 1 -t lockerlab/r1/L002/cmd/expire -m '{"v":1,"id":"1","ts":0,"body":{"package":1}}'
if wait $intr; then fail "L001 read L002's command"; fi
grep -h "connection lost" "$work/emu.log" || true
# Without a client certificate the broker lets nobody in (27 would be a
# connection that merely timed out waiting for a message).
rc=0
mosquitto_sub -h localhost -p $port --cafile "$certs/ca.pem" -t '#' -C 1 -W 2 > "$work/anon.txt" 2>&1 || rc=$?
{ [ "$rc" -ne 0 ] && [ "$rc" -ne 27 ]; } || fail "a client without a certificate got in (exit $rc)"
echo "interop: mosquitto_pub/mosquitto_sub, serve and controller-emu agree over TLS with client certificates (ACL enforced)"

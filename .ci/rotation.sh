#!/usr/bin/env bash
# A region-secret rotation with the released binaries, in the order
# docs/protocol.md gives: a parcel deposited and its code sent under the
# old secret; the locker restarted with both keys, then the service with
# --previous-secret-file; the locker restarted without the old key. The
# customer's code (sent once, before the rotation) still opens, a parcel
# after the rotation gets a code that opens under the new key, and the
# locker's audit chain verifies across the move with both secrets only.
set -euo pipefail
cd "$(dirname "$0")/.."
name=rotation
# shellcheck source=.ci/processes.sh
. .ci/processes.sh
# SIGTERM, as systemd stops a service: each must stop within 10 s.
stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$1" 2>/dev/null; then kill -9 "$1"; fail "process $1 did not stop on SIGTERM"; fi
    wait "$1" 2>/dev/null || true
}

port=18885
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\nuser root\n' \
    "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
broker="mqtt://127.0.0.1:$port"
sub() { mosquitto_sub -h 127.0.0.1 -p $port "$@"; }
pub() { mosquitto_pub -h 127.0.0.1 -p $port "$@"; }
keys() { "$bin/lockerlab" keys "$@" > /dev/null; }
keys new --out "$work/region.key"
keys derive --secret-file "$work/region.key" --locker L001 --out "$work/L001.key"

emu=""
start_emu() {
    rm -f "$work/emu.in"
    mkfifo "$work/emu.in"
    exec 3<>"$work/emu.in"
    "$bin/controller-emu" --locker L001 --broker "$broker" --store "$work/L001.sqlite" \
        --durability normal "$@" < "$work/emu.in" >> "$work/emu.txt" 2>> "$work/emu.log" &
    emu=$!
    pids+=("$emu")
    for _ in $(seq 20); do
        sub -t lockerlab/r1/L001/status -C 1 -W 5 > "$work/status.txt" || fail "no retained status"
        grep -q '"state":"online"' "$work/status.txt" && return
        sleep 0.5
    done
    fail "the locker is not online"
}
serve=""
start_serve() {
    "$bin/lockerlab" serve --broker "$broker" --scenario scenarios/live.toml --policy snapshot \
        --region r1 --store "$work/serve.sqlite" "$@" >> "$work/serve.log" 2>&1 &
    serve=$!
    pids+=("$serve")
    sleep 1.5
}
replies() {
    mosquitto_sub -h 127.0.0.1 -p $port -t lockerlab/r1/svc/reply/shop >> "$work/replies.txt" &
    pids+=($!)
}
wait_for() {
    for _ in $(seq 100); do grep -q "$1" "$2" 2>/dev/null && return; sleep 0.1; done
    fail "waited for $1 in $2"
}
# Order $1 at L001, its driver signed in with a pass from secret $2: its code.
deliver() {
    pub -q 1 -t lockerlab/r1/svc/reserve \
        -m "{\"v\":1,\"id\":\"o$1\",\"ts\":0,\"body\":{\"order\":$1,\"locker\":\"L001\",\"tier\":\"same_day\",\"size\":\"S\",\"client\":\"shop\"}}"
    wait_for "\"type\":\"accepted\",\"order\":$1" "$work/replies.txt"
    sleep 0.5
    local pass
    pass="$("$bin/lockerlab" keys pass --secret-file "$2" --role driver --route R1 --locker L001 --hours 1 2> /dev/null)"
    echo "{\"act\":\"sign_in\",\"pass\":\"$pass\"}" >&3
    echo "{\"act\":\"driver_scan\",\"package\":$1}" >&3
    echo '{"act":"put"}' >&3
    wait_for "\"type\":\"code\",\"order\":$1" "$work/replies.txt"
    grep -o "\"type\":\"code\",\"order\":$1,[^}]*" "$work/replies.txt" | grep -o '"code":"[0-9]*"' | cut -d'"' -f4
}
pick_up() {
    echo "{\"act\":\"keypad\",\"code\":\"$2\"}" >&3
    echo '{"act":"take"}' >&3
    wait_for "\"order\":$1,\"outcome\":\"picked_up\"" "$work/replies.txt"
}
hash_of() { sqlite3 "file:$work/L001.sqlite?mode=ro" "SELECT code_hash FROM credentials WHERE package = $1"; }

start_emu --key-file "$work/L001.key"
start_serve --secret-file "$work/region.key"
replies
sleep 0.5
code="$(deliver 2001 "$work/region.key")"
[ -n "$code" ] || fail "no code for 2001"
before="$(hash_of 2001)"

# The new secret; the locker first, with both keys.
keys new --out "$work/region-2.key"
keys derive --secret-file "$work/region-2.key" --locker L001 --out "$work/L001-2.key"
stop "$emu"
start_emu --key-file "$work/L001-2.key" --previous-key-file "$work/L001.key"
stop "$serve"
start_serve --secret-file "$work/region-2.key" --previous-secret-file "$work/region.key"
wait_for "rotated the store" "$work/serve.log"
# The locker takes 2001's credential again, hashed under the new key.
for _ in $(seq 100); do
    after="$(hash_of 2001)"
    [ -n "$after" ] && [ "$after" != "$before" ] && break
    sleep 0.2
done
[ "$after" != "$before" ] || fail "2001's credential was not re-sent under the new key"
code2="$(deliver 2002 "$work/region-2.key")"

# The rotation is over: the locker forgets the old key.
stop "$emu"
start_emu --key-file "$work/L001-2.key"
pick_up 2001 "$code"
pick_up 2002 "$code2"
[ "$(grep -c '"type":"code","order":2001' "$work/replies.txt")" -eq 1 ] || fail "2001's code was sent again"
# A pass from the old secret no longer signs in.
old_pass="$("$bin/lockerlab" keys pass --secret-file "$work/region.key" --role driver --route R1 --locker L001 --hours 1 2> /dev/null)"
echo "{\"act\":\"sign_in\",\"pass\":\"$old_pass\"}" >&3
wait_for '"screen":{"screen":"invalid_pass"}' "$work/emu.txt"

stop "$emu"
"$bin/lockerlab" audit export "$work/L001.sqlite" --out "$work/L001.audit.jsonl" > /dev/null
grep -q '"kind":"key_rotated"' "$work/L001.audit.jsonl" || fail "the audit chain does not record the rotation"
"$bin/lockerlab" audit verify "$work/L001.audit.jsonl" --secret-file "$work/region-2.key" \
    --previous-secret-file "$work/region.key" > /dev/null || fail "the chain does not verify with both secrets"
rc=0
"$bin/lockerlab" audit verify "$work/L001.audit.jsonl" --secret-file "$work/region-2.key" > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 3 ] || fail "the chain verified without the old secret (exit $rc)"
echo "rotation: codes sent before the rotation open after it, new codes open under the new key alone, one audit chain across"

#!/usr/bin/env bash
# Runs docs/protocol.md's "Try it" block exactly as written (the release
# binaries on PATH, as the doc asks), then checks the parcel's life went
# through (accepted, a code, picked up) and both metrics endpoints counted
# it. A doc that drifts from the code fails here.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_TARGET_DIR:-$PWD/target}/release:$PATH"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The first ```sh block after the heading, verbatim.
awk '/^## Try it with mosquitto_pub/ {inside=1}
     inside && /^```sh$/ {block=1; next}
     block && /^```$/ {exit}
     block {print}' docs/protocol.md > "$work/block.sh"
[ -s "$work/block.sh" ] || { echo "walkthrough: no sh block in docs/protocol.md" >&2; exit 1; }

cat > "$work/run.sh" <<RUN
set -e
$(cat "$work/block.sh")
set +e
kill \$(jobs -p) 2>/dev/null
wait 2>/dev/null
exit 0
RUN
bash "$work/run.sh" > "$work/out.txt" 2> "$work/err.txt" || true

ok=true
for want in '"type":"accepted"' '"type":"code"' '"outcome":"picked_up"' \
    'lockerlab_serve_picked_up_total 1' \
    'lockerlab_serve_decisions_total{tier="same_day",outcome="accepted",reason="none"} 1' \
    'lockerlab_emu_actions_total{action="keypad",outcome="open_door"} 1'; do
    grep -q "$want" "$work/out.txt" || { echo "walkthrough: no $want in the replies" >&2; ok=false; }
done
if ! $ok; then
    echo "--- stdout"; cat "$work/out.txt"; echo "--- stderr"; cat "$work/err.txt"
    echo "--- kiosk"; cat /tmp/L001.out 2>/dev/null || true
    exit 1
fi >&2
echo "walkthrough: docs/protocol.md's block, run as written: reserved, deposited, picked up, scraped:"
grep '^lockerlab_' "$work/out.txt" | sed 's/^/  /'

#!/usr/bin/env bash
# The report as a user sees it: a fresh one (compare + simulate of the
# quickstart network) and the committed reports (city-policies, peak-season), each opened
# in headless Chromium from Debian: every image loads, the console stays
# clean, and a full-page screenshot is not blank. Installs chromium (apt)
# and playwright + pillow (pip) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release/lockerlab"
if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! python3 -c "import playwright, PIL" 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check playwright pillow
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$bin" compare scenarios/quickstart.toml -q --replications 5 --model models/default \
    --policies tier-partition,snapshot,forecast:confidence=0.99,forecast:confidence=0.999 \
    --out-dir "$work/run" > /dev/null
"$bin" simulate scenarios/quickstart.toml -q --out-dir "$work/run" --occupancy > /dev/null
"$bin" report "$work/run" --out-dir "$work/report" --history data/history-holdout.parquet
python3 .ci/report_check.py "$work/report/index.html" "$work/fresh.png"
python3 .ci/report_check.py reports/city-policies/index.html "$work/committed.png"
python3 .ci/report_check.py reports/peak-season/index.html "$work/peak.png"

#!/usr/bin/env bash
# The Python package as a user installs it: the README's command in a fresh
# virtual environment (pip builds the wheel with maturin, into the shared
# cargo target), the README's one-liner against the CLI's JSON, then the
# pytest suite and the example notebook script.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$CARGO_TARGET_DIR/release/lockerlab"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
. "$work/venv/bin/activate"
pip install -q --disable-pip-version-check --upgrade pip
start=$(date +%s)
pip install -q --disable-pip-version-check ./python
echo "python: pip install ./python in $(( $(date +%s) - start )) s (the wheel, on this target)"

# The README's line, word for word, against `lockerlab simulate`.
got="$(python -c "import lockerlab; r = lockerlab.simulate('scenarios/quickstart.toml'); print(r.totals['acceptance_rate'])")"
want="$("$bin" simulate scenarios/quickstart.toml --format json --quiet \
    | python -c "import json, sys; print(json.load(sys.stdin)['totals']['acceptance_rate'])")"
if [ "$got" != "$want" ]; then
    echo "python: acceptance_rate $got, the CLI's $want" >&2
    exit 1
fi
echo "python: the README's one-liner prints the CLI's acceptance_rate ($got)"

pip install -q --disable-pip-version-check "./python[test,examples]"
LOCKERLAB_BIN="$bin" python -m pytest -q python/tests
python examples/tune_tier_ratios.py --replications 3 --out-dir "$work/example"
for f in frontier.png sweep.csv compare.csv model/meta.json; do
    [ -s "$work/example/$f" ] || { echo "python: the example wrote no $f" >&2; exit 1; }
done
echo "python: the example ran and wrote its chart, tables and model"

#!/usr/bin/env bash
# History files as pandas writes them by default (to_parquet, also with
# `category` columns, to_csv with its index column, and a CSV round trip
# that turns nullable integers into floats like 155347459.0) train a model with the release binary. Needs
# pandas and pyarrow from PyPI (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${CARGO_TARGET_DIR:-target}/release"
if ! python3 -c "import pandas, pyarrow" 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check pandas pyarrow
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import sys
import pandas as pd
out = sys.argv[1]
df = pd.read_parquet("data/history-train.parquet")
df.to_parquet(f"{out}/default.parquet")
# Text columns as pandas `category` (dictionary-encoded in Parquet).
text = ["location_id", "location_kind", "tier", "size", "outcome", "deposit_location_id"]
df.astype({c: "category" for c in text}).to_parquet(f"{out}/category.parquet")
df.to_csv(f"{out}/default.csv")
df.to_csv(f"{out}/noindex.csv", index=False)
again = pd.read_csv(f"{out}/noindex.csv")
assert str(again["compartments"].dtype) == "float64", again.dtypes
again.to_parquet(f"{out}/roundtrip.parquet")
again.to_csv(f"{out}/roundtrip.csv", index=False)
PY
for f in default.parquet category.parquet default.csv roundtrip.parquet roundtrip.csv; do
    "$bin/lockerlab" forecast train "$work/$f" --out-dir "$work/model-$f" --trees 5 2> "$work/log" \
        || { cat "$work/log" >&2; echo "pandas: $f was refused" >&2; exit 1; }
    grep -q "on 41210 rows" "$work/log" \
        || { cat "$work/log" >&2; echo "pandas: $f lost rows" >&2; exit 1; }
done
echo "pandas: history re-saved by pandas (parquet, category columns, csv, csv round trip) trains on every row"

#!/usr/bin/env bash
# docs/scenario.schema.json (what `lockerlab schema` prints, and what the
# shipped scenarios name on their `#:schema` line) accepts every shipped
# scenario and the `init` template, and refuses a misspelt key, checked by
# an independent validator (Python's jsonschema, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import jsonschema" 2>/dev/null; then
    python3 -m pip install -q --disable-pip-version-check jsonschema
fi
python3 - <<'PY'
import glob, json, tomllib
import jsonschema

schema = json.load(open("docs/scenario.schema.json"))
jsonschema.Draft7Validator.check_schema(schema)
validator = jsonschema.Draft7Validator(schema)
files = sorted(glob.glob("scenarios/*.toml")) + ["src/cli/templates/starter.toml"]
for path in files:
    doc = tomllib.load(open(path, "rb"))
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, f"{path}: " + "; ".join(errors[:5])
bad = tomllib.loads('[simulation]\nhorizon_dayz = 3\n')
assert list(validator.iter_errors(bad)), "a misspelt key must be refused"
print(f"schema: {len(files)} scenario files valid; a misspelt key refused")
PY

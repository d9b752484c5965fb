#!/usr/bin/env bash
# Shards' partials in an S3-compatible object store: moto's server (PyPI)
# on localhost; a 3-shard sweep written to s3://, merged from s3:// and
# compared byte for byte with the same sweep on one machine; a shard
# re-run in place; a missing shard refused.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lockerlab-ci/target}"
bin="$CARGO_TARGET_DIR/release/lockerlab"
[ -x "$bin" ] || { echo "build the release binary first ($bin)" >&2; exit 1; }

venv="$HOME/.cache/lockerlab-ci/moto-venv"
if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]>=5,<6"
fi

work="$(mktemp -d)"
port=15005
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=ci AWS_SECRET_ACCESS_KEY=ci AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
s3() { # PYTHON: run with `s3`, a boto3 client of the server
    "$venv/bin/python" -c "import boto3; s3 = boto3.client('s3', endpoint_url='$AWS_ENDPOINT'); $1"
}
s3 "s3.create_bucket(Bucket='lockerlab-ci')"

sweep=(sweep scenarios/quickstart.toml --vary policy.shares.same_day=0.1:0.4:0.1 --replications 3 -q)
"$bin" "${sweep[@]}" --format json --out-dir "$work/one" > "$work/one.json"
for i in 0 1 2; do
    "$bin" "${sweep[@]}" --shard "$i/3" --partials s3://lockerlab-ci/runs/sweep
done
# A shard run again (after a failure, say) replaces its partial in place.
"$bin" "${sweep[@]}" --shard 1/3 --partials s3://lockerlab-ci/runs/sweep
s3 "print(sorted(o['Key'] for o in s3.list_objects_v2(Bucket='lockerlab-ci')['Contents']))"
"$bin" merge s3://lockerlab-ci/runs/sweep -q --format json --out-dir "$work/merged" > "$work/merged.json"
cmp "$work/one.json" "$work/merged.json"
for f in "$work/one"/*; do cmp "$f" "$work/merged/$(basename "$f")"; done
echo "s3: the sweep merged from s3:// is byte-identical to one machine's"

s3 "s3.delete_object(Bucket='lockerlab-ci', Key='runs/sweep/shard-0002-of-0003.manifest.json')"
if "$bin" merge s3://lockerlab-ci/runs/sweep -q 2> "$work/refused"; then
    echo "merge accepted a set with a shard missing" >&2
    exit 1
fi
grep -q "missing 1 of 3 shards: 2" "$work/refused"
echo "s3: a missing shard is refused: $(grep missing "$work/refused")"

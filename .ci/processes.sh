# Sourced by the CI scripts that start the release binaries and a broker:
# `$bin` (the release binaries), `$work` (a scratch folder, removed on
# exit with every process in `pids` stopped) and `fail MESSAGE`, which
# prints every log in `$work` before exiting, named after `$name`.
bin="${CARGO_TARGET_DIR:-target}/release"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "$name: $*" >&2; for f in "$work"/*.log "$work"/*.txt; do echo "--- $f"; cat "$f"; done >&2; exit 1; }

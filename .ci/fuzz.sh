#!/usr/bin/env bash
# Coverage-guided fuzzing of every input lockerlab reads (fuzz/README.md).
# Builds the targets with cargo-fuzz (installed into the CI cache on first
# use), then runs each from the committed seeds for a bounded time:
#
#   .ci/fuzz.sh                      every target, FUZZ_SECONDS (20) each
#   .ci/fuzz.sh scenario audit       those targets
#   FUZZ_RUNS=10000000 .ci/fuzz.sh   a fixed number of executions instead
#
# A crash, a timeout (10 s on one input) or an out-of-memory (2 GiB) fails
# the run; the input that did it is left in $FUZZ_ARTIFACTS (or a
# temporary folder, printed) to become a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lockerlab-ci/target}"
tools="$HOME/.cache/lockerlab-ci/cargo-fuzz"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
    echo "installing cargo-fuzz into $tools"
    cargo install cargo-fuzz --locked --root "$tools" --quiet
fi
export PATH="$tools/bin:$PATH"

# libFuzzer's instrumentation needs nightly rustc flags. The machine's
# nightly when there is one; else the stable compiler told to accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(scenario history_csv history_parquet policy_file model audit service controller)
fi

# No sanitizer: the code is safe Rust, and the targets hunt panics, hangs
# and unbounded memory; AddressSanitizer would halve the executions.
"${fuzz[@]}" build -s none --fuzz-dir fuzz
bin="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"

work="$(mktemp -d)"
artifacts="${FUZZ_ARTIFACTS:-$work/artifacts}"
mkdir -p "$artifacts"
if [ -n "${FUZZ_RUNS:-}" ]; then
    budget=(-runs="$FUZZ_RUNS")
else
    budget=(-max_total_time="${FUZZ_SECONDS:-20}")
fi
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/corpus/$t"
    log="$work/$t.log"
    # New inputs go to the scratch corpus; the committed seeds are read only.
    if "$bin/$t" "$work/corpus/$t" "fuzz/seeds/$t" "${budget[@]}" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$t-" >"$log" 2>&1; then
        runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
        rate=$(awk '/stat::average_exec_per_sec/ {print $2}' "$log")
        cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
        echo "fuzz $t: ok, $runs executions ($rate/s), $cov"
    else
        echo "fuzz $t: FAILED; the input is in $artifacts" >&2
        grep -E "panicked|ERROR|SUMMARY|Test unit written" -A6 "$log" | head -40 >&2
        status=1
    fi
done
[ "$status" -eq 0 ] && [ -z "${FUZZ_ARTIFACTS:-}" ] && rm -rf "$work"
exit "$status"

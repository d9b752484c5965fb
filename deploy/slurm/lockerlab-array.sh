#!/usr/bin/env bash
# One shard of a lockerlab run per Slurm array task; `lockerlab merge`
# folds the partials afterwards (docs/scale.md).
#
#   PARTIALS=/shared/runs/sweep sbatch --array=0-3 --wait \
#       deploy/slurm/lockerlab-array.sh sweep scenarios/city.toml \
#       --vary policy.shares.same_day=0.1:0.5:0.1
#   lockerlab merge /shared/runs/sweep --out-dir runs/sweep
#
# The array must be 0-(N-1): the task id is the shard index and the task
# count is N. PARTIALS must be a directory every node can write (a shared
# file system); LOCKERLAB the binary (default: lockerlab on PATH). Each task
# uses the cores Slurm gave it (--cpus-per-task), all of them if unset.
#SBATCH --job-name=lockerlab
#SBATCH --output=lockerlab-%A_%a.out
set -euo pipefail
: "${PARTIALS:?set PARTIALS to a directory every node can write}"
: "${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=0-(N-1)}"
threads=()
if [ -n "${SLURM_CPUS_PER_TASK:-}" ]; then
    threads=(--threads "$SLURM_CPUS_PER_TASK")
fi
exec "${LOCKERLAB:-lockerlab}" "$@" -q "${threads[@]}" \
    --shard "auto/$SLURM_ARRAY_TASK_COUNT" --partials "$PARTIALS"

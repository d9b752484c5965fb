#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages
# (slurm-wlm, munge; controller and node daemon on localhost,
# proctrack/linuxproc, no cgroups), and sharded runs on it as array jobs
# through deploy/slurm/lockerlab-array.sh: a 4-shard sweep and a 4-shard
# simulate of the 200-region city, each merged and compared byte for byte
# with the same command run on one machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lockerlab-ci/target}"
bin="$CARGO_TARGET_DIR/release/lockerlab"
[ -x "$bin" ] || { echo "build the release binary first ($bin)" >&2; exit 1; }

if ! command -v sbatch >/dev/null || [ ! -x /usr/sbin/slurmctld ] || [ ! -x /usr/sbin/munged ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

work="$(mktemp -d)"
chmod 755 "$work"
stop() {
    # The daemons first (they hold files in $work), then munged if we started it.
    scontrol shutdown >/dev/null 2>&1 || true
    for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid"; do
        [ -f "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    done
    if [ -n "${munged_started:-}" ] && [ -f "$work/munged.pid" ]; then
        kill "$(cat "$work/munged.pid")" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop EXIT

# munge: the package made a key; the daemon runs as its own user.
[ -f /etc/munge/munge.key ] || { mungekey --create; chown munge:munge /etc/munge/munge.key; }
if ! munge -n >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    runuser -u munge -- /usr/sbin/munged --pid-file="$work/munged.pid" 2>/dev/null \
        || /usr/sbin/munged --force --pid-file="$work/munged.pid"
    munged_started=1
fi
munge -n | unmunge >/dev/null

host="$(hostname)"
mkdir -p "$work/state" "$work/spool" "$work/partials"
cat > "$work/slurm.conf" <<CONF
ClusterName=lockerlab-ci
SlurmctldHost=$host
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF"
/usr/sbin/slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
    sinfo -h -o %t 2>/dev/null | grep -q idle && break
    sleep 0.2
done
sinfo

array() { # NAME COMMAND...: the command as a 4-task array job, waited for
    local name="$1"; shift
    PARTIALS="$work/partials/$name" LOCKERLAB="$bin" \
        sbatch --array=0-3 --wait --cpus-per-task=1 --job-name="$name" \
        --output="$work/$name-%a.out" deploy/slurm/lockerlab-array.sh "$@"
    cat "$work/$name"-*.out
}
compare() { # ONE MERGED: every file byte for byte (timing aside)
    local n=0
    for f in "$1"/*; do
        [ "$(basename "$f")" = timing.json ] && continue
        cmp "$f" "$2/$(basename "$f")"
        n=$((n + 1))
    done
    echo "$n files byte-identical"
}

echo "-- a sweep, 4 shards as a Slurm array, against one machine"
sweep=(sweep scenarios/quickstart.toml --vary policy.shares.same_day=0.1:0.4:0.1
       --vary policy.shares.next_day=0.4:0.6:0.1 --replications 4)
"$bin" "${sweep[@]}" -q --format json --out-dir "$work/sweep-one" > "$work/sweep-one.json"
array sweep "${sweep[@]}"
"$bin" merge "$work/partials/sweep" --format json --out-dir "$work/sweep-merged" > "$work/sweep-merged.json"
cmp "$work/sweep-one.json" "$work/sweep-merged.json"
compare "$work/sweep-one" "$work/sweep-merged"

echo "-- simulate of the 200-region city, 4 shards as a Slurm array, against one machine"
city=(simulate scenarios/city.toml --replications 2)
"$bin" "${city[@]}" -q --format csv --out-dir "$work/city-one" > "$work/city-one.csv"
array city "${city[@]}"
"$bin" merge "$work/partials/city" --format csv --out-dir "$work/city-merged" > "$work/city-merged.csv"
cmp "$work/city-one.csv" "$work/city-merged.csv"
compare "$work/city-one" "$work/city-merged"
echo "slurm: both sharded runs merged byte-identical"

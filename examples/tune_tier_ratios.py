"""Tuning tier ratios, notebook style (each `# %%` is a cell).

Sweeps the capacity shares reserved for same-day and next-day parcels on a
city with faults, plots acceptance against broken promises with the
frontier, trains a dwell-time model on the city's history and scores it
against the baselines, and compares the best tier partition of the sweep
with the scenario's own policy and a snapshot policy on common random
numbers. (`lockerlab.tune` searches a whole policy family the same way;
on this 200-locker city it takes minutes, so the script leaves it out.)

    pip install "./python[examples]"
    python examples/tune_tier_ratios.py --out-dir reports/python-example
"""

# %% Setup
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files, not windows: this also runs in CI
import matplotlib.pyplot as plt
import polars as pl

import lockerlab

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--scenario", default="scenarios/faulty-city.toml")
parser.add_argument("--replications", type=int, default=4)
parser.add_argument("--out-dir", type=Path, default=Path("reports/python-example"))
args = parser.parse_args()
args.out_dir.mkdir(parents=True, exist_ok=True)

city = lockerlab.Scenario.load(args.scenario)
print(city)

# %% Sweep the same-day and next-day shares (16 points, common random numbers)
grid = lockerlab.sweep(
    city,
    {"policy.shares.same_day": "0.1:0.4:0.1", "policy.shares.next_day": "0.3:0.6:0.1"},
    replications=args.replications,
)
points = grid.select(
    "policy.shares.same_day",
    "policy.shares.next_day",
    "acceptance_rate",
    "acceptance_rate_ci95",
    "broken_promise_rate",
    "broken_promise_rate_ci95",
).sort("broken_promise_rate")
# The frontier: no point with fewer broken promises accepts more.
points = points.with_columns(
    frontier=pl.col("acceptance_rate") > pl.col("acceptance_rate").cum_max().shift(1).fill_null(-1.0)
)
print(points)
points.write_csv(args.out_dir / "sweep.csv")

# %% Plot the frontier
fig, ax = plt.subplots(figsize=(7, 4.5))
ax.errorbar(
    points["broken_promise_rate"],
    points["acceptance_rate"],
    xerr=points["broken_promise_rate_ci95"],
    yerr=points["acceptance_rate_ci95"],
    fmt="o",
    color="#999999",
    label="grid point (95% CI)",
)
front = points.filter("frontier")
ax.plot(front["broken_promise_rate"], front["acceptance_rate"], "-o", color="#d1495b", label="frontier")
for row in front.iter_rows(named=True):
    ax.annotate(
        f"{row['policy.shares.same_day']:.1f}/{row['policy.shares.next_day']:.1f}",
        (row["broken_promise_rate"], row["acceptance_rate"]),
        textcoords="offset points",
        xytext=(6, -10),
        fontsize=8,
    )
ax.set_xlabel("broken-promise rate (accepted orders not delivered to their locker)")
ax.set_ylabel("acceptance rate")
ax.set_title(f"{city.name}: same-day / next-day shares, {args.replications} replications")
ax.legend()
fig.tight_layout()
fig.savefig(args.out_dir / "frontier.png", dpi=120)
print(f"wrote {args.out_dir / 'frontier.png'}")

# %% Train a dwell-time model on one run's history; score it on another's
train_rows = lockerlab.history(city, seed=1)
holdout = lockerlab.history(city, seed=2)
model = lockerlab.forecast.train(train_rows, trees=60, seed=7)
scores = model.evaluate(holdout)
print(scores.select("model", "mae_hours", "rmse_hours", "pinball_90_hours", "max_calibration_error"))
model.save(args.out_dir / "model")

# %% The best tier partition of the sweep against the scenario's and a snapshot policy
feasible = points.filter(pl.col("broken_promise_rate") + pl.col("broken_promise_rate_ci95") <= 0.01)
best = (feasible if feasible.height else points).sort("acceptance_rate", descending=True).row(0, named=True)
partition = (
    f"tier-partition:shares.same_day={best['policy.shares.same_day']},"
    f"shares.next_day={best['policy.shares.next_day']}"
)
side_by_side = lockerlab.compare(
    city,
    [partition, city.policy, "snapshot"],
    replications=args.replications,
    metrics=["acceptance_rate", "broken_promise_rate", "utilization"],
)
print(side_by_side)
side_by_side.write_csv(args.out_dir / "compare.csv")

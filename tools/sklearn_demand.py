"""scikit-learn on exactly the rows and features lockerlab's demand forest
sees (docs/forecast.md, "Demand"): a RandomForestRegressor and a
HistGradientBoostingRegressor fitted on orders / level, scored as
`lockerlab forecast eval` scores the forest (MAE, WAPE over every row;
MAPE over the rows with orders).

    lockerlab forecast demand-features data/peak-season-seed1.parquet --scenario scenarios/peak-season.toml --out /tmp/train.csv
    lockerlab forecast demand-features data/peak-season-seed2.parquet --scenario scenarios/peak-season.toml --out /tmp/holdout.csv
    python3 tools/sklearn_demand.py /tmp/train.csv /tmp/holdout.csv

Needs numpy, pandas and scikit-learn (`pip install scikit-learn pandas`); the
project itself does not depend on Python.
"""

import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

NOT_FEATURES = ["location", "day", "level", "orders"]


def load(path):
    frame = pd.read_csv(path)
    return frame.drop(columns=NOT_FEATURES).to_numpy(), frame["level"].to_numpy(), frame["orders"].to_numpy()


def report(name, model, train, holdout):
    x, level, orders = train
    keep = level > 0
    started = time.perf_counter()
    model.fit(x[keep], orders[keep] / level[keep])
    fit = time.perf_counter() - started
    xt, lt, yt = holdout
    pred = np.where(lt > 0, lt * model.predict(xt), 0.0)
    err = np.abs(pred - yt)
    pos = yt > 0
    print(
        f"{name:<58} fit {fit:6.2f} s  MAE {err.mean():.3f}  "
        f"MAPE {np.mean(err[pos] / yt[pos]):.4f}  WAPE {err.sum() / yt.sum():.4f}"
    )


def main():
    train, holdout = load(sys.argv[1]), load(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print(f"{len(train[2])} training rows, {len(holdout[2])} holdout rows, {train[0].shape[1]} features")
    report(
        "RandomForestRegressor (lockerlab's defaults: 30 trees, depth 12, leaf 50, 0.5, 0.5)",
        RandomForestRegressor(
            n_estimators=30, max_depth=12, min_samples_leaf=50, max_features=0.5,
            max_samples=0.5, n_jobs=threads, random_state=1,
        ),
        train,
        holdout,
    )
    report(
        "RandomForestRegressor (100 trees, leaf 20)",
        RandomForestRegressor(n_estimators=100, min_samples_leaf=20, max_features=0.5, n_jobs=threads, random_state=1),
        train,
        holdout,
    )
    report("HistGradientBoostingRegressor", HistGradientBoostingRegressor(random_state=1), train, holdout)


if __name__ == "__main__":
    main()

"""scikit-learn on exactly the rows and features lockerlab's forest sees: the
yardstick of `lockerlab forecast bench` (issue "Speed", docs/forecast.md).

    lockerlab forecast features data/history-train.parquet --out /tmp/train.csv
    lockerlab forecast features data/history-holdout.parquet --out /tmp/holdout.csv
    python3 tools/sklearn_forest.py /tmp/train.csv /tmp/holdout.csv

Needs numpy, pandas and scikit-learn (`pip install scikit-learn pandas`); the
project itself does not depend on Python.
"""

import sys
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor


def load(path):
    frame = pd.read_csv(path)
    return frame.drop(columns="dwell_hours").to_numpy(), frame["dwell_hours"].to_numpy()


def report(name, model, x, y, xt, yt):
    started = time.perf_counter()
    model.fit(x, y)
    fit = time.perf_counter() - started
    pred = model.predict(xt)
    mae = np.mean(np.abs(pred - yt))
    r2 = 1 - np.sum((yt - pred) ** 2) / np.sum((yt - yt.mean()) ** 2)
    print(f"{name:<44} fit {fit:6.2f} s  holdout MAE {mae:.3f} h  R2 {r2:.4f}")


def main():
    x, y = load(sys.argv[1])
    xt, yt = load(sys.argv[2])
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    print(f"{len(y)} training rows, {len(yt)} holdout rows, {x.shape[1]} features")
    forest = dict(
        max_depth=12, min_samples_leaf=20, max_features=0.33, n_jobs=threads, random_state=1
    )
    report("RandomForestRegressor (100 trees, 0.33)", RandomForestRegressor(100, **forest), x, y, xt, yt)
    ours = dict(
        max_depth=10,
        min_samples_leaf=15,
        max_features=0.25,
        max_samples=0.8,
        n_jobs=threads,
        random_state=1,
    )
    report("  with lockerlab's defaults (10, 15, 0.25)", RandomForestRegressor(100, **ours), x, y, xt, yt)
    cut = int(len(y) * 0.8)
    report("  same, on the first 80% of rows", RandomForestRegressor(100, **forest), x[:cut], y[:cut], xt, yt)
    report("HistGradientBoostingRegressor", HistGradientBoostingRegressor(random_state=1), x, y, xt, yt)


if __name__ == "__main__":
    main()

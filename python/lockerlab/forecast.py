"""Dwell-time forecasts: train a calibrated quantile-regression forest on
package history, predict each deposited package's dwell, score it against
the baselines. The ``lockerlab forecast train | predict | eval`` commands on
DataFrames (polars or pandas) or history files."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional, Union

import polars as pl

from . import _native
from ._frames import FrameOrPath, from_native, to_native
from ._progress import Progress, ProgressArg

__all__ = ["DwellModel", "train"]


class DwellModel:
    """A trained forest and its baselines. ``save(dir)`` writes the model
    directory every ``lockerlab`` command and policy reads."""

    def __init__(self, native: Any) -> None:
        self._native = native

    @property
    def meta(self) -> Dict[str, Any]:
        """meta.json: hyperparameters, training data, feature schema."""
        return json.loads(self._native.meta_json())

    def predict(self, data: FrameOrPath, *, skip_bad_rows: bool = False) -> pl.DataFrame:
        """Every deposited package's forecast: ``mean_hours``, the 10%, 50%
        and 90% quantiles (``q10_hours`` …), ``p_within_{t}h`` = P(dwell ≤ t)
        and the ``dwell_hours`` that happened (null while the package is
        still in its compartment), as ``lockerlab forecast predict`` writes."""
        path, frame = to_native(data)
        return from_native(
            _native.predict(self._native, path=path, frame=frame, skip_bad_rows=skip_bad_rows)
        )

    def evaluate(self, data: FrameOrPath, *, skip_bad_rows: bool = False) -> pl.DataFrame:
        """The forest's and every baseline's scores on ``data`` (MAE, RMSE,
        R², pinball losses, calibration error), one row per model, forest
        first, as ``lockerlab forecast eval`` prints them."""
        path, frame = to_native(data)
        scored = json.loads(
            _native.evaluate(self._native, path=path, frame=frame, skip_bad_rows=skip_bad_rows)
        )
        return pl.DataFrame([{"model": s["name"], **s["metrics"]} for s in scored])

    def save(self, directory: Union[str, "os.PathLike[str]"]) -> None:
        """Writes meta.json, forest.bin and baselines.json into ``directory``."""
        _native.save_model(self._native, os.fspath(directory))

    @classmethod
    def load(cls, directory: Union[str, "os.PathLike[str]"]) -> "DwellModel":
        """Reads a model directory (``forecast train --out-dir``'s or ``save``'s)."""
        return cls(_native.load_model(os.fspath(directory)))

    def __repr__(self) -> str:
        meta = self.meta
        hp = meta.get("hyperparameters", {})
        data = meta.get("training", {})
        return f"DwellModel(trees={hp.get('trees')}, rows={data.get('rows')})"


def train(
    data: FrameOrPath,
    *,
    skip_bad_rows: bool = False,
    threads: Optional[int] = None,
    progress: ProgressArg = True,
    **hyperparameters: Any,
) -> DwellModel:
    """Fits a forest on history (a DataFrame with docs/data.md's columns,
    e.g. :func:`lockerlab.history`'s, or a .csv/.parquet file), as
    ``lockerlab forecast train`` does. Rows of a run's warm-up are left out.

    Hyperparameters are ``forecast train``'s flags with underscores:
    ``trees``, ``max_depth``, ``min_samples_leaf``, ``min_samples_split``,
    ``sample_fraction``, ``max_tree_rows``, ``max_features``,
    ``calibration_fraction``, ``calibration`` (``"isotonic"``, …),
    ``refit_on_all_rows``, ``trainer``, ``seed``; the rest keep the CLI's
    defaults. Same data and seed, same forest.
    """
    path, frame = to_native(data)
    with Progress(progress, "trees") as bar:
        native = _native.train(
            path=path,
            frame=frame,
            hyperparameters=json.dumps(hyperparameters),
            skip_bad_rows=skip_bad_rows,
            threads=threads,
            progress=bar.callback,
        )
    return DwellModel(native)

"""`history` and `forecast`: the frames and models of `lockerlab history`
and `lockerlab forecast train | predict | eval`."""

from __future__ import annotations

import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import lockerlab
from conftest import scenario

SAMPLE = scenario("history-sample.toml")
HYPER = {"trees": 12, "max_depth": 8, "seed": 5}


@pytest.fixture(scope="module")
def hist():
    return lockerlab.history(SAMPLE, seed=1, progress=False)


@pytest.fixture(scope="module")
def hist_file(cli, tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "h.parquet"
    cli.ok("history", SAMPLE, "--seed", "1", "--out", str(path), "--quiet")
    return path


def test_history_is_the_clis_file(hist, hist_file):
    assert_frame_equal(hist, pl.read_parquet(hist_file))
    assert hist.schema["order_id"] == pl.UInt64
    assert hist.schema["warmup"] == pl.Boolean
    assert hist["warmup"].any()


def test_history_can_leave_the_warmup_out(hist):
    omitted = lockerlab.history(SAMPLE, seed=1, warmup="omit", progress=False)
    assert not omitted["warmup"].any()
    assert omitted.height == hist.filter(~pl.col("warmup")).height
    with pytest.raises(ValueError, match="expected 'mark' or 'omit'"):
        lockerlab.history(SAMPLE, warmup="keep")


@pytest.fixture(scope="module")
def cli_model(cli, hist_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("model")
    flags = ["--trees", "12", "--max-depth", "8", "--seed", "5", "--quiet"]
    cli.ok("forecast", "train", str(hist_file), "--out-dir", str(out), *flags)
    return out


def test_a_frame_trains_the_forest_the_cli_trains_on_its_file(hist, hist_file, cli_model):
    model = lockerlab.forecast.train(hist, progress=False, **HYPER)
    cli_meta = json.loads((cli_model / "meta.json").read_text())
    assert model.meta["forest_sha256"] == cli_meta["forest_sha256"]
    assert model.meta["training"]["rows"] == cli_meta["training"]["rows"]
    from_file = lockerlab.forecast.train(hist_file, progress=False, **HYPER)
    assert from_file.meta["training"] == cli_meta["training"]
    from_pandas = lockerlab.forecast.train(hist.to_pandas(), progress=False, **HYPER)
    assert from_pandas.meta["forest_sha256"] == cli_meta["forest_sha256"]


def test_predictions_are_the_clis(cli, hist, hist_file, cli_model, tmp_path):
    out = tmp_path / "p.parquet"
    cli.ok("forecast", "predict", str(cli_model), str(hist_file), "--out", str(out))
    model = lockerlab.forecast.DwellModel.load(cli_model)
    predicted = model.predict(hist)
    assert_frame_equal(predicted, pl.read_parquet(out))
    assert {"mean_hours", "q50_hours", "p_within_24h", "dwell_hours"} <= set(predicted.columns)


def test_evaluation_scores_the_forest_and_the_baselines(hist):
    model = lockerlab.forecast.train(hist, progress=False, **HYPER)
    scores = model.evaluate(hist)
    assert scores["model"].to_list()[0] == "forest"
    assert scores.height == 4
    forest, global_mean = scores.row(0, named=True), scores.row(1, named=True)
    # On its own training rows the forest beats the global mean.
    assert forest["mae_hours"] < global_mean["mae_hours"]


def test_a_saved_model_loads_and_the_cli_reads_it(cli, hist, hist_file, tmp_path):
    model = lockerlab.forecast.train(hist, progress=False, **HYPER)
    model.save(tmp_path / "m")
    again = lockerlab.forecast.DwellModel.load(tmp_path / "m")
    assert_frame_equal(again.predict(hist), model.predict(hist))
    cli.ok("forecast", "eval", str(tmp_path / "m"), str(hist_file))


def test_bad_training_input_says_what_was_expected(hist, tmp_path):
    with pytest.raises(ValueError, match="unknown hyperparameter `tress`"):
        lockerlab.forecast.train(hist, tress=3)
    with pytest.raises(ValueError, match="trees must be in"):
        lockerlab.forecast.train(hist, trees=0)
    with pytest.raises(ValueError, match="<DataFrame>: missing column `tier`"):
        lockerlab.forecast.train(hist.drop("tier"))
    bad = hist.with_columns(pl.lit("express").alias("tier"))
    with pytest.raises(ValueError, match="skip_bad_rows=True"):
        lockerlab.forecast.train(bad)
    with pytest.raises(TypeError, match="expected a polars or pandas DataFrame"):
        lockerlab.forecast.train(42)
    with pytest.raises(ValueError, match="nowhere"):
        lockerlab.forecast.DwellModel.load(tmp_path / "nowhere")


def test_skipped_rows_are_a_warning_that_says_how_many_and_why(hist):
    express = pl.when(pl.col("order_id") % 10 == 0).then(pl.lit("express")).otherwise(pl.col("tier"))
    some_bad = hist.with_columns(express.alias("tier"))
    with pytest.warns(UserWarning, match=r"<DataFrame>: skipped \d+ of 74813 rows:\n.*tier"):
        model = lockerlab.forecast.train(some_bad, skip_bad_rows=True, progress=False, **HYPER)
    assert model.meta["training"]["rows"] < lockerlab.forecast.train(
        hist, progress=False, **HYPER
    ).meta["training"]["rows"]

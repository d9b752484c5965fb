"""`lockerlab.simulate` gives what `lockerlab simulate` gives."""

from __future__ import annotations

import threading
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import lockerlab
from conftest import scenario


def test_the_readme_line_prints_the_clis_rate(cli):
    r = lockerlab.simulate(scenario("quickstart.toml"))
    expected = cli.simulate_json(scenario("quickstart.toml"))
    assert r.totals["acceptance_rate"] == expected["totals"]["acceptance_rate"]


@pytest.mark.parametrize(
    "name, args, kwargs",
    [
        ("quickstart.toml", [], {}),
        ("quickstart.toml", ["--seed", "11", "--replications", "3"], {"seed": 11, "replications": 3}),
        (
            "quickstart.toml",
            ["--policy", "tier-partition:shares.same_day=0.2,shares.next_day=0.4"],
            {"policy": "tier-partition:shares.same_day=0.2,shares.next_day=0.4"},
        ),
        ("faulty-city.toml", ["--replications", "2"], {"replications": 2}),
    ],
)
def test_every_number_is_the_clis(cli, name, args, kwargs):
    r = lockerlab.simulate(scenario(name), progress=False, **kwargs)
    assert r.raw == cli.simulate_json(scenario(name), *args)
    assert r.seed == r.raw["seed"] and r.replications == r.raw["replications"]


def test_locations_are_the_clis_csv_rows(cli, tmp_path):
    csv = cli.ok("simulate", scenario("quickstart.toml"), "--format", "csv", "--quiet")
    path = tmp_path / "locations.csv"
    path.write_text(csv)
    expected = pl.read_csv(path).filter(pl.col("location") != "TOTAL")
    r = lockerlab.simulate(scenario("quickstart.toml"), progress=False)
    assert r.locations.columns == expected.columns
    assert r.locations.schema["location"] == pl.String
    assert all(dtype == pl.Float64 for dtype in r.locations.dtypes[1:])
    assert_frame_equal(r.locations, expected, check_dtypes=False)
    pandas = r.locations.to_pandas()
    assert list(pandas["location"]) == r.locations["location"].to_list()


def test_the_builtin_city_runs_without_a_file(cli):
    r = lockerlab.simulate(replications=1, progress=False)
    assert r.raw == cli.simulate_json("--replications", "1")
    assert r.locations.height == 200


def test_results_do_not_depend_on_the_thread_count():
    one = lockerlab.simulate(scenario("city.toml"), replications=2, threads=1, progress=False)
    two = lockerlab.simulate(scenario("city.toml"), replications=2, threads=2, progress=False)
    assert one.raw == two.raw


def test_the_gil_is_released_while_a_run_goes_on():
    ticks = 0
    running = True

    def count():
        nonlocal ticks
        while running:
            ticks += 1
            time.sleep(0.001)

    counter = threading.Thread(target=count)
    counter.start()
    before = ticks
    try:
        lockerlab.simulate(scenario("city.toml"), replications=2, progress=False)
    finally:
        running = False
        counter.join()
    # A run that held the GIL would starve the counter for its whole length.
    assert ticks - before > 20


def test_progress_reaches_the_total_in_location_runs():
    calls = []
    lockerlab.simulate(
        scenario("quickstart.toml"), replications=4, progress=lambda d, t: calls.append((d, t))
    )
    assert calls and all(t == 3 * 4 for _, t in calls)
    assert sum(d for d, _ in calls) == 12


def test_an_exception_in_the_progress_callback_stops_the_run():
    class Stop(Exception):
        pass

    calls = []

    def stop(delta, total):
        calls.append(delta)
        raise Stop()

    started = time.monotonic()
    with pytest.raises(Stop):
        # About 20 s of work on two threads, had it gone on.
        lockerlab.simulate(scenario("city.toml"), replications=100, threads=2, progress=stop)
    assert len(calls) == 1
    assert time.monotonic() - started < 8


def test_bad_arguments_say_what_was_expected(cli):
    with pytest.raises(ValueError, match="replications = 0: expected 1 to 100000"):
        lockerlab.simulate(scenario("quickstart.toml"), replications=0)
    with pytest.raises(ValueError, match="threads = 0"):
        lockerlab.simulate(scenario("quickstart.toml"), threads=0)
    expected = cli.run("simulate", scenario("quickstart.toml"), "--policy", "forcast")
    assert expected.returncode == 2
    with pytest.raises(ValueError) as e:
        lockerlab.simulate(scenario("quickstart.toml"), policy="forcast")
    assert expected.stderr.strip() == f"error: {e.value}"
    with pytest.raises(ValueError, match="reads a dwell model: pass model=DIR"):
        lockerlab.simulate(scenario("quickstart.toml"), policy="forecast")
    with pytest.raises(TypeError, match="expected a Scenario"):
        lockerlab.simulate(42)


def test_compare_is_the_clis_csv(cli, tmp_path):
    policies = "snapshot,tier-partition:shares.same_day=0.2,shares.next_day=0.4"
    args = [scenario("quickstart.toml"), "--policies", policies, "--replications", "4"]
    path = tmp_path / "compare.csv"
    path.write_text(cli.ok("compare", *args, "--format", "csv", "--quiet"))
    expected = pl.read_csv(path)
    as_list = lockerlab.compare(
        scenario("quickstart.toml"),
        ["snapshot", "tier-partition:shares.same_day=0.2,shares.next_day=0.4"],
        replications=4,
        progress=False,
    )
    assert_frame_equal(as_list, expected, check_dtypes=False)
    as_string = lockerlab.compare(
        scenario("quickstart.toml"), policies, replications=4, progress=False
    )
    assert_frame_equal(as_string, as_list)
    assert as_list.columns == [
        "policy", "metric", "mean", "ci95", "diff_vs_first", "diff_ci95", "significant"
    ]


def test_compare_refuses_what_the_cli_refuses():
    quick = scenario("quickstart.toml")
    with pytest.raises(ValueError, match="at least two policies"):
        lockerlab.compare(quick, ["snapshot"], replications=3)
    with pytest.raises(ValueError, match="at least 2 replications"):
        lockerlab.compare(quick, ["snapshot", "tier-partition"], replications=1)
    with pytest.raises(ValueError, match="no metric `acceptance`"):
        lockerlab.compare(quick, "snapshot,tier-partition", metrics=["acceptance"])
    with pytest.raises(ValueError, match="name at least one metric"):
        lockerlab.compare(quick, "snapshot,tier-partition", metrics=[])


def test_sweep_is_the_clis_csv(cli, tmp_path):
    args = [
        scenario("quickstart.toml"),
        "--vary", "policy.shares.same_day=0.1:0.3:0.1",
        "--vary", "simulation.seed=1:2:1",
        "--replications", "2",
        "--out-dir", str(tmp_path),
        "--quiet",
    ]
    csv = cli.ok("sweep", *args, "--format", "csv")
    path = tmp_path / "stdout.csv"
    path.write_text(csv)
    vary = {"policy.shares.same_day": "0.1:0.3:0.1", "simulation.seed": [1, 2]}
    summary = lockerlab.sweep(scenario("quickstart.toml"), vary, replications=2, progress=False)
    assert_frame_equal(summary, pl.read_parquet(tmp_path / "summary.parquet"))
    assert_frame_equal(summary, pl.read_csv(path), check_dtypes=False)
    assert summary.height == 6
    tidy = lockerlab.sweep(
        scenario("quickstart.toml"), vary, replications=2, tidy=True, progress=False
    )
    assert_frame_equal(tidy, pl.read_parquet(tmp_path / "replications.parquet"))


def test_sweep_runs_each_policy_at_each_point(cli):
    quick = scenario("quickstart.toml")
    policies = "snapshot,tier-partition:shares.same_day=0.2,shares.next_day=0.4"
    out = cli.ok(
        "sweep", quick, "--vary", "demand.scale=0.5:1:0.5", "--policies", policies,
        "--replications", "2", "--format", "json", "--quiet",
    )
    import json

    expected = json.loads(out)["points"]
    got = lockerlab.sweep(quick, {"demand.scale": [0.5, 1.0]}, policies, replications=2,
                          progress=False)
    assert got["policy"].to_list() == [p["policy"] for p in expected]
    assert got["acceptance_rate"].to_list() == [p["acceptance_rate"] for p in expected]


def test_sweep_refuses_a_bad_grid_before_running():
    quick = scenario("quickstart.toml")
    with pytest.raises(ValueError, match="grid points are not valid scenarios"):
        lockerlab.sweep(quick, {"demand.scale": [1.0, -1.0]})
    with pytest.raises(ValueError, match="give the same scenario.*`demand.scale`"):
        lockerlab.sweep(scenario("city.toml"), {"demand.orders_per_day": [10, 20]})
    with pytest.raises(ValueError, match="^vary `demand.scale=1:0:1`: expected KEY=START:END:STEP"):
        lockerlab.sweep(quick, {"demand.scale": "1:0:1"})
    with pytest.raises(ValueError, match="values is too many"):
        lockerlab.sweep(quick, {"demand.scale": "0:1e300:1e-300"})
    with pytest.raises(ValueError, match="expected 1 to 10000 values"):
        lockerlab.sweep(quick, {"demand.scale": []})
    with pytest.raises(ValueError, match="name at least one key"):
        lockerlab.sweep(quick, {})


def test_tune_chooses_what_the_cli_chooses(cli, tmp_path):
    quick = scenario("quickstart.toml")
    out = cli.ok(
        "tune", quick, "--family", "tier-partition", "--replications", "3", "--per-location",
        "--candidates", str(tmp_path / "c.csv"), "--format", "json", "--quiet",
    )
    import json

    expected = json.loads(out)
    r = lockerlab.tune(quick, "tier-partition", replications=3, per_location=True, progress=False)
    assert r.raw == expected
    assert r.best == expected["best"] and r.overrides == expected["overrides"]
    assert_frame_equal(r.candidates, pl.read_csv(tmp_path / "c.csv"), check_dtypes=False)
    assert r.candidates.height == 1001


def test_tune_refuses_what_the_cli_refuses():
    quick = scenario("quickstart.toml")
    with pytest.raises(ValueError, match="^family snapshot: nothing to tune"):
        lockerlab.tune(quick, "snapshot")
    with pytest.raises(ValueError, match="expected acceptance, accepted or utilization"):
        lockerlab.tune(quick, "tier-partition", objective="profit")
    with pytest.raises(ValueError, match=r"^max_broken_promise_rate must be in \[0, 1\]"):
        lockerlab.tune(quick, "tier-partition", max_broken_promise_rate=1.5)

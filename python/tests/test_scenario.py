"""Scenarios: loading, building from dicts, varying keys, and the CLI's
validation errors with their file, line and key path."""

from __future__ import annotations

import pytest

import lockerlab
from conftest import scenario


def test_a_file_loads_with_its_settings():
    sc = lockerlab.Scenario.load(scenario("quickstart.toml"))
    assert sc.name == "quickstart"
    assert sc.seed == 7 and sc.replications == 5
    assert sc.locations == ["central-station", "market-hall", "riverside-flats"]
    assert sc.horizon_days == 14 and sc.warmup_days == 2


def test_with_sets_keys_by_path_and_runs_what_the_cli_runs_on_that_file(cli, tmp_path):
    sc = lockerlab.Scenario.load(scenario("quickstart.toml"))
    varied = sc.with_(**{"policy.shares.same_day": 0.1, "simulation.seed": 3})
    assert varied.seed == 3 and sc.seed == 7
    assert "shares.same_day=0.1" in varied.policy
    path = tmp_path / "varied.toml"
    path.write_text(varied.to_toml())
    assert lockerlab.simulate(varied, progress=False).raw == cli.simulate_json(str(path))
    again = varied.with_(**{"simulation.replications": 2})
    assert again.seed == 3 and again.replications == 2


def test_from_dict_is_the_file_as_a_dict(repo):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    with open(repo / "scenarios" / "quickstart.toml", "rb") as f:
        d = tomllib.load(f)
    from_dict = lockerlab.Scenario.from_dict(d)
    loaded = lockerlab.Scenario.load(scenario("quickstart.toml"))
    assert from_dict.file == "<dict>"
    a = lockerlab.simulate(from_dict, progress=False).raw
    b = lockerlab.simulate(loaded, progress=False).raw
    assert a == b


def test_a_bad_file_names_its_line_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[simulation]\nhorizon_days = "long"\n')
    with pytest.raises(lockerlab.ScenarioError) as e:
        lockerlab.Scenario.load(path)
    err = e.value
    assert isinstance(err, ValueError)
    assert err.file == str(path) and err.line == 3 and err.key == "simulation.horizon_days"
    assert str(err).startswith(f"{path}:3:")


def test_the_cli_and_the_package_word_an_error_alike(cli, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[simulation]\nhorizon_dayz = 3\n')
    out = cli.run("validate", str(path))
    assert out.returncode == 2
    with pytest.raises(lockerlab.ScenarioError) as e:
        lockerlab.Scenario.load(path)
    assert f"error: {e.value}" in out.stderr


def test_a_varied_key_is_checked_like_a_written_one():
    sc = lockerlab.Scenario.load(scenario("quickstart.toml"))
    with pytest.raises(lockerlab.ScenarioError) as e:
        sc.with_(**{"demand.orders_per_day": -1.0})
    assert e.value.key == "demand.orders_per_day"
    assert e.value.line is None
    assert "with demand.orders_per_day=-1" in e.value.file
    with pytest.raises(lockerlab.ScenarioError, match="oders"):
        sc.with_(**{"demand.oders": 1})
    with pytest.raises(lockerlab.ScenarioError, match="no entry with id `nowhere`"):
        sc.with_(**{"locations.nowhere.compartments.S": 4})
    with pytest.raises(ValueError, match="expected a bool, number, string, dict or list"):
        sc.with_(**{"demand.orders_per_day": object()})


def test_a_bad_dict_names_the_key_path():
    with pytest.raises(lockerlab.ScenarioError) as e:
        lockerlab.Scenario.from_dict({"name": "x", "simulation": {"horizon_days": -2}})
    assert e.value.file == "<dict>" and e.value.key.startswith("simulation")
    with pytest.raises(ValueError, match="keys must be strings"):
        lockerlab.Scenario.from_dict({"name": "x", "simulation": {1: 2}})


def test_a_missing_file_is_a_scenario_error_without_a_key(tmp_path):
    with pytest.raises(lockerlab.ScenarioError) as e:
        lockerlab.Scenario.load(tmp_path / "nowhere.toml")
    assert e.value.key is None and "cannot read scenario" in str(e.value)


def test_numpy_scalars_set_keys_like_python_numbers():
    np = pytest.importorskip("numpy")
    sc = lockerlab.Scenario.load(scenario("quickstart.toml"))
    a = sc.with_(**{"simulation.seed": np.int64(3), "demand.scale": np.float64(1.5)})
    b = sc.with_(**{"simulation.seed": 3, "demand.scale": 1.5})
    assert a.to_toml() == b.to_toml()
    # No key takes a bool: both are refused as a boolean, in the same words.
    with pytest.raises(lockerlab.ScenarioError) as numpy_bool:
        sc.with_(**{"demand.scale": np.bool_(True)})
    with pytest.raises(lockerlab.ScenarioError) as python_bool:
        sc.with_(**{"demand.scale": True})
    assert "boolean" in str(python_bool.value)
    assert str(numpy_bool.value) == str(python_bool.value)


def test_a_dict_that_contains_itself_is_refused_not_a_crash():
    d = {"name": "x"}
    d["simulation"] = d
    with pytest.raises(ValueError, match="nested deeper than"):
        lockerlab.Scenario.from_dict(d)

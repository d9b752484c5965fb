"""lockerlab: the parcel-locker capacity simulator and forecasting lab, in
Python.

The engine runs in this process (the same library the ``lockerlab`` CLI
is built on), without the GIL, and results come back as polars
DataFrames::

    import lockerlab
    r = lockerlab.simulate("scenarios/quickstart.toml")
    r.totals["acceptance_rate"]       # what `lockerlab simulate` prints
    r.locations                       # one row per location
    hist = lockerlab.history("scenarios/quickstart.toml", seed=1)
    model = lockerlab.forecast.train(hist, trees=50)

See docs/python.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import polars as pl

from . import _native
from ._errors import ScenarioError
from ._frames import from_native
from ._progress import Progress, ProgressArg

Scenario = _native.Scenario
__version__: str = _native.__version__

ScenarioLike = Union[Scenario, str, "os.PathLike[str]", None]

__all__ = [
    "RunResult",
    "compare",
    "Scenario",
    "ScenarioError",
    "forecast",
    "history",
    "simulate",
    "sweep",
    "tune",
    "TuneResult",
]


def _scenario(scenario: ScenarioLike) -> Scenario:
    if scenario is None:
        return Scenario.builtin()
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, os.PathLike)):
        return Scenario.load(scenario)
    raise TypeError(
        f"expected a Scenario, a scenario file's path or None (the built-in city), "
        f"got {type(scenario).__name__}"
    )


@dataclass(frozen=True)
class RunResult:
    """A run's results: what ``lockerlab simulate --format json`` prints
    (without the timing keys), with the locations as a DataFrame."""

    scenario: str
    policy: str
    seed: int
    replications: int
    events: int
    warmup_days: float
    horizon_days: float
    #: Network totals, the mean over replications; ``None`` where a metric
    #: is undefined (a rate with nothing to divide).
    totals: Dict[str, Optional[float]] = field(repr=False)
    #: 95% confidence half-widths across replications (``None`` for one
    #: replication).
    ci95: Optional[Dict[str, Optional[float]]] = field(repr=False)
    #: One row per location: ``location`` and every metric.
    locations: pl.DataFrame = field(repr=False)
    #: The JSON document itself, as ``json.loads`` reads it.
    raw: Dict[str, Any] = field(repr=False)


def simulate(
    scenario: ScenarioLike = None,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    policy: Optional[str] = None,
    threads: Optional[int] = None,
    *,
    model: Union[str, "os.PathLike[str]", None] = None,
    demand_model: Union[str, "os.PathLike[str]", None] = None,
    progress: ProgressArg = True,
) -> RunResult:
    """Run a scenario, as ``lockerlab simulate`` does.

    ``scenario`` is a :class:`Scenario`, a file's path, or ``None`` for the
    built-in 200-locker city. ``seed`` and ``replications`` default to the
    scenario's; ``policy`` is a ``--policy`` spec (``"forecast:confidence=0.99"``)
    or an exported policy file (``*.json``); ``model`` and ``demand_model``
    are model directories. ``threads`` defaults to every core; results do
    not depend on it. Ctrl-C (or the notebook's interrupt) stops the run
    and raises ``KeyboardInterrupt``.
    """
    sc = _scenario(scenario)
    with Progress(progress, "location-runs") as bar:
        text, locations = _native.simulate(
            sc,
            seed=seed,
            replications=replications,
            policy=policy,
            model=model,
            demand_model=demand_model,
            threads=threads,
            progress=bar.callback,
        )
    raw = json.loads(text)
    return RunResult(
        scenario=raw["scenario"],
        policy=raw["policy"],
        seed=raw["seed"],
        replications=raw["replications"],
        events=raw["events"],
        warmup_days=raw["warmup_days"],
        horizon_days=raw["horizon_days"],
        totals=raw["totals"],
        ci95=raw.get("ci95"),
        locations=from_native(locations),
        raw=raw,
    )


def history(
    scenario: ScenarioLike = None,
    seed: Optional[int] = None,
    *,
    warmup: str = "mark",
    threads: Optional[int] = None,
    progress: ProgressArg = True,
) -> pl.DataFrame:
    """One record per order of one replication, as ``lockerlab history``
    writes it (the columns of docs/data.md).

    ``warmup="mark"`` keeps the warm-up's orders with ``warmup`` = true (a
    replay needs them; training leaves them out), ``"omit"`` drops them.
    """
    if warmup not in ("mark", "omit"):
        raise ValueError(f"warmup={warmup!r}: expected 'mark' or 'omit'")
    sc = _scenario(scenario)
    with Progress(progress, "location-runs") as bar:
        stream = _native.history(sc, seed=seed, threads=threads, progress=bar.callback)
    df = from_native(stream)
    if warmup == "omit":
        df = df.filter(~pl.col("warmup"))
    return df


def compare(
    scenario: ScenarioLike,
    policies: Union[str, Sequence[str]],
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
    *,
    metrics: Optional[Sequence[str]] = None,
    model: Union[str, "os.PathLike[str]", None] = None,
    demand_model: Union[str, "os.PathLike[str]", None] = None,
    progress: ProgressArg = True,
) -> pl.DataFrame:
    """Policies side by side on common random numbers, as ``lockerlab
    compare --format csv`` reports them.

    ``policies`` is a list of ``--policy`` specs or policy files (the first
    is the reference), or one comma-separated string as ``--policies``
    takes. One row per policy and metric: ``policy``, ``metric``, ``mean``,
    ``ci95``, ``diff_vs_first``, ``diff_ci95`` (the paired difference and
    its 95% half-width) and ``significant``. ``metrics`` defaults to the
    CLI's nine; needs at least 2 replications.
    """
    sc = _scenario(scenario)
    if not isinstance(policies, str):
        policies = list(policies)
    with Progress(progress, "location-runs") as bar:
        stream = _native.compare(
            sc,
            policies,
            seed=seed,
            replications=replications,
            metrics=list(metrics) if metrics is not None else None,
            model=model,
            demand_model=demand_model,
            threads=threads,
            progress=bar.callback,
        )
    return from_native(stream)


def sweep(
    scenario: ScenarioLike,
    vary: Mapping[str, Union[str, Sequence[float]]],
    policies: Union[str, Sequence[str], None] = None,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
    *,
    tidy: bool = False,
    model: Union[str, "os.PathLike[str]", None] = None,
    demand_model: Union[str, "os.PathLike[str]", None] = None,
    progress: ProgressArg = True,
) -> pl.DataFrame:
    """A grid of scenario variants (× policies), every point on the same
    random numbers, as ``lockerlab sweep --format csv`` reports it.

    ``vary`` maps key paths to their values, a list or ``"START:END:STEP"``
    as ``--vary`` takes: ``{"policy.shares.same_day": [0.1, 0.2, 0.3]}``.
    Keys multiply into a grid. ``policies`` (specs) run at every point;
    without them the scenario's policy runs. One row per point: ``point``,
    ``policy``, the varied keys, then every metric and its ``_ci95``;
    ``tidy=True`` gives one row per point and replication instead (the
    CLI's replications.csv). Every point is checked before any runs.
    """
    sc = _scenario(scenario)
    if isinstance(policies, str):
        # `--policies`' comma rules: `a:k=1,k2=2,b` is two policies.
        policies = _native.split_policies(policies)
    elif policies is not None:
        policies = list(policies)
    axes = [(k, v if isinstance(v, str) else [float(x) for x in v]) for k, v in vary.items()]
    with Progress(progress, "grid points") as bar:
        stream = _native.sweep(
            sc,
            axes,
            policies=policies,
            seed=seed,
            replications=replications,
            model=model,
            demand_model=demand_model,
            tidy=tidy,
            threads=threads,
            progress=bar.callback,
        )
    return from_native(stream)


@dataclass(frozen=True)
class TuneResult:
    """A policy search's outcome: what ``lockerlab tune --format json``
    prints, with the candidates as a DataFrame."""

    #: The chosen policy as a ``--policy`` spec.
    best: str
    #: Candidates statistically tied with the best objective (specs).
    tied: List[str]
    #: Per-location choices (``per_location=True``): location id → spec.
    overrides: Dict[str, str]
    #: The choice re-run on fresh random numbers: seed, replications, the
    #: objective's and the broken-promise rate's mean and 95% half-width.
    validation: Dict[str, Any]
    #: The winner's parameters at the edge of the grid searched.
    on_grid_edge: List[str]
    #: Every candidate (``tune --format csv``'s rows): ``policy``, the
    #: objective's ``_mean`` and ``_ci95``, ``broken_promise_rate_mean``,
    #: ``_ci95``, ``feasible``, ``frontier``, ``tied_with_best``.
    candidates: pl.DataFrame = field(repr=False)
    raw: Dict[str, Any] = field(repr=False)


def tune(
    scenario: ScenarioLike,
    family: str,
    objective: str = "acceptance",
    max_broken_promise_rate: float = 0.001,
    *,
    per_location: bool = False,
    seed: Optional[int] = None,
    replications: Optional[int] = None,
    threads: Optional[int] = None,
    model: Union[str, "os.PathLike[str]", None] = None,
    demand_model: Union[str, "os.PathLike[str]", None] = None,
    progress: ProgressArg = True,
) -> TuneResult:
    """Search a policy family's parameters (``"tier-partition"``: every
    split of the shares on a 0.1 grid; ``"forecast"``: the confidence bar)
    for the best ``objective`` (``"acceptance"``, ``"accepted"``,
    ``"utilization"``) whose broken-promise rate's 95% upper bound is at
    most ``max_broken_promise_rate``, as ``lockerlab tune`` does: common
    random numbers, ties broken by fewest broken promises, the choice
    validated on fresh random numbers. ``replications`` defaults to the
    scenario's, at least 20.
    """
    sc = _scenario(scenario)
    with Progress(progress, "candidates") as bar:
        text, candidates = _native.tune(
            sc,
            family,
            objective=objective,
            max_broken_promise_rate=max_broken_promise_rate,
            per_location=per_location,
            seed=seed,
            replications=replications,
            model=model,
            demand_model=demand_model,
            threads=threads,
            progress=bar.callback,
        )
    raw = json.loads(text)
    return TuneResult(
        best=raw["best"],
        tied=raw["tied"],
        overrides=raw["overrides"],
        validation=raw["validation"],
        on_grid_edge=raw["on_grid_edge"],
        candidates=from_native(candidates),
        raw=raw,
    )


from . import forecast  # noqa: E402  (it imports the names above)

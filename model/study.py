"""Solve every scenario of a scenario file and return the labelled results: the Python API
behind ``python -m model.run``.

:func:`prepare` reads a scenario file and its dataset and checks every name (scenarios,
``[report]`` table, study notes, compared files) before anything is solved;
:func:`solve_study` solves each scenario into a :class:`ScenarioResult` record and builds the
results Dataset from them.  Nothing here prints: failures and warnings are returned.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from calibration.calibrate import Benchmark, calibrate
from calibration.io import Dataset, load_dataset
from model.core.catalogue import DECOMPOSITION
from model.core.decomposition import decompose
from model.core.outcomes import outcomes
from model.core.policy import Policy
from model.core.settings import SolverSettings
from model.core.optimal import NashSpec, OptimalTariffSpec, SearchResult
from model.core.search import SEARCH_ERRORS, describe, searched, solve_scenario_policy
from model.core.solver import ConvergenceError, Solution, solve
from model.output import notes
from model.output.files import display_path
from model.output.results import build_results
from model.scenario import (PreparedScenario, Scenario, ScenarioError, ScenarioFile,
                            load_scenario_file, parse_scenario_text, prepare_scenarios)
from model.scenario.records import Comparison
from model import compiling
from model.processes import on_processes
from model.threads import on_threads


@dataclass(frozen=True)
class Study:
    """A scenario file with its dataset, benchmark and prepared scenarios, checked and ready
    to solve; ``compare`` holds the prepared studies of the files its report compares it with,
    and ``label`` names it in reports (the file stem unless compared)."""

    file: ScenarioFile
    dataset: Dataset
    benchmark: Benchmark
    scenarios: tuple[PreparedScenario, ...]
    compare: tuple["Study", ...] = ()
    label: str = ""

    def names(self) -> notes.Names:
        """The names its results will hold."""
        return notes.Names(tuple(p.name for p in self.scenarios), self.benchmark.regions,
                           self.benchmark.sectors)


def prepare(path: str | Path, compare: bool = True, elasticities: str | None = None,
            label: str | None = None, variant: Comparison | None = None,
            text: str | None = None) -> Study:
    """Read a scenario file and its dataset and check every name, including those of the
    ``[report]`` table, its notes and the files it compares with (each a ``variant``: the file
    with its choices changed); raises :class:`~model.scenario.ScenarioError` or
    :class:`~calibration.io.DatasetError`.  With ``text``, that is the file's content and
    ``path`` only names it and anchors its relative paths."""
    sf = (load_scenario_file(path, elasticities, variant) if text is None
          else parse_scenario_text(text, path, elasticities, variant))
    ds = load_dataset(sf.data, elasticities=sf.elasticities)
    bm = calibrate(ds)
    for key in ("regions", "sectors") if variant is None else ():  # a compared file's
        valid = getattr(bm, key)                                     # report is not made
        for name in getattr(sf.report, key) or ():
            if name not in valid:
                raise ScenarioError(f"{sf.path}: report.{key}: unknown name '{name}'; the "
                                    f"choices are {', '.join(valid)}")
    others = tuple(prepare(c.file, compare=False, label=c.label, variant=c)
                   for c in sf.report.compare) if compare else ()
    study = Study(sf, ds, bm, prepare_scenarios(sf, bm, ds.regimes), others,
                  label or sf.path.stem)
    if compare and sf.report.notes is not None:  # a compared file's notes are not rendered
        check_notes(study)
    return study


def check_notes(study: Study) -> None:
    """Every placeholder of the notes must resolve against the names the results will hold, so
    that rendering cannot fail after solving."""
    path = study.file.report.notes
    files = {study.label: study.names(), **{o.label: o.names() for o in study.compare}}
    sweep = sweep_names(study)
    if sweep is not None:
        files[notes.SWEEP] = sweep
    try:
        notes.check(path.read_text(encoding="utf-8"), files, study.label)
    except notes.NotesError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


def sweep_names(study: Study) -> notes.Names | None:
    """What the file's sweep results will hold for study notes: the swept scenarios and the
    statistics (None without a sweep, or for a grid, which has no statistics)."""
    raw = study.file.sweep
    params = raw.get("parameters") if raw is not None else None
    if (raw is None or raw.get("method") == "grid"
            or (isinstance(params, list) and any("values" in p for p in params
                                                 if isinstance(p, dict)))):
        return None  # a grid: statistics per grid point, which placeholders do not select
    from model.sweep.designs import STATISTICS

    names = study.names()
    chosen = raw.get("scenarios")
    if isinstance(chosen, str):
        chosen = [chosen]
    scenarios = tuple(n for n in names.scenarios if not isinstance(chosen, list) or n in chosen)
    return dataclasses.replace(names, scenarios=scenarios, statistics=STATISTICS)


@dataclass(frozen=True)
class ScenarioResult:
    """One solved scenario: the prepared scenario, the policy solved (the instrument of a search
    applied, quotas as their tariff equivalents), the solution (the last iterate if it failed),
    its outcomes (None if it failed), the instrument's description and value, the search's
    result (an optimal tariff's curve, a Nash game's tariffs), and why it failed or what to
    warn of."""

    prepared: PreparedScenario
    policy: Policy
    solution: Solution
    outcomes: dict | None
    instrument: str = ""
    instrument_value: float = math.nan
    error: str = ""
    warning: str = ""
    search: SearchResult | None = None

    @property
    def scenario(self) -> Scenario:
        return self.prepared.scenario


@dataclass(frozen=True)
class StudyResult:
    """The results Dataset of a study and the records it was built from."""

    results: xr.Dataset
    records: tuple[ScenarioResult, ...] = field(repr=False)

    @property
    def failed(self) -> list[str]:
        """``"name: why"`` for each scenario that did not converge or reach its target."""
        return [f"{r.scenario.name}: {r.error}" for r in self.records if r.error]

    @property
    def warnings(self) -> list[str]:
        return [f"{r.scenario.name}: {r.warning}" for r in self.records if r.warning]


def solve_scenario(study: Study, prepared: PreparedScenario, settings: SolverSettings,
                   decomposition: bool = True) -> ScenarioResult:
    """Solve one scenario (its instrument first, for a target, an optimal tariff or a Nash
    game), its outcomes and (unless ``decomposition`` is False: its parts are then NaN) its
    welfare decomposition; a failure is recorded, not raised."""
    bm, pol, search = study.benchmark, prepared.policy, prepared.search
    label = describe(search, bm.regions, bm.sectors)
    try:
        sol, found = solve_scenario_policy(bm, pol, search, settings)
    except ConvergenceError as exc:
        return ScenarioResult(prepared, pol, exc.solution, None, label, error=str(exc))
    except SEARCH_ERRORS as exc:
        sol = exc.solution or solve(bm, pol.replace(quotas=None), settings)
        return ScenarioResult(prepared, pol, dataclasses.replace(sol, converged=False), None,
                              label, error=str(exc))
    pol = sol.policy  # the instrument applied, quotas as their tariff equivalents
    out = outcomes(bm, pol, sol)
    warning = ""
    if found is not None and found.at_bound:
        warning = (f"{label}: the optimum lies on a bound of the search interval "
                   f"{_bounds_text(search)}; widen bounds to look further")
        if (abs(pol.D1) > 1e-9 * bm.world_value_added).any():
            warning += (". With trade imbalances held fixed a tariff also changes what a "
                        "deficit is worth, which can make welfare rise without limit: search "
                        "with closure trade_balance = \"balanced\" (Ossa 2014)")
    if decomposition:
        parts, problem = _checked_decomposition(bm, pol, settings, out["welfare"])
        out.update(parts)
        warning = "; ".join(w for w in (warning, problem) if w)
    else:
        out.update(_no_decomposition(bm))
    warning = "; ".join(w for w in (warning, implausible(bm, pol, out)) if w)
    return ScenarioResult(prepared, pol, sol, out, label,
                          math.nan if found is None else found.value, warning=warning,
                          search=found)


#: what a result must stay within not to be flagged as implausible: a tariff (fraction), the
#: terms of trade and welfare without the transfer part (percent)
PLAUSIBLE = {"tariff": 5.0, "terms_of_trade": 50.0, "welfare": 25.0}


def implausible(bm, pol, out) -> str:
    """What in a solved scenario looks like a mistake of input rather than economics: a tariff
    above 500 % (``add = 25`` meant as 25 %), a negative income or absorption, a terms-of-trade
    change beyond ±50 %, or a welfare change beyond ±25 % once the transfer of a changed
    deficit is set aside ("" if nothing)."""
    found = []
    t = np.asarray(pol.t1)
    high = np.isfinite(t) & (t > PLAUSIBLE["tariff"])
    if high.any():
        n, i, j = np.argwhere(high)[0]
        found.append(f"a tariff of {t[n, i, j]:g} ({100 * t[n, i, j]:g} %) on {bm.regions[n]} "
                     f"imports of {bm.sectors[j]} from {bm.regions[i]} (rates are fractions: "
                     "0.25 = 25 %)")
    for name in ("income", "absorption"):
        values = np.asarray(out[name])
        if (values < 0).any():
            found.append(f"a negative {name} in "
                         f"{', '.join(sorted({bm.regions[k] for k in np.argwhere(values < 0)[:, 0]}))}")
    tot = np.asarray(out["terms_of_trade"])
    if (np.abs(tot) > PLAUSIBLE["terms_of_trade"]).any():
        found.append(f"a terms-of-trade change of {tot[np.argmax(np.abs(tot))]:.3g} %")
    welfare = np.asarray(out["welfare"]) - np.nan_to_num(np.asarray(
        out.get("welfare_transfer", 0.0)))
    if (np.abs(welfare) > PLAUSIBLE["welfare"]).any():
        found.append(f"a welfare change of {welfare[np.argmax(np.abs(welfare))]:.3g} % "
                     "without the transfer part")
    return ("implausible results, check the input: " + "; ".join(found)) if found else ""


#: the largest gap between the decomposition's parts and welfare (percentage points) taken as
#: exact; a larger one is refined once, then reported
DECOMPOSITION_TOLERANCE = 1e-6


def _checked_decomposition(bm, pol, settings, welfare) -> tuple[dict, str]:
    """The welfare decomposition and, if its parts do not add up to welfare within
    :data:`DECOMPOSITION_TOLERANCE` even on a path of four times the steps (a very large
    shock), or the path cannot be solved or has infinite steps, the warning that says so."""
    def gap(parts):
        total = parts["welfare_path_total"]
        if not np.isfinite(total).all():
            return np.inf
        return float(np.max(np.abs(total - welfare)))

    try:
        parts = decompose(bm, pol, settings)
        if gap(parts) > DECOMPOSITION_TOLERANCE and np.isfinite(welfare).all():
            parts = decompose(bm, pol, settings, steps=128)
    except ConvergenceError as exc:  # the scenario solved; only the path failed
        return _no_decomposition(bm), ("the welfare decomposition is left empty (NaN): a step "
                                       f"on the path of the shock did not converge: {exc}")
    miss = gap(parts)
    if miss <= DECOMPOSITION_TOLERANCE or not np.isfinite(welfare).all():
        return parts, ""
    if not np.isfinite(miss):
        return parts, ("the welfare decomposition is not defined for this shock (an infinite "
                       "tariff or trade cost has no path from the benchmark): its parts are NaN")
    return parts, (f"the welfare decomposition is inexact: its parts miss welfare by up to "
                   f"{miss:.3g} percentage points even on a path of 128 steps (a shock this "
                   "large is far from linear along the path); read the parts with care")


def _no_decomposition(bm) -> dict:
    nan = np.full(len(bm.regions), np.nan)
    return {v.name: nan for v in DECOMPOSITION}


def _bounds_text(search) -> str:
    lo, hi = search.bounds
    return f"[{lo:g}, {hi:g}]"


def solve_study(study: Study, settings: SolverSettings | None = None,
                decomposition: bool = True) -> StudyResult:
    """Solve every scenario; a scenario that does not converge keeps NaN values,
    ``converged = False`` and its residual in the results, and the others are unaffected.
    ``decomposition = False`` skips the welfare decompositions (a compared file's report shows
    welfare and real GDP only)."""
    return solve_studies([(study, decomposition)], settings)[0]


def solve_studies(jobs: list[tuple[Study, bool]],
                  settings: SolverSettings | None = None) -> list[StudyResult]:
    """:func:`solve_study` of each ``(study, decomposition)`` of ``jobs`` (a file and the files
    its report compares it with), the scenarios of all of them on one pool (forked processes
    once the kernels are loaded here, :func:`model.compiling.loaded`, else threads); the
    results are those of one study at a time.  The scenarios start in the order of
    :func:`_expected_work`, the longest first, so that no long one starts last while a core
    waits (the order changes no result)."""
    chosen = [settings or study.file.solver for study, _ in jobs]  # each study's own
    tasks = [(k, prepared) for k, (study, _) in enumerate(jobs) for prepared in study.scenarios]
    order = sorted(range(len(tasks)),
                   key=lambda t: _expected_work(tasks[t][1], jobs[tasks[t][0]][1]))

    def work(t: int) -> ScenarioResult:
        k, prepared = tasks[t]
        study, decomposition = jobs[k]
        return solve_scenario(study, prepared, chosen[k], decomposition)

    # on processes where the kernels are loaded here first (each process then has its own
    # interpreter for the Python between solves, where threads wait for each other); a
    # result comes back pickled, and keeps the prepared scenario of the study
    parallel = on_processes if compiling.loaded(jobs[0][0].benchmark, chosen[0]) else on_threads
    solved = {t: dataclasses.replace(result, prepared=tasks[t][1]) for t, result in
              zip(order, parallel(work, [(t,) for t in order]))}
    results = []
    for k, (study, _) in enumerate(jobs):
        records = tuple(solved[t] for t in range(len(tasks)) if tasks[t][0] == k)
        attrs = {
            "title": study.file.title,
            "scenario_file": display_path(study.file.path),
            "scenario_text": study.file.text,
            "warnings": "\n".join(f"{r.scenario.name}: {r.warning}" for r in records
                                  if r.warning),
            **{f"solver_{name}": (str(v) if isinstance(v, str) else v)
               for name, v in chosen[k].as_dict().items()},
        }
        results.append(StudyResult(build_results(study.dataset, study.benchmark, records,
                                                 attrs), records))
    return results


def _expected_work(prepared: PreparedScenario, decomposition: bool) -> tuple[int, bool]:
    """A sort key, smallest for the scenarios expected to take longest: a Nash game (an
    optimal tariff per player, round after round), an optimal tariff, a target or quotas (a
    search), then a plain solve; a welfare decomposition (65 solves) before none."""
    search = prepared.search
    rank = (0 if isinstance(search, NashSpec) else 1 if isinstance(search, OptimalTariffSpec)
            else 2 if searched(search, prepared.policy) else 3)
    return rank, not decomposition


def run_file(path: str | Path) -> xr.Dataset:
    """Solve every scenario of a scenario file and return the results Dataset."""
    return solve_study(prepare(path)).results

"""Solve every scenario of a scenario file and return the labelled results (the Python API
behind ``python -m model.run``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from calibration.calibrate import Benchmark, calibrate
from calibration.io import Dataset, load_dataset
from model.outcomes import outcomes
from model.params import SolverSettings
from model.results import build_results
from model.scenario import ScenarioFile, load_scenario_file, policies
from model.solver import ConvergenceError, solve


@dataclass(frozen=True)
class Study:
    """A scenario file with its dataset, benchmark and policies, checked and ready to solve."""

    file: ScenarioFile
    dataset: Dataset
    benchmark: Benchmark
    policies: tuple


def prepare(path: str | Path) -> Study:
    """Read a scenario file and its dataset and check every name; raises
    :class:`~model.scenario.ScenarioError` or :class:`~calibration.io.DatasetError`."""
    sf = load_scenario_file(path)
    ds = load_dataset(sf.data, elasticities=sf.elasticities)
    bm = calibrate(ds)
    return Study(sf, ds, bm, tuple(policies(sf, bm)))


def solve_study(study: Study, settings: SolverSettings | None = None) -> tuple[xr.Dataset, list[str]]:
    """Solve every scenario; returns the results and the names of scenarios that failed.

    A scenario that does not converge keeps NaN values, ``converged = False`` and its residual in
    the results; the others are unaffected.
    """
    settings = settings or study.file.solver
    names, outs, info, failed = [], [], [], []
    for sc, pol in zip(study.file.scenarios, study.policies):
        try:
            sol = solve(study.benchmark, pol, settings)
            out = outcomes(study.benchmark, pol, sol)
        except ConvergenceError as exc:
            sol, out = exc.solution, None
            failed.append(f"{sc.name}: {exc}")
        names.append(sc.name)
        outs.append(out)
        info.append({"converged": sol.converged, "iterations": sol.iterations,
                     "residual": sol.residual, "price_residual": sol.price_residual,
                     "absorption_residual": sol.absorption_residual,
                     "description": sc.description, "closure": sc.closure.describe()})
    attrs = {
        "title": study.file.title,
        "scenario_file": str(study.file.path),
        "scenario_text": study.file.text,
        **{f"solver_{k}": (str(v) if isinstance(v, str) else v)
           for k, v in settings.as_dict().items()},
    }
    result = build_results(study.dataset, study.benchmark, names, outs, info,
                           list(study.policies), attrs)
    return result, failed


def run_file(path: str | Path) -> xr.Dataset:
    """Solve every scenario of a scenario file and return the results Dataset."""
    result, _ = solve_study(prepare(path))
    return result

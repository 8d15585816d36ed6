"""Solve every scenario of a scenario file and return the labelled results (the Python API
behind ``python -m model.run``)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from calibration.calibrate import Benchmark, calibrate
from calibration.io import Dataset, load_dataset
from model.decomposition import decompose
from model.outcomes import outcomes
from model.params import SolverSettings
from model.results import build_results, display_path
from model.scenario import (ScenarioError, ScenarioFile, load_scenario_file, policies,
                            resolve_target)
from model.solver import ConvergenceError, solve
from model.targets import TargetError, TargetSpec, solve_target


@dataclass(frozen=True)
class Study:
    """A scenario file with its dataset, benchmark and policies, checked and ready to solve."""

    file: ScenarioFile
    dataset: Dataset
    benchmark: Benchmark
    policies: tuple
    targets: tuple = ()  # a TargetSpec or None per scenario
    compare: tuple = ()  # prepared studies of the files the report compares this one with
    label: str = ""  # the name of this study in reports (the file stem unless compared)


def prepare(path: str | Path, compare: bool = True, elasticities: str | None = None,
            label: str | None = None) -> Study:
    """Read a scenario file and its dataset and check every name, including those of the
    ``[report]`` table and the files it compares with; raises
    :class:`~model.scenario.ScenarioError` or :class:`~calibration.io.DatasetError`."""
    sf = load_scenario_file(path, elasticities)
    ds = load_dataset(sf.data, elasticities=sf.elasticities)
    bm = calibrate(ds)
    targets = []
    for sc in sf.scenarios:
        if sc.target is None:
            targets.append(None)
            continue
        t = sc.target
        region, partner, mask = resolve_target(sf.path, t, sc.closure, bm)
        targets.append(TargetSpec(region, partner, t.value, t.instrument, mask, t.bounds,
                                  label=f"scenario {sc.name}"))
    for key in ("regions", "sectors"):
        valid = bm.regions if key == "regions" else bm.sectors
        for name in getattr(sf.report, key) or ():
            if name not in valid:
                raise ScenarioError(f"{sf.path}: report.{key}: unknown name '{name}'; the "
                                    f"choices are {', '.join(valid)}")
    others = tuple(prepare(c.file, compare=False, elasticities=c.elasticities, label=c.label)
                   for c in sf.report.compare) if compare else ()
    study = Study(sf, ds, bm, tuple(policies(sf, bm)), tuple(targets), others,
                  label or sf.path.stem)
    if compare and sf.report.notes is not None:  # a compared file's notes are not rendered
        check_notes(study)
    return study


def check_notes(study: Study) -> None:
    """Every placeholder of the notes must name a scenario variable, a scenario and one label
    per dimension of the variable that exist, so that rendering cannot fail after solving."""
    from model.decomposition import PARTS
    from model.report import NotesError, PLACEHOLDER, parse_placeholder
    from model.results import SCENARIO_INFO, VARIABLES

    dims = {name: spec[0] for name, spec in VARIABLES.items()}
    dims.update({name: () for name in SCENARIO_INFO})
    dims.update({name: ("region",) for name in PARTS + ("welfare_path_total",)})
    dims["instrument_value"] = ()
    files = {study.label: study, **{o.label: o for o in study.compare}}
    text = study.file.report.notes.read_text(encoding="utf-8")
    for match in PLACEHOLDER.finditer(text):
        where = f"{study.file.report.notes}: {{{{{match.group(1)}}}}}"
        try:
            variable, scenario, label, labels, fmt = parse_placeholder(match.group(1))
            format(1.0, fmt)
        except (NotesError, ValueError) as exc:
            raise ScenarioError(f"{where}: {exc}") from None
        other = files.get(label or study.label)
        if other is None:
            raise ScenarioError(f"{where}: no compared file '{label}'; the files are "
                                f"{', '.join(files)}")
        if variable not in dims:
            raise ScenarioError(f"{where}: unknown variable '{variable}'; a placeholder names "
                                f"a per-scenario result such as welfare or output")
        names = [s.name for s in other.file.scenarios]
        if scenario not in names:
            raise ScenarioError(f"{where}: unknown scenario '{scenario}'; the scenarios are "
                                f"{', '.join(names)}")
        need = dims[variable]
        if len(labels) != len(need):
            raise ScenarioError(f"{where}: '{variable}' needs {len(need)} label(s) after the "
                                f"scenario ({', '.join(need) or 'none'}), not {len(labels)}")
        for dim, name in zip(need, labels):
            valid = other.benchmark.sectors if dim == "sector" else other.benchmark.regions
            if name not in valid:
                raise ScenarioError(f"{where}: unknown {dim} '{name}'; the choices are "
                                    f"{', '.join(valid)}")


def describe_instrument(study: Study, spec: TargetSpec) -> str:
    """A short label, e.g. ``export_tax on JPN -> USA (motor_vehicles_and_parts)``."""
    bm = study.benchmark
    cells = np.argwhere(spec.mask)
    importers = sorted({bm.regions[n] for n in cells[:, 0]})
    exporters = sorted({bm.regions[i] for i in cells[:, 1]})
    sectors = sorted({int(j) for j in cells[:, 2]})
    names = ("all sectors" if len(sectors) == len(bm.sectors)
             else ", ".join(bm.sectors[j] for j in sectors))
    return (f"{spec.instrument} on {'/'.join(exporters)} -> {'/'.join(importers)} ({names}); "
            f"target: bilateral balance of {bm.regions[spec.region]} with "
            f"{bm.regions[spec.partner]} = {spec.value:g}")


def solve_study(study: Study, settings: SolverSettings | None = None) -> tuple[xr.Dataset, list[str]]:
    """Solve every scenario; returns the results and the names of scenarios that failed.

    A scenario that does not converge keeps NaN values, ``converged = False`` and its residual in
    the results; the others are unaffected.
    """
    settings = settings or study.file.solver
    names, outs, info, failed, final_policies, warnings = [], [], [], [], [], []
    targets = study.targets or (None,) * len(study.policies)
    for sc, pol, spec in zip(study.file.scenarios, study.policies, targets):
        value, label = np.nan, ""
        try:
            if spec is None:
                sol = solve(study.benchmark, pol, settings)
            else:
                label = describe_instrument(study, spec)
                sol, pol, value = solve_target(study.benchmark, pol, spec, settings)
            out = outcomes(study.benchmark, pol, sol)
        except ConvergenceError as exc:
            sol, out = exc.solution, None
            failed.append(f"{sc.name}: {exc}")
        except TargetError as exc:
            sol, out = exc.solution or solve(study.benchmark, pol, settings), None
            failed.append(f"{sc.name}: {exc}")
        if out is not None:
            try:
                out.update(decompose(study.benchmark, pol, settings))
            except ConvergenceError as exc:  # the scenario solved; only the path failed
                warnings.append(f"{sc.name}: the welfare decomposition is left empty (NaN): a "
                                f"step on the path of the shock did not converge: {exc}")
        names.append(sc.name)
        outs.append(out)
        final_policies.append(pol)
        info.append({"converged": sol.converged, "iterations": sol.iterations,
                     "residual": sol.residual, "price_residual": sol.price_residual,
                     "absorption_residual": sol.absorption_residual,
                     "description": sc.description, "closure": sc.closure.describe(),
                     "instrument": label, "instrument_value": value})
    attrs = {
        "title": study.file.title,
        "scenario_file": display_path(study.file.path),
        "scenario_text": study.file.text,
        **{f"solver_{k}": (str(v) if isinstance(v, str) else v)
           for k, v in settings.as_dict().items()},
    }
    result = build_results(study.dataset, study.benchmark, names, outs, info,
                           final_policies, attrs)
    for message in warnings:
        print(f"warning: {message}", file=sys.stderr)
    return result, failed


def run_file(path: str | Path) -> xr.Dataset:
    """Solve every scenario of a scenario file and return the results Dataset."""
    result, _ = solve_study(prepare(path))
    return result

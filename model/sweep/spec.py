"""The ``[sweep]`` table of a scenario file, checked against the dataset (docs/formats.md,
"Sensitivity sweeps").

Parameters are Armington elasticities (multipliers of the dataset's values, or values) drawn
from a distribution or placed on a grid, and grids of tariff rates; each grid is a named
dimension of the results.  Every problem raises :class:`~model.scenario.ScenarioError` naming
the file and the key (for example ``sweep.parameters[0].low``).
"""

from __future__ import annotations

import math
import dataclasses
import re

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.calibrate import Benchmark
from model.core import catalogue
from model.scenario import Errors
from model.scenario.selection import cells, parse_selection, sector_indices
from model.sweep.designs import DESIGNS, Design

DISTRIBUTIONS = {  # name -> keys of its parameters
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "log_sd"),
}
SWEEP_KEYS = ("method", "draws", "seed", "chunk_size", "scheduler", "parameters", "scenarios")
SIGMA_KEYS = ("name", "label", "sectors", "except", "independent", "distribution", "relative",
              "values", "low", "high", "mode", "mean", "sd", "median", "log_sd")
TARIFF_KEYS = ("name", "label", "importer", "exporter", "sectors", "except", "values")
DEFAULT_CHUNK = 2500
RESERVED = ("scenario", "draw", "region", "sector", "parameter", "statistic",
            "sigma_benchmark", "sample", "weight", "status", "converged", "iterations",
            "residual", "price_residual", "absorption_residual", "instrument_value",
            "instrument_tariff", "failed_draws")
#: what a grid or parameter label may be made of (it names a netCDF dimension)
LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_LOG_SD = 2.0
#: the most solves of one scenario a sweep may ask for (draws times grid points): ten times
#: what a workstation solves in a day at 60x65 and more than any band needs
MAX_CASES = 10 ** 8
#: the most draws of one chunk (a chunk's outcomes are held in memory while it is solved)
MAX_CHUNK = 10 ** 6


@dataclass(frozen=True)
class Sampled:
    """A sampled elasticity parameter: one dimension of the design per entry of ``labels``;
    dimension ``k`` multiplies the elasticities of the sectors ``sectors[k]``."""

    key: str
    labels: tuple[str, ...]
    sectors: tuple[tuple[int, ...], ...]
    distribution: str
    args: tuple[float, ...]
    relative: bool


@dataclass(frozen=True)
class Grid:
    """A grid parameter: a named dimension of the results with coordinate ``values``.
    ``kind`` is ``"sigma"`` (multipliers or values of the elasticities of ``sectors``) or
    ``"tariff"`` (the rate of the ``cells`` (importer, exporter, sector) indices)."""

    key: str
    label: str
    kind: str
    values: tuple[float, ...]
    sectors: tuple[int, ...] = ()
    relative: bool = True
    cells: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class SweepSpec:
    """A checked ``[sweep]`` table.  ``draws`` is the number of Monte Carlo draws or Sobol base
    points; see :attr:`n_draws` for the length of the ``draw`` dimension."""

    design: Design
    draws: int
    seed: int
    chunk_size: int
    scheduler: str | None
    sampled: tuple[Sampled, ...]
    grid: tuple[Grid, ...]
    sigma0: tuple[float, ...] = field(repr=False, default=())
    scenarios: tuple[str, ...] | None = None  # the scenarios swept (None: all)

    @property
    def method(self) -> str:
        return self.design.name

    @property
    def dims(self) -> int:
        """Number of sampled dimensions D."""
        return sum(len(s.labels) for s in self.sampled)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(label for s in self.sampled for label in s.labels)

    @property
    def n_draws(self) -> int:
        """Solves per grid point: ``draws`` (Monte Carlo), ``draws (D + 2)`` (Sobol, the
        Saltelli design), ``2 D`` (Stroud-3 quadrature), 1 (grid)."""
        return self.design.n_draws(self.draws, self.dims)

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(g.values) for g in self.grid)

    @property
    def n_points(self) -> int:
        return math.prod(int(n) for n in self.grid_shape)


def parse_sweep(raw: dict, path, bm: Benchmark, names: tuple[str, ...] = ()) -> SweepSpec:
    """Check a ``[sweep]`` table against the benchmark's sectors, regions and elasticities and
    the file's scenario ``names``."""
    err = Errors(Path(path))
    err.table(raw, "sweep")
    err.keys(raw, SWEEP_KEYS, "sweep")
    method = raw.get("method", "monte_carlo")
    if method not in DESIGNS:
        err.fail("sweep.method",
                 f"'{method}' is not a method; use one of {', '.join(DESIGNS)}")
    design = DESIGNS[method]
    if design.takes_draws:
        draws = err.integer(raw.get("draws", 1000), "sweep.draws", 1, "positive integer")
    elif "draws" in raw:
        err.fail("sweep.draws", f"not used by method '{method}' (its points are fixed)")
    else:
        draws = 1
    seed = err.integer(raw.get("seed", 0), "sweep.seed", 0, "non-negative integer")
    if seed >= 2 ** 63:
        err.fail("sweep.seed", f"{seed} must be below 2**63")
    chunk = err.integer(raw.get("chunk_size", DEFAULT_CHUNK), "sweep.chunk_size", 1,
                        "positive integer")
    scheduler = raw.get("scheduler")
    if scheduler is not None:
        scheduler = err.string(scheduler, "sweep.scheduler")
    sampled, grid = _parameters(err, raw.get("parameters"), bm)
    if not design.sampled and sampled:
        err.fail(sampled[0].key, "method \"grid\" takes only parameters with `values`")
    if design.sampled and not sampled:
        err.fail("sweep.method", f"method \"{method}\" needs a parameter with a distribution; "
                 "use method = \"grid\" for grids alone")
    chosen = None
    if "scenarios" in raw:
        chosen = err.names(raw["scenarios"], "sweep.scenarios", allow_all=False)
        for name in chosen:
            if names and name not in names:
                err.fail("sweep.scenarios", f"unknown scenario '{name}'; the scenarios are "
                         f"{', '.join(names)}")
    if chunk > MAX_CHUNK:
        err.fail("sweep.chunk_size", f"{chunk:,} is above the limit of {MAX_CHUNK:,} draws")
    spec = SweepSpec(design, int(draws), int(seed), int(chunk), scheduler, tuple(sampled),
                     tuple(grid), tuple(float(s) for s in bm.sigma), chosen)
    cases = spec.n_draws * spec.n_points
    if cases > MAX_CASES:
        err.fail("sweep.draws" if design.takes_draws else "sweep.parameters",
                 f"{cases:,} solves per scenario ({spec.n_draws:,} draws x {spec.n_points:,} "
                 f"grid points) are above the limit of {MAX_CASES:,}")
    return spec


def swept(study, spec: SweepSpec):
    """``study`` with the scenarios the sweep solves (``[sweep] scenarios``; all by default)."""
    if spec.scenarios is None:
        return study
    return dataclasses.replace(study, scenarios=tuple(
        p for p in study.scenarios if p.name in spec.scenarios))


def _parameters(err: Errors, params, bm: Benchmark) -> tuple[list[Sampled], list[Grid]]:
    if not isinstance(params, list) or not params or not all(isinstance(p, dict) for p in params):
        err.fail("sweep.parameters", "missing: add at least one [[sweep.parameters]] table")
    sampled, grid, used = [], [], {}
    for k, entry in enumerate(params):
        where = f"sweep.parameters[{k}]"
        name = entry.get("name")
        if name == "sigma":
            item = _sigma(err, entry, where, bm, used)
        elif name == "tariff":
            item = _tariff_grid(err, entry, where, bm)
        else:
            err.fail(f"{where}.name", f"must be \"sigma\" or \"tariff\", not {name!r}")
        (grid if isinstance(item, Grid) else sampled).append(item)
    labels = [lab for s in sampled for lab in s.labels] + [g.label for g in grid]
    for lab in labels:
        if labels.count(lab) > 1:
            err.fail("sweep.parameters", f"two parameters are labelled '{lab}'; give each a "
                     "distinct label")
        outcomes = {v.name for v in catalogue.per_draw()}
        if lab in RESERVED or lab in outcomes or lab.endswith(("_summary", "_S1", "_ST")):
            err.fail("sweep.parameters", f"label '{lab}' is a dimension name; choose another")
        if not LABEL.fullmatch(lab):
            err.fail("sweep.parameters", f"label {lab!r} must start with a letter and hold "
                     "only letters, digits and '_' (it names a dimension of sweep.nc)")
    return sampled, grid


def _check_sigma(err, where, bm, sectors, low, relative, what):
    """Bounded values must keep every elasticity above 1 (the model's domain)."""
    for j in sectors:
        value = low * bm.sigma[j] if relative else low
        if not value > 1.0:
            err.fail(where, f"{what} {low:g} gives an elasticity of {value:g} for sector "
                     f"'{bm.sectors[j]}' (dataset value {bm.sigma[j]:g}); elasticities must be "
                     "above 1")


def _sigma(err: Errors, entry, where, bm, used) -> Sampled | Grid:
    err.keys(entry, SIGMA_KEYS, where)
    sectors = sector_indices(err, where, parse_selection(err, entry, where, regions=False,
                                                         default_sectors="all"), bm)
    for j in sectors:
        if j in used:
            err.fail(f"{where}.sectors", f"sector '{bm.sectors[j]}' is already varied by "
                     f"{used[j]}")
        used[j] = where
    relative = err.boolean(entry.get("relative", True), f"{where}.relative")
    independent = err.boolean(entry.get("independent", False), f"{where}.independent")
    if ("values" in entry) == ("distribution" in entry):
        err.fail(where, "needs exactly one of `distribution` (sampled) or `values` (a grid)")
    if "values" in entry:
        values = _values(err, entry["values"], f"{where}.values")
        _check_sigma(err, f"{where}.values", bm, sectors, min(values), relative, "value")
        if independent:
            err.fail(f"{where}.independent", "a grid moves its sectors together; use one "
                     "parameter per sector for separate grids")
        return Grid(where, err.string(entry.get("label", "sigma"), f"{where}.label"), "sigma",
                    values, tuple(sectors), relative)
    dist, args = _distribution(err, entry, where)
    if dist in ("uniform", "triangular"):
        _check_sigma(err, f"{where}.low", bm, sectors, args[0], relative, "low")
    if "label" in entry:
        label = err.string(entry["label"], f"{where}.label")
    else:
        label = "sigma" if len(sectors) == len(bm.sectors) else "sigma_" + "_".join(
            bm.sectors[j] for j in sectors)
    if independent:
        labels = tuple(f"{label}_{bm.sectors[j]}" if "label" in entry or len(sectors) ==
                       len(bm.sectors) else f"sigma_{bm.sectors[j]}" for j in sectors)
        groups = tuple((j,) for j in sectors)
    else:
        labels, groups = (label,), (tuple(sectors),)
    return Sampled(where, labels, groups, dist, tuple(args), relative)


def _distribution(err: Errors, entry, where) -> tuple[str, list[float]]:
    dist = entry["distribution"]
    if dist not in DISTRIBUTIONS:
        err.fail(f"{where}.distribution", f"'{dist}' is not a distribution; use one of "
                 f"{', '.join(DISTRIBUTIONS)}")
    allowed = DISTRIBUTIONS[dist]
    for key in ("low", "high", "mode", "mean", "sd", "median", "log_sd"):
        if key in entry and key not in allowed:
            err.fail(f"{where}.{key}", f"not a parameter of the {dist} distribution (it takes "
                     f"{', '.join(allowed)})")
    args = []
    for key in allowed:
        if key not in entry:
            err.fail(f"{where}.{key}", f"missing: the {dist} distribution needs "
                     f"{', '.join(allowed)}")
        args.append(err.number(entry[key], f"{where}.{key}"))
    if dist == "uniform" and not args[0] < args[1]:
        err.fail(f"{where}.high", f"must be above low ({args[1]:g} <= {args[0]:g})")
    if dist == "triangular" and not (args[0] <= args[1] <= args[2] and args[0] < args[2]):
        err.fail(f"{where}.mode", "needs low <= mode <= high and low < high")
    if dist == "normal" and not args[1] > 0:
        err.fail(f"{where}.sd", f"must be positive, not {args[1]:g}")
    if dist == "lognormal" and not (args[0] > 0 and args[1] > 0):
        err.fail(f"{where}.median" if not args[0] > 0 else f"{where}.log_sd",
                 "must be positive")
    if dist == "lognormal" and args[1] > MAX_LOG_SD:
        err.fail(f"{where}.log_sd", f"{args[1]:g} is too wide: it must be at most "
                 f"{MAX_LOG_SD:g} (at {MAX_LOG_SD:g} a tenth of the draws already lie beyond "
                 f"{np.exp(1.28 * MAX_LOG_SD):.0f} times the median)")
    return dist, args


def _values(err, value, where) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        err.fail(where, f"must be a non-empty list of numbers, not {value!r}")
    out = tuple(err.number(v, f"{where}[{k}]") for k, v in enumerate(value))
    if len(set(out)) != len(out):
        err.fail(where, "has repeated values")
    return out


def _tariff_grid(err, entry, where, bm) -> Grid:
    err.keys(entry, TARIFF_KEYS, where)
    if "label" not in entry:
        err.fail(f"{where}.label", "missing: the name of the results dimension, such as "
                 "\"auto_tariff\"")
    label = err.string(entry["label"], f"{where}.label")
    if "values" not in entry:
        err.fail(f"{where}.values", "missing: the list of tariff rates (0.25 = 25 %)")
    values = _values(err, entry["values"], f"{where}.values")
    for k, v in enumerate(values):
        if not v > -1.0:
            err.fail(f"{where}.values[{k}]", f"{v:g} is not above -1 (-100 %)")
    sel = parse_selection(err, entry, where)
    return Grid(where, label, "tariff", values, cells=tuple(cells(err, where, sel, bm)))


def describe(spec: SweepSpec) -> list[str]:
    """One line per parameter, for reports."""
    sectors = len(spec.sigma0)
    lines = []
    for s in spec.sampled:
        args = ", ".join(f"{k} {v:g}" for k, v in zip(DISTRIBUTIONS[s.distribution], s.args))
        what = "multiplier of the dataset's elasticities" if s.relative else "elasticity"
        n = sum(len(g) for g in s.sectors)
        scope = ("all sectors" if n == sectors else f"{n} sectors") + (
            ", each drawn separately" if len(s.labels) > 1 else
            (", together" if n > 1 else ""))
        lines.append(f"{', '.join(s.labels)}: {s.distribution} ({args}) {what}, {scope}")
    for g in spec.grid:
        what = ("tariff rate" if g.kind == "tariff" else
                "multiplier of the dataset's elasticities" if g.relative else "elasticity")
        lines.append(f"{g.label}: grid of {len(g.values)} values of the {what} "
                     f"({', '.join(f'{v:g}' for v in g.values)})")
    return lines

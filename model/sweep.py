r"""Sensitivity sweeps: the scenarios of a file solved for many values of uncertain parameters.

A ``[sweep]`` table in a scenario file (README, "Sensitivity sweeps") names the parameters and
how to vary them: Armington elasticities as multipliers of the dataset's values drawn from a
distribution (``monte_carlo``, ``sobol``) or placed at Stroud-3 quadrature points
(``quadrature``, as GEMPACK's systematic sensitivity analysis), and grids of values (a tariff
rate, elasticity multipliers), each grid a named dimension of the results.

The flow is the package's: parse and check the table (:func:`parse_sweep`) → the design, one
draw at a time and independent of chunking (:func:`draw_values`) → per-draw solves in compiled
code, chunk by chunk (:func:`solve_chunk`, the kernel in :mod:`model.sweep_kernels`), each chunk
written to its own netCDF file as soon as it is solved → one ``sweep.nc`` assembled chunk by
chunk, with summary statistics and, for ``sobol``, Sobol indices (:func:`run_sweep`).
Memory holds one chunk at a time; a sweep that was interrupted continues from its saved chunks
(``resume=True``); chunks can run on a Dask cluster (``scheduler=``).  The same seed gives
bit-identical results for any chunk size and any number of workers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr
from scipy import stats as sps
from scipy.stats import qmc

from calibration.calibrate import Benchmark
from model import sweep_kernels as sk
from model.outcomes import off_diagonal
from model.params import SolverSettings
from model.results import atomic_path, package_version, write_netcdf
from model.scenario import ScenarioError, _cells, _Errors, _selection
from model.solver import ConvergenceError, initial_state, kernel_params, solve

METHODS = ("monte_carlo", "sobol", "quadrature", "grid")
DISTRIBUTIONS = {  # name -> keys of its parameters
    "uniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "normal": ("mean", "sd"),
    "lognormal": ("median", "log_sd"),
}
SWEEP_KEYS = ("method", "draws", "seed", "chunk_size", "scheduler", "parameters")
SIGMA_KEYS = ("name", "label", "sectors", "except", "independent", "distribution", "relative",
              "values", "low", "high", "mode", "mean", "sd", "median", "log_sd")
TARIFF_KEYS = ("name", "label", "importer", "exporter", "sectors", "except", "values")
STATISTICS = ("mean", "sd", "p5", "p50", "p95")
MC_BLOCK = 4096  # Monte Carlo numbers are generated in blocks keyed by (seed, block)
DEFAULT_CHUNK = 2500
STAT_BUDGET = 1 << 20  # values read at once when computing statistics (8 MB)

#: per-draw outcome name -> (extra dimensions, units, long name)
DRAW_OUTCOMES = {
    "welfare": (("region",), "percent change", "equivalent variation, % of benchmark income"),
    "real_wage": (("region",), "percent change", "real wage"),
    "real_gdp": (("region",), "percent change", "GDP at benchmark prices (GTAP qgdp)"),
    "terms_of_trade": (("region",), "percent change", "export over import price, Tornqvist"),
    "trade_balance": (("region",), "{unit}", "exports minus imports, pre-tariff prices"),
    "tariff_revenue": (("region",), "{unit}", "tariff revenue"),
    "wage": (("region",), "ratio", "wage change w_hat (numeraire: world value added)"),
    "price_index": (("region",), "ratio", "Cobb-Douglas consumer price index change"),
    "employment_total": (("region",), "percent change",
                         "employment (0 under full employment)"),
    "export_tax_rents": (("region",), "{unit}", "export-tax rents received"),
    "output": (("region", "sector"), "percent change", "real gross output"),
}
assert tuple(DRAW_OUTCOMES)[:len(sk.REGION_OUTCOMES)] == sk.REGION_OUTCOMES


# ---------------------------------------------------------------------------------- the table


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

    method: str
    draws: int
    seed: int
    chunk_size: int
    scheduler: str | None
    sampled: tuple[Sampled, ...]
    grid: tuple[Grid, ...]
    sigma0: tuple[float, ...] = field(repr=False, default=())

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
        return {"monte_carlo": self.draws, "sobol": self.draws * (self.dims + 2),
                "quadrature": 2 * self.dims, "grid": 1}[self.method]

    @property
    def grid_shape(self) -> tuple[int, ...]:
        return tuple(len(g.values) for g in self.grid)

    @property
    def n_points(self) -> int:
        return int(np.prod(self.grid_shape, dtype=np.int64))


def parse_sweep(raw: dict, path, bm: Benchmark) -> SweepSpec:
    """Check a ``[sweep]`` table against the benchmark's sectors, regions and elasticities.

    Raises :class:`~model.scenario.ScenarioError` naming the file and key (for example
    ``sweep.parameters[0].low``).
    """
    err = _Errors(Path(path))
    err.table(raw, "sweep")
    err.keys(raw, SWEEP_KEYS, "sweep")
    method = raw.get("method", "monte_carlo")
    if method not in METHODS:
        err.fail("sweep.method", f"'{method}' is not a method; use one of {', '.join(METHODS)}")
    draws = raw.get("draws", 1000 if method in ("monte_carlo", "sobol") else None)
    if method in ("quadrature", "grid"):
        if "draws" in raw:
            err.fail("sweep.draws", f"not used by method '{method}' (its points are fixed)")
        draws = 1
    elif isinstance(draws, bool) or not isinstance(draws, int) or draws < 1:
        err.fail("sweep.draws", f"must be a positive integer, not {draws!r}")
    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        err.fail("sweep.seed", f"must be a non-negative integer, not {seed!r}")
    chunk = raw.get("chunk_size", DEFAULT_CHUNK)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        err.fail("sweep.chunk_size", f"must be a positive integer, not {chunk!r}")
    scheduler = raw.get("scheduler")
    if scheduler is not None:
        scheduler = err.string(scheduler, "sweep.scheduler")
    params = raw.get("parameters")
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
        if lab in ("scenario", "draw", "region", "sector", "parameter", "statistic"):
            err.fail("sweep.parameters", f"label '{lab}' is a dimension name; choose another")
    if method == "grid" and sampled:
        err.fail(sampled[0].key, "method \"grid\" takes only parameters with `values`")
    if method != "grid" and not sampled:
        err.fail("sweep.method", f"method \"{method}\" needs a parameter with a distribution; "
                 "use method = \"grid\" for grids alone")
    return SweepSpec(method, int(draws), int(seed), int(chunk), scheduler, tuple(sampled),
                     tuple(grid), tuple(float(s) for s in bm.sigma))


def _sectors(err, entry, where, bm) -> list[int]:
    chosen = err.names(entry.get("sectors", "all"), f"{where}.sectors")
    excluded = entry.get("except", [])
    if not isinstance(excluded, list) or not all(isinstance(v, str) for v in excluded):
        err.fail(f"{where}.except", f"must be a list of sector names, not {excluded!r}")
    names = list(bm.sectors) if chosen is None else list(chosen)
    for name in names + excluded:
        if name not in bm.sectors:
            err.fail(f"{where}.sectors", f"unknown sector '{name}'; the sectors are "
                     f"{', '.join(bm.sectors)}")
    out = [bm.sectors.index(s) for s in names if s not in excluded]
    if not out:
        err.fail(f"{where}.sectors", "selects no sector once 'except' is applied")
    return out


def _check_sigma(err, where, bm, sectors, low, relative, what):
    """Bounded values must keep every elasticity above 1 (the model's domain)."""
    for j in sectors:
        value = low * bm.sigma[j] if relative else low
        if not value > 1.0:
            err.fail(where, f"{what} {low:g} gives an elasticity of {value:g} for sector "
                     f"'{bm.sectors[j]}' (dataset value {bm.sigma[j]:g}); elasticities must be "
                     "above 1")


def _sigma(err, entry, where, bm, used) -> Sampled | Grid:
    err.keys(entry, SIGMA_KEYS, where)
    sectors = _sectors(err, entry, where, bm)
    for j in sectors:
        if j in used:
            err.fail(f"{where}.sectors", f"sector '{bm.sectors[j]}' is already varied by "
                     f"{used[j]}")
        used[j] = where
    relative = entry.get("relative", True)
    if not isinstance(relative, bool):
        err.fail(f"{where}.relative", f"must be true or false, not {relative!r}")
    independent = entry.get("independent", False)
    if not isinstance(independent, bool):
        err.fail(f"{where}.independent", f"must be true or false, not {independent!r}")
    if ("values" in entry) == ("distribution" in entry):
        err.fail(where, "needs exactly one of `distribution` (sampled) or `values` (a grid)")
    if "values" in entry:
        values = _values(err, entry["values"], f"{where}.values")
        _check_sigma(err, f"{where}.values", bm, sectors, min(values), relative, "value")
        if independent:
            err.fail(f"{where}.independent", "a grid moves its sectors together; use one "
                     "parameter per sector for separate grids")
        return Grid(where, entry.get("label", "sigma"), "sigma", values, tuple(sectors),
                    relative)
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
    cells = _selection(err, entry, where)
    return Grid(where, label, "tariff", values, cells=tuple(_cells(err, where, cells, bm)))


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


def check_study(study, spec: SweepSpec) -> None:
    """Checks that need the scenarios: a scenario whose instrument meets a target cannot be
    combined with a tariff grid (the sweep holds the instrument at its central value)."""
    targets = getattr(study, "targets", ()) or ()
    for sc, target in zip(study.file.scenarios, targets):
        if target is not None and any(g.kind == "tariff" for g in spec.grid):
            raise ScenarioError(
                f"{study.file.path}: sweep.parameters: scenario '{sc.name}' finds an instrument "
                "to meet a target, which a sweep holds at its central value; a tariff grid "
                "would move it. Sweep that scenario without the tariff grid, in its own file")


# --------------------------------------------------------------------------------- the design


def stroud3(dims: int) -> np.ndarray:
    r"""Stroud's degree-3 rule for ``dims`` independent standardised variables (mean 0,
    variance 1): ``2 dims`` equally weighted points, exact for every polynomial of degree up to
    3 in any distribution symmetric about its mean (Stroud 1957; Arndt 1996; the rule of
    GEMPACK's systematic sensitivity analysis).

    For points :math:`k = 1..2n`: :math:`z_{k,2r-1} = \sqrt2\cos\frac{(2r-1)k\pi}{n}`,
    :math:`z_{k,2r} = \sqrt2\sin\frac{(2r-1)k\pi}{n}` for :math:`r = 1..\lfloor n/2\rfloor`, and
    :math:`z_{k,n} = (-1)^k` when :math:`n` is odd.
    """
    n = dims
    k = np.arange(1, 2 * n + 1)[:, None]
    z = np.empty((2 * n, n))
    for r in range(1, n // 2 + 1):
        angle = (2 * r - 1) * k[:, 0] * np.pi / n
        z[:, 2 * r - 2] = np.sqrt(2.0) * np.cos(angle)
        z[:, 2 * r - 1] = np.sqrt(2.0) * np.sin(angle)
    if n % 2:
        z[:, n - 1] = (-1.0) ** k[:, 0]
    return z


def _mc_uniform(seed: int, dims: int, start: int, stop: int) -> np.ndarray:
    """Uniform numbers of draws ``start..stop-1``; draw ``d`` is row ``d % MC_BLOCK`` of the
    block ``numpy.random.default_rng([seed, d // MC_BLOCK]).random((MC_BLOCK, dims))``, so it
    does not depend on how draws are split into chunks."""
    out = np.empty((stop - start, dims))
    for block in range(start // MC_BLOCK, (stop - 1) // MC_BLOCK + 1):
        u = np.random.default_rng([seed, block]).random((MC_BLOCK, dims))
        lo, hi = max(start, block * MC_BLOCK), min(stop, (block + 1) * MC_BLOCK)
        out[lo - start:hi - start] = u[lo - block * MC_BLOCK:hi - block * MC_BLOCK]
    return out


def _saltelli_uniform(seed: int, dims: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the Saltelli design (Saltelli et al. 2010) from a scrambled
    Sobol' sequence of dimension ``2 dims`` (``scipy.stats.qmc.Sobol``, seeded): base point
    ``r`` gives ``A = u[r, :D]`` and ``B = u[r, D:]``, and draws ``r (D+2) .. r (D+2) + D + 1``
    are ``A``, ``A`` with column ``k`` from ``B`` (``k = 0..D-1``), and ``B`` (SALib's order
    for first and total indices)."""
    D = dims
    r0, r1 = int(start) // (D + 2), (int(stop) - 1) // (D + 2) + 1
    engine = qmc.Sobol(d=2 * D, scramble=True, seed=seed)
    if r0:
        engine.fast_forward(r0)
    with warnings.catch_warnings():  # balance needs 2^m points from 0; chunks need not be
        warnings.simplefilter("ignore", UserWarning)
        base = engine.random(r1 - r0)
    rows = np.arange(start, stop)
    r, pos = rows // (D + 2) - r0, rows % (D + 2)
    out = base[r, :D].copy()
    last = pos == D + 1
    out[last] = base[r[last], D:]
    mid = (pos >= 1) & (pos <= D)
    out[mid, pos[mid] - 1] = base[r[mid], D + pos[mid] - 1]
    return out


def _from_uniform(s: Sampled, u: np.ndarray) -> np.ndarray:
    """Quantiles of ``s``'s distribution at ``u`` (one column per dimension)."""
    u = np.clip(u, 1e-12, 1.0 - 1e-12)  # a Sobol' point at 0 or 1 would give an infinite normal
    a = s.args
    if s.distribution == "uniform":
        return a[0] + (a[1] - a[0]) * u
    if s.distribution == "triangular":
        return sps.triang.ppf(u, (a[1] - a[0]) / (a[2] - a[0]), loc=a[0], scale=a[2] - a[0])
    if s.distribution == "normal":
        return a[0] + a[1] * sps.norm.ppf(u)
    return a[0] * np.exp(a[1] * sps.norm.ppf(u))


def _from_standard(s: Sampled, z: np.ndarray) -> np.ndarray:
    """Values at standardised points ``z`` (mean 0, variance 1): mean + sd z, and for the
    lognormal distribution ``median exp(log_sd z)`` (points placed on the log)."""
    a = s.args
    if s.distribution == "uniform":
        mean, sd = 0.5 * (a[0] + a[1]), (a[1] - a[0]) / math.sqrt(12.0)
    elif s.distribution == "triangular":
        mean = (a[0] + a[1] + a[2]) / 3.0
        sd = math.sqrt((a[0] ** 2 + a[1] ** 2 + a[2] ** 2 - a[0] * a[1] - a[0] * a[2]
                        - a[1] * a[2]) / 18.0)
    elif s.distribution == "normal":
        mean, sd = a
    else:
        return a[0] * np.exp(a[1] * z)
    return mean + sd * z


def draw_values(spec: SweepSpec, start: int, stop: int) -> np.ndarray:
    """The sampled parameters of draws ``start..stop-1``, shape ``(stop - start, D)`` (columns
    in the order of :attr:`SweepSpec.labels`).  Each row depends only on the seed and the draw
    index."""
    D = spec.dims
    if spec.method == "grid":
        return np.empty((stop - start, 0))
    if spec.method == "quadrature":
        z = stroud3(D)[start:stop]
    else:
        gen = _mc_uniform if spec.method == "monte_carlo" else _saltelli_uniform
        u = gen(spec.seed, D, start, stop)
    out = np.empty((stop - start, D))
    col = 0
    for s in spec.sampled:
        width = len(s.labels)
        part = slice(col, col + width)
        out[:, part] = (_from_standard(s, z[:, part]) if spec.method == "quadrature"
                        else _from_uniform(s, u[:, part]))
        col += width
    return out


def sigma_scales(spec: SweepSpec, values: np.ndarray) -> np.ndarray:
    """Per-sector multipliers of the elasticities, ``(draws, sectors)``, from sampled values."""
    sigma0 = np.asarray(spec.sigma0)
    scales = np.ones((values.shape[0], len(sigma0)))
    col = 0
    for s in spec.sampled:
        for group in s.sectors:
            for j in group:
                scales[:, j] = values[:, col] if s.relative else values[:, col] / sigma0[j]
            col += 1
    return scales


def quadrature_weights(spec: SweepSpec) -> np.ndarray | None:
    """Equal weights ``1 / (2 D)`` of the Stroud-3 points, or None for sampled methods."""
    return np.full(spec.n_draws, 1.0 / spec.n_draws) if spec.method == "quadrature" else None


# ----------------------------------------------------------------------- scenarios x grid points


class Static(NamedTuple):
    """What every chunk of one scenario shares: kernel parameters, per-grid-point trade costs
    and warm starts, the benchmark state and the outcome inputs."""

    p: object
    oi: sk.OutcomeInputs
    ltaus: np.ndarray
    inv1pts: np.ndarray
    x0s: np.ndarray
    x_init: np.ndarray
    grid_scales: np.ndarray
    solver: tuple


def _outcome_inputs(bm: Benchmark, policy) -> sk.OutcomeInputs:
    X0f = off_diagonal(bm.X0)
    gdp0 = bm.F0.sum(axis=1) + X0f.sum(axis=(1, 2)) - X0f.sum(axis=(0, 2))
    log_fob = np.log1p(policy.e1)
    log_wedge = np.log(policy.d_hat) + log_fob
    return sk.OutcomeInputs(np.ascontiguousarray(bm.alpha, dtype=float),
                            np.asarray(bm.I0, dtype=float), np.asarray(bm.Y0, dtype=float),
                            np.ascontiguousarray(bm.X0, dtype=float), gdp0, log_wedge, log_fob)


def grid_policy(spec: SweepSpec, bm: Benchmark, policy, point: tuple[int, ...]):
    """The scenario's policy at a grid point (tariff grids set their cells' rates; every other
    part of the policy is kept)."""
    t1 = np.array(policy.t1)
    for g, k in zip(spec.grid, point):
        if g.kind == "tariff":
            for n, i, j in g.cells:
                t1[n, i, j] = g.values[k]
    return dataclasses.replace(policy, t1=t1)


def grid_scale(spec: SweepSpec, point: tuple[int, ...]) -> np.ndarray:
    """Elasticity multipliers of a grid point (sigma grids)."""
    sigma0 = np.asarray(spec.sigma0)
    scale = np.ones(len(sigma0))
    for g, k in zip(spec.grid, point):
        if g.kind == "sigma":
            for j in g.sectors:
                scale[j] = g.values[k] if g.relative else g.values[k] / sigma0[j]
    return scale


def prepare_scenario(spec: SweepSpec, bm: Benchmark, policy, settings: SolverSettings,
                     target=None):
    """Solve the central case of every grid point (the warm starts) and collect the arrays the
    kernel needs.  Returns ``(Static, failed grid points)``; a central case that fails starts
    its draws from the benchmark state.

    ``target`` (a :class:`~model.targets.TargetSpec`) is a scenario whose instrument is found
    to meet a target: it is found once, at the dataset's elasticities, and held at that value
    in every draw (tariff grids, which would move it, are refused by :func:`run_sweep`).
    """
    from model.targets import TargetError, solve_target

    points = list(np.ndindex(*spec.grid_shape)) if spec.grid else [()]
    x_init = initial_state(bm)
    ltaus, inv1pts, x0s, scales, failed = [], [], [], [], []
    base, target_failed = policy, False
    if target is not None:
        try:
            base = solve_target(bm, policy, target, settings)[1]
        except (ConvergenceError, TargetError):
            target_failed = True
    for point in points:
        pol = grid_policy(spec, bm, base, point)
        scale = grid_scale(spec, point)
        kp = kernel_params(bm, pol, settings)
        ltaus.append(kp.ltau)
        inv1pts.append(kp.inv1pt)
        scales.append(scale)
        try:
            if target_failed:
                raise ConvergenceError("the target was not reached", None)
            x0s.append(solve(bm, pol, settings, sigma=bm.sigma * scale).x)
        except ConvergenceError:
            x0s.append(x_init)
            failed.append(point)
    p = _writable(kernel_params(bm, base, settings))
    solver = (settings.tol, settings.max_iter, settings.damping, settings.memory,
              settings.acceleration == "anderson")
    static = Static(p, _writable(_outcome_inputs(bm, base)), np.stack(ltaus), np.stack(inv1pts),
                    np.stack(x0s), x_init, np.stack(scales), solver)
    return static, failed


def _writable(params):
    """The named tuple with every array replaced by a writable contiguous copy, so the kernel
    sees the same types here and on a Dask worker (unpickled arrays are writable, and numba
    compiles read-only arrays separately)."""
    return params._replace(**{name: np.array(value, order="C") for name, value in
                              params._asdict().items() if isinstance(value, np.ndarray)})


_KERNEL_LOCK = threading.Lock()  # one parallel kernel at a time per process


def solve_chunk(static: Static, point: np.ndarray, scales: np.ndarray) -> dict:
    """Solve one chunk of draws in compiled code (both cores); the unit of work of a sweep, on
    this machine or a Dask worker.  ``point[d]`` is the grid point of draw ``d`` and
    ``scales[d]`` its elasticity multipliers (grid times sampled)."""
    nr, ns = static.p.beta.shape
    n = len(point)
    out = {
        "status": np.empty(n, dtype=np.int8),
        "iterations": np.empty(n, dtype=np.int64),
        "residuals": np.empty((n, 3)),
        "region": np.empty((n, len(sk.REGION_OUTCOMES), nr)),
        "sector": np.empty((n, nr, ns)),
    }
    with _KERNEL_LOCK:
        sk._solve_draws(static.p, static.oi, np.ascontiguousarray(point, dtype=np.int64),
                        static.ltaus, static.inv1pts, static.x0s, static.x_init,
                        np.ascontiguousarray(scales), *static.solver, out["status"],
                        out["iterations"], out["residuals"], out["region"], out["sector"])
    return out


def chunk_cases(spec: SweepSpec, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid point and elasticity multipliers of cases ``start..stop-1`` of a scenario (case
    ``c`` is draw ``c % n_draws`` at grid point ``c // n_draws``)."""
    cases = np.arange(start, stop)
    point, draw = cases // spec.n_draws, cases % spec.n_draws
    d0, d1 = int(draw.min()), int(draw.max()) + 1
    values = draw_values(spec, d0, d1)
    return point, sigma_scales(spec, values)[draw - d0]


# ------------------------------------------------------------------------------ chunk files


def _fingerprint(study, spec: SweepSpec, settings: SolverSettings) -> str:
    text = json.dumps({
        "scenario_text": study.file.text,
        "dataset": study.dataset.files_hash,
        "elasticities": study.dataset.elasticities_file,
        "spec": repr(spec),
        "settings": settings.as_dict(),
        "version": package_version(),
    }, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _chunk_path(folder: Path, scenario: int, chunk: int) -> Path:
    return folder / f"scenario{scenario:03d}_chunk{chunk:07d}.nc"


def _write_chunk(path: Path, out: dict, start: int) -> None:
    ds = xr.Dataset({
        "status": (("case",), out["status"]),
        "iterations": (("case",), out["iterations"]),
        "residuals": (("case", "kind"), out["residuals"]),
        "region_outcomes": (("case", "outcome", "region"), out["region"]),
        "output": (("case", "region", "sector"), out["sector"]),
    }, attrs={"start": start})
    write_netcdf(ds, path)


def _read_chunk(path: Path) -> dict:
    with xr.open_dataset(path, engine="netcdf4") as ds:
        return {"status": ds.status.values, "iterations": ds.iterations.values,
                "residuals": ds.residuals.values, "region": ds.region_outcomes.values,
                "sector": ds.output.values}


def _open_chunk_folder(folder: Path, fingerprint: str, resume: bool) -> None:
    manifest = folder / "manifest.json"
    if folder.exists():
        same = manifest.exists() and json.loads(manifest.read_text()).get(
            "fingerprint") == fingerprint
        if resume and not same:
            raise ScenarioError(
                f"{folder}: the saved chunks belong to a different sweep (the scenario file, "
                "dataset, solver settings or version changed); run without --resume to start "
                "again")
        if not resume:
            shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not manifest.exists():
        with atomic_path(manifest) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint}))


# ---------------------------------------------------------------------------- the whole sweep


@dataclass(frozen=True)
class SweepRun:
    """What a finished sweep reports: the file written, solves, failed draws per scenario and
    the central cases that did not converge."""

    path: Path
    solves: int
    failed: dict
    central_failed: list
    seconds: float


def run_sweep(study, spec: SweepSpec, path, *, resume: bool = False, scheduler=None,
              progress: bool = False, settings: SolverSettings | None = None) -> SweepRun:
    """Solve every scenario of ``study`` at every draw and grid point of ``spec`` and write
    ``path`` (``sweep.nc``).

    Chunks are saved in ``<path stem>_chunks/`` beside ``path`` as they are solved and removed
    once ``path`` is written.  ``resume`` keeps the chunks of an interrupted run of the same
    sweep and solves only the rest; ``scheduler`` (an address such as ``tcp://host:8786`` or a
    ``distributed.Client``) runs chunks on a Dask cluster; ``progress`` shows a progress bar
    after one second.  ``settings`` overrides the file's solver settings for the draws (the
    central cases use the file's).
    """
    from tqdm import tqdm

    begin = time.perf_counter()
    path = Path(path)
    check_study(study, spec)
    bm = study.benchmark
    central_settings = study.file.solver
    settings = settings or central_settings
    folder = path.parent / f"{path.stem}_chunks"
    _open_chunk_folder(folder, _fingerprint(study, spec, settings), resume)
    total = spec.n_points * spec.n_draws
    n_chunks = -(-total // spec.chunk_size)
    scheduler = scheduler if scheduler is not None else spec.scheduler
    client = None
    if isinstance(scheduler, str):
        from distributed import Client

        client = scheduler = Client(scheduler, timeout="20s")
    central_failed = []
    bar = tqdm(total=total * len(study.policies), unit="draw", delay=1.0, disable=not progress,
               desc="sweep")
    try:
        targets = getattr(study, "targets", ()) or (None,) * len(study.policies)
        for s, (sc, policy, target) in enumerate(zip(study.file.scenarios, study.policies,
                                                     targets)):
            static, failed = prepare_scenario(spec, bm, policy, central_settings, target)
            central_failed += [(sc.name, pt) for pt in failed]
            static = static._replace(solver=(settings.tol, settings.max_iter, settings.damping,
                                             settings.memory, settings.acceleration == "anderson"))
            todo = []
            for c in range(n_chunks):
                start, stop = c * spec.chunk_size, min((c + 1) * spec.chunk_size, total)
                if _chunk_path(folder, s, c).exists():
                    bar.update(stop - start)
                else:
                    todo.append((c, start, stop))
            run = _run_local if scheduler is None else _run_dask
            run(spec, static, todo, lambda c, start, out: _write_chunk(
                _chunk_path(folder, s, c), out, start), bar, scheduler)
    finally:
        bar.close()
        if client is not None:
            client.close()
    failed = _assemble(study, spec, path, folder, n_chunks, settings)
    shutil.rmtree(folder)
    return SweepRun(path, total * len(study.policies), failed, central_failed,
                    time.perf_counter() - begin)


def _run_local(spec, static, todo, save, bar, scheduler=None):
    for c, start, stop in todo:
        point, scales = chunk_cases(spec, start, stop)
        scales = scales * static.grid_scales[point]
        save(c, start, solve_chunk(static, point, scales))
        bar.update(stop - start)


def _run_dask(spec, static, todo, save, bar, client):
    """Chunks as tasks on a Dask cluster (``client``, a ``distributed.Client``); results come
    back to this process, which writes them (the workers need no shared file system).  The
    scenario's arrays are sent to every worker once; at most two chunks per worker thread are
    in flight, so memory stays bounded."""
    from distributed import as_completed

    remote = client.scatter([static], broadcast=True)[0]
    limit = max(2 * sum(client.nthreads().values()), 2)
    pending = iter(todo)
    futures = {}

    def submit():
        for c, start, stop in pending:
            point, scales = chunk_cases(spec, start, stop)
            scales = scales * static.grid_scales[point]
            fut = client.submit(solve_chunk, remote, point, scales, pure=False)
            futures[fut] = (c, start, stop)
            return fut
        return None

    queue = as_completed()
    for _ in range(limit):
        fut = submit()
        if fut is None:
            break
        queue.add(fut)
    for fut in queue:
        c, start, stop = futures.pop(fut)
        save(c, start, fut.result())
        bar.update(stop - start)
        fut.release()
        nxt = submit()
        if nxt is not None:
            queue.add(nxt)


# --------------------------------------------------------------------------- assembly, stats


def _lead(spec: SweepSpec) -> tuple[str, ...]:
    return ("scenario",) + tuple(g.label for g in spec.grid) + (
        ("draw",) if spec.method != "grid" else ())


def _skeleton(study, spec: SweepSpec, settings) -> xr.Dataset:
    """Coordinates, the design and the attributes of ``sweep.nc`` (everything small)."""
    bm = study.benchmark
    coords = {"scenario": [sc.name for sc in study.file.scenarios], "region": list(bm.regions),
              "sector": list(bm.sectors), "statistic": list(STATISTICS)}
    for g in spec.grid:
        coords[g.label] = np.asarray(g.values)
    data = {"sigma_benchmark": (("sector",), bm.sigma, {"units": "1", "long_name":
                                                         "Armington elasticity of the dataset"})}
    if spec.method != "grid":
        coords["draw"] = np.arange(spec.n_draws)
        coords["parameter"] = list(spec.labels)
        if spec.method == "quadrature":
            data["weight"] = (("draw",), quadrature_weights(spec),
                              {"units": "1", "long_name": "Stroud-3 quadrature weight"})
    attrs = {
        "title": study.file.title, "scenario_file": str(study.file.path),
        "scenario_text": study.file.text, "dataset_name": study.dataset.name,
        "dataset_unit": study.dataset.unit, "dataset_hash_sha256": study.dataset.files_hash,
        "elasticities_file": study.dataset.elasticities_file,
        "package": "armington-cge", "package_version": package_version(),
        "sweep_method": spec.method, "sweep_seed": spec.seed,
        "sweep_parameters": "; ".join(describe(spec)),
        "sweep_base_draws": spec.draws if spec.method in ("monte_carlo", "sobol") else 0,
        "sweep_draws_per_point": spec.n_draws,
        **{f"solver_{k}": v for k, v in settings.as_dict().items()},
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def _assemble(study, spec: SweepSpec, path: Path, folder: Path, n_chunks: int, settings):
    """Write ``sweep.nc`` from the chunk files, one chunk in memory at a time, then add the
    statistics.  Returns the number of failed draws per scenario."""
    import netCDF4

    unit = study.dataset.unit
    lead = _lead(spec)
    with atomic_path(path) as tmp:
        _skeleton(study, spec, settings).to_netcdf(tmp, engine="netcdf4")
        with netCDF4.Dataset(tmp, "a") as nc:
            sampled = lead[-1] == "draw"

            def var(name, dtype, extra, units, long_name, **kw):
                chunks = None
                if sampled:  # a netCDF chunk: consecutive draws of one point, at most 1 MB,
                    # a whole fraction of a sweep chunk so that it is written once
                    cells = [len(nc.dimensions[d]) for d in extra]
                    cap = max(1, (1 << 20) // (8 * int(np.prod(cells, dtype=np.int64))))
                    length = min(spec.n_draws, spec.chunk_size)
                    length = -(-length // -(-length // cap))
                    chunks = [1] * (len(lead) - 1) + [length] + cells
                v = nc.createVariable(name, dtype, lead + extra, chunksizes=chunks, **kw)
                v.set_var_chunk_cache(size=1 << 21)  # 2 MB, whatever the number of draws
                v.units, v.long_name = units, long_name
                return v

            vars_ = {name: var(name, "f8", dims, units.format(unit=unit), long_name,
                               fill_value=np.nan)
                     for name, (dims, units, long_name) in DRAW_OUTCOMES.items()}
            status = var("status", "i1", (), "1", "solve status of the draw")
            status.flag_values = np.array([0, 1, 2, 3], dtype=np.int8)
            status.flag_meanings = ("converged iteration_limit not_finite "
                                    "elasticity_at_or_below_one")
            conv = var("converged", "i1", (), "1", "draw converged (failed draws are excluded "
                                                   "from the statistics)")
            conv.setncattr("dtype", "bool")
            iters = var("iterations", "i8", (), "1", "fixed-point iterations, all attempts")
            res = {k: var(k, "f8", (), "1", lng) for k, lng in (
                ("residual", "max |labour excess demand| / world value added"),
                ("price_residual", "max |change of log price index|, last iteration"),
                ("absorption_residual", "max |change of absorption| / world value added"))}
            if spec.method != "grid":
                sample = nc.createVariable("sample", "f8", ("draw", "parameter"))
                sample.units = "1"
                sample.long_name = "drawn parameter values (multipliers of the dataset's " \
                                   "elasticities unless relative = false)"
                sig = nc.createVariable("sigma", "f8", ("draw", "sector"))
                sig.units = "1"
                sig.long_name = "Armington elasticities of the draw (before any sigma grid)"
                for d0 in range(0, spec.n_draws, spec.chunk_size):
                    d1 = min(d0 + spec.chunk_size, spec.n_draws)
                    values = draw_values(spec, d0, d1)
                    sample[d0:d1, :] = values
                    sig[d0:d1, :] = sigma_scales(spec, values) * np.asarray(spec.sigma0)
            for s in range(len(study.policies)):
                for c in range(n_chunks):
                    start = c * spec.chunk_size
                    out = _read_chunk(_chunk_path(folder, s, c))
                    stop = start + len(out["status"])
                    for a, b, index in _runs(spec, s, start, stop):
                        rows = slice(a - start, b - start)
                        for k, name in enumerate(sk.REGION_OUTCOMES):
                            vars_[name][index] = out["region"][rows, k, :]
                        vars_["output"][index] = out["sector"][rows]
                        status[index] = out["status"][rows]
                        conv[index] = (out["status"][rows] == sk.CONVERGED).astype(np.int8)
                        iters[index] = out["iterations"][rows]
                        for k, name in enumerate(res):
                            res[name][index] = out["residuals"][rows, k]
        failed = _add_statistics(study, spec, tmp)
    return failed


def _runs(spec: SweepSpec, s: int, start: int, stop: int):
    """Split cases ``start..stop-1`` of scenario ``s`` into runs within one grid point; yields
    ``(a, b, netCDF index)``."""
    a = start
    while a < stop:
        g = a // spec.n_draws
        b = min(stop, (g + 1) * spec.n_draws)
        gidx = np.unravel_index(g, spec.grid_shape) if spec.grid else ()
        index = (s,) + tuple(int(k) for k in gidx)
        if spec.method != "grid":
            d0 = a - g * spec.n_draws
            index += (slice(d0, d0 + b - a),)
        yield a, b, index
        a = b


def summary(values: np.ndarray, ok: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Mean, standard deviation and 5/50/95 percentiles over the first axis of ``values``,
    counting only rows where ``ok``.  With ``weights`` (quadrature) the mean and standard
    deviation are weighted (weights renormalised over the rows kept) and percentiles are NaN,
    as a handful of quadrature points do not define them.  Percentiles interpolate linearly
    (``numpy.percentile``); the standard deviation divides by ``n - 1``."""
    v = values[ok]
    out = np.full((len(STATISTICS),) + values.shape[1:], np.nan)
    if v.shape[0] == 0:
        return out
    if weights is not None:
        w = weights[ok] / weights[ok].sum()
        w = w.reshape((-1,) + (1,) * (v.ndim - 1))
        mean = (w * v).sum(axis=0)
        out[0] = mean
        out[1] = np.sqrt((w * (v - mean) ** 2).sum(axis=0))
        return out
    out[0] = v.mean(axis=0)
    if v.shape[0] > 1:
        out[1] = v.std(axis=0, ddof=1)
    out[2:] = np.percentile(v, [5.0, 50.0, 95.0], axis=0)
    return out


def sobol_indices(y: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    r"""First-order and total Sobol' indices from outputs of the Saltelli design.

    ``y[r, :]`` holds, for base point ``r``, the outputs at ``A``, ``A_B^{(1)} .. A_B^{(D)}``
    and ``B`` (D + 2 values; rows with a NaN are dropped).  Saltelli et al. (2010) first order
    :math:`S_i = \overline{f_B (f_{A_B^{(i)}} - f_A)} / V` and Jansen's total effect
    :math:`S_{Ti} = \tfrac12\overline{(f_A - f_{A_B^{(i)}})^2} / V`, with :math:`V` the variance
    of :math:`f_A, f_B` together, after standardising all outputs (as SALib does).  Returns two
    arrays of length ``dims`` (NaN when the output does not vary).
    """
    y = y[np.isfinite(y).all(axis=1)]
    nan = np.full(dims, np.nan)
    if y.shape[0] < 2:
        return nan, nan.copy()
    sd = y.std()
    if not sd > 0:
        return nan, nan.copy()
    y = (y - y.mean()) / sd
    A, B, AB = y[:, 0], y[:, -1], y[:, 1:-1]
    var = np.var(np.r_[A, B])
    if not var > np.finfo(float).eps:
        return nan, nan.copy()
    s1 = np.mean(B[:, None] * (AB - A[:, None]), axis=0) / var
    st = 0.5 * np.mean((A[:, None] - AB) ** 2, axis=0) / var
    return s1, st


def _columns(shape: tuple[int, ...], rows: int):
    """Index tuples over trailing cells so that each read holds at most STAT_BUDGET values."""
    if rows * int(np.prod(shape, dtype=np.int64)) <= STAT_BUDGET or not shape:
        yield ()
        return
    for head in range(shape[0]):
        for rest in _columns(shape[1:], rows):
            yield (head,) + rest


def _add_statistics(study, spec: SweepSpec, tmp: Path) -> dict:
    """Read each outcome back column by column and append the statistics (and Sobol' indices)
    to the file; returns failed-draw counts per scenario."""
    import netCDF4

    n_sc = len(study.policies)
    points = list(np.ndindex(*spec.grid_shape)) if spec.grid else [()]
    weights = quadrature_weights(spec)
    stats, sobol = {}, {}
    counts = np.zeros((n_sc,) + spec.grid_shape, dtype=np.int64)
    with netCDF4.Dataset(tmp, "r") as nc:
        nc.set_auto_mask(False)
        for var in nc.variables.values():  # small caches: memory independent of the draws
            var.set_var_chunk_cache(size=1 << 21)
        for s in range(n_sc):
            for pt in points:
                conv = nc["status"][(s,) + pt] == sk.CONVERGED
                counts[(s,) + pt] = int(np.sum(~np.atleast_1d(conv)))
        if spec.method != "grid":
            for name, (dims, _, _) in DRAW_OUTCOMES.items():
                trail = tuple(len(nc.dimensions[d]) for d in dims)
                st = np.full((n_sc,) + spec.grid_shape + (len(STATISTICS),) + trail, np.nan)
                s1 = np.full((n_sc,) + spec.grid_shape + (spec.dims,) + trail, np.nan)
                stt = s1.copy()
                for s in range(n_sc):
                    for pt in points:
                        ok = nc["status"][(s,) + pt] == sk.CONVERGED
                        for cols in _columns(trail, spec.n_draws):
                            v = nc[name][(s,) + pt + (slice(None),) + cols]
                            for cell in np.ndindex(*v.shape[1:]):
                                # one contiguous column at a time: the same arithmetic
                                # whatever the read size
                                col = np.ascontiguousarray(v[(slice(None),) + cell])
                                at = (s,) + pt + (slice(None),) + cols + cell
                                st[at] = summary(col, ok, weights)
                                if spec.method == "sobol":
                                    y = np.where(ok, col, np.nan).reshape(spec.draws,
                                                                          spec.dims + 2)
                                    s1[at], stt[at] = sobol_indices(y, spec.dims)
                stats[name] = st
                if spec.method == "sobol":
                    sobol[name] = (s1, stt)
    unit = study.dataset.unit
    data = {}
    grid_dims = tuple(g.label for g in spec.grid)
    for name, st in stats.items():
        dims, units, long_name = DRAW_OUTCOMES[name]
        data[f"{name}_summary"] = (("scenario",) + grid_dims + ("statistic",) + dims, st, {
            "units": units.format(unit=unit),
            "long_name": f"{long_name}: statistics over converged draws"})
        if name in sobol:
            for key, arr, what in (("S1", sobol[name][0], "first-order"),
                                   ("ST", sobol[name][1], "total")):
                data[f"{name}_{key}"] = (("scenario",) + grid_dims + ("parameter",) + dims, arr,
                                         {"units": "1", "long_name": f"{what} Sobol index of "
                                          f"{name} (Saltelli 2010; Jansen 1999)"})
    data["failed_draws"] = (("scenario",) + grid_dims, counts, {
        "units": "1", "long_name": "draws that did not converge or had an elasticity <= 1 "
                                   "(excluded from statistics)"})
    xr.Dataset(data).to_netcdf(tmp, mode="a", engine="netcdf4")
    return {sc.name: int(counts[s].sum()) for s, sc in enumerate(study.file.scenarios)}

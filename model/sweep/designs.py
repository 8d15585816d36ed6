r"""The designs of a sensitivity sweep, one object per method: how many draws, the values of
each draw, the weights of the estimators and how the report states a band.

- :class:`MonteCarlo`: independent draws, numbered so that each depends only on the seed and
  its index;
- :class:`Sobol`: the Saltelli (2010) design from a scrambled Sobol' sequence, for Sobol'
  indices;
- :class:`Quadrature`: Stroud's degree-3 points (GEMPACK's systematic sensitivity analysis);
- :class:`GridOnly`: no sampled parameter, one solve per grid point.

The string of ``[sweep] method`` is turned into one of these once, when the table is parsed
(:data:`DESIGNS`); the rest of the program calls the object.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from model.output.report import fmt

MC_BLOCK = 4096  # Monte Carlo numbers are generated in blocks keyed by (seed, block)
STATISTICS = ("mean", "sd", "p5", "p50", "p95")


class Design:
    """What every design answers; ``sampled`` designs have a ``draw`` dimension."""

    name = ""
    sampled = True
    indices = False       # the draws give Sobol' indices
    histogram = True      # without a grid, the figure shows the draws' distribution
    seeded = False        # draws depend on ``seed``
    takes_draws = False   # ``draws`` is the design's size (else the size is fixed)
    central = "p50"       # statistic drawn as the central line of a band
    band = ""             # what each cell of the report's tables shows

    def __repr__(self) -> str:  # stable across processes: part of a sweep's fingerprint
        return f"{type(self).__name__}()"

    def n_draws(self, draws: int, dims: int) -> int:
        raise NotImplementedError

    def values(self, spec, start: int, stop: int) -> np.ndarray:
        """Sampled parameter values of draws ``start..stop-1``, ``(stop - start, D)``."""
        raise NotImplementedError

    def weights(self, n: int) -> np.ndarray | None:
        """Weights of the draws in the mean and standard deviation (None: equal)."""
        return None

    def cell(self, stats: dict) -> str:
        """A report cell from the statistics of a variable (mean, sd, p5, p50, p95)."""
        return f"{fmt(stats['mean'])} [{fmt(stats['p5'])}, {fmt(stats['p95'])}]"

    def limits(self, stats: dict):
        """The band drawn around the central line: the 5th and 95th percentiles."""
        return stats["p5"], stats["p95"]


class MonteCarlo(Design):
    name = "monte_carlo"
    seeded = True
    takes_draws = True
    band = "mean [5th, 95th percentile] over the draws"

    def n_draws(self, draws, dims):
        return draws

    def values(self, spec, start, stop):
        return from_uniform(spec.sampled, mc_uniform(spec.seed, spec.dims, start, stop))


class Sobol(Design):
    name = "sobol"
    indices = True
    seeded = True
    takes_draws = True
    band = "mean [5th, 95th percentile] over the Saltelli design's draws"

    def n_draws(self, draws, dims):
        return draws * (dims + 2)

    def values(self, spec, start, stop):
        return from_uniform(spec.sampled, saltelli_uniform(spec.seed, spec.dims, start, stop))


class Quadrature(Design):
    name = "quadrature"
    central = "mean"
    histogram = False
    weight_meaning = "Stroud-3 quadrature weight"
    band = ("mean ± standard deviation (Stroud-3 quadrature: exact for polynomials of degree 3 "
            "in the parameters)")

    def n_draws(self, draws, dims):
        return 2 * dims

    def values(self, spec, start, stop):
        z = stroud3(spec.dims)[start:stop]
        out = np.empty((stop - start, spec.dims))
        col = 0
        for s in spec.sampled:
            part = slice(col, col + len(s.labels))
            out[:, part] = from_standard(s, z[:, part])
            col += len(s.labels)
        return out

    def weights(self, n):
        """Equal weights ``1 / (2 D)`` of the Stroud-3 points."""
        return np.full(n, 1.0 / n)

    def cell(self, stats):
        return f"{fmt(stats['mean'])} ± {fmt(stats['sd'])}"

    def limits(self, stats):
        """Mean ± one standard deviation: a handful of points define no percentiles."""
        return stats["mean"] - stats["sd"], stats["mean"] + stats["sd"]


class GridOnly(Design):
    name = "grid"
    sampled = False
    band = "value at each grid point"

    def n_draws(self, draws, dims):
        return 1

    def values(self, spec, start, stop):
        return np.empty((stop - start, 0))


#: the designs, by the name of ``[sweep] method``
DESIGNS = {d.name: d for d in (MonteCarlo(), Sobol(), Quadrature(), GridOnly())}


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


def mc_uniform(seed: int, dims: int, start: int, stop: int) -> np.ndarray:
    """Uniform numbers of draws ``start..stop-1``; draw ``d`` is row ``d % MC_BLOCK`` of the
    block ``numpy.random.default_rng([seed, d // MC_BLOCK]).random((MC_BLOCK, dims))``, so it
    does not depend on how draws are split into chunks."""
    out = np.empty((stop - start, dims))
    for block in range(start // MC_BLOCK, (stop - 1) // MC_BLOCK + 1):
        u = np.random.default_rng([seed, block]).random((MC_BLOCK, dims))
        lo, hi = max(start, block * MC_BLOCK), min(stop, (block + 1) * MC_BLOCK)
        out[lo - start:hi - start] = u[lo - block * MC_BLOCK:hi - block * MC_BLOCK]
    return out


def saltelli_uniform(seed: int, dims: int, start: int, stop: int) -> np.ndarray:
    """Rows ``start..stop-1`` of the Saltelli design (Saltelli et al. 2010) from a scrambled
    Sobol' sequence of dimension ``2 dims`` (``scipy.stats.qmc.Sobol``, seeded): base point
    ``r`` gives ``A = u[r, :D]`` and ``B = u[r, D:]``, and draws ``r (D+2) .. r (D+2) + D + 1``
    are ``A``, ``A`` with column ``k`` from ``B`` (``k = 0..D-1``), and ``B`` (SALib's order
    for first and total indices)."""
    from scipy.stats import qmc  # only here: scipy.stats takes most of a second to import

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


def from_uniform(sampled, u: np.ndarray) -> np.ndarray:
    """Quantiles of each sampled parameter's distribution at ``u`` (one column per
    dimension, in the order of the parameters' labels)."""
    out = np.empty_like(u)
    col = 0
    for s in sampled:
        part = slice(col, col + len(s.labels))
        out[:, part] = _quantile(s, u[:, part])
        col += len(s.labels)
    return out


def _quantile(s, u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 1e-12, 1.0 - 1e-12)  # a Sobol' point at 0 or 1 would give an infinite normal
    a = s.args
    if s.distribution == "uniform":
        return a[0] + (a[1] - a[0]) * u
    if s.distribution == "triangular":  # the inverse of its distribution function
        c = (a[1] - a[0]) / (a[2] - a[0])
        x = np.where(u < c, np.sqrt(c * u), 1.0 - np.sqrt((1.0 - c) * (1.0 - u)))
        return x * (a[2] - a[0]) + a[0]
    from scipy.special import ndtri  # only here: scipy.special takes 0.3 s to import

    if s.distribution == "normal":
        return a[0] + a[1] * ndtri(u)
    return a[0] * np.exp(a[1] * ndtri(u))


def from_standard(s, z: np.ndarray) -> np.ndarray:
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


def draw_values(spec, start: int, stop: int) -> np.ndarray:
    """The sampled parameters of draws ``start..stop-1``, shape ``(stop - start, D)`` (columns
    in the order of the spec's labels).  Each row depends only on the seed and the draw
    index."""
    return spec.design.values(spec, start, stop)


def sigma_scales(spec, values: np.ndarray) -> np.ndarray:
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

r"""The plain arrays the compiled kernels take, built in one place (:func:`kernel_params`).

A :class:`KernelParams` holds three named tuples, so that compiled code replaces a part (the
elasticities of a sweep draw, the shock of a grid point) without rebuilding the rest:

- :class:`Structure`: benchmark shares and the closure's factor split, fixed in a solve;
- :class:`Shock`: the policy's wedges and deficits;
- :class:`Elasticities`: the Armington elasticities of both nests.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple

import numpy as np
from numba import njit

from calibration.calibrate import Benchmark
from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.linalg import CACHED
from model.core.policy import Policy
from model.core.settings import SolverSettings
from model.interrupts import compiled_call


class Structure(NamedTuple):
    """``beta[n, j]`` value-added and ``gamma[n, k, j]`` intermediate cost shares;
    ``pi0[n, i, j]`` expenditure shares; ``alpha[n, j]`` final-demand shares; ``va[n]`` value
    added; ``E0[n, j]`` absorption (the scale of the absorption part of the state, 1 where
    there is none); ``theta[n, j]`` labour share of value added (1 without capital); ``vaL[n]``
    labour income and ``vaK[n, j]`` capital income; ``frw[n]`` 1 where the real wage is fixed
    and employment adjusts."""

    beta: np.ndarray
    gamma: np.ndarray
    pi0: np.ndarray
    alpha: np.ndarray
    va: np.ndarray
    E0: np.ndarray
    theta: np.ndarray
    vaL: np.ndarray
    vaK: np.ndarray
    frw: np.ndarray


class Shock(NamedTuple):
    """``ltau[n, i, j]`` log change of the importer's cost factor (iceberg, tariff and export
    tax); ``inv1pt = 1/(1 + t1)``; ``inv1pe = 1/(1 + e1)`` with ``e1[n, i, j]`` the export tax
    of exporter ``i`` on sales to ``n`` (its rents go to ``i``); ``lpref[n, i, j]`` log shift
    of the importer's preference for source ``i``; ``D1[n]`` deficits."""

    ltau: np.ndarray
    inv1pt: np.ndarray
    inv1pe: np.ndarray
    lpref: np.ndarray
    D1: np.ndarray


class Elasticities(NamedTuple):
    """``sigma[j]`` between domestic goods and imports; ``sigma_m[j]`` among import sources
    (equal to ``sigma`` in the one-level model)."""

    sigma: np.ndarray
    sigma_m: np.ndarray


class KernelParams(NamedTuple):
    """Everything a solve needs; ``direct`` solves absorption by LU at every iteration (else
    one Jacobi step)."""

    structure: Structure
    shock: Shock
    elasticities: Elasticities
    direct: bool


class SolverTuple(NamedTuple):
    """The settings the compiled fixed point takes (see
    :class:`~model.core.settings.SolverSettings`)."""

    tol: float
    max_iter: int
    damping: float
    memory: int
    anderson: bool


_COPIES: dict[int, dict] = {}


def benchmark_array(bm: Benchmark, name: str) -> np.ndarray:
    """A writable C-ordered copy of the benchmark's array ``name``, made once per benchmark.

    The benchmark's own arrays are read-only, and numba compiles every kernel again for each
    mix of read-only and writable arguments; parameters built in compiled code (sweep draws)
    or unpickled on a Dask worker are writable.  Giving the kernels writable arrays everywhere
    lets single solves and sweeps share one compiled version (half the compilation of a first
    run).  The kernels never write to these arrays."""
    copies = _copies(bm)
    if name not in copies:
        copies[name] = np.array(getattr(bm, name), dtype=float, order="C")
    return copies[name]


def _copies(bm: Benchmark) -> dict:
    """What is derived once per benchmark (dropped with it)."""
    key = id(bm)
    copies = _COPIES.get(key)
    if copies is None:
        copies = _COPIES[key] = {}
        weakref.finalize(bm, _COPIES.pop, key, None)
    return copies


def structure(bm: Benchmark, policy: Policy) -> Structure:
    """The benchmark shares and the closure's split of value added into labour and capital;
    made once per benchmark and closure (a search solves thousands of policies that share
    them; the kernels never write to them)."""
    theta = np.asarray(policy.theta, dtype=float)
    frw = np.asarray(policy.fixed_real_wage, dtype=bool)
    key = ("structure", theta.shape, theta.tobytes(), frw.tobytes())
    copies = _copies(bm)
    if key not in copies:
        copies[key] = _structure(bm, policy)
    return copies[key]


def _structure(bm: Benchmark, policy: Policy) -> Structure:
    return Structure(
        beta=benchmark_array(bm, "beta"),
        gamma=benchmark_array(bm, "gamma"),
        pi0=benchmark_array(bm, "pi0"),
        alpha=benchmark_array(bm, "alpha"),
        va=bm.VA0.sum(axis=1),
        E0=np.where(bm.E0 > 0, bm.E0, 1.0),
        theta=np.array(policy.theta, dtype=float, order="C"),
        vaL=(policy.theta * bm.VA0).sum(axis=1),
        vaK=(1.0 - policy.theta) * bm.VA0,
        frw=policy.fixed_real_wage.astype(np.int8),
    )


def shock(bm: Benchmark, policy: Policy, compiled: bool = True) -> Shock:
    """``ltau = log(d_hat (1 + t1) (1 + e1) / (1 + t0))``, ``inv1pt = 1 / (1 + t1)`` and
    ``inv1pe = 1 / (1 + e1)``; an infinite tariff gives ``ltau = inf`` and ``inv1pt = 0``
    (autarky in that cell).  ``compiled`` False computes them with the kernel's plain Python
    function (the same arrays, without compiling it: for the kernels' argument types on a
    first run, :func:`model.compiling.signatures`)."""
    arrays = _shock_arrays if compiled else _shock_arrays.py_func
    ltau, inv1pt, inv1pe, lpref = compiled_call(arrays, *shock_inputs(bm, policy))
    return Shock(ltau=ltau, inv1pt=inv1pt, inv1pe=inv1pe, lpref=lpref,
                 D1=np.array(policy.D1, dtype=float))


def shock_inputs(bm: Benchmark, policy: Policy) -> tuple:
    """The arrays :func:`_shock_arrays` takes: ``d_hat``, ``t1``, ``t0``, ``e1``, ``pref``."""
    return tuple(np.ascontiguousarray(a, dtype=float)
                 for a in (policy.d_hat, policy.t1, bm.t0, policy.e1, policy.pref))


@njit(**CACHED)
def _shock_arrays(d_hat, t1, t0, e1, pref):
    """The arrays of :func:`shock`, cell by cell; a cell the policy leaves at its benchmark
    (no trade-cost change, the benchmark tariff, no export tax or preference shift) takes no
    logarithm."""
    shape = t1.shape
    ltau, inv1pt = np.empty(shape), np.empty(shape)
    inv1pe, lpref = np.empty(shape), np.empty(shape)
    d, a, b, e, f = d_hat.ravel(), t1.ravel(), t0.ravel(), e1.ravel(), pref.ravel()
    lt, it, ie, lp = ltau.ravel(), inv1pt.ravel(), inv1pe.ravel(), lpref.ravel()
    for c in range(a.size):
        v = 0.0
        if d[c] != 1.0:
            v += np.log(d[c])
        if a[c] != b[c]:
            v += np.log1p(a[c]) - np.log1p(b[c])
        if e[c] != 0.0:
            v += np.log1p(e[c])
        lt[c] = v
        it[c] = 1.0 / (1.0 + a[c])
        ie[c] = 1.0 / (1.0 + e[c])
        lp[c] = np.log(f[c]) if f[c] != 1.0 else 0.0
    return ltau, inv1pt, inv1pe, lpref


def elasticities(bm: Benchmark, policy: Policy, sigma=None) -> Elasticities:
    """The dataset's elasticities, or ``sigma`` in their place (both levels in proportion
    under the nested form, for sensitivity analysis); the dataset's are made once per
    benchmark and Armington form (the kernels never write to them)."""
    if sigma is None:
        key = ("elasticities", bool(policy.nested))
        copies = _copies(bm)
        if key not in copies:
            copies[key] = _elasticities(bm, policy, bm.sigma)
        return copies[key]
    return _elasticities(bm, policy, np.asarray(sigma, dtype=float))


def _elasticities(bm: Benchmark, policy: Policy, sig: np.ndarray) -> Elasticities:
    sig_m = bm.sigma_m * (sig / bm.sigma) if policy.nested else sig
    return Elasticities(sigma=np.array(sig, dtype=float), sigma_m=np.array(sig_m, dtype=float))


def kernel_params(bm: Benchmark, policy: Policy, settings: SolverSettings = SolverSettings(),
                  sigma=None, compiled: bool = True) -> KernelParams:
    """The kernels' parameters for ``policy`` relative to ``bm``; ``sigma`` replaces the
    dataset's elasticities (see :func:`elasticities`); ``compiled`` as for :func:`shock`."""
    return KernelParams(structure(bm, policy), shock(bm, policy, compiled),
                        elasticities(bm, policy, sigma), settings.expenditure == "direct")


def solver_tuple(settings: SolverSettings) -> SolverTuple:
    return SolverTuple(float(settings.tol), int(settings.max_iter), float(settings.damping),
                       int(settings.memory), settings.acceleration == "anderson")


def writable(params):
    """``params`` (a named tuple, possibly nested) with every array replaced by a writable
    contiguous copy, so compiled code sees the same types here and on a Dask worker
    (unpickled arrays are writable, and numba compiles read-only arrays separately)."""
    values = {}
    for name, value in params._asdict().items():
        if isinstance(value, np.ndarray):
            value = np.array(value, order="C")
        elif isinstance(value, tuple) and hasattr(value, "_asdict"):
            value = writable(value)
        values[name] = value
    return type(params)(**values)


@njit(**CACHED)
def scale_elasticities(el, scale):
    """``el`` with both elasticities of sector ``j`` multiplied by ``scale[j]``."""
    return Elasticities(el.sigma * scale, el.sigma_m * scale)

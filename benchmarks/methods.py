"""The solution methods compared, all on the same equations: the map ``G`` of
:mod:`model.core.fixed_point` (``model.core.equations.fixed_point_map`` is its NumPy twin) whose
fixed point ``G(x) = x`` is the equilibrium.

Each method takes a :class:`~benchmarks.problems.Problem` and returns an :class:`Outcome`;
:func:`equilibrium_residual` judges every result by the same measure.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.optimize import root

from benchmarks.newton_wages import solve_newton_wages
from benchmarks.numpy_fixed_point import solve_numpy
from benchmarks.problems import Problem
from model.core import equations
from model.core.fixed_point import fixed_point_map
from model.core.kernels import new_workspace
from model.core.settings import SolverSettings
from model.core.solver import ConvergenceError, initial_state, solve
from model.core.params import kernel_params

#: Convergence tolerance of every method (the solver's default).
TOL = 1e-10


@dataclass(frozen=True)
class Outcome:
    """What a method returns: the state ``x``, whether it claims convergence, and the number
    of evaluations of ``G`` (fixed-point iterations, or function evaluations) it used."""

    x: np.ndarray
    converged: bool
    evaluations: int
    note: str = ""


@dataclass(frozen=True)
class Method:
    """A named method; ``jit`` methods are warmed up before timing (the first call compiles
    or loads the numba cache); ``baseline`` marks the method every time is a ratio to;
    ``reference`` the vectorised NumPy implementation of the default method, the second
    ratio of the report."""

    key: str
    label: str
    run: Callable[[Problem], Outcome]
    jit: bool = True
    baseline: bool = False
    reference: bool = False


def equilibrium_residual(problem: Problem, x: np.ndarray) -> float:
    """The largest of the solver's three convergence measures at ``x`` (max |excess factor
    demand| / world value added, max |change of log P|, max |change of E| / world value added),
    from one evaluation of the compiled map with absorption as part of the state."""
    p = kernel_params(problem.bm, problem.policy, SolverSettings(expenditure="iterative"))
    nr, ns = problem.shape
    ws = new_workspace(nr, ns, False)
    g = np.empty_like(x)
    if not np.all(np.isfinite(x)):
        return float("nan")
    return float(max(fixed_point_map(np.array(x, dtype=float), p, 1.0, g, ws)))


def _fixed_point(settings: SolverSettings) -> Callable[[Problem], Outcome]:
    def run(problem: Problem) -> Outcome:
        try:
            sol = solve(problem.bm, problem.policy, settings)
        except ConvergenceError as err:
            return Outcome(err.solution.x, False, err.solution.iterations, "no convergence")
        note = ""
        if sol.iterations > settings.max_iter:
            note = (f"no convergence at damping {settings.damping:g} in {settings.max_iter} "
                    "iterations; converged on solve()'s retry with half the damping")
        return Outcome(sol.x, True, sol.iterations, note)

    return run


def _newton(problem: Problem) -> Outcome:
    p = kernel_params(problem.bm, problem.policy, SolverSettings())
    x, converged, steps, evals = solve_newton_wages(p, initial_state(problem.bm), tol=TOL)
    return Outcome(x, converged, evals, f"{steps} Newton steps")


def _numpy(problem: Problem) -> Outcome:
    x, converged, iterations = solve_numpy(problem.bm, problem.policy, tol=TOL)
    return Outcome(x, converged, iterations, "" if converged else "no convergence")


def active(problem: Problem) -> np.ndarray:
    """Indices of the state components that ``G`` can change.  The state has room for
    extensions (for instance the rental of sector-specific capital) whose components stay
    put, ``G(x)_a = x_a``, where the problem does not use them; the scipy methods solve for the
    others only, so that they are not charged for inert unknowns."""
    rng = np.random.default_rng(0)
    g = _compiled_map(problem)
    x0 = initial_state(problem.bm)
    moved = np.zeros(x0.shape, dtype=bool)
    for _ in range(2):
        x = x0 * np.exp(rng.uniform(-1e-3, 1e-3, x0.shape))
        moved |= g(x) != x
    return np.flatnonzero(moved)


def _compiled_map(problem: Problem):
    """``x -> G(x)`` by the numba kernel (a fresh output array each call)."""
    p = kernel_params(problem.bm, problem.policy, SolverSettings())
    nr, ns = problem.shape
    ws = new_workspace(nr, ns, False)

    def G(x):
        g = np.empty_like(x)
        fixed_point_map(x, p, 1.0, g, ws)
        return g

    return G


def _numpy_map(problem: Problem):
    """``x -> G(x)`` by the NumPy twin, ``model.core.equations.fixed_point_map``."""
    p = kernel_params(problem.bm, problem.policy, SolverSettings())
    return lambda x: equations.fixed_point_map(x, p, 1.0)[0]


def residual_function(problem: Problem, compiled: bool):
    """``G(x) - x`` on the active components (:func:`active`), the others held at the
    benchmark; returns the function, the starting point and a map back to the full state."""
    G = (_compiled_map if compiled else _numpy_map)(problem)
    idx = active(problem)
    x0 = initial_state(problem.bm)

    def full(z):
        x = x0.copy()
        x[idx] = z
        return x

    def residual(z):
        x = full(z)
        return (G(x) - x)[idx]

    return residual, x0[idx], full


def _scipy(method: str, compiled: bool) -> Callable[[Problem], Outcome]:
    options = {"xtol": TOL} if method == "hybr" else {"fatol": TOL}

    def run(problem: Problem) -> Outcome:
        residual, z0, full = residual_function(problem, compiled)
        sol = root(residual, z0, method=method, options=options)
        return Outcome(full(sol.x), bool(sol.success), int(getattr(sol, "nfev", 0) or 0),
                       "" if sol.success else str(sol.message))

    return run


def residual_time(problem: Problem, compiled: bool = False, repeat: int = 20) -> float:
    """Median time of one evaluation of ``G(x) - x`` (for the cost bound of a finite-difference
    Jacobian, one evaluation per active unknown, plus one)."""
    residual, z0, _ = residual_function(problem, compiled)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        residual(z0)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


#: Damping of the "damped" plain fixed point (a value that converges at every size here).
DAMPING = 0.7

METHODS = (
    Method("anderson", "fixed point + Anderson (default)", _fixed_point(SolverSettings(tol=TOL))),
    Method("anderson_direct", "fixed point + Anderson, LU absorption",
           _fixed_point(SolverSettings(tol=TOL, expenditure="direct"))),
    Method("numpy", "NumPy fixed point + Anderson", _numpy, jit=False, reference=True),
    Method("damped", f"fixed point, damped {DAMPING:g}",
           _fixed_point(SolverSettings(tol=TOL, acceleration="none", damping=DAMPING))),
    Method("plain", "fixed point, plain (damping 1)",
           _fixed_point(SolverSettings(tol=TOL, acceleration="none", max_iter=1000))),
    Method("newton", "Newton on wages (FD Jacobian)", _newton),
    Method("hybr", "scipy root hybr (NumPy G)", _scipy("hybr", False), jit=False, baseline=True),
    Method("krylov", "scipy root krylov (NumPy G)", _scipy("krylov", False), jit=False),
    Method("hybr_numba", "scipy root hybr (numba G)", _scipy("hybr", True)),
    Method("krylov_numba", "scipy root krylov (numba G)", _scipy("krylov", True)),
)

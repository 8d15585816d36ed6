r"""Solve the equilibrium in changes: one entry point, :func:`solve`.

The unknowns are the wage changes :math:`\hat w_n` and the price-index changes
:math:`\hat P_{nj}`, found as the joint fixed point of the labour-market wage update and the
CES price equations (model.md steps 1-6); absorption solves a linear system at each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model import kernels
from model.params import Policy, SolverSettings


class ConvergenceError(RuntimeError):
    """The fixed point did not converge; carries the last iterate's residuals."""

    def __init__(self, message: str, solution: "Solution"):
        super().__init__(message)
        self.solution = solution


@dataclass(frozen=True, eq=False)
class Solution:
    """An equilibrium (or the last iterate of a failed solve, when ``converged`` is False).

    Attributes
    ----------
    converged : bool
    iterations : int
        Fixed-point iterations performed (0 when the starting point already solves the model).
    residual : float
        max |labour excess demand| / world value added at the solution.
    price_residual : float
        max |change of log price index| in the last iteration.
    w_hat : (R,) wage changes; world value added is the numeraire.
    P_hat, c_hat : (R, S) price-index and unit-cost changes.
    pi1 : (R, R, S) counterfactual expenditure shares ``pi1[n, i, j]``.
    E1, Y1 : (R, S) counterfactual absorption and gross output (data units, numeraire prices).
    """

    converged: bool
    iterations: int
    residual: float
    price_residual: float
    w_hat: np.ndarray
    P_hat: np.ndarray
    c_hat: np.ndarray
    pi1: np.ndarray
    E1: np.ndarray
    Y1: np.ndarray
    settings: SolverSettings


def kernel_inputs(bm: Benchmark, policy: Policy, sigma: np.ndarray | None = None) -> tuple:
    """The plain arrays the kernels take: ``(beta, gamma, pi0, ltau, inv1pt, sigma, alpha, va, D1)``.

    ``ltau = log(d_hat (1 + t1) / (1 + t0))`` and ``inv1pt = 1 / (1 + t1)``; an infinite tariff
    gives ``ltau = inf`` and ``inv1pt = 0`` (autarky in that cell).
    """
    with np.errstate(divide="ignore"):
        ltau = np.log(policy.d_hat) + np.log1p(policy.t1) - np.log1p(bm.t0)
    inv1pt = 1.0 / (1.0 + policy.t1)
    sig = bm.sigma if sigma is None else np.asarray(sigma, dtype=float)
    return (
        np.ascontiguousarray(bm.beta),
        np.ascontiguousarray(bm.gamma),
        np.ascontiguousarray(bm.pi0),
        ltau,
        inv1pt,
        np.ascontiguousarray(sig),
        np.ascontiguousarray(bm.alpha),
        bm.VA0.sum(axis=1),
        np.ascontiguousarray(policy.D1),
    )


def solve(
    bm: Benchmark,
    policy: Policy,
    settings: SolverSettings = SolverSettings(),
    x0: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
) -> Solution:
    """Solve for the counterfactual equilibrium of ``policy`` relative to the benchmark ``bm``.

    Parameters
    ----------
    bm : calibrated benchmark.
    policy : counterfactual tariffs, trade costs and deficits.
    settings : tolerance, iteration limit, damping and acceleration.
    x0 : optional starting point ``(w_hat, log P_hat.ravel())`` (a warm start); the default is
        the benchmark, ``w_hat = 1`` and ``P_hat = 1``.
    sigma : optional elasticities replacing the benchmark's (for sensitivity analysis).

    Returns
    -------
    Solution

    Raises
    ------
    ConvergenceError
        When the residual is not below ``settings.tol`` within ``settings.max_iter`` iterations,
        after retrying with stronger damping; the error carries the last iterate.
    """
    nr, ns = bm.shape
    args = kernel_inputs(bm, policy, sigma)
    x = np.concatenate([np.ones(nr), np.zeros(nr * ns)]) if x0 is None else np.array(x0, float)
    out = np.empty_like(x)
    damping = settings.damping
    total_iter = 0
    status, res_w, res_p = kernels.MAX_ITER, np.inf, np.inf
    for attempt in range(3):
        status, iters, res_w, res_p = kernels._solve_fixed_point(
            x, *args, settings.tol, settings.max_iter, damping, settings.memory,
            settings.acceleration == "anderson", out,
        )
        total_iter += iters
        if status == kernels.CONVERGED:
            break
        damping *= 0.5  # retry from the benchmark with a more cautious update
        x = np.concatenate([np.ones(nr), np.zeros(nr * ns)])
    solution = _solution(out, args, status == kernels.CONVERGED, total_iter, res_w, res_p,
                         settings, nr, ns)
    if not solution.converged:
        reason = "values stopped being finite" if status == kernels.NOT_FINITE else (
            f"the iteration limit {settings.max_iter} was reached")
        raise ConvergenceError(
            f"the solver did not converge: {reason} (three attempts, last damping "
            f"{damping * 2:g}); labour residual {res_w:.3e}, price residual {res_p:.3e}, "
            f"tolerance {settings.tol:g}, {total_iter} iterations in all",
            solution,
        )
    return solution


def _solution(x, args, converged, iterations, res_w, res_p, settings, nr, ns) -> Solution:
    """Recompute every equilibrium quantity at ``x`` with the kernels."""
    beta, gamma, pi0, ltau, inv1pt, sigma, alpha, va, D1 = args
    w = x[:nr].copy()
    lP = x[nr:].reshape(nr, ns).copy()
    lc = np.empty((nr, ns))
    lP_new = np.empty((nr, ns))
    pi1 = np.empty((nr, nr, ns))
    E1 = np.empty((nr, ns))
    Y1 = np.empty((nr, ns))
    demand = np.empty(nr)
    if np.all(np.isfinite(x)) and np.all(w > 0):
        kernels._evaluate(w, lP, beta, gamma, pi0, ltau, inv1pt, sigma, alpha, va, D1,
                          lc, lP_new, pi1, E1, Y1, demand,
                          np.empty((nr * ns, nr * ns)), np.empty(nr * ns))
    else:
        for a in (lc, lP_new, pi1, E1, Y1):
            a.fill(np.nan)
    return Solution(
        converged=bool(converged),
        iterations=int(iterations),
        residual=float(res_w),
        price_residual=float(res_p),
        w_hat=w,
        P_hat=np.exp(lP_new),
        c_hat=np.exp(lc),
        pi1=pi1,
        E1=E1,
        Y1=Y1,
        settings=settings,
    )

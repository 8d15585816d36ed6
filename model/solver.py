r"""Solve the equilibrium in changes: one entry point, :func:`solve`.

The unknowns are the wage changes :math:`\hat w_n`, the price-index changes
:math:`\hat P_{nj}` and absorption :math:`E_{nj}`, found as the joint fixed point of the
labour-market wage update, the CES price equations and the expenditure system (model.md steps
1-6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model import kernels
from model.kernels import KernelParams
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
    absorption_residual : float
        max |change of absorption| / world value added in the last iteration.
    x : the solution as a state vector (a warm start for a nearby problem).
    w_hat : (R,) wage changes; the numeraire is the world factor-price index (world value
        added under full employment).
    L_hat : (R,) employment changes (1 under full employment).
    r_hat : (R, S) rental changes of sector-specific capital (1 where there is none).
    P_hat : (R, S) effective price-index changes (at benchmark preferences).
    c_hat : (R, S) unit-cost changes.
    rents : (R,) export-tax rents received.
    pi1 : (R, R, S) counterfactual expenditure shares ``pi1[n, i, j]``.
    E1, Y1 : (R, S) counterfactual absorption and gross output (data units, numeraire prices).
    """

    converged: bool
    iterations: int
    residual: float
    price_residual: float
    absorption_residual: float
    x: np.ndarray
    w_hat: np.ndarray
    L_hat: np.ndarray
    r_hat: np.ndarray
    rents: np.ndarray
    P_hat: np.ndarray
    c_hat: np.ndarray
    pi1: np.ndarray
    E1: np.ndarray
    Y1: np.ndarray
    settings: SolverSettings


def kernel_params(
    bm: Benchmark,
    policy: Policy,
    settings: SolverSettings = SolverSettings(),
    sigma: np.ndarray | None = None,
) -> KernelParams:
    """The plain arrays the kernels take.

    ``ltau = log(d_hat (1 + t1) (1 + e1) / (1 + t0))``, ``inv1pt = 1 / (1 + t1)`` and
    ``inv1pe = 1 / (1 + e1)``; an infinite tariff gives ``ltau = inf`` and ``inv1pt = 0``
    (autarky in that cell).  ``sigma`` replaces the benchmark's elasticities (both levels, in
    proportion, under the nested form) for sensitivity analysis.
    """
    with np.errstate(divide="ignore"):
        ltau = (np.log(policy.d_hat) + np.log1p(policy.t1) - np.log1p(bm.t0)
                + np.log1p(policy.e1))
    sig = bm.sigma if sigma is None else np.asarray(sigma, dtype=float)
    sig_m = bm.sigma_m * (sig / bm.sigma) if policy.nested else sig
    va = bm.VA0.sum(axis=1)
    vaK = (1.0 - policy.theta) * bm.VA0
    return KernelParams(
        beta=np.ascontiguousarray(bm.beta),
        gamma=np.ascontiguousarray(bm.gamma),
        pi0=np.ascontiguousarray(bm.pi0),
        ltau=ltau,
        inv1pt=1.0 / (1.0 + policy.t1),
        sigma=np.ascontiguousarray(sig, dtype=float),
        alpha=np.ascontiguousarray(bm.alpha),
        va=va,
        D1=np.ascontiguousarray(policy.D1),
        E0=np.where(bm.E0 > 0, bm.E0, 1.0),
        direct=settings.expenditure == "direct",
        sigma_m=np.ascontiguousarray(sig_m, dtype=float),
        inv1pe=1.0 / (1.0 + policy.e1),
        lpref=np.log(policy.pref),
        theta=np.ascontiguousarray(policy.theta),
        vaL=(policy.theta * bm.VA0).sum(axis=1),
        vaK=vaK,
        frw=policy.fixed_real_wage.astype(np.int8),
    )


def initial_state(bm: Benchmark) -> np.ndarray:
    """The benchmark as a state vector: wages (or employment) 1, log prices 0, log rentals 0,
    absorption relative to the benchmark 1."""
    nr, ns = bm.shape
    return np.concatenate([np.ones(nr), np.zeros(2 * nr * ns), np.ones(nr * ns)])


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
    settings : tolerance, iteration limit, damping, acceleration, expenditure method.
    x0 : optional starting state (``Solution.x`` of a nearby problem, a warm start); the
        default is the benchmark (:func:`initial_state`).
    sigma : optional elasticities replacing the benchmark's (for sensitivity analysis).

    Returns
    -------
    Solution

    Raises
    ------
    ConvergenceError
        When the residuals are not below ``settings.tol`` within ``settings.max_iter``
        iterations, after two retries from the benchmark with half the damping each time; the
        error carries the last iterate.
    """
    p = kernel_params(bm, policy, settings, sigma)
    x = initial_state(bm) if x0 is None else np.array(x0, dtype=float)
    out = np.empty_like(x)
    damping = settings.damping
    total_iter = 0
    for _ in range(3):
        status, iters, res_w, res_p, res_e = kernels._solve_fixed_point(
            x, p, settings.tol, settings.max_iter, damping, settings.memory,
            settings.acceleration == "anderson", out,
        )
        total_iter += iters
        if status == kernels.CONVERGED:
            break
        damping *= 0.5  # retry from the benchmark with a more cautious update
        x = initial_state(bm)
    solution = _solution(out, p, status == kernels.CONVERGED, total_iter, (res_w, res_p, res_e),
                         settings)
    if not solution.converged:
        reason = "values stopped being finite" if status == kernels.NOT_FINITE else (
            f"the iteration limit {settings.max_iter} was reached")
        gone = [n for n in range(len(bm.regions))
                if policy.fixed_real_wage[n] and not solution.L_hat[n] > 0]
        if gone:
            reason += (
                f"; employment in {', '.join(bm.regions[n] for n in gone)} went to zero or "
                "below: with a fixed real wage the region's prices cannot fall, so a shock this "
                "large to its sales may leave no equilibrium that keeps its trade balance where "
                "the closure puts it (add sector-specific capital, choose full employment, or "
                "let the trade balance adjust)")
        raise ConvergenceError(
            f"the solver did not converge: {reason} (three attempts, last damping "
            f"{damping * 2:g}); labour residual {res_w:.3e}, price residual {res_p:.3e}, "
            f"absorption residual {res_e:.3e}, tolerance {settings.tol:g}, "
            f"{total_iter} iterations in all",
            solution,
        )
    return solution


def _solution(x, p: KernelParams, converged, iterations, residuals, settings) -> Solution:
    """Recompute every equilibrium quantity at ``x`` with the kernels."""
    nr, ns = p.beta.shape
    ws = kernels._workspace(nr, ns, p.direct)
    if np.all(np.isfinite(x)):
        kernels._evaluate(x, p, ws)
        fields = (np.exp(ws.lw), ws.L.copy(), ws.lP, ws.lc, ws.pi1, ws.E, ws.Y, ws.rents)
    else:
        nan2 = np.full((nr, ns), np.nan)
        fields = (np.full(nr, np.nan), np.full(nr, np.nan), nan2, nan2,
                  np.full((nr, nr, ns), np.nan), nan2, nan2, np.full(nr, np.nan))
    w, L, lP, lc, pi1, E1, Y1, rents = fields
    lr = x[nr + nr * ns:nr + 2 * nr * ns].reshape(nr, ns)
    return Solution(
        converged=bool(converged),
        iterations=int(iterations),
        residual=float(residuals[0]),
        price_residual=float(residuals[1]),
        absorption_residual=float(residuals[2]),
        x=x.copy(),
        w_hat=w,
        L_hat=L,
        r_hat=np.where(p.vaK > 0, np.exp(lr), 1.0),
        rents=rents.copy(),
        P_hat=np.exp(lP),
        c_hat=np.exp(lc),
        pi1=pi1.copy(),
        E1=E1.copy(),
        Y1=Y1.copy(),
        settings=settings,
    )

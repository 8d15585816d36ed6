r"""Solve the equilibrium in changes: one entry point, :func:`solve`.

The unknowns are the wage changes :math:`\hat w_n`, the price-index changes
:math:`\hat P_{nj}` and absorption :math:`E_{nj}`, found as the joint fixed point of the
labour-market wage update, the CES price equations and the expenditure system (docs/model.md,
steps 1-6), by the compiled :func:`model.core.fixed_point.solve_with_retries`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model.core import fixed_point, layout
from model.core.kernels import evaluate, new_workspace
from model.core.params import KernelParams, kernel_params, solver_tuple
from model.core.policy import Policy
from model import threads
from model.interrupts import compiled_call
from model.core.settings import SolverSettings


class ConvergenceError(RuntimeError):
    """The fixed point did not converge; carries the last iterate's residuals (``solution``)
    and the solver's status (``status``: :data:`~model.core.fixed_point.MAX_ITER`, the
    iteration limit, or :data:`~model.core.fixed_point.NOT_FINITE`)."""

    def __init__(self, message: str, solution: "Solution", status: int = fixed_point.MAX_ITER):
        super().__init__(message)
        self.solution = solution
        self.status = status


@dataclass(frozen=True, eq=False)
class Solution:
    """An equilibrium (or the last iterate of a failed solve, when ``converged`` is False).

    Attributes
    ----------
    converged : bool
    iterations : int
        Fixed-point iterations performed (0 when the starting point already solves the model).
    residual : float
        max |excess demand for labour or capital| / world value added at the solution.
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
    settings : the solver settings used.
    params : the kernel parameters solved (the outcomes are computed from them).
    policy : the policy solved: the one given, or for a policy with quotas the effective one
        (the quotas' tariff equivalents as tariffs, rent transfers in the deficits), from which
        every outcome is computed.
    quota : :class:`~model.core.quotas.QuotaOutcome` of a policy with quotas, else None.
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
    params: KernelParams
    policy: Policy | None = None
    quota: object = None
    #: the same quantities in the kernels' units (logs), read by the outcomes
    equilibrium: object = None


def initial_state(bm: Benchmark) -> np.ndarray:
    """The benchmark as a state vector (:func:`model.core.layout.initial`)."""
    return layout.initial(*bm.shape)


def solve(
    bm: Benchmark,
    policy: Policy,
    settings: SolverSettings = SolverSettings(),
    x0: np.ndarray | None = None,
    sigma: np.ndarray | None = None,
    quota_start=None,
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
    quota_start : optional :class:`~model.core.quotas.QuotaOutcome` of the same quotas in a
        nearby problem (``Solution.quota``), where the quotas' wedges start.

    Returns
    -------
    Solution

    A policy with quotas is solved for the quotas' tariff equivalents
    (:func:`model.core.quotas.solve_quotas`): the solution's ``policy`` is then the effective
    policy and ``quota`` says where each quota ends.

    Raises
    ------
    ConvergenceError
        When the residuals are not below ``settings.tol`` within ``settings.max_iter``
        iterations, after two retries from the benchmark with half the damping each time; the
        error carries the last iterate.
    QuotaError
        When the quotas' tariff equivalents do not settle.
    """
    if policy.quotas is not None:
        from model.core.quotas import solve_quotas

        sol, outcome = solve_quotas(bm, policy, settings, x0, sigma, _solve_fixed,
                                    quota_start)
        return dataclasses.replace(sol, quota=outcome)
    return _solve_fixed(bm, policy, settings, x0, sigma)


_INITIAL: dict[tuple[int, int], np.ndarray] = {}  # the benchmark state, by shape


def _solve_fixed(bm: Benchmark, policy: Policy, settings: SolverSettings,
                 x0: np.ndarray | None, sigma: np.ndarray | None) -> Solution:
    """:func:`solve` for a policy without quotas."""
    threads.check()  # a solve on a worker thread of an interrupted pool stops here
    p = kernel_params(bm, policy, settings, sigma)
    x_init = _INITIAL.get(bm.shape)
    if x_init is None:  # the kernels only read it
        x_init = _INITIAL[bm.shape] = initial_state(bm)
    x = x_init if x0 is None else np.array(x0, dtype=float)
    out = np.empty_like(x)
    status, total_iter, res_w, res_p, res_e, damping, fields = compiled_call(
        fixed_point.solve_with_retries, x, x_init, p, solver_tuple(settings), out)
    converged = status == fixed_point.CONVERGED
    solution = _solution(out, p, converged, total_iter, (res_w, res_p, res_e), settings,
                         policy, fixed_point.Equilibrium(*fields) if converged else None)
    if not solution.converged:
        reason = "values stopped being finite" if status == fixed_point.NOT_FINITE else (
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
            f"{damping:g}); factor residual {res_w:.3e}, price residual {res_p:.3e}, "
            f"absorption residual {res_e:.3e}, tolerance {settings.tol:g}, "
            f"{total_iter} iterations in all",
            solution,
            status,
        )
    return solution


def _solution(x, p: KernelParams, converged, iterations, residuals, settings,
              policy: Policy | None = None, evaluated=None) -> Solution:
    """Every equilibrium quantity at ``x``: ``evaluated`` holds them (the arrays of
    :func:`~model.core.fixed_point.solve_with_retries`, after convergence), or they are recomputed
    with the kernels.  The arrays are the solution's own (a workspace made for it)."""
    nr, ns = p.structure.beta.shape
    if evaluated is None and np.all(np.isfinite(x)):
        ws = new_workspace(nr, ns, p.direct)
        evaluate(x, p, ws)  # which prepares the price step's weights first
        evaluated = fixed_point.Equilibrium(ws.lw, ws.L, ws.lP, ws.lc, ws.pi1, ws.E, ws.Y,
                                            ws.rents)
    if evaluated is not None:
        lw, L, lP, lc, pi1, E1, Y1, rents = evaluated
        fields = (np.exp(lw), L, lP, lc, pi1, E1, Y1, rents)
    else:
        nan2 = np.full((nr, ns), np.nan)
        fields = (np.full(nr, np.nan), np.full(nr, np.nan), nan2, nan2,
                  np.full((nr, nr, ns), np.nan), nan2, nan2, np.full(nr, np.nan))
    w, L, lP, lc, pi1, E1, Y1, rents = fields
    # the same views, without a compiled call (the plain function where numba's JIT is off)
    lr = getattr(layout.split, "py_func", layout.split)(x, nr, ns)[2]
    return Solution(
        converged=bool(converged),
        iterations=int(iterations),
        residual=float(residuals[0]),
        price_residual=float(residuals[1]),
        absorption_residual=float(residuals[2]),
        x=x.copy(),
        w_hat=w,
        L_hat=L,
        r_hat=np.where(p.structure.vaK > 0, np.exp(lr), 1.0),
        rents=rents,
        P_hat=np.exp(lP),
        c_hat=np.exp(lc),
        pi1=pi1,
        E1=E1,
        Y1=Y1,
        settings=settings,
        params=p,
        policy=policy,
        equilibrium=evaluated,
    )

"""Targets reached by an endogenous instrument (a closure swap, as in GEMPACK).

A bilateral trade balance is made exogenous and one policy instrument endogenous: an export
tax or voluntary export restraint of the exporter (rents kept by the exporter), a preference
shift of the importer towards a partner's goods (purchase commitments), or a uniform tariff
change.  The instrument value is found by Brent's method on the balance, each step a full
equilibrium solve warm-started from the previous one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from calibration.calibrate import Benchmark
from model.outcomes import bilateral_balance, shipments
from model.params import Policy, SolverSettings
from model.solver import ConvergenceError, Solution, solve


class TargetError(RuntimeError):
    """No instrument value within the bounds reaches the target; ``solution`` is the solve at
    the closest value found (or the last one tried)."""

    def __init__(self, message: str, solution: Solution | None = None):
        super().__init__(message)
        self.solution = solution


@dataclass(frozen=True)
class TargetSpec:
    """A resolved target: indices into the benchmark and the instrument's cells."""

    region: int
    partner: int
    value: float
    instrument: str
    mask: np.ndarray  # [importer, exporter, sector] cells the instrument acts on
    bounds: tuple[float, float]
    label: str = ""


def with_instrument(policy: Policy, spec: TargetSpec, v: float) -> Policy:
    """``policy`` with the instrument set to ``v`` on its cells: the export tax rate, the
    preference factor, or the points added to the scenario's tariffs."""
    if spec.instrument == "export_tax":
        e1 = policy.e1.copy()
        e1[spec.mask] = v
        return dataclasses.replace(policy, e1=e1)
    if spec.instrument == "preference":
        pref = policy.pref.copy()
        pref[spec.mask] = v
        return dataclasses.replace(policy, pref=pref)
    t1 = policy.t1.copy()
    t1[spec.mask] = policy.t1[spec.mask] + v
    return dataclasses.replace(policy, t1=t1)


def balance(policy: Policy, sol: Solution, region: int, partner: int) -> float:
    """Exports of ``region`` to ``partner`` minus its imports from it, pre-tariff."""
    X = shipments(sol.pi1, sol.E1, policy.t1)
    return float(bilateral_balance(X)[region, partner])


def solve_target(bm: Benchmark, policy: Policy, spec: TargetSpec,
                 settings: SolverSettings = SolverSettings()) -> tuple[Solution, Policy, float]:
    """Find the instrument value that brings the bilateral balance to ``spec.value``.

    Returns the solution, the policy with the instrument applied, and the instrument value.
    The solves run with a tolerance of at most 1e-13, so the balance is met to about 1e-13 x
    world value added (its gap is bounded by the factor-market residual).

    Raises
    ------
    TargetError
        When the balance minus the target has the same sign at both bounds; the message gives
        the closest value found on a scan of the interval and the balance there.
    """
    state = {"x": None, "sol": None}
    settings = dataclasses.replace(settings, tol=min(settings.tol, 1e-13))

    def gap(v: float) -> float:
        pol = with_instrument(policy, spec, v)
        try:
            sol = solve(bm, pol, settings, x0=state["x"])
        except ConvergenceError as exc:
            state["sol"] = exc.solution
            raise
        state["x"], state["sol"] = sol.x, sol
        return balance(pol, sol, spec.region, spec.partner) - spec.value

    def failed(message: str) -> TargetError:
        last = state["sol"]
        return TargetError(message, None if last is None else
                           dataclasses.replace(last, converged=False))

    lo, hi = spec.bounds
    try:
        f_lo, f_hi = gap(lo), gap(hi)
    except ConvergenceError as exc:
        raise failed(f"{spec.label}: the model does not solve at the bounds "
                     f"[{lo:g}, {hi:g}] of the instrument: {exc}") from None
    if np.sign(f_lo) == np.sign(f_hi):
        grid = (np.geomspace(lo, hi, 25) if spec.instrument == "preference"
                else np.linspace(lo, hi, 25))
        gaps = []
        for v in grid:
            try:
                gaps.append(abs(gap(v)))
            except ConvergenceError:
                gaps.append(np.inf)
        best = int(np.argmin(gaps))
        raise failed(
            f"{spec.label}: no {spec.instrument} value in [{lo:g}, {hi:g}] reaches the target "
            f"{spec.value:g}; the closest is {grid[best]:.6g}, where the balance misses the "
            f"target by {gaps[best]:.6g}")
    try:
        v = brentq(gap, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200)
    except (RuntimeError, ConvergenceError) as exc:
        raise failed(f"{spec.label}: the search for the {spec.instrument} value failed: "
                     f"{exc}") from None
    final = with_instrument(policy, spec, v)
    sol = solve(bm, final, settings, x0=state["x"])
    return sol, final, float(v)

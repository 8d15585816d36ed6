"""Targets reached by an endogenous instrument (:mod:`model.core.instruments`: a closure swap,
as in GEMPACK): the search for the instrument's value.  The instrument value is found by
Brent's method on the balance, each step a full equilibrium solve started from the line
through the previous two; given a likely value (a sweep draw starts from the central one),
secant steps from it come first, and with quotas and their wedges from a nearby solution,
Broyden steps on the instrument and the wedges together before those.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from calibration.calibrate import Benchmark
from model.core.instruments import TargetSpec, balance, with_instrument
from model.core.policy import Policy
from model.core.quotas import (QuotaError, QuotaOutcome, _bounds, _same_cells, cell_quantity,
                               partial_slope, regimes, rents, with_wedges)
from model.core.settings import SolverSettings
from model.core.solver import ConvergenceError, Solution, solve


class TargetError(RuntimeError):
    """No instrument value within the bounds reaches the target; ``solution`` is the solve at
    the closest value found (or the last one tried)."""

    def __init__(self, message: str, solution: Solution | None = None):
        super().__init__(message)
        self.solution = solution


def solvable(gap, bound: float, other: float, tries: int = 10) -> tuple[float, float]:
    """``(v, gap(v))`` at ``bound`` or, where the model does not solve there (an instrument
    value with no equilibrium), at points halfway towards the middle of the interval."""
    middle = 0.5 * (bound + other)
    for _ in range(tries):
        try:
            return bound, gap(bound)
        except ConvergenceError:
            bound = 0.5 * (bound + middle)
    return bound, gap(bound)


#: the secant steps from a guess stop where the balance misses the target by at most this
#: fraction of world value added, or where a step moves the instrument by less than 1e-13
SECANT_FTOL = 1e-14


def _coordinate(spec: TargetSpec, v: float) -> float:
    """The instrument on the scale its searches step on (logarithm for a geometric one)."""
    return float(np.log(v)) if spec.instrument.geometric else float(v)


def _value(spec: TargetSpec, z: float) -> float:
    """The instrument at coordinate ``z`` (the inverse of :func:`_coordinate`)."""
    return float(np.exp(z)) if spec.instrument.geometric else float(z)


#: the solves of the steps from a guess are loose while the target is missed by much: each
#: solve's tolerance is this fraction of the last miss (the gap relative to world value added,
#: or a quota's log quantity gap), between the search's own tolerance and :data:`LOOSE_TOL`;
#: a search ends only on a solve at its own tolerance (Dembo, Eisenstat & Steihaug 1982)
FORCING = 1e-4
#: the loosest tolerance of those solves (and that of the first, at the guess)
LOOSE_TOL = 1e-6


def _tolerance(miss: float | None, tight: float) -> float:
    """The tolerance of a search step's solve after a miss of ``miss`` (see :data:`FORCING`);
    ``tight`` is the search's own."""
    loose = max(LOOSE_TOL, tight)
    if miss is None or not np.isfinite(miss):
        return loose
    return min(max(FORCING * miss, tight), loose)


def _secant(gap, guess: float, spec: TargetSpec, tight: float, scale: float,
            loosen: bool = True, steps: int = 12):
    """Secant steps on the instrument (on its logarithm for a geometric one) from ``guess`` and
    a point a thousandth away: the value at which ``|gap|`` is at most :data:`SECANT_FTOL` of
    ``scale`` (world value added) or the next step would move less than 1e-13 (``gap`` was
    last evaluated there, at tolerance ``tight``), or None where a step leaves the bounds, the
    gap is flat, the model does not solve or the quotas do not settle, or after ``steps``
    steps (the bracketing search then takes over).  ``gap(v, tol)`` solves at tolerance
    ``tol``; with ``loosen``, the steps' solves are loose while the gap, relative to
    ``scale``, is large (:func:`_tolerance`; not for quotas, whose rounds settle their wedges
    to 1e-12 in each solve), and the search ends only on tight ones."""
    lo, hi = (_coordinate(spec, b) for b in spec.bounds)
    z0 = _coordinate(spec, guess)
    h = 1e-3 * (1.0 if spec.instrument.geometric else max(1.0, abs(z0)))
    z1 = z0 + h if z0 + h <= hi else z0 - h
    if not (np.isfinite(z0) and lo <= z1 <= hi):
        return None
    ftol = SECANT_FTOL * scale

    def at(z: float, last: float | None) -> tuple[float, bool]:
        tol = _tolerance(None if last is None else abs(last) / scale, tight) if loosen else tight
        return gap(_value(spec, z), tol), tol <= tight

    try:
        f0, exact0 = at(z0, None)
        if not exact0 and _tolerance(abs(f0) / scale, tight) <= tight:
            # the guess may be right (a grid sweep's draw is its central case): solved as
            # tightly as the next step would be, it can end the search at once
            f0, exact0 = gap(_value(spec, z0), tight), True
        if exact0 and abs(f0) <= ftol:
            return _value(spec, z0)
        f1, exact1 = at(z1, f0)
        for _ in range(steps):
            if exact1 and abs(f1) <= ftol:
                return _value(spec, z1)
            if f1 == f0:
                return None
            step = f1 * (z1 - z0) / (f1 - f0)
            # a small step ends the search only from two tight solves: a loose one's error
            # could make the slope, and so the step, look small
            if exact0 and exact1 and abs(step) <= 1e-13 * max(1.0, abs(z1)):
                return _value(spec, z1)
            z0, f0, exact0, z1 = z1, f1, exact1, z1 - step
            if not (np.isfinite(z1) and lo <= z1 <= hi):
                return None
            f1, exact1 = at(z1, f0)
        if exact1 and abs(f1) <= ftol:  # the last step's solve
            return _value(spec, z1)
    except (ConvergenceError, QuotaError):
        return None
    return None


#: evaluations of :func:`_joint_steps` before it gives way to the nested search
JOINT_STEPS = 30


def _joint_steps(bm: Benchmark, policy: Policy, spec: TargetSpec, settings: SolverSettings,
                 x0, guess: float, start: QuotaOutcome):
    r"""Broyden steps on the instrument and the quotas' wedges together, from ``guess`` and
    the wedges and rent transfers of ``start`` (a nearby problem's quota outcome): each
    evaluation is one equilibrium solve at an instrument value and wedges, which gives the
    balance's gap and each quota's (log quantity over the quota), instead of a search whose
    every step solves the quotas' rounds to convergence.

    The unknowns are :math:`y = (z, \log(1 + t^q_1), \dots)` (:math:`z` the instrument's
    coordinate).  The Jacobian starts from a probe a thousandth away in :math:`z` alone (its
    column exactly) and, for the wedges, from the partial-equilibrium slope of each cell (or
    the one ``start`` measured); Broyden's update (Broyden 1965) learns the rest.  Each solve
    starts from the states of the previous ones extrapolated along the step (their own
    Broyden estimate of :math:`\partial x / \partial y`).  Its solves are loose while the
    target or a quota is missed by much (:func:`_tolerance`).  It stops, after two solves in a
    row at the search's own tolerance, where the balance misses the target by at most
    :data:`SECANT_FTOL` of world value added (or the instrument's step is below 1e-13 of it)
    and every wedge's step is below 1e-12: the criteria of the nested search.

    Returns ``(solution with its quota outcome, instrument value)``, or None where a quota's
    rent goes (in part) to the exporter (the transfers, updated after each solve in the quota
    rounds, would make Broyden's update credit their change to the step), where a step leaves
    the instrument's or a wedge's interval (a quota at a corner: in or over quota), a solve
    fails or :data:`JOINT_STEPS` evaluations do not settle: the nested search (secant steps,
    quota rounds inside each) takes over."""
    nr = len(bm.regions)
    z_lo, z_hi = (_coordinate(spec, b) for b in spec.bounds)
    z0 = _coordinate(spec, guess)
    q0 = with_instrument(policy, spec, guess).quotas
    if (q0 is None or not _same_cells(start, q0) or (q0.qbar <= 0).any()
            or (q0.to_exporter != 0).any() or (bm.X0[q0.i, q0.n, q0.j] <= 0).any()
            or not np.isfinite(z0)):
        return None
    lo, hi = _bounds(q0)
    lo, hi = np.append(z_lo, lo), np.append(z_hi, hi)
    with np.errstate(invalid="ignore", divide="ignore"):
        u0 = np.log1p(start.tariff_equivalent)
    y = np.append(z0, u0)
    if not (np.isfinite(y).all() and (y >= lo).all() and (y <= hi).all()):
        return None
    transfers = np.zeros(nr)  # every rent to the importer's government: none

    world = bm.world_value_added
    ftol = SECANT_FTOL * world

    def evaluate(y, x, f_last=None):
        """The solve at ``y`` from ``x``, loose after a large miss ``f_last``
        (:func:`_tolerance`), and whether it was at the search's own tolerance."""
        miss = None if f_last is None else max(abs(f_last[0]) / world, *np.abs(f_last[1:]))
        tol = _tolerance(miss, settings.tol)
        applied = with_instrument(policy, spec, _value(spec, y[0]))
        q = applied.quotas
        pol = with_wedges(applied, q, y[1:], transfers)
        sol = solve(bm, pol, dataclasses.replace(settings, tol=tol), x0=x)
        quantity, X1, price = cell_quantity(bm, pol, sol, q)
        with np.errstate(divide="ignore", invalid="ignore"):  # no trade: not finite, stops
            gap = np.append(balance(pol, sol, spec.region, spec.partner) - spec.value,
                            np.log(quantity) - np.log(q.qbar))
        return sol, q, gap, quantity, rents(bm, q, y[1:], X1, price)[0], tol <= settings.tol

    try:
        sol, q, f, quantity, rent, exact = evaluate(y, x0)
        elastic = partial_slope(bm, policy, sol, q)
        measured = start.slope if start.slope is not None else np.full(len(q), np.nan)
        slope = np.where(np.isfinite(measured) & (measured > 0.05), measured * elastic, elastic)
        h = 1e-3 * (1.0 if spec.instrument.geometric else max(1.0, abs(z0)))
        probe = y.copy()
        probe[0] = z0 + h if z0 + h <= z_hi else z0 - h
        if probe[0] < z_lo:
            return None
        sol1, q, f1, quantity, rent, exact1 = evaluate(probe, sol.x, f)
        B = np.zeros((len(y), len(y)))
        B[1:, 1:] = np.diag(-slope)
        B[:, 0] = (f1 - f) / (probe[0] - y[0])
        Jx = np.outer(sol1.x - sol.x, probe - y) / (probe[0] - y[0]) ** 2
        y, f, sol, exact = probe, f1, sol1, (exact, exact1)
        for evaluations in range(2, JOINT_STEPS + 1):  # the solves so far
            step = -np.linalg.solve(B, f)
            # only from two tight solves in a row: a loose one's error in Broyden's update
            # could make the step look small
            if all(exact) and ((abs(f[0]) <= ftol
                                or abs(step[0]) <= 1e-13 * max(1.0, abs(y[0])))
                               and np.abs(step[1:]).max() < 1e-12):
                diagonal = -np.diag(B)[1:]
                measured = np.where(np.isfinite(diagonal) & (diagonal > 0.05 * elastic),
                                    diagonal / elastic, measured)
                outcome = QuotaOutcome(np.expm1(y[1:]), regimes(q, y[1:], lo[1:], hi[1:]),
                                       rent, quantity, evaluations, transfers, q, measured)
                return dataclasses.replace(sol, quota=outcome), _value(spec, y[0])
            y_new = y + step
            if (evaluations == JOINT_STEPS or not np.isfinite(y_new).all()
                    or (y_new < lo).any() or (y_new > hi).any() or not (step @ step) > 0):
                return None
            x = sol.x + Jx @ step
            if not (np.isfinite(x).all() and (x[:nr] > 0.5 * sol.x[:nr]).all()):
                x = sol.x
            sol_new, q, f_new, quantity, rent, exact_new = evaluate(y_new, x, f)
            s = y_new - y
            B += np.outer(f_new - f - B @ s, s) / (s @ s)
            Jx += np.outer(sol_new.x - sol.x - Jx @ s, s) / (s @ s)
            y, f, sol, exact = y_new, f_new, sol_new, (exact[1], exact_new)
    except (ConvergenceError, np.linalg.LinAlgError):
        return None
    return None


def _extrapolated(solved: list, z: float, x, quota, nr: int):
    """A start for the solve at instrument coordinate ``z``: the line through the last two
    solves' states (and quota wedges and transfers) evaluated at ``z``, where ``z`` lies
    within twice their distance; otherwise, or where the line would take a wage (or
    employment, the first ``nr`` entries, levels) below half its last value, the last
    solve's (``x``, ``quota``)."""
    if len(solved) < 2:
        return x, quota
    (z1, x1, q1), (z2, x2, q2) = solved
    if z2 == z1 or not np.isfinite(z) or abs(z - z2) > 2.0 * abs(z2 - z1):
        return x, quota
    w = (z - z2) / (z2 - z1)
    x = x2 + w * (x2 - x1)
    if not np.isfinite(x).all() or (x[:nr] < 0.5 * x2[:nr]).any():
        return x2, q2
    if q1 is not None and q2 is not None and len(q1.transfers) == len(q2.transfers) and len(
            q1.tariff_equivalent) == len(q2.tariff_equivalent):
        with np.errstate(invalid="ignore", divide="ignore"):
            u1, u2 = np.log1p(q1.tariff_equivalent), np.log1p(q2.tariff_equivalent)
            u = np.where(np.isfinite(u1) & np.isfinite(u2), u2 + w * (u2 - u1), u2)
        quota = dataclasses.replace(q2, tariff_equivalent=np.expm1(u),
                                    transfers=q2.transfers + w * (q2.transfers - q1.transfers))
    return x, quota


def solve_target(bm: Benchmark, policy: Policy, spec: TargetSpec,
                 settings: SolverSettings = SolverSettings(), x0=None,
                 guess: float | None = None, quota_start=None,
                 diagnose: bool = True) -> tuple[Solution, Policy, float]:
    """Find the instrument value that brings the bilateral balance to ``spec.value``.

    Returns the solution, the policy with the instrument applied, and the instrument value.
    The solves run with a tolerance of at most 1e-13, so the balance is met to about 1e-13 x
    world value added (its gap is bounded by the factor-market residual).  ``x0`` is a warm
    start and ``guess`` a likely value (a nearby problem's): the search first takes secant
    steps from it until the balance is met to 1e-14 x world value added, then (should they
    fail) tries an interval of a twentieth of the bounds around it.  ``quota_start`` (a
    :class:`~model.core.quotas.QuotaOutcome` of a nearby problem) starts the quotas' wedges.

    A bound at which the model does not solve is moved halfway towards the middle of the
    interval (up to ten times).

    Raises
    ------
    TargetError
        When the balance minus the target has the same sign at both bounds; the message gives
        the closest value found on a scan of the interval and the balance there (with
        ``diagnose`` False, as a sweep draw asks, no scan: the miss at both bounds).
    """
    state = {"x": x0, "sol": None, "quota": quota_start}
    settings = dataclasses.replace(settings, tol=min(settings.tol, 1e-13))
    solved = []  # (instrument coordinate, state, quota outcome) of the last two solves

    def gap(v: float, tol: float | None = None) -> float:
        pol = with_instrument(policy, spec, v)
        z = _coordinate(spec, v)
        x, quota = _extrapolated(solved, z, state["x"], state["quota"], len(bm.regions))
        chosen = settings if tol is None else dataclasses.replace(settings, tol=tol)
        try:
            sol = solve(bm, pol, chosen, x0=x, quota_start=quota)
        except ConvergenceError as exc:
            state["sol"] = exc.solution
            raise
        state["x"], state["sol"], state["quota"] = sol.x, sol, sol.quota
        solved[:] = solved[-1:] + [(z, sol.x, sol.quota)]
        return balance(pol, sol, spec.region, spec.partner) - spec.value

    def failed(message: str) -> TargetError:
        last = state["sol"]
        return TargetError(message, None if last is None else
                           dataclasses.replace(last, converged=False))

    if guess is not None and np.isfinite(guess):
        if quota_start is not None:
            joint = _joint_steps(bm, policy, spec, settings, x0, guess, quota_start)
            if joint is not None:
                sol, v = joint
                return sol, with_instrument(policy, spec, v), v
        loosen = with_instrument(policy, spec, guess).quotas is None
        v = _secant(gap, guess, spec, settings.tol, bm.world_value_added, loosen)
        if v is not None:  # the last solve was at v
            return state["sol"], with_instrument(policy, spec, v), v
        from scipy.optimize import brentq  # here: scipy.optimize takes half a second to import

        width = (spec.bounds[1] - spec.bounds[0]) / 40
        a, b = max(guess - width, spec.bounds[0]), min(guess + width, spec.bounds[1])
        try:
            f_a, f_b = gap(a), gap(b)
        except ConvergenceError:
            f_a = f_b = 1.0
        if np.sign(f_a) != np.sign(f_b):
            v = brentq(gap, a, b, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200)
            final = with_instrument(policy, spec, v)
            return (solve(bm, final, settings, x0=state["x"], quota_start=state["quota"]),
                    final, float(v))
    lo, hi = spec.bounds
    try:
        (lo, f_lo), (hi, f_hi) = solvable(gap, lo, hi), solvable(gap, hi, lo)
    except ConvergenceError as exc:
        raise failed(f"{spec.label}: the model does not solve at the bounds "
                     f"[{lo:g}, {hi:g}] of the instrument, nor at points moved towards the "
                     f"middle: {exc}") from None
    if np.sign(f_lo) == np.sign(f_hi):
        if not diagnose:  # 25 solves for a message unread
            raise failed(f"{spec.label}: no {spec.instrument.name} value in [{lo:g}, {hi:g}] "
                         f"reaches the target {spec.value:g}: the balance misses it by "
                         f"{f_lo:.6g} and {f_hi:.6g} at the bounds")
        grid = spec.instrument.scan(lo, hi)
        gaps = []
        for v in grid:
            try:
                gaps.append(abs(gap(v)))
            except ConvergenceError:
                gaps.append(np.inf)
        best = int(np.argmin(gaps))
        raise failed(
            f"{spec.label}: no {spec.instrument.name} value in [{lo:g}, {hi:g}] reaches the "
            f"target "
            f"{spec.value:g}; the closest is {grid[best]:.6g}, where the balance misses the "
            f"target by {gaps[best]:.6g}")
    from scipy.optimize import brentq

    try:
        v = brentq(gap, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200)
    except (RuntimeError, ConvergenceError) as exc:
        raise failed(f"{spec.label}: the search for the {spec.instrument.name} value failed: "
                     f"{exc}") from None
    final = with_instrument(policy, spec, v)
    sol = solve(bm, final, settings, x0=state["x"], quota_start=state["quota"])
    return sol, final, float(v)

r"""Optimal tariffs and Nash equilibria in tariffs (docs/model.md, "Optimal tariffs and Nash
retaliation").

An optimal tariff is the uniform rate :math:`\tau` on a set of a region's import cells that
maximises the region's welfare (equivalent variation), every other policy held fixed.  The
search solves the model on a grid of rates (the curve the report shows), then finds the root
of the welfare derivative (central differences, each point a full solve warm-started from its
neighbour) by Brent's method in the grid's best interval, so the optimum is accurate to about
1e-9 although welfare is flat there.  A Nash equilibrium in uniform tariffs among players is
found by best responses, player after player (Gauss-Seidel), each starting from its last rate,
until no rate moves by more than ``tol``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model.core import fixed_point
from model.core.outcomes import WELFARE, compute_outcomes, new_outcomes, outcome_inputs
from model.core.outcomes_numpy import consumer_price_index, income
from model.core.params import kernel_params, shock, solver_tuple
from model.core.policy import Policy
from model.core.settings import SolverSettings
from model.core.solver import ConvergenceError, Solution, initial_state, solve
from model import threads
from model.interrupts import compiled_call

#: step of the central difference of welfare
STEP = 1e-5
#: the tolerance of every solve of a search (welfare must be smooth at the scale of STEP)
SEARCH_TOL = 1e-13


class OptimumError(RuntimeError):
    """A search that failed: best responses that do not settle, or a model that does not
    solve where the search must go; ``solution`` is the last solve."""

    def __init__(self, message: str, solution: Solution | None = None):
        super().__init__(message)
        self.solution = solution


@dataclass(frozen=True)
class OptimalTariffSpec:
    """The welfare-maximising uniform tariff of ``region`` on the cells of ``mask``
    (``[importer, exporter, sector]``, importer ``region``), searched in ``bounds`` on a grid
    of ``points`` rates first."""

    region: int
    mask: np.ndarray
    bounds: tuple[float, float] = (0.0, 1.0)
    points: int = 21
    label: str = ""

    def describe(self, regions, sectors) -> str:
        return f"optimal uniform tariff of {regions[self.region]} on {_cells(self.mask, regions, sectors)}"


@dataclass(frozen=True)
class NashSpec:
    """A Nash equilibrium in uniform tariffs: each player ``players[k]`` sets one rate on the
    cells of ``masks[k]`` to maximise its welfare given the others' rates."""

    players: tuple[int, ...]
    masks: tuple[np.ndarray, ...]
    bounds: tuple[float, float] = (0.0, 1.0)
    tol: float = 1e-8
    max_rounds: int = 50
    label: str = ""

    def describe(self, regions, sectors) -> str:
        return ("Nash equilibrium in uniform tariffs of "
                + ", ".join(regions[p] for p in self.players))


@dataclass(frozen=True)
class SearchResult:
    """What a search found: ``value`` the optimal rate (NaN for a Nash equilibrium);
    ``tariffs`` (R,) each player's rate (NaN for regions that do not choose); the curve
    ``rates`` and ``welfare`` (% of income, of the region choosing) searched first; the
    best-response ``rounds``; ``at_bound`` if an optimum lies on a bound of its interval."""

    value: float
    tariffs: np.ndarray
    rates: np.ndarray
    welfare: np.ndarray
    rounds: int = 0
    at_bound: bool = False


def _cells(mask, regions, sectors) -> str:
    cells = np.argwhere(mask)
    exporters = sorted({regions[i] for i in cells[:, 1]})
    chosen = sorted({int(j) for j in cells[:, 2]})
    names = ("all sectors" if len(chosen) == len(sectors)
             else ", ".join(sectors[j] for j in chosen))
    return f"imports from {'/'.join(exporters)} ({names})"


def welfare(bm: Benchmark, sol: Solution) -> np.ndarray:
    """Equivalent variation of each region as a fraction of benchmark income."""
    I1 = income(bm, sol.policy, sol)[0]
    return I1 / bm.I0 / consumer_price_index(bm.alpha, sol.P_hat) - 1.0


def with_rate(policy: Policy, mask: np.ndarray, rate: float) -> Policy:
    """``policy`` with the uniform tariff ``rate`` on the cells of ``mask``."""
    t1 = np.array(policy.t1)
    t1[mask] = rate
    return policy.replace(t1=t1)


class _Searcher:
    """Solves of one search over tariffs, warm-started from the last rate solved.  The policies
    it is given differ only in their tariffs, so the kernel's structure, elasticities and
    outcome inputs are built once and each solve rebuilds only the shock; a policy with quotas
    takes the full :func:`~model.core.solver.solve`."""

    def __init__(self, bm: Benchmark, settings: SolverSettings, policy: Policy):
        self.bm = bm
        self.settings = dataclasses.replace(settings, tol=min(settings.tol, SEARCH_TOL))
        self.last: Solution | None = None
        self.x: np.ndarray | None = None
        base = policy.replace(quotas=None)
        self.params = kernel_params(bm, base, self.settings)
        self.oi = outcome_inputs(bm, base)
        self.st = solver_tuple(self.settings)
        self.x_init = initial_state(bm)

    def solve(self, policy: Policy) -> Solution:
        """The full solution of ``policy``."""
        try:
            sol = solve(self.bm, policy, self.settings, x0=self.x)
        except ConvergenceError as exc:
            raise OptimumError(str(exc), exc.solution) from None
        self.last, self.x = sol, sol.x
        return sol

    def welfare(self, policy: Policy, mask, region: int, rate: float) -> float:
        """Welfare (fraction of income) of ``region`` with ``rate`` on the cells of ``mask``."""
        pol = with_rate(policy, mask, rate)
        if pol.quotas is not None:
            return float(welfare(self.bm, self.solve(pol))[region])
        p = self.params._replace(shock=shock(self.bm, pol))
        x0 = self.x_init if self.x is None else self.x
        x = np.empty_like(self.x_init)
        threads.check()
        status, *_, fields = compiled_call(fixed_point.solve_with_retries, x0, self.x_init, p,
                                           self.st, x)
        if status != fixed_point.CONVERGED:
            self.solve(pol)  # raises with the solver's message
        self.x = x
        nr, ns = self.bm.shape
        out = new_outcomes(nr, ns)
        compute_outcomes(x, p, self.oi, fixed_point.Equilibrium(*fields), out)
        return float(out.region[WELFARE, region]) / 100.0

    def slope(self, policy: Policy, mask, region: int, rate: float) -> float:
        up = self.welfare(policy, mask, region, rate + STEP)
        down = self.welfare(policy, mask, region, rate - STEP)
        return (up - down) / (2 * STEP)


def best_response(search: _Searcher, policy: Policy, mask, region: int, start: float,
                  step: float, bounds: tuple[float, float]) -> tuple[float, bool]:
    """The rate within ``bounds`` where the region's welfare peaks, by the secant method on
    its derivative from ``start`` and ``start ± step``, each iterate kept within the bounds; if
    the secant does not settle in 40 steps, Brent's method on a bracket of the peak.  Returns
    the rate and whether it lies on a bound (a corner: the derivative still points outwards)."""
    lo, hi = bounds

    def slope(r):
        return search.slope(policy, mask, region, r)

    a = float(np.clip(start, lo, hi))
    s_a = slope(a)
    b = float(np.clip(a + (step if s_a > 0 else -step), lo, hi))
    if b == a:  # on a bound, pointing outwards
        return a, True
    s_b = slope(b)
    for _ in range(40):
        if s_b == s_a:
            break
        c = float(np.clip(b - s_b * (b - a) / (s_b - s_a), lo, hi))
        if abs(c - b) < 1e-10 * max(1.0, abs(b)):
            corner = (c <= lo and s_b < 0) or (c >= hi and s_b > 0)
            return c, bool(corner)
        a, s_a, b, s_b = b, s_b, c, slope(c)
    return _bracketed(slope, a, bounds)


def _bracketed(slope, start: float, bounds: tuple[float, float]) -> tuple[float, bool]:
    """Brent's method on a bracket of the peak found by widening steps from ``start``."""
    from scipy.optimize import brentq  # here: scipy.optimize takes half a second to import

    lo, hi = bounds
    width = 0.05 * (hi - lo)
    a, b = max(start - width, lo), min(start + width, hi)
    for _ in range(60):
        s_a, s_b = slope(a), slope(b)
        if s_a > 0 > s_b:
            rate = brentq(slope, a, b, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=100)
            return float(rate), False
        if s_a <= 0 and a <= lo:
            return lo, True
        if s_b >= 0 and b >= hi:
            return hi, True
        a, b = (max(a - 2 * (b - a), lo), a) if s_a <= 0 else (b, min(b + 2 * (b - a), hi))
    raise OptimumError("no peak of welfare found: its derivative does not change sign")


def optimal_tariff(bm: Benchmark, policy: Policy, spec: OptimalTariffSpec,
                   settings: SolverSettings = SolverSettings()
                   ) -> tuple[Solution, Policy, SearchResult]:
    """The welfare-maximising uniform tariff of ``spec.region`` on ``spec.mask``, the other
    regions' policies fixed.  Returns the solution at the optimum, the policy with the optimal
    rate, and the :class:`SearchResult` (the curve: ``spec.points`` rates across the bounds).

    Raises
    ------
    OptimumError
        When the model does not solve at a rate the search needs.
    """
    search = _Searcher(bm, settings, policy)
    lo, hi = spec.bounds
    rates = np.linspace(lo, hi, spec.points)
    curve = np.array([search.welfare(policy, spec.mask, spec.region, r) for r in rates])
    k = int(np.clip(np.argmax(curve), 1, len(rates) - 2))
    start = _vertex(rates[k - 1:k + 2], curve[k - 1:k + 2])
    rate, at_bound = best_response(search, policy, spec.mask, spec.region, start,
                                   0.1 * (rates[1] - rates[0]), spec.bounds)
    final = with_rate(policy, spec.mask, rate)
    sol = search.solve(final)
    tariffs = np.full(len(bm.regions), np.nan)
    tariffs[spec.region] = rate
    return sol, final, SearchResult(rate, tariffs, rates, 100.0 * curve, 0, at_bound)


def nash(bm: Benchmark, policy: Policy, spec: NashSpec,
         settings: SolverSettings = SolverSettings()) -> tuple[Solution, Policy, SearchResult]:
    """The Nash equilibrium in uniform tariffs among ``spec.players``: best responses in turn,
    each from the player's last rate, until no rate moves by more than ``spec.tol``.

    Raises
    ------
    OptimumError
        When the rates still move after ``spec.max_rounds`` rounds (the message gives the last
        rates and changes), or the model does not solve where a best response must go.
    """
    search = _Searcher(bm, settings, policy)
    lo, hi = spec.bounds
    rates = np.array([float(np.mean(np.asarray(policy.t1)[m])) for m in spec.masks])
    rates = np.clip(rates, lo, hi)
    pol = policy
    for k, m in enumerate(spec.masks):
        pol = with_rate(pol, m, rates[k])
    step = 0.05 * (hi - lo)
    moved = np.full(len(spec.players), np.inf)
    for rounds in range(1, spec.max_rounds + 1):
        for k, (player, mask) in enumerate(zip(spec.players, spec.masks)):
            new, _ = best_response(search, pol, mask, player, rates[k], step, spec.bounds)
            moved[k] = abs(new - rates[k])
            rates[k] = new
            pol = with_rate(pol, mask, new)
        if moved.max() < spec.tol:
            sol = search.solve(pol)
            tariffs = np.full(len(bm.regions), np.nan)
            tariffs[list(spec.players)] = rates
            return sol, pol, SearchResult(np.nan, tariffs, np.array([]), np.array([]), rounds,
                                          bool(np.any(np.isclose(rates, lo))
                                               or np.any(np.isclose(rates, hi))))
        step = float(np.clip(moved.max(), 1e-6, 0.05 * (hi - lo)))
    raise OptimumError(
        f"best responses did not settle in {spec.max_rounds} rounds: rates "
        + ", ".join(f"{bm.regions[p]} {r:.6g}" for p, r in zip(spec.players, rates))
        + f", last changes up to {moved.max():.3g} (tolerance {spec.tol:g})", search.last)


def _vertex(x: np.ndarray, y: np.ndarray) -> float:
    """The vertex of the parabola through three points (the middle point if it is flat or
    opens upwards)."""
    d1 = (y[1] - y[0]) / (x[1] - x[0])
    d2 = (y[2] - y[1]) / (x[2] - x[1])
    curvature = (d2 - d1) / (x[2] - x[0])
    if not curvature < 0:
        return float(x[1])
    return float(np.clip(0.5 * (x[0] + x[1]) - d1 / (2 * curvature), x[0], x[2]))

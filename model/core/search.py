"""One entry point for a scenario's equilibrium: a plain solve, or the search for an endogenous
instrument (a target met by an instrument, an optimal tariff, a Nash equilibrium in tariffs);
quotas are solved inside every solve (:func:`model.core.solver.solve`)."""

from __future__ import annotations

import dataclasses

import numpy as np

from calibration.calibrate import Benchmark
from model.core.optimal import (NashSpec, OptimalTariffSpec, OptimumError, SearchResult, nash,
                                optimal_tariff)
from model.core.policy import Policy
from model.core.quotas import QuotaError
from model.core.settings import SolverSettings
from model.core.solver import ConvergenceError, Solution, solve
from model.core.instruments import TargetSpec
from model.core.targets import TargetError, solve_target

#: failures of a search or of the quotas; each carries the last ``solution``
SEARCH_ERRORS = (TargetError, OptimumError, QuotaError)


def with_sigma(bm: Benchmark, sigma) -> Benchmark:
    """``bm`` with the elasticities ``sigma`` (``sigma_m`` in proportion, as
    :func:`model.core.params.elasticities` scales them)."""
    sigma = np.asarray(sigma, dtype=float)
    return dataclasses.replace(bm, sigma=sigma, sigma_m=bm.sigma_m * (sigma / bm.sigma))


def searched(search, policy: Policy) -> bool:
    """Whether solving a scenario is more than one solve: it searches an endogenous instrument
    (``search``: a target, an optimal tariff, a Nash game) or has quotas (solved for their
    tariff equivalents).  A sweep solves such a scenario's draws one by one, not in the
    compiled draw kernel."""
    return search is not None or policy.quotas is not None


def describe(search, regions, sectors) -> str:
    """A short text for the results' ``instrument`` variable ("" without a search)."""
    return "" if search is None else search.describe(regions, sectors)


def solve_scenario_policy(bm: Benchmark, policy: Policy, search,
                          settings: SolverSettings = SolverSettings(), sigma=None, x0=None,
                          guess: float | None = None, quota_start=None,
                          diagnose: bool = True) -> tuple[Solution, SearchResult | None]:
    """Solve ``policy`` (with its ``search``, if any); returns the solution, whose ``policy``
    is the policy solved (instrument applied, quotas as tariff equivalents), and the search's
    result.  ``sigma`` replaces the dataset's elasticities; ``x0`` is a warm start, ``guess`` a
    likely value of a target's instrument and ``quota_start`` where the quotas ended (a
    :class:`~model.core.quotas.QuotaOutcome`), all from a nearby problem, for a plain solve
    or a target (an optimal-tariff or Nash search starts from the benchmark).  ``diagnose``
    False leaves out what only an error message would use (a target's scan of its interval
    when no value reaches it)."""
    if search is None:
        return solve(bm, policy, settings, x0=x0, sigma=sigma, quota_start=quota_start), None
    if sigma is not None:
        bm = with_sigma(bm, sigma)
    if isinstance(search, TargetSpec):
        sol, _, value = solve_target(bm, policy, search, settings, x0=x0, guess=guess,
                                     quota_start=quota_start, diagnose=diagnose)
        return sol, SearchResult(value, np.full(len(bm.regions), np.nan), np.array([]),
                                 np.array([]))
    if isinstance(search, OptimalTariffSpec):
        sol, _, result = optimal_tariff(bm, policy, search, settings)
        return sol, result
    if isinstance(search, NashSpec):
        sol, _, result = nash(bm, policy, search, settings)
        return sol, result
    raise TypeError(f"unknown search {type(search).__name__}")


__all__ = ["SEARCH_ERRORS", "ConvergenceError", "describe", "searched", "solve_scenario_policy",
           "with_sigma"]

r"""Outcomes of a solved scenario: the one compiled function that computes what is reported
(declared in :mod:`model.core.catalogue`) for a single solve and for every draw of a sweep.

:data:`~model.core.catalogue.OUTCOMES` declares each outcome (name, dimensions, units,
meaning, GTAP name, how the report shows it); :func:`compute_outcomes` computes all of them at
a solution; :func:`outcomes` is its Python entry point.  The NumPy twin is :mod:`model.core.outcomes_numpy`.

Definitions (docs/model.md, "Outcomes"): income
:math:`I^1 = \hat w\hat L\,VA^L + \sum_j \hat r_j VA^K_j + R^1 + D^1 + \text{rents}`; consumer
price :math:`\hat P^c = \prod_j \hat P_{nj}^{\alpha_{nj}}`; welfare (equivalent variation)
:math:`100(I^1/I^0/\hat P^c - 1)`; real GDP at benchmark prices, expenditure side (GTAP
``qgdp``), with exports at fob and imports at cif prices; terms of trade as the Törnqvist
export (fob) over import (cif) price index (GTAP ``tot``).  Percent changes are
``100 (x1 / x0 - 1)``; values are in the dataset's unit at numeraire prices.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from calibration.accounts import off_diagonal
from calibration.calibrate import Benchmark
from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.catalogue import OUTCOMES
from model.core.fixed_point import Equilibrium
from model.core.layout import split
from model.core.linalg import CACHED, inner
from model.core.params import benchmark_array
from model.core.policy import Policy

#: rows of :attr:`OutcomeArrays.region` and :attr:`OutcomeArrays.sector`
REGION = tuple(v.name for v in OUTCOMES if v.dims == ("region",))
SECTOR = tuple(v.name for v in OUTCOMES if v.dims == ("region", "sector"))
N_REGION, N_SECTOR = len(REGION), len(SECTOR)
_ROW = {name: k for k, name in enumerate(REGION)}
_SEC = {name: k for k, name in enumerate(SECTOR)}
WELFARE, REAL_WAGE, WAGE, PRICE_INDEX = (_ROW[k] for k in ("welfare", "real_wage", "wage",
                                                           "price_index"))
WELFARE_EV = _ROW["welfare_ev"]
REAL_GDP, TOT, BALANCE, REVENUE = (_ROW[k] for k in ("real_gdp", "terms_of_trade",
                                                     "trade_balance", "tariff_revenue"))
RENTS, EMPLOYMENT_TOTAL, INCOME, VALUE_ADDED = (_ROW[k] for k in (
    "export_tax_rents", "employment_total", "income", "value_added"))
OUTPUT, EMPLOYMENT, GROSS_OUTPUT, ABSORPTION = (_SEC[k] for k in ("output", "employment",
                                                                  "gross_output", "absorption"))
SECTOR_PRICE, UNIT_COST, RENTAL = (_SEC[k] for k in ("sector_price", "unit_cost",
                                                     "capital_rental"))


class OutcomeInputs(NamedTuple):
    """Benchmark and policy arrays the outcomes need beyond the kernel parameters.

    ``I0[n]`` benchmark income; ``Y0[n, j]`` benchmark gross output; ``X0[i, n, j]`` benchmark
    shipments; ``gdp0[n]`` benchmark GDP at benchmark prices (``sum_j F0 + exports -
    imports``); ``log_cif[n, i, j]`` log change of the price of flow ``i -> n`` delivered,
    before the importer's tariff, over the exporter's unit cost: ``log(d_hat (1 + e1))``
    (iceberg costs and export taxes); ``log_fob[n, i, j] = log(1 + e1)``, the same as it
    leaves the exporter.
    """

    I0: np.ndarray
    Y0: np.ndarray
    X0: np.ndarray
    gdp0: np.ndarray
    log_cif: np.ndarray
    log_fob: np.ndarray


class OutcomeArrays(NamedTuple):
    """Where :func:`compute_outcomes` writes: ``region[k, n]`` for the outcomes of
    :data:`REGION`, ``sector[k, n, j]`` for those of :data:`SECTOR`, ``trade[i, n, j]`` and
    ``bilateral[n, p]``."""

    region: np.ndarray
    sector: np.ndarray
    trade: np.ndarray
    bilateral: np.ndarray


def outcome_inputs(bm: Benchmark, policy: Policy) -> OutcomeInputs:
    X0f = off_diagonal(bm.X0)
    log_fob = np.log1p(policy.e1)
    return OutcomeInputs(  # writable arrays: one compiled version (params.benchmark_array)
        I0=benchmark_array(bm, "I0"), Y0=benchmark_array(bm, "Y0"),
        X0=benchmark_array(bm, "X0"),
        gdp0=bm.F0.sum(axis=1) + X0f.sum(axis=(1, 2)) - X0f.sum(axis=(0, 2)),
        log_cif=np.log(policy.d_hat) + log_fob, log_fob=log_fob)


@inner()
def allocate(nr, ns):
    """Arrays for the outcomes of one solution (NaN until written)."""
    return OutcomeArrays(np.full((N_REGION, nr), np.nan), np.full((N_SECTOR, nr, ns), np.nan),
                         np.full((nr, nr, ns), np.nan), np.full((nr, nr), np.nan))


#: :func:`allocate` for Python (the plain function, the same arrays): the compiled one is for
#: compiled callers only, and a compiled function does not return a named tuple to Python
#: (:func:`model.interrupts.interrupt_from`)
new_outcomes = getattr(allocate, "py_func", allocate)


def outcomes(bm: Benchmark, policy: Policy, sol) -> dict[str, np.ndarray]:
    """Every outcome of :data:`OUTCOMES` at the solution ``sol`` of ``policy`` (a
    :class:`~model.core.solver.Solution`), keyed by name; NaN where the solution is not
    finite."""
    nr, ns = bm.shape
    out = new_outcomes(nr, ns)
    policy = sol.policy if sol.policy is not None else policy  # quotas: the effective one
    if np.isfinite(sol.x).all():
        ev = sol.equilibrium if sol.equilibrium is not None else equilibrium(sol)
        compute_outcomes(sol.x, sol.params, outcome_inputs(bm, policy), ev, out)
    result = {name: out.region[k].copy() for k, name in enumerate(REGION)}
    result.update({name: out.sector[k].copy() for k, name in enumerate(SECTOR)})
    result["trade"] = out.trade
    result["bilateral_balance"] = out.bilateral
    return result


def equilibrium(sol) -> Equilibrium:
    """The :class:`~model.core.fixed_point.Equilibrium` of a solution."""
    return Equilibrium(np.log(sol.w_hat), sol.L_hat, np.log(sol.P_hat), np.log(sol.c_hat),
                       sol.pi1, sol.E1, sol.Y1, sol.rents)


@njit(**CACHED, inline="always")
def _tornqvist_log(lp, v0, v1, t0, t1):
    r"""Log Törnqvist price change over flows: :math:`\sum \bar s\,\log\hat p`, with
    :math:`\bar s = (v_0/t_0 + v_1/t_1)/2` (the twin of ``outcomes_numpy.tornqvist``)."""
    acc = 0.0
    for a in range(lp.shape[0]):
        w = 0.5 * (v0[a] / t0 + v1[a] / t1)
        if w > 0.0:
            acc += w * lp[a]
    return acc


@njit(**CACHED, nogil=True)
def compute_outcomes(x, p, oi, ws, out):
    """Every outcome at the solution ``x`` of parameters ``p`` into ``out`` (an
    :class:`OutcomeArrays`); ``ws`` holds the quantities at ``x`` (an
    :class:`~model.core.fixed_point.Equilibrium`, as the solve returns them: the model is not
    evaluated again, nor compiled into this function)."""
    s = p.structure
    nr, ns = s.beta.shape
    lr = split(x, nr, ns)[2]
    X1 = out.trade  # shipments [i, n, j]
    for n in range(nr):
        for i in range(nr):
            for j in range(ns):
                X1[i, n, j] = ws.pi1[n, i, j] * ws.E[n, j] * p.shock.inv1pt[n, i, j]
    for n in range(nr):
        for m in range(nr):
            acc = 0.0
            if m != n:
                for j in range(ns):
                    acc += X1[n, m, j] - X1[m, n, j]
            out.bilateral[n, m] = acc
    for n in range(nr):
        _region_outcomes(n, lr, p, oi, ws, X1, out)
        _sector_outcomes(n, lr, p, oi, ws, out)


@njit(**CACHED, inline="always")
def _region_outcomes(n, lr, p, oi, ws, X1, out):
    """Outcomes of region ``n`` (rows :data:`REGION` of ``out.region``)."""
    s = p.structure
    nr, ns = s.beta.shape
    w = np.exp(ws.lw[n])
    revenue = 0.0
    for i in range(nr):
        for j in range(ns):
            revenue += (1.0 - p.shock.inv1pt[n, i, j]) * ws.pi1[n, i, j] * ws.E[n, j]
    factors = w * ws.L[n] * s.vaL[n]
    for j in range(ns):
        if s.vaK[n, j] > 0.0:
            factors += np.exp(lr[n, j]) * s.vaK[n, j]
    income = factors + revenue + p.shock.D1[n] + ws.rents[n]
    lpc = 0.0
    for j in range(ns):
        lpc += s.alpha[n, j] * ws.lP[n, j]
    pc = np.exp(lpc)
    # real GDP: final demand volumes plus export (fob) minus import (cif) volumes
    gdp1 = 0.0
    for j in range(ns):
        gdp1 += s.alpha[n, j] * income / np.exp(ws.lP[n, j])
    exports = 0.0
    imports = 0.0
    for m in range(nr):
        if m == n:
            continue
        for j in range(ns):
            gdp1 += X1[n, m, j] / np.exp(ws.lc[n, j] + oi.log_fob[m, n, j])
            gdp1 -= X1[m, n, j] / np.exp(ws.lc[m, j] + oi.log_cif[n, m, j])
            exports += X1[n, m, j]
            imports += X1[m, n, j]
    region = out.region
    region[WELFARE, n] = 100.0 * (income / oi.I0[n] / pc - 1.0)
    region[WELFARE_EV, n] = income / pc - oi.I0[n]
    region[REAL_WAGE, n] = 100.0 * (w / pc - 1.0)
    region[WAGE, n] = w
    region[PRICE_INDEX, n] = pc
    region[REAL_GDP, n] = 100.0 * (gdp1 / oi.gdp0[n] - 1.0)
    region[TOT, n] = _terms_of_trade(n, oi, ws, X1)
    region[BALANCE, n] = exports - imports
    region[REVENUE, n] = revenue
    region[RENTS, n] = ws.rents[n]
    region[EMPLOYMENT_TOTAL, n] = 100.0 * (ws.L[n] - 1.0)
    region[INCOME, n] = income
    region[VALUE_ADDED, n] = factors


@njit(**CACHED, inline="always")
def _terms_of_trade(n, oi, ws, X1):
    """Percent change of the Törnqvist export (fob) over import (cif) price index of region
    ``n`` over its foreign flows; NaN when it trades nothing in either situation."""
    nr, ns = ws.lc.shape
    size = (nr - 1) * ns
    lpx, vx0, vx1 = np.empty(size), np.empty(size), np.empty(size)
    lpm, vm0, vm1 = np.empty(size), np.empty(size), np.empty(size)
    a = 0
    for m in range(nr):
        if m == n:
            continue
        for j in range(ns):
            lpx[a] = ws.lc[n, j] + oi.log_fob[m, n, j]
            vx0[a] = oi.X0[n, m, j]
            vx1[a] = X1[n, m, j]
            lpm[a] = ws.lc[m, j] + oi.log_cif[n, m, j]
            vm0[a] = oi.X0[m, n, j]
            vm1[a] = X1[m, n, j]
            a += 1
    tx0, tx1, tm0, tm1 = vx0.sum(), vx1.sum(), vm0.sum(), vm1.sum()
    if not (tx0 > 0.0 and tx1 > 0.0 and tm0 > 0.0 and tm1 > 0.0):
        return np.nan
    return 100.0 * (np.exp(_tornqvist_log(lpx, vx0, vx1, tx0, tx1)
                           - _tornqvist_log(lpm, vm0, vm1, tm0, tm1)) - 1.0)


@njit(**CACHED, inline="always")
def _sector_outcomes(n, lr, p, oi, ws, out):
    """Outcomes of the sectors of region ``n`` (rows :data:`SECTOR` of ``out.sector``)."""
    s = p.structure
    ns = s.beta.shape[1]
    w = np.exp(ws.lw[n])
    sector = out.sector
    for j in range(ns):
        c = np.exp(ws.lc[n, j])
        if oi.Y0[n, j] > 0.0:
            y_hat = ws.Y[n, j] / oi.Y0[n, j]
            sector[OUTPUT, n, j] = 100.0 * (y_hat / c - 1.0)
            sector[EMPLOYMENT, n, j] = (100.0 * (y_hat / w - 1.0)
                                        if s.beta[n, j] * s.theta[n, j] > 0.0 else np.nan)
        else:
            sector[OUTPUT, n, j] = np.nan
            sector[EMPLOYMENT, n, j] = np.nan
        sector[GROSS_OUTPUT, n, j] = ws.Y[n, j]
        sector[ABSORPTION, n, j] = ws.E[n, j]
        sector[SECTOR_PRICE, n, j] = np.exp(ws.lP[n, j])
        sector[UNIT_COST, n, j] = c
        sector[RENTAL, n, j] = np.exp(lr[n, j]) if s.vaK[n, j] > 0.0 else 1.0


def updated_dataset(bm: Benchmark, policy: Policy, sol, **info):
    """The counterfactual equilibrium as a new benchmark dataset (GTAP's "updated database").

    Values are in numeraire units: shipments ``X1``, value added ``beta Y1``, intermediates
    ``gamma Y1`` and the scenario's tariffs. Solving the zero shock on it reproduces it.
    """
    from calibration.io import make_dataset

    X1 = outcomes(bm, policy, sol)["trade"]
    policy = sol.policy if sol.policy is not None else policy
    return make_dataset(
        bm.regions, bm.sectors, X1, bm.beta * sol.Y1, bm.gamma * sol.Y1[:, None, :],
        policy.t1, bm.sigma, bm.sigma_m, **info,
    )

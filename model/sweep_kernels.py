r"""Compiled kernels of sensitivity sweeps: many solves of one scenario, in parallel over draws.

Each draw is the scenario's equilibrium with its own Armington elasticities (a per-sector
multiplier of the benchmark's) and, for tariff grids, its own tariffs; it is solved by the
engine's fixed point (:func:`model.kernels._solve_fixed_point`), warm-started from the central
solution of its grid point, and its outcomes are computed at once so that only a few numbers per
draw leave compiled code.  The NumPy twin of :func:`_draw_outcomes` is
:func:`model.outcomes.outcomes`; the tests check that they agree.

Index names as in :mod:`model.kernels`: ``n`` importer, ``i`` exporter, ``j``, ``k`` sectors.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from model import kernels

#: Draw status codes: the engine's (converged, iteration limit, values not finite) and one more.
CONVERGED = kernels.CONVERGED
MAX_ITER = kernels.MAX_ITER
NOT_FINITE = kernels.NOT_FINITE
INVALID = 3  # an elasticity at or below 1: outside the model's domain, not solved

#: Region outcomes computed per draw, in the order of ``out_region[:, k, :]``.
REGION_OUTCOMES = ("welfare", "real_wage", "real_gdp", "terms_of_trade", "trade_balance",
                   "tariff_revenue", "wage", "price_index", "employment_total",
                   "export_tax_rents")


class OutcomeInputs(NamedTuple):
    """Benchmark and policy arrays the per-draw outcomes need (built by ``model.sweep``).

    ``alpha[n, j]`` final-demand shares; ``I0[n]`` benchmark income; ``Y0[n, j]`` benchmark gross
    output; ``X0[i, n, j]`` benchmark shipments; ``gdp0[n]`` benchmark GDP at benchmark prices
    (``sum_j F0 + exports - imports``); ``log_wedge[n, i, j]`` log change of the price of flow
    ``i -> n`` over the exporter's unit cost, before the importer's tariff:
    ``log(d_hat (1 + e1))`` (iceberg costs and export taxes).
    """

    alpha: np.ndarray
    I0: np.ndarray
    Y0: np.ndarray
    X0: np.ndarray
    gdp0: np.ndarray
    log_wedge: np.ndarray
    log_fob: np.ndarray


@njit(cache=True)
def _tornqvist_log(lp, v0, v1, t0, t1):
    r"""Log Törnqvist price change over flows: :math:`\sum \bar s\,\log\hat p`, with
    :math:`\bar s = (v_0/t_0 + v_1/t_1)/2` (the twin of ``model.outcomes.tornqvist``)."""
    acc = 0.0
    for a in range(lp.shape[0]):
        w = 0.5 * (v0[a] / t0 + v1[a] / t1)
        if w > 0.0:
            acc += w * lp[a]
    return acc


@njit(cache=True)
def _draw_outcomes(x, q, ws, oi, out_region, out_sector):
    r"""Outcomes of model.md at the solution ``x`` of parameters ``q`` (``ws`` is workspace).

    Writes ``out_region[k, n]`` in the order of :data:`REGION_OUTCOMES` and
    ``out_sector[n, j]`` = real gross output, :math:`100(\hat Y/\hat c - 1)` (NaN where the
    benchmark output is zero).  Definitions as in :mod:`model.outcomes`: income
    :math:`I^1 = \hat w\hat L VA^L + \sum_j \hat r VA^K + R^1 + D^1 + \text{rents}`,
    consumer price :math:`\hat P^c = \prod_j
    \hat P_{nj}^{\alpha_{nj}}`, welfare :math:`100(I^1/I^0/\hat P^c - 1)`, real GDP at benchmark
    prices (GTAP ``qgdp``), terms of trade as the Törnqvist export over import price.
    """
    nr, ns = q.beta.shape
    kernels._evaluate(x, q, ws)
    lP, lc, pi1, E1, Y1 = ws.lP, ws.lc, ws.pi1, ws.E, ws.Y
    X1 = np.empty((nr, nr, ns))  # shipments [i, n, j]
    for n in range(nr):
        for i in range(nr):
            for j in range(ns):
                X1[i, n, j] = pi1[n, i, j] * E1[n, j] * q.inv1pt[n, i, j]
    for n in range(nr):
        w = np.exp(ws.lw[n])
        rev = 0.0
        for i in range(nr):
            for j in range(ns):
                rev += (1.0 - q.inv1pt[n, i, j]) * pi1[n, i, j] * E1[n, j]
        # factor income: labour, and sector-specific capital at its rental
        # r = exp((log p_va - theta log w) / (1 - theta))
        capital = 0.0
        for j in range(ns):
            th = q.theta[n, j]
            if th < 1.0 and q.vaK[n, j] > 0.0:
                capital += q.vaK[n, j] * np.exp((ws.lpva[n, j] - th * ws.lw[n]) / (1.0 - th))
        income = w * ws.L[n] * q.vaL[n] + capital + rev + q.D1[n] + ws.rents[n]
        lpc = 0.0
        for j in range(ns):
            lpc += oi.alpha[n, j] * lP[n, j]
        pc = np.exp(lpc)
        # real GDP: final demand volumes plus export minus import volumes (benchmark prices)
        gdp1 = 0.0
        for j in range(ns):
            gdp1 += oi.alpha[n, j] * income / np.exp(lP[n, j])
        exports = 0.0
        imports = 0.0
        for m in range(nr):
            if m == n:
                continue
            for j in range(ns):
                # flow n -> m is priced c_hat[n, j] wedge[m, n, j], flow m -> n
                # c_hat[m, j] wedge[n, m, j]
                gdp1 += X1[n, m, j] / np.exp(lc[n, j] + oi.log_fob[m, n, j])
                gdp1 -= X1[m, n, j] / np.exp(lc[m, j] + oi.log_wedge[n, m, j])
                exports += X1[n, m, j]
                imports += X1[m, n, j]
        # terms of trade: Tornqvist over off-diagonal flows, export and import side
        size = (nr - 1) * ns
        lpx = np.empty(size)
        vx0 = np.empty(size)
        vx1 = np.empty(size)
        lpm = np.empty(size)
        vm0 = np.empty(size)
        vm1 = np.empty(size)
        a = 0
        tx0 = 0.0
        tx1 = 0.0
        tm0 = 0.0
        tm1 = 0.0
        for m in range(nr):
            if m == n:
                continue
            for j in range(ns):
                lpx[a] = lc[n, j] + oi.log_fob[m, n, j]
                vx0[a] = oi.X0[n, m, j]
                vx1[a] = X1[n, m, j]
                lpm[a] = lc[m, j] + oi.log_wedge[n, m, j]
                vm0[a] = oi.X0[m, n, j]
                vm1[a] = X1[m, n, j]
                tx0 += vx0[a]
                tx1 += vx1[a]
                tm0 += vm0[a]
                tm1 += vm1[a]
                a += 1
        if tx0 > 0.0 and tx1 > 0.0 and tm0 > 0.0 and tm1 > 0.0:
            tot = 100.0 * (np.exp(_tornqvist_log(lpx, vx0, vx1, tx0, tx1)
                                  - _tornqvist_log(lpm, vm0, vm1, tm0, tm1)) - 1.0)
        else:
            tot = np.nan
        out_region[0, n] = 100.0 * (income / oi.I0[n] / pc - 1.0)
        out_region[1, n] = 100.0 * (w / pc - 1.0)
        out_region[2, n] = 100.0 * (gdp1 / oi.gdp0[n] - 1.0)
        out_region[3, n] = tot
        out_region[4, n] = exports - imports
        out_region[5, n] = rev
        out_region[6, n] = w
        out_region[7, n] = pc
        out_region[8, n] = 100.0 * (ws.L[n] - 1.0)
        out_region[9, n] = ws.rents[n]
        for j in range(ns):
            if oi.Y0[n, j] > 0.0:
                out_sector[n, j] = 100.0 * (Y1[n, j] / oi.Y0[n, j] / np.exp(lc[n, j]) - 1.0)
            else:
                out_sector[n, j] = np.nan


@njit(cache=True)
def _solve_one(x0, x_init, q, tol, max_iter, damping, memory, anderson, x_out):
    """One draw, as :func:`model.solver.solve` does it: from the warm start ``x0``, then twice
    from the benchmark state ``x_init`` with half the damping each time.  Returns ``(status,
    iterations in all, labour, price, absorption residual)`` of the last attempt."""
    status, iters, rw, rp, re = kernels._solve_fixed_point(
        x0, q, tol, max_iter, damping, memory, anderson, x_out)
    total = iters
    d = damping
    for _ in range(2):
        if status == kernels.CONVERGED:
            break
        d *= 0.5
        status, iters, rw, rp, re = kernels._solve_fixed_point(
            x_init, q, tol, max_iter, d, memory, anderson, x_out)
        total += iters
    return status, total, rw, rp, re


@njit(cache=True, parallel=True)
def _solve_draws(p, oi, point, ltaus, inv1pts, x0s, x_init, scales, tol, max_iter, damping,
                 memory, anderson, status, iterations, residuals, out_region, out_sector):
    r"""Solve draws ``d = 0 .. len(point) - 1`` in parallel (``prange``).

    Draw ``d`` uses the trade costs of grid point ``g = point[d]`` (``ltaus[g]``,
    ``inv1pts[g]``), the elasticities ``p.sigma * scales[d]`` and the warm start ``x0s[g]``.
    A draw with an elasticity (either level of a nested form) at or below 1 is not solved
    (status :data:`INVALID`).  Writes
    ``status[d]``, ``iterations[d]``, ``residuals[d, :]`` (labour, price, absorption) and the
    outcomes; a draw that did not converge gets NaN outcomes.
    """
    nr, ns = p.beta.shape
    n_draws = point.shape[0]
    dim = x_init.shape[0]
    for d in prange(n_draws):
        g = point[d]
        q = kernels._with_sigma_scale(kernels._with_trade(p, ltaus[g], inv1pts[g]), scales[d])
        valid = True
        for j in range(ns):
            if not (q.sigma[j] > 1.0 and q.sigma_m[j] > 1.0):
                valid = False
        if not valid:
            status[d] = INVALID
            iterations[d] = 0
            residuals[d, :] = np.nan
            out_region[d, :, :] = np.nan
            out_sector[d, :, :] = np.nan
            continue
        x = np.empty(dim)
        st, it, rw, rp, re = _solve_one(x0s[g], x_init, q, tol, max_iter, damping, memory,
                                        anderson, x)
        status[d] = st
        iterations[d] = it
        residuals[d, 0] = rw
        residuals[d, 1] = rp
        residuals[d, 2] = re
        if st == kernels.CONVERGED:
            ws = kernels._workspace(nr, ns, q.direct)
            _draw_outcomes(x, q, ws, oi, out_region[d], out_sector[d])
        else:
            out_region[d, :, :] = np.nan
            out_sector[d, :, :] = np.nan

r"""The steps of the evaluation (:func:`model.core.kernels.evaluate_lean`) for one importer
at a time: its markets' price indices and CES sums, its sales and imports, its import shares,
its effective price indices under preference shifts.  Those not inlined take plain arrays, not
the parameter and workspace tuples (a call with those costs seconds of compilation), and are
compiled without reference counts (:data:`~model.core.linalg.LEAF`): they allocate nothing."""

from __future__ import annotations

import numpy as np
from numba import njit

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.linalg import CACHED, LEAF, SUMS, inner


@njit(**CACHED, inline="always")
def cost_factors(lc, sigma_m, ec):
    r"""``ec[i, j]`` = :math:`\hat c_{ij}^{1-\sigma^M_j}`."""
    nr, ns = lc.shape
    for i in range(nr):
        for j in range(ns):
            ec[i, j] = np.exp((1.0 - sigma_m[j]) * lc[i, j])


@inner(fastmath=SUMS, **LEAF)
def market_prices(n, lc, pi0, sigma, sigma_m, wD, wM, m0, ec, lPs, lP, pi1, sm, scale, live):
    """The price indices of importer ``n``'s markets (``lPs``, ``lP``), its domestic shares
    ``pi1[n, n, :]``, and ``scale[j]``, the factor that turns ``wM[n, i, j] ec[i, j]`` into the
    import share ``pi1[n, i, j]``; ``live[j]`` is False where the price index is not finite.
    ``sm[j]`` is left at the CES sum over import sources; ``ec`` holds the cost factors."""
    nr, _, ns = pi0.shape
    sm[:] = 0.0
    for i in range(nr):
        if i != n:
            for j in range(ns):
                sm[j] += wM[n, i, j] * ec[i, j]
    for j in range(ns):
        eD = 1.0 - sigma[j]
        one_level = sigma_m[j] == sigma[j]  # then c^(1 - sigma) = ec and PM^(1 - sigma) = sm
        m = m0[n, j]
        imp = 0.0  # import composite's CES term, m0 PM^(1 - sigma)
        if m > 0.0 and sm[j] > 0.0:
            imp = m * (sm[j] if one_level else np.exp(eD / (1.0 - sigma_m[j]) * np.log(sm[j])))
        dom = 0.0
        if pi0[n, n, j] > 0.0:
            dom = wD[n, j] * (ec[n, j] if one_level else np.exp(eD * lc[n, j]))
        s = dom + imp
        if s <= 0.0:
            lPs[n, j] = 0.0
            lP[n, j] = 0.0
            pi1[n, n, j] = 0.0
            scale[j] = 0.0
            live[j] = False
            continue
        live[j] = True
        lp = np.log(s) / eD
        lPs[n, j] = lp
        lP[n, j] = lp
        # shares as ratios of the CES terms: pi_nn = dom / s, pi_ni = imp / s * wM ec / sm
        pi1[n, n, j] = dom / s
        scale[j] = imp / s / sm[j] if imp > 0.0 else 0.0


@inner(fastmath=SUMS, **LEAF)
def sales_untaxed(n, inv1pt, wMt, ec, pi1, scale, smr, E, Y, Ym, revenue, sm, first, f, smt):
    """Importer ``n``'s sales without export taxes: its domestic purchases go to ``Y``, its
    imports, before the exporter's cost factor ``ec``, to ``Ym`` (``Y = Y + ec Ym`` once every
    importer is added), its tariff revenue to ``revenue[n]``; ``wMt = wM / (1 + t)``.  In the
    ``first`` pass of an evaluation, the revenue per unit of spending, ``smr[n]``, is found
    from the same reads as ``sm`` (the CES sums of :func:`market_prices`) less what reaches the
    exporters.  ``f`` and ``smt`` are scratch (``ns`` each)."""
    nr, _, ns = wMt.shape
    for j in range(ns):  # spending on imports per unit of wM ec
        f[j] = scale[n, j] * E[n, j]
    if first:
        smt[:] = 0.0
        for i in range(nr):
            if i != n:
                for j in range(ns):
                    Ym[i, j] += f[j] * wMt[n, i, j]
                    smt[j] += wMt[n, i, j] * ec[i, j]
        for j in range(ns):
            smr[n, j] = sm[j] - smt[j]
    else:
        for i in range(nr):
            if i != n:
                for j in range(ns):
                    Ym[i, j] += f[j] * wMt[n, i, j]
    rev = 0.0
    for j in range(ns):
        rev += f[j] * smr[n, j]
        v = pi1[n, n, j] * E[n, j]
        x = v * inv1pt[n, n, j]
        Y[n, j] += x
        rev += v - x
    revenue[n] = rev


@njit(**CACHED, inline="always")
def import_shares(n, wM, ec, scale, pi1):
    """Importer ``n``'s import shares ``pi1[n, i, j] = wM[n, i, j] ec[i, j] scale[n, j]``."""
    nr, _, ns = wM.shape
    for i in range(nr):
        if i != n:
            for j in range(ns):
                pi1[n, i, j] = wM[n, i, j] * ec[i, j] * scale[n, j]


@inner(fastmath=SUMS, **LEAF)
def add_imports(ec, Ym, Y):
    """``Y += ec Ym``: the imports of a fused evaluation, summed before the exporter's cost
    factor, added to gross output."""
    nr, ns = Y.shape
    for i in range(nr):
        for j in range(ns):
            Y[i, j] += ec[i, j] * Ym[i, j]


@njit(**CACHED, inline="always")
def sales_of(n, pi1, inv1pt, inv1pe, E, Y, rents, revenue):
    """Importer ``n``'s part of :func:`~model.core.kernels._sales`: adds to ``Y`` and
    ``rents``, sets ``revenue[n]``."""
    nr, _, ns = pi1.shape
    rev = 0.0
    for i in range(nr):
        acc = 0.0
        for j in range(ns):
            v = pi1[n, i, j] * E[n, j]
            x = v * inv1pt[n, i, j]
            y = x * inv1pe[n, i, j]
            Y[i, j] += y
            acc += x - y
            rev += v - x
        rents[i] += acc
    revenue[n] = rev


@njit(**CACHED, inline="always")
def effective_price(n, j, lc, p, pi1, d, m0, uD):
    """Minus the log of the CES quantity index, at benchmark preferences, of what one unit of
    spending buys in market ``(n, j)`` (the effective price index under preference shifts);
    ``d`` and ``m0`` are the benchmark domestic and import shares, ``uD`` the log delivered
    cost of domestic goods."""
    pi0, ltau = p.structure.pi0, p.shock.ltau
    sigma, sigma_m = p.elasticities.sigma[j], p.elasticities.sigma_m[j]
    nr = pi0.shape[0]
    rD = (sigma - 1.0) / sigma
    rM = (sigma_m - 1.0) / sigma_m
    q = 0.0
    if d > 0.0:
        q += d * (pi1[n, n, j] / d * np.exp(-uD)) ** rD
    if m0 > 0.0:
        qm = 0.0
        for i in range(nr):
            if i != n and pi0[n, i, j] > 0.0:
                qi = pi1[n, i, j] / pi0[n, i, j] * np.exp(-(ltau[n, i, j] + lc[i, j]))
                qm += pi0[n, i, j] / m0 * qi ** rM
        q += m0 * qm ** (rD / rM)
    return -np.log(q) / rD

r"""Numba kernels of the equilibrium in changes (docs/model.md, steps 1-5, with its
extensions): factor prices, unit costs, Armington prices and shares, absorption and output.

Small typed loops over plain arrays that write into ``out`` arguments; no validation, no I/O.
Each has a NumPy twin in :mod:`model.core.equations`, and the tests check that they agree.
The fixed point that iterates on them is in :mod:`model.core.fixed_point`.

What an iteration runs allocates nothing (its scratch is in the :class:`Workspace`) and is
compiled without numba's reference counts (:data:`~model.core.linalg.LEAF`: two atomic
operations per array passed or read from a tuple, a third of an iteration's time at 2 x 13
with them).  Such a kernel calls only kernels like it and inlined functions: the reference to
an array that a compiled function returns would never be given back (a test checks that
solves free every array they allocate).

Index names: ``n`` importer, ``i`` exporter, ``j``, ``k`` sectors; prices in logs; the state
``x`` is read through :func:`~model.core.layout.split_leaf`, ``p`` is a ``KernelParams``."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.layout import split_leaf
from model.core.linalg import CACHED, LEAF, SUMS, gauss_solve, inner
from model.core.markets import (add_imports, cost_factors, effective_price, import_shares,
                                market_prices, sales_of, sales_untaxed)


class Workspace(NamedTuple):
    """The arrays of one evaluation of the equations (see :func:`workspace`)."""

    lw: np.ndarray      # [n] log wage change
    L: np.ndarray       # [n] employment change
    lpva: np.ndarray    # [n, j] log price of value added
    lc: np.ndarray      # [n, j] log unit cost
    lPs: np.ndarray     # [n, j] log CES price index at current preferences
    lP: np.ndarray      # [n, j] log effective price index (benchmark preferences)
    pi1: np.ndarray     # [n, i, j] expenditure shares
    E: np.ndarray       # [n, j] absorption
    Y: np.ndarray       # [n, j] gross output (producer revenue)
    LD: np.ndarray      # [n] wage bill demanded
    KD: np.ndarray      # [n, j] capital income demanded
    income: np.ndarray  # [n] factor income + deficit
    rents: np.ndarray   # [n] export-tax rents
    mat: np.ndarray
    rhs: np.ndarray
    # the parts of the price step that do not change within a solve (prepare_weights)
    wD: np.ndarray      # [n, j] pi0_nn a_nn tau_nn^(1 - sigma)
    wM: np.ndarray      # [n, i, j] pi0_ni / m0 a_ni tau_ni^(1 - sigma_M)
    m0: np.ndarray      # [n, j] benchmark import share
    shifted: np.ndarray  # [n, j] 1 where a preference shift acts
    ec: np.ndarray      # [i, j] c_i^(1 - sigma_M), per evaluation
    ready: np.ndarray   # [1] 1 once the weights are prepared for this workspace's parameters
                        # (the evaluation reads them: evaluate and the fixed point prepare them)
    # the fused evaluation (evaluate_lean): import shares are pi1[n, i, j] = scale[n, j]
    # wM[n, i, j] ec[i, j], formed where they are summed and stored only by store_shares
    scale: np.ndarray   # [n, j] per evaluation
    flags: np.ndarray   # [3] fused path usable (no preference shift); export taxes present;
                        # import shares in pi1 not yet stored
    wMt: np.ndarray     # [n, i, j] wM / (1 + t), what reaches the exporter (per solve)
    smr: np.ndarray     # [n, j] sum_i wM t / (1 + t) ec: tariff revenue per unit of scale E
    er: np.ndarray      # [n, j] rental change exp(lr) where there is capital, per evaluation
    # scratch of an evaluation (so that it allocates nothing: see evaluate_lean)
    E_old: np.ndarray   # [n, j] absorption at the state
    Y_old: np.ndarray   # [n, j] gross output at the state's absorption
    Ym: np.ndarray      # [n, j] imports at the state's absorption, before the cost factor
    rents_old: np.ndarray  # [n] export-tax rents at the state's absorption
    revenue: np.ndarray  # [n] tariff revenue
    sm: np.ndarray      # [j] one importer's CES sums over import sources
    sc: np.ndarray      # [j] one importer's scale (see scale)
    live: np.ndarray    # [j] one importer's markets with a finite price index
    f: np.ndarray       # [j] one importer's spending on imports per unit of wM ec
    smt: np.ndarray     # [j] one importer's sum of wMt ec over sources


@inner()
def workspace(nr, ns, direct):
    """A :class:`Workspace` for ``nr`` regions and ``ns`` sectors (``direct``: with the
    matrix of the direct absorption option)."""
    size = nr * ns if direct else 1
    return Workspace(np.empty(nr), np.empty(nr), np.empty((nr, ns)), np.empty((nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty(nr), np.empty((nr, ns)),
                     np.empty(nr), np.empty(nr), np.empty((size, size)), np.empty(size),
                     np.empty((nr, ns)), np.empty((nr, nr, ns)), np.empty((nr, ns)),
                     np.zeros((nr, ns), dtype=np.int8), np.empty((nr, ns)),
                     np.zeros(1, dtype=np.int8), np.empty((nr, ns)), np.zeros(3, dtype=np.int8),
                     np.empty((nr, nr, ns)), np.empty((nr, ns)), np.ones((nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, ns)), np.empty(nr),
                     np.empty(nr), np.empty(ns), np.empty(ns), np.empty(ns, dtype=np.bool_),
                     np.empty(ns), np.empty(ns))

#: :func:`workspace` for Python (the plain function, the same arrays): the compiled one is for
#: compiled callers only, and a compiled function does not return a named tuple to Python
#: (:func:`model.interrupts.interrupt_from`)
new_workspace = getattr(workspace, "py_func", workspace)

FUSED, TAXED, STALE = 0, 1, 2  # the entries of Workspace.flags


@inner(**LEAF)
def prepare_weights(p, ws):
    r"""The constant factors of the price step for the parameters ``p`` of one solve:
    :math:`w^D_{nj} = \pi^0_{nnj} a_{nnj}` and
    :math:`w^M_{nij} = \pi^0_{nij}/m^0_{nj}\, a_{nij}\,\hat\tau_{nij}^{1-\sigma^M_j}`
    (0 for a prohibitive tariff), so that an evaluation needs one exponential per cell
    ``(i, j)`` instead of two per flow (:func:`_prices_and_shares_prepared`).  Marks ``ws`` as
    prepared: only a workspace used with these parameters alone may be prepared."""
    pi0, ltau, lpref = p.structure.pi0, p.shock.ltau, p.shock.lpref
    sigma, sigma_m = p.elasticities.sigma, p.elasticities.sigma_m
    nr, _, ns = pi0.shape
    for n in range(nr):  # memory order: sector innermost
        for j in range(ns):
            ws.m0[n, j] = 0.0
            ws.shifted[n, j] = 1 if lpref[n, n, j] != 0.0 else 0
        for i in range(nr):
            if i != n:
                for j in range(ns):
                    ws.m0[n, j] += pi0[n, i, j]
                    if lpref[n, i, j] != 0.0:
                        ws.shifted[n, j] = 1
        for j in range(ns):
            d = pi0[n, n, j]
            eD = 1.0 - sigma[j]
            ws.wD[n, j] = d * np.exp(eD * ltau[n, n, j] + lpref[n, n, j]) if d > 0.0 else 0.0
            ws.wM[n, n, j] = 0.0
        for i in range(nr):
            if i != n:
                for j in range(ns):
                    m0 = ws.m0[n, j]
                    if m0 > 0.0 and pi0[n, i, j] > 0.0:
                        ws.wM[n, i, j] = pi0[n, i, j] / m0
                        if ltau[n, i, j] != 0.0 or lpref[n, i, j] != 0.0:  # else exp(0) = 1
                            ws.wM[n, i, j] *= np.exp((1.0 - sigma_m[j]) * ltau[n, i, j]
                                                     + lpref[n, i, j])
                    else:
                        ws.wM[n, i, j] = 0.0
                    ws.wMt[n, i, j] = ws.wM[n, i, j] * p.shock.inv1pt[n, i, j]
    ws.ready[0] = 1
    fused = 1
    for n in range(nr):
        for j in range(ns):
            if ws.shifted[n, j]:
                fused = 0
    taxed = 0
    inv1pe = p.shock.inv1pe
    for n in range(nr):
        for i in range(nr):
            for j in range(ns):
                if inv1pe[n, i, j] != 1.0:
                    taxed = 1
    ws.flags[FUSED] = fused
    ws.flags[TAXED] = taxed
    ws.flags[STALE] = 0


@njit(**CACHED, inline="always")
def _factor_prices(a, lP, lr, p, lw, L, lpva):
    r"""Wages, employment and the log price of value added from the state.

    Full employment: ``w = a``, ``L = 1``.  Fixed real wage: ``w = Pc``, the Cobb-Douglas
    consumer price :math:`\prod_j \hat P_{nj}^{\alpha_{nj}}`, and ``L = a``.  Value added is
    Cobb-Douglas in labour and sector-specific capital:
    :math:`\log p^{va}_{nj} = \theta_{nj}\log\hat w_n + (1-\theta_{nj})\log\hat r_{nj}`.
    """
    s = p.structure
    nr, ns = s.beta.shape
    for n in range(nr):
        if s.frw[n]:
            acc = 0.0
            for j in range(ns):
                acc += s.alpha[n, j] * lP[n, j]
            lw[n] = acc
            L[n] = a[n]
        else:
            lw[n] = np.log(a[n])
            L[n] = 1.0
    for n in range(nr):
        for j in range(ns):
            th = s.theta[n, j]
            lpva[n, j] = th * lw[n]
            if th < 1.0:
                lpva[n, j] += (1.0 - th) * lr[n, j]


@inner(fastmath=SUMS, **LEAF)
def _unit_costs(lpva, lP, beta, gamma, out):
    r"""``lc[n, j] = beta[n, j] lpva[n, j] + sum_k gamma[n, k, j] lP[n, k]`` (docs/model.md,
    step 1)."""
    nr, ns = beta.shape
    for n in range(nr):  # memory order: for each input k, every sector j
        for j in range(ns):
            out[n, j] = beta[n, j] * lpva[n, j]
        for k in range(ns):
            lp = lP[n, k]
            for j in range(ns):
                out[n, j] += gamma[n, k, j] * lp


@njit(**CACHED)
def _prices_and_shares(lc, p, lPs, lPe, pi1):
    r"""Armington price indices and expenditure shares (docs/model.md steps 2-3), nested form,
    each flow's exponentials taken in full: the formulation that the prepared step the solver
    takes (:func:`_prices_and_shares_prepared`) is checked against.

    Domestic goods against the import composite with ``sigma``, import sources within the
    composite with ``sigma_m`` (GTAP's nesting; one level when they are equal):

    .. math::
        \hat P_M^{1-\sigma_M} = \sum_{i\ne n}\frac{\pi^0_{ni}}{1-\pi^0_{nn}} a_{ni}
        (\hat\tau_{ni}\hat c_i)^{1-\sigma_M},\quad
        \hat P^{1-\sigma} = \pi^0_{nn} a_{nn} (\hat\tau_{nn}\hat c_n)^{1-\sigma}
        + (1-\pi^0_{nn})\hat P_M^{1-\sigma},

    with preference shifts ``a = exp(lpref)``.  ``lPs`` is that index; ``lPe`` the effective
    index at benchmark preferences, minus the log of the CES quantity index of what is bought
    per unit of spending (equal to ``lPs`` without preference shifts).
    """
    pi0, ltau, lpref = p.structure.pi0, p.shock.ltau, p.shock.lpref
    sigma, sigma_m = p.elasticities.sigma, p.elasticities.sigma_m
    nr, _, ns = pi0.shape
    for n in range(nr):
        for j in range(ns):
            eD = 1.0 - sigma[j]
            eM = 1.0 - sigma_m[j]
            d = pi0[n, n, j]
            m0 = 0.0
            shifted = lpref[n, n, j] != 0.0
            for i in range(nr):
                if i != n:
                    m0 += pi0[n, i, j]
                    shifted = shifted or lpref[n, i, j] != 0.0
            lPM = np.inf
            if m0 > 0.0:
                sm = 0.0
                for i in range(nr):
                    if i != n and pi0[n, i, j] > 0.0:
                        sm += pi0[n, i, j] / m0 * np.exp(
                            eM * (ltau[n, i, j] + lc[i, j]) + lpref[n, i, j])
                if sm > 0.0:
                    lPM = np.log(sm) / eM
            s = 0.0
            uD = ltau[n, n, j] + lc[n, j]
            if d > 0.0:
                s += d * np.exp(eD * uD + lpref[n, n, j])
            if m0 > 0.0 and lPM < np.inf:
                s += m0 * np.exp(eD * lPM)
            if s <= 0.0:
                lPs[n, j] = 0.0
                lPe[n, j] = 0.0
                for i in range(nr):
                    pi1[n, i, j] = 0.0
                continue
            lp = np.log(s) / eD
            lPs[n, j] = lp
            pi1[n, n, j] = d * np.exp(eD * (uD - lp) + lpref[n, n, j]) if d > 0.0 else 0.0
            mT = m0 * np.exp(eD * (lPM - lp)) if (m0 > 0.0 and lPM < np.inf) else 0.0
            for i in range(nr):
                if i != n:
                    if mT > 0.0 and pi0[n, i, j] > 0.0:
                        pi1[n, i, j] = mT * pi0[n, i, j] / m0 * np.exp(
                            eM * (ltau[n, i, j] + lc[i, j] - lPM) + lpref[n, i, j])
                    else:
                        pi1[n, i, j] = 0.0
            lPe[n, j] = effective_price(n, j, lc, p, pi1, d, m0, uD) if shifted else lp


@njit(**CACHED, inline="always")
def _prices_and_shares_prepared(lc, p, ws):
    """:func:`_prices_and_shares` with the constant factors of :func:`prepare_weights`: the
    same equations, one exponential per cell ``(i, j)`` and one per market ``(n, j)``.  The
    loops over flows run in memory order (sector innermost); each sum over sources keeps the
    order of the sources; the shares are ratios of the CES terms."""
    pi0 = p.structure.pi0
    sigma, sigma_m = p.elasticities.sigma, p.elasticities.sigma_m
    nr, _, ns = pi0.shape
    wM, ec, pi1 = ws.wM, ws.ec, ws.pi1
    sm, scale, live = ws.sm, ws.sc, ws.live  # live: markets with a finite price index
    cost_factors(lc, sigma_m, ec)
    for n in range(nr):
        market_prices(n, lc, pi0, sigma, sigma_m, ws.wD, wM, ws.m0, ec, ws.lPs, ws.lP, pi1,
                      sm, scale, live)
        for i in range(nr):
            if i != n:
                for j in range(ns):
                    pi1[n, i, j] = wM[n, i, j] * ec[i, j] * scale[j]
        for j in range(ns):
            if ws.shifted[n, j] and live[j]:
                uD = p.shock.ltau[n, n, j] + lc[n, j]
                ws.lP[n, j] = effective_price(n, j, lc, p, pi1, pi0[n, n, j], ws.m0[n, j],
                                               uD)


@inner(**LEAF)
def store_shares(ws):
    """Store the import shares ``pi1[n, i, j]`` of the last fused evaluation (if not yet)."""
    if ws.flags[STALE] == 0:
        return
    for n in range(ws.wM.shape[0]):
        import_shares(n, ws.wM, ws.ec, ws.scale, ws.pi1)
    ws.flags[STALE] = 0


@njit(**CACHED, inline="always")
def _sales(pi1, p, E, Y, rents, revenue):
    r"""One pass over the flows at absorption ``E``: producer revenue
    ``Y[i, j] = sum_n pi1 E / ((1 + t1) (1 + e1))``, export-tax rents of each exporter
    ``rents[i] = sum_{n, j} X e1 / (1 + e1)`` and tariff revenue of each importer
    ``revenue[n] = sum_{i, j} pi1 E t1 / (1 + t1)`` (loops in memory order)."""
    Y[:, :] = 0.0
    rents[:] = 0.0
    for n in range(pi1.shape[0]):
        sales_of(n, pi1, p.shock.inv1pt, p.shock.inv1pe, E, Y, rents, revenue)


@njit(**CACHED, inline="always")
def _expenditure(pi1, p, income_exog, mat, rhs, out):
    r"""Solve the linear expenditure system of docs/model.md step 4 for ``E1[n, j]`` by LU.

    .. math::
        E_{nj} = \alpha_{nj}\big(\text{income}_n + R_n(E) + \text{rents}_n(E)\big)
        + \sum_k \gamma_{njk} Y_{nk}(E)

    ``income_exog[n]`` = factor income + deficit.  ``mat`` and ``rhs`` are workspace.
    """
    alpha, gamma = p.structure.alpha, p.structure.gamma
    inv1pt, inv1pe = p.shock.inv1pt, p.shock.inv1pe
    nr, _, ns = pi1.shape
    size = nr * ns
    for a in range(size):
        for b in range(size):
            mat[a, b] = 0.0
        mat[a, a] = 1.0
    for n in range(nr):
        for j in range(ns):
            row = n * ns + j
            rhs[row] = alpha[n, j] * income_exog[n]
            for k in range(ns):
                rev = 0.0
                for i in range(nr):
                    rev += (1.0 - inv1pt[n, i, k]) * pi1[n, i, k]
                mat[row, n * ns + k] -= alpha[n, j] * rev
            for m in range(nr):
                for k in range(ns):
                    sale = pi1[m, n, k] * inv1pt[m, n, k]
                    coef = gamma[n, j, k] * sale * inv1pe[m, n, k]
                    coef += alpha[n, j] * sale * (1.0 - inv1pe[m, n, k])
                    mat[row, m * ns + k] -= coef
    for a in range(size):
        ok = np.isfinite(rhs[a])
        for b in range(size):
            ok = ok and np.isfinite(mat[a, b])
        if not ok:  # prices overflowed: report NaN and let the caller step back
            out[:, :] = np.nan
            return
    if not gauss_solve(mat, rhs):  # singular: as above
        out[:, :] = np.nan
        return
    for n in range(nr):
        for j in range(ns):
            out[n, j] = rhs[n * ns + j]


@njit(**CACHED, inline="always")
def _expenditure_step(pi1, p, income_exog, E, out, Y, rents, revenue):
    r"""One Jacobi step of the expenditure system: the right-hand side of
    :func:`_expenditure` at ``E`` (``Y``, ``rents`` and ``revenue`` are scratch: the sales at
    ``E``)."""
    _sales(pi1, p, E, Y, rents, revenue)
    _absorption(p.structure.alpha, p.structure.gamma, income_exog, Y, rents, revenue, out)


@inner(fastmath=SUMS, **LEAF)
def _absorption(alpha, gamma, income_exog, Y, rents, revenue, out):
    r"""The right-hand side of the expenditure system from the sales at the current absorption:
    :math:`\alpha(\text{income} + R + \text{rents}) + \gamma Y`."""
    nr, ns = alpha.shape
    for n in range(nr):
        for j in range(ns):
            acc = alpha[n, j] * (income_exog[n] + revenue[n] + rents[n])
            for k in range(ns):
                acc += gamma[n, j, k] * Y[n, k]
            out[n, j] = acc


@njit(**CACHED)
def evaluate(x, p, ws):
    """Steps 1-5 at the state ``x``: fills ``ws`` with factor prices, costs, the new price
    indices, shares, absorption, gross output, rents and factor demands (the weights of the
    price step are prepared first where ``ws`` has none: a workspace serves one set of
    parameters)."""
    if not ws.ready[0]:
        prepare_weights(p, ws)
    evaluate_lean(x, p, ws)
    store_shares(ws)


@inner(**LEAF)
def evaluate_lean(x, p, ws):
    """:func:`evaluate`, except that after a fused evaluation the import shares are not stored
    in ``ws.pi1`` until :func:`store_shares` (the fixed point needs only their sums), and that
    the weights of the price step must be prepared (every solve prepares them: the full step,
    :func:`_prices_and_shares`, is not compiled in, about 3 s less of a first run).

    The fused evaluation, taken for iterative absorption with no preference shift, forms each
    importer's sales at the current absorption right after that importer's prices (its flows
    are then still in cache), and the import shares where they are summed: three passes over
    the flows instead of five, reading one array each.  The same equations as the other path;
    the sums in another order."""
    s = p.structure
    nr, ns = s.beta.shape
    a, lP, lr, e = split_leaf(x, nr, ns)
    _factor_prices(a, lP, lr, p, ws.lw, ws.L, ws.lpva)
    _unit_costs(ws.lpva, lP, s.beta, s.gamma, ws.lc)
    for n in range(nr):
        acc = np.exp(ws.lw[n]) * ws.L[n] * s.vaL[n] + p.shock.D1[n]
        for j in range(ns):
            if s.vaK[n, j] > 0.0:  # the rental kept for the factor-market update
                ws.er[n, j] = np.exp(lr[n, j])
                acc += ws.er[n, j] * s.vaK[n, j]
        ws.income[n] = acc
    E_old, revenue = ws.E_old, ws.revenue
    for n in range(nr):
        for j in range(ns):
            E_old[n, j] = e[n, j] * s.E0[n, j]
    if ws.flags[FUSED] and not p.direct:
        taxed = ws.flags[TAXED] != 0
        pi0, inv1pt, inv1pe = s.pi0, p.shock.inv1pt, p.shock.inv1pe
        sigma, sigma_m = p.elasticities.sigma, p.elasticities.sigma_m
        wM, wMt, ec, pi1, scale, smr = ws.wM, ws.wMt, ws.ec, ws.pi1, ws.scale, ws.smr
        sm, sc, live, f, smt = ws.sm, ws.sc, ws.live, ws.f, ws.smt
        Y, Ym, rents = ws.Y_old, ws.Ym, ws.rents_old  # Ym: before the exporter's cost factor
        Y[:, :] = 0.0
        Ym[:, :] = 0.0
        rents[:] = 0.0
        cost_factors(ws.lc, sigma_m, ec)
        # which pass, as a value known at run time: with the constants True and False numba
        # would compile sales_untaxed twice, once for each (a second of a first run)
        first = nr > 0
        for n in range(nr):
            market_prices(n, ws.lc, pi0, sigma, sigma_m, ws.wD, wM, ws.m0, ec, ws.lPs, ws.lP,
                          pi1, sm, sc, live)
            for j in range(ns):
                scale[n, j] = sc[j]
            if taxed:  # export taxes (rare): the shares are stored and summed as elsewhere
                import_shares(n, wM, ec, scale, pi1)
                sales_of(n, pi1, inv1pt, inv1pe, E_old, Y, rents, revenue)
            else:
                sales_untaxed(n, inv1pt, wMt, ec, pi1, scale, smr, E_old, Y, Ym, revenue, sm,
                              first, f, smt)
        ws.flags[STALE] = not taxed
        add_imports(ec, Ym, Y)
        _absorption(s.alpha, s.gamma, ws.income, Y, rents, revenue, ws.E)
        ws.Y[:, :] = 0.0
        ws.rents[:] = 0.0
        Ym[:, :] = 0.0
        for n in range(nr):
            if taxed:
                sales_of(n, pi1, inv1pt, inv1pe, ws.E, ws.Y, ws.rents, revenue)
            else:
                sales_untaxed(n, inv1pt, wMt, ec, pi1, scale, smr, ws.E, ws.Y, Ym, revenue, sm,
                              not first, f, smt)
        add_imports(ec, Ym, ws.Y)
    else:
        ws.flags[STALE] = 0  # pi1 is written whole here
        _prices_and_shares_prepared(ws.lc, p, ws)
        if p.direct:
            _expenditure(ws.pi1, p, ws.income, ws.mat, ws.rhs, ws.E)
        else:
            _expenditure_step(ws.pi1, p, ws.income, E_old, ws.E, ws.Y_old, ws.rents_old,
                              revenue)
        _sales(ws.pi1, p, ws.E, ws.Y, ws.rents, revenue)
    for n in range(nr):  # factor demand at gross output
        acc = 0.0
        for j in range(ns):
            acc += s.theta[n, j] * s.beta[n, j] * ws.Y[n, j]
            ws.KD[n, j] = (1.0 - s.theta[n, j]) * s.beta[n, j] * ws.Y[n, j]
        ws.LD[n] = acc

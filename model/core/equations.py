r"""NumPy reference implementation of the equilibrium in changes (docs/model.md).

Each function is the twin of a kernel in :mod:`model.core.kernels` or
:mod:`model.core.fixed_point`, written with array operations so it reads like the equations;
the tests check that both agree.  Prices are in logs; ``p`` is a
:class:`~model.core.params.KernelParams`; the state is read through
:func:`model.core.layout.split`.

References: Dekle, Eaton & Kortum (2007) for exact hat algebra; Caliendo & Parro (2015) for the
input-output structure and the linear expenditure system; Hertel (1997) for the nested
Armington structure and the specific-factor and fixed-real-wage closures.
"""

from __future__ import annotations

import numpy as np

from model.core.layout import join, split


def factor_prices(x, p):
    r"""Log wage, employment and log price of value added from the state (twin of
    ``kernels._factor_prices``): :math:`\log p^{va} = \theta\log\hat w + (1-\theta)\log\hat r`,
    with :math:`\hat w = \hat P^c` and employment ``a`` under a fixed real wage."""
    s = p.structure
    a, lP, lr, _ = split(x, *s.beta.shape)
    frw = s.frw.astype(bool)
    lw = np.where(frw, (s.alpha * lP).sum(axis=1), np.log(np.where(frw, 1.0, a)))
    L = np.where(frw, a, 1.0)
    lpva = s.theta * lw[:, None] + np.where(s.theta < 1.0, (1.0 - s.theta) * lr, 0.0)
    return lw, L, lpva


def unit_costs(lpva, lP, beta, gamma) -> np.ndarray:
    r"""Log unit-cost change, :math:`\log\hat c_{nj} = \beta_{nj}\log\hat p^{va}_{nj}
    + \sum_k \gamma_{nkj}\log\hat P_{nk}` (docs/model.md, step 1)."""
    return beta * lpva + np.einsum("nkj,nk->nj", gamma, lP)


def prices_and_shares(lc, p):
    r"""Nested Armington price indices and shares (docs/model.md, steps 2-3; twin of
    ``kernels._prices_and_shares``); returns ``(lPs, lPe, pi1)``.

    Domestic goods against the import composite with ``sigma``, import sources with
    ``sigma_m``, preference shifts ``exp(lpref)``; ``lPe`` is the effective price index at
    benchmark preferences (``-log`` of the CES quantity index bought per unit of spending).
    """
    pi0, ltau, lpref = p.structure.pi0, p.shock.ltau, p.shock.lpref
    sigma, sigma_m = p.elasticities.sigma, p.elasticities.sigma_m
    nr = pi0.shape[0]
    eD, eM = 1.0 - sigma, 1.0 - sigma_m
    idx = np.arange(nr)
    foreign = ~np.eye(nr, dtype=bool)[:, :, None]
    d = pi0[idx, idx, :]  # [n, j]
    m0 = np.where(foreign, pi0, 0.0).sum(axis=1)
    u = ltau + lc[None, :, :]  # [n, i, j] log delivered cost
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wm = np.where(foreign & (pi0 > 0), pi0 / np.where(m0 > 0, m0, 1.0)[:, None, :], 0.0)
        sm = np.where(wm > 0, wm * np.exp(eM * u + lpref), 0.0).sum(axis=1)
        lPM = np.where(sm > 0, np.log(np.where(sm > 0, sm, 1.0)) / eM, np.inf)
        uD = u[idx, idx, :]
        dom = np.where(d > 0, d * np.exp(eD * uD + lpref[idx, idx, :]), 0.0)
        imp = np.where((m0 > 0) & np.isfinite(lPM), m0 * np.exp(eD * lPM), 0.0)
        s = dom + imp
        lPs = np.where(s > 0, np.log(np.where(s > 0, s, 1.0)) / eD, 0.0)
        pi1 = np.zeros_like(pi0)
        pi1[idx, idx, :] = np.where((d > 0) & (s > 0),
                                    d * np.exp(eD * (uD - lPs) + lpref[idx, idx, :]), 0.0)
        mT = np.where((imp > 0) & (s > 0), m0 * np.exp(eD * (lPM - lPs)), 0.0)
        inner = np.where(wm > 0, wm * np.exp(eM * (u - lPM[:, None, :]) + lpref), 0.0)
        pi1 = np.where(foreign, mT[:, None, :] * inner, pi1)
        shifted = (lpref != 0).any(axis=1)
        rD = (sigma - 1.0) / sigma
        rM = (sigma_m - 1.0) / sigma_m
        qD = np.where(d > 0, d * (pi1[idx, idx, :] / np.where(d > 0, d, 1.0) * np.exp(-uD)) ** rD,
                      0.0)
        qi = np.where(wm > 0, pi1 / np.where(pi0 > 0, pi0, 1.0) * np.exp(-u), 0.0)
        qm = (wm * qi ** rM).sum(axis=1)
        q = qD + np.where(m0 > 0, m0 * qm ** (rD / rM), 0.0)
        lPe = np.where(shifted & (s > 0), -np.log(np.where(q > 0, q, 1.0)) / rD, lPs)
    return lPs, lPe, pi1


def price_weights(p):
    r"""The constant factors of the price step within a solve (twin of
    ``kernels.prepare_weights``): ``wD[n, j]`` = :math:`\pi^0_{nnj} a_{nnj}`,
    ``wM[n, i, j]`` = :math:`\pi^0_{nij}/m^0_{nj}\,a_{nij}\,\hat\tau_{nij}^{1-\sigma^M_j}`."""
    pi0, ltau, lpref = p.structure.pi0, p.shock.ltau, p.shock.lpref
    eD, eM = 1.0 - p.elasticities.sigma, 1.0 - p.elasticities.sigma_m
    nr = pi0.shape[0]
    idx = np.arange(nr)
    foreign = ~np.eye(nr, dtype=bool)[:, :, None]
    d = pi0[idx, idx, :]
    m0 = np.where(foreign, pi0, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wD = np.where(d > 0, d * np.exp(eD * ltau[idx, idx, :] + lpref[idx, idx, :]), 0.0)
        wM = np.where(foreign & (pi0 > 0) & (m0[:, None, :] > 0),
                      pi0 / np.where(m0 > 0, m0, 1.0)[:, None, :] * np.exp(eM * ltau + lpref),
                      0.0)
    return wD, wM, m0


def prices_and_shares_prepared(lc, p, weights):
    """:func:`prices_and_shares` from the constant factors of :func:`price_weights` (twin of
    ``kernels._prices_and_shares_prepared``): the same equations, the exponentials of delivered
    costs split into a constant factor and one of unit costs."""
    wD, wM, m0 = weights
    pi0 = p.structure.pi0
    eD, eM = 1.0 - p.elasticities.sigma, 1.0 - p.elasticities.sigma_m
    nr = pi0.shape[0]
    idx = np.arange(nr)
    foreign = ~np.eye(nr, dtype=bool)[:, :, None]
    d = pi0[idx, idx, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ec = np.exp(eM * lc)  # [i, j]
        sm = (wM * ec[None, :, :]).sum(axis=1)
        lPM = np.where(sm > 0, np.log(np.where(sm > 0, sm, 1.0)) / eM, np.inf)
        dom = np.where(d > 0, wD * np.exp(eD * lc), 0.0)
        imp = np.where((m0 > 0) & np.isfinite(lPM), m0 * np.exp(eD * lPM), 0.0)
        s = dom + imp
        lPs = np.where(s > 0, np.log(np.where(s > 0, s, 1.0)) / eD, 0.0)
        pi1 = np.zeros_like(pi0)
        pi1[idx, idx, :] = np.where((d > 0) & (s > 0), wD * np.exp(eD * (lc - lPs)), 0.0)
        scale = np.where((imp > 0) & (s > 0), m0 * np.exp(eD * (lPM - lPs) - eM * lPM), 0.0)
        pi1 = np.where(foreign, scale[:, None, :] * wM * ec[None, :, :], pi1)
    if (p.shock.lpref != 0).any():  # the effective index needs the full formulation
        return lPs, prices_and_shares(lc, p)[1], pi1
    return lPs, lPs.copy(), pi1


def gross_output(pi1, p, E) -> np.ndarray:
    r"""Producer revenue :math:`Y_{ij} = \sum_n \pi_{nij}E_{nj}/((1+t_{nij})(1+e_{nij}))`."""
    return np.einsum("nij,nij,nij,nj->ij", pi1, p.shock.inv1pt, p.shock.inv1pe, E)


def tariff_revenue(pi1, p, E) -> np.ndarray:
    r""":math:`R_n = \sum_{ij} t_{nij}/(1+t_{nij})\,\pi_{nij}E_{nj}`."""
    return np.einsum("nij,nij,nj->n", 1.0 - p.shock.inv1pt, pi1, E)


def rents(pi1, p, E) -> np.ndarray:
    r"""Export-tax rents of exporter ``i``: :math:`\sum_{nj} X_{inj}\,e_{nij}/(1+e_{nij})`."""
    return np.einsum("nij,nij,nij,nj->i", pi1, p.shock.inv1pt, 1.0 - p.shock.inv1pe, E)


def expenditure_step(pi1, p, income_exog, E) -> np.ndarray:
    r"""Right-hand side of the expenditure system at ``E`` (twin of
    ``kernels._expenditure_step``): :math:`\alpha(\text{income} + R(E) + \text{rents}(E))
    + \gamma Y(E)`."""
    income = income_exog + tariff_revenue(pi1, p, E) + rents(pi1, p, E)
    s = p.structure
    return s.alpha * income[:, None] + np.einsum("njk,nk->nj", s.gamma, gross_output(pi1, p, E))


def expenditure(pi1, p, income_exog) -> np.ndarray:
    r"""Absorption solving the linear system of docs/model.md, step 4 (twin of
    ``kernels._expenditure``): the fixed point of :func:`expenditure_step`."""
    nr, _, ns = pi1.shape
    size = nr * ns
    base = expenditure_step(pi1, p, income_exog, np.zeros((nr, ns)))
    A = np.empty((size, size))
    for col in range(size):  # the system is linear: build its matrix column by column
        unit = np.zeros(size)
        unit[col] = 1.0
        A[:, col] = (expenditure_step(pi1, p, income_exog, unit.reshape(nr, ns)) - base).ravel()
    return np.linalg.solve(np.eye(size) - A, base.ravel()).reshape(nr, ns)


def evaluate(x, p, weights=None) -> dict:
    """Steps 1-5 at the state ``x`` (twin of ``kernels.evaluate``); with ``weights`` (from
    :func:`price_weights`, once per solve) the price step uses the prepared formulation."""
    s = p.structure
    _, lP, lr, e = split(x, *s.beta.shape)
    lw, L, lpva = factor_prices(x, p)
    lc = unit_costs(lpva, lP, s.beta, s.gamma)
    if weights is None:
        lPs, lPe, pi1 = prices_and_shares(lc, p)
    else:
        lPs, lPe, pi1 = prices_and_shares_prepared(lc, p, weights)
    income = (np.exp(lw) * L * s.vaL + p.shock.D1
              + np.where(s.vaK > 0, np.exp(lr) * s.vaK, 0.0).sum(1))
    if p.direct:
        E1 = expenditure(pi1, p, income)
    else:
        E1 = expenditure_step(pi1, p, income, e * s.E0)
    Y1 = gross_output(pi1, p, E1)
    return {"lw": lw, "L": L, "lpva": lpva, "lc": lc, "lPs": lPs, "lP": lPe, "pi1": pi1,
            "E1": E1, "Y1": Y1, "income": income, "rents": rents(pi1, p, E1),
            "LD": (s.theta * s.beta * Y1).sum(axis=1), "KD": (1.0 - s.theta) * s.beta * Y1}


def fixed_point_map(x, p, damping, weights=None):
    """The map ``G`` of the joint fixed point (twin of ``fixed_point.fixed_point_map``;
    ``weights`` as in :func:`evaluate`); returns
    ``(G(x), factor residual, price residual, absorption residual)``."""
    s = p.structure
    a, lP, lr, e = split(x, *s.beta.shape)
    out = evaluate(x, p, weights)
    world = s.va.sum()
    frw = s.frw.astype(bool)
    w = np.exp(out["lw"])
    has_k = s.vaK > 0
    res_f = max(np.max(np.abs(out["LD"] - w * out["L"] * s.vaL)),
                np.max(np.where(has_k, np.abs(out["KD"] - np.exp(lr) * s.vaK), 0.0))) / world
    h = np.where(frw, np.exp((s.alpha * out["lP"]).sum(axis=1)) * s.vaL, out["LD"]).sum()
    h += np.where(has_k, out["KD"], 0.0).sum()
    scale = world / h
    a_new = np.where(frw, out["LD"] / (w * s.vaL), out["LD"] / s.vaL * scale)
    d = out["lP"] - lP
    with np.errstate(divide="ignore"):
        lr_new = np.where(has_k, np.log(np.where(has_k, out["KD"] / np.where(has_k, s.vaK, 1.0),
                                                 1.0)) + np.log(scale), lr)
    e_new = out["E1"] / s.E0
    g = join(a + damping * (a_new - a), lP + damping * (d + np.log(scale)),
             lr + damping * (lr_new - lr), e + damping * (e_new - e))
    res_e = np.max(np.abs(out["E1"] - e * s.E0)) / world
    return g, res_f, np.max(np.abs(d)), res_e

r"""NumPy reference implementation of the equilibrium in changes (model.md).

Each function is the twin of a kernel in :mod:`model.kernels`, written with array operations
so it reads like the equations; the tests check that both agree.  Prices are in logs; ``p`` is
a :class:`~model.kernels.KernelParams`.

References: Dekle, Eaton & Kortum (2007) for exact hat algebra; Caliendo & Parro (2015) for the
input-output structure and the linear expenditure system; Hertel (1997) for the nested
Armington structure and the specific-factor and fixed-real-wage closures.
"""

from __future__ import annotations

import numpy as np


def _split(x, nr, ns):
    a = x[:nr]
    lP = x[nr:nr + nr * ns].reshape(nr, ns)
    lr = x[nr + nr * ns:nr + 2 * nr * ns].reshape(nr, ns)
    e = x[nr + 2 * nr * ns:].reshape(nr, ns)
    return a, lP, lr, e


def factor_prices(x, p):
    r"""Log wage, employment and log price of value added from the state (twin of
    ``kernels._factor_prices``): :math:`\log p^{va} = \theta\log\hat w + (1-\theta)\log\hat r`,
    with :math:`\hat w = \hat P^c` and employment ``a`` under a fixed real wage."""
    nr, ns = p.beta.shape
    a, lP, lr, _ = _split(x, nr, ns)
    frw = p.frw.astype(bool)
    lw = np.where(frw, (p.alpha * lP).sum(axis=1), np.log(np.where(frw, 1.0, a)))
    L = np.where(frw, a, 1.0)
    lpva = p.theta * lw[:, None] + np.where(p.theta < 1.0, (1.0 - p.theta) * lr, 0.0)
    return lw, L, lpva


def unit_costs(lpva, lP, beta, gamma) -> np.ndarray:
    r"""Log unit-cost change, :math:`\log\hat c_{nj} = \beta_{nj}\log\hat p^{va}_{nj}
    + \sum_k \gamma_{nkj}\log\hat P_{nk}` (model.md step 1)."""
    return beta * lpva + np.einsum("nkj,nk->nj", gamma, lP)


def prices_and_shares(lc, p):
    r"""Nested Armington price indices and shares (model.md steps 2-3; twin of
    ``kernels._prices_and_shares``); returns ``(lPs, lPe, pi1)``.

    Domestic goods against the import composite with ``sigma``, import sources with
    ``sigma_m``, preference shifts ``exp(lpref)``; ``lPe`` is the effective price index at
    benchmark preferences (``-log`` of the CES quantity index bought per unit of spending).
    """
    nr, _, ns = p.pi0.shape
    eD, eM = 1.0 - p.sigma, 1.0 - p.sigma_m
    idx = np.arange(nr)
    foreign = ~np.eye(nr, dtype=bool)[:, :, None]
    pi0 = p.pi0
    d = pi0[idx, idx, :]  # [n, j]
    m0 = np.where(foreign, pi0, 0.0).sum(axis=1)
    u = p.ltau + lc[None, :, :]  # [n, i, j] log delivered cost
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        wm = np.where(foreign & (pi0 > 0), pi0 / np.where(m0 > 0, m0, 1.0)[:, None, :], 0.0)
        sm = np.where(wm > 0, wm * np.exp(eM * u + p.lpref), 0.0).sum(axis=1)
        lPM = np.where(sm > 0, np.log(np.where(sm > 0, sm, 1.0)) / eM, np.inf)
        uD = u[idx, idx, :]
        dom = np.where(d > 0, d * np.exp(eD * uD + p.lpref[idx, idx, :]), 0.0)
        imp = np.where((m0 > 0) & np.isfinite(lPM), m0 * np.exp(eD * lPM), 0.0)
        s = dom + imp
        lPs = np.where(s > 0, np.log(np.where(s > 0, s, 1.0)) / eD, 0.0)
        pi1 = np.zeros_like(pi0)
        pi1[idx, idx, :] = np.where((d > 0) & (s > 0),
                                    d * np.exp(eD * (uD - lPs) + p.lpref[idx, idx, :]), 0.0)
        mT = np.where((imp > 0) & (s > 0), m0 * np.exp(eD * (lPM - lPs)), 0.0)
        inner = np.where(wm > 0, wm * np.exp(eM * (u - lPM[:, None, :]) + p.lpref), 0.0)
        pi1 = np.where(foreign, mT[:, None, :] * inner, pi1)
        shifted = (p.lpref != 0).any(axis=1)
        rD = (p.sigma - 1.0) / p.sigma
        rM = (p.sigma_m - 1.0) / p.sigma_m
        qD = np.where(d > 0, d * (pi1[idx, idx, :] / np.where(d > 0, d, 1.0) * np.exp(-uD)) ** rD,
                      0.0)
        qi = np.where(wm > 0, pi1 / np.where(pi0 > 0, pi0, 1.0) * np.exp(-u), 0.0)
        qm = (wm * qi ** rM).sum(axis=1)
        q = qD + np.where(m0 > 0, m0 * qm ** (rD / rM), 0.0)
        lPe = np.where(shifted & (s > 0), -np.log(np.where(q > 0, q, 1.0)) / rD, lPs)
    return lPs, lPe, pi1


def gross_output(pi1, p, E) -> np.ndarray:
    r"""Producer revenue :math:`Y_{ij} = \sum_n \pi_{nij}E_{nj}/((1+t_{nij})(1+e_{nij}))`."""
    return np.einsum("nij,nij,nij,nj->ij", pi1, p.inv1pt, p.inv1pe, E)


def tariff_revenue(pi1, p, E) -> np.ndarray:
    r""":math:`R_n = \sum_{ij} t_{nij}/(1+t_{nij})\,\pi_{nij}E_{nj}`."""
    return np.einsum("nij,nij,nj->n", 1.0 - p.inv1pt, pi1, E)


def rents(pi1, p, E) -> np.ndarray:
    r"""Export-tax rents of exporter ``i``: :math:`\sum_{nj} X_{inj}\,e_{nij}/(1+e_{nij})`."""
    return np.einsum("nij,nij,nij,nj->i", pi1, p.inv1pt, 1.0 - p.inv1pe, E)


def expenditure_step(pi1, p, income_exog, E) -> np.ndarray:
    r"""Right-hand side of the expenditure system at ``E`` (twin of
    ``kernels._expenditure_step``): :math:`\alpha(\text{income} + R(E) + \text{rents}(E))
    + \gamma Y(E)`."""
    income = income_exog + tariff_revenue(pi1, p, E) + rents(pi1, p, E)
    return p.alpha * income[:, None] + np.einsum("njk,nk->nj", p.gamma, gross_output(pi1, p, E))


def expenditure(pi1, p, income_exog) -> np.ndarray:
    r"""Absorption solving the linear system of model.md step 4 (twin of
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


def evaluate(x, p) -> dict:
    """Steps 1-5 at the state ``x`` (twin of ``kernels._evaluate``)."""
    nr, ns = p.beta.shape
    _, lP, lr, e = _split(x, nr, ns)
    lw, L, lpva = factor_prices(x, p)
    lc = unit_costs(lpva, lP, p.beta, p.gamma)
    lPs, lPe, pi1 = prices_and_shares(lc, p)
    income = np.exp(lw) * L * p.vaL + p.D1 + np.where(p.vaK > 0, np.exp(lr) * p.vaK, 0.0).sum(1)
    if p.direct:
        E1 = expenditure(pi1, p, income)
    else:
        E1 = expenditure_step(pi1, p, income, e * p.E0)
    Y1 = gross_output(pi1, p, E1)
    return {"lw": lw, "L": L, "lpva": lpva, "lc": lc, "lPs": lPs, "lP": lPe, "pi1": pi1,
            "E1": E1, "Y1": Y1, "income": income, "rents": rents(pi1, p, E1),
            "LD": (p.theta * p.beta * Y1).sum(axis=1), "KD": (1.0 - p.theta) * p.beta * Y1}


def fixed_point_map(x, p, damping):
    """The map ``G`` of the joint fixed point (twin of ``kernels._fixed_point_map``); returns
    ``(G(x), factor residual, price residual, absorption residual)``."""
    nr, ns = p.beta.shape
    a, lP, lr, e = _split(x, nr, ns)
    out = evaluate(x, p)
    world = p.va.sum()
    frw = p.frw.astype(bool)
    w = np.exp(out["lw"])
    has_k = p.vaK > 0
    res_f = max(np.max(np.abs(out["LD"] - w * out["L"] * p.vaL)),
                np.max(np.where(has_k, np.abs(out["KD"] - np.exp(lr) * p.vaK), 0.0))) / world
    h = np.where(frw, np.exp((p.alpha * out["lP"]).sum(axis=1)) * p.vaL, out["LD"]).sum()
    h += np.where(has_k, out["KD"], 0.0).sum()
    scale = world / h
    a_new = np.where(frw, out["LD"] / (w * p.vaL), out["LD"] / p.vaL * scale)
    d = out["lP"] - lP
    with np.errstate(divide="ignore"):
        lr_new = np.where(has_k, np.log(np.where(has_k, out["KD"] / np.where(has_k, p.vaK, 1.0),
                                                 1.0)) + np.log(scale), lr)
    e_new = out["E1"] / p.E0
    g = np.concatenate([a + damping * (a_new - a), (lP + damping * (d + np.log(scale))).ravel(),
                        (lr + damping * (lr_new - lr)).ravel(),
                        (e + damping * (e_new - e)).ravel()])
    res_e = np.max(np.abs(out["E1"] - e * p.E0)) / world
    return g, res_f, np.max(np.abs(d)), res_e

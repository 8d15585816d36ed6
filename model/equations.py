r"""NumPy reference implementation of the equilibrium in changes (model.md).

Each function is the twin of a kernel in :mod:`model.kernels`, written with array operations
so it reads like the equations; the tests check that both agree.  Prices are in logs.

References: Dekle, Eaton & Kortum (2007) for exact hat algebra; Caliendo & Parro (2015) for the
input-output structure and the linear expenditure system.
"""

from __future__ import annotations

import numpy as np


def unit_costs(lw: np.ndarray, lP: np.ndarray, beta: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    r"""Log unit-cost change, :math:`\log\hat c_{nj} = \beta_{nj}\log\hat w_n
    + \sum_k \gamma_{nkj}\log\hat P_{nk}` (model.md step 1)."""
    return beta * lw[:, None] + np.einsum("nkj,nk->nj", gamma, lP)


def price_index(lc: np.ndarray, pi0: np.ndarray, ltau: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    r"""Log CES price-index change (model.md step 2),
    :math:`\hat P_{nj}^{1-\sigma_j} = \sum_i \pi^0_{nij}(\hat\tau_{nij}\hat c_{ij})^{1-\sigma_j}`;
    0 where a sector has no absorption."""
    e = 1.0 - sigma
    with np.errstate(over="ignore", invalid="ignore"):
        terms = np.where(pi0 > 0, pi0 * np.exp(e * (ltau + lc[None, :, :])), 0.0)
    total = terms.sum(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(total > 0, np.log(np.where(total > 0, total, 1.0)) / e, 0.0)


def trade_shares(lc, lP, pi0, ltau, sigma) -> np.ndarray:
    r""":math:`\pi^1_{nij} = \pi^0_{nij}(\hat\tau_{nij}\hat c_{ij}/\hat P_{nj})^{1-\sigma_j}`
    (model.md step 3)."""
    e = 1.0 - sigma
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(pi0 > 0, pi0 * np.exp(e * (ltau + lc[None, :, :] - lP[:, None, :])), 0.0)


def expenditure(pi1, inv1pt, alpha, gamma, income_exog) -> np.ndarray:
    r"""Absorption :math:`E^1` from the linear system of model.md step 4.

    :math:`E = \alpha\,(\hat w VA^0 + D^1 + R(E)) + \gamma\, Y(E)` with
    :math:`Y_{ik} = \sum_m \pi_{mik} E_{mk}/(1+t_{mik})` and
    :math:`R_n = \sum_{ik} t_{nik}/(1+t_{nik})\, \pi_{nik} E_{nk}`.
    """
    nr, _, ns = pi1.shape
    rev = ((1.0 - inv1pt) * pi1).sum(axis=1)  # [n, k]: revenue per unit of spending on k
    sales = pi1 * inv1pt  # [m, n, k]: producer revenue of n per unit of m's spending on k
    A = np.zeros((nr, ns, nr, ns))
    idx = np.arange(nr)
    A[idx, :, idx, :] += alpha[:, :, None] * rev[:, None, :]
    # A[n, j, m, k] += gamma[n, j, k] * sales[m, n, k]
    A += np.einsum("njk,mnk->njmk", gamma, sales)
    size = nr * ns
    lhs = np.eye(size) - A.reshape(size, size)
    rhs = (alpha * income_exog[:, None]).reshape(size)
    return np.linalg.solve(lhs, rhs).reshape(nr, ns)


def gross_output(pi1, inv1pt, E1) -> np.ndarray:
    r""":math:`Y^1_{ij} = \sum_n \pi^1_{nij} E^1_{nj}/(1+t^1_{nij})`."""
    return np.einsum("nij,nij,nj->ij", pi1, inv1pt, E1)


def tariff_revenue(pi1, inv1pt, E1) -> np.ndarray:
    r""":math:`R^1_n = \sum_{ij} t^1_{nij}/(1+t^1_{nij})\,\pi^1_{nij}E^1_{nj}`."""
    return np.einsum("nij,nij,nj->n", 1.0 - inv1pt, pi1, E1)


def labour_demand(beta, Y1) -> np.ndarray:
    r"""Wage bill demanded, :math:`\sum_j \beta_{nj} Y^1_{nj}` (model.md step 5)."""
    return (beta * Y1).sum(axis=1)


def expenditure_step(pi1, inv1pt, alpha, gamma, income_exog, E) -> np.ndarray:
    r"""Right-hand side of the expenditure system at ``E`` (one Jacobi step; twin of
    ``kernels._expenditure_step``): :math:`\alpha(\hat w VA^0 + D^1 + R(E)) + \gamma Y(E)`."""
    Y = gross_output(pi1, inv1pt, E)
    R = tariff_revenue(pi1, inv1pt, E)
    return alpha * (income_exog + R)[:, None] + np.einsum("njk,nk->nj", gamma, Y)


def evaluate(w, lP, p, E=None) -> dict:
    """Steps 1-5 at wages ``w`` and log price indices ``lP`` (twin of ``kernels._evaluate``);
    ``p`` is a :class:`~model.kernels.KernelParams`.  Absorption solves the linear system, or,
    when ``E`` is given, takes one Jacobi step from it."""
    lc = unit_costs(np.log(w), lP, p.beta, p.gamma)
    lP_new = price_index(lc, p.pi0, p.ltau, p.sigma)
    pi1 = trade_shares(lc, lP_new, p.pi0, p.ltau, p.sigma)
    income = w * p.va + p.D1
    if E is None:
        E1 = expenditure(pi1, p.inv1pt, p.alpha, p.gamma, income)
    else:
        E1 = expenditure_step(pi1, p.inv1pt, p.alpha, p.gamma, income, E)
    Y1 = gross_output(pi1, p.inv1pt, E1)
    return {"lc": lc, "lP": lP_new, "pi1": pi1, "E1": E1, "Y1": Y1,
            "demand": labour_demand(p.beta, Y1)}


def fixed_point_map(x, p, damping):
    """The map ``G`` of the joint fixed point in ``x = (w_hat, log P_hat, E / E0)`` (twin of
    ``kernels._fixed_point_map``); returns ``(G(x), labour, price and absorption residuals)``."""
    nr, ns = p.beta.shape
    w = x[:nr]
    lP = x[nr:nr + nr * ns].reshape(nr, ns)
    E = x[nr + nr * ns:].reshape(nr, ns) * p.E0
    out = evaluate(w, lP, p, None if p.direct else E)
    demand = out["demand"]
    world = p.va.sum()
    res_w = np.max(np.abs(demand - w * p.va)) / world
    w_new = demand / p.va * (world / demand.sum())
    d = out["lP"] - lP
    e_new = out["E1"] / p.E0
    e_old = x[nr + nr * ns:].reshape(nr, ns)
    g = np.concatenate([w + damping * (w_new - w), (lP + damping * d).ravel(),
                        (e_old + damping * (e_new - e_old)).ravel()])
    res_e = np.max(np.abs(out["E1"] - E)) / world
    return g, res_w, np.max(np.abs(d)), res_e

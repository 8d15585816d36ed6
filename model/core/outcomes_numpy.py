r"""NumPy twin of the compiled outcomes (:mod:`model.core.outcomes`), as plain arrays.

It reads like docs/model.md ("Outcomes"); the tests check that it agrees with the compiled
function, and the welfare decomposition uses its flow prices and income along the path of a
shock.  Percent changes are ``100 (x1 / x0 - 1)``; values are in the dataset's unit at
numeraire prices (world value added is held at its benchmark level).
"""

from __future__ import annotations

import numpy as np

from calibration.accounts import bilateral_balance, off_diagonal, trade_balance
from calibration.calibrate import Benchmark
from model.core.policy import Policy
from model.core.solver import Solution


def shipments(pi1: np.ndarray, E1: np.ndarray, t1: np.ndarray) -> np.ndarray:
    """Counterfactual shipments ``X1[i, n, j] = pi1[n, i, j] E1[n, j] / (1 + t1[n, i, j])``."""
    spend = pi1 * E1[:, None, :] / (1.0 + t1)
    return np.transpose(spend, (1, 0, 2))


def shipments_at(pi1: np.ndarray, E1: np.ndarray, t1: np.ndarray, n, i,
                 j=slice(None)) -> np.ndarray:
    """``X1[i, n, j]`` of :func:`shipments` alone, the same numbers, for importers ``n``,
    exporters ``i`` and sectors ``j`` (index arrays of one shape, or one pair of regions and
    every sector): a search needs a few flows at every solve, not all of them."""
    return pi1[n, i, j] * E1[n, j] / (1.0 + t1[n, i, j])


def consumer_price_index(alpha: np.ndarray, P_hat: np.ndarray) -> np.ndarray:
    r"""Cobb-Douglas consumer price change :math:`\hat P^c_n = \prod_j \hat P_{nj}^{\alpha_{nj}}`."""
    return np.exp((alpha * np.log(P_hat)).sum(axis=1))


def tornqvist(log_price: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> np.ndarray:
    r"""Törnqvist index change over the last two axes: :math:`\exp\sum \bar s \log\hat p` with
    :math:`\bar s` the mean of benchmark and counterfactual value shares."""
    t0 = v0.sum(axis=(-2, -1), keepdims=True)
    t1 = v1.sum(axis=(-2, -1), keepdims=True)
    if not (t0 > 0).all() or not (t1 > 0).all():
        return np.nan  # no trade in one of the two situations: no price index
    weights = 0.5 * (v0 / t0 + v1 / t1)
    return np.exp(np.where(weights > 0, weights * log_price, 0.0).sum(axis=(-2, -1)))


def flow_price(policy: Policy, sol: Solution) -> np.ndarray:
    r"""Price change of each flow ``[i, n, j]`` as the importer pays it before its tariff (cif):
    :math:`\hat d_{nij}(1+e_{nij})\hat c_{ij}`, delivered cost including any export tax."""
    wedge = policy.d_hat * (1.0 + policy.e1)  # [n, i, j]
    return sol.c_hat[:, None, :] * np.transpose(wedge, (1, 0, 2))


def fob_price(policy: Policy, sol: Solution) -> np.ndarray:
    r"""Price change of each flow ``[i, n, j]`` as it leaves the exporter (fob):
    :math:`(1+e_{nij})\hat c_{ij}`; shipping costs (iceberg) are paid by the flow's importer."""
    return sol.c_hat[:, None, :] * np.transpose(1.0 + policy.e1, (1, 0, 2))


def terms_of_trade(bm: Benchmark, policy: Policy, sol: Solution, X1: np.ndarray) -> np.ndarray:
    r"""Percent change of the export over the import price index (Törnqvist), exports at fob
    and imports at cif prices, as GTAP's ``tot``: dearer shipping worsens the importer's terms
    of trade, and an export tax (or restraint) improves the exporter's."""
    nr = len(bm.regions)
    lx = np.log(fob_price(policy, sol))  # [i, n, j]
    lm = np.log(flow_price(policy, sol))
    X0f, X1f = off_diagonal(bm.X0), off_diagonal(X1)
    px = np.array([tornqvist(lx[n], X0f[n], X1f[n]) for n in range(nr)])
    pm = np.array([tornqvist(lm[:, n], X0f[:, n], X1f[:, n]) for n in range(nr)])
    return 100.0 * (px / pm - 1.0)


def real_gdp(bm: Benchmark, policy: Policy, sol: Solution, F1: np.ndarray, X1: np.ndarray):
    r"""Percent change of GDP at benchmark prices, expenditure side (GTAP's ``qgdp``).

    Final demand quantities :math:`F^1_{nj}/\hat P_{nj}` plus export volumes (fob: value over
    :func:`fob_price`, the quantity shipped) minus import volumes (cif: value over
    :func:`flow_price`, the quantity delivered); the benchmark is
    :math:`\sum_j F^0_{nj} + \text{exports} - \text{imports} = VA^0_n + R^0_n`.
    """
    exp1 = off_diagonal(X1) / fob_price(policy, sol)
    imp1 = off_diagonal(X1) / flow_price(policy, sol)
    vol0 = off_diagonal(bm.X0)
    gdp1 = (F1 / sol.P_hat).sum(axis=1) + exp1.sum(axis=(1, 2)) - imp1.sum(axis=(0, 2))
    gdp0 = bm.F0.sum(axis=1) + vol0.sum(axis=(1, 2)) - vol0.sum(axis=(0, 2))
    return 100.0 * (gdp1 / gdp0 - 1.0)


def income(bm: Benchmark, policy: Policy, sol: Solution):
    r"""Counterfactual income, tariff revenue and factor income (value added) of each region:
    :math:`I^1 = \hat w\hat L VA^L + \sum_j \hat r_j VA^K_j + R^1 + D^1 + \text{rents}`."""
    share = 1.0 - 1.0 / (1.0 + policy.t1)  # t/(1+t), 1 for a prohibitive (infinite) tariff
    R1 = np.einsum("nij,nij,nj->n", share, sol.pi1, sol.E1)
    labour = sol.w_hat * sol.L_hat * (policy.theta * bm.VA0).sum(axis=1)
    capital = (sol.r_hat * (1.0 - policy.theta) * bm.VA0).sum(axis=1)
    factors = labour + capital
    return factors + R1 + policy.D1 + sol.rents, R1, factors


def outcomes(bm: Benchmark, policy: Policy, sol: Solution) -> dict[str, np.ndarray]:
    """Every outcome of docs/model.md for one solved scenario, keyed by variable name (the twin
    of :func:`model.core.outcomes.outcomes`)."""
    policy = sol.policy if sol.policy is not None else policy  # quotas: the effective one
    X1 = shipments(sol.pi1, sol.E1, policy.t1)
    I1, R1, factors = income(bm, policy, sol)
    F1 = bm.alpha * I1[:, None]
    Pc = consumer_price_index(bm.alpha, sol.P_hat)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_hat = np.where(bm.Y0 > 0, sol.Y1 / bm.Y0, np.nan)
        employment = np.where(bm.beta * policy.theta > 0, y_hat / sol.w_hat[:, None], np.nan)
    return {
        "welfare": 100.0 * (I1 / bm.I0 / Pc - 1.0),
        "welfare_ev": I1 / Pc - bm.I0,
        "real_wage": 100.0 * (sol.w_hat / Pc - 1.0),
        "wage": sol.w_hat.copy(),
        "price_index": Pc,
        "real_gdp": real_gdp(bm, policy, sol, F1, X1),
        "output": 100.0 * (y_hat / sol.c_hat - 1.0),
        "employment": 100.0 * (employment - 1.0),
        "employment_total": 100.0 * (sol.L_hat - 1.0),
        "trade": X1,
        "trade_balance": trade_balance(X1),
        "bilateral_balance": bilateral_balance(X1),
        "tariff_revenue": R1,
        "export_tax_rents": sol.rents.copy(),
        "terms_of_trade": terms_of_trade(bm, policy, sol, X1),
        "income": I1,
        "value_added": factors,
        "gross_output": sol.Y1.copy(),
        "absorption": sol.E1.copy(),
        "sector_price": sol.P_hat.copy(),
        "unit_cost": sol.c_hat.copy(),
        "capital_rental": sol.r_hat.copy(),
    }

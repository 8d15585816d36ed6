r"""Welfare decomposition by integration along the path of the shock (Huff & Hertel 2000).

The shock is applied in steps, :math:`\lambda` from 0 to 1 (tariffs, export taxes and deficits
move linearly; trade costs and preference shifts geometrically), and the model is solved at
every step.  Along the path, for each region, with benchmark prices normalised to one so that
values are quantities at benchmark prices,

.. math::
    I\,d\ln U = \sum_j P_j\,df_j
    = \underbrace{dD}_{\text{transfer}}
    + \underbrace{\sum_{m} Q_{nm}\,dp^{fob}_{nm}
      - \sum_{i} q_{in}\,dp_{in}}_{\text{terms of trade}}
    + \underbrace{\sum_{i\ne n}t_{ni}\,p_{in}\,dq_{in} + \sum_m e_{mn}\hat c_n\,dQ_{nm}}_{
      \text{volume of trade (efficiency)}}
    + \underbrace{\sum_i (1+t_{ni})\rho_{ni}\,p_{in}\,dq_{in}}_{\text{preference wedges}}
    + \underbrace{\hat w\,VA^L\,d\hat L}_{\text{employment}}

where ``q`` and ``p`` are the quantity delivered and the cif price (before the tariff) of each
flow, ``Q`` and :math:`p^{fob}` the quantity shipped and the fob price (shipping is the
importer's cost, so iceberg changes appear in its terms of trade), ``t`` tariffs, ``e``
export taxes, :math:`\rho` the gap between a variety's marginal value at benchmark preferences
and its price (zero without preference shifts) and ``f`` final demand quantities.  It follows
from the budget constraint, cost minimisation (Shephard's lemma) and the resource constraints
alone, so it holds exactly at every point of the path.  Each term, weighted by
:math:`\hat U / I`, is integrated with the trapezoid rule on ``steps`` and ``2 steps`` and
Richardson-extrapolated (as GEMPACK's multi-step solutions are), so the parts add up to the
total welfare change to about 1e-8 (percentage points).
"""

from __future__ import annotations

import numpy as np

from calibration.accounts import off_diagonal
from calibration.calibrate import Benchmark
# DECOMPOSITION (the parts' declarations) stays importable from here
from model.core.catalogue import DECOMPOSITION, NET, PARTS, TOTAL  # noqa: F401
from model.core.outcomes_numpy import (consumer_price_index, flow_price, fob_price, income,
                                       shipments)
from model.core.policy import Policy
from model.core.settings import ModelError
from model.core.settings import SolverSettings
from model.core.solver import Solution, solve

def policy_at(bm: Benchmark, policy: Policy, lam: float) -> Policy:
    """The policy a fraction ``lam`` of the way from the benchmark to ``policy``."""
    return policy.replace(
        t1=bm.t0 + lam * (policy.t1 - bm.t0),
        d_hat=np.exp(lam * np.log(policy.d_hat)),
        D1=bm.D0 + lam * (policy.D1 - bm.D0),
        e1=lam * policy.e1,
        pref=np.exp(lam * np.log(policy.pref)),
    )


def _point(bm: Benchmark, pol: Policy, sol: Solution) -> dict:
    """Levels along the path that the decomposition differentiates."""
    X = shipments(sol.pi1, sol.E1, pol.t1)  # [i, n, j]
    p = flow_price(pol, sol)  # cif, [i, n, j]
    pf = fob_price(pol, sol)
    foreign = off_diagonal(X)
    I1, _, _ = income(bm, pol, sol)
    return {
        "q": X / p, "p": p, "qf": X / pf, "pf": pf, "t": np.transpose(pol.t1, (1, 0, 2)),
        "e": np.transpose(pol.e1, (1, 0, 2)), "c": sol.c_hat, "rho": _wedges(bm, pol, sol, X / p),
        "D": foreign.sum(axis=(0, 2)) - foreign.sum(axis=(1, 2)), "I": I1,
        "U": I1 / bm.I0 / consumer_price_index(bm.alpha, sol.P_hat),
        "wL": sol.w_hat * (pol.theta * bm.VA0).sum(axis=1), "L": sol.L_hat,
    }


def _wedges(bm: Benchmark, pol: Policy, sol: Solution, q: np.ndarray) -> np.ndarray:
    r"""``rho[i, n, j]``: marginal value of variety ``i`` at benchmark preferences over its
    tariff-inclusive price, minus one (nested CES; zero at a cost-minimising choice)."""
    nr, ns = bm.shape
    sigma = bm.sigma
    sigma_m = bm.sigma_m if pol.nested else bm.sigma
    rho = np.zeros((nr, nr, ns))
    shifted = (bm.E0 > 0) & (np.asarray(pol.pref) != 1).any(axis=1)  # [n, j]
    if not shifted.any():  # no preference shift: no wedge anywhere
        return rho
    with np.errstate(divide="ignore", invalid="ignore"):
        q_hat = np.where(bm.X0 > 0, q / np.where(bm.X0 > 0, bm.X0, 1.0), 0.0)  # [i, n, j]
        tau = np.transpose(pol.d_hat * (1 + pol.e1) * (1 + pol.t1) / (1 + bm.t0), (1, 0, 2))
        for n, j in np.argwhere(shifted):
            A = sol.E1[n, j] / bm.E0[n, j] / sol.P_hat[n, j]
            pi0 = bm.pi0[n, :, j]
            m0 = pi0.sum() - pi0[n]
            rM = (sigma_m[j] - 1) / sigma_m[j]
            imp = [i for i in range(nr) if i != n and pi0[i] > 0]
            QM = (sum(pi0[i] / m0 * q_hat[i, n, j] ** rM for i in imp)) ** (1 / rM) if imp \
                else 0.0
            for i in range(nr):
                if pi0[i] <= 0 or q_hat[i, n, j] <= 0:
                    continue
                if i == n:
                    mv = (q_hat[n, n, j] / A) ** (-1 / sigma[j])
                else:
                    mv = (QM / A) ** (-1 / sigma[j]) * (q_hat[i, n, j] / QM) ** (-1 / sigma_m[j])
                rho[i, n, j] = sol.P_hat[n, j] * mv / (tau[i, n, j] * sol.c_hat[i, j]) - 1.0
    return rho


def _increments(a: dict, b: dict) -> dict:
    """Each part of :math:`I\\,d\\ln U` over each step, by the trapezoid rule, for every region:
    ``a`` and ``b`` hold the levels (:func:`_point`) at the start and the end of the steps,
    stacked along a first axis of steps.  Every flow's terms are summed in one memory order
    (C), whatever order NumPy gives their product, so that a step's sums do not depend on the
    number of steps taken at once."""
    mid = {k: 0.5 * (a[k] + b[k]) for k in ("q", "p", "qf", "t", "e", "c", "rho", "wL")}
    dq, dp, dqf, dpf = b["q"] - a["q"], b["p"] - a["p"], b["qf"] - a["qf"], b["pf"] - a["pf"]
    foreign = off_diagonal(np.ones(a["q"].shape[1:]))

    def total(terms, axis):
        return np.ascontiguousarray(terms).sum(axis=axis)

    exp_tot = total(foreign * mid["qf"] * dpf, (2, 3))  # exporter i, fob: sum over n, j
    imp_tot = total(foreign * mid["q"] * dp, (1, 3))  # importer n, cif: sum over i, j
    tariff = total(foreign * mid["t"] * mid["p"] * dq, (1, 3))
    export_tax = total(foreign * mid["e"] * mid["c"][:, :, None, :] * dqf, (2, 3))
    pref = total((1 + mid["t"]) * mid["rho"] * mid["p"] * dq, (1, 3))
    return {
        "welfare_tot": exp_tot - imp_tot,
        "welfare_volume": tariff + export_tax,
        "welfare_preference": pref,
        "welfare_transfer": b["D"] - a["D"],
        "welfare_employment": mid["wL"] * (b["L"] - a["L"]),
    }


#: flows (importer x exporter x sector cells times steps) whose increments are formed at once
#: by :func:`_integrate`: its temporaries stay near those of a few steps of a large model
BLOCK_CELLS = 1 << 16


def _integrate(points: list[dict]) -> dict:
    """The trapezoid sums of the parts over the path ``points`` (the levels of :func:`_point`),
    each step weighted by :math:`100\\,\\hat U / I` and added in order to a running sum from
    zero; the steps are formed a block at a time (:data:`BLOCK_CELLS`), which changes no
    number."""
    cells = points[0]["q"].size
    block = max(1, BLOCK_CELLS // cells)  # steps at once
    total = {k: 0.0 for k in PARTS}
    for start in range(0, len(points) - 1, block):
        chunk = points[start:start + block + 1]
        stacked = {k: np.stack([p[k] for p in chunk]) for k in chunk[0]}
        a = {k: v[:-1] for k, v in stacked.items()}
        b = {k: v[1:] for k, v in stacked.items()}
        weight = 100.0 * 0.5 * (a["U"] / a["I"] + b["U"] / b["I"])
        for k, v in _increments(a, b).items():
            running = np.concatenate([np.broadcast_to(total[k], v.shape[1:])[None], weight * v])
            total[k] = running.cumsum(axis=0)[-1]
    return total


def decompose(bm: Benchmark, policy: Policy, settings: SolverSettings = SolverSettings(),
              steps: int = 32) -> dict[str, np.ndarray]:
    """Welfare decomposition of ``policy`` (percentage points of benchmark income per region).

    Solves the model at ``2 steps + 1`` points of the path and Richardson-extrapolates the
    trapezoid sums on ``steps`` and ``2 steps`` intervals.  Returns the parts in ``PARTS``,
    ``welfare_path_total`` (``TOTAL``), their sum, which equals the welfare change up to the
    integration error (the tests hold it to 1e-8), and ``welfare_net_of_transfer`` (``NET``),
    the sum without the transfer part.  A policy with quotas is decomposed through its effective
    policy (``Solution.policy``: the quotas' tariff equivalents and rent transfers).
    """
    if policy.quotas is not None:
        raise ModelError("decompose the effective policy of a solution (Solution.policy), in "
                         "which the quotas are tariff equivalents")
    if not (np.isfinite(policy.t1).all() and np.isfinite(policy.d_hat).all()):
        nan = np.full(len(bm.regions), np.nan)
        return {**{k: nan for k in PARTS}, TOTAL: nan, NET: nan}
    fine = 2 * steps
    points, x = [], None
    previous = None
    for lam in np.linspace(0.0, 1.0, fine + 1):
        pol = policy_at(bm, policy, float(lam))
        # start from the straight line through the last two points of the path
        start = x if previous is None else 2.0 * x - previous
        sol = solve(bm, pol, settings, x0=start)
        previous, x = x, sol.x
        points.append(_point(bm, pol, sol))
    coarse, dense = _integrate(points[::2]), _integrate(points)
    parts = {k: (4.0 * dense[k] - coarse[k]) / 3.0 for k in PARTS}
    parts[TOTAL] = sum(parts[k] for k in PARTS)
    parts[NET] = parts[TOTAL] - parts["welfare_transfer"]
    return parts

r"""Benchmark shares and accounts of the model, computed from a checked dataset.

Everything the counterfactual needs in exact hat algebra (Dekle, Eaton & Kortum 2007;
Caliendo & Parro 2015) is a value share of the benchmark:

.. math::
    E^0_{nj} = \sum_i X^0_{inj}(1+t^0_{nij}),\quad
    \pi^0_{nij} = X^0_{inj}(1+t^0_{nij}) / E^0_{nj},\quad
    Y^0_{ij} = \sum_n X^0_{inj},

    \gamma_{nkj} = M^0_{nkj} / Y^0_{nj},\quad \beta_{nj} = VA^0_{nj} / Y^0_{nj},\quad
    F^0_{nj} = E^0_{nj} - \sum_k M^0_{njk},\quad \alpha_{nj} = F^0_{nj} / \sum_j F^0_{nj}.

No solving happens here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.accounts import absorption, deficits, expenditure_shares, tariff_revenue
from calibration.io import Dataset


@dataclass(frozen=True, eq=False)
class Benchmark:
    """Benchmark values and shares (arrays are read-only).

    Index names: ``n`` importer, ``i`` exporter, ``j``, ``k`` sectors.

    Attributes
    ----------
    X0 : (R, R, S) ``X0[i, n, j]`` shipments at pre-tariff prices.
    t0 : (R, R, S) ``t0[n, i, j]`` benchmark tariffs.
    E0 : (R, S) absorption at tariff-inclusive prices.
    pi0 : (R, R, S) ``pi0[n, i, j]`` expenditure shares (sum over ``i`` is 1 where ``E0 > 0``).
    Y0 : (R, S) gross output.
    VA0 : (R, S) value added by sector; ``VA0.sum(1)`` is regional value added.
    M0 : (R, S, S) ``M0[n, k, j]`` purchases of composite ``k`` by sector ``j``.
    beta : (R, S) value-added share of gross output (1 where a sector produces nothing).
    gamma : (R, S, S) ``gamma[n, k, j]`` intermediate cost shares; ``beta + gamma.sum(1) == 1``.
    F0 : (R, S) final demand; ``alpha`` : (R, S) Cobb-Douglas final-demand shares.
    R0, D0, I0 : (R,) tariff revenue, deficit (imports - exports, pre-tariff), income.
    sigma, sigma_m : (S,) Armington elasticities.
    """

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    X0: np.ndarray
    t0: np.ndarray
    E0: np.ndarray
    pi0: np.ndarray
    Y0: np.ndarray
    VA0: np.ndarray
    M0: np.ndarray
    beta: np.ndarray
    gamma: np.ndarray
    F0: np.ndarray
    alpha: np.ndarray
    R0: np.ndarray
    D0: np.ndarray
    I0: np.ndarray
    sigma: np.ndarray
    sigma_m: np.ndarray

    def __post_init__(self):
        for value in vars(self).values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(number of regions, number of sectors)."""
        return len(self.regions), len(self.sectors)

    @property
    def world_value_added(self) -> float:
        """World value added, at least 1: the size that deficits, balance gaps and their
        tolerances are measured against."""
        return max(float(self.VA0.sum()), 1.0)


def cost_shares(VA0: np.ndarray, M0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value-added and intermediate cost shares ``(beta[n, j], gamma[n, k, j])``.

    Shares are taken over the cost total ``VA0 + sum_k M0`` so that ``beta + sum_k gamma == 1``
    to machine precision even where the data balance only to the loader's tolerance.  A sector
    with no costs gets ``beta = 1`` and ``gamma = 0``: its unit cost is then the wage, which
    matters for nothing since it sells nothing.
    """
    costs = VA0 + M0.sum(axis=1)
    produces = costs > 0
    beta = np.divide(VA0, costs, out=np.ones_like(VA0), where=produces)
    gamma = np.divide(M0, costs[:, None, :], out=np.zeros_like(M0), where=produces[:, None, :])
    return beta, gamma


def calibrate(ds: Dataset) -> Benchmark:
    """Benchmark shares and accounts of ``ds`` (docs/model.md, "Benchmark data and
    calibration")."""
    X0 = ds.flows
    t0 = ds.tariffs
    E0 = absorption(X0, t0)
    Y0 = X0.sum(axis=1)
    beta, gamma = cost_shares(ds.value_added, ds.intermediates)
    # Value added and intermediates are re-derived from the sales-side gross output, so the
    # benchmark is an exact equilibrium of the model (the data agree with them to 1e-6).
    VA0 = beta * Y0
    M0 = gamma * Y0[:, None, :]
    F0 = E0 - M0.sum(axis=2)
    alpha = F0 / F0.sum(axis=1, keepdims=True)
    R0 = tariff_revenue(X0, t0)
    D0 = deficits(X0)
    return Benchmark(
        regions=ds.regions,
        sectors=ds.sectors,
        X0=X0.copy(),
        t0=t0.copy(),
        E0=E0,
        pi0=expenditure_shares(X0, t0),
        Y0=Y0,
        VA0=VA0,
        M0=M0,
        beta=beta,
        gamma=gamma,
        F0=F0,
        alpha=alpha,
        R0=R0,
        D0=D0,
        I0=VA0.sum(axis=1) + R0 + D0,
        sigma=ds.sigma.copy(),
        sigma_m=ds.sigma_m.copy(),
    )

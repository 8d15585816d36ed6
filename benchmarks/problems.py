"""The benchmark problems: seeded synthetic datasets (``calibration.synthetic``) and one shock.

Every size uses the same counterfactual, a broad unilateral tariff: region 1 (think of the US)
raises its tariffs on imports from every other region by 25 points in every sector, with
benchmark deficits held fixed.  With two regions this is the 25-point US tariff on Japan.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark, calibrate
from calibration.synthetic import gravity_dataset, random_dataset
from model.core.policy import Policy, deficit_rule, make_policy

#: (regions, sectors): the US-Japan model, US-Japan-rest of world, a mid-size model, the
#: Caliendo-Parro (2015) NAFTA scale, the GTAP scale, every trading partner of the US (the
#: scale of the April 2025 tariff schedule).  All with input-output links.
SIZES = ((2, 13), (3, 13), (10, 20), (31, 40), (60, 65), (194, 65))

#: The tariff increase of the shock (25 points).
TARIFF_SHOCK = 0.25


@dataclass(frozen=True, eq=False)
class Problem:
    """A calibrated benchmark with the policy to solve, and its label (``"31x40"``)."""

    label: str
    bm: Benchmark
    policy: Policy

    @property
    def shape(self) -> tuple[int, int]:
        return self.bm.shape


def tariff_problem(n_regions: int, n_sectors: int, seed: int = 0) -> Problem:
    """``random_dataset(n_regions, n_sectors, seed)`` with input-output links and benchmark
    tariffs, and the 25-point unilateral tariff of region 1 on all its imports."""
    bm = calibrate(random_dataset(n_regions, n_sectors, seed=seed))
    t1 = bm.t0.copy()
    t1[1] += TARIFF_SHOCK
    t1[1, 1, :] = 0.0
    policy = make_policy(bm, t1=t1, D1=deficit_rule(bm, "fixed"))
    return Problem(f"{n_regions}x{n_sectors}", bm, policy)


def gravity_problem(n_regions: int, seed: int = 0, sigma: float = 5.0,
                    cost_shock: float = 1.0 + TARIFF_SHOCK) -> Problem:
    """The one-sector peer-comparison case: ``gravity_dataset(n_regions, seed, sigma)`` and
    region 0 raising the cost of all its imports by the factor ``cost_shock``, a tariff treated
    as a pure trade cost (no revenue); trade stays balanced."""
    bm = calibrate(gravity_dataset(n_regions, seed, sigma=sigma))
    d_hat = np.ones_like(bm.t0)
    d_hat[0] = cost_shock
    d_hat[0, 0, :] = 1.0
    policy = make_policy(bm, d_hat=d_hat, D1=deficit_rule(bm, "balanced"))
    return Problem(f"{n_regions}x1 gravity", bm, policy)

"""Seeded synthetic datasets: consistent benchmarks of any size for tests and benchmarks.

One module of test problems that both the test suite and ``benchmarks/`` import, so a solver
figure and a test always refer to the same problem.
"""

from __future__ import annotations

import numpy as np

from calibration.io import Dataset, make_dataset


def random_dataset(
    n_regions: int = 2,
    n_sectors: int = 3,
    seed: int = 0,
    *,
    io: bool = True,
    tariffs: bool = True,
    zero_flows: float = 0.0,
    sigma_range: tuple[float, float] = (1.5, 8.0),
) -> Dataset:
    """A random dataset that passes every check of the loader.

    Built from a closed-economy input-output solution, ``Y = (I - Gamma)^-1 F``, whose output is
    then shipped to destinations with random shares; each domestic share is high enough that
    final demand stays positive.  Trade is not balanced, so deficits are not zero.

    Parameters
    ----------
    n_regions, n_sectors : size.
    seed : seed of ``numpy.random.default_rng``.
    io : with input-output links (intermediate cost shares 0.2-0.6) or none.
    tariffs : benchmark tariffs drawn in [0, 0.2], or all zero.
    zero_flows : probability that a bilateral (non-domestic) flow is exactly zero; sector 0 is
        traded between every pair, so every region exports and imports something.
    sigma_range : range of the Armington elasticities.
    """
    rng = np.random.default_rng(seed)
    nr, ns = n_regions, n_sectors
    size = rng.uniform(0.5, 2.0, nr)
    final = rng.uniform(0.5, 1.5, (nr, ns)) * size[:, None] * 100.0
    gamma = np.zeros((nr, ns, ns))
    if io:
        raw = rng.uniform(0.0, 1.0, (nr, ns, ns))
        gamma = raw / raw.sum(axis=1, keepdims=True) * rng.uniform(0.2, 0.6, (nr, 1, ns))
    output = np.empty((nr, ns))
    for n in range(nr):
        output[n] = np.linalg.solve(np.eye(ns) - gamma[n], final[n])
    shares = rng.uniform(0.1, 1.0, (nr, nr, ns))  # [i, n, j]
    if zero_flows > 0:
        keep = rng.uniform(size=shares.shape) >= zero_flows
        keep[:, :, 0] = True  # sector 0 links every pair, so any trade balance is attainable
        shares *= keep
    idx = np.arange(nr)
    shares[idx, idx, :] = 0.0
    foreign = shares.sum(axis=1, keepdims=True)
    shares = np.divide(shares, foreign, out=np.zeros_like(shares), where=foreign > 0)
    domestic = np.maximum(rng.uniform(0.5, 0.9, (nr, ns)), 1.0 - 0.5 * final / output)
    domestic = np.where(foreign[:, 0, :] > 0, domestic, 1.0)
    shares *= (1.0 - domestic)[:, None, :]
    shares[idx, idx, :] = domestic
    flows = output[:, None, :] * shares
    intermediates = gamma * output[:, None, :]
    value_added = output - intermediates.sum(axis=1)
    rates = rng.uniform(0.0, 0.2, (nr, nr, ns)) if tariffs else np.zeros((nr, nr, ns))
    rates[idx, idx, :] = 0.0
    sigma = rng.uniform(*sigma_range, ns)
    return make_dataset(
        [f"R{n}" for n in range(nr)],
        [f"S{j}" for j in range(ns)],
        flows,
        value_added,
        intermediates,
        rates,
        sigma,
        path=f"random_dataset(n_regions={nr}, n_sectors={ns}, seed={seed})",
        name=f"random_{nr}x{ns}_seed{seed}",
        unit="synthetic",
        description="Synthetic consistent dataset for tests and benchmarks",
    )

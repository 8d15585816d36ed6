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


def gravity_dataset(n_regions: int = 30, seed: int = 0, *, sigma: float = 5.0) -> Dataset:
    r"""A one-sector, N-region dataset with balanced trade and no tariffs or input-output links.

    The structural gravity setting of Anderson & van Wincoop (2003) and Yotov et al. (2016), in
    which the model of this package (one sector, labour only) and a GE gravity model coincide:
    output equals expenditure in every region, ``Y[i] = E[i]``, and the flows have the gravity
    form :math:`X_{in} = r_i\, s_n\, Y_i Y_n d_{in}^{-\theta}` with random distances, a home
    bias and scalings ``r``, ``s`` found by biproportional (RAS) scaling so that every region's
    sales and purchases both equal its output.  Region sizes are log-uniform over two orders of
    magnitude.

    Parameters
    ----------
    n_regions : number of regions (at least 2).
    seed : seed of ``numpy.random.default_rng``.
    sigma : the Armington elasticity of the single sector.
    """
    from calibration.balance import ras_with_fixed_cells

    if n_regions < 2:
        raise ValueError(f"gravity_dataset needs at least 2 regions, not {n_regions}")
    rng = np.random.default_rng(seed)
    nr = n_regions
    output = 100.0 * np.exp(rng.uniform(0.0, np.log(100.0), nr))
    place = rng.uniform(0.0, 1.0, (nr, 2))
    distance = np.sqrt(((place[:, None, :] - place[None, :, :]) ** 2).sum(axis=2)) + 0.05
    prior = output[:, None] * output[None, :] * distance ** -1.5
    prior[np.arange(nr), np.arange(nr)] *= 20.0  # home bias: most output is sold at home
    flows, _ = ras_with_fixed_cells(prior, output, output, tol=1e-14)
    return make_dataset(
        [f"R{n}" for n in range(nr)],
        ["goods"],
        flows[:, :, None],
        flows.sum(axis=1)[:, None],
        sigma=[sigma],
        path=f"gravity_dataset(n_regions={nr}, seed={seed})",
        name=f"gravity_{nr}_seed{seed}",
        unit="synthetic",
        description="Synthetic one-sector gravity dataset with balanced trade",
    )

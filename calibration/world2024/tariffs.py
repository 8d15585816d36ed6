"""Tariffs of the 2024 world: the benchmark (2024) rates and the 2025–26 US tariff regimes.

Benchmark: the US applies its 2024 rates (regime ``mfn_2024`` of the regime table: MFN, and
Section 301 on China); Japan its collected duty rates by sector (2015 input-output table), rice
from the US at the quantity-weighted rate of its tariff-rate quota; China, the EU and the rest
of the world apply no tariffs in the data (no sourced sector rates; data/README.md).  Regimes:
``us_tariff_regimes_2025.csv``, one rate per regime, partner and sector.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.world2024.accounts import japan_accounts, japan_rice_tariff_on_us
from calibration.world2024.sources import N, REGIONS, SECTORS, SVC, Sources

#: the regime that holds the US benchmark (2024) rates
BENCHMARK_REGIME = "mfn_2024"
RATE_DECIMALS = 6


def us_regimes(src: Sources) -> dict[str, np.ndarray]:
    """``{regime: t[partner, sector]}`` of the US on JPN, CHN, EU, ROW (in :data:`REGIONS`
    order, the US row 0), services 0."""
    table = src["us_tariff_regimes_2025"]
    out = {}
    for regime, rows in table.groupby("regime", sort=False):
        t = np.zeros((len(REGIONS), N))
        for _, row in rows.iterrows():
            t[REGIONS.index(row["partner"]), SECTORS.index(row["sector"])] = row["rate"]
        t[:, SVC] = 0.0
        out[regime] = t
    return out


def benchmark_tariffs(src: Sources) -> np.ndarray:
    """``t0[importer, exporter, sector]`` of the five regions, rounded to RATE_DECIMALS."""
    t = np.zeros((len(REGIONS), len(REGIONS), N))
    j, u = REGIONS.index("JPN"), REGIONS.index("USA")
    t[u] = us_regimes(src)[BENCHMARK_REGIME]
    t[u, u] = 0.0
    for n in range(len(REGIONS)):
        if n != j:
            t[j, n] = japan_accounts(src)["duty_rate"]
    t[j, u, SECTORS.index("rice")] = japan_rice_tariff_on_us(src)
    for _, row in src["tariffs_2024"].iterrows():
        if row["importer"] == "JPN":
            t[j, REGIONS.index(row["exporter"]), SECTORS.index(row["sector"])] = row["rate"]
    t[:, :, SVC] = 0.0
    return np.round(t, RATE_DECIMALS)


def regime_table(src: Sources, regions: tuple[str, ...], members: dict,
                 weights: np.ndarray) -> pd.DataFrame:
    """The regimes of a dataset with ``regions``: ``members[r]`` lists the five-region
    partners a region stands for (ROW of a three-region dataset: CHN, EU and ROW), whose rates
    are averaged with the ``weights[i, j]`` (US imports by five-region partner and sector);
    rows ``regime, importer, exporter, sector, rate``."""
    rows = []
    for regime, t in us_regimes(src).items():
        for r in regions:
            if r == "USA":
                continue
            idx = [REGIONS.index(m) for m in members[r]]
            w = weights[idx]
            total = w.sum(axis=0)
            rate = np.where(total > 0, (w * t[idx]).sum(axis=0) / np.where(total > 0, total, 1),
                            t[idx].mean(axis=0))
            rows += [(regime, "USA", r, SECTORS[k], round(float(rate[k]), RATE_DECIMALS))
                     for k in range(N)]
    return pd.DataFrame(rows, columns=["regime", "importer", "exporter", "sector", "rate"])

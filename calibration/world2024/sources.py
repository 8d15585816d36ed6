"""The source tables of ``data/sources`` and the few lookups every step of the build needs.

Every figure the build uses is a row of one of these tables, with its source; this module
reads them and converts currencies at the cited 2024 average rates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "data" / "sources"

SECTORS = (
    "rice", "agriculture_other", "food_processed", "mining_energy",
    "chemicals_pharma_plastics", "iron_steel", "nonferrous_metals",
    "motor_vehicles_and_parts", "machinery", "electronics_electrical", "other_transport",
    "other_manufactures", "services",
)
GOODS = SECTORS[:-1]
N = len(SECTORS)
SVC = SECTORS.index("services")
REGIONS = ("JPN", "USA", "CHN", "EU", "ROW")
#: the regions whose trade is observed; ROW is the counterpart of their trade with all others
NAMED = REGIONS[:-1]


class Sources(dict):
    """The tables of ``data/sources`` by file stem."""

    def scalar(self, name: str) -> float:
        """One named figure of ``scalars_2024.csv``."""
        s = self["scalars_2024"]
        hit = s.loc[s["name"] == name, "value"]
        if len(hit) != 1:
            raise KeyError(f"scalars_2024.csv: expected one row named {name!r}")
        return float(hit.iloc[0])

    def usd_bn(self, name: str) -> float:
        """A figure of ``scalars_2024.csv`` in US$ bn, converted from yen, euro or yuan at the
        2024 average rates of the same file."""
        s = self["scalars_2024"]
        unit = s.loc[s["name"] == name, "unit"].iloc[0]
        value = self.scalar(name)
        rates = {"USD_bn": 1.0, "JPY_bn": 1.0 / self.scalar("jpy_per_usd_2024"),
                 "EUR_bn": self.scalar("usd_per_eur_2024"),
                 "CNY_bn": 1.0 / self.scalar("cny_per_usd_2024")}
        if unit not in rates:
            raise KeyError(f"scalars_2024.csv: {name} is in {unit}, not a currency")
        return value * rates[unit]


def read_sources(folder: Path = SOURCES) -> Sources:
    """All source tables, keyed by file stem."""
    return Sources({p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))})


def by_sector(df: pd.DataFrame, column: str, sectors=SECTORS) -> np.ndarray:
    """Column of a sector-indexed table as a vector in ``sectors`` order (missing -> 0)."""
    return df.set_index("sector")[column].reindex(list(sectors)).fillna(0.0).to_numpy(float)


def square(df: pd.DataFrame, column: str, rows, cols) -> np.ndarray:
    """Long (input, sector, value) table as a rows × cols matrix (missing -> 0)."""
    wide = df.pivot_table(index="input", columns="sector", values=column, aggfunc="sum")
    return wide.reindex(index=list(rows), columns=list(cols)).fillna(0.0).to_numpy(float)

"""Assemble the 2024 datasets: the five-region world, and the three- and two-region datasets
derived from it exactly (data/README.md, "Construction").

1. Trade between regions (:mod:`~calibration.world2024.trade`) and benchmark tariffs
   (:mod:`~calibration.world2024.tariffs`).
2. Japan and the United States: their input-output tables give gross output and value added
   by sector (Japan's 2015 table moved to the 2024 trade pattern:
   :func:`~calibration.world2024.accounts.updated_to_trade`); domestic sales are output minus
   exports; intermediates and final demand are balanced by RAS to the absorption the flows
   imply (``balancing_adjustments.csv``).
3. China, the EU and the rest of the world: value added from GDP, the mean Japanese and US
   input-output coefficients and final-demand shares, gross output from the Leontief system
   (:func:`~calibration.world2024.accounts.constructed_region`): no adjustment.
4. ``jpn_usa_row_2024`` aggregates CHN, EU and ROW into ROW (sums; tariffs weighted by the
   flows, so absorption and tariff revenue are kept); ``jpn_usa_2024`` replaces each country's
   trade with third countries by its own production (:func:`fold`).
"""

from __future__ import annotations

import numpy as np

from calibration.accounts import absorption
from calibration.balance import balance_region, use_table_prior
from calibration.world2024 import trade
from calibration.world2024.accounts import (constructed_region, japan_accounts,
                                             updated_to_trade, us_accounts)
from calibration.world2024.sources import N, REGIONS, SECTORS, Sources
from calibration.world2024.tariffs import benchmark_tariffs

#: non-positive final demand of the source tables starts the balancing at this share of the
#: row's intermediate use (calibration.balance.use_table_prior)
FD_FLOOR_SHARE = 1e-3
#: value added of the regions (scalars_2024 names); ROW is the world minus the others, and
#: the US value added is the BEA table's
VALUE_ADDED = {"JPN": "jpn_nominal_gdp_2024", "CHN": "chn_nominal_gdp_2024",
               "EU": "eu_nominal_gdp_2024"}
WORLD_GDP = "world_gdp_2024"


def final_demand_shares(z: np.ndarray, fd: np.ndarray) -> np.ndarray:
    """A region's final-demand mix: the balancing prior's final demand as shares."""
    f = use_table_prior(z, fd, np.zeros(len(fd)), FD_FLOOR_SHARE)[:, -1]
    return f / f.sum()


def world5(src: Sources) -> dict:
    """The five-region dataset as arrays (``flows[i, n, j]``, ``value_added[n, j]``,
    ``intermediates[n, k, j]``, ``tariffs[n, i, j]``), with the balancing records."""
    x = trade.flows(src)
    t = benchmark_tariffs(src)
    r = len(REGIONS)
    j = REGIONS.index("JPN")
    sources = {"JPN": updated_to_trade(japan_accounts(src), x[j].sum(axis=0),
                                       (x[:, j] * (1.0 + t[j])).sum(axis=0)),
               "USA": us_accounts(src)}
    coefficients = np.mean([d["Z"] / d["Y"][None, :] for d in sources.values()], axis=0)
    shares = np.mean([final_demand_shares(d["Z"], d["F"]) for d in sources.values()], axis=0)
    value_added = {name: src.usd_bn(key) for name, key in VALUE_ADDED.items()}
    value_added["USA"] = sources["USA"]["VA"].sum()
    value_added["ROW"] = src.usd_bn(WORLD_GDP) - sum(value_added.values())
    va = np.zeros((r, N))
    z = np.zeros((r, N, N))
    for k, name in enumerate(REGIONS):
        exports = x[k].sum(axis=0)
        if name in sources:
            d = sources[name]
        else:
            imports = (x[:, k] * (1.0 + t[k])).sum(axis=0)
            d = constructed_region(coefficients, shares, value_added[name], exports, imports)
            z[k] = d["Z"]
        x[k, k] = d["Y"] - exports
        if (x[k, k] < 0).any():
            j = int(np.argmin(x[k, k]))
            raise ValueError(f"{name}: exports of {SECTORS[j]} exceed gross output by "
                             f"{-x[k, k, j]:.3f}")
        va[k] = d["VA"]
    spend = absorption(x, t)
    records = []
    for name, d in sources.items():
        k = REGIONS.index(name)
        z[k], _, rec = balance_region(name, SECTORS, d["Z"], d["F"], spend[k], d["Y"] - d["VA"],
                                      floor_share=FD_FLOOR_SHARE)
        records += rec
    return {"regions": REGIONS, "flows": x, "tariffs": t, "value_added": va,
            "intermediates": z, "records": records}


def aggregate(ds: dict, groups: dict[str, tuple[str, ...]]) -> dict:
    """``ds`` with regions merged: ``groups`` maps each new region to the regions it sums, in
    order.  Flows, value added and intermediates are summed; tariffs are the flow-weighted
    averages, so each region's absorption and tariff revenue are kept; trade within a group
    becomes domestic sales."""
    old = ds["regions"]
    idx = [[old.index(m) for m in members] for members in groups.values()]
    r = len(groups)
    x = np.zeros((r, r, N))
    paid = np.zeros((r, r, N))  # tariffs paid, [exporter, importer]
    for a, ia in enumerate(idx):
        for b, ib in enumerate(idx):
            block = ds["flows"][np.ix_(ia, ib)]
            x[a, b] = block.sum(axis=(0, 1))
            paid[a, b] = (block * np.transpose(ds["tariffs"][np.ix_(ib, ia)], (1, 0, 2))).sum(
                axis=(0, 1))
    t = np.transpose(np.divide(paid, x, out=np.zeros_like(x), where=x > 0), (1, 0, 2))
    t[np.arange(r), np.arange(r)] = 0.0
    if any(paid[a, a].any() for a in range(r)):
        raise ValueError("tariffs on trade within a merged region would be lost")
    return {"regions": tuple(groups), "flows": x, "tariffs": t,
            "value_added": np.array([ds["value_added"][i].sum(axis=0) for i in idx]),
            "intermediates": np.array([ds["intermediates"][i].sum(axis=0) for i in idx]),
            "records": [rec for rec in ds["records"] if rec["region"] in groups]}


def fold(ds: dict, keep: tuple[str, str]) -> dict:
    r"""The two regions ``keep`` of ``ds``, each with its trade with third countries replaced by
    its own production.

    For region ``r`` with partner ``p``: input-output coefficients ``A``, value-added shares
    ``β`` and final demand ``F`` are kept, and so is the bilateral trade; gross output solves
    :math:`Y = A Y + F + X_{rp} - M_{pr}(1 + t_{rp})`, value added is ``β Y`` and
    intermediates ``A Y``.  The result balances exactly: final demand is unchanged and the
    overall trade balance equals the bilateral one.
    """
    idx = [ds["regions"].index(name) for name in keep]
    x = ds["flows"]
    t = ds["tariffs"]
    spend = absorption(x, t)
    out_x = np.zeros((2, 2, N))
    va = np.zeros((2, N))
    z = np.zeros((2, N, N))
    for a, (k, p) in enumerate(zip(idx, idx[::-1])):
        y = x[k].sum(axis=0)
        coef = np.divide(ds["intermediates"][k], y[None, :], out=np.zeros((N, N)),
                         where=y[None, :] > 0)
        beta = np.divide(ds["value_added"][k], y, out=np.ones(N), where=y > 0)
        final = spend[k] - ds["intermediates"][k].sum(axis=1)
        y_new = np.linalg.solve(np.eye(N) - coef, final + x[k, p] - x[p, k] * (1.0 + t[k, p]))
        out_x[a, 1 - a] = x[k, p]
        out_x[a, a] = y_new - x[k, p]
        if (out_x[a, a] < -1e-9 * y_new.sum()).any():
            j = int(np.argmin(out_x[a, a]))
            raise ValueError(f"{keep[a]}: folding third countries leaves negative domestic "
                             f"sales of {SECTORS[j]} ({out_x[a, a, j]:.3f})")
        out_x[a, a] = np.clip(out_x[a, a], 0.0, None)
        va[a] = beta * y_new
        z[a] = coef * y_new[None, :]
    tf = np.zeros((2, 2, N))
    tf[0, 1], tf[1, 0] = t[idx[0], idx[1]], t[idx[1], idx[0]]
    return {"regions": tuple(keep), "flows": out_x, "tariffs": tf, "value_added": va,
            "intermediates": z,
            "records": [rec for rec in ds["records"] if rec["region"] in keep]}

r"""Bilateral trade of the five-region world in 2024, by sector (US$ bn, pre-tariff).

Goods.  Each observed pair of the four named regions has one published total
(:data:`GOODS_PAIRS`, the figures of ``scalars_2024.csv``), split over sectors by the rule of
:data:`SPLITS`.  Each named region's goods exports and imports with all partners are its
published totals (:data:`GOODS_TOTALS`); its trade with the rest of the world (ROW) is the
remainder, by sector the remainder of its trade with all partners where that is observed, else
the split rule.  Services.  Each named region's services exports and imports are its
balance-of-payments totals; the few observed bilateral figures are kept, a region's remaining
exports are shared over the partners without a figure in proportion to its goods exports to
them, and ROW is again the remainder.  Every rule is listed in data/README.md.
"""

from __future__ import annotations

import numpy as np

from calibration.world2024.accounts import japan_rice_unit_value, us_accounts
from calibration.world2024.sources import N, NAMED, REGIONS, SECTORS, SVC, Sources, by_sector

R = len(REGIONS)
J, U, C, E, W = (REGIONS.index(r) for r in REGIONS)

#: the published total of each observed goods flow (exporter, importer) -> scalars_2024 name
GOODS_PAIRS = {
    ("JPN", "USA"): "us_general_imports_from_japan_2024",
    ("USA", "JPN"): "us_exports_to_japan_2024",
    ("CHN", "USA"): "us_general_imports_from_china_2024",
    ("USA", "CHN"): "us_exports_to_china_2024",
    ("EU", "USA"): "us_general_imports_from_eu_2024",
    ("USA", "EU"): "us_exports_to_eu_2024",
    ("JPN", "CHN"): "jpn_exports_to_china_2024",
    ("CHN", "JPN"): "jpn_imports_from_china_2024",
    ("JPN", "EU"): "jpn_exports_to_eu_2024",
    ("EU", "JPN"): "jpn_imports_from_eu_2024",
    ("CHN", "EU"): "eu_imports_from_china_2024",
    ("EU", "CHN"): "chn_imports_from_eu_2024",
}
#: each named region's goods exports and imports with all partners (scalars_2024 names)
GOODS_TOTALS = {
    "JPN": ("jpn_bop_goods_exports_2024", "jpn_bop_goods_imports_2024"),
    "USA": ("us_bop_goods_exports_2024", "us_bop_goods_imports_2024"),
    "CHN": ("chn_goods_exports_2024", "chn_goods_imports_2024"),
    "EU": ("eu_goods_exports_extra_2024", "eu_goods_imports_extra_2024"),
}
#: each named region's services exports and imports (scalars_2024 names)
SERVICES_TOTALS = {
    "JPN": ("jpn_bop_services_exports_2024", "jpn_bop_services_imports_2024"),
    "USA": ("us_bop_services_exports_2024", "us_bop_services_imports_2024"),
    "CHN": ("chn_services_exports_2024", "chn_services_imports_2024"),
    "EU": ("eu_services_exports_extra_2024", "eu_services_imports_extra_2024"),
}
#: the observed bilateral services flows (exporter, importer) -> scalars_2024 name
SERVICES_PAIRS = {
    ("USA", "JPN"): "us_services_exports_to_japan_2023",
    ("JPN", "USA"): "us_services_imports_from_japan_2022",
    ("USA", "CHN"): "us_services_exports_to_china_2024",
    ("CHN", "USA"): "us_services_imports_from_china_2024",
    ("USA", "EU"): "eu_services_imports_from_us_2024",
    ("EU", "USA"): "eu_services_exports_to_us_2024",
}
#: how each goods flow is split over sectors: the sector shares of ...
SPLITS = {
    # ... US imports from the exporter (Census import base by GTAP code, Yale Tariff-Model)
    ("JPN", "USA"): ("us_imports", "JPN"), ("CHN", "USA"): ("us_imports", "CHN"),
    ("EU", "USA"): ("us_imports", "EU"), ("ROW", "USA"): ("us_imports", "ROW"),
    # ... Japan's trade with the partner by commodity (MOF), items assigned to sectors
    ("USA", "JPN"): ("japan", ("USA", "imports")),
    ("JPN", "CHN"): ("japan", ("CHN", "exports")),
    ("CHN", "JPN"): ("japan", ("CHN", "imports")),
    ("JPN", "EU"): ("japan", ("EU27", "exports")),
    ("EU", "JPN"): ("japan", ("EU27", "imports")),
    # ... US exports to all partners (BEA): no US exports by partner and sector were found
    ("USA", "CHN"): ("us_exports", None), ("USA", "EU"): ("us_exports", None),
    # ... what the exporter sells the US: no sector split of China's or the EU's exports to
    # each other or to third countries, nor of their imports from third countries, was found
    ("CHN", "EU"): ("us_imports", "CHN"), ("EU", "CHN"): ("us_imports", "EU"),
    ("CHN", "ROW"): ("us_imports", "CHN"), ("EU", "ROW"): ("us_imports", "EU"),
    ("ROW", "CHN"): ("us_imports", "ROW"), ("ROW", "EU"): ("us_imports", "ROW"),
    # ... the remainder of the region's trade with all partners by sector
    ("JPN", "ROW"): ("remainder", ("JPN", "exports")),
    ("ROW", "JPN"): ("remainder", ("JPN", "imports")),
    ("USA", "ROW"): ("remainder", ("USA", "exports")),
}


def goods_pair_totals(src: Sources) -> np.ndarray:
    """``T[i, n]``: goods shipped from ``i`` to ``n`` (US$ bn); ROW pairs are the remainders of
    each named region's totals."""
    t = np.zeros((R, R))
    for (i, n), name in GOODS_PAIRS.items():
        t[REGIONS.index(i), REGIONS.index(n)] = src.usd_bn(name)
    for r, (ex, im) in GOODS_TOTALS.items():
        k = REGIONS.index(r)
        t[k, W] = src.usd_bn(ex) - t[k, :W].sum()
        t[W, k] = src.usd_bn(im) - t[:W, k].sum()
    if (t < 0).any():
        i, n = np.argwhere(t < 0)[0]
        raise ValueError(f"goods {REGIONS[i]} -> {REGIONS[n]}: the remainder is negative "
                         f"({t[i, n]:.3f}); the published totals do not cover the pairs")
    return t


#: the sectors over which an unidentified remainder is spread ("manufacturing" in
#: japan_mof_item_sectors.csv)
MANUFACTURING = ("chemicals_pharma_plastics", "iron_steel", "nonferrous_metals",
                 "motor_vehicles_and_parts", "machinery", "electronics_electrical",
                 "other_transport", "other_manufactures")


def japan_trade(src: Sources, partner: str, flow: str) -> np.ndarray:
    """Japan's 2024 trade with ``partner`` (``"WLD"`` for all) by sector, US$ bn: the MOF
    principal commodities assigned to sectors by ``japan_mof_item_sectors.csv`` (listed items to
    their sector, each group's unlisted remainder to the group's sector, or over the
    manufacturing sectors in proportion to the flow's listed manufacturing items).  Rice is
    carved out of agriculture_other: the minimum-access imports from the US (imports from the
    US) and all minimum-access imports (imports from the world) at the unit value of imported
    rice."""
    items = src["japan_trade_by_partner_commodity_2024_mof"]
    items = items[(items["partner"] == partner) & (items["flow"] == flow)].set_index("mof_item")
    rules = src["japan_mof_item_sectors"]
    rules = rules[rules["flow"] == flow]
    v = np.zeros(N)
    spread = 0.0
    for group, g in rules.groupby("group", sort=False):
        left = float(items.loc[group, "value_jpy_bn"])
        for _, rule in g[g["item"] != "(remainder)"].iterrows():
            value = float(items.loc[rule["item"], "value_jpy_bn"]) if rule["item"] in items.index \
                else 0.0
            v[SECTORS.index(rule["sector"])] += value
            left -= value
        sector = g.loc[g["item"] == "(remainder)", "sector"].iloc[0]
        if sector == "manufacturing":
            spread += left
        else:
            v[SECTORS.index(sector)] += left
    manufacturing = [SECTORS.index(sec) for sec in MANUFACTURING]
    v[manufacturing] += spread * v[manufacturing] / v[manufacturing].sum()
    v /= src.scalar("jpy_per_usd_2024")
    if flow == "imports" and partner in ("USA", "WLD"):
        tonnes = src.scalar("jpn_rice_ma_imports_from_us_fy2024" if partner == "USA"
                            else "jpn_rice_ma_annual_volume")
        rice = tonnes * 1e3 * japan_rice_unit_value(src) / 1e9 / src.scalar("jpy_per_usd_2024")
        v[SECTORS.index("rice")] += rice
        v[SECTORS.index("agriculture_other")] -= rice
    return v


def goods_flows(src: Sources) -> np.ndarray:
    """``X[i, n, j]``: goods shipments between different regions by sector, US$ bn."""
    totals = goods_pair_totals(src)
    us_imports = src["us_imports_by_partner_2024_gtap"]
    us_exports = us_accounts(src)["EX"]
    x = np.zeros((R, R, N))
    goods = np.arange(N) != SVC
    pending = []
    for (i, n), (rule, arg) in SPLITS.items():
        a, b = REGIONS.index(i), REGIONS.index(n)
        if rule == "remainder":
            pending.append((a, b, arg))
            continue
        if rule == "us_imports":
            shares = by_sector(us_imports[us_imports["partner"] == arg], "value_usd_bn")
        elif rule == "japan":
            shares = japan_trade(src, *arg)
        else:
            shares = us_exports.copy()
        shares = np.where(goods, shares, 0.0)
        x[a, b] = shares / shares.sum() * totals[a, b]
    for a, b, (region, flow) in pending:
        k = REGIONS.index(region)
        world = _world_by_sector(src, region, flow)
        named = x[k, :W].sum(axis=0) if flow == "exports" else x[:W, k].sum(axis=0)
        x[a, b] = _remainder(world, named, totals[a, b])
    return x


def _world_by_sector(src: Sources, region: str, flow: str) -> np.ndarray:
    """A named region's goods trade with all partners by sector, in the shares of its
    published sector detail (Japan: MOF; the US: BEA exports)."""
    if region == "JPN":
        return japan_trade(src, "WLD", flow)
    return np.where(np.arange(N) != SVC, us_accounts(src)["EX"], 0.0)


def _remainder(world: np.ndarray, named: np.ndarray, total: float) -> np.ndarray:
    """The trade with ROW by sector: the region's trade with all partners (in its sector
    shares, scaled to the published total) minus its trade with the named partners; a negative
    sector is set to 0 and the rest rescaled to ``total`` (data/README.md, rule G5)."""
    scaled = world / world.sum() * (total + named.sum())
    rest = np.clip(scaled - named, 0.0, None)
    return rest / rest.sum() * total


def services_flows(src: Sources, goods: np.ndarray) -> np.ndarray:
    """``S[i, n]``: services exports of ``i`` to ``n`` (US$ bn)."""
    s = np.full((R, R), np.nan)
    np.fill_diagonal(s, 0.0)
    for (i, n), name in SERVICES_PAIRS.items():
        s[REGIONS.index(i), REGIONS.index(n)] = src.usd_bn(name)
    exports = {r: src.usd_bn(ex) for r, (ex, _) in SERVICES_TOTALS.items()}
    imports = {r: src.usd_bn(im) for r, (_, im) in SERVICES_TOTALS.items()}
    pair_totals = goods.sum(axis=2)
    for r in NAMED:
        k = REGIONS.index(r)
        open_ = [n for n in range(R) if np.isnan(s[k, n]) and REGIONS[n] != "ROW"]
        left = exports[r] - np.nansum(s[k])
        weights = pair_totals[k, open_ + [W]]
        shares = weights / weights.sum()
        for n, share in zip(open_, shares):
            s[k, n] = left * share
    for r in NAMED:
        k = REGIONS.index(r)
        s[k, W] = exports[r] - np.nansum(np.where(np.arange(R) == W, 0.0, s[k]))
        s[W, k] = imports[r] - np.nansum(np.where(np.arange(R) == W, 0.0, s[:, k]))
    s[W, W] = 0.0
    if np.isnan(s).any() or (s < 0).any():
        i, n = np.argwhere(~(s >= 0))[0]
        raise ValueError(f"services {REGIONS[i]} -> {REGIONS[n]}: {s[i, n]:.3f}; the totals "
                         "do not cover the bilateral figures")
    return s


def flows(src: Sources) -> np.ndarray:
    """``X[i, n, j]`` between different regions: goods by sector and services (the domestic
    cells are left at 0)."""
    x = goods_flows(src)
    x[:, :, SVC] = services_flows(src, x)
    return x


def trade_totals(x: np.ndarray) -> dict:
    """Goods and services exports and imports of each region with all partners (US$ bn)."""
    foreign = x.copy()
    idx = np.arange(R)
    foreign[idx, idx, :] = 0.0
    goods = np.arange(N) != SVC
    return {r: {"goods exports": foreign[k][:, goods].sum(),
                "goods imports": foreign[:, k][:, goods].sum(),
                "services exports": foreign[k, :, SVC].sum(),
                "services imports": foreign[:, k, SVC].sum()} for k, r in enumerate(REGIONS)}

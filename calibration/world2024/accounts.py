"""National accounts of the regions: Japan's 2015 input-output table at the 2024 scale, the
BEA 2024 table of the United States with a rice sector, and the Leontief construction of a
region whose table is not available (China, the EU, the rest of the world)."""

from __future__ import annotations

import numpy as np

from calibration.world2024.sources import N, SECTORS, Sources, square


def japan_rice_unit_value(src: Sources) -> float:
    """Yen per kg of imported rice: 2015 IO rice imports / annual minimum-access volume."""
    acc = src["jpn_sector_accounts_2015"].set_index("sector")
    return acc.loc["rice", "imports"] * 1e9 / (src.scalar("jpn_rice_ma_annual_volume") * 1e3)


def japan_rice_tariff_on_us(src: Sources) -> float:
    """Quantity-weighted ad valorem rate on US rice: in-quota 0, out-of-quota ¥341/kg as AVE.

    Out-of-quota quantity: April–September 2024 private imports (2025 figure / growth factor),
    doubled for the fiscal year and attributed wholly to the US (an upper bound).
    """
    ave = src.scalar("jpn_rice_out_of_quota_duty") / japan_rice_unit_value(src)
    q_out = 2.0 * src.scalar("jpn_rice_private_imports_apr_sep_2025") / src.scalar(
        "jpn_rice_private_imports_growth_factor")
    q_in = src.scalar("jpn_rice_ma_imports_from_us_fy2024")
    return q_out * ave / (q_in + q_out)


def japan_accounts(src: Sources) -> dict[str, np.ndarray]:
    """Japan 2015 IO table moved to 2024 US$ bn.

    Household-external consumption (ohcr in value added, ohcc in final demand) is reclassified
    as intermediate purchases (outer product of the two vectors), so value added is the GDP
    concept. Every value is multiplied by 2024 GDP in US$ / 2015 value added in ¥.  The
    table's own exports and imports are not used: trade comes from the 2024 trade figures
    (:mod:`calibration.world2024.trade`).
    """
    acc = src["jpn_sector_accounts_2015"].set_index("sector").reindex(list(SECTORS))
    z = square(src["jpn_intermediate_use_2015"], "value_jpy_bn", SECTORS, SECTORS)
    ohcr = acc["value_added_ohcr"].to_numpy(float)
    ohcc = acc["final_demand_ohcc"].to_numpy(float)
    z = z + np.outer(ohcc, ohcr) / ohcc.sum()
    va = acc["value_added"].to_numpy(float) - ohcr
    fd = acc["final_demand_domestic"].to_numpy(float) - ohcc
    scale = src.usd_bn("jpn_nominal_gdp_2024") / va.sum()
    im = acc["imports"].to_numpy(float)
    duty_rate = np.divide(acc["import_duties"].to_numpy(float), im, out=np.zeros(N), where=im > 0)
    return {"Y": acc["gross_output"].to_numpy(float) * scale, "VA": va * scale, "Z": z * scale,
            "F": fd * scale, "EX": acc["exports"].to_numpy(float) * scale, "IM": im * scale,
            "duty_rate": duty_rate}


def updated_to_trade(d: dict, exports: np.ndarray, imports: np.ndarray) -> dict:
    """The accounts ``d`` of an earlier year moved to the trade of the data year: each sector's
    gross output changes by the change of its net exports (the table's exports and imports
    ``d["EX"]``, ``d["IM"]`` against ``exports`` and ``imports``), input coefficients and
    value-added shares are kept, and everything is rescaled so that value added is unchanged.
    The table's domestic use is the prior of the balancing; what the data year trades
    differently is produced (or not) at home."""
    beta = d["VA"] / d["Y"]
    y = d["Y"] + (exports - d["EX"]) - (imports - d["IM"])
    f = d["VA"].sum() / (beta * y).sum()
    y = y * f
    return {**d, "Y": y, "VA": beta * y, "Z": d["Z"] / d["Y"][None, :] * y[None, :],
            "F": d["F"] * f}


def us_rice_output(src: Sources) -> float:
    """US rice output, US$ bn: 2024 production × 2017 value per cwt."""
    return src.scalar("us_rice_production_2024") * src.scalar("us_rice_value_2017") / src.scalar(
        "us_rice_production_2017")


def us_accounts(src: Sources) -> dict[str, np.ndarray]:
    """US 2024 BEA accounts with a rice sector split off agriculture_other.

    Rice: output from USDA figures; its cost structure is agriculture_other's; half of output is
    exported; imports are the US imports of GTAP pdr+pcr from all partners; domestic use is spread over
    agriculture_other's row (intermediate and final) in proportion. The non-model BEA row
    (noncomparable imports, scrap) is dropped: its purchases stay in each column's total and
    are spread over the other inputs by the balancing step; its trade is left out.
    Imports are made pre-tariff by removing BEA customs duties.
    """
    acc = src["usa_sector_accounts_2024"].set_index("sector")
    rest = list(SECTORS[1:])
    a = acc.reindex(rest)
    z = np.zeros((N, N))
    z[1:, 1:] = square(src["usa_intermediate_use_2024"], "value_usd_bn", rest, rest)
    y = np.r_[0.0, a["gross_output"].to_numpy(float)]
    va = np.r_[0.0, a["value_added"].to_numpy(float)]
    fd = np.r_[0.0, a["final_demand_domestic"].to_numpy(float)]
    ex = np.r_[0.0, a["exports"].to_numpy(float)]
    im = np.r_[0.0, a["imports"].to_numpy(float)]
    duties = np.r_[0.0, a["import_duties"].to_numpy(float)]
    metals = [SECTORS.index("iron_steel"), SECTORS.index("nonferrous_metals")]
    duties[metals] = (src.scalar("us_duties_primary_metals_331_2024") * im[metals]
                      / im[metals].sum())
    im_pre = im - duties
    ag, ri = 1, 0
    share = us_rice_output(src) / y[ag]
    for vec in (y, va):
        vec[ri], vec[ag] = vec[ag] * share, vec[ag] * (1 - share)
    z[:, ri], z[:, ag] = z[:, ag] * share, z[:, ag] * (1 - share)
    ex[ri] = src.scalar("us_rice_export_share") * y[ri]
    partners = src["us_imports_by_partner_2024_gtap"]
    im_pre[ri] = partners.loc[partners["sector"] == "rice", "value_usd_bn"].sum()
    use = y[ri] - ex[ri] + im_pre[ri]
    row = np.r_[z[ag, :], fd[ag]]
    rice_row = row / row.sum() * use
    z[ri, :], fd[ri] = rice_row[:N], rice_row[N]
    z[ag, :] -= rice_row[:N]
    fd[ag] -= rice_row[N]
    ex[ag] -= ex[ri]
    im_pre[ag] -= im_pre[ri]
    duty_rate = np.divide(duties, im_pre, out=np.zeros(N), where=im_pre > 0)
    duty_rate[ri] = duty_rate[ag]
    return {"Y": y, "VA": va, "Z": z, "F": fd, "EX": ex, "IM": im_pre, "duty_rate": duty_rate}


def constructed_region(coefficients: np.ndarray, final_shares: np.ndarray, value_added: float,
                       exports: np.ndarray, imports: np.ndarray) -> dict[str, np.ndarray]:
    r"""The accounts of a region with input-output coefficients ``coefficients[k, j]``
    (purchases of ``k`` per unit of ``j``'s output) and final-demand shares ``final_shares``,
    given its value added, its exports and its imports (tariff-inclusive) by sector.

    Gross output solves :math:`(I - A) Y = \alpha F + X - M` with total final demand ``F`` set
    so that value added :math:`\sum_j v_j Y_j` equals ``value_added`` (:math:`v = 1 - \sum_k
    A_{kj}`); the accounts balance exactly, with no adjustment.
    """
    a = coefficients
    v = 1.0 - a.sum(axis=0)
    leontief = np.linalg.inv(np.eye(len(v)) - a)
    nx = exports - imports
    f_total = (value_added - v @ leontief @ nx) / (v @ leontief @ final_shares)
    y = leontief @ (final_shares * f_total + nx)
    return {"Y": y, "VA": v * y, "Z": a * y[None, :], "F": final_shares * f_total}

"""Build the Japan–United States benchmark data sets (2024, US$ bn) from ``data/sources``.

Run ``python -m calibration.build_jpn_usa`` to regenerate ``data/jpn_usa_2024`` (JPN, USA)
and ``data/jpn_usa_row_2024`` (JPN, USA, ROW); ``--check`` rebuilds into a temporary folder
and exits with status 1 if any committed file differs. Every assumption is listed in
``data/README.md``; the steps below refer to it.

The bilateral JPN–USA flows are set from the sources and never enter a balancing matrix, so
they stay exactly as observed. Each region's intermediate-use block and final demand are then
balanced by RAS (``calibration.balance``) to the absorption implied by the trade flows.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.accounts import absorption
from calibration.balance import balance_region, use_table_prior
from calibration.io import load_dataset
from calibration.write import adjustments_text, dataset_files, toml_text, write_dataset

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
OUT_2R = ROOT / "data" / "jpn_usa_2024"
OUT_3R = ROOT / "data" / "jpn_usa_row_2024"

SECTORS = (
    "rice", "agriculture_other", "food_processed", "mining_energy",
    "chemicals_pharma_plastics", "iron_steel", "nonferrous_metals",
    "motor_vehicles_and_parts", "machinery", "electronics_electrical", "other_transport",
    "other_manufactures", "services",
)
GOODS = SECTORS[:-1]
N = len(SECTORS)
SVC = SECTORS.index("services")
RATE_DECIMALS = 6
FD_FLOOR_SHARE = 1e-3   # non-positive source final demand -> this share of the row's intermediate use


# ----------------------------------------------------------------------------- reading
def read_sources(folder: Path = SOURCES) -> dict[str, pd.DataFrame]:
    """All source tables, keyed by file stem."""
    return {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv"))}


def scalar(src: dict, name: str) -> float:
    """One named figure from ``scalars_2024.csv``."""
    s = src["scalars_2024"]
    hit = s.loc[s["name"] == name, "value"]
    if len(hit) != 1:
        raise KeyError(f"scalars_2024.csv: expected one row named {name!r}")
    return float(hit.iloc[0])


def by_sector(df: pd.DataFrame, column: str, sectors=SECTORS) -> np.ndarray:
    """Column of a sector-indexed table as a vector in ``sectors`` order (missing -> 0)."""
    return df.set_index("sector")[column].reindex(list(sectors)).fillna(0.0).to_numpy(float)


def square(df: pd.DataFrame, column: str, rows, cols) -> np.ndarray:
    """Long (input, sector, value) table as a rows × cols matrix (missing -> 0)."""
    wide = df.pivot_table(index="input", columns="sector", values=column, aggfunc="sum")
    return wide.reindex(index=list(rows), columns=list(cols)).fillna(0.0).to_numpy(float)


# ----------------------------------------------------------------------------- rice figures
def japan_rice_unit_value(src: dict) -> float:
    """Yen per kg of imported rice: 2015 IO rice imports / annual minimum-access volume."""
    acc = src["jpn_sector_accounts_2015"].set_index("sector")
    return acc.loc["rice", "imports"] * 1e9 / (scalar(src, "jpn_rice_ma_annual_volume") * 1e3)


def japan_rice_tariff_on_us(src: dict) -> float:
    """Quantity-weighted ad valorem rate on US rice: in-quota 0, out-of-quota ¥341/kg as AVE.

    Out-of-quota quantity: April–September 2024 private imports (2025 figure / growth factor),
    doubled for the fiscal year and attributed wholly to the US (an upper bound).
    """
    ave = scalar(src, "jpn_rice_out_of_quota_duty") / japan_rice_unit_value(src)
    q_out = 2.0 * scalar(src, "jpn_rice_private_imports_apr_sep_2025") / scalar(
        src, "jpn_rice_private_imports_growth_factor")
    q_in = scalar(src, "jpn_rice_ma_imports_from_us_fy2024")
    return q_out * ave / (q_in + q_out)


# ----------------------------------------------------------------------------- bilateral trade
def mof_imports_by_sector(src: dict) -> np.ndarray:
    """Japan's 2024 imports from the US (¥ bn) by model sector.

    Listed items go to their sector; each group's remainder (group total − listed items) goes to
    the group's default sector. Rice (minimum-access volume × unit value) is carved out of
    "Cereals" (agriculture_other).
    """
    mof = src["japan_imports_from_us_2024_mof"]
    out = pd.Series(0.0, index=list(SECTORS))
    for _, grp in mof.groupby("mof_group", sort=True):
        total = grp.loc[grp["role"].str.startswith("group total")]
        items = grp.loc[grp["role"] == "listed item"]
        for _, row in items.iterrows():
            out[row["sector"]] += row["value_jpy_bn"]
        out[total["sector"].iloc[0]] += total["value_jpy_bn"].iloc[0] - items["value_jpy_bn"].sum()
    rice = scalar(src, "jpn_rice_ma_imports_from_us_fy2024") * 1e3 * japan_rice_unit_value(src) / 1e9
    out["rice"] += rice
    out["agriculture_other"] -= rice
    return out.to_numpy(float)


def bilateral_flows(src: dict) -> tuple[np.ndarray, np.ndarray]:
    """JPN→USA and USA→JPN shipments by sector, US$ bn (goods scaled to Census totals)."""
    gtap = by_sector(src["us_imports_from_japan_2024_gtap"], "value_usd_bn", GOODS)
    mof = mof_imports_by_sector(src)[: len(GOODS)]
    j2u = np.append(gtap / gtap.sum() * scalar(src, "us_general_imports_from_japan_2024"),
                    scalar(src, "us_services_imports_from_japan_2022"))
    u2j = np.append(mof / mof.sum() * scalar(src, "us_exports_to_japan_2024"),
                    scalar(src, "us_services_exports_to_japan_2023"))
    return j2u, u2j


# ----------------------------------------------------------------------------- national accounts
def japan_accounts(src: dict) -> dict[str, np.ndarray]:
    """Japan 2015 IO table moved to 2024 US$ bn.

    Household-external consumption (ohcr in value added, ohcc in final demand) is reclassified
    as intermediate purchases (outer product of the two vectors), so value added is the GDP
    concept. Every value is multiplied by 2024 GDP in US$ / 2015 value added in ¥. Goods
    exports and imports are rescaled to the 2024 MOF totals (2015 sector shares); services
    trade is scaled with GDP.
    """
    acc = src["jpn_sector_accounts_2015"].set_index("sector").reindex(list(SECTORS))
    z = square(src["jpn_intermediate_use_2015"], "value_jpy_bn", SECTORS, SECTORS)
    ohcr = acc["value_added_ohcr"].to_numpy(float)
    ohcc = acc["final_demand_ohcc"].to_numpy(float)
    z = z + np.outer(ohcc, ohcr) / ohcc.sum()
    va = acc["value_added"].to_numpy(float) - ohcr
    fd = acc["final_demand_domestic"].to_numpy(float) - ohcc
    rate = scalar(src, "jpy_per_usd_2024")
    scale = scalar(src, "jpn_nominal_gdp_2024") / rate / va.sum()
    ex = acc["exports"].to_numpy(float)
    im = acc["imports"].to_numpy(float)
    goods = np.arange(N) != SVC
    ex_usd = ex * scale
    im_usd = im * scale
    ex_usd[goods] = ex[goods] / ex[goods].sum() * scalar(src, "jpn_exports_all_partners_2024") / rate
    im_usd[goods] = im[goods] / im[goods].sum() * scalar(src, "jpn_imports_all_partners_2024") / rate
    duty_rate = np.divide(acc["import_duties"].to_numpy(float), im, out=np.zeros(N), where=im > 0)
    return {"Y": acc["gross_output"].to_numpy(float) * scale, "VA": va * scale, "Z": z * scale,
            "F": fd * scale, "EX": ex_usd, "IM": im_usd, "duty_rate": duty_rate,
            "scale": np.array(scale)}


def us_rice_output(src: dict) -> float:
    """US rice output, US$ bn: 2024 production × 2017 value per cwt."""
    return scalar(src, "us_rice_production_2024") * scalar(src, "us_rice_value_2017") / scalar(
        src, "us_rice_production_2017")


def us_accounts(src: dict) -> dict[str, np.ndarray]:
    """US 2024 BEA accounts with a rice sector split off agriculture_other.

    Rice: output from USDA figures; its cost structure is agriculture_other's; half of output is
    exported; imports are the GTAP pdr+pcr imports from all partners; domestic use is spread over
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
    duties[metals] = scalar(src, "us_duties_primary_metals_331_2024") * im[metals] / im[metals].sum()
    im_pre = im - duties
    ag, ri = 1, 0
    share = us_rice_output(src) / y[ag]
    for vec in (y, va):
        vec[ri], vec[ag] = vec[ag] * share, vec[ag] * (1 - share)
    z[:, ri], z[:, ag] = z[:, ag] * share, z[:, ag] * (1 - share)
    ex[ri] = scalar(src, "us_rice_export_share") * y[ri]
    im_pre[ri] = scalar(src, "us_rice_imports_from_row_ex_japan_2024") + by_sector(
        src["us_imports_from_japan_2024_gtap"], "value_usd_bn", ["rice"])[0]
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


# ----------------------------------------------------------------------------- tariffs and sigma
def benchmark_tariffs(src: dict, regions: tuple[str, ...], jpn: dict, usa: dict) -> np.ndarray:
    """t[importer, exporter, sector], rounded to RATE_DECIMALS.

    USA on JPN and JPN on USA (motor vehicles, services) from ``tariffs_2024.csv``; JPN on USA
    otherwise: duties collected / imports by sector in Japan's 2015 IO table, rice as the
    quantity-weighted AVE. With ROW: USA on ROW = BEA 2024 duties / pre-tariff imports,
    JPN on ROW = Japan's collected rates; ROW's own tariffs are 0.
    """
    idx = {r: k for k, r in enumerate(regions)}
    t = np.zeros((len(regions), len(regions), N))
    j, u = idx["JPN"], idx["USA"]
    t[j, u, :] = jpn["duty_rate"]
    t[j, u, SECTORS.index("rice")] = japan_rice_tariff_on_us(src)
    for _, row in src["tariffs_2024"].iterrows():
        t[idx[row["importer"]], idx[row["exporter"]], SECTORS.index(row["sector"])] = row["rate"]
    if "ROW" in idx:
        t[u, idx["ROW"], :] = usa["duty_rate"]
        t[j, idx["ROW"], :] = jpn["duty_rate"]
    t[:, :, SVC] = 0.0
    return np.round(t, RATE_DECIMALS)


def elasticity_tables(src: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Default σ (GTAP σ_D) and the Caliendo–Parro alternative σ = θ + 1."""
    e = src["elasticities_2024"].set_index("sector").reindex(list(SECTORS))
    gtap = pd.DataFrame({"sector": SECTORS, "sigma": e["sigma_gtap"].to_numpy(float)})
    cp = pd.DataFrame({"sector": SECTORS, "sigma": e["theta_cp2015"].to_numpy(float) + 1.0})
    return gtap, cp


# ----------------------------------------------------------------------------- balancing
def final_demand_shares(z: np.ndarray, fd: np.ndarray) -> np.ndarray:
    """Final-demand mix of a region: the balancing prior's final demand (non-positive source
    entries at the floor of :func:`calibration.balance.use_table_prior`), as shares."""
    f = use_table_prior(z, fd, np.zeros(len(fd)), FD_FLOOR_SHARE)[:, -1]
    return f / f.sum()


# ----------------------------------------------------------------------------- data sets
def two_region(src: dict) -> dict:
    """JPN and USA; trade with third countries folded into each domestic block."""
    regions = ("JPN", "USA")
    jpn, usa = japan_accounts(src), us_accounts(src)
    j2u, u2j = bilateral_flows(src)
    t = benchmark_tariffs(src, regions, jpn, usa)
    x = np.zeros((2, 2, N))
    x[0, 1], x[1, 0] = j2u, u2j
    x[0, 0], x[1, 1] = jpn["Y"] - j2u, usa["Y"] - u2j
    return finish(regions, x, t, {"JPN": jpn, "USA": usa}, {})


def rest_of_world(src: dict, jpn: dict, usa: dict, x: np.ndarray, t: np.ndarray) -> dict:
    """ROW accounts from world GDP, ROW trade, and the average JPN/USA input-output structure.

    Solves (I − A) Y = α·F_total + NX for Y with Σ v·Y = ROW value added, where A and v are
    the mean of the two countries' source coefficients and α the mean of their final-demand
    shares; NX are ROW's exports minus its tariff-inclusive imports.
    """
    coef = [d["Z"] / d["Y"] for d in (jpn, usa)]
    a = 0.5 * (coef[0] + coef[1])
    v = 1.0 - a.sum(axis=0)
    alpha = 0.5 * (final_demand_shares(jpn["Z"], jpn["F"])
                   + final_demand_shares(usa["Z"], usa["F"]))
    nx = x[2, :2].sum(axis=0) - (x[:2, 2] * (1.0 + t[2, :2])).sum(axis=0)
    leontief = np.linalg.inv(np.eye(N) - a)
    va_row = scalar(src, "world_gdp_2024") - jpn["VA"].sum() - usa["VA"].sum()
    f_total = (va_row - v @ leontief @ nx) / (v @ leontief @ alpha)
    y = leontief @ (alpha * f_total + nx)
    return {"Y": y, "VA": v * y, "Z": a * y[None, :], "F": alpha * f_total}


def three_region(src: dict) -> dict:
    """JPN, USA, ROW; ROW trade from each country's trade with all partners."""
    regions = ("JPN", "USA", "ROW")
    jpn, usa = japan_accounts(src), us_accounts(src)
    j2u, u2j = bilateral_flows(src)
    t = benchmark_tariffs(src, regions, jpn, usa)
    x = np.zeros((3, 3, N))
    x[0, 1], x[1, 0] = j2u, u2j
    clipped = {}
    for k, (d, bil_out, bil_in) in enumerate(((jpn, j2u, u2j), (usa, u2j, j2u))):
        to_row, from_row = d["EX"] - bil_out, d["IM"] - bil_in
        clipped[regions[k]] = {"exports_to_ROW": np.minimum(to_row, 0.0),
                               "imports_from_ROW": np.minimum(from_row, 0.0)}
        x[k, 2], x[2, k] = np.maximum(to_row, 0.0), np.maximum(from_row, 0.0)
        x[k, k] = d["Y"] - x[k, 1 - k] - x[k, 2]
    row = rest_of_world(src, jpn, usa, x, t)
    x[2, 2] = row["Y"] - x[2, 0] - x[2, 1]
    return finish(regions, x, t, {"JPN": jpn, "USA": usa, "ROW": row}, clipped)


def finish(regions, x, t, accounts, clipped) -> dict:
    """Balance JPN and USA to the absorption implied by the flows; ROW is consistent already."""
    n_r = len(regions)
    va = np.zeros((n_r, N))
    z = np.zeros((n_r, N, N))
    report = []
    spend = absorption(x, t)
    for k, r in enumerate(regions):
        d = accounts[r]
        if np.any(x[k, k] < 0):
            bad = SECTORS[int(np.argmin(x[k, k]))]
            raise ValueError(f"{r}: domestic sales negative in {bad}")
        va[k] = d["VA"]
        if r == "ROW":
            z[k] = d["Z"]
            continue
        z[k], _, records = balance_region(r, SECTORS, d["Z"], d["F"], spend[k],
                                          d["Y"] - d["VA"], floor_share=FD_FLOOR_SHARE)
        report += records
    return {"regions": regions, "flows": x, "tariffs": t, "value_added": va,
            "intermediates": z, "report": report, "clipped": clipped}


# ----------------------------------------------------------------------------- writing
#: decimals of each file (elasticities to four, tariffs and adjustments to six)
DECIMALS = {"flows.csv": 9, "value_added.csv": 9, "intermediates.csv": 9, "tariffs.csv": 6,
            "elasticities.csv": 4, "elasticities_cp2015.csv": 4}


def dataset_texts(ds: dict, meta: dict, src: dict) -> dict:
    """Every file of the dataset folder, as ``{name: text}``."""
    gtap, cp = elasticity_tables(src)
    files = dataset_files(ds["regions"], SECTORS, ds["flows"], ds["value_added"],
                          ds["intermediates"], ds["tariffs"],
                          {"elasticities.csv": gtap["sigma"].to_numpy(),
                           "elasticities_cp2015.csv": cp["sigma"].to_numpy()}, DECIMALS)
    files["balancing_adjustments.csv"] = adjustments_text(ds["report"], decimals=6)
    files["dataset.toml"] = toml_text(meta)
    return files


def _loads(folder: Path) -> None:
    """The written folder passes the loader's checks with either elasticity file."""
    for name in ("elasticities.csv", "elasticities_cp2015.csv"):
        load_dataset(folder, name)


SOURCES_META = {
    "bilateral_goods": "US imports from Japan: 2024 Census import base by GTAP code (Yale Budget Lab Tariff-Model), scaled to 148.2 bn general imports; US exports to Japan: Japan MOF 2024 imports from the US by commodity, scaled to 79.74 bn (data/sources)",
    "services": "US services exports to Japan 2023 (CRS IF11120, BEA) and imports from Japan 2022 (ITA Country Commercial Guide)",
    "japan_io": "2015 Input-Output Tables for Japan (MIC), 13 sectors, rescaled to 2024 nominal GDP (Cabinet Office) at the 2024 average rate 150.97 yen per dollar (MOF)",
    "us_io": "BEA 2024 summary Use table before redefinitions, producers' prices; US rice from USDA NASS",
    "tariffs": "USITC HTS 2025 MFN averages (US on Japan); Japan IO 2015 collected duty rates and the rice out-of-quota duty (Japan on US)",
    "elasticities": "GTAP sigma_D (default, elasticities.csv); Caliendo and Parro (2015) theta + 1 (elasticities_cp2015.csv)",
    "documentation": "data/README.md",
}


def meta(name: str, description: str, **sources) -> dict:
    """The content of ``dataset.toml``; ``sources`` are added to the common ones."""
    return {"name": name, "year": 2024, "currency": "USD", "unit": "US$ bn",
            "description": description, "sources": {**SOURCES_META, **sources}}


def meta_two() -> dict:
    return meta("jpn_usa_2024", (
        "Japan and the United States, 13 sectors, 2024, US$ bn. Trade with third countries is "
        "folded into each region's domestic block: domestic sales = gross output - exports to "
        "the partner, so the only trade imbalance is the bilateral one and there is no trade "
        "diversion to or from third countries."))


def meta_three() -> dict:
    return meta("jpn_usa_row_2024", (
        "Japan, the United States and the rest of the world, 13 sectors, 2024, US$ bn. ROW = "
        "world GDP minus the two countries; ROW trade = each country's trade with all partners "
        "minus the bilateral flows; ROW input-output structure = mean of the Japanese and US "
        "coefficients."),
        world_gdp="World Bank 2024 estimate, about 110 trillion US$",
        japan_trade_totals="Japan MOF 2024 exports 107.09 and imports 112.42 trillion yen")


def build(out_two: Path, out_three: Path, src_dir: Path = SOURCES) -> list[str]:
    """Build both datasets; returns the lines of a summary of their balancing."""
    src = read_sources(src_dir)
    lines = []
    for ds, folder, meta in ((two_region(src), out_two, meta_two()),
                             (three_region(src), out_three, meta_three())):
        write_dataset(folder, dataset_texts(ds, meta, src), _loads)
        lines += summary(folder.name, ds)
    return lines


def summary(name: str, ds: dict) -> list[str]:
    """How much the balancing moved each region's use table, and residuals set to 0."""
    rep = pd.DataFrame(ds["report"])
    lines = [f"== {name}: balancing adjustments (RAS on intermediates | final demand)"]
    for r, g in rep.groupby("region", sort=False):
        change, base = g["change"].abs().sum(), g["before"].abs().sum()
        lines.append(f"  {r}: sum|change| = {change:.3f} bn on a prior total of {base:.3f} bn "
                     f"({100 * change / base:.2f} %); largest cell change "
                     f"{g['change'].abs().max():.3f} bn")
    for r, c in ds["clipped"].items():
        for k, v in c.items():
            if np.any(v < 0):
                lines.append(f"  {r} {k}: negative residual set to 0 in " + ", ".join(
                    f"{SECTORS[j]} ({v[j]:.3f})" for j in np.flatnonzero(v < 0)))
    return lines


def differing_files(a: Path, b: Path) -> list[str]:
    """Names of files that differ between two dataset folders (or exist in only one)."""
    names = sorted({p.name for p in a.glob("*")} | {p.name for p in b.glob("*")})
    return [n for n in names if not ((a / n).exists() and (b / n).exists()
                                     and filecmp.cmp(a / n, b / n, shallow=False))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="rebuild into a temporary folder and fail if committed files differ")
    args = p.parse_args(argv)
    if not args.check:
        print("\n".join(build(OUT_2R, OUT_3R)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        t2, t3 = Path(tmp) / OUT_2R.name, Path(tmp) / OUT_3R.name
        build(t2, t3)
        diffs = [f"{OUT_2R.name}/{n}" for n in differing_files(t2, OUT_2R)]
        diffs += [f"{OUT_3R.name}/{n}" for n in differing_files(t3, OUT_3R)]
    if diffs:
        print("out of date: " + ", ".join(diffs), file=sys.stderr)
        return 1
    print("data sets are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

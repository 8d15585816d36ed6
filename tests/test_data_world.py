"""The 2024 datasets (world5_2024, jpn_usa_row_2024, jpn_usa_2024): their totals equal the
figures cited in data/sources (read here, not from the build), the balancing stays small, the
zero shock reproduces them, the US tariff regimes reproduce the Japan rates of the study's
scenario file, and the build script reproduces the committed files."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.calibrate import calibrate
from calibration.io import load_dataset
from calibration.world2024.__main__ import main as build_main
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.solver import solve

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
FIVE, THREE, TWO = (ROOT / "data" / name for name in ("world5_2024", "jpn_usa_row_2024",
                                                      "jpn_usa_2024"))
SECTORS = (
    "rice", "agriculture_other", "food_processed", "mining_energy",
    "chemicals_pharma_plastics", "iron_steel", "nonferrous_metals",
    "motor_vehicles_and_parts", "machinery", "electronics_electrical", "other_transport",
    "other_manufactures", "services",
)
SVC = len(SECTORS) - 1


def cited() -> dict:
    """Every figure of scalars_2024.csv in US$ bn (currencies at the file's 2024 rates)."""
    s = pd.read_csv(SOURCES / "scalars_2024.csv").set_index("name")
    rate = {"USD_bn": 1.0, "JPY_bn": 1.0 / s.loc["jpy_per_usd_2024", "value"],
            "EUR_bn": s.loc["usd_per_eur_2024", "value"],
            "CNY_bn": 1.0 / s.loc["cny_per_usd_2024", "value"]}
    return {name: row["value"] * rate[row["unit"]] for name, row in s.iterrows()
            if row["unit"] in rate}


#: the published totals of each named region: goods and services exports and imports
TOTALS = {
    "JPN": ("jpn_bop_goods_exports_2024", "jpn_bop_goods_imports_2024",
            "jpn_bop_services_exports_2024", "jpn_bop_services_imports_2024"),
    "USA": ("us_bop_goods_exports_2024", "us_bop_goods_imports_2024",
            "us_bop_services_exports_2024", "us_bop_services_imports_2024"),
    "CHN": ("chn_goods_exports_2024", "chn_goods_imports_2024", "chn_services_exports_2024",
            "chn_services_imports_2024"),
    "EU": ("eu_goods_exports_extra_2024", "eu_goods_imports_extra_2024",
           "eu_services_exports_extra_2024", "eu_services_imports_extra_2024"),
}


def trade_of(d, region):
    """Goods exports, goods imports, services exports, services imports of ``region``."""
    r = d.regions.index(region)
    others = [k for k in range(len(d.regions)) if k != r]
    out_, in_ = d.flows[r, others], d.flows[others, r]
    return (out_[:, :SVC].sum(), in_[:, :SVC].sum(), out_[:, SVC].sum(), in_[:, SVC].sum())


@pytest.mark.parametrize("folder", [FIVE, THREE, TWO], ids=lambda f: f.name)
@pytest.mark.parametrize("elasticities", ["elasticities.csv", "elasticities_cp2015.csv",
                                          "elasticities_uniform.csv"])
def test_dataset_loads_and_passes_checks(folder, elasticities):
    d = load_dataset(folder, elasticities)
    assert d.sectors == SECTORS and d.year == 2024
    assert np.all(d.value_added > 0) and np.all(d.sigma > 1) and np.all(d.sigma_m > 1)
    if elasticities == "elasticities.csv":  # GTAP sigma_D with the rule of two
        np.testing.assert_allclose(d.sigma_m, 2.0 * d.sigma, rtol=1e-12)
    if elasticities == "elasticities_uniform.csv":
        assert np.all(d.sigma == 5.0)


def test_regions():
    assert load_dataset(FIVE).regions == ("JPN", "USA", "CHN", "EU", "ROW")
    assert load_dataset(THREE).regions == ("JPN", "USA", "ROW")
    assert load_dataset(TWO).regions == ("JPN", "USA")


@pytest.mark.parametrize("folder", [FIVE, THREE], ids=lambda f: f.name)
def test_each_regions_trade_equals_the_cited_totals(folder):
    """Goods and services exports and imports of every named region, and its overall balance,
    within 2 % of the cited 2024 figures (the rest of the world is the counterpart)."""
    d = load_dataset(folder)
    c = cited()
    balances = {}
    for region, names in TOTALS.items():
        if region not in d.regions:
            continue
        got = trade_of(d, region)
        want = [c[n] for n in names]
        np.testing.assert_allclose(got, want, rtol=0.02, err_msg=region)
        balances[region] = got[0] - got[1] + got[2] - got[3]
        assert balances[region] == pytest.approx(want[0] - want[1] + want[2] - want[3],
                                                 rel=0.02)
    # the two balances the study rests on, from the published balance-of-payments figures
    assert balances["JPN"] == pytest.approx(-43.16, rel=0.02)  # Japan, MOF, -6,515.2 yen bn
    assert balances["USA"] == pytest.approx(-918.4, rel=0.02)  # BEA, February 2025
    row = trade_of(d, "ROW")
    assert row[0] - row[1] + row[2] - row[3] == pytest.approx(-sum(balances.values()), abs=1e-6)


@pytest.mark.parametrize("folder", [FIVE, THREE, TWO], ids=lambda f: f.name)
def test_japan_us_goods_flows_are_the_census_totals(folder):
    d = load_dataset(folder)
    c = cited()
    j, u = d.regions.index("JPN"), d.regions.index("USA")
    assert d.flows[j, u, :SVC].sum() == pytest.approx(c["us_general_imports_from_japan_2024"],
                                                      rel=1e-9)
    assert d.flows[u, j, :SVC].sum() == pytest.approx(c["us_exports_to_japan_2024"], rel=1e-9)
    yale = pd.read_csv(SOURCES / "us_imports_by_partner_2024_gtap.csv")
    jp = yale[yale.partner == "JPN"].set_index("sector").reindex(SECTORS[:SVC])["value_usd_bn"]
    np.testing.assert_allclose(d.flows[j, u, :SVC],
                               jp / jp.sum() * c["us_general_imports_from_japan_2024"],
                               rtol=1e-8, atol=1e-9)  # written with 9 decimals


def test_value_added_from_the_sources():
    d = load_dataset(FIVE)
    c = cited()
    usa = pd.read_csv(SOURCES / "usa_sector_accounts_2024.csv")["value_added"].sum()
    want = {"JPN": c["jpn_nominal_gdp_2024"], "USA": usa, "CHN": c["chn_nominal_gdp_2024"],
            "EU": c["eu_nominal_gdp_2024"]}
    want["ROW"] = c["world_gdp_2024"] - sum(want.values())
    got = dict(zip(d.regions, d.value_added.sum(axis=1)))
    for region, value in want.items():
        assert got[region] == pytest.approx(value, rel=1e-9), region
    three = load_dataset(THREE)
    assert three.value_added[2].sum() == pytest.approx(
        want["CHN"] + want["EU"] + want["ROW"], rel=1e-9)


def test_two_region_imbalance_is_the_bilateral_one():
    d = load_dataset(TWO)
    five = load_dataset(FIVE)
    np.testing.assert_allclose(d.flows[0, 1], five.flows[0, 1], rtol=1e-9)
    np.testing.assert_allclose(d.flows[1, 0], five.flows[1, 0], rtol=1e-9)
    surplus = d.flows[0, 1].sum() - d.flows[1, 0].sum()
    c = cited()
    assert surplus == pytest.approx(
        c["us_general_imports_from_japan_2024"] + c["us_services_imports_from_japan_2022"]
        - c["us_exports_to_japan_2024"] - c["us_services_exports_to_japan_2023"], rel=1e-9)


@pytest.mark.parametrize("folder", [FIVE, THREE, TWO], ids=lambda f: f.name)
def test_balancing_moves_at_most_3_percent_of_each_region(folder):
    adj = pd.read_csv(folder / "balancing_adjustments.csv")
    assert set(adj.region) == {"JPN", "USA"}  # the other regions are built consistent
    for region, g in adj.groupby("region"):
        moved = (g["after"] - g["before"]).abs().sum() / g["before"].abs().sum()
        assert moved <= 0.03, (region, moved)
        assert len(g) == len(SECTORS) * (len(SECTORS) + 1)  # every cell is listed


@pytest.mark.parametrize("folder", [FIVE, THREE, TWO], ids=lambda f: f.name)
def test_zero_shock_reproduces_the_dataset(folder):
    d = load_dataset(folder)
    bm = calibrate(d)
    pol = make_policy(bm)
    sol = solve(bm, pol)
    assert sol.iterations <= 1
    out = outcomes(bm, pol, sol)
    np.testing.assert_allclose(out["trade"], d.flows, rtol=1e-12, atol=1e-12 * d.flows.max())
    np.testing.assert_allclose(out["welfare"], 0.0, atol=1e-12)
    np.testing.assert_allclose(out["output"], 0.0, atol=1e-12)


def test_regime_rates_for_japan_follow_the_study_rules():
    """The regime file's US rates on Japan are the measures as data/README.md states them:
    IEEPA on all goods but energy and the Annex II (pharmaceutical) share of chemicals, Section
    232 on all of vehicles and metals, the deal's 15 % floor with civil aircraft exempt, and
    the 2026 regimes; recomputed here from the 2024 rates."""
    d = load_dataset(FIVE)
    u, j = d.regions.index("USA"), d.regions.index("JPN")
    mfn = {s: d.tariffs[u, j, k] for k, s in enumerate(SECTORS)}
    non_pharma = 0.6039  # chm + rpp over chm + rpp + bph, US imports from Japan 2024
    s232 = ("motor_vehicles_and_parts", "iron_steel", "nonferrous_metals")
    metals = s232[1:]

    def ieepa(rate):  # a reciprocal rate on the goods it covers
        out = {}
        for s, t in mfn.items():
            if s in ("services", "mining_energy"):
                out[s] = t
            elif s == "chemicals_pharma_plastics":
                out[s] = t + non_pharma * rate
            else:
                out[s] = t + rate
        return out

    april = {**ieepa(0.10), **{s: mfn[s] + 0.25 for s in s232}}
    june = {**april, **{s: mfn[s] + 0.50 for s in metals}}
    threat = {**ieepa(0.24), **{s: mfn[s] + 0.25 for s in s232}}
    deal = {s: (t if s in ("services", "mining_energy") else max(t, 0.15))
            for s, t in mfn.items()}
    deal["chemicals_pharma_plastics"] = (mfn["chemicals_pharma_plastics"] + non_pharma
                                         * (0.15 - mfn["chemicals_pharma_plastics"]))
    deal.update({"motor_vehicles_and_parts": 0.15, "other_transport": 0.0805,
                 **{s: mfn[s] + 0.50 for s in metals}})
    s122 = {**ieepa(0.10), "motor_vehicles_and_parts": 0.15,
            **{s: mfn[s] + 0.50 for s in metals}}
    after = {**mfn, "motor_vehicles_and_parts": 0.15, **{s: mfn[s] + 0.50 for s in metals}}
    rules = {"mfn_2024": mfn, "april_2025": april, "metals_june_2025": june,
             "threatened_24_japan": threat, "deals_2025": deal,
             "after_scotus_2026_s122": s122, "after_scotus_2026": after}
    assert set(rules) == set(d.regimes)
    for regime, expected in rules.items():
        np.testing.assert_allclose(d.regimes[regime][u, j], [expected[s] for s in SECTORS],
                                   atol=1e-4, err_msg=regime)


def test_every_regime_sets_every_us_partner_and_sector():
    d = load_dataset(FIVE)
    u = d.regions.index("USA")
    for name, t in d.regimes.items():
        others = [k for k in range(len(d.regions)) if k != u]
        assert np.isfinite(t[u, others]).all(), name
        assert (t[u, others, SVC] == 0).all(), name
        assert np.isnan(t[others]).all(), name  # regimes of US tariffs only


def test_build_script_reproduces_the_committed_files(capsys):
    assert build_main(["--check"]) == 0
    printed = capsys.readouterr().out
    assert "deals_2025: JPN" in printed and "(Yale 12.20, 2026-01-01)" in printed
    assert "JPN: goods exports 694.64 / 694.64" in printed


def test_readme_tables_describe_the_committed_data(tmp_path):
    from calibration.world2024 import summary

    readme = Path(__file__).resolve().parents[1] / "data" / "README.md"
    data = readme.parent
    assert summary.stale_blocks(readme, data) == []
    # the check can fail: a changed total makes the totals table stale
    text = readme.read_text(encoding="utf-8").replace("| -43.16 |", "| -43.17 |", 1)
    (tmp_path / "README.md").write_text(text, encoding="utf-8")
    assert summary.stale_blocks(tmp_path / "README.md", data) == ["totals"]
    # and refreshing restores it
    summary.refresh_readme(tmp_path / "README.md", data)
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == readme.read_text(
        encoding="utf-8")


def test_regime_averages_weight_goods_by_us_imports():
    from calibration.world2024.summary import regime_averages

    d = load_dataset(FIVE)
    avg = regime_averages(d.flows, d.regimes, d.regions, d.sectors)
    u, j = d.regions.index("USA"), d.regions.index("JPN")
    w = d.flows[j, u, :SVC]
    t = d.regimes["deals_2025"][u, j, :SVC]
    assert avg.loc["deals_2025", "JPN"] == pytest.approx(100 * (w @ t) / w.sum(), rel=1e-12)
    # the benchmark regime is the benchmark tariff
    t0 = d.tariffs[u, j, :SVC]
    assert avg.loc["mfn_2024", "JPN"] == pytest.approx(100 * (w @ t0) / w.sum(), rel=1e-9)


def test_the_deal_exempts_civil_aircraft_not_all_other_transport():
    """Japan's other_transport under the 2025 deal: aircraft (MOF item) at MFN, the rest of
    the sector at the 15 % floor, with the aircraft share recomputed from the MOF items."""
    from calibration.world2024.sources import read_sources
    from calibration.world2024.trade import japan_trade

    src = read_sources()
    items = src["japan_trade_by_partner_commodity_2024_mof"]
    aircraft = float(items.loc[(items["partner"] == "USA") & (items["flow"] == "exports")
                               & (items["mof_item"] == "Aircraft"), "value_jpy_bn"].iloc[0])
    ot = SECTORS.index("other_transport")
    share = aircraft / (japan_trade(src, "USA", "exports")[ot] * src.scalar("jpy_per_usd_2024"))
    d = load_dataset(FIVE)
    u, j = d.regions.index("USA"), d.regions.index("JPN")
    mfn = d.tariffs[u, j, ot]
    assert 0.3 < share < 0.8
    assert d.regimes["deals_2025"][u, j, ot] == pytest.approx(
        share * mfn + (1 - share) * max(mfn, 0.15), abs=5e-5)

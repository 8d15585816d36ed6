"""The Japan–US benchmark data sets: they load, keep the sourced bilateral flows, match the
totals documented in data/README.md, and are reproduced exactly by the build script."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.build_jpn_usa import main as build_main
from calibration.io import load_dataset

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "data" / "sources"
TWO = ROOT / "data" / "jpn_usa_2024"
THREE = ROOT / "data" / "jpn_usa_row_2024"
SECTORS = (
    "rice", "agriculture_other", "food_processed", "mining_energy",
    "chemicals_pharma_plastics", "iron_steel", "nonferrous_metals",
    "motor_vehicles_and_parts", "machinery", "electronics_electrical", "other_transport",
    "other_manufactures", "services",
)


def scalars():
    s = pd.read_csv(SOURCES / "scalars_2024.csv")
    return dict(zip(s["name"], s["value"]))


def flow(ds, exporter, importer, sector):
    r = {name: k for k, name in enumerate(ds.regions)}
    return ds.flows[r[exporter], r[importer], ds.sectors.index(sector)]


@pytest.fixture(scope="module", params=[TWO, THREE], ids=["jpn_usa", "jpn_usa_row"])
def ds(request):
    return load_dataset(request.param)


@pytest.mark.parametrize("folder", [TWO, THREE])
@pytest.mark.parametrize("elasticities", ["elasticities.csv", "elasticities_cp2015.csv"])
def test_dataset_loads_and_passes_checks(folder, elasticities):
    d = load_dataset(folder, elasticities)
    assert d.sectors == SECTORS
    assert d.year == 2024
    assert np.all(d.value_added > 0)
    assert np.all(d.sigma > 1)


def test_regions():
    assert load_dataset(TWO).regions == ("JPN", "USA")
    assert load_dataset(THREE).regions == ("JPN", "USA", "ROW")


def test_us_imports_from_japan_are_the_census_total_split_by_gtap_shares(ds):
    s = scalars()
    gtap = pd.read_csv(SOURCES / "us_imports_from_japan_2024_gtap.csv").set_index("sector")
    shares = gtap["value_usd_bn"] / gtap["value_usd_bn"].sum()
    for sector, share in shares.items():
        assert flow(ds, "JPN", "USA", sector) == pytest.approx(
            share * s["us_general_imports_from_japan_2024"], rel=1e-8, abs=1e-9)
    goods = sum(flow(ds, "JPN", "USA", j) for j in SECTORS[:-1])
    assert goods == pytest.approx(s["us_general_imports_from_japan_2024"], rel=1e-9)


def test_us_exports_to_japan_follow_the_mof_commodity_shares(ds):
    s = scalars()
    mof = pd.read_csv(SOURCES / "japan_imports_from_us_2024_mof.csv")
    total = mof.loc[mof["item"] == "(group total)", "value_jpy_bn"].sum()
    usd = s["us_exports_to_japan_2024"] / total
    item = mof.set_index("item")["value_jpy_bn"]
    group = mof[mof["item"] == "(group total)"].set_index("mof_group")["value_jpy_bn"]
    expected = {
        "iron_steel": item["Iron And Steel Products"],
        "nonferrous_metals": item["Nonferrous Metals"],
        "motor_vehicles_and_parts": item["Motor Vehicles"] + item["Parts Of Motor Vehicles"],
        "chemicals_pharma_plastics": group["Chemicals"],
        "mining_energy": group["Mineral Fuels"] + item["Iron Ore And Concentrates"]
        + item["Ore Of Nonferrous"],
        "other_transport": group["Transport Equipment"] - item["Motor Vehicles"]
        - item["Parts Of Motor Vehicles"],
    }
    for sector, jpy in expected.items():
        assert flow(ds, "USA", "JPN", sector) == pytest.approx(jpy * usd, rel=1e-8)
    # rice: minimum-access tonnes from the US x unit value of 2015 rice imports per MA tonne
    acc = pd.read_csv(SOURCES / "jpn_sector_accounts_2015.csv").set_index("sector")
    unit_value = acc.loc["rice", "imports"] / s["jpn_rice_ma_annual_volume"]
    rice_jpy = s["jpn_rice_ma_imports_from_us_fy2024"] * unit_value
    assert flow(ds, "USA", "JPN", "rice") == pytest.approx(rice_jpy * usd, rel=1e-8)
    goods = sum(flow(ds, "USA", "JPN", j) for j in SECTORS[:-1])
    assert goods == pytest.approx(s["us_exports_to_japan_2024"], rel=1e-9)


def test_services_trade(ds):
    s = scalars()
    assert flow(ds, "JPN", "USA", "services") == pytest.approx(s["us_services_imports_from_japan_2022"])
    assert flow(ds, "USA", "JPN", "services") == pytest.approx(s["us_services_exports_to_japan_2023"])


def test_value_added_from_the_sources(ds):
    s = scalars()
    jpn_gdp = s["jpn_nominal_gdp_2024"] / s["jpy_per_usd_2024"]
    usa = pd.read_csv(SOURCES / "usa_sector_accounts_2024.csv")
    us_gdp = usa["value_added"].sum()  # the non-model row has no value added
    va = dict(zip(ds.regions, ds.value_added.sum(axis=1)))
    assert va["JPN"] == pytest.approx(jpn_gdp, rel=1e-9)
    assert va["USA"] == pytest.approx(us_gdp, rel=1e-9)
    if "ROW" in va:
        assert va["ROW"] == pytest.approx(s["world_gdp_2024"] - jpn_gdp - us_gdp, rel=1e-9)


def test_two_region_imbalance_is_the_bilateral_one():
    d = load_dataset(TWO)
    exports = d.flows[0, 1].sum()
    imports = d.flows[1, 0].sum()
    s = scalars()
    surplus = (s["us_general_imports_from_japan_2024"] + s["us_services_imports_from_japan_2022"]
               - s["us_exports_to_japan_2024"] - s["us_services_exports_to_japan_2023"])
    assert exports - imports == pytest.approx(surplus, rel=1e-9)


def readme_totals():
    """Rows of the totals table between the markers in data/README.md."""
    text = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- totals:begin -->")[1].split("<!-- totals:end -->")[0]
    rows = []
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and re.fullmatch(r"-?[\d,]+\.\d+", cells[3]):
            rows.append((cells[0], cells[1], cells[2], float(cells[3].replace(",", ""))))
    return rows


def quantity(d, region, name):
    r = d.regions.index(region)
    others = [k for k in range(len(d.regions)) if k != r]
    goods = slice(0, len(SECTORS) - 1)
    if name == "value added":
        return d.value_added[r].sum()
    if name == "gross output":
        return d.flows[r].sum()
    if name == "goods exports to partner":
        p = d.regions.index("USA" if region == "JPN" else "JPN")
        return d.flows[r, p, goods].sum()
    if name == "services exports to partner":
        p = d.regions.index("USA" if region == "JPN" else "JPN")
        return d.flows[r, p, -1]
    if name == "deficit (imports - exports)":
        return d.flows[others, r].sum() - d.flows[r, others].sum()
    raise KeyError(name)


def test_totals_match_the_table_in_the_readme():
    rows = readme_totals()
    assert len(rows) >= 15
    data = {TWO.name: load_dataset(TWO), THREE.name: load_dataset(THREE)}
    for dataset, region, name, value in rows:
        assert quantity(data[dataset], region, name) == pytest.approx(value, abs=6e-4), (
            dataset, region, name)


def test_build_script_reproduces_the_committed_files():
    assert build_main(["--check"]) == 0


@pytest.mark.parametrize("name, regions", [("kiuchi.toml", 2), ("kiuchi_row.toml", 3)])
def test_scenario_files_parse_against_their_data_sets(name, regions):
    scenario = pytest.importorskip("model.scenario")
    sf = scenario.load_scenario_file(ROOT / "scenarios" / name)
    assert {s.name for s in sf.scenarios} == {
        "accept_tariffs", "metals_50", "reciprocal_24", "deal_2025", "eliminate_surplus",
        "tariffs_and_surplus"}
    assert len(load_dataset(sf.data).regions) == regions
    assert all(s.description for s in sf.scenarios)


@pytest.mark.parametrize("folder", [TWO, THREE], ids=["jpn_usa", "jpn_usa_row"])
def test_zero_shock_reproduces_the_dataset(folder):
    from calibration.calibrate import calibrate
    from model.core.outcomes import outcomes
    from model.core.policy import make_policy
    from model.core.solver import solve

    d = load_dataset(folder)
    bm = calibrate(d)
    pol = make_policy(bm)
    sol = solve(bm, pol)
    assert sol.iterations <= 1
    out = outcomes(bm, pol, sol)
    np.testing.assert_allclose(out["trade"], d.flows, rtol=1e-12, atol=1e-12 * d.flows.max())
    np.testing.assert_allclose(out["welfare"], 0.0, atol=1e-12)
    np.testing.assert_allclose(out["output"], 0.0, atol=1e-12)

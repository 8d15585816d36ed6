"""Building a dataset from GTAP basedata: a synthetic header-array file and sets file in GTAP's
format (written here with harpy3), aggregated with a map, loaded, and solved under a zero shock.

The synthetic database satisfies GTAP's accounting identities by construction (imports at
market prices = users' imported purchases; cif = fob + margins; margin supply VST = margin
demand VTWR; output at market prices = domestic sales + exports + VST = inputs + VFM + output
taxes). Values are whole numbers (exact in float32 and in every sum).
"""

import tomllib

import harpy
import numpy as np
import pytest

from calibration.build import main
from calibration.calibrate import calibrate
from calibration.io import load_dataset
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.solver import solve

REG = ("jpn", "usa", "chn", "deu")
TRAD = ("pdr", "mvh", "i_s", "otp", "wtp", "obs")
MARG = ("otp", "wtp")
CGDS = ("cgds",)
PROD = TRAD + CGDS
ENDW = ("Land", "UnSkLab", "Capital")
GOODS = ("pdr", "mvh", "i_s")

MAP = """
year = 2017
[regions]
JPN = ["jpn"]
USA = ["usa"]
ROW = "*"
[sectors]
rice = ["pdr"]
motor_vehicles_and_parts = ["mvh"]
iron_steel = ["i_s"]
services = ["otp", "wtp", "obs"]
[sigma]
default = 2.0
"""


def gtap_arrays(seed=3):
    """Value flows of a consistent GTAP 6.2 database, plus the taxes used to build it."""
    rng = np.random.default_rng(seed)
    nr, nc, nm, npr = len(REG), len(TRAD), len(MARG), len(PROD)
    off = ~np.eye(nr, dtype=bool)
    goods = np.array([c in GOODS for c in TRAD])
    vxwd = rng.integers(5, 41, (nc, nr, nr)) * off
    xtax = rng.integers(0, 3, (nc, nr, nr)) * off
    vtwr = rng.integers(0, 4, (nm, nc, nr, nr)) * off * goods[None, :, None, None]
    viws = vxwd + vtwr.sum(axis=0)
    tariff = rng.integers(0, 6, (nc, nr, nr)) * off * goods[:, None, None]
    vims = viws + tariff
    vst = np.stack([rng.multinomial(vtwr[m].sum(), np.full(nr, 1 / nr)) for m in range(nm)])
    users = npr + 2                                   # firms incl. cgds, households, government
    split = np.zeros((nc, users, nr), dtype=np.int64)
    for c in range(nc):
        for s in range(nr):
            split[c, :, s] = rng.multinomial(vims[c, :, s].sum(), np.full(users, 1 / users))
    vifm, vipm, vigm = split[:, :npr, :], split[:, npr, :], split[:, npr + 1, :]
    vdfm = rng.integers(0, 31, (nc, npr, nr))
    vdpm = rng.integers(80, 160, (nc, nr))
    vdgm = rng.integers(10, 50, (nc, nr))
    vom = vdfm.sum(axis=1) + vdpm + vdgm + (vxwd - xtax).sum(axis=2)
    for m, name in enumerate(MARG):
        vom[TRAD.index(name)] += vst[m]
    inputs = (vdfm + vifm)[:, :nc, :].sum(axis=0)     # [sector, r]
    ptax = rng.integers(0, 4, (nc, nr))
    factors = vom - inputs - ptax
    assert (factors > 0).all()
    vfm = np.zeros((len(ENDW), npr, nr), dtype=np.int64)
    for p in range(nc):
        for r in range(nr):
            vfm[:, p, r] = rng.multinomial(factors[p, r], np.full(len(ENDW), 1 / len(ENDW)))
    headers = {"VXMD": vxwd - xtax, "VXWD": vxwd, "VIWS": viws, "VIMS": vims, "VDFM": vdfm,
               "VIFM": vifm, "VDPM": vdpm, "VIPM": vipm, "VDGM": vdgm, "VIGM": vigm, "VFM": vfm,
               "VST": vst, "VTWR": vtwr}
    return headers, {"xtax": xtax, "ptax": ptax, "tariff": tariff}


DIMS = {"VXMD": ("TRAD_COMM", "REG", "REG"), "VXWD": ("TRAD_COMM", "REG", "REG"),
        "VIWS": ("TRAD_COMM", "REG", "REG"), "VIMS": ("TRAD_COMM", "REG", "REG"),
        "VDFM": ("TRAD_COMM", "PROD_COMM", "REG"), "VIFM": ("TRAD_COMM", "PROD_COMM", "REG"),
        "VDPM": ("TRAD_COMM", "REG"), "VIPM": ("TRAD_COMM", "REG"), "VDGM": ("TRAD_COMM", "REG"),
        "VIGM": ("TRAD_COMM", "REG"), "VFM": ("ENDW_COMM", "PROD_COMM", "REG"),
        "VST": ("MARG_COMM", "REG"), "VTWR": ("MARG_COMM", "TRAD_COMM", "REG", "REG")}
ELEMENTS = {"REG": REG, "TRAD_COMM": TRAD, "PROD_COMM": PROD, "ENDW_COMM": ENDW,
            "MARG_COMM": MARG}


def write_har(path, headers, skip=()):
    """GTAP basedata: real headers with their set names and elements, as GEMPACK writes them."""
    objs = []
    for name, array in headers.items():
        if name in skip:
            continue
        sets = [{"name": s, "status": "k", "dim_type": "Set", "dim_desc": list(ELEMENTS[s])}
                for s in DIMS[name]]
        objs.append(harpy.HeaderArrayObj.HeaderArrayFromData(
            name, np.asarray(array, dtype=np.float32), long_name=f"synthetic {name}", sets=sets))
    har = harpy.HarFileObj()
    har.addHeaderArrayObjs(objs)
    har.writeToDisk(str(path))
    return path


def write_sets(path, regions=REG):
    """GTAP sets file: 1C headers H1 (REG), H2 (TRAD_COMM), H6 (ENDW_COMM), H9 (CGDS_COMM),
    MARG (MARG_COMM)."""
    sets = {"H1": ("REG", regions), "H2": ("TRAD_COMM", TRAD), "H6": ("ENDW_COMM", ENDW),
            "H9": ("CGDS_COMM", CGDS), "MARG": ("MARG_COMM", MARG)}
    har = harpy.HarFileObj()
    har.addHeaderArrayObjs([harpy.HeaderArrayObj.HeaderArrayFromData(
        h, np.array(els, dtype="<U12"), long_name=f"Set {name}") for h, (name, els) in sets.items()])
    har.writeToDisk(str(path))
    return path


@pytest.fixture
def gtap(tmp_path):
    headers, taxes = gtap_arrays()
    base = write_har(tmp_path / "basedata.har", headers)
    sets = write_sets(tmp_path / "sets.har")
    mapfile = tmp_path / "map.toml"
    mapfile.write_text(MAP, encoding="utf-8")
    return base, sets, mapfile, headers, taxes


def build(base, sets, mapfile, out, *extra):
    return main([str(base), "--sets", str(sets), "--map", str(mapfile), "--out", str(out),
                 "--date", "2026-01-02", "--quiet", *map(str, extra)])


def members(region):
    return {"JPN": ["jpn"], "USA": ["usa"], "ROW": ["chn", "deu"]}[region]


def test_build_loads_and_zero_shock_reproduces_the_aggregated_benchmark(gtap, tmp_path):
    base, sets, mapfile, _, _ = gtap
    out = tmp_path / "gtap_built"
    assert build(base, sets, mapfile, out) == 0
    ds = load_dataset(out)
    assert ds.regions == ("JPN", "USA", "ROW") and ds.year == 2017
    bm = calibrate(ds)
    policy = make_policy(bm)
    sol = solve(bm, policy)
    assert sol.converged and sol.iterations <= 1
    trade = outcomes(bm, policy, sol)["trade"]
    np.testing.assert_allclose(trade, ds.flows, rtol=1e-10, atol=1e-10 * ds.flows.max())
    assert bm.R0.sum() > 0  # the benchmark has tariffs


def test_goods_trade_and_tariff_revenue_are_the_gtap_sums(gtap, tmp_path):
    base, sets, mapfile, h, taxes = gtap
    out = tmp_path / "gtap_built"
    assert build(base, sets, mapfile, out) == 0
    ds = load_dataset(out)
    for a, ra in enumerate(ds.regions):
        for b, rb in enumerate(ds.regions):
            if a == b:
                continue
            ia = [REG.index(x) for x in members(ra)]
            ib = [REG.index(x) for x in members(rb)]
            for good, sector in (("pdr", "rice"), ("mvh", "motor_vehicles_and_parts"),
                                 ("i_s", "iron_steel")):
                c, j = TRAD.index(good), ds.sectors.index(sector)
                fob = h["VXWD"][c][np.ix_(ia, ib)].sum()
                wedge = (h["VIMS"] - h["VIWS"])[c][np.ix_(ia, ib)].sum()
                assert ds.flows[a, b, j] == fob                         # exact: fob shipments
                # tariff revenue = GTAP's VIMS - VIWS (rate written to 17 digits)
                assert ds.tariffs[b, a, j] * ds.flows[a, b, j] == pytest.approx(wedge, rel=1e-14)


def test_world_trade_and_value_added_are_preserved(gtap, tmp_path):
    base, sets, mapfile, h, taxes = gtap
    out = tmp_path / "gtap_built"
    assert build(base, sets, mapfile, out) == 0
    ds = load_dataset(out)
    domestic = (h["VDFM"].sum(axis=1) + h["VDPM"] + h["VDGM"]).sum()
    # every shipment: fob trade + domestic sales + margin services (= VST in total)
    assert ds.flows.sum() == pytest.approx(h["VXWD"].sum() + domestic + h["VST"].sum(), rel=1e-14)
    # value added = VFM + output taxes + export taxes, by region (margin services are shared
    # out to VST regions in proportion, so equality holds to rounding)
    source_va = (h["VFM"].sum(axis=(0, 1)) + taxes["ptax"].sum(axis=0)
                 + taxes["xtax"].sum(axis=(0, 2)))
    for a, region in enumerate(ds.regions):
        expected = sum(source_va[REG.index(x)] for x in members(region))
        assert ds.value_added[a].sum() == pytest.approx(expected, rel=1e-14)
    # trade between model regions = fob trade between them + margin services bought abroad
    assert ds.value_added.sum() == pytest.approx(source_va.sum(), rel=1e-14)


def test_margins_become_margin_service_imports(gtap, tmp_path):
    base, sets, mapfile, h, _ = gtap
    out = tmp_path / "gtap_built"
    assert build(base, sets, mapfile, out) == 0
    ds = load_dataset(out)
    svc = ds.sectors.index("services")
    j = REG.index("jpn")
    share = h["VST"][:, j] / h["VST"].sum(axis=1)              # Japan's share of each margin
    bought_by_usa = h["VTWR"][..., REG.index("usa")].sum(axis=(1, 2))   # [m]
    fob = h["VXWD"][[TRAD.index(c) for c in ("otp", "wtp", "obs")], j, REG.index("usa")].sum()
    assert ds.flows[0, 1, svc] == pytest.approx(fob + (share * bought_by_usa).sum(), rel=1e-14)


def test_intra_region_duties_are_dropped_and_final_demand_absorbs_them(gtap, tmp_path):
    base, sets, mapfile, h, taxes = gtap
    out = tmp_path / "gtap_built"
    assert build(base, sets, mapfile, out) == 0
    meta = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
    c, d = REG.index("chn"), REG.index("deu")
    inside = taxes["tariff"][:, c, d].sum() + taxes["tariff"][:, d, c].sum()
    assert inside > 0
    assert meta["cleaning"]["duties on trade within one model region, dropped"] == inside
    rows = (out / "balancing_adjustments.csv").read_text().splitlines()[1:]
    fd = [r.split(",") for r in rows if r.startswith("ROW,") and ",final_demand," in r]
    change = sum(float(r[5]) for r in fd)
    assert change == pytest.approx(-inside, rel=1e-9)
    for region in ("JPN", "USA"):   # no intra-region trade: nothing to balance
        assert meta["balancing"][region]["final_demand_share"] < 1e-12
        assert meta["balancing"][region]["intermediates_share"] < 1e-12
    assert meta["sources"]["file"] == "basedata.har"
    assert meta["map"]["regions"]["ROW"] == ["chn", "deu"]


def test_identity_map_needs_no_balancing(gtap, tmp_path):
    base, sets, _, _, _ = gtap
    mapfile = tmp_path / "identity.toml"
    mapfile.write_text("year = 2017\n[regions]\n" + "".join(f'{r} = ["{r}"]\n' for r in REG)
                       + "[sectors]\n" + "".join(f'{c} = ["{c}"]\n' for c in TRAD),
                       encoding="utf-8")
    out = tmp_path / "identity"
    assert build(base, sets, mapfile, out) == 0
    meta = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
    for summary in meta["balancing"].values():
        assert summary["intermediates_share"] < 1e-12 and summary["final_demand_share"] < 1e-12
    ds = load_dataset(out)
    assert ds.sigma.tolist() == [5.0] * len(TRAD)    # the built-in default elasticity


@pytest.mark.parametrize("missing", ["VTWR", "VIMS", "VFM"])
def test_missing_header_exits_2_naming_it(gtap, tmp_path, capsys, missing):
    _, sets, mapfile, headers, _ = gtap
    base = write_har(tmp_path / "short.har", headers, skip=(missing,))
    out = tmp_path / "never"
    assert build(base, sets, mapfile, out) == 2
    err = capsys.readouterr().err
    assert missing in err and "short.har" in err and "missing" in err
    assert not out.exists()


def test_sets_file_that_disagrees_exits_2(gtap, tmp_path, capsys):
    base, _, mapfile, _, _ = gtap
    sets = write_sets(tmp_path / "other_sets.har", regions=("jpn", "usa", "chn", "fra"))
    assert build(base, sets, mapfile, tmp_path / "never") == 2
    assert "REG" in capsys.readouterr().err


def test_missing_year_and_unmapped_commodity_exit_2(gtap, tmp_path, capsys):
    base, sets, _, _, _ = gtap
    mapfile = tmp_path / "m.toml"
    mapfile.write_text(MAP.replace("year = 2017\n", ""), encoding="utf-8")
    assert build(base, sets, mapfile, tmp_path / "never") == 2
    assert "year" in capsys.readouterr().err
    mapfile.write_text(MAP.replace('"otp", ', ""), encoding="utf-8")
    assert build(base, sets, mapfile, tmp_path / "never") == 2
    err = capsys.readouterr().err
    assert "otp" in err and "not mapped" in err

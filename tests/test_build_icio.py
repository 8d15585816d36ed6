"""Building a dataset from an OECD ICIO table: a synthetic file in the real layout (3 countries x
4 industries, written here), aggregated with a map, loaded, and solved under a zero shock.

All source values are whole numbers, so every sum is exact in floating point and aggregated
totals can be compared with ``==``.
"""

import csv
import hashlib
import subprocess
import sys
import tomllib

import numpy as np
import pytest

from calibration.build import main
from calibration.calibrate import calibrate
from calibration.io import load_dataset
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.solver import solve
from tests.conftest import ROOT

COUNTRIES = ("AUS", "JPN", "USA")
INDUSTRIES = ("D01T02", "D05T06", "D29", "D45T47")
FINAL = ("HFCE", "NPISH", "GGFC", "GFCF", "INVNT", "DPABR")

MAP = """
description = "test build"
[regions]
JPN = ["JPN"]
ROW = "*"
USA = "USA"
[sectors]
agriculture = ["D01T02"]
industry = ["D05T06", "D29"]
services = ["D45T47"]
[sigma]
agriculture = 2.5
default = 3.0
"""


def icio_arrays(seed=1):
    """A consistent ICIO: Z[(i,j),(n,k)], Y[(i,j),(n,f)], TLS and VALU rows, integer values.

    Inventory changes (INVNT) include negative entries, as in the real tables."""
    rng = np.random.default_rng(seed)
    nr, ns, nf = len(COUNTRIES), len(INDUSTRIES), len(FINAL)
    z = rng.integers(0, 30, (nr * ns, nr * ns)).astype(float)
    y = rng.integers(20, 80, (nr * ns, nr * nf)).astype(float)
    y[:, FINAL.index("INVNT")::nf] = rng.integers(-5, 6, (nr * ns, nr))
    output = z.sum(axis=1) + y.sum(axis=1)
    tls = rng.integers(-3, 8, nr * ns).astype(float)
    valu = output - z.sum(axis=0) - tls
    tls_final = rng.integers(0, 10, nr * nf).astype(float)
    assert (valu > 0).all()
    return z, y, tls, valu, tls_final


def write_icio(path, z, y, tls, valu, tls_final):
    """Write the arrays in the OECD ICIO CSV layout (2021 release naming)."""
    rows = [f"{c}_{i}" for c in COUNTRIES for i in INDUSTRIES]
    fcols = [f"{c}_{f}" for c in COUNTRIES for f in FINAL]
    output = z.sum(axis=1) + y.sum(axis=1)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["V1"] + rows + fcols + ["TOTAL"])
        for r, label in enumerate(rows):
            w.writerow([label] + list(z[r]) + list(y[r]) + [output[r]])
        w.writerow(["TLS"] + list(tls) + list(tls_final) + [tls.sum() + tls_final.sum()])
        w.writerow(["VALU"] + list(valu) + [0.0] * len(fcols) + [valu.sum()])
        w.writerow(["OUTPUT"] + list(output) + [0.0] * len(fcols) + [output.sum()])
    return path


@pytest.fixture
def icio(tmp_path):
    arrays = icio_arrays()
    path = write_icio(tmp_path / "ICIO2021_2018.csv", *arrays)
    (tmp_path / "map.toml").write_text(MAP, encoding="utf-8")
    return path, tmp_path / "map.toml", arrays


def run(*args):
    return main([str(a) for a in args])


def test_build_loads_and_zero_shock_reproduces_the_aggregated_benchmark(icio, tmp_path):
    source, mapfile, _ = icio
    out = tmp_path / "built"
    assert run(source, "--map", mapfile, "--out", out, "--date", "2026-01-02", "--quiet") == 0
    ds = load_dataset(out)
    assert ds.regions == ("JPN", "ROW", "USA")
    assert ds.sectors == ("agriculture", "industry", "services")
    np.testing.assert_array_equal(ds.sigma, [2.5, 3.0, 3.0])
    assert ds.year == 2018 and ds.unit == "US$ mn"
    bm = calibrate(ds)
    policy = make_policy(bm)
    sol = solve(bm, policy)
    assert sol.converged and sol.iterations <= 1
    trade = outcomes(bm, policy, sol)["trade"]
    np.testing.assert_allclose(trade, ds.flows, rtol=1e-10, atol=1e-10 * ds.flows.max())


def test_aggregation_preserves_trade_and_value_added_exactly(icio, tmp_path):
    source, mapfile, (z, y, tls, valu, _) = icio
    out = tmp_path / "built"
    assert run(source, "--map", mapfile, "--out", out, "--date", "2026-01-02", "--quiet") == 0
    ds = load_dataset(out)
    nr, ns, nf = len(COUNTRIES), len(INDUSTRIES), len(FINAL)
    # source shipments [i, j, n]: all of n's intermediate and final use of j made in i
    ship = (z.reshape(nr, ns, nr, ns).sum(axis=3) + y.reshape(nr, ns, nr, nf).sum(axis=3))
    region = {"AUS": "ROW", "JPN": "JPN", "USA": "USA"}
    sector = {"D01T02": "agriculture", "D05T06": "industry", "D29": "industry",
              "D45T47": "services"}
    expected = np.zeros_like(ds.flows)
    for i, ci in enumerate(COUNTRIES):
        for n, cn in enumerate(COUNTRIES):
            for j, ij in enumerate(INDUSTRIES):
                expected[ds.regions.index(region[ci]), ds.regions.index(region[cn]),
                         ds.sectors.index(sector[ij])] += ship[i, j, n]
    assert (ds.flows == expected).all()                      # every cell, exactly
    off = ~np.eye(nr, dtype=bool)
    assert ds.flows[off].sum() == ship.transpose(0, 2, 1)[off].sum()   # world trade
    assert ds.flows.sum() == z.sum() + y.sum()               # world shipments
    va = (valu + tls).reshape(nr, ns)                        # TLS folded into value added
    for c, country in enumerate(COUNTRIES):
        assert ds.value_added[ds.regions.index(region[country])].sum() == va[c].sum()
    assert ds.value_added.sum() == valu.sum() + tls.sum()
    assert (ds.tariffs == 0).all()


def test_dataset_toml_records_source_checksum_map_and_date(icio, tmp_path):
    source, mapfile, _ = icio
    out = tmp_path / "built"
    assert run(source, "--map", mapfile, "--out", out, "--date", "2026-01-02", "--quiet") == 0
    meta = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
    src = meta["sources"]
    assert src["file"] == "ICIO2021_2018.csv"
    assert src["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert src["map"] == "map.toml"
    assert src["map_sha256"] == hashlib.sha256(mapfile.read_bytes()).hexdigest()
    assert src["build_date"] == "2026-01-02"
    assert meta["map"]["regions"] == {"JPN": ["JPN"], "ROW": ["AUS"], "USA": ["USA"]}
    assert meta["map"]["sectors"]["industry"] == ["D05T06", "D29"]
    assert meta["description"] == "test build"
    # a consistent source needs no balancing beyond rounding
    for region in ("JPN", "ROW", "USA"):
        assert meta["balancing"][region]["intermediates_share"] < 1e-12
        assert meta["balancing"][region]["final_demand_share"] < 1e-12


def test_build_is_reproducible_byte_for_byte(icio, tmp_path):
    source, mapfile, _ = icio
    for name in ("a", "b"):   # the dataset's name is the folder's, so both are "same"
        assert run(source, "--map", mapfile, "--out", tmp_path / name / "same", "--date",
                   "2026-01-02", "--quiet") == 0
    a, b = tmp_path / "a" / "same", tmp_path / "b" / "same"
    files = sorted(p.name for p in a.iterdir())
    assert files == ["balancing_adjustments.csv", "dataset.toml", "elasticities.csv",
                     "flows.csv", "intermediates.csv", "tariffs.csv", "value_added.csv"]
    for name in files:
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_inconsistent_source_is_balanced_and_the_adjustment_reported(tmp_path, capsys):
    z, y, tls, valu, tls_final = icio_arrays()
    valu = valu.copy()
    valu[0] += 40.0          # AUS agriculture: value added too high by 40 -> inputs must fall
    source = write_icio(tmp_path / "ICIO2021_2018.csv", z, y, tls, valu, tls_final)
    (tmp_path / "map.toml").write_text(MAP, encoding="utf-8")
    out = tmp_path / "built"
    assert run(source, "--map", tmp_path / "map.toml", "--out", out, "--date", "2026-01-02") == 0
    printed = capsys.readouterr().out
    assert "ROW: intermediates sum|change|" in printed
    ds = load_dataset(out)
    row = ds.regions.index("ROW")
    before = z.reshape(3, 4, 3, 4)[:, :, 0, :].sum(axis=0)   # AUS purchases [input, industry]
    # the value added is kept; agriculture's inputs fall by the 40 added to its value added
    assert ds.value_added[row, 0] == valu[0] + tls[0]
    assert ds.intermediates[row, :, 0].sum() == pytest.approx(before[:, 0].sum() - 40.0, rel=1e-9)
    meta = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
    assert meta["balancing"]["ROW"]["intermediates_abs_change"] > 40.0 - 1e-6
    assert meta["balancing"]["JPN"]["intermediates_abs_change"] < 1e-9


@pytest.mark.parametrize("body,named", [
    ('[regions]\nJPN = ["JPN"]\nUSA = ["USA"]\n', "AUS"),                     # region unmapped
    ('[regions]\nJPN = ["JPN"]\nROW = ["AUS"]\n', "USA"),                      # region unmapped
    ('[regions]\nJPN = ["JPN"]\nROW = "*"\nXXX = ["FRA"]\n', "FRA"),           # unknown label
    ('[regions]\n"J P N" = ["JPN"]\nROW = "*"\n', "J P N"),                   # name with spaces
    ('[regions]\nall = ["JPN"]\nROW = "*"\n', "all"),                          # reserved name
    ('[regions]\n"JPN,X" = ["JPN"]\nROW = "*"\n', "JPN,X"),                  # comma in name
    ('[regions]\n"" = ["JPN"]\nROW = "*"\n', "[regions] ''"),                  # empty name
])
def test_bad_region_maps_exit_2_naming_the_problem(icio, tmp_path, capsys, body, named):
    source, _, _ = icio
    sectors = '[sectors]\nagriculture = ["D01T02"]\nrest = "*"\n'
    bad = tmp_path / "bad.toml"
    bad.write_text(body + sectors, encoding="utf-8")
    out = tmp_path / "never"
    assert run(source, "--map", bad, "--out", out, "--quiet") == 2
    err = capsys.readouterr().err
    assert named in err and "bad.toml" in err
    assert not out.exists()


def test_unmapped_sector_exits_2_naming_it(icio, tmp_path, capsys):
    source, _, _ = icio
    bad = tmp_path / "bad.toml"
    bad.write_text('[regions]\nALL3 = "*"\n[sectors]\nagriculture = ["D01T02"]\n'
                   'industry = ["D05T06", "D29"]\n', encoding="utf-8")
    assert run(source, "--map", bad, "--out", tmp_path / "never", "--quiet") == 2
    err = capsys.readouterr().err
    assert "D45T47" in err and "not mapped" in err


def test_sector_mapped_twice_and_bad_sigma_exit_2(icio, tmp_path, capsys):
    source, _, _ = icio
    bad = tmp_path / "bad.toml"
    bad.write_text('[regions]\nW = "*"\n[sectors]\na = ["D01T02"]\nb = ["D01T02", "D29"]\n'
                   'c = "*"\n', encoding="utf-8")
    assert run(source, "--map", bad, "--out", tmp_path / "never", "--quiet") == 2
    assert "D01T02 is mapped twice" in capsys.readouterr().err
    bad.write_text('[regions]\nW = "*"\n[sectors]\na = "*"\n[sigma]\na = 0.5\n', encoding="utf-8")
    assert run(source, "--map", bad, "--out", tmp_path / "never", "--quiet") == 2
    assert "[sigma] a = 0.5" in capsys.readouterr().err


def test_module_entry_point_reports_bad_input_with_exit_code_2(icio, tmp_path):
    source, _, _ = icio
    bad = tmp_path / "bad.toml"
    bad.write_text('[regions]\nJPN = ["JPN"]\n[sectors]\ns = "*"\n', encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "calibration.build", str(source), "--map",
                           str(bad), "--out", str(tmp_path / "never")], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "AUS, USA are not mapped" in proc.stderr


def test_scale_and_unit_from_the_map(icio, tmp_path):
    source, _, _ = icio
    base, scaled = tmp_path / "base", tmp_path / "scaled"
    (tmp_path / "m1.toml").write_text(MAP, encoding="utf-8")
    (tmp_path / "m2.toml").write_text('scale = 0.5\nunit = "half US$ mn"\n' + MAP,
                                      encoding="utf-8")
    assert run(source, "--map", tmp_path / "m1.toml", "--out", base, "--quiet") == 0
    assert run(source, "--map", tmp_path / "m2.toml", "--out", scaled, "--quiet") == 0
    a, b = load_dataset(base), load_dataset(scaled)
    assert (b.flows == 0.5 * a.flows).all() and (b.value_added == 0.5 * a.value_added).all()
    assert b.unit == "half US$ mn"
    assert tomllib.loads((scaled / "dataset.toml").read_text())["map"]["scale"] == 0.5

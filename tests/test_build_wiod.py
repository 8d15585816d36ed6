"""Building a dataset from a WIOD world input-output table (2013 release layout): a synthetic
``wiot07_row_apr12.xlsx`` with 3 regions x 4 industries, written here, read by pymrio,
aggregated with a map, loaded, and solved under a zero shock. Whole-number values make every
aggregated total exact."""

import tomllib

import numpy as np
import pandas as pd
import pytest

from calibration.build import main
from calibration.calibrate import calibrate
from calibration.io import load_dataset
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.solver import solve

REGIONS = ("JPN", "USA", "RoW")
SECTORS = (("AtB", "Agriculture, Hunting, Forestry and Fishing", "c1"),
           ("C", "Mining and Quarrying", "c2"),
           ("15t16", "Food, Beverages and Tobacco", "c3"),
           ("P", "Private Households with Employed Persons", "c35"))   # WIOD's last industry
FINAL = (("c37", "Final consumption expenditure by households"),
         ("c38", "Final consumption expenditure by non-profit organisations serving households"),
         ("c39", "Final consumption expenditure by government"),
         ("c41", "Gross fixed capital formation"),
         ("c42", "Changes in inventories and valuables"))
ROWS = (("r60", "Total intermediate consumption"), ("r61", "taxes less subsidies on products"),
        ("r62", "Cif/ fob adjustments on exports"), ("r63", "Direct purchases abroad by residents"),
        ("r64", "Purchases on the domestic territory by non-residents"),
        ("r65", "Value added at basic prices"), ("r66", "International Transport Margins"),
        ("r69", "Output at basic prices"))

MAP = """
[regions]
JPN = ["JPN"]
USA = ["USA"]
ROW = "*"
[sectors]
agriculture = ["AtB"]
industry = ["C", "15t16"]
services = ["P"]
[sigma]
default = 2.0
"""


def wiod_arrays(seed=2):
    rng = np.random.default_rng(seed)
    n = len(REGIONS) * len(SECTORS)
    z = rng.integers(0, 30, (n, n)).astype(float)
    y = rng.integers(20, 80, (n, len(REGIONS) * len(FINAL))).astype(float)
    y[:, 4::5] = rng.integers(-5, 6, (n, len(REGIONS)))          # inventories may be negative
    output = z.sum(axis=1) + y.sum(axis=1)
    other = {"r61": rng.integers(-2, 6, n), "r62": np.zeros(n), "r63": np.zeros(n),
             "r64": rng.integers(0, 2, n), "r66": rng.integers(0, 4, n)}
    other = {k: v.astype(float) for k, v in other.items()}
    va = output - z.sum(axis=0) - sum(other.values())
    assert (va > 0).all()
    return z, y, other, va


def write_wiod(path, z, y, other, va):
    """The sheet layout pymrio's parse_wiod reads: title with the year in A1, then the header
    rows (ISIC code, names, region, c-code) with the system and unit in column A, data rows
    labelled in the first four columns, the r-rows below, a total column at the right."""
    nf = len(REGIONS) * len(FINAL)
    output = z.sum(axis=1) + y.sum(axis=1)
    width = 4 + len(z) + nf + 1
    blank = [None] * width
    title = list(blank)
    title[0] = "World Input-Output Table 2007"
    code = [None] * 4 + [s[0] for _ in REGIONS for s in SECTORS] + [None] * (nf + 1)
    code[0] = "(industry-by-industry)"
    names = ([None] * 4 + [s[1] for _ in REGIONS for s in SECTORS]
             + [f[1] for _ in REGIONS for f in FINAL] + ["Total output"])
    names[0] = "(millions of US$)"
    region = ([None] * 4 + [r for r in REGIONS for _ in SECTORS]
              + [r for r in REGIONS for _ in FINAL] + ["TOT"])
    ccode = ([None] * 4 + [s[2] for _ in REGIONS for s in SECTORS]
             + [f[0] for _ in REGIONS for f in FINAL] + ["c62"])
    rows = [title, list(blank), code, names, region, ccode]
    k = 0
    for r in REGIONS:
        for s in SECTORS:
            rows.append([s[0], s[1], r, s[2]] + list(z[k]) + list(y[k]) + [output[k]])
            k += 1
    values = {"r60": z.sum(axis=0), "r65": va, "r69": output, **other}
    for c, name in ROWS:
        rows.append([None, name, None, c] + list(values[c]) + [0.0] * nf + [None])
    pd.DataFrame(rows).to_excel(path, header=False, index=False)
    return path


@pytest.fixture
def wiod(tmp_path):
    arrays = wiod_arrays()
    path = write_wiod(tmp_path / "wiot07_row_apr12.xlsx", *arrays)
    mapfile = tmp_path / "map.toml"
    mapfile.write_text(MAP, encoding="utf-8")
    return path, mapfile, arrays


def test_wiod_build_preserves_totals_and_reproduces_the_benchmark(wiod, tmp_path):
    source, mapfile, (z, y, other, va) = wiod
    out = tmp_path / "built"
    assert main([str(source), "--map", str(mapfile), "--out", str(out), "--date", "2026-01-02",
                 "--quiet"]) == 0
    ds = load_dataset(out)
    assert ds.regions == ("JPN", "USA", "ROW") and ds.year == 2007
    nr, ns, nf = len(REGIONS), len(SECTORS), len(FINAL)
    ship = (z.reshape(nr, ns, nr, ns).sum(axis=3) + y.reshape(nr, ns, nr, nf).sum(axis=3))
    groups = [[0], [1, 2], [3]]                      # AtB | C, 15t16 | P
    expected = np.stack([ship[:, g, :].sum(axis=1) for g in groups], axis=2)   # [i, n, s]
    assert (ds.flows == expected).all()              # every shipment, exactly
    assert ds.flows.sum() == z.sum() + y.sum()
    folded_va = (va + sum(other.values())).reshape(nr, ns)
    assert (ds.value_added.sum(axis=1) == folded_va.sum(axis=1)).all()
    bm = calibrate(ds)
    policy = make_policy(bm)
    sol = solve(bm, policy)
    assert sol.converged and sol.iterations <= 1
    np.testing.assert_allclose(outcomes(bm, policy, sol)["trade"], ds.flows, rtol=1e-10,
                               atol=1e-10 * ds.flows.max())
    meta = tomllib.loads((out / "dataset.toml").read_text(encoding="utf-8"))
    assert meta["sources"]["file"] == "wiot07_row_apr12.xlsx"
    assert "parse_wiod" in meta["sources"]["format"]


def test_wiod_unmapped_industry_exits_2(wiod, tmp_path, capsys):
    source, _, _ = wiod
    bad = tmp_path / "bad.toml"
    bad.write_text(MAP.replace('services = ["P"]\n', ""), encoding="utf-8")
    assert main([str(source), "--map", str(bad), "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "source sector(s) P are not mapped" in err

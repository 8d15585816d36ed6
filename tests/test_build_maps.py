"""Aggregation maps: the shipped example maps cover their source classifications exactly once,
and malformed maps are rejected with a message naming the key."""

import csv

import numpy as np
import pytest

from calibration.sources import SourceError
from calibration.sources.maps import DEFAULT_SIGMA, assignment, read_map
from tests.conftest import ROOT

# GTAP 10/11 commodity codes (65), in the GTAP order.
GTAP65 = ("pdr wht gro v_f osd c_b pfb ocr ctl oap rmk wol frs fsh coa oil gas oxt cmt omt vol "
          "mil pcr sgr ofd b_t tex wap lea lum ppp p_c chm bph rpp nmm i_s nfm fmp ele eeq ome "
          "mvh otn omf ely gdt wtr cns trd afs otp wtp atp whs cmn ofi ins rsa obs ros osg edu "
          "hht dwe").split()
# OECD ICIO 2021 release industries (45).
ICIO45 = ("D01T02 D03 D05T06 D07T08 D09 D10T12 D13T15 D16 D17T18 D19 D20 D21 D22 D23 D24 D25 "
          "D26 D27 D28 D29 D30 D31T33 D35 D36T39 D41T43 D45T47 D49 D50 D51 D52 D53 D55T56 "
          "D58T60 D61 D62T63 D64T66 D68 D69T75 D77T82 D84 D85 D86T88 D90T93 D94T96 "
          "D97T98").split()


def shipped_elasticities():
    with open(ROOT / "data" / "jpn_usa_2024" / "elasticities.csv", newline="") as fh:
        return {r["sector"]: float(r["sigma"]) for r in csv.DictReader(fh)}


def test_gtap65_13_maps_every_gtap_commodity_once_onto_the_13_model_sectors():
    assert len(GTAP65) == 65
    amap = read_map(ROOT / "data" / "maps" / "gtap65_13.toml")
    index = assignment("gtap65_13", "sectors", amap.sectors, tuple(GTAP65))
    sigma = shipped_elasticities()
    assert tuple(amap.sectors) == tuple(sigma)            # the 13 sectors, in the same order
    assert sorted(set(index)) == list(range(13))          # every sector gets a commodity
    assert {s: amap.sigma_of(s) for s in amap.sectors} == sigma
    names = dict(zip(GTAP65, (list(amap.sectors)[k] for k in index)))
    assert names["pdr"] == names["pcr"] == "rice"
    assert names["nfm"] == "nonferrous_metals" and names["mvh"] == "motor_vehicles_and_parts"
    regions = assignment("gtap65_13", "regions", amap.regions, ("jpn", "usa", "chn", "xtw"))
    assert list(regions) == [0, 1, 2, 2]


def test_icio_map_covers_the_45_icio_industries():
    assert len(ICIO45) == 45
    amap = read_map(ROOT / "data" / "maps" / "icio_jpn_usa_row.toml")
    index = assignment("icio", "sectors", amap.sectors, tuple(ICIO45))
    assert sorted(set(index)) == list(range(len(amap.sectors)))
    assert all(s in amap.sigma for s in amap.sectors)


@pytest.mark.parametrize("text,message", [
    ('[regions]\nA = "*"\n[sectors]\nx = "*"\ncolour = 1\n', None),
    ('rows = 1\n[regions]\nA = "*"\n[sectors]\nx = "*"\n', "unknown key(s) rows"),
    ('[regions]\nA = "*"\nB = "*"\n[sectors]\nx = "*"\n', "both 'A' and 'B' take"),
    ('[regions]\nA = []\n[sectors]\nx = "*"\n', "must be a list of source labels"),
    ('[sectors]\nx = "*"\n', "a [regions] table"),
    ('[regions]\nA = "*"\n[sectors]\nx = "*"\n[sigma]\ny = 2.0\n', "'y' is not a sector"),
    ('scale = -1\n[regions]\nA = "*"\n[sectors]\nx = "*"\n', "scale must be a positive"),
])
def test_malformed_maps_are_rejected(tmp_path, text, message):
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    if message is None:   # a key inside [sectors] is a sector: "colour = 1" is not a list
        message = "must be a list of source labels"
    with pytest.raises(SourceError, match=message.replace("[", r"\[").replace("(", r"\(")
                       .replace(")", r"\)")):
        read_map(path)


def test_default_elasticity_is_used_for_unlisted_sectors(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[regions]\nA = "*"\n[sectors]\nx = ["1"]\ny = "*"\n[sigma]\nx = 3.0\n')
    amap = read_map(path)
    assert amap.sigma_of("x") == 3.0 and amap.sigma_of("y") == DEFAULT_SIGMA
    assert np.isclose(DEFAULT_SIGMA, 5.0)

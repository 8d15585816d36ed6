"""Tariff regimes of a dataset (``regimes.csv``) applied by ``[[scenarios.NAME.regimes]]``:
rates taken cell by cell, later tariff entries on top, unknown names and uncovered cells
refused with the key."""

from pathlib import Path

import numpy as np
import pytest

from model.scenario import ScenarioError
from model.study import prepare
from tests.conftest import write_scenario

WORLD = Path(__file__).resolve().parents[1] / "data" / "world5_2024"

BODY = """
[scenarios.deal]
[[scenarios.deal.regimes]]
regime = "deals_2025"
importer = "USA"
exporter = "all"
sectors = "all"

[scenarios.deal_autos_25]
base = "deal"
[[scenarios.deal_autos_25.tariffs]]
importer = "USA"
exporter = "JPN"
sectors = "motor_vehicles_and_parts"
rate = 0.25

[scenarios.japan_only]
[[scenarios.japan_only.regimes]]
regime = "april_2025"
importer = "USA"
exporter = "JPN"
sectors = "all"
except = ["services"]
"""


def test_regime_sets_the_dataset_rates_and_entries_apply_after_it(tmp_path):
    study = prepare(write_scenario(tmp_path, BODY, data=str(WORLD)))
    rates = study.dataset.regimes
    bm = study.benchmark
    u, j, c = (bm.regions.index(r) for r in ("USA", "JPN", "CHN"))
    autos = bm.sectors.index("motor_vehicles_and_parts")
    pol = {p.name: p.policy for p in study.scenarios}
    others = [k for k in range(len(bm.regions)) if k != u]
    np.testing.assert_array_equal(pol["deal"].t1[u, others], rates["deals_2025"][u, others])
    # cells the regime does not select keep their benchmark rates
    np.testing.assert_array_equal(pol["deal"].t1[j], bm.t0[j])
    assert pol["deal_autos_25"].t1[u, j, autos] == 0.25
    assert pol["deal_autos_25"].t1[u, c, autos] == rates["deals_2025"][u, c, autos]
    # only Japan's goods change in japan_only
    changed = pol["japan_only"].t1 != bm.t0
    assert changed[u, j].any() and changed.sum() == changed[u, j].sum()
    assert rates["april_2025"][u, j, autos] > 0.25


@pytest.mark.parametrize("entry,words", [
    ('regime = "deal_2099"\nimporter = "USA"\nexporter = "JPN"\nsectors = "all"',
     ["scenarios.s.regimes[0].regime", "unknown regime 'deal_2099'", "deals_2025"]),
    ('regime = "deals_2025"\nimporter = "JPN"\nexporter = "USA"\nsectors = "rice"',
     ["scenarios.s.regimes[0]", "sets no rate for JPN imports of rice from USA"]),
    ('importer = "USA"\nexporter = "JPN"\nsectors = "all"',
     ["scenarios.s.regimes[0].regime", "missing"]),
])
def test_bad_regime_entries_name_the_key(tmp_path, entry, words):
    body = f"[scenarios.s]\n[[scenarios.s.regimes]]\n{entry}\n"
    with pytest.raises(ScenarioError) as exc:
        prepare(write_scenario(tmp_path, body, data=str(WORLD)))
    for word in words:
        assert word in str(exc.value), (word, str(exc.value))

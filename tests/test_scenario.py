"""Scenario files: tariff entries, overrides, trade costs, closures, defaults, solver settings,
and precise errors for every kind of bad input."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import load_dataset
from model.scenario import ScenarioError, load_scenario_file, prepare_scenarios
from tests.conftest import EXAMPLE, ROOT, write_scenario

H, F = 0, 1  # HOME, FOREIGN
AG, MAN, AUT, SRV = range(4)


@pytest.fixture(scope="module")
def bm():
    return calibrate(load_dataset(EXAMPLE))


def policies_of(tmp_path, body, bm):
    path = write_scenario(tmp_path, body, data=str(EXAMPLE))
    sf = load_scenario_file(path)
    return sf, [p.policy for p in prepare_scenarios(sf, bm)]


def test_rate_add_floor_except_and_overrides(tmp_path, bm):
    body = """
[scenarios.s]
[[scenarios.s.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "all"
except = ["services"]
add = 0.10
[[scenarios.s.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.25
[[scenarios.s.tariffs]]
importer = "HOME"
exporter = "FOREIGN"
sectors = ["agriculture", "manufacturing"]
floor = 0.04
"""
    _, (pol,) = policies_of(tmp_path, body, bm)
    t0, t1 = bm.t0, pol.t1
    assert t1[F, H, AG] == pytest.approx(t0[F, H, AG] + 0.10)  # 0.30 + 0.10
    assert t1[F, H, MAN] == pytest.approx(t0[F, H, MAN] + 0.10)
    assert t1[F, H, AUT] == 0.25  # the later entry overrides
    assert t1[F, H, SRV] == t0[F, H, SRV]  # excepted
    assert t1[H, F, AG] == max(t0[H, F, AG], 0.04) == 0.05  # benchmark above the floor
    assert t1[H, F, MAN] == 0.04  # floor above benchmark 0.02
    assert t1[H, F, AUT] == t0[H, F, AUT]
    assert (t1[[H, F], [H, F], :] == 0).all()
    np.testing.assert_array_equal(pol.D1, bm.D0)
    np.testing.assert_array_equal(pol.d_hat, 1.0)


def test_all_regions_trade_costs_defaults_and_closures(tmp_path, bm):
    body = """
[defaults]
closure = { trade_balance = "balanced" }
[[defaults.tariffs]]
importer = "all"
exporter = "all"
sectors = ["services"]
rate = 0.01

[scenarios.a]
[[scenarios.a.trade_costs]]
importer = "all"
exporter = "HOME"
sectors = ["autos"]
factor = 1.2

[scenarios.b]
closure = { trade_balance = { HOME = 10.0 } }
[[scenarios.b.tariffs]]
importer = "HOME"
exporter = "FOREIGN"
sectors = ["services"]
rate = 0.05

[scenarios.c]
closure = { trade_balance = "fixed" }
"""
    sf, (a, b, c) = policies_of(tmp_path, body, bm)
    assert [s.name for s in sf.scenarios] == ["a", "b", "c"]
    assert a.t1[H, F, SRV] == a.t1[F, H, SRV] == 0.01  # defaults apply to every scenario
    assert a.d_hat[F, H, AUT] == 1.2 and a.d_hat[H, F, AUT] == 1.0 and a.d_hat[H, H, AUT] == 1.0
    np.testing.assert_array_equal(a.D1, 0.0)
    assert b.t1[H, F, SRV] == 0.05 and b.t1[F, H, SRV] == 0.01  # scenario entries come later
    np.testing.assert_allclose(b.D1, [10.0, -10.0])
    np.testing.assert_array_equal(c.D1, bm.D0)


def test_solver_table_and_alternative_elasticities(tmp_path):
    path = write_scenario(tmp_path, """elasticities = "elasticities_alt.csv"
[solver]
tol = 1e-12
max_iter = 300
[scenarios.s]
""", data=str(EXAMPLE))
    sf = load_scenario_file(path)
    assert sf.solver.tol == 1e-12 and sf.solver.max_iter == 300
    assert sf.elasticities == "elasticities_alt.csv"


BAD = [
    ('[scenarios.s]\nfoo = 1\n', ["scenarios.s.foo", "unknown key", "description, base, closure"]),
    ('colour = "red"\n[scenarios.s]\n', ["colour", "unknown key", "title, data"]),
    ('[scenarios]\n', ["scenarios", "at least one"]),
    ('[scenarios.s\n', ["not valid TOML"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "MARS"\nexporter = "HOME"\n'
     'sectors = "all"\nrate = 0.1\n',
     ["scenarios.s.tariffs[0].importer", "unknown region 'MARS'", "HOME, FOREIGN"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = ["cars"]\nrate = 0.1\n',
     ["scenarios.s.tariffs[0].sectors", "unknown sector 'cars'", "agriculture, manufacturing"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nexcept = ["cars"]\nrate = 0.1\n',
     ["scenarios.s.tariffs[0].except", "unknown sector 'cars'"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nrate = 0.1\nadd = 0.1\n',
     ["scenarios.s.tariffs[0]", "exactly one of rate, add or floor", "rate and add"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nrate = -1.2\n', ["scenarios.s.tariffs[0].rate", "above -1"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = ["agriculture"]\nadd = -1.5\n',
     ["scenarios.s.tariffs[0]", "tariff of -1.2", "-100 %"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "HOME"\n'
     'sectors = "all"\nrate = 0.1\n', ["scenarios.s.tariffs[0]", "own goods"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nsectors = "all"\nrate = 0.1\n',
     ["scenarios.s.tariffs[0].exporter", "missing"]),
    ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nrate = "ten"\n', ["scenarios.s.tariffs[0].rate", "must be a number"]),
    ('[scenarios.s]\n[[scenarios.s.trade_costs]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nfactor = 0\n', ["scenarios.s.trade_costs[0].factor", "must be above 0"]),
    ('[scenarios.s]\nclosure = { trade_balance = "floating" }\n',
     ["scenarios.s.closure.trade_balance", "'floating' is not a closure"]),
    ('[scenarios.s]\nclosure = { trade_balance = { MARS = 0.0 } }\n',
     ["scenarios.s.closure.trade_balance.MARS", "unknown region"]),
    ('[scenarios.s]\nclosure = { wages = "fixed" }\n', ["scenarios.s.closure.wages", "unknown key"]),
    ('[solver]\ntol = 2.0\n[scenarios.s]\n', ["solver", "tol 2.0"]),
    ('[scenarios.s]\nclosure = { armington = "double" }\n',
     ["scenarios.s.closure.armington", "one_level, nested"]),
    ('[scenarios.s]\nclosure = { labour = { HOME = "sticky" } }\n',
     ["scenarios.s.closure.labour.HOME", "full_employment, fixed_real_wage"]),
    ('[scenarios.s]\nclosure = { capital_share = 1.5 }\n',
     ["scenarios.s.closure.capital_share", "[0, 1)"]),
    ('[scenarios.s]\nclosure = { labour = "fixed_real_wage" }\n',
     ["scenarios.s", "not determined", "specific_capital"]),
    ('[scenarios.s]\n[[scenarios.s.export_taxes]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = ["cars"]\nrate = 0.1\n', ["scenarios.s.export_taxes[0].sectors", "unknown sector"]),
    ('[scenarios.s]\n[[scenarios.s.preferences]]\nimporter = "HOME"\nexporter = "FOREIGN"\n'
     'sectors = "all"\nfactor = -2\n', ["scenarios.s.preferences[0].factor", "must be above 0"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\n', ["scenarios.s.target.instrument", "missing", "export_tax, preference"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = ["export_tax", "preference"]\nimporter = "FOREIGN"\n'
     'exporter = "HOME"\nsectors = "all"\n',
     ["scenarios.s.target.instrument", "exactly one instrument, not 2"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "quota"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\n', ["scenarios.s.target.instrument", "unknown instrument 'quota'"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = ["cars"]\n', ["scenarios.s.target.sectors", "unknown sector 'cars'"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "MARS"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\n', ["scenarios.s.target.region", "unknown region 'MARS'"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\n', ["scenarios.s.target.balance", "two regions", "closure"]),
    ('[scenarios.s.target]\nbalance = "overall"\nregion = "HOME"\nvalue = 0.0\n'
     'instrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\nsectors = "all"\n',
     ["scenarios.s.target.balance", "set by the trade-balance closure"]),
    ('[solver]\nspeed = 2\n[scenarios.s]\n', ["solver.speed", "unknown key"]),
    ('[solver]\nmax_iter = "many"\n[scenarios.s]\n', ["solver.max_iter", "must be an integer"]),
    ('[solver]\nmax_iter = 100.0\n[scenarios.s]\n', ["solver.max_iter", "must be an integer"]),
    ('[solver]\ntol = "x"\n[scenarios.s]\n', ["solver.tol", "must be a number"]),
    ('[scenarios.s]\nclosure = { capital_share = 0.5 }\n',
     ["scenarios.s.closure.capital_share", "no effect unless factors"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\nbounds = [0.0, inf]\n', ["scenarios.s.target.bounds", "finite"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "preference"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\nbounds = [-1.0, 2.0]\n', ["scenarios.s.target.bounds", "above 0"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "export_tax"\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\nbounds = [-1.5, 2.0]\n', ["scenarios.s.target.bounds", "above -1"]),
]


@pytest.mark.parametrize("body,words", BAD, ids=[b[1][0] + ":" + b[1][-1] for b in BAD])
def test_bad_scenario_is_refused_naming_the_key(tmp_path, bm, body, words):
    path = write_scenario(tmp_path, body, data=str(EXAMPLE))
    with pytest.raises(ScenarioError) as info:
        prepare_scenarios(load_scenario_file(path), bm)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message, (word, message)


def test_missing_data_key(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[scenarios.s]\n')
    with pytest.raises(ScenarioError, match="data: missing"):
        load_scenario_file(path)


def test_base_scenario_entries_and_closure_are_inherited(tmp_path, bm):
    body = """
[scenarios.a]
closure = { factors = "specific_capital" }
[[scenarios.a.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["autos"]
rate = 0.25

[scenarios.b]
base = "a"
closure = { trade_balance = "balanced" }
[[scenarios.b.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = ["agriculture"]
add = 0.1
"""
    sf, (a, b) = policies_of(tmp_path, body, bm)
    assert b.t1[F, H, AUT] == 0.25 and b.t1[F, H, AG] == pytest.approx(bm.t0[F, H, AG] + 0.1)
    assert a.t1[F, H, AG] == bm.t0[F, H, AG]
    assert (b.theta < 1).all() and np.allclose(b.D1, 0.0)
    assert sf.scenarios[1].closure.factors == "specific_capital"


def test_base_scenario_target_is_inherited(tmp_path):
    path = write_scenario(tmp_path, """
[scenarios.a.target]
balance = "bilateral"
region = "HOME"
partner = "FOREIGN"
value = 1.0
instrument = "export_tax"
importer = "FOREIGN"
exporter = "HOME"
sectors = "all"
[scenarios.b]
base = "a"
closure = { labour = { HOME = "fixed_real_wage" } }
""", data=str(EXAMPLE))
    sf = load_scenario_file(path)
    assert sf.scenarios[1].target == sf.scenarios[0].target
    assert sf.scenarios[1].closure.labour == (("HOME", "fixed_real_wage"),)


def test_unknown_base_is_refused(tmp_path, bm):
    path = write_scenario(tmp_path, '[scenarios.b]\nbase = "a"\n', data=str(EXAMPLE))
    with pytest.raises(ScenarioError, match="scenarios.b.base: 'a' is not a scenario defined above"):
        load_scenario_file(path)


def test_uniform_tariff_bounds_are_checked_against_the_scenarios_tariffs(tmp_path):
    """A scenario that cuts a tariff to -60 % cannot search a uniform tariff change down to
    -50 points: the cell would reach -110 %, though the benchmark rate plus -50 points would
    not."""
    data = (ROOT / "data" / "jpn_usa_row_2024").as_posix()
    body = ('[scenarios.s]\n[[scenarios.s.tariffs]]\nimporter = "USA"\nexporter = "JPN"\n'
            'sectors = ["motor_vehicles_and_parts"]\nrate = -0.6\n'
            '[scenarios.s.target]\nbalance = "bilateral"\nregion = "JPN"\npartner = "USA"\n'
            'value = 0.0\ninstrument = "uniform_tariff"\nimporter = "USA"\nexporter = "JPN"\n'
            'sectors = "all"\nbounds = [-0.5, 1.0]\n')
    path = write_scenario(tmp_path, body, data=data)
    bm = calibrate(load_dataset(data))
    with pytest.raises(ScenarioError, match=r"scenarios.s.target.bounds: the low bound -0.5 "
                                            r"would take a tariff to -100 % or below"):
        prepare_scenarios(load_scenario_file(path), bm)
    ok = prepare_scenarios(load_scenario_file(write_scenario(
        tmp_path, body.replace("[-0.5, 1.0]", "[-0.3, 1.0]"), data=data)), bm)
    assert ok[0].search is not None

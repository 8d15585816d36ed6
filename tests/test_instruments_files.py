"""Quotas, the trade balance as an instrument, optimal tariffs and Nash games written in scenario
files: solved by the command line into the results, reported, usable in sweeps; bad input exits
2 naming the key."""

import numpy as np
import pytest
import xarray as xr

from model.run import main
from tests.conftest import EXAMPLE, ROOT, write_scenario

THREE = ROOT / "data" / "jpn_usa_row_2024"

INSTRUMENTS = """
[scenarios.autos_tariff]
[[scenarios.autos_tariff.tariffs]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "autos"
rate = 0.3

[scenarios.autos_quota]
description = "FOREIGN caps HOME's autos at 80 % of the benchmark quantity, rents to HOME"
[[scenarios.autos_quota.quotas]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "autos"
ratio = 0.8
rents = "exporter"

[scenarios.autos_trq]
[[scenarios.autos_trq.quotas]]
importer = "FOREIGN"
exporter = "HOME"
sectors = "autos"
ratio = 0.5
out_of_quota_rate = 0.3

[scenarios.best_for_foreign]
closure = { trade_balance = "balanced" }
[scenarios.best_for_foreign.optimal_tariff]
region = "FOREIGN"
points = 11

[scenarios.balanced_free]
closure = { trade_balance = "balanced" }

[scenarios.tariff_war]
closure = { trade_balance = "balanced" }
[scenarios.tariff_war.nash]
players = ["HOME", "FOREIGN"]
"""


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("instruments")
    path = write_scenario(folder, INSTRUMENTS, data=str(EXAMPLE))
    out = folder / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    return xr.load_dataset(out), (out.parent / "report.md").read_text(), out.parent


def test_quota_results_and_report(solved):
    res, report, _ = solved
    cell = {"importer": "FOREIGN", "exporter": "HOME", "sector": "autos"}
    q = res.sel(scenario="autos_quota", **cell)
    assert int(q.quota_regime) == 1 and float(q.quota_fill) == pytest.approx(1.0, abs=1e-9)
    assert float(q.quota_rent) > 0 and float(q.quota_tariff_equivalent) > 0
    assert float(q.tariff) == pytest.approx(float(q.quota_tariff_equivalent))  # effective
    # the tariff of 30 % cuts imports by more than half: the TRQ is over quota, at 30 %
    trq = res.sel(scenario="autos_trq", **cell)
    assert int(trq.quota_regime) == 2
    np.testing.assert_allclose(res.welfare.sel(scenario="autos_trq"),
                               res.welfare.sel(scenario="autos_tariff"), atol=1e-8)
    assert np.isnan(res.quota_regime.sel(scenario="autos_tariff")).all()
    assert "### Quotas" in report and "at the quota" in report and "over quota" in report


def test_optimal_tariff_results_report_and_figure(solved):
    res, report, folder = solved
    s = res.sel(scenario="best_for_foreign")
    rate = float(s.instrument_value)
    assert 0 < rate < 1 and float(s.instrument_tariff.sel(region="FOREIGN")) == rate
    curve = s.curve_welfare.values[np.isfinite(s.curve_rate.values)]
    assert len(curve) == 11
    assert float(s.welfare.sel(region="FOREIGN")) >= curve.max() - 1e-9
    np.testing.assert_allclose(s.tariff.sel(importer="FOREIGN", exporter="HOME"), rate)
    assert "welfare along the tariffs searched" in report
    assert (folder / "optimal_tariff.png").is_file()
    assert "optimal uniform tariff of FOREIGN" in str(s.instrument.values)


def test_nash_results(solved):
    res, report, _ = solved
    s = res.sel(scenario="tariff_war")
    tariffs = s.instrument_tariff.values
    assert np.isfinite(tariffs).all() and (tariffs > 0).all()
    assert int(s.search_rounds) >= 2
    # both lose against the same closure without tariffs (the example has none)
    assert (s.welfare.values < res.welfare.sel(scenario="balanced_free").values).all()
    assert "Tariffs chosen" in report


def test_the_overall_balance_as_instrument_in_a_file(tmp_path):
    body = """
[scenarios.spend]
description = "Japan spends until its bilateral surplus with the US is gone"
[scenarios.spend.target]
balance = "bilateral"
region = "JPN"
partner = "USA"
value = 0.0
instrument = "trade_balance"
"""
    path = write_scenario(tmp_path, body, data=str(THREE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    res = xr.load_dataset(out).sel(scenario="spend")
    world = float(res.value_added_benchmark.sum())
    assert abs(float(res.bilateral_balance.sel(region="JPN", partner="USA"))) < 1e-8 * world
    assert float(res.trade_balance.sel(region="JPN")) == pytest.approx(
        float(res.instrument_value), abs=1e-8 * world)
    change = float(res.trade_balance.sel(region="JPN") - res.trade_balance_benchmark.sel(
        region="JPN"))
    assert change < -50  # spending the surplus takes a much larger fall of the overall balance
    net = res.welfare_net_of_transfer.sel(region="JPN")
    assert float(net) == pytest.approx(float(res.welfare_path_total.sel(region="JPN")
                                             - res.welfare_transfer.sel(region="JPN")))


def swept_instruments(draws: int, seed: int) -> str:
    """The instruments' scenarios before the tariff war, with a Monte Carlo sweep of the
    elasticities."""
    return INSTRUMENTS.split("[scenarios.tariff_war]")[0] + f"""
[sweep]
method = "monte_carlo"
draws = {draws}
seed = {seed}
[[sweep.parameters]]
name = "sigma"
distribution = "uniform"
low = 0.7
high = 1.3
"""


def test_sweep_solves_the_instrument_in_every_draw(tmp_path):
    path = write_scenario(tmp_path, swept_instruments(6, 2), data=str(EXAMPLE))
    out = tmp_path / "out" / "results.nc"
    assert main([str(path), "--out", str(out), "--quiet"]) == 0
    sweep = xr.load_dataset(out.parent / "sweep.nc")
    rates = sweep.instrument_value.sel(scenario="best_for_foreign").values
    assert np.isfinite(rates).all() and np.ptp(rates) > 1e-3  # solved per draw, not held
    tariff = sweep.instrument_tariff.sel(scenario="best_for_foreign", region="FOREIGN")
    np.testing.assert_allclose(tariff.values, rates)
    assert np.isnan(sweep.instrument_value.sel(scenario="autos_tariff")).all()
    assert (sweep.status.sel(scenario="autos_quota") == 0).all()
    # a draw's optimum is the optimum of the same model solved on its own
    from model.core.optimal import OptimalTariffSpec, optimal_tariff
    from model.core.search import with_sigma
    from model.study import prepare

    study = prepare(path)
    prepared = next(p for p in study.scenarios if p.name == "best_for_foreign")
    bm = with_sigma(study.benchmark, sweep.sigma.values[3])
    spec = prepared.search
    assert isinstance(spec, OptimalTariffSpec)
    assert optimal_tariff(bm, prepared.policy, spec)[2].value == pytest.approx(rates[3],
                                                                               abs=1e-7)


@pytest.mark.parametrize("body,words", [
    ('[scenarios.s]\n[[scenarios.s.quotas]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "autos"\nratio = -0.2\n', ["scenarios.s.quotas[0].ratio", "at or above zero"]),
    ('[scenarios.s]\n[[scenarios.s.quotas]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "autos"\nout_of_quota_rate = 0.5\n',
     ["scenarios.s.quotas[0]", "ratio", "quantity", "needs its quota"]),
    ('[scenarios.s]\n[[scenarios.s.quotas]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "all"\nquantity = 3.0\n', ["scenarios.s.quotas[0].quantity", "exactly one cell"]),
    ('[scenarios.s]\n[[scenarios.s.quotas]]\nimporter = "FOREIGN"\nexporter = "HOME"\n'
     'sectors = "autos"\nratio = 0.5\nrents = "them"\n', ["scenarios.s.quotas[0].rents"]),
    ('[scenarios.s]\n[scenarios.s.optimal_tariff]\nregion = "FOREIGN"\nexporter = "FOREIGN"\n',
     ["scenarios.s.optimal_tariff", "FOREIGN"]),
    ('[scenarios.s]\n[scenarios.s.optimal_tariff]\nregion = "FOREIGN"\nsectors = "autos"\n'
     'except = ["autos"]\n', ["scenarios.s.optimal_tariff.sectors", "selects no sector"]),
    ('[scenarios.s]\n[scenarios.s.nash]\nplayers = ["HOME"]\n',
     ["scenarios.s.nash.players", "two or more"]),
    ('[scenarios.s]\n[scenarios.s.nash]\nplayers = ["HOME", "MARS"]\n',
     ["scenarios.s.nash.players", "unknown region 'MARS'"]),
    ('[scenarios.s]\n[scenarios.s.nash]\nplayers = ["HOME", "FOREIGN"]\n'
     '[scenarios.s.optimal_tariff]\nregion = "HOME"\n', ["scenarios.s", "at most one"]),
    ('[scenarios.s.target]\nbalance = "bilateral"\nregion = "HOME"\npartner = "FOREIGN"\n'
     'value = 0.0\ninstrument = "trade_balance"\nimporter = "HOME"\n',
     ["scenarios.s.target.importer", "instrument_region"]),
])
def test_bad_instruments_exit_2_naming_the_key(tmp_path, capsys, body, words):
    path = write_scenario(tmp_path, body, data=str(EXAMPLE))
    assert main([str(path), "--out", str(tmp_path / "out" / "r.nc"), "--quiet"]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err, (word, err)

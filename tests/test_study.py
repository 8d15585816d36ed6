"""The economics of the Kiuchi study (results/kiuchi, which tests/test_reference_outputs.py
shows the scenario file reproduces): every way of eliminating the surplus reaches a zero
bilateral balance, every accepted regime taxes every partner as its regime file says, and the
transfer part of welfare is the change of the deficit over income."""

import numpy as np
import pytest
import xarray as xr

from calibration.io import load_dataset
from model.core.catalogue import VARIABLES
from tests.conftest import ROOT

RESULTS = ROOT / "results" / "kiuchi" / "results.nc"
ELIMINATE = ("spend_at_home", "spend_at_home_sr", "ver_tax", "ver_tax_sr", "ver_quota",
             "ver_quota_sr", "purchases", "purchases_sr")
ACCEPT = {"april_2025": "april_2025", "metals_50": "metals_june_2025",
          "threatened_24": "threatened_24_japan", "deal_2025": "deals_2025",
          "scotus_s122": "after_scotus_2026_s122", "scotus_2026": "after_scotus_2026",
          "deal_2025_sr": "deals_2025", "april_2025_sr": "april_2025"}
#: Japan escapes the tariffs by eliminating its surplus: its partners keep the late-2025 rates


@pytest.fixture(scope="module")
def res():
    return xr.load_dataset(RESULTS)


def test_every_way_of_eliminating_the_surplus_reaches_zero(res):
    world = float(res.value_added_benchmark.sum())
    assert bool(res.converged.sel(scenario=list(ELIMINATE)).all())
    balance = res.bilateral_balance.sel(scenario=list(ELIMINATE), region="JPN", partner="USA")
    assert float(abs(balance).max()) < 1e-8 * world
    assert float(res.bilateral_balance_benchmark.sel(region="JPN", partner="USA")) > 60


def test_every_accepted_regime_taxes_every_partner_as_its_file_says(res):
    regimes = load_dataset(ROOT / "data" / "world5_2024").regimes
    for scenario, regime in ACCEPT.items():
        t = res.tariff.sel(scenario=scenario, importer="USA")
        for exporter in ("JPN", "CHN", "EU", "ROW"):
            k = list(res.exporter.values).index(exporter)
            u = list(res.importer.values).index("USA")
            np.testing.assert_allclose(t.sel(exporter=exporter).values,
                                       regimes[regime][u, k], atol=1e-12,
                                       err_msg=f"{scenario} {exporter}")
    # the contrast case taxes Japan alone; the ways of eliminating the surplus tax all but Japan
    alone = res.tariff.sel(scenario="deal_japan_only", importer="USA")
    np.testing.assert_allclose(alone.sel(exporter="CHN"), res.tariff_benchmark.sel(
        importer="USA", exporter="CHN"), atol=1e-12)
    u = list(res.importer.values).index("USA")
    for scenario in ("spend_at_home", "ver_tax", "purchases"):
        t = res.tariff.sel(scenario=scenario, importer="USA")
        np.testing.assert_allclose(t.sel(exporter="JPN"), res.tariff_benchmark.sel(
            importer="USA", exporter="JPN"), atol=1e-12)
        k = list(res.exporter.values).index("CHN")
        np.testing.assert_allclose(t.sel(exporter="CHN"), regimes["deals_2025"][u, k],
                                   atol=1e-12)


def test_the_transfer_part_is_the_deficit_change_over_income(res):
    """The transfer part is the deficit change over benchmark income, each unit deflated by the
    consumer price index along the path of the shock: Delta D / I0 times the mean of 1 / Pc over
    the path, recomputed here by Simpson's rule on nine solves of the path."""
    from scipy.integrate import simpson

    from model.core.decomposition import policy_at
    from model.core.outcomes import outcomes
    from model.core.search import solve_scenario_policy
    from model.core.solver import solve
    from model.study import prepare

    study = prepare(ROOT / "scenarios" / "kiuchi.toml", compare=False)
    bm = study.benchmark
    spend = next(p for p in study.scenarios if p.name == "spend_at_home")
    final = solve_scenario_policy(bm, spend.policy, spend.search, study.file.solver)[0].policy
    lams = np.linspace(0.0, 1.0, 9)
    inverse_pc = [1.0 / outcomes(bm, policy_at(bm, final, lam),
                                 solve(bm, policy_at(bm, final, lam)))["price_index"]
                  for lam in lams]
    deflator = simpson(np.array(inverse_pc), x=lams, axis=0)
    s = res.sel(scenario="spend_at_home")
    change = -(s.trade_balance - s.trade_balance_benchmark)  # deficit change, dataset unit
    np.testing.assert_allclose(s.welfare_transfer,
                               100 * change / res.income_benchmark * deflator, rtol=1e-5)
    np.testing.assert_allclose(s.welfare_net_of_transfer,
                               s.welfare_path_total - s.welfare_transfer, atol=1e-12)
    # trade-policy routes move no deficit: no transfer
    for scenario in ("ver_tax", "purchases"):
        assert float(abs(res.welfare_transfer.sel(scenario=scenario)).max()) < 1e-7  # solver tol


def test_the_tariff_war_and_the_optimum_are_best_responses(res):
    """Each Nash rate is the player's optimal tariff given the others', recomputed here for the
    US; the optimal US tariff beats the rates around it on the curve it searched."""
    from model.core.optimal import OptimalTariffSpec, optimal_tariff
    from model.study import prepare

    study = prepare(ROOT / "scenarios" / "kiuchi.toml", compare=False)
    war = next(p for p in study.scenarios if p.name == "tariff_war")
    u = study.benchmark.regions.index("USA")
    policy = war.policy
    t1 = np.array(policy.t1)
    for k, player in enumerate(war.search.players):
        t1[war.search.masks[k]] = float(res.instrument_tariff.sel(
            scenario="tariff_war", region=study.benchmark.regions[player]))
    import dataclasses
    at_nash = dataclasses.replace(policy, t1=t1)
    mask = war.search.masks[war.search.players.index(u)]
    best = optimal_tariff(study.benchmark, at_nash, OptimalTariffSpec(u, mask, (0.0, 1.0), 11))
    assert best[2].value == pytest.approx(float(res.instrument_tariff.sel(
        scenario="tariff_war", region="USA")), abs=1e-6)
    curve = res.curve_welfare.sel(scenario="us_optimal").values
    assert float(res.welfare.sel(scenario="us_optimal", region="USA")) >= np.nanmax(curve)


def test_goods_exports_are_read_from_the_trade_flows(res):
    change = VARIABLES["goods_exports_change"].read(res).sel(scenario="deal_2025", region="JPN",
                                                              partner="USA")
    goods = [s for s in res.sector.values if s != "services"]
    x1 = float(res.trade.sel(scenario="deal_2025", exporter="JPN", importer="USA",
                             sector=goods).sum())
    x0 = float(res.trade_benchmark.sel(exporter="JPN", importer="USA", sector=goods).sum())
    assert float(change) == pytest.approx(100 * (x1 / x0 - 1), rel=1e-12)

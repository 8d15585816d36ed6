"""Closures and extensions: each can fail if its equations are wrong, and switching each off
gives the previous results exactly."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core.outcomes import outcomes
from model.core.settings import ModelError
from model.core.policy import make_policy
from model.core.solver import solve
from model.core.instruments import INSTRUMENTS, TargetSpec, balance
from model.core.targets import TargetError, solve_target


def shock(bm, size=0.25):
    t1 = bm.t0.copy()
    t1[1, 0, :] += size
    return t1


def with_sigma_m(ds, factor):
    return make_dataset(ds.regions, ds.sectors, ds.flows, ds.value_added, ds.intermediates,
                        ds.tariffs, ds.sigma, factor * ds.sigma)


def solved(bm, **kw):
    pol = make_policy(bm, **kw)
    return pol, outcomes(bm, pol, solve(bm, pol))


KEYS = ("welfare", "real_wage", "wage", "real_gdp", "terms_of_trade", "output", "trade")


@pytest.mark.parametrize("nr,ns", [(2, 4), (3, 3)])
def test_nested_armington_with_equal_elasticities_is_the_one_level_model(nr, ns):
    bm = calibrate(with_sigma_m(random_dataset(nr, ns, seed=nr), 1.0))
    _, one = solved(bm, t1=shock(bm))
    _, nested = solved(bm, t1=shock(bm), nested=True)
    for key in KEYS:
        np.testing.assert_allclose(nested[key], one[key], rtol=1e-10, atol=1e-10, err_msg=key)


def test_nested_armington_rule_of_two_changes_the_answer_in_the_expected_direction():
    bm = calibrate(with_sigma_m(random_dataset(3, 3, seed=1), 2.0))
    t1 = bm.t0.copy()
    t1[1, 0, :] += 0.25  # region 1 taxes region 0 only: others can replace region 0
    pol_one, one = solved(bm, t1=t1)
    pol_nest, nest = solved(bm, t1=t1, nested=True)
    # a higher elasticity among import sources diverts more of region 1's imports from 0 to 2
    share = lambda out: out["trade"][2, 1].sum() / (out["trade"][0, 1].sum() + out["trade"][2, 1].sum())
    assert share(nest) > share(one) + 1e-4


def test_option_defaults_reproduce_the_basic_model_exactly():
    bm = calibrate(random_dataset(3, 4, seed=3))
    t1 = shock(bm)
    base = make_policy(bm, t1=t1)
    explicit = make_policy(bm, t1=t1, e1=np.zeros_like(t1), pref=np.ones_like(t1), nested=False,
                           capital_share=0.0, fixed_real_wage=False)
    a = outcomes(bm, base, solve(bm, base))
    b = outcomes(bm, explicit, solve(bm, explicit))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_fixed_real_wage_holds_the_real_wage_and_moves_employment():
    bm = calibrate(random_dataset(2, 4, seed=5))
    pol, out = solved(bm, t1=shock(bm), capital_share=0.3, fixed_real_wage=True)
    np.testing.assert_allclose(out["real_wage"], 0.0, atol=1e-7)
    assert np.abs(out["employment_total"]).max() > 1e-3
    _, full = solved(bm, t1=shock(bm), capital_share=0.3)
    np.testing.assert_allclose(full["employment_total"], 0.0, atol=1e-12)
    assert np.abs(full["real_wage"]).max() > 1e-3
    # the tariff-hit exporter loses jobs and real GDP with it
    assert out["employment_total"][0] < 0 and out["real_gdp"][0] < full["real_gdp"][0]


def test_fixed_real_wage_without_a_fixed_factor_is_refused():
    bm = calibrate(random_dataset(2, 3, seed=1))
    for frw in (True, [True, False]):
        with pytest.raises(ModelError, match="fixed factor"):
            make_policy(bm, fixed_real_wage=frw)
    make_policy(bm, fixed_real_wage=[True, False], capital_share=0.2)


def test_specific_capital_rentals_follow_output_and_protection():
    bm = calibrate(random_dataset(2, 4, seed=6))
    t1 = bm.t0.copy()
    t1[0, 1, 2] += 0.5  # region 0 protects sector 2
    pol = make_policy(bm, t1=t1, capital_share=0.4)
    sol = solve(bm, pol)
    out = outcomes(bm, pol, sol)
    # the rental of sector-specific capital moves with the value of the sector's output
    np.testing.assert_allclose(sol.r_hat, sol.Y1 / bm.Y0, rtol=1e-8)
    assert sol.r_hat[0, 2] > sol.w_hat[0]  # protection raises the return to its capital
    # value added adds up: labour + capital income = value added
    assert out["value_added"][0] == pytest.approx((sol.w_hat[0] * 0.6 * bm.VA0[0]).sum()
                                                  + (sol.r_hat[0] * 0.4 * bm.VA0[0]).sum(), rel=1e-12)


def test_export_tax_rents_go_to_the_exporter_and_raise_its_terms_of_trade():
    bm = calibrate(random_dataset(2, 3, seed=7))
    e1 = np.zeros_like(bm.t0)
    e1[1, 0, :] = 0.2  # region 0 taxes its exports to region 1
    pol, out = solved(bm, e1=e1)
    X = out["trade"]
    expected_rents = (X[0, 1] * 0.2 / 1.2).sum()
    assert out["export_tax_rents"][0] == pytest.approx(expected_rents, rel=1e-12)
    assert out["export_tax_rents"][1] == 0.0
    assert out["terms_of_trade"][0] > 0 and out["terms_of_trade"][1] < 0


def test_preference_shift_moves_spending_and_costs_welfare_at_benchmark_preferences():
    bm = calibrate(random_dataset(2, 3, seed=8, tariffs=False))
    pref = np.ones_like(bm.t0)
    pref[0, 1, :] = 2.0  # region 0 is made to favour region 1's goods
    pol, out = solved(bm, pref=pref)
    base_share = bm.X0[1, 0].sum() / bm.X0[:, 0].sum()
    share = out["trade"][1, 0].sum() / out["trade"][:, 0].sum()
    assert share > base_share
    assert out["welfare"][0] < 0  # a distorted mix costs the buyer


def spec(bm, instrument, mask_cells, value=0.0, bounds=(-0.5, 10.0)):
    mask = np.zeros(bm.t0.shape, dtype=bool)
    for cell in mask_cells:
        mask[cell] = True
    return TargetSpec(region=0, partner=1, value=value, instrument=INSTRUMENTS[instrument],
                      mask=mask, bounds=bounds, label="test")


@pytest.mark.parametrize("instrument,cells,bounds", [
    ("export_tax", [(1, 0, slice(None))], (-0.5, 10.0)),
    ("uniform_tariff", [(0, 1, slice(None))], (-0.5, 10.0)),
    ("preference", [(0, 1, slice(None))], (0.02, 50.0)),
])
def test_target_is_met_by_the_instrument(instrument, cells, bounds):
    ds = random_dataset(3, 3, seed=9)
    bm = calibrate(ds)
    start = float(outcomes(bm, make_policy(bm), solve(bm, make_policy(bm)))["bilateral_balance"][0, 1])
    target = start - 0.3 * abs(start) - 1.0  # move region 0's balance with region 1 down
    s = spec(bm, instrument, cells, value=target, bounds=bounds)
    sol, pol, v = solve_target(bm, make_policy(bm), s)
    assert abs(balance(pol, sol, 0, 1) - target) < 1e-8
    assert v != (1.0 if instrument == "preference" else 0.0)


def test_unreachable_target_reports_the_closest_value(monkeypatch):
    """The closest value found on a scan of the interval; without the diagnosis (a sweep
    draw), the miss at the bounds, with 25 solves fewer."""
    import model.core.solver as solver

    bm = calibrate(random_dataset(3, 3, seed=9))
    s = spec(bm, "export_tax", [(1, 0, 0)], value=-1e6, bounds=(0.0, 1.0))
    calls, original = [], solver._solve_fixed
    monkeypatch.setattr(solver, "_solve_fixed", lambda *a: calls.append(1) or original(*a))
    with pytest.raises(TargetError, match="closest is"):
        solve_target(bm, make_policy(bm), s)
    scanned, calls[:] = len(calls), []
    with pytest.raises(TargetError, match=r"misses it by .* and .* at the bounds"):
        solve_target(bm, make_policy(bm), s, diagnose=False)
    assert len(calls) == scanned - 25

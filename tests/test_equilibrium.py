"""Properties of the equilibrium that could fail if an equation were wrong: the zero shock,
Walras' law, homogeneity, symmetry and the ACR / Caliendo-Parro autarky formula."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core import equations as eq
from model.core import layout
from model.core.outcomes import outcomes, updated_dataset
from calibration.accounts import trade_balance
from model.core.policy import deficit_rule, make_policy
from model.core.settings import SolverSettings
from model.core.solver import initial_state, solve
from model.core.params import kernel_params

PERCENT = ("welfare", "real_wage", "real_gdp", "terms_of_trade", "output", "employment")


def shocked(bm, rng, size=0.3):
    nr = len(bm.regions)
    t1 = bm.t0 + rng.uniform(0, size, bm.t0.shape)
    t1[np.arange(nr), np.arange(nr), :] = 0.0
    return t1


@pytest.mark.parametrize("nr,ns,zeros", [(2, 13, 0.0), (3, 4, 0.4), (5, 3, 0.2), (2, 1, 0.0)])
def test_zero_shock_reproduces_benchmark(nr, ns, zeros):
    bm = calibrate(random_dataset(nr, ns, seed=7, zero_flows=zeros))
    pol = make_policy(bm)
    sol = solve(bm, pol)
    assert sol.converged and sol.iterations <= 1
    np.testing.assert_allclose(sol.w_hat, 1.0, atol=1e-12)
    np.testing.assert_allclose(sol.P_hat, 1.0, atol=1e-12)
    np.testing.assert_allclose(sol.c_hat, 1.0, atol=1e-12)
    out = outcomes(bm, pol, sol)
    for name in PERCENT:
        np.testing.assert_allclose(out[name], 0.0, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(out["price_index"], 1.0, atol=1e-12)
    np.testing.assert_allclose(out["trade"], bm.X0, rtol=1e-12, atol=1e-12 * bm.X0.max())
    np.testing.assert_allclose(out["tariff_revenue"], bm.R0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out["trade_balance"], -bm.D0, atol=1e-10)


def test_walras_law_holds_off_equilibrium():
    """Sum over regions of labour excess demand is zero at any wages, because world spending
    equals world producer revenue plus tariffs and deficits sum to zero."""
    rng = np.random.default_rng(3)
    bm = calibrate(random_dataset(4, 5, seed=11))
    pol = make_policy(bm, t1=shocked(bm, rng))
    p = kernel_params(bm, pol, SolverSettings(expenditure="direct"))
    va = p.structure.va
    for _ in range(5):
        w = rng.uniform(0.5, 1.5, 4)
        w *= va.sum() / (w * va).sum()
        x = initial_state(bm)
        wages, lP, _, _ = layout.split(x, 4, 5)
        wages[:] = w
        lP[:] = rng.normal(0, 0.2, (4, 5))
        out = eq.evaluate(x, p)
        excess = out["LD"] - w * va
        assert np.abs(excess).max() > 1e-3 * va.sum()  # far from equilibrium
        assert abs(excess.sum()) < 1e-11 * va.sum()


def test_walras_law_at_equilibrium_trade_balances_meet_the_closure():
    rng = np.random.default_rng(4)
    bm = calibrate(random_dataset(3, 4, seed=5))
    for rule in ("fixed", "balanced", {0: 10.0}):
        pol = make_policy(bm, t1=shocked(bm, rng), D1=deficit_rule(bm, rule))
        sol = solve(bm, pol)
        out = outcomes(bm, pol, sol)
        # a trade-balance gap equals the factor-market residual: below tol x world value added
        bound = 1e-10 * bm.VA0.sum()
        np.testing.assert_allclose(out["trade_balance"], -pol.D1, atol=bound)
        if isinstance(rule, dict):
            assert out["trade_balance"][0] == pytest.approx(-10.0, abs=bound)


def test_targets_are_absorbed_in_proportion_to_value_added():
    bm = calibrate(random_dataset(3, 2, seed=2))
    D1 = deficit_rule(bm, {1: 5.0})
    change = D1 - bm.D0
    va = bm.VA0.sum(axis=1)
    assert D1[1] == 5.0 and abs(D1.sum()) < 1e-12
    assert change[0] / change[2] == pytest.approx(va[0] / va[2], rel=1e-12)


def test_equations_are_homogeneous_of_degree_one_in_nominal_values():
    """Scaling wages, prices and deficits by lam scales every value by lam and leaves shares."""
    rng = np.random.default_rng(8)
    bm = calibrate(random_dataset(3, 4, seed=8))
    pol = make_policy(bm, t1=shocked(bm, rng))
    p = kernel_params(bm, pol, SolverSettings(expenditure="direct"))
    x = initial_state(bm)
    wages, lP, _, _ = layout.split(x, 3, 4)
    wages[:] = rng.uniform(0.8, 1.2, 3)
    lP[:] = rng.normal(0, 0.1, (3, 4))
    lam = 3.7
    y = x.copy()
    wages, lP, _, _ = layout.split(y, 3, 4)
    wages *= lam
    lP += np.log(lam)
    a = eq.evaluate(x, p)
    b = eq.evaluate(y, p._replace(shock=p.shock._replace(D1=lam * p.shock.D1)))
    np.testing.assert_allclose(b["pi1"], a["pi1"], rtol=1e-12)
    np.testing.assert_allclose(b["lP"], a["lP"] + np.log(lam), rtol=1e-12)
    for name in ("E1", "Y1", "LD"):
        np.testing.assert_allclose(b[name], lam * a[name], rtol=1e-11)


def test_scaling_the_data_changes_no_percent_result():
    rng = np.random.default_rng(9)
    ds = random_dataset(3, 4, seed=9)
    k = 7.31
    scaled = make_dataset(ds.regions, ds.sectors, k * ds.flows, k * ds.value_added,
                          k * ds.intermediates, ds.tariffs, ds.sigma)
    bm, bm_k = calibrate(ds), calibrate(scaled)
    t1 = shocked(bm, rng)
    for rule in ("fixed", "balanced"):
        pa, pb = (make_policy(b, t1=t1, D1=deficit_rule(b, rule)) for b in (bm, bm_k))
        a, b = outcomes(bm, pa, solve(bm, pa)), outcomes(bm_k, pb, solve(bm_k, pb))
        for name in PERCENT + ("wage", "price_index"):
            np.testing.assert_allclose(b[name], a[name], rtol=1e-8, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(b["trade"], k * a["trade"], rtol=1e-8)


def symmetric_dataset(ns=3, seed=1):
    base = random_dataset(2, ns, seed=seed)
    X = base.flows.copy()
    X[1, 1], X[1, 0] = X[0, 0], X[0, 1]
    t = base.tariffs.copy()
    t[1, 0] = t[0, 1]
    va = np.array([base.value_added[0]] * 2)
    m = np.array([base.intermediates[0]] * 2)
    return make_dataset(("A", "B"), base.sectors, X, va, m, t, base.sigma)


def test_symmetric_regions_with_symmetric_shock_have_symmetric_results():
    bm = calibrate(symmetric_dataset())
    assert np.allclose(bm.D0, 0.0)
    t1 = bm.t0 + 0.2
    t1[[0, 1], [0, 1], :] = 0.0
    pol = make_policy(bm, t1=t1)
    out = outcomes(bm, pol, solve(bm, pol))
    for name in ("welfare", "real_wage", "real_gdp", "wage", "tariff_revenue"):
        assert out[name][0] == pytest.approx(out[name][1], rel=1e-9, abs=1e-10), name
    np.testing.assert_allclose(out["output"][0], out["output"][1], rtol=1e-9, atol=1e-10)
    assert out["welfare"][0] < 0  # a tariff war between equals hurts both


def test_mirrored_shocks_give_mirrored_results():
    bm = calibrate(symmetric_dataset(ns=4, seed=3))
    t_a = bm.t0.copy()
    t_a[0, 1, :] += 0.25  # A taxes B
    t_b = bm.t0.copy()
    t_b[1, 0, :] += 0.25  # B taxes A
    pa, pb = make_policy(bm, t1=t_a), make_policy(bm, t1=t_b)
    a, b = outcomes(bm, pa, solve(bm, pa)), outcomes(bm, pb, solve(bm, pb))
    for name in ("welfare", "real_wage", "wage", "terms_of_trade"):
        np.testing.assert_allclose(a[name], b[name][::-1], rtol=1e-9, atol=1e-10, err_msg=name)
    assert a["terms_of_trade"][0] > 0  # the taxing region's terms of trade improve


def balanced_free_trade_dataset(nr, ns, seed):
    """A benchmark with zero tariffs and zero deficits: the balanced free-trade equilibrium of a
    random dataset, taken as a new benchmark."""
    bm = calibrate(random_dataset(nr, ns, seed=seed))
    pol = make_policy(bm, t1=np.zeros_like(bm.t0), D1=np.zeros(nr))
    ds = updated_dataset(bm, pol, solve(bm, pol))
    bm = calibrate(ds)
    assert np.abs(bm.D0).max() < 1e-8 * bm.VA0.sum() and not bm.t0.any()
    return bm


@pytest.mark.parametrize("nr,ns,seed", [(2, 1, 0), (2, 4, 1), (3, 6, 2), (4, 3, 3)])
def test_autarky_welfare_matches_the_acr_caliendo_parro_formula(nr, ns, seed):
    r"""With prohibitive tariffs, :math:`\log\hat W_n = \alpha_n'(I-\Gamma_n')^{-1}
    (\log\pi_{nn} / (\sigma - 1))`: only domestic shares, the input-output matrix and the
    elasticities matter (Arkolakis, Costinot & Rodriguez-Clare 2012; Caliendo & Parro 2015)."""
    bm = balanced_free_trade_dataset(nr, ns, seed)
    t1 = np.full_like(bm.t0, np.inf)
    t1[np.arange(nr), np.arange(nr), :] = 0.0
    pol = make_policy(bm, t1=t1, D1=np.zeros(nr))
    sol = solve(bm, pol)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = outcomes(bm, pol, sol)
    for n in range(nr):
        own = bm.pi0[n, n, :]
        G = bm.gamma[n]  # [k, j]
        a = np.log(own) / (bm.sigma - 1.0)
        expected = 100.0 * (np.exp(bm.alpha[n] @ np.linalg.solve(np.eye(ns) - G.T, a)) - 1.0)
        assert out["welfare"][n] == pytest.approx(expected, abs=1e-6), n
        assert expected < 0
    idx = np.arange(nr)
    foreign = out["trade"].copy()
    foreign[idx, idx, :] = 0.0
    assert foreign.max() == 0.0


def test_trade_balance_helper_counts_only_foreign_flows():
    X = np.zeros((2, 2, 1))
    X[0, 0, 0], X[0, 1, 0], X[1, 0, 0], X[1, 1, 0] = 100.0, 7.0, 3.0, 50.0
    np.testing.assert_array_equal(trade_balance(X), [4.0, -4.0])


def test_a_replaced_policy_is_what_dataclasses_replace_makes():
    """``Policy.replace`` (the searches' way to change a policy) gives the fields
    ``dataclasses.replace`` gives, the new arrays frozen like the others, the original
    untouched; an unknown field is an error."""
    import dataclasses

    bm = calibrate(random_dataset(3, 4, seed=2))
    pol = make_policy(bm, capital_share=0.3, fixed_real_wage=[True, False, False])
    e1 = np.full(pol.e1.shape, 0.1)
    np.fill_diagonal(e1[:, :, 0], 0.0)
    fast, slow = pol.replace(e1=e1, quotas=None), dataclasses.replace(pol, e1=e1.copy())
    assert type(fast) is type(slow)
    for field in dataclasses.fields(pol):
        a, b = getattr(fast, field.name), getattr(slow, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
            assert not a.flags.writeable
        else:
            assert a == b
    assert fast.e1 is e1 and (pol.e1 == 0).all() and fast.t1 is pol.t1
    with pytest.raises(ValueError):
        fast.e1[0, 1, 0] = 0.2
    with pytest.raises(TypeError, match="tariffs"):
        pol.replace(tariffs=pol.t1)

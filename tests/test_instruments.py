"""Quantity instruments (quotas, export restraints, tariff-rate quotas), the trade balance as
an instrument, optimal tariffs and Nash equilibria in tariffs: each against a property of the
model that could fail."""

import dataclasses

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core.decomposition import decompose
from model.core.optimal import (NashSpec, OptimalTariffSpec, OptimumError, nash,
                                optimal_tariff, welfare)
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.quotas import (AT_QUOTA, IN_QUOTA, OVER_QUOTA, PROHIBITED, cell_quantity,
                               make_quotas)
from model.core.settings import SolverSettings
from model.core.solver import solve
from model.core.instruments import INSTRUMENTS, TargetSpec, balance
from model.core.targets import solve_target

TIGHT = SolverSettings(tol=1e-13)
N, I, J = 0, 1, 2  # the quota cell: imports of region 0 from region 1 of sector 2


@pytest.fixture(scope="module")
def world():
    """Three regions, four sectors, input-output links and benchmark tariffs."""
    return calibrate(random_dataset(3, 4, seed=7))


def tariff_case(bm, rate):
    t1 = np.array(bm.t0)
    t1[N, I, J] = rate
    pol = make_policy(bm, t1=t1)
    return pol, solve(bm, pol, TIGHT)


def quantity_at(bm, pol, sol):
    return cell_quantity(bm, pol, sol, make_quotas([(N, I, J)], 1.0, 0.0))[0][0]


def exporter_target(bm, name, bounds, share):
    """Region 1's balance with region 0 moved by ``share`` of its benchmark size, met by the
    instrument ``name`` on region 1's sales to region 0: up for the importer's preference
    shift, down for the exporter's restraints."""
    from calibration.accounts import bilateral_balance

    mask = np.zeros(bm.t0.shape, dtype=bool)
    mask[0, 1, :] = True
    b0 = bilateral_balance(bm.X0)[1, 0]
    target = b0 + (share if name == "preference" else -share) * abs(b0)
    return TargetSpec(1, 0, target, INSTRUMENTS[name], mask, bounds)


def same_allocation(bm, a, b, tol=1e-8):
    scale = bm.VA0.sum()
    oa, ob = outcomes(bm, a.policy, a), outcomes(bm, b.policy, b)
    np.testing.assert_allclose(oa["trade"], ob["trade"], rtol=0, atol=tol * scale)
    np.testing.assert_allclose(a.w_hat, b.w_hat, rtol=0, atol=tol)
    np.testing.assert_allclose(a.P_hat, b.P_hat, rtol=0, atol=tol)
    return oa, ob


@pytest.mark.parametrize("rate", [0.35, 1.2])
def test_a_quota_at_the_tariffs_quantity_is_the_tariff(world, rate):
    """Tariff-quota equivalence: same allocation; with the rents to the importer's government,
    the same welfare; the quota's tariff equivalent is the tariff."""
    bm = world
    pol_t, sol_t = tariff_case(bm, rate)
    q = quantity_at(bm, pol_t, sol_t)
    assert q < 0.95  # the tariff cuts the flow, so the quota binds
    quotas = make_quotas([(N, I, J)], q, bm.t0[N, I, J])
    sol_q = solve(bm, make_policy(bm, quotas=quotas), TIGHT)
    assert sol_q.quota.regime[0] == AT_QUOTA
    assert sol_q.quota.tariff_equivalent[0] == pytest.approx(rate, abs=1e-8)
    oq, ot = same_allocation(bm, sol_q, sol_t)
    np.testing.assert_allclose(oq["welfare"], ot["welfare"], atol=1e-8)
    expected_rent = (rate - bm.t0[N, I, J]) * ot["trade"][I, N, J]
    assert sol_q.quota.rent[0] == pytest.approx(expected_rent, rel=1e-8)


def test_rents_held_by_the_exporter_are_its_income(world):
    bm = world
    pol_t, sol_t = tariff_case(bm, 0.5)
    q = quantity_at(bm, pol_t, sol_t)
    out = {}
    for holder in (0.0, 1.0):
        quotas = make_quotas([(N, I, J)], q, bm.t0[N, I, J], to_exporter=holder)
        sol = solve(bm, make_policy(bm, quotas=quotas), TIGHT)
        assert quantity_at(bm, sol.policy, sol) == pytest.approx(q, rel=1e-9)
        out[holder] = (sol, outcomes(bm, sol.policy, sol))
    sol_x, o_x = out[1.0]
    rent = sol_x.quota.rent[0]
    assert rent > 0
    # the rent is a transfer from the importer to the exporter, on top of the closure
    np.testing.assert_allclose(sol_x.policy.D1 - bm.D0, [-rent, rent, 0.0], atol=1e-10)
    assert o_x["welfare"][I] > out[0.0][1]["welfare"][I]
    assert o_x["welfare"][N] < out[0.0][1]["welfare"][N]


def test_tariff_rate_quota_regimes(world):
    """Binding between the rates: the tariff equivalent of the quantity; over quota: the
    out-of-quota tariff's allocation; not binding: the in-quota tariff's."""
    bm = world
    t_in = bm.t0[N, I, J]
    pol_t, sol_t = tariff_case(bm, 0.4)
    q = quantity_at(bm, pol_t, sol_t)
    binding = solve(bm, make_policy(bm, quotas=make_quotas([(N, I, J)], q, t_in, 0.9)), TIGHT)
    assert binding.quota.regime[0] == AT_QUOTA
    assert binding.quota.tariff_equivalent[0] == pytest.approx(0.4, abs=1e-8)
    same_allocation(bm, binding, sol_t)
    # over quota: a quota well below what buyers take at the out-of-quota rate 0.4
    over = solve(bm, make_policy(bm, quotas=make_quotas([(N, I, J)], 0.5 * q, t_in, 0.4)),
                 TIGHT)
    assert over.quota.regime[0] == OVER_QUOTA
    assert over.quota.tariff_equivalent[0] == pytest.approx(0.4, abs=1e-12)
    o_over, o_t = same_allocation(bm, over, sol_t)
    np.testing.assert_allclose(o_over["welfare"], o_t["welfare"], atol=1e-8)
    within = 0.5 * o_t["trade"][I, N, J]  # the quota is half of what is imported
    assert over.quota.rent[0] == pytest.approx((0.4 - t_in) * within, rel=1e-8)
    # not binding: a quota above what buyers take at the in-quota rate
    free = solve(bm, make_policy(bm), TIGHT)
    loose = solve(bm, make_policy(bm, quotas=make_quotas([(N, I, J)], 3.0, t_in, 0.9)), TIGHT)
    assert loose.quota.regime[0] == IN_QUOTA and loose.quota.rent[0] == 0.0
    same_allocation(bm, loose, free)


def test_a_nearby_problem_starts_its_quotas_where_this_one_ended(world):
    """The wedge and the measured slope of one solve start a nearby problem's quota rounds (a
    sweep draw, the next step of a target search): fewer rounds than from the wedge alone, and
    those fewer than from nothing; the same answer."""
    bm = world
    pol = make_policy(bm, quotas=make_quotas([(N, I, J)], 0.6, bm.t0[N, I, J]))
    first = solve(bm, pol, TIGHT)
    assert first.quota.regime[0] == AT_QUOTA
    assert np.isfinite(first.quota.slope).all() and (first.quota.slope > 0).all()
    sigma = bm.sigma * 1.02  # a nearby problem: other elasticities
    cold = solve(bm, pol, TIGHT, sigma=sigma)
    warm = solve(bm, pol, TIGHT, x0=first.x, sigma=sigma, quota_start=first.quota)
    wedge_only = solve(bm, pol, TIGHT, x0=first.x, sigma=sigma,
                       quota_start=dataclasses.replace(first.quota, slope=None))
    assert warm.quota.rounds < wedge_only.quota.rounds < cold.quota.rounds
    np.testing.assert_allclose(warm.quota.tariff_equivalent, cold.quota.tariff_equivalent,
                               rtol=0, atol=1e-11)
    same_allocation(bm, warm, cold)


def test_a_zero_quota_is_a_prohibitive_tariff(world):
    bm = world
    pol_t, sol_t = tariff_case(bm, np.inf)
    sol_q = solve(bm, make_policy(bm, quotas=make_quotas([(N, I, J)], 0.0, bm.t0[N, I, J])),
                  TIGHT)
    assert sol_q.quota.regime[0] == PROHIBITED
    same_allocation(bm, sol_q, sol_t)


def test_a_fixed_quantity_above_the_free_choice_needs_a_subsidy(world):
    bm = world
    quotas = make_quotas([(N, I, J)], 1.3, bm.t0[N, I, J], fixed=True)
    sol = solve(bm, make_policy(bm, quotas=quotas), TIGHT)
    assert quantity_at(bm, sol.policy, sol) == pytest.approx(1.3, rel=1e-9)
    assert sol.quota.tariff_equivalent[0] < bm.t0[N, I, J]
    assert sol.quota.rent[0] < 0  # the subsidy's cost to the importer's government


def test_the_welfare_decomposition_of_a_quota_adds_up(world):
    bm = world
    sol = solve(bm, make_policy(bm, quotas=make_quotas([(N, I, J)], 0.6, bm.t0[N, I, J],
                                                        to_exporter=0.5)), TIGHT)
    parts = decompose(bm, sol.policy)
    w = outcomes(bm, sol.policy, sol)["welfare"]
    np.testing.assert_allclose(parts["welfare_path_total"], w, atol=1e-7)


# ------------------------------------------------------------------ the trade balance
def test_the_overall_balance_meets_a_bilateral_target(world):
    """Region 0's overall balance as the instrument of its bilateral balance with region 1;
    regions 1 and 2 absorb the change in proportion to value added (a fixed closure)."""
    bm = world
    pol = make_policy(bm)
    absorb = bm.VA0.sum(axis=1) * np.array([0.0, 1.0, 1.0])
    spec = TargetSpec(0, 1, 0.0, INSTRUMENTS["trade_balance"], np.zeros(bm.t0.shape, bool),
                      (-bm.D0[0] - 0.5 * bm.VA0[0].sum(), -bm.D0[0] + 0.5 * bm.VA0[0].sum()),
                      instrument_region=0, absorb=absorb / absorb.sum())
    sol, final, value = solve_target(bm, pol, spec)
    assert abs(balance(final, sol, 0, 1)) < 1e-8 * bm.VA0.sum()
    assert -final.D1[0] == pytest.approx(value, abs=1e-12)
    assert final.D1.sum() == pytest.approx(0.0, abs=1e-9)
    np.testing.assert_allclose((final.D1 - bm.D0)[1:] / (final.D1 - bm.D0)[1:].sum(),
                               absorb[1:] / absorb.sum(), rtol=1e-12)
    parts = decompose(bm, final)
    change = final.D1 - bm.D0
    # the transfer part is the change of the deficit over income, deflated by the consumer
    # price index along the path (trapezoid of its two ends)
    deflator = (1 + 1 / outcomes(bm, final, sol)["price_index"]) / 2
    np.testing.assert_allclose(parts["welfare_transfer"], 100 * change / bm.I0 * deflator,
                               rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(parts["welfare_net_of_transfer"],
                               parts["welfare_path_total"] - parts["welfare_transfer"],
                               atol=1e-12)


def test_the_balance_a_target_meets_is_the_bilateral_balance_of_the_shipments(world):
    """``balance`` reads one pair of regions from the solution: the same number, to the bit,
    as the bilateral balance of all the shipments (and zero for a region with itself), with a
    quota's tariff equivalent in the effective policy."""
    from calibration.accounts import bilateral_balance
    from model.core.outcomes_numpy import shipments

    bm = world
    t1 = np.array(bm.t0)
    t1[0, 1, :] += 0.3
    t1[2, 0, 1] = np.inf  # a prohibitive tariff: no shipments there
    quota = make_policy(bm, quotas=make_quotas([(N, I, J)], 0.8, 0.0))
    for pol in (make_policy(bm, t1=t1), quota):
        sol = solve(bm, pol, TIGHT)
        X = shipments(sol.pi1, sol.E1, (sol.policy or pol).t1)
        everything = bilateral_balance(X)
        for r in range(3):
            for p in range(3):
                assert balance(pol, sol, r, p) == everything[r, p], (r, p)
        assert balance(pol, sol, 0, 1) != 0.0


# ------------------------------------------------------------------ optimal tariffs
def two_countries(sigma=5.0, home=(80.0, 20.0), foreign=(20.0, 130.0)):
    X = np.array([[[home[0]], [home[1]]], [[foreign[0]], [foreign[1]]]])
    return calibrate(make_dataset(("HOME", "FOREIGN"), ("good",), X, X.sum(axis=1),
                                  sigma=[sigma], name="two"))


def import_mask(n, i, shape):
    mask = np.zeros(shape, dtype=bool)
    mask[n, i, :] = True
    return mask


@pytest.mark.parametrize("sigma,foreign", [(5.0, (20.0, 130.0)), (3.0, (20.0, 60.0))])
def test_optimal_tariff_is_the_textbook_formula(sigma, foreign):
    """One sector, no input-output links, balanced trade: t* = 1 / (eps lambda_FF) with
    eps = sigma - 1 and lambda_FF the foreign region's domestic share at the optimum
    (Costinot and Rodriguez-Clare 2014)."""
    bm = two_countries(sigma, foreign=foreign)
    spec = OptimalTariffSpec(0, import_mask(0, 1, bm.t0.shape), (0.0, 1.5), 21)
    sol, pol, found = optimal_tariff(bm, make_policy(bm), spec)
    lam_ff = sol.pi1[1, 1, 0]
    assert found.value == pytest.approx(1.0 / ((sigma - 1.0) * lam_ff), abs=1e-6)
    assert not found.at_bound
    assert len(found.rates) == 21 and found.welfare.max() <= 100 * welfare(bm, sol)[0] + 1e-9
    assert pol.t1[0, 1, 0] == found.value


def test_nash_tariffs_of_symmetric_regions_are_equal_and_hurt_both():
    bm = two_countries(5.0, home=(100.0, 20.0), foreign=(20.0, 100.0))
    spec = NashSpec((0, 1), (import_mask(0, 1, bm.t0.shape), import_mask(1, 0, bm.t0.shape)))
    sol, pol, found = nash(bm, make_policy(bm), spec)
    assert found.tariffs[0] == pytest.approx(found.tariffs[1], abs=1e-7)
    assert found.tariffs[0] > 0.05 and found.rounds >= 2
    w = welfare(bm, sol)
    assert (w < 0).all()  # both worse off than under free trade (the benchmark)
    # each rate is a best response to the other
    for k, (n, i) in enumerate(((0, 1), (1, 0))):
        best = optimal_tariff(bm, pol, OptimalTariffSpec(n, import_mask(n, i, bm.t0.shape),
                                                         (0.0, 1.0), 11))[2].value
        assert best == pytest.approx(found.tariffs[n], abs=1e-6)


def test_nash_that_does_not_settle_fails_with_the_rates(world):
    bm = world
    masks = tuple(import_mask(n, i, bm.t0.shape) for n, i in ((0, 1), (1, 0)))
    with pytest.raises(OptimumError, match="did not settle in 1 rounds: rates"):
        nash(bm, make_policy(bm), NashSpec((0, 1), masks, max_rounds=1))


def test_three_region_nash_is_a_best_response_for_everyone(world):
    bm = world
    masks = []
    for n in range(3):
        mask = np.zeros(bm.t0.shape, dtype=bool)
        mask[n, [i for i in range(3) if i != n], :] = True
        masks.append(mask)
    sol, pol, found = nash(bm, make_policy(bm), NashSpec((0, 1, 2), tuple(masks)))
    for n in range(3):
        spec = OptimalTariffSpec(n, masks[n], (0.0, 1.0), 11)
        assert optimal_tariff(bm, pol, spec)[2].value == pytest.approx(found.tariffs[n],
                                                                         abs=1e-6)


def test_a_quota_scenario_decomposes_through_its_effective_policy(world):
    from model.core.settings import ModelError

    bm = world
    pol = make_policy(bm, quotas=make_quotas([(N, I, J)], 0.6, bm.t0[N, I, J]))
    with pytest.raises(ModelError, match="effective policy"):
        decompose(bm, pol)
    assert dataclasses.replace(pol, quotas=None).quotas is None


def test_an_export_restraint_as_a_quantity_meets_a_bilateral_target(world):
    """The export_quota instrument: region 1's shipments to region 0 capped at one share of
    their benchmark quantity, rents kept by region 1, until the balance reaches the target."""
    bm = world
    mask = np.zeros(bm.t0.shape, dtype=bool)
    mask[0, 1, :] = True
    from calibration.accounts import bilateral_balance

    target = 0.5 * bilateral_balance(bm.X0)[1, 0]
    spec = TargetSpec(1, 0, target, INSTRUMENTS["export_quota"], mask, (0.05, 1.5))
    sol, final, value = solve_target(bm, make_policy(bm), spec)
    assert abs(balance(final, sol, 1, 0) - target) < 1e-8 * bm.VA0.sum()
    assert 0.05 < value < 1.0
    np.testing.assert_allclose(sol.quota.quantity[sol.quota.regime == AT_QUOTA], value,
                               rtol=1e-9)
    assert (sol.quota.rent >= 0).all() and sol.quota.transfers[1] > 0


def test_a_target_bound_without_equilibrium_moves_towards_the_middle(world):
    """A trade-balance bound so far out that no equilibrium exists is moved inwards, and the
    target is still met."""
    bm = world
    absorb = bm.VA0.sum(axis=1) * np.array([0.0, 1.0, 1.0])
    far = 50 * bm.VA0[0].sum()
    spec = TargetSpec(0, 1, 0.0, INSTRUMENTS["trade_balance"], np.zeros(bm.t0.shape, bool),
                      (-bm.D0[0] - far, -bm.D0[0] + far), instrument_region=0,
                      absorb=absorb / absorb.sum())
    sol, final, value = solve_target(bm, make_policy(bm), spec)
    assert abs(balance(final, sol, 0, 1)) < 1e-8 * bm.VA0.sum()


@pytest.mark.parametrize("name, bounds, off", [("export_quota", (0.05, 1.5), 1.3),
                                               ("export_tax", (-0.5, 10.0), 0.6),
                                               ("preference", (0.02, 50.0), 2.0)])
def test_a_guess_reaches_the_value_the_bracketing_search_finds(world, name, bounds, off):
    """Secant steps from a guess (a sweep draw starts from the central value) end where the
    bracketing search ends, with fewer solves; a guess from which the steps fail (a bound in
    the way) falls back to the bracketing search."""
    import model.core.targets as targets

    bm = world
    spec = exporter_target(bm, name, bounds, 0.5)
    calls = {"n": 0}
    original = targets.solve

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original(*args, **kwargs)

    targets.solve = counted
    try:
        sol_b, final_b, v_b = solve_target(bm, make_policy(bm), spec)
        bracketing, calls["n"] = calls["n"], 0
        sol_s, final_s, v_s = solve_target(bm, make_policy(bm), spec, guess=v_b * off)
        secant, calls["n"] = calls["n"], 0
        # a guess at the upper bound: the first step leaves the interval
        sol_f, _, v_f = solve_target(bm, make_policy(bm), spec, guess=bounds[1])
    finally:
        targets.solve = original
    scale = bm.VA0.sum()
    assert abs(balance(final_s, sol_s, spec.region, spec.partner) - spec.value) < 1e-13 * scale
    np.testing.assert_allclose(v_s, v_b, rtol=1e-9)
    np.testing.assert_allclose(v_f, v_b, rtol=1e-9)
    np.testing.assert_allclose(sol_s.w_hat, sol_b.w_hat, rtol=0, atol=1e-9)
    assert secant < bracketing, (secant, bracketing)


@pytest.mark.parametrize("name, bounds, quota", [("export_tax", (-0.5, 10.0), False),
                                                 ("preference", (0.02, 50.0), False),
                                                 ("preference", (0.02, 50.0), True)])
def test_the_steps_from_a_guess_solve_loosely_until_the_target_is_near(world, name, bounds,
                                                                      quota, monkeypatch):
    """The secant steps (and, with a binding quota, the joint steps) from a nearby solution
    solve loosely while the balance misses the target by much: the same instrument value and
    wedges as with every solve at the search's tolerance, a last solve at that tolerance, and
    fewer iterations in all."""
    import model.core.solver as solver
    import model.core.targets as targets
    from model.core.search import with_sigma

    bm = world
    spec = exporter_target(bm, name, bounds, 0.3)
    pol = make_policy(bm, quotas=make_quotas([(0, 1, 1)], 0.8, bm.t0[0, 1, 1], np.inf, 0.0)
                      ) if quota else make_policy(bm)
    central, _, v_c = solve_target(bm, pol, spec, TIGHT)
    nearby = with_sigma(bm, bm.sigma * np.linspace(0.9, 1.15, len(bm.sigma)))
    runs = {}
    original, default = solver._solve_fixed, targets.LOOSE_TOL
    for loose in (default, TIGHT.tol):  # the second: every solve at 1e-13
        monkeypatch.setattr(targets, "LOOSE_TOL", loose)
        solves = []

        def recorded(bm_, policy, settings, *args, **kwargs):
            sol = original(bm_, policy, settings, *args, **kwargs)
            solves.append((settings.tol, sol.iterations))
            return sol

        monkeypatch.setattr(solver, "_solve_fixed", recorded)
        runs[loose] = solve_target(nearby, pol, spec, TIGHT, x0=central.x, guess=v_c,
                                   quota_start=central.quota if quota else None), solves
    (sol_l, final_l, v_l), loose_solves = runs[default]
    (sol_t, _, v_t), tight_solves = runs[TIGHT.tol]
    tols = [t for t, _ in loose_solves]
    assert tols[0] == default and tols[-1] == TIGHT.tol
    assert all(TIGHT.tol <= t <= default for t in tols)
    assert {t for t, _ in tight_solves} == {TIGHT.tol}
    assert max(sol_l.residual, sol_l.price_residual, sol_l.absorption_residual) < TIGHT.tol
    assert abs(balance(final_l, sol_l, 1, 0) - spec.value) < 1e-12 * bm.VA0.sum()
    np.testing.assert_allclose(v_l, v_t, rtol=1e-10)
    np.testing.assert_allclose(sol_l.w_hat, sol_t.w_hat, rtol=0, atol=1e-10)
    if quota:
        np.testing.assert_allclose(sol_l.quota.tariff_equivalent, sol_t.quota.tariff_equivalent,
                                   rtol=0, atol=1e-10)
    iterations = [sum(i for _, i in s) for s in (loose_solves, tight_solves)]
    assert iterations[0] < iterations[1], iterations


def test_secant_steps_after_loose_solves_end_at_the_target():
    """Secant steps on smooth gaps whose every solve errs by up to 10 times its tolerance, in
    a random direction: wherever they end, the true gap is within what a tight solve's own
    error allows (a step looking small because the slope came from a loose solve must not end
    them)."""
    import types

    from model.core.targets import _secant

    spec = types.SimpleNamespace(bounds=(-10.0, 10.0),
                                 instrument=types.SimpleNamespace(geometric=False))
    rng = np.random.default_rng(1)
    ended, worst = 0, 0.0
    for _ in range(10000):
        a, b, root = rng.uniform(0.2, 2), rng.uniform(-1, 1), rng.uniform(-0.3, 0.3)
        size = rng.uniform(0.1, 10) * rng.choice([-1, 1])
        errors = iter(rng.uniform(-1, 1, 64))

        def gap(v, tol):
            return a * (v - root) + b * (v - root) ** 2 + size * tol * next(errors)

        v = _secant(gap, 0.0, spec, 1e-13, 1.0)  # a gap within 1e-14 ends it
        if v is not None:
            ended += 1
            worst = max(worst, abs(a * (v - root) + b * (v - root) ** 2))
    assert ended > 5000
    assert worst <= 2e-12, worst  # a tight solve errs by up to 1e-12 here


def test_a_guess_that_is_right_ends_the_search_at_once(world):
    """A draw of a grid sweep is its central case: the search from the central value ends on
    the solve at it (tightened), with no probe or step."""
    import model.core.solver as solver

    bm = world
    spec = exporter_target(bm, "export_tax", (-0.5, 10.0), 0.3)
    central, _, v_c = solve_target(bm, make_policy(bm), spec, TIGHT)
    tols = []
    original = solver._solve_fixed

    def recorded(bm_, policy, settings, *args, **kwargs):
        tols.append(settings.tol)
        return original(bm_, policy, settings, *args, **kwargs)

    solver._solve_fixed = recorded
    try:
        sol, final, v = solve_target(bm, make_policy(bm), spec, TIGHT, x0=central.x,
                                     guess=v_c)
    finally:
        solver._solve_fixed = original
    assert v == v_c and tols[-1] == TIGHT.tol and len(tols) <= 2, tols
    assert abs(balance(final, sol, 1, 0) - spec.value) < 1e-12 * bm.VA0.sum()


@pytest.mark.parametrize("quota", [False, True])
def test_a_search_from_a_guess_never_ends_on_a_loose_solve(world, quota, monkeypatch):
    """Solves kept loose however close the balance comes (a forcing term so large that the
    tolerance never tightens): the steps from the guess cannot end on one, and the search
    still returns a solution at its own tolerance meeting the target."""
    import model.core.targets as targets

    bm = world
    spec = exporter_target(bm, "preference", (0.02, 50.0), 0.3)
    pol = make_policy(bm, quotas=make_quotas([(0, 1, 1)], 0.8, bm.t0[0, 1, 1], np.inf, 0.0)
                      ) if quota else make_policy(bm)
    central, _, v_c = solve_target(bm, pol, spec, TIGHT)
    monkeypatch.setattr(targets, "FORCING", 1e30)
    sol, final, value = solve_target(bm, pol, spec, TIGHT, x0=central.x, guess=v_c * 1.2,
                                     quota_start=central.quota if quota else None)
    assert max(sol.residual, sol.price_residual, sol.absorption_residual) < TIGHT.tol
    assert abs(balance(final, sol, 1, 0) - spec.value) < 1e-12 * bm.VA0.sum()
    np.testing.assert_allclose(value, v_c, rtol=1e-9)


@pytest.mark.parametrize("name, bounds, cell, t_out, to_exporter, regime", [
    ("preference", (0.02, 50.0), (0, 1, 1), np.inf, 0.0, AT_QUOTA),  # binding: joint steps
    ("export_tax", (-0.5, 10.0), (0, 2, 1), np.inf, 0.0, AT_QUOTA),
    ("preference", (0.02, 50.0), (0, 1, 1), 0.2, 0.0, OVER_QUOTA),   # a corner: nested
    ("preference", (0.02, 50.0), (0, 1, 1), np.inf, 0.6, AT_QUOTA)])  # rents abroad: nested
def test_a_target_with_quotas_from_a_nearby_solution(world, name, bounds, cell, t_out,
                                                     to_exporter, regime):
    """A sweep draw of a target with a quota (its instrument, wedges and state from the central
    solution): Broyden steps on the instrument and the wedge together end where the nested
    search (quota rounds inside every step) ends, with fewer solves; a quota that ends in a
    corner (over quota), or whose rent is partly the exporter's (transfers between the
    regions), is left to the nested search."""
    import model.core.solver as solver
    import model.core.targets as targets
    from model.core.search import with_sigma

    bm = world
    spec = exporter_target(bm, name, bounds, 0.3)
    # region 0's imports of one good capped below their benchmark quantity
    pol = make_policy(bm, quotas=make_quotas([cell], 0.8, bm.t0[cell], t_out, to_exporter))
    central, _, v_c = solve_target(bm, pol, spec, TIGHT)
    assert central.quota.regime[0] == regime
    nearby = with_sigma(bm, bm.sigma * np.linspace(0.95, 1.08, len(bm.sigma)))
    calls, joint = {"n": 0}, []  # equilibrium solves (quota rounds each count), joint steps
    original_solve, original_joint = solver._solve_fixed, targets._joint_steps

    def counted(*args, **kwargs):
        calls["n"] += 1
        return original_solve(*args, **kwargs)

    def recorded(*args, **kwargs):
        joint.append(original_joint(*args, **kwargs))
        return joint[-1]

    solver._solve_fixed, targets._joint_steps = counted, recorded
    try:
        sol_j, final_j, v_j = solve_target(nearby, pol, spec, TIGHT, x0=central.x, guess=v_c,
                                           quota_start=central.quota)
        steps, calls["n"] = calls["n"], 0
        sol_n, final_n, v_n = solve_target(nearby, pol, spec, TIGHT, x0=central.x, guess=v_c)
        nested = calls["n"]
    finally:
        solver._solve_fixed, targets._joint_steps = original_solve, original_joint
    assert (joint[0] is not None) == (regime == AT_QUOTA and to_exporter == 0)
    assert joint[1:] == []  # the nested search without a quota start: no joint steps
    scale = bm.VA0.sum()
    assert abs(balance(final_j, sol_j, 1, 0) - spec.value) < 1e-12 * scale
    np.testing.assert_allclose(v_j, v_n, rtol=1e-9)
    assert sol_j.quota.regime[0] == sol_n.quota.regime[0] == regime
    np.testing.assert_allclose(sol_j.quota.tariff_equivalent, sol_n.quota.tariff_equivalent,
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(sol_j.quota.rent, sol_n.quota.rent, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(sol_j.quota.transfers, sol_n.quota.transfers, rtol=0,
                               atol=1e-9 * bm.VA0.sum())
    assert (np.abs(sol_j.quota.transfers).max() > 0) == (to_exporter > 0)
    if regime == AT_QUOTA:
        np.testing.assert_allclose(sol_j.quota.quantity, 0.8, rtol=1e-11)
        if to_exporter == 0:
            assert steps < nested, (steps, nested)
    same_allocation(nearby, sol_j, sol_n, tol=1e-9)

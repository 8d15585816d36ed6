"""The welfare decomposition adds up to the welfare change and each part responds to its cause."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core.decomposition import PARTS, decompose
from model.core.outcomes import outcomes
from model.core.policy import deficit_rule, make_policy
from model.core.solver import solve


@pytest.fixture(scope="module")
def bm():
    ds = random_dataset(3, 4, seed=2)
    return calibrate(make_dataset(ds.regions, ds.sectors, ds.flows, ds.value_added,
                                  ds.intermediates, ds.tariffs, ds.sigma, 2 * ds.sigma))


def tariffs(bm, size=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t1 = bm.t0 + rng.uniform(0, size, bm.t0.shape)
    t1[range(3), range(3), :] = 0.0
    return t1


def cases(bm):
    e1 = np.zeros_like(bm.t0)
    e1[1, 0, :] = 0.1
    pref = np.ones_like(bm.t0)
    pref[0, 1, :2] = 1.5
    d_hat = np.ones_like(bm.t0)
    d_hat[2, 0, :] = 1.1
    return {
        "tariffs": dict(t1=tariffs(bm)),
        "balanced": dict(t1=tariffs(bm), D1=np.zeros(3)),
        "export_tax": dict(e1=e1),
        "preference": dict(pref=pref),
        "trade_cost": dict(d_hat=d_hat),
        "fixed_real_wage": dict(t1=tariffs(bm), capital_share=0.3, fixed_real_wage=True),
        "everything": dict(t1=tariffs(bm), e1=e1, pref=pref, d_hat=d_hat, nested=True,
                           capital_share=0.3, fixed_real_wage=[True, False, False],
                           D1=deficit_rule(bm, {0: 5.0})),
    }


@pytest.mark.parametrize("case", ["tariffs", "balanced", "export_tax", "preference", "trade_cost",
                                  "fixed_real_wage", "everything"])
def test_parts_add_up_to_the_welfare_change(bm, case):
    pol = make_policy(bm, **cases(bm)[case])
    welfare = outcomes(bm, pol, solve(bm, pol))["welfare"]
    parts = decompose(bm, pol)
    total = sum(parts[k] for k in PARTS)
    np.testing.assert_allclose(total, welfare, atol=1e-8)
    assert np.abs(welfare).max() > 0.05  # a shock big enough for the check to mean something


def test_each_part_is_zero_without_its_cause(bm):
    parts = decompose(bm, make_policy(bm, t1=tariffs(bm)))
    # deficits stay at their benchmark values up to the solver tolerance (1e-10 x world VA)
    np.testing.assert_allclose(parts["welfare_transfer"], 0.0, atol=1e-7)
    np.testing.assert_allclose(parts["welfare_employment"], 0.0, atol=1e-12)
    np.testing.assert_allclose(parts["welfare_preference"], 0.0, atol=1e-12)
    assert np.abs(parts["welfare_tot"]).min() > 1e-3 and np.abs(parts["welfare_volume"]).min() > 1e-3


def test_transfer_part_is_the_deficit_change_in_the_small_shock_limit(bm):
    # a small transfer: the part is close to the change in the deficit over income
    D1 = deficit_rule(bm, {0: bm.D0[0] + 1.0})
    parts = decompose(bm, make_policy(bm, D1=D1))
    expected = 100.0 * (D1 - bm.D0) / bm.I0
    np.testing.assert_allclose(parts["welfare_transfer"], expected, rtol=2e-3)


def test_a_unilateral_tariff_improves_the_imposers_terms_of_trade(bm):
    t1 = bm.t0.copy()
    t1[0, 1:, :] += 0.1  # region 0 taxes imports from all others
    parts = decompose(bm, make_policy(bm, t1=t1))
    assert parts["welfare_tot"][0] > 0 and parts["welfare_volume"][0] < 0
    assert (parts["welfare_tot"][1:] < 0).all()


def test_prohibitive_tariffs_are_not_decomposed(bm):
    t1 = np.full_like(bm.t0, np.inf)
    t1[range(3), range(3), :] = 0.0
    parts = decompose(bm, make_policy(bm, t1=t1, D1=np.zeros(3)), steps=2)
    assert np.isnan(parts["welfare_tot"]).all()


def test_the_path_is_integrated_as_a_loop_over_its_steps_would(monkeypatch):
    """The parts are integrated over all the steps at once, a block of steps at a time: the
    same numbers, to the bit, as a loop that forms each step's increments in C order and adds
    them in order, whatever the block, on a path with dense preference shifts (every flow
    has a wedge), export taxes and tariffs."""
    import model.core.decomposition as dec
    from model.core.settings import SolverSettings

    bm = calibrate(random_dataset(6, 20, seed=3))
    rng = np.random.default_rng(5)
    idx = np.arange(6)
    t1 = np.array(bm.t0) + rng.uniform(0.0, 0.3, bm.t0.shape)
    e1 = rng.uniform(0.0, 0.1, bm.t0.shape)
    t1[idx, idx, :] = e1[idx, idx, :] = 0.0
    policy = make_policy(bm, t1=t1, e1=e1, pref=rng.uniform(0.7, 1.4, bm.t0.shape),
                         nested=True)
    settings = SolverSettings(tol=1e-12)
    points, x = [], None
    for lam in np.linspace(0.0, 1.0, 65):  # enough flows for NumPy to pick other orders
        pol = dec.policy_at(bm, policy, float(lam))
        sol = solve(bm, pol, settings, x0=x)
        x = sol.x
        points.append(dec._point(bm, pol, sol))
    assert np.abs(points[-1]["rho"]).min() > 0  # every flow has a preference wedge

    def looped(path):
        total = {k: 0.0 for k in PARTS}
        for a, b in zip(path[:-1], path[1:]):
            one = dec._increments({k: np.asarray(v)[None] for k, v in a.items()},
                                  {k: np.asarray(v)[None] for k, v in b.items()})
            weight = 100.0 * 0.5 * (a["U"] / a["I"] + b["U"] / b["I"])
            for k, v in one.items():
                total[k] = total[k] + weight * v[0]
        return total

    for path in (points, points[::2]):
        expected = looped(path)
        for cells in (1, 3 * points[0]["q"].size, 1 << 30):  # a step, 3 steps, all at once
            monkeypatch.setattr(dec, "BLOCK_CELLS", cells)
            got = dec._integrate(path)
            for k in PARTS:
                np.testing.assert_array_equal(got[k], expected[k], err_msg=f"{k}, {cells}")

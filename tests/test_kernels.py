"""Each numba kernel agrees with its NumPy twin in model.equations."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import equations as eq
from model import kernels as k
from model.params import make_policy
from model.params import SolverSettings
from model.solver import initial_state, kernel_params


@pytest.fixture(params=[(2, 3, 0.0), (3, 5, 0.3), (4, 2, 0.5)], ids=lambda p: f"{p[0]}x{p[1]}z{p[2]}")
def state(request):
    nr, ns, zeros = request.param
    rng = np.random.default_rng(nr * 100 + ns)
    bm = calibrate(random_dataset(nr, ns, seed=nr + ns, zero_flows=zeros))
    t1 = bm.t0 + rng.uniform(0, 0.3, bm.t0.shape)
    idx = np.arange(nr)
    t1[idx, idx, :] = 0.0
    d_hat = np.exp(rng.normal(0, 0.1, bm.t0.shape))
    d_hat[idx, idx, :] = 1.0
    pol = make_policy(bm, t1=t1, d_hat=d_hat)
    p = kernel_params(bm, pol)
    w = rng.uniform(0.8, 1.2, nr)
    lP = rng.normal(0, 0.1, (nr, ns))
    return bm, p, w, lP


def test_unit_costs(state):
    bm, (beta, gamma, *_), w, lP = state
    out = np.empty_like(lP)
    k._unit_costs(np.log(w), lP, beta, gamma, out)
    np.testing.assert_allclose(out, eq.unit_costs(np.log(w), lP, beta, gamma), rtol=1e-13, atol=1e-15)


def test_price_index_and_shares(state):
    bm, (beta, gamma, pi0, ltau, inv1pt, sigma, *_), w, lP = state
    lc = eq.unit_costs(np.log(w), lP, beta, gamma)
    out = np.empty_like(lP)
    k._price_index(lc, pi0, ltau, sigma, out)
    np.testing.assert_allclose(out, eq.price_index(lc, pi0, ltau, sigma), rtol=1e-13, atol=1e-15)
    shares = np.empty_like(pi0)
    k._trade_shares(lc, out, pi0, ltau, sigma, shares)
    np.testing.assert_allclose(shares, eq.trade_shares(lc, out, pi0, ltau, sigma), rtol=1e-13,
                               atol=1e-16)
    # with the price index of the same costs, shares sum to one wherever there is absorption
    np.testing.assert_allclose(shares.sum(axis=1), (bm.E0 > 0).astype(float), rtol=1e-13)


def state_vector(bm, w, lP, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.8, 1.2, lP.size)
    return np.concatenate([w, lP.ravel(), e])


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "iterative"])
def test_evaluate(state, direct):
    bm, p, w, lP = state
    p = p._replace(direct=direct)
    nr, ns = bm.shape
    x = state_vector(bm, w, lP)
    ws = k._workspace(nr, ns, direct)
    k._evaluate(x, p, ws)
    E = None if direct else x[nr + nr * ns:].reshape(nr, ns) * p.E0
    twin = eq.evaluate(w, lP, p, E)
    for name, got in zip(("lc", "lP", "pi1", "E1", "Y1", "demand"),
                         (ws.lc, ws.lP, ws.pi1, ws.E, ws.Y, ws.demand)):
        np.testing.assert_allclose(got, twin[name], rtol=1e-11, atol=1e-12, err_msg=name)


def test_expenditure_step_has_the_direct_solution_as_fixed_point(state):
    bm, p, w, lP = state
    twin = eq.evaluate(w, lP, p)
    income = w * p.va + p.D1
    step = eq.expenditure_step(twin["pi1"], p.inv1pt, p.alpha, p.gamma, income, twin["E1"])
    np.testing.assert_allclose(step, twin["E1"], rtol=1e-11)
    out = np.empty_like(step)
    k._expenditure_step(twin["pi1"], p.inv1pt, p.alpha, p.gamma, income, twin["E1"], out)
    np.testing.assert_allclose(out, step, rtol=1e-12)


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "iterative"])
def test_fixed_point_map(state, direct):
    bm, p, w, lP = state
    p = p._replace(direct=direct)
    nr, ns = bm.shape
    x = state_vector(bm, w, lP, seed=1)
    g = np.empty_like(x)
    res = k._fixed_point_map(x, p, 0.7, g, k._workspace(nr, ns, direct))
    g_twin, *res_twin = eq.fixed_point_map(x, p, 0.7)
    np.testing.assert_allclose(g, g_twin, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res, res_twin, rtol=1e-9)


def test_iterative_and_direct_expenditure_give_the_same_equilibrium():
    from model.solver import solve

    bm = calibrate(random_dataset(3, 6, seed=4))
    t1 = bm.t0 + 0.2
    t1[[0, 1, 2], [0, 1, 2], :] = 0.0
    pol = make_policy(bm, t1=t1)
    a = solve(bm, pol, SolverSettings(expenditure="direct"))
    b = solve(bm, pol, SolverSettings(expenditure="iterative"))
    np.testing.assert_allclose(b.w_hat, a.w_hat, rtol=1e-9)
    np.testing.assert_allclose(b.E1, a.E1, rtol=1e-8)
    assert np.array_equal(initial_state(bm)[:3], np.ones(3))


def test_parameter_replacements_inside_compiled_code(state):
    bm, p, w, lP = state
    scale = np.linspace(0.5, 1.5, len(p.sigma))
    q = k._with_sigma_scale(p, scale)
    np.testing.assert_array_equal(q.sigma, p.sigma * scale)
    np.testing.assert_array_equal(q.beta, p.beta)
    r = k._with_trade(p, np.zeros_like(p.ltau), np.ones_like(p.inv1pt))
    assert not r.ltau.any() and (r.inv1pt == 1).all()
    np.testing.assert_array_equal(r.sigma, p.sigma)
    assert q.direct == p.direct and len(q) == len(p)

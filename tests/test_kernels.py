"""Each numba kernel agrees with its NumPy twin in model.equations."""

import numpy as np
import pytest

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import equations as eq
from model import kernels as k
from model.params import make_policy
from model.solver import kernel_inputs


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
    args = kernel_inputs(bm, pol)
    w = rng.uniform(0.8, 1.2, nr)
    lP = rng.normal(0, 0.1, (nr, ns))
    return bm, args, w, lP


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


def test_expenditure_output_and_labour(state):
    bm, args, w, lP = state
    beta, gamma, pi0, ltau, inv1pt, sigma, alpha, va, D1 = args
    nr, ns = beta.shape
    outs = [np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, nr, ns)), np.empty((nr, ns)),
            np.empty((nr, ns)), np.empty(nr)]
    k._evaluate(w, lP, *args, *outs, np.empty((nr * ns, nr * ns)), np.empty(nr * ns))
    twin = eq.evaluate(w, lP, *args)
    for name, got in zip(("lc", "lP", "pi1", "E1", "Y1", "demand"), outs):
        np.testing.assert_allclose(got, twin[name], rtol=1e-11, atol=1e-12, err_msg=name)


def test_fixed_point_map(state):
    bm, args, w, lP = state
    nr, ns = bm.shape
    x = np.concatenate([w, lP.ravel()])
    g = np.empty_like(x)
    work = [np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, nr, ns)), np.empty((nr, ns)),
            np.empty((nr, ns)), np.empty(nr), np.empty((nr * ns, nr * ns)), np.empty(nr * ns)]
    res = k._fixed_point_map(x, *args, 0.7, g, *work)
    g_twin, res_w, res_p = eq.fixed_point_map(x, *args, 0.7)
    np.testing.assert_allclose(g, g_twin, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res, (res_w, res_p), rtol=1e-9)

"""The extended model (nested Armington, export taxes with rents, sector-specific capital, a
fixed real wage) agrees with an independent ``scipy.optimize.root`` solution written here from
the equations in the README, with no code from the package's model."""

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.optimize import root

from calibration.calibrate import calibrate
from calibration.io import make_dataset
from calibration.synthetic import random_dataset
from model.core.outcomes import outcomes
from model.core.policy import make_policy
from model.core.settings import SolverSettings
from model.core.solver import solve

#: our solves as tight as the independent root's (xtol 1e-13): at the default tolerance
#: (1e-10) a fixed real wage everywhere leaves employment off by up to 4e-8 percentage points
TIGHT = SolverSettings(tol=1e-13)


def independent(bm, t1, e1, nested, share, frw):
    nr, ns = bm.shape
    X0, t0 = bm.X0, bm.t0
    E0 = np.einsum("inj,nij->nj", X0, 1 + t0)
    spend = np.transpose(X0, (1, 0, 2)) * (1 + t0)  # [n, i, j]
    pi0 = spend / E0[:, None, :]
    cost = bm.VA0 + bm.M0.sum(axis=1)
    beta, gamma = bm.VA0 / cost, bm.M0 / cost[:, None, :]
    Y0 = X0.sum(axis=1)
    F0 = E0 - np.einsum("nkj,nj->nk", gamma, Y0)
    alpha = F0 / F0.sum(axis=1, keepdims=True)
    VA = beta * Y0
    theta = np.full((nr, ns), 1.0 - share)
    vaL, vaK = (theta * VA).sum(axis=1), (1 - theta) * VA
    has_k = share > 0
    sig = bm.sigma
    sig_m = bm.sigma_m if nested else bm.sigma
    tau = (1 + t1) * (1 + e1) / (1 + t0)
    idx = np.arange(nr)
    d = pi0[idx, idx, :]
    nk = nr * ns if has_k else 0

    def unpack(z):
        a = z[:nr]
        lP = z[nr:nr + nr * ns].reshape(nr, ns)
        lr = z[nr + nr * ns:nr + nr * ns + nk].reshape(nr, ns) if has_k else np.zeros((nr, ns))
        E = z[nr + nr * ns + nk:].reshape(nr, ns) * E0
        return a, lP, lr, E

    def pieces(z):
        a, lP, lr, E = unpack(z)
        Pc = np.exp((alpha * lP).sum(axis=1))
        w = np.where(frw, Pc, a)
        L = np.where(frw, a, 1.0)
        r = np.exp(lr)
        pva = w[:, None] ** theta * r ** (1 - theta)
        c = pva ** beta * np.exp(np.einsum("nkj,nk->nj", gamma, lP))
        P_new = np.empty((nr, ns))
        pi = np.zeros((nr, nr, ns))
        for n in range(nr):
            for j in range(ns):
                others = [i for i in range(nr) if i != n]
                m0 = 1 - d[n, j]
                PM = sum(pi0[n, i, j] / m0 * (tau[n, i, j] * c[i, j]) ** (1 - sig_m[j])
                         for i in others) ** (1 / (1 - sig_m[j]))
                P = (d[n, j] * c[n, j] ** (1 - sig[j]) + m0 * PM ** (1 - sig[j])) ** (1 / (1 - sig[j]))
                P_new[n, j] = P
                pi[n, n, j] = d[n, j] * (c[n, j] / P) ** (1 - sig[j])
                for i in others:
                    pi[n, i, j] = (m0 * (PM / P) ** (1 - sig[j]) * pi0[n, i, j] / m0
                                   * (tau[n, i, j] * c[i, j] / PM) ** (1 - sig_m[j]))
        sales = pi * E[:, None, :] / (1 + t1)  # [n, i, j] pre-tariff, with export tax
        Y = (sales / (1 + e1)).sum(axis=0)  # [i, j]
        R = (pi * E[:, None, :] * t1 / (1 + t1)).sum(axis=(1, 2))
        rents = (sales * e1 / (1 + e1)).sum(axis=(0, 2))
        income = w * L * vaL + (r * vaK).sum(axis=1) + R + bm.D0 + rents
        return w, L, r, P_new, pi, E, Y, income

    scale = VA.sum()

    def residual(z):
        a, lP, lr, E = unpack(z)
        w, L, r, P_new, pi, E, Y, income = pieces(z)
        r_price = lP - np.log(P_new)
        r_spend = (E - alpha * income[:, None] - np.einsum("njk,nk->nj", gamma, Y)) / E0
        labour = ((theta * beta * Y).sum(axis=1) - w * L * vaL) / scale
        out = [labour[1:], [((w * vaL).sum() + (r * vaK).sum()) / scale - 1.0], r_price.ravel()]
        if has_k:
            out.append((((1 - theta) * beta * Y - r * vaK) / scale).ravel())
        out.append(r_spend.ravel())
        return np.concatenate(out)

    z0 = np.concatenate([np.ones(nr), np.zeros(nr * ns + nk), np.ones(nr * ns)])
    sol = root(residual, z0, method="hybr", options={"xtol": 1e-13, "maxfev": 50000})
    assert np.abs(residual(sol.x)).max() < 1e-11, sol.message
    w, L, r, P_new, pi, E, Y, income = pieces(sol.x)
    Pc = np.exp((alpha * np.log(P_new)).sum(axis=1))
    X1 = np.transpose(pi * E[:, None, :] / (1 + t1), (1, 0, 2))
    return {"wage": w, "employment_total": 100 * (L - 1), "trade": X1,
            "welfare": 100 * (income / F0.sum(axis=1) / Pc - 1)}


@settings(max_examples=25, deadline=None)
@example(ns=1, seed=92, nested=False, capital=False, frw=(True, True, True), export_tax=False)
@given(
    ns=st.integers(1, 3),
    seed=st.integers(0, 10_000),
    nested=st.booleans(),
    capital=st.booleans(),
    frw=st.sampled_from([(False, False, False), (True, False, False), (True, True, True)]),
    export_tax=st.booleans(),
)
def test_extended_model_matches_independent_root_solution(ns, seed, nested, capital, frw,
                                                          export_tax):
    if any(frw):
        # GTAP's short-run closure: capital fixed in each sector beside a fixed real wage (with
        # labour alone a fixed real wage can leave no equilibrium; see the next test)
        capital = True
    rng = np.random.default_rng(seed)
    ds = random_dataset(3, ns, seed=seed)
    ds = make_dataset(ds.regions, ds.sectors, ds.flows, ds.value_added, ds.intermediates,
                      ds.tariffs, ds.sigma, 2.0 * ds.sigma)
    bm = calibrate(ds)
    idx = np.arange(3)
    t1 = bm.t0 + rng.uniform(0, 0.3, bm.t0.shape)
    t1[idx, idx, :] = 0
    e1 = rng.uniform(0, 0.3, bm.t0.shape) if export_tax else np.zeros_like(t1)
    e1[idx, idx, :] = 0
    share = 0.3 if capital else 0.0
    pol = make_policy(bm, t1=t1, e1=e1, nested=nested, capital_share=share,
                      fixed_real_wage=np.array(frw))
    ours = outcomes(bm, pol, solve(bm, pol, TIGHT))
    theirs = independent(bm, t1, e1, nested, share, np.array(frw))
    np.testing.assert_allclose(ours["wage"], theirs["wage"], rtol=1e-8)
    np.testing.assert_allclose(ours["employment_total"], theirs["employment_total"], atol=1e-8)
    np.testing.assert_allclose(ours["welfare"], theirs["welfare"], atol=1e-8)
    np.testing.assert_allclose(ours["trade"], theirs["trade"], rtol=1e-8, atol=1e-8 * bm.X0.max())


def test_fixed_real_wage_without_a_fixed_factor_is_refused():
    """With labour alone a region on a fixed real wage cannot cut its prices; with a fixed trade
    surplus and 40-point tariffs its employment would have to turn negative. Such a closure is
    refused up front."""
    import pytest

    from model.core.settings import ModelError

    bm = calibrate(random_dataset(3, 1, seed=1))
    with pytest.raises(ModelError, match="fixed real wage needs a fixed factor.*R0"):
        make_policy(bm, fixed_real_wage=np.array([True, False, False]))
    make_policy(bm, fixed_real_wage=np.array([True, False, False]), capital_share=0.3)

"""The solver agrees with an independent ``scipy.optimize.root`` solution of docs/model.md's
equations, written here from the text of docs/model.md with no code from the package's model."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import root

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model.core.outcomes import outcomes
from model.core.policy import deficit_rule, make_policy
from model.core.settings import SolverSettings
from model.core.solver import solve

#: our solves as tight as the independent root's (xtol 1e-13): the comparison is of the
#: equations, not of the two tolerances
TIGHT = SolverSettings(tol=1e-13)


def independent_solution(bm, t1, d_hat, D1):
    """Solve for (log w, log P, E/E0) jointly with MINPACK's hybrid method."""
    nr, ns = bm.shape
    X0, t0 = bm.X0, bm.t0
    E0 = np.einsum("inj,nij->nj", X0, 1 + t0)
    pi0 = np.transpose(X0, (1, 0, 2)) * (1 + t0) / np.where(E0 > 0, E0, 1)[:, None, :]
    Y0 = X0.sum(axis=1)
    cost = bm.VA0 + bm.M0.sum(axis=1)
    beta = bm.VA0 / cost
    gamma = bm.M0 / cost[:, None, :]
    F0 = E0 - np.einsum("nkj,nj->nk", gamma, Y0)
    alpha = F0 / F0.sum(axis=1, keepdims=True)
    VA = (beta * Y0).sum(axis=1)
    tau = d_hat * (1 + t1) / (1 + t0)
    sig = bm.sigma
    scale = VA.sum()

    def unpack(z):
        lw = z[:nr]
        lP = z[nr:nr + nr * ns].reshape(nr, ns)
        E = z[nr + nr * ns:].reshape(nr, ns) * E0
        return lw, lP, E

    def pieces(z):
        lw, lP, E = unpack(z)
        c = np.exp(beta * lw[:, None] + np.einsum("nkj,nk->nj", gamma, lP))
        terms = pi0 * (tau * c[None, :, :]) ** (1 - sig)
        P_new = terms.sum(axis=1) ** (1 / (1 - sig))
        pi1 = terms / np.exp(lP * (1 - sig))[:, None, :]
        Y = np.einsum("nij,nj->ij", pi1 / (1 + t1), E)
        R = np.einsum("nij,nj->n", pi1 * t1 / (1 + t1), E)
        income = np.exp(lw) * VA + R + D1
        return c, P_new, pi1, Y, income

    def residual(z):
        lw, lP, E = unpack(z)
        c, P_new, pi1, Y, income = pieces(z)
        r_price = lP - np.log(P_new)
        r_spend = (E - alpha * income[:, None] - np.einsum("njk,nk->nj", gamma, Y)) / E0
        labour = ((beta * Y).sum(axis=1) - np.exp(lw) * VA) / scale
        r_labour = np.concatenate([labour[1:], [(np.exp(lw) * VA).sum() / scale - 1.0]])
        return np.concatenate([r_labour, r_price.ravel(), r_spend.ravel()])

    z0 = np.concatenate([np.zeros(nr), np.zeros(nr * ns), np.ones(nr * ns)])
    sol = root(residual, z0, method="hybr", options={"xtol": 1e-13, "maxfev": 20000})
    # MINPACK may stop with "xtol too small" at a solution: judge by the residual itself
    assert np.abs(residual(sol.x)).max() < 1e-11, sol.message
    lw, lP, E = unpack(sol.x)
    c, P_new, pi1, Y, income = pieces(sol.x)
    Pc = np.exp((alpha * lP).sum(axis=1))
    I0 = F0.sum(axis=1)
    X1 = np.transpose(pi1 * E[:, None, :] / (1 + t1), (1, 0, 2))
    return {"wage": np.exp(lw), "welfare": 100 * (income / I0 / Pc - 1), "trade": X1,
            "real_wage": 100 * (np.exp(lw) / Pc - 1)}


@settings(max_examples=30, deadline=None)
@given(
    nr=st.integers(2, 4),
    ns=st.integers(1, 5),
    seed=st.integers(0, 10_000),
    zeros=st.sampled_from([0.0, 0.3]),
    size=st.floats(0.0, 0.6),
    closure=st.sampled_from(["fixed", "balanced", "target"]),
    cost_shock=st.booleans(),
)
def test_solver_matches_independent_root_solution(nr, ns, seed, zeros, size, closure, cost_shock):
    rng = np.random.default_rng(seed)
    bm = calibrate(random_dataset(nr, ns, seed=seed, zero_flows=zeros))
    idx = np.arange(nr)
    t1 = bm.t0 + rng.uniform(-0.05, size, bm.t0.shape)
    t1 = np.maximum(t1, 0.0)
    t1[idx, idx, :] = 0.0
    d_hat = np.exp(rng.normal(0, 0.15, bm.t0.shape)) if cost_shock else np.ones_like(bm.t0)
    d_hat[idx, idx, :] = 1.0
    rule = {0: 0.0} if closure == "target" else closure
    pol = make_policy(bm, t1=t1, d_hat=d_hat, D1=deficit_rule(bm, rule))
    ours = outcomes(bm, pol, solve(bm, pol, TIGHT))
    theirs = independent_solution(bm, t1, d_hat, pol.D1)
    np.testing.assert_allclose(ours["wage"], theirs["wage"], rtol=1e-8)
    np.testing.assert_allclose(ours["welfare"], theirs["welfare"], atol=1e-8)
    np.testing.assert_allclose(ours["real_wage"], theirs["real_wage"], atol=1e-8)
    np.testing.assert_allclose(ours["trade"], theirs["trade"], rtol=1e-8,
                               atol=1e-8 * bm.X0.max())

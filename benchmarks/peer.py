r"""Peer comparison with ``gegravity`` (Herman 2021, USITC) on a one-sector N-region problem.

The one-sector model of this package with labour as the only factor, no input-output links,
balanced trade and tariffs treated as pure trade costs is the structural gravity model of
Anderson & van Wincoop (2003) that ``gegravity.OneSectorGE`` solves (Yotov et al. 2016, ch. 2).
Any benchmark flow matrix with output equal to expenditure is a gravity equilibrium with
bilateral costs :math:`t_{in}^{1-\sigma} = X_{in} Y / (Y_i E_n)` and all multilateral
resistances equal to 1, so giving ``gegravity`` that single cost variable (coefficient 1)
makes its baseline reproduce the data exactly; the counterfactual raises it by
:math:`(1-\sigma)\log\hat d` on the shocked pairs.

The two solutions differ because ``gegravity`` holds each region's share of world output and
expenditure at the baseline value in the multilateral-resistance and factory-price
equations (they change with factory-gate prices in the exact equilibrium); both are reported
against our exact solution, on numeraire-free quantities: the real-income (welfare) change
:math:`\hat w_i / \hat P_i`, factory-gate prices relative to the reference importer's price
index, and bilateral trade shares.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings

import numpy as np
import pandas as pd

from benchmarks.problems import Problem, gravity_problem
from model.core.outcomes import outcomes
from model.core.settings import SolverSettings
from model.core.solver import solve


def gegravity_inputs(problem: Problem):
    """Baseline and experiment data frames in ``gegravity``'s layout: one row per
    (exporter, importer), with ``trade``, ``Y``, ``E`` and the log cost variable ``lncost``."""
    bm = problem.bm
    X = bm.X0[:, :, 0]
    Y = X.sum(axis=1)
    E = X.sum(axis=0)
    names = [f"R{n:03d}" for n in range(len(Y))]
    exp_i, imp_n = np.meshgrid(np.arange(len(Y)), np.arange(len(Y)), indexing="ij")
    lncost = np.log(X * Y.sum() / np.outer(Y, E))
    sigma = float(bm.sigma[0])
    d_hat = np.transpose(problem.policy.d_hat[:, :, 0])  # [exporter, importer]
    base = pd.DataFrame({
        "exporter": np.array(names)[exp_i.ravel()],
        "importer": np.array(names)[imp_n.ravel()],
        "year": "2024",
        "trade": X.ravel(),
        "Y": Y[exp_i.ravel()],
        "E": E[imp_n.ravel()],
        "lncost": lncost.ravel(),
    })
    experiment = base.copy()
    experiment["lncost"] = (lncost + (1.0 - sigma) * np.log(d_hat)).ravel()
    return base, experiment, names, sigma


def solve_gegravity(problem: Problem, reference: int = 0, tol: float = 1e-10):
    """Build, calibrate and simulate the ``gegravity`` model; returns the model and the
    seconds spent in setup (data, baseline multilateral resistances) and in the counterfactual
    (``define_experiment`` and ``simulate``)."""
    import gegravity as ge

    base, experiment, names, sigma = gegravity_inputs(problem)
    start = time.perf_counter()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        baseline = ge.BaselineData(base, imp_var_name="importer", exp_var_name="exporter",
                                   year_var_name="year", trade_var_name="trade",
                                   expend_var_name="E", output_var_name="Y")
        coeffs = ge.CostCoeffs(pd.DataFrame({"var": ["lncost"], "beta": [1.0],
                                             "stderr": [0.0]}),
                               identifier_col="var", coeff_col="beta", stderr_col="stderr")
        model = ge.OneSectorGE(baseline, year="2024", reference_importer=names[reference],
                               sigma=sigma, cost_variables=["lncost"],
                               cost_coeff_values=coeffs, quiet=True)
        model.build_baseline(omr_rescale=1, mr_tolerance=tol)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        model.define_experiment(experiment)
        model.simulate(ge_tolerance=tol)
        counterfactual = time.perf_counter() - start
    return model, names, setup, counterfactual


def compare(n_regions: int = 30, repeat: int = 3, seed: int = 0) -> dict:
    """Solve the gravity problem with both packages and compare.

    Returns times (median of ``repeat`` runs each; ours is the warm solve and, separately, the
    calibration) and the gaps between ``gegravity`` and our exact solution: welfare (real
    income, percent), factory-gate prices relative to the reference importer's price index
    (percent), and bilateral trade shares (percentage points).
    """
    problem = gravity_problem(n_regions, seed=seed)
    settings = SolverSettings(tol=1e-12)
    sol = solve(problem.bm, problem.policy, settings)
    times = []
    for _ in range(max(repeat, 5) * 20):
        start = time.perf_counter()
        solve(problem.bm, problem.policy, settings)
        times.append(time.perf_counter() - start)
    ours_solve = statistics.median(times)
    start = time.perf_counter()
    gravity_problem(n_regions, seed=seed)
    ours_setup = time.perf_counter() - start

    runs = [solve_gegravity(problem) for _ in range(repeat)]
    model, names = runs[-1][0], runs[-1][1]
    theirs_setup = statistics.median(r[2] for r in runs)
    theirs_cf = statistics.median(r[3] for r in runs)

    out = outcomes(problem.bm, problem.policy, sol)
    welfare_ours = np.asarray(out["welfare"])
    cr = model.country_results.loc[names]
    welfare_theirs = 100.0 * (1.0 / cr["welfare statistic"].to_numpy() - 1.0)
    # factory-gate price over the reference importer's price index (their numeraire)
    w_rel_ours = sol.w_hat / sol.P_hat[0, 0]
    w_rel_theirs = 1.0 + cr["factory gate price change (percent)"].to_numpy() / 100.0
    bt = model.bilateral_trade_results
    X1 = bt["experiment trade"].unstack().loc[names, names].to_numpy()  # [exporter, importer]
    share_theirs = X1 / X1.sum(axis=0, keepdims=True)
    share_ours = np.transpose(sol.pi1[:, :, 0])
    welfare_gap = welfare_theirs - welfare_ours
    big = np.abs(welfare_ours) > 0.05 * np.abs(welfare_ours).max()
    diag = model.solver_diagnostics.get("full_GE")
    welfare_updated, rounds = updated_shares_welfare(problem)
    return {
        "n_regions": n_regions,
        "sigma": float(problem.bm.sigma[0]),
        "shock": "region 0 raises the cost of all its imports by 25 % (a tariff as a pure "
                 "trade cost, no revenue); trade balanced",
        "ours": {"solve_s": ours_solve, "setup_s": ours_setup, "iterations": sol.iterations,
                 "residual": sol.residual},
        "gegravity": {"counterfactual_s": theirs_cf, "setup_s": theirs_setup,
                      "message": str(getattr(diag, "message", "")),
                      "function_evaluations": int(getattr(diag, "nfev", 0) or 0)},
        "welfare_ours_pct": welfare_ours.tolist(),
        "welfare_gegravity_pct": welfare_theirs.tolist(),
        "welfare_shocked_region_pct": [float(welfare_ours[0]), float(welfare_theirs[0])],
        "welfare_max_abs_gap_pp": float(np.abs(welfare_gap).max()),
        "welfare_max_rel_gap_pct": float(100 * np.abs(welfare_gap[big] / welfare_ours[big]).max()),
        "welfare_median_rel_gap_pct": float(
            100 * np.median(np.abs(welfare_gap[big] / welfare_ours[big]))),
        "updated_shares_rounds": rounds,
        "updated_shares_welfare_max_abs_gap_pp": float(
            np.abs(welfare_updated - welfare_ours).max()),
        "price_max_abs_gap_pct": float(100 * np.abs(w_rel_theirs / w_rel_ours - 1.0).max()),
        "trade_share_max_abs_gap_pp": float(100 * np.abs(share_theirs - share_ours).max()),
        "trade_share_change_max_rel_gap_pct": float(100 * _relative_gap(
            share_theirs, share_ours, np.transpose(problem.bm.pi0[:, :, 0]))),
    }


def updated_shares_welfare(problem: Problem, max_rounds: int = 100) -> tuple[np.ndarray, int]:
    """``gegravity``'s own full-GE equations (``gegravity.OneSectorGE._full_ge``), re-solved
    with each region's output and expenditure shares set to their counterfactual values
    ``p_i Y_i / sum_k p_k Y_k`` until they stop changing.  Returns the welfare change (percent,
    in our region order) and the number of rounds.  It equals our exact solution, which shows
    that the gap between the two packages is the fixed-share approximation alone."""
    from gegravity.OneSectorGE import _full_ge
    from scipy.optimize import root

    base, experiment, names, sigma = gegravity_inputs(problem)
    n = len(names)
    X = problem.bm.X0[:, :, 0]
    Y = X.sum(axis=1)
    cost = np.exp(experiment["lncost"].to_numpy()).reshape(n, n)  # [exporter, importer]
    order = list(range(1, n)) + [0]  # gegravity puts the reference importer (region 0) last
    cost = cost[np.ix_(order, order)]
    Yo = Y[order]
    s = Yo / Yo.sum()
    fixed = s.copy()
    for rounds in range(1, max_rounds + 1):
        params = {"number_of_countries": n, "omr_rescale": 1, "imr_rescale": 1,
                  "sigma": sigma, "cost_exp_shr": cost * s[None, :],
                  "cost_out_shr": cost * s[:, None], "output_shr": list(s),
                  "factory_gate_param": list(fixed)}
        sol = root(_full_ge, np.ones(3 * n - 1), args=params, method="hybr",
                   options={"xtol": 1e-13})
        p = sol.x[2 * n - 1:]
        P = np.append(sol.x[:n - 1], 1.0) ** (-1.0 / (1.0 - sigma))
        s_new = p * Yo / (p * Yo).sum()  # balanced trade: expenditure shares are the same
        done = np.abs(s_new - s).max() < 1e-15
        s = s_new
        if done:
            break
    welfare = np.empty(n)
    welfare[order] = 100.0 * (p / P - 1.0)
    return welfare, rounds


def _relative_gap(theirs, ours, before):
    """Largest gap in the change of trade shares, relative to our change, over the cells whose
    change is at least 5 % of the largest change."""
    d_ours = ours - before
    d_theirs = theirs - before
    big = np.abs(d_ours) > 0.05 * np.abs(d_ours).max()
    return np.abs((d_theirs - d_ours)[big] / d_ours[big]).max()

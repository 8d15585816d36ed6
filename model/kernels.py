r"""Numba kernels of the equilibrium in changes (model.md, steps 1-6).

Small typed loops over plain arrays that write into ``out`` arguments; no validation, no
allocation of results the caller needs, no I/O.  Each has a NumPy twin in
:mod:`model.equations`, and the tests check that they agree.

Index names: ``n`` importer, ``i`` exporter, ``j``, ``k`` sectors.  Prices are carried in logs:
``lw = log(w_hat)``, ``lP = log(P_hat)``, ``lc = log(c_hat)``, ``ltau = log(tau_hat)``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

# Status codes of _solve_fixed_point.
CONVERGED = 0
MAX_ITER = 1
NOT_FINITE = 2


class KernelParams(NamedTuple):
    """Everything the kernels need, as plain arrays (built by ``model.solver.kernel_params``).

    ``beta[n, j]``, ``gamma[n, k, j]`` cost shares; ``pi0[n, i, j]`` benchmark expenditure
    shares; ``ltau[n, i, j]`` log change of trade costs incl. tariffs; ``inv1pt[n, i, j]`` =
    1/(1 + t1); ``sigma[j]``; ``alpha[n, j]`` final-demand shares; ``va[n]`` benchmark value
    added; ``D1[n]`` deficits; ``E0[n, j]`` benchmark absorption (the scale of the absorption
    part of the state); ``direct`` solves absorption by LU (else one Jacobi step per iteration).
    """

    beta: np.ndarray
    gamma: np.ndarray
    pi0: np.ndarray
    ltau: np.ndarray
    inv1pt: np.ndarray
    sigma: np.ndarray
    alpha: np.ndarray
    va: np.ndarray
    D1: np.ndarray
    E0: np.ndarray
    direct: bool


@njit(cache=True)
def _unit_costs(lw, lP, beta, gamma, out):
    r"""``lc[n, j] = beta[n, j] lw[n] + sum_k gamma[n, k, j] lP[n, k]`` (model.md step 1)."""
    nr, ns = beta.shape
    for n in range(nr):
        for j in range(ns):
            acc = beta[n, j] * lw[n]
            for k in range(ns):
                acc += gamma[n, k, j] * lP[n, k]
            out[n, j] = acc


@njit(cache=True)
def _price_index(lc, pi0, ltau, sigma, out):
    r"""CES price index ``P[n, j]^(1-s) = sum_i pi0[n, i, j] (tau[n, i, j] c[i, j])^(1-s)``.

    Writes ``log P``; a sector with no absorption gets 0.  Cells with ``pi0 == 0`` or a
    prohibitive (infinite) ``tau`` contribute nothing.
    """
    nr, _, ns = pi0.shape
    for n in range(nr):
        for j in range(ns):
            e = 1.0 - sigma[j]
            acc = 0.0
            for i in range(nr):
                if pi0[n, i, j] > 0.0:
                    acc += pi0[n, i, j] * np.exp(e * (ltau[n, i, j] + lc[i, j]))
            out[n, j] = np.log(acc) / e if acc > 0.0 else 0.0


@njit(cache=True)
def _trade_shares(lc, lP, pi0, ltau, sigma, out):
    r"""``pi1[n, i, j] = pi0[n, i, j] (tau[n, i, j] c[i, j] / P[n, j])^(1 - sigma_j)`` (step 3)."""
    nr, _, ns = pi0.shape
    for n in range(nr):
        for i in range(nr):
            for j in range(ns):
                if pi0[n, i, j] > 0.0:
                    e = 1.0 - sigma[j]
                    out[n, i, j] = pi0[n, i, j] * np.exp(e * (ltau[n, i, j] + lc[i, j] - lP[n, j]))
                else:
                    out[n, i, j] = 0.0


@njit(cache=True)
def _expenditure(pi1, inv1pt, alpha, gamma, income_exog, mat, rhs, out):
    r"""Solve the linear expenditure system of model.md step 4 for ``E1[n, j]``.

    .. math::
        E_{nj} = \alpha_{nj}\Big(\hat w_n VA^0_n + D^1_n + \sum_{i,k} \frac{t_{nik}}{1+t_{nik}}
        \pi_{nik} E_{nk}\Big) + \sum_k \gamma_{njk} \sum_m \frac{\pi_{mnk}}{1+t_{mnk}} E_{mk}

    ``inv1pt = 1/(1 + t1)``; ``income_exog[n] = w_hat[n] VA0[n] + D1[n]``.  ``mat`` (NS x NS,
    NS = regions x sectors) and ``rhs`` (NS) are workspace.
    """
    nr, _, ns = pi1.shape
    size = nr * ns
    for a in range(size):
        for b in range(size):
            mat[a, b] = 0.0
        mat[a, a] = 1.0
    for n in range(nr):
        for j in range(ns):
            row = n * ns + j
            rhs[row] = alpha[n, j] * income_exog[n]
            # tariff revenue on n's spending on every sector k
            for k in range(ns):
                rev = 0.0
                for i in range(nr):
                    rev += (1.0 - inv1pt[n, i, k]) * pi1[n, i, k]
                mat[row, n * ns + k] -= alpha[n, j] * rev
            # intermediate demand of n's sectors k for composite j, from their sales to every m
            for k in range(ns):
                g = gamma[n, j, k]
                if g != 0.0:
                    for m in range(nr):
                        mat[row, m * ns + k] -= g * pi1[m, n, k] * inv1pt[m, n, k]
    for a in range(size):
        ok = np.isfinite(rhs[a])
        for b in range(size):
            ok = ok and np.isfinite(mat[a, b])
        if not ok:  # prices overflowed: report NaN and let the caller step back
            out[:, :] = np.nan
            return
    sol = np.linalg.solve(mat, rhs)
    for n in range(nr):
        for j in range(ns):
            out[n, j] = sol[n * ns + j]


@njit(cache=True)
def _gross_output(pi1, inv1pt, E1, out):
    r"""``Y1[i, j] = sum_n pi1[n, i, j] E1[n, j] / (1 + t1[n, i, j])``."""
    nr, _, ns = pi1.shape
    for i in range(nr):
        for j in range(ns):
            acc = 0.0
            for n in range(nr):
                acc += pi1[n, i, j] * E1[n, j] * inv1pt[n, i, j]
            out[i, j] = acc


@njit(cache=True)
def _labour_demand(beta, Y1, out):
    r"""Wage bill demanded, ``sum_j beta[n, j] Y1[n, j]`` (model.md step 5)."""
    nr, ns = beta.shape
    for n in range(nr):
        acc = 0.0
        for j in range(ns):
            acc += beta[n, j] * Y1[n, j]
        out[n] = acc


@njit(cache=True)
def _expenditure_step(pi1, inv1pt, alpha, gamma, income_exog, E, out):
    r"""One Jacobi step of the expenditure system: ``out = alpha (income_exog + R(E)) +
    gamma Y(E)``, the right-hand side of :func:`_expenditure` at ``E``."""
    nr, _, ns = pi1.shape
    Y = np.empty((nr, ns))
    _gross_output(pi1, inv1pt, E, Y)
    for n in range(nr):
        rev = 0.0
        for i in range(nr):
            for k in range(ns):
                rev += (1.0 - inv1pt[n, i, k]) * pi1[n, i, k] * E[n, k]
        for j in range(ns):
            acc = alpha[n, j] * (income_exog[n] + rev)
            for k in range(ns):
                acc += gamma[n, j, k] * Y[n, k]
            out[n, j] = acc


class Workspace(NamedTuple):
    """Scratch arrays of one solve, allocated once (see :func:`_workspace`)."""

    lc: np.ndarray
    lP: np.ndarray
    pi1: np.ndarray
    E: np.ndarray
    Y: np.ndarray
    demand: np.ndarray
    income: np.ndarray
    mat: np.ndarray
    rhs: np.ndarray


@njit(cache=True)
def _workspace(nr, ns, direct):
    size = nr * ns if direct else 1
    return Workspace(np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty(nr), np.empty(nr),
                     np.empty((size, size)), np.empty(size))


@njit(cache=True)
def _evaluate(x, p, ws):
    """Steps 1-5 at the state ``x = (w_hat, log P_hat, E / E0)``: fills ``ws`` with unit
    costs, the new price indices, shares, the new absorption, gross output and labour demand."""
    nr, ns = p.beta.shape
    w = x[:nr]
    lP = x[nr:nr + nr * ns].reshape((nr, ns))
    lw = np.log(w)
    _unit_costs(lw, lP, p.beta, p.gamma, ws.lc)
    _price_index(ws.lc, p.pi0, p.ltau, p.sigma, ws.lP)
    _trade_shares(ws.lc, ws.lP, p.pi0, p.ltau, p.sigma, ws.pi1)
    for n in range(nr):
        ws.income[n] = w[n] * p.va[n] + p.D1[n]
    if p.direct:
        _expenditure(ws.pi1, p.inv1pt, p.alpha, p.gamma, ws.income, ws.mat, ws.rhs, ws.E)
    else:
        E_old = np.empty((nr, ns))
        off = nr + nr * ns
        for n in range(nr):
            for j in range(ns):
                E_old[n, j] = x[off + n * ns + j] * p.E0[n, j]
        _expenditure_step(ws.pi1, p.inv1pt, p.alpha, p.gamma, ws.income, E_old, ws.E)
    _gross_output(ws.pi1, p.inv1pt, ws.E, ws.Y)
    _labour_demand(p.beta, ws.Y, ws.demand)


@njit(cache=True)
def _fixed_point_map(x, p, damping, g, ws):
    r"""The map ``G`` of the joint fixed point in ``x = (w_hat, log P_hat, E / E0)``.

    Wages move to the level that clears the labour market at current prices (Alvarez & Lucas
    2007; Caliendo & Parro 2015), ``w <- sum_j beta Y1 / VA0``, rescaled so world value added is
    unchanged (the numeraire); price indices move to their CES value at current unit costs;
    absorption to the solution of the expenditure system (or one step towards it).  All updates
    are damped.  Returns ``(labour residual, price residual, absorption residual)``: max |excess
    labour demand| / world value added, max |change of log P|, max |change of E| / world value
    added.
    """
    nr, ns = p.beta.shape
    _evaluate(x, p, ws)
    total_va = 0.0
    new_world = 0.0
    for n in range(nr):
        total_va += p.va[n]
        new_world += ws.demand[n]
    res_w = 0.0
    for n in range(nr):
        w = x[n]
        res_w = max(res_w, abs(ws.demand[n] - w * p.va[n]) / total_va)
        w_new = ws.demand[n] / p.va[n] * (total_va / new_world)
        g[n] = w + damping * (w_new - w)
    res_p = 0.0
    res_e = 0.0
    off = nr + nr * ns
    for n in range(nr):
        for j in range(ns):
            a = nr + n * ns + j
            d = ws.lP[n, j] - x[a]
            res_p = max(res_p, abs(d))
            g[a] = x[a] + damping * d
            b = off + n * ns + j
            e_new = ws.E[n, j] / p.E0[n, j]
            res_e = max(res_e, abs(ws.E[n, j] - x[b] * p.E0[n, j]) / total_va)
            g[b] = x[b] + damping * (e_new - x[b])
    return res_w, res_p, res_e


@njit(cache=True)
def _solve_fixed_point(x0, p, tol, max_iter, damping, memory, anderson, x_out):
    r"""Iterate ``x <- G(x)`` from ``x0``, with Anderson mixing (Walker & Ni 2011) if asked.

    Anderson type II: with ``f_k = G(x_k) - x_k``, choose ``gamma`` to minimise
    ``|f_k - dF gamma|`` over the last ``memory`` differences, then
    ``x_{k+1} = G(x_k) - dG gamma``.  A step that leaves positive wages or finite values is
    replaced by the plain step and the history is cleared.

    Returns ``(status, iterations, labour residual, price residual, absorption residual)``;
    ``x_out`` holds the last iterate (the solution when status is ``CONVERGED``).
    """
    nr, ns = p.beta.shape
    ws = _workspace(nr, ns, p.direct)
    dim = x0.shape[0]
    x = x0.copy()
    g = np.empty(dim)
    f = np.empty(dim)
    f_old = np.empty(dim)
    g_old = np.empty(dim)
    dF = np.zeros((memory, dim))  # rows: past differences of f and of G(x)
    dG = np.zeros((memory, dim))
    stored = 0
    head = 0
    res_w = np.inf
    res_p = np.inf
    res_e = np.inf
    for it in range(max_iter + 1):
        res_w, res_p, res_e = _fixed_point_map(x, p, damping, g, ws)
        finite = np.isfinite(res_w) and np.isfinite(res_p) and np.isfinite(res_e)
        for a in range(dim):
            if not np.isfinite(g[a]):
                finite = False
        if not finite:
            if stored > 0:  # an extrapolated step went too far: back to the last plain step
                x[:] = g_old
                stored = 0
                head = 0
                continue
            x_out[:] = x
            return NOT_FINITE, it, res_w, res_p, res_e
        if res_w < tol and res_p < tol and res_e < tol:
            x_out[:] = x
            return CONVERGED, it, res_w, res_p, res_e
        if it == max_iter:
            break
        for a in range(dim):
            f[a] = g[a] - x[a]
        if anderson and it > 0:
            for a in range(dim):
                dF[head, a] = f[a] - f_old[a]
                dG[head, a] = g[a] - g_old[a]
            head = (head + 1) % memory
            stored = min(stored + 1, memory)
        f_old[:] = f
        g_old[:] = g
        if anderson and stored > 0:
            coef = np.linalg.lstsq(dF[:stored].T.copy(), f, rcond=1e-12)[0]
            x_new = g - coef @ dG[:stored]
            ok = True
            for a in range(dim):
                if not np.isfinite(x_new[a]):
                    ok = False
            for n in range(nr):
                if x_new[n] <= 0.0:
                    ok = False
            if ok:
                x[:] = x_new
            else:
                x[:] = g
                stored = 0
                head = 0
        else:
            x[:] = g
    x_out[:] = x
    return MAX_ITER, max_iter, res_w, res_p, res_e


@njit(cache=True)
def _with_sigma_scale(p, scale):
    """``p`` with every Armington elasticity of sector ``j`` multiplied by ``scale[j]`` (for
    sensitivity sweeps inside compiled code; keeps working as parameters are added)."""
    return KernelParams(p.beta, p.gamma, p.pi0, p.ltau, p.inv1pt, p.sigma * scale, p.alpha,
                        p.va, p.D1, p.E0, p.direct)


@njit(cache=True)
def _with_trade(p, ltau, inv1pt):
    """``p`` with new trade-cost changes ``ltau`` and tariff factors ``inv1pt = 1/(1 + t1)``."""
    return KernelParams(p.beta, p.gamma, p.pi0, ltau, inv1pt, p.sigma, p.alpha, p.va, p.D1,
                        p.E0, p.direct)

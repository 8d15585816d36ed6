r"""Numba kernels of the equilibrium in changes (model.md, steps 1-6, with its extensions).

Small typed loops over plain arrays that write into ``out`` arguments; no validation, no I/O.
Each has a NumPy twin in :mod:`model.equations`, and the tests check that they agree.

Index names: ``n`` importer, ``i`` exporter, ``j``, ``k`` sectors.  Prices are carried in logs.

The state of the fixed point is ``x = (a, log P, log r, E / E0)``: ``a[n]`` is the wage change
of a region with full employment, or its employment change under a fixed real wage; ``log P``
the (effective) price-index changes; ``log r`` the rental changes of sector-specific capital;
``E / E0`` absorption relative to the benchmark.
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

    Benchmark: ``beta[n, j]`` value-added and ``gamma[n, k, j]`` intermediate cost shares;
    ``pi0[n, i, j]`` expenditure shares; ``alpha[n, j]`` final-demand shares; ``theta[n, j]``
    labour share of value added (1 without capital); ``vaL[n]`` labour income and
    ``vaK[n, j]`` capital income; ``va[n]`` value added; ``E0[n, j]`` absorption (the scale
    of the absorption part of the state, 1 where there is none).
    Policy: ``ltau[n, i, j]`` log change of the importer's cost factor (iceberg, tariff and
    export tax); ``inv1pt = 1/(1 + t1)``; ``inv1pe = 1/(1 + e1)`` with ``e1[n, i, j]`` the
    export tax of exporter ``i`` on sales to ``n`` (its rents go to ``i``); ``lpref[n, i, j]``
    log shift of the importer's preference for source ``i``; ``D1[n]`` deficits.
    Elasticities ``sigma[j]`` (domestic vs imports) and ``sigma_m[j]`` (among import sources;
    equal to ``sigma`` in the one-level model).  ``frw[n]`` is 1 where the real wage is fixed
    and employment adjusts.  ``direct`` solves absorption by LU at every iteration (else one
    Jacobi step).
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
    sigma_m: np.ndarray
    inv1pe: np.ndarray
    lpref: np.ndarray
    theta: np.ndarray
    vaL: np.ndarray
    vaK: np.ndarray
    frw: np.ndarray


class Workspace(NamedTuple):
    """Scratch arrays of one solve (see :func:`_workspace`)."""

    lw: np.ndarray      # [n] log wage change
    L: np.ndarray       # [n] employment change
    lpva: np.ndarray    # [n, j] log price of value added
    lc: np.ndarray      # [n, j] log unit cost
    lPs: np.ndarray     # [n, j] log CES price index at current preferences
    lP: np.ndarray      # [n, j] log effective price index (benchmark preferences)
    pi1: np.ndarray     # [n, i, j] expenditure shares
    E: np.ndarray       # [n, j] absorption
    Y: np.ndarray       # [n, j] gross output (producer revenue)
    LD: np.ndarray      # [n] wage bill demanded
    KD: np.ndarray      # [n, j] capital income demanded
    income: np.ndarray  # [n] factor income + deficit
    rents: np.ndarray   # [n] export-tax rents
    mat: np.ndarray
    rhs: np.ndarray


@njit(cache=True)
def _workspace(nr, ns, direct):
    size = nr * ns if direct else 1
    return Workspace(np.empty(nr), np.empty(nr), np.empty((nr, ns)), np.empty((nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty((nr, nr, ns)),
                     np.empty((nr, ns)), np.empty((nr, ns)), np.empty(nr), np.empty((nr, ns)),
                     np.empty(nr), np.empty(nr), np.empty((size, size)), np.empty(size))


@njit(cache=True)
def _factor_prices(x, p, lw, L, lpva):
    r"""Wages, employment and the log price of value added from the state.

    Full employment: ``w = a``, ``L = 1``.  Fixed real wage: ``w = Pc``, the Cobb-Douglas
    consumer price :math:`\prod_j \hat P_{nj}^{\alpha_{nj}}`, and ``L = a``.  Value added is
    Cobb-Douglas in labour and sector-specific capital:
    :math:`\log p^{va}_{nj} = \theta_{nj}\log\hat w_n + (1-\theta_{nj})\log\hat r_{nj}`.
    """
    nr, ns = p.beta.shape
    for n in range(nr):
        if p.frw[n]:
            acc = 0.0
            for j in range(ns):
                acc += p.alpha[n, j] * x[nr + n * ns + j]
            lw[n] = acc
            L[n] = x[n]
        else:
            lw[n] = np.log(x[n])
            L[n] = 1.0
    off = nr + nr * ns
    for n in range(nr):
        for j in range(ns):
            th = p.theta[n, j]
            lpva[n, j] = th * lw[n]
            if th < 1.0:
                lpva[n, j] += (1.0 - th) * x[off + n * ns + j]


@njit(cache=True)
def _unit_costs(lpva, lP, beta, gamma, out):
    r"""``lc[n, j] = beta[n, j] lpva[n, j] + sum_k gamma[n, k, j] lP[n, k]`` (model.md step 1)."""
    nr, ns = beta.shape
    for n in range(nr):
        for j in range(ns):
            acc = beta[n, j] * lpva[n, j]
            for k in range(ns):
                acc += gamma[n, k, j] * lP[n, k]
            out[n, j] = acc


@njit(cache=True)
def _prices_and_shares(lc, p, lPs, lPe, pi1):
    r"""Armington price indices and expenditure shares (model.md steps 2-3), nested form.

    Domestic goods against the import composite with ``sigma``, import sources within the
    composite with ``sigma_m`` (GTAP's nesting; one level when they are equal):

    .. math::
        \hat P_M^{1-\sigma_M} = \sum_{i\ne n}\frac{\pi^0_{ni}}{1-\pi^0_{nn}} a_{ni}
        (\hat\tau_{ni}\hat c_i)^{1-\sigma_M},\quad
        \hat P^{1-\sigma} = \pi^0_{nn} a_{nn} (\hat\tau_{nn}\hat c_n)^{1-\sigma}
        + (1-\pi^0_{nn})\hat P_M^{1-\sigma},

    with preference shifts ``a = exp(lpref)``.  ``lPs`` is that index; ``lPe`` the effective
    index at benchmark preferences, minus the log of the CES quantity index of what is bought
    per unit of spending (equal to ``lPs`` without preference shifts).
    """
    nr, _, ns = p.pi0.shape
    for n in range(nr):
        for j in range(ns):
            eD = 1.0 - p.sigma[j]
            eM = 1.0 - p.sigma_m[j]
            d = p.pi0[n, n, j]
            m0 = 0.0
            shifted = p.lpref[n, n, j] != 0.0
            for i in range(nr):
                if i != n:
                    m0 += p.pi0[n, i, j]
                    shifted = shifted or p.lpref[n, i, j] != 0.0
            lPM = np.inf
            if m0 > 0.0:
                sm = 0.0
                for i in range(nr):
                    if i != n and p.pi0[n, i, j] > 0.0:
                        sm += p.pi0[n, i, j] / m0 * np.exp(
                            eM * (p.ltau[n, i, j] + lc[i, j]) + p.lpref[n, i, j])
                if sm > 0.0:
                    lPM = np.log(sm) / eM
            s = 0.0
            uD = p.ltau[n, n, j] + lc[n, j]
            if d > 0.0:
                s += d * np.exp(eD * uD + p.lpref[n, n, j])
            if m0 > 0.0 and lPM < np.inf:
                s += m0 * np.exp(eD * lPM)
            if s <= 0.0:
                lPs[n, j] = 0.0
                lPe[n, j] = 0.0
                for i in range(nr):
                    pi1[n, i, j] = 0.0
                continue
            lp = np.log(s) / eD
            lPs[n, j] = lp
            pi1[n, n, j] = d * np.exp(eD * (uD - lp) + p.lpref[n, n, j]) if d > 0.0 else 0.0
            mT = m0 * np.exp(eD * (lPM - lp)) if (m0 > 0.0 and lPM < np.inf) else 0.0
            for i in range(nr):
                if i != n:
                    if mT > 0.0 and p.pi0[n, i, j] > 0.0:
                        pi1[n, i, j] = mT * p.pi0[n, i, j] / m0 * np.exp(
                            eM * (p.ltau[n, i, j] + lc[i, j] - lPM) + p.lpref[n, i, j])
                    else:
                        pi1[n, i, j] = 0.0
            if not shifted:
                lPe[n, j] = lp
                continue
            # quantity index at benchmark preferences of what one unit of spending buys
            rD = (p.sigma[j] - 1.0) / p.sigma[j]
            rM = (p.sigma_m[j] - 1.0) / p.sigma_m[j]
            q = 0.0
            if d > 0.0:
                q += d * (pi1[n, n, j] / d * np.exp(-uD)) ** rD
            if m0 > 0.0:
                qm = 0.0
                for i in range(nr):
                    if i != n and p.pi0[n, i, j] > 0.0:
                        qi = pi1[n, i, j] / p.pi0[n, i, j] * np.exp(-(p.ltau[n, i, j] + lc[i, j]))
                        qm += p.pi0[n, i, j] / m0 * qi ** rM
                q += m0 * qm ** (rD / rM)
            lPe[n, j] = -np.log(q) / rD


@njit(cache=True)
def _gross_output(pi1, p, E, out):
    r"""Producer revenue ``Y[i, j] = sum_n pi1[n, i, j] E[n, j] / ((1 + t1) (1 + e1))``."""
    nr, _, ns = pi1.shape
    for i in range(nr):
        for j in range(ns):
            acc = 0.0
            for n in range(nr):
                acc += pi1[n, i, j] * E[n, j] * p.inv1pt[n, i, j] * p.inv1pe[n, i, j]
            out[i, j] = acc


@njit(cache=True)
def _rents(pi1, p, E, out):
    r"""Export-tax rents of each exporter: ``sum_{n,j} X[i, n, j] e1 / (1 + e1)``."""
    nr, _, ns = pi1.shape
    for i in range(nr):
        acc = 0.0
        for n in range(nr):
            for j in range(ns):
                acc += pi1[n, i, j] * E[n, j] * p.inv1pt[n, i, j] * (1.0 - p.inv1pe[n, i, j])
        out[i] = acc


@njit(cache=True)
def _expenditure(pi1, p, income_exog, mat, rhs, out):
    r"""Solve the linear expenditure system of model.md step 4 for ``E1[n, j]`` by LU.

    .. math::
        E_{nj} = \alpha_{nj}\big(\text{income}_n + R_n(E) + \text{rents}_n(E)\big)
        + \sum_k \gamma_{njk} Y_{nk}(E)

    ``income_exog[n]`` = factor income + deficit.  ``mat`` and ``rhs`` are workspace.
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
            rhs[row] = p.alpha[n, j] * income_exog[n]
            for k in range(ns):
                rev = 0.0
                for i in range(nr):
                    rev += (1.0 - p.inv1pt[n, i, k]) * pi1[n, i, k]
                mat[row, n * ns + k] -= p.alpha[n, j] * rev
            for m in range(nr):
                for k in range(ns):
                    sale = pi1[m, n, k] * p.inv1pt[m, n, k]
                    coef = p.gamma[n, j, k] * sale * p.inv1pe[m, n, k]
                    coef += p.alpha[n, j] * sale * (1.0 - p.inv1pe[m, n, k])
                    mat[row, m * ns + k] -= coef
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
def _expenditure_step(pi1, p, income_exog, E, out):
    r"""One Jacobi step of the expenditure system: the right-hand side of
    :func:`_expenditure` at ``E``."""
    nr, _, ns = pi1.shape
    Y = np.empty((nr, ns))
    rents = np.empty(nr)
    _gross_output(pi1, p, E, Y)
    _rents(pi1, p, E, rents)
    for n in range(nr):
        rev = 0.0
        for i in range(nr):
            for k in range(ns):
                rev += (1.0 - p.inv1pt[n, i, k]) * pi1[n, i, k] * E[n, k]
        for j in range(ns):
            acc = p.alpha[n, j] * (income_exog[n] + rev + rents[n])
            for k in range(ns):
                acc += p.gamma[n, j, k] * Y[n, k]
            out[n, j] = acc


@njit(cache=True)
def _evaluate(x, p, ws):
    """Steps 1-5 at the state ``x``: fills ``ws`` with factor prices, costs, the new price
    indices, shares, absorption, gross output, rents and factor demands."""
    nr, ns = p.beta.shape
    lP = x[nr:nr + nr * ns].reshape((nr, ns))
    _factor_prices(x, p, ws.lw, ws.L, ws.lpva)
    _unit_costs(ws.lpva, lP, p.beta, p.gamma, ws.lc)
    _prices_and_shares(ws.lc, p, ws.lPs, ws.lP, ws.pi1)
    off_r = nr + nr * ns
    for n in range(nr):
        acc = np.exp(ws.lw[n]) * ws.L[n] * p.vaL[n] + p.D1[n]
        for j in range(ns):
            if p.vaK[n, j] > 0.0:
                acc += np.exp(x[off_r + n * ns + j]) * p.vaK[n, j]
        ws.income[n] = acc
    if p.direct:
        _expenditure(ws.pi1, p, ws.income, ws.mat, ws.rhs, ws.E)
    else:
        E_old = np.empty((nr, ns))
        off = nr + 2 * nr * ns
        for n in range(nr):
            for j in range(ns):
                E_old[n, j] = x[off + n * ns + j] * p.E0[n, j]
        _expenditure_step(ws.pi1, p, ws.income, E_old, ws.E)
    _gross_output(ws.pi1, p, ws.E, ws.Y)
    _rents(ws.pi1, p, ws.E, ws.rents)
    for n in range(nr):
        acc = 0.0
        for j in range(ns):
            acc += p.theta[n, j] * p.beta[n, j] * ws.Y[n, j]
            ws.KD[n, j] = (1.0 - p.theta[n, j]) * p.beta[n, j] * ws.Y[n, j]
        ws.LD[n] = acc


@njit(cache=True)
def _fixed_point_map(x, p, damping, g, ws):
    r"""The map ``G`` of the joint fixed point in ``x = (a, log P, log r, E / E0)``.

    Factor prices move to the level that clears each factor market at current prices
    (Alvarez & Lucas 2007; Caliendo & Parro 2015): the wage to ``labour demand / labour
    supply`` (or, with a fixed real wage, employment to ``labour demand / wage``), the rental
    of each sector's capital to ``capital demand / capital``; price indices move to their CES
    value at current unit costs; absorption to the solution of the expenditure system (or one
    step towards it).  Prices are then rescaled so that the world factor-price index (benchmark
    factor incomes as weights) is unchanged: the numeraire, equal to world value added under
    full employment.  All updates are damped.

    Returns ``(factor residual, price residual, absorption residual)``: max |excess demand for
    a factor| / world value added, max |change of log P|, max |change of E| / world value
    added.
    """
    nr, ns = p.beta.shape
    _evaluate(x, p, ws)
    off_r = nr + nr * ns
    off_e = nr + 2 * nr * ns
    world = 0.0
    for n in range(nr):
        world += p.va[n]
    res_f = 0.0
    h = 0.0  # world factor-price index at the new prices, benchmark weights
    for n in range(nr):
        w = np.exp(ws.lw[n])
        res_f = max(res_f, abs(ws.LD[n] - w * ws.L[n] * p.vaL[n]) / world)
        if p.frw[n]:
            acc = 0.0
            for j in range(ns):
                acc += p.alpha[n, j] * ws.lP[n, j]
            h += np.exp(acc) * p.vaL[n]
        else:
            h += ws.LD[n]
        for j in range(ns):
            if p.vaK[n, j] > 0.0:
                r = np.exp(x[off_r + n * ns + j])
                res_f = max(res_f, abs(ws.KD[n, j] - r * p.vaK[n, j]) / world)
                h += ws.KD[n, j]
    scale = world / h
    lscale = np.log(scale)
    for n in range(nr):
        if p.frw[n]:
            a_new = ws.LD[n] / (np.exp(ws.lw[n]) * p.vaL[n])
        else:
            a_new = ws.LD[n] / p.vaL[n] * scale
        g[n] = x[n] + damping * (a_new - x[n])
    res_p = 0.0
    res_e = 0.0
    for n in range(nr):
        for j in range(ns):
            a = nr + n * ns + j
            d = ws.lP[n, j] - x[a]
            res_p = max(res_p, abs(d))
            g[a] = x[a] + damping * (d + lscale)
            b = off_r + n * ns + j
            if p.vaK[n, j] > 0.0:
                lr_new = np.log(ws.KD[n, j] / p.vaK[n, j]) + lscale
                g[b] = x[b] + damping * (lr_new - x[b])
            else:
                g[b] = x[b]
            c = off_e + n * ns + j
            res_e = max(res_e, abs(ws.E[n, j] - x[c] * p.E0[n, j]) / world)
            g[c] = x[c] + damping * (ws.E[n, j] / p.E0[n, j] - x[c])
    return res_f, res_p, res_e


@njit(cache=True)
def _mixing_weights(dF, stored, f):
    r"""Least-squares weights ``argmin |f - dF[:stored].T gamma|`` from the normal equations,
    with a small ridge (1e-12 of the trace) and Gaussian elimination with partial pivoting:
    ``stored`` is at most the Anderson memory, so the system is tiny."""
    m = stored
    A = np.zeros((m, m))
    b = np.zeros(m)
    dim = f.shape[0]
    for p in range(m):
        for q in range(p, m):
            acc = 0.0
            for a in range(dim):
                acc += dF[p, a] * dF[q, a]
            A[p, q] = acc
            A[q, p] = acc
        acc = 0.0
        for a in range(dim):
            acc += dF[p, a] * f[a]
        b[p] = acc
    trace = 0.0
    for p in range(m):
        trace += A[p, p]
    for p in range(m):
        A[p, p] += 1e-12 * trace + 1e-300
    for col in range(m):
        piv = col
        for r in range(col + 1, m):
            if abs(A[r, col]) > abs(A[piv, col]):
                piv = r
        if piv != col:
            for c in range(m):
                A[col, c], A[piv, c] = A[piv, c], A[col, c]
            b[col], b[piv] = b[piv], b[col]
        for r in range(col + 1, m):
            factor = A[r, col] / A[col, col]
            for c in range(col, m):
                A[r, c] -= factor * A[col, c]
            b[r] -= factor * b[col]
    coef = np.zeros(m)
    for r in range(m - 1, -1, -1):
        acc = b[r]
        for c in range(r + 1, m):
            acc -= A[r, c] * coef[c]
        coef[r] = acc / A[r, r]
    return coef


@njit(cache=True)
def _solve_fixed_point(x0, p, tol, max_iter, damping, memory, anderson, x_out):
    r"""Iterate ``x <- G(x)`` from ``x0``, with Anderson mixing (Walker & Ni 2011) if asked.

    Anderson type II: with ``f_k = G(x_k) - x_k``, choose ``gamma`` to minimise
    ``|f_k - dF gamma|`` over the last ``memory`` differences, then
    ``x_{k+1} = G(x_k) - dG gamma``.  A step that leaves positive wages or finite values is
    replaced by the plain step and the history is cleared.

    Returns ``(status, iterations, factor residual, price residual, absorption residual)``;
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
            coef = _mixing_weights(dF, stored, f)
            x_new = g.copy()
            for k in range(stored):
                for a in range(dim):
                    x_new[a] -= coef[k] * dG[k, a]
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
    """``p`` with both Armington elasticities of sector ``j`` multiplied by ``scale[j]`` (for
    sensitivity sweeps inside compiled code; keeps working as parameters are added)."""
    return KernelParams(p.beta, p.gamma, p.pi0, p.ltau, p.inv1pt, p.sigma * scale, p.alpha,
                        p.va, p.D1, p.E0, p.direct, p.sigma_m * scale, p.inv1pe, p.lpref,
                        p.theta, p.vaL, p.vaK, p.frw)


@njit(cache=True)
def _with_trade(p, ltau, inv1pt):
    """``p`` with new trade-cost changes ``ltau`` and tariff factors ``inv1pt = 1/(1 + t1)``."""
    return KernelParams(p.beta, p.gamma, p.pi0, ltau, inv1pt, p.sigma, p.alpha, p.va, p.D1,
                        p.E0, p.direct, p.sigma_m, p.inv1pe, p.lpref, p.theta, p.vaL, p.vaK,
                        p.frw)

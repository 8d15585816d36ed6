r"""The compiled fixed point of the equilibrium in changes (docs/model.md, steps 1-6).

:func:`fixed_point_map` is the map ``G`` of the state (:mod:`model.core.layout`):
factor prices move to clear factor markets, price indices to their CES value, absorption along its
linear system; :func:`solve_with_retries` iterates it with Anderson mixing and is the one retry
policy, used by :func:`model.core.solver.solve` and, inlined as :data:`iterate`, by the sweep's
draw kernel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.kernels import evaluate_lean, prepare_weights, store_shares, workspace
from model.core.layout import split
from model.core.linalg import CACHED, LEAF, SUMS, gauss_solve, inner


class Equilibrium(NamedTuple):
    """The quantities at a solution that a :class:`~model.core.solver.Solution` reports and
    :func:`~model.core.outcomes.compute_outcomes` reads (names as in the workspace)."""

    lw: np.ndarray     # [n] log wage (or employment, under a fixed real wage: see L)
    L: np.ndarray      # [n] employment change
    lP: np.ndarray     # [n, j] log price index
    lc: np.ndarray     # [n, j] log unit cost
    pi1: np.ndarray    # [n, i, j] expenditure shares
    E: np.ndarray      # [n, j] absorption
    Y: np.ndarray      # [n, j] gross output
    rents: np.ndarray  # [n] export-tax rents received


#: Status codes of a solve.
CONVERGED = 0
MAX_ITER = 1
NOT_FINITE = 2
#: attempts of :func:`solve_with_retries`: the start given, then the benchmark twice, each
#: time with half the damping
ATTEMPTS = 3


@njit(**CACHED)
def fixed_point_map(x, p, damping, g, ws):
    r"""The map ``G`` of the joint fixed point in ``x = (a, log P, log r, E / E0)``.

    Factor prices move to the level that clears each factor market at current prices
    (Alvarez & Lucas 2007; Caliendo & Parro 2015): the wage to ``labour demand / labour
    supply`` (or, with a fixed real wage, employment to ``labour demand / wage``), the rental
    of each sector's capital to ``capital demand / capital``; price indices move to their CES
    value at current unit costs; absorption to the solution of the expenditure system (or one
    step towards it).  Prices are then rescaled so that the world factor-price index (benchmark
    factor incomes as weights) is unchanged: the numeraire, equal to world value added under
    full employment.  All updates are damped.

    ``ws`` holds every quantity evaluated at ``x`` except, after a fused evaluation, the import
    shares (:func:`model.core.kernels.store_shares` stores them); the weights of the price step
    are prepared in it first where it has none (a workspace serves one set of parameters).

    Returns ``(factor residual, price residual, absorption residual)``: max |excess demand for
    a factor| / world value added, max |change of log P|, max |change of E| / world value
    added.
    """
    if not ws.ready[0]:
        prepare_weights(p, ws)
    evaluate_lean(x, p, ws)
    return _map_update(x, p, damping, g, ws)


@njit(**CACHED, inline="always")
def _map_update(x, p, damping, g, ws):
    """:func:`fixed_point_map` after the evaluation: ``g`` from the quantities in ``ws``
    (a function of its own so that the solver calls the evaluation directly, one call level
    fewer for the compiler to optimise it again).  It passes :func:`_update` the arrays it
    reads, not the parameter and workspace tuples (the solver takes them from the tuples
    once per solve: each array taken from a tuple is a reference counted, and given back)."""
    nr, ns = p.structure.vaK.shape
    return _update(*split(x, nr, ns), *split(g, nr, ns), damping, *_update_arrays(p, ws))


@njit(**CACHED, inline="always")
def _update_arrays(p, ws):
    """The arguments of :func:`_update` after the parts of ``x`` and ``g`` and ``damping``:
    arrays of the parameters ``p`` and of the workspace ``ws``."""
    s = p.structure
    return (s.va, s.vaL, s.vaK, s.frw, s.alpha, s.E0, ws.lw, ws.L, ws.lP, ws.E, ws.LD, ws.KD,
            ws.er)


@inner(**LEAF)
def _update(a, lP, lr, e, ga, gP, gr, ge, damping, va, vaL, vaK, frw, alpha, E0, lw, L,
            lP_new, E, LD, KD, er):
    """:func:`_map_update` on plain arrays: the parts of ``x`` and of ``g``
    (:func:`~model.core.layout.split`), then ``va``, ``vaL``, ``vaK``, ``frw``, ``alpha``,
    ``E0`` of the :class:`~model.core.params.Structure` and the rest of the
    :class:`~model.core.kernels.Workspace` (``lP_new`` is its ``lP``; ``er`` the rentals
    the evaluation at ``x`` computed, not computed again)."""
    nr, ns = vaK.shape
    world = 0.0
    for n in range(nr):
        world += va[n]
    res_f = 0.0
    h = 0.0  # world factor-price index at the new prices, benchmark weights
    for n in range(nr):
        w = np.exp(lw[n])
        res_f = max(res_f, abs(LD[n] - w * L[n] * vaL[n]) / world)
        if frw[n]:
            acc = 0.0
            for j in range(ns):
                acc += alpha[n, j] * lP_new[n, j]
            h += np.exp(acc) * vaL[n]
        else:
            h += LD[n]
        for j in range(ns):
            if vaK[n, j] > 0.0:
                r = er[n, j]
                res_f = max(res_f, abs(KD[n, j] - r * vaK[n, j]) / world)
                h += KD[n, j]
    scale = world / h
    lscale = np.log(scale)
    for n in range(nr):
        if frw[n]:
            a_new = LD[n] / (np.exp(lw[n]) * vaL[n])
        else:
            a_new = LD[n] / vaL[n] * scale
        ga[n] = a[n] + damping * (a_new - a[n])
    res_p = 0.0
    res_e = 0.0
    for n in range(nr):
        for j in range(ns):
            d = lP_new[n, j] - lP[n, j]
            res_p = max(res_p, abs(d))
            gP[n, j] = lP[n, j] + damping * (d + lscale)
            if vaK[n, j] > 0.0:
                lr_new = np.log(KD[n, j] / vaK[n, j]) + lscale
                gr[n, j] = lr[n, j] + damping * (lr_new - lr[n, j])
            else:
                gr[n, j] = lr[n, j]
            res_e = max(res_e, abs(E[n, j] - e[n, j] * E0[n, j]) / world)
            ge[n, j] = e[n, j] + damping * (E[n, j] / E0[n, j] - e[n, j])
    return res_f, res_p, res_e


@njit(**CACHED, fastmath=SUMS, **LEAF)
def _gram_row(dF, h, stored, gram):
    """Row and column ``h`` of the Gram matrix ``gram[p, q] = dF[p] . dF[q]`` of the first
    ``stored`` rows of ``dF``, after row ``h`` was written: the other entries are kept from
    earlier iterations (the rows they read have not changed), one row of products per
    iteration instead of all of them."""
    dim = dF.shape[1]
    for q in range(stored):
        p0, q0 = (h, q) if h <= q else (q, h)
        acc = 0.0
        for a in range(dim):
            acc += dF[p0, a] * dF[q0, a]
        gram[p0, q0] = acc
        gram[q0, p0] = acc


@njit(**CACHED, fastmath=SUMS, **LEAF)
def _mixing_weights(gram, dF, stored, f, A, b):
    r"""Least-squares weights ``argmin |f - dF[:stored].T gamma|`` from the normal equations
    (``gram`` holds ``dF dF.T``, see :func:`_gram_row`), with a small ridge (1e-12 of the
    trace), solved by :func:`~model.core.linalg.gauss_solve`: ``stored`` is at most the
    Anderson memory, so the system is tiny.  The weights are written to ``b[:stored]``
    (``A``: scratch, at least ``stored x stored``); returns False where there are none (``b``
    then NaN)."""
    m = stored
    dim = f.shape[0]
    for p in range(m):
        for q in range(m):
            A[p, q] = gram[p, q]
        acc = 0.0
        for a in range(dim):
            acc += dF[p, a] * f[a]
        b[p] = acc
    trace = 0.0
    for p in range(m):
        trace += A[p, p]
    for p in range(m):
        A[p, p] += 1e-12 * trace + 1e-300
    if not gauss_solve(A, b[:m]):  # no weights: the step is rejected as not finite
        for p in range(m):
            b[p] = np.nan
        return False
    return True


@inner(**LEAF)
def _copy(src, dst):
    """``dst[:] = src`` for equal shapes (a loop: the slice assignment would compile a
    shape check with its error message, seconds of a first run)."""
    for a in range(src.shape[0]):
        dst[a] = src[a]


@inner(**LEAF)
def _anderson_step(x, g, f, dF, dG, gram, stored, x_new, wages, A, coef):
    """Set ``x`` to the Anderson extrapolation ``G(x) - dG gamma`` from the ``stored`` past
    differences (``gram``: their Gram matrix); returns False (leaving ``x``) when the step is
    not finite or leaves a wage (or employment) at or below zero.  Scratch: ``x_new`` (the
    step), ``wages`` (its view of the wages, :func:`~model.core.layout.split`), ``A`` and
    ``coef`` (:func:`_mixing_weights`)."""
    dim = x.shape[0]
    _mixing_weights(gram, dF, stored, f, A, coef)  # NaN weights where there are none
    for a in range(dim):
        x_new[a] = g[a]
    for k in range(stored):
        for a in range(dim):
            x_new[a] -= coef[k] * dG[k, a]
    for a in range(dim):
        if not np.isfinite(x_new[a]):
            return False
    for n in range(wages.shape[0]):
        if wages[n] <= 0.0:
            return False
    _copy(x_new, x)
    return True


def solve_with_retries(x0, x_init, p, st, x_out):
    r"""Iterate ``x <- G(x)`` from ``x0``, with Anderson mixing (Walker & Ni 2011) if asked;
    if that fails, again from the benchmark state ``x_init`` with half the damping, twice.

    Anderson type II: with ``f_k = G(x_k) - x_k``, choose ``gamma`` to minimise
    ``|f_k - dF gamma|`` over the last ``memory`` differences, then
    ``x_{k+1} = G(x_k) - dG gamma``.  A step that leaves positive wages or finite values is
    replaced by the plain step and the history is cleared.

    ``st`` is a :class:`~model.core.params.SolverTuple`.  Returns ``(status, iterations in
    all, factor residual, price residual, absorption residual, damping of the last attempt,
    quantities)`` of the last attempt; ``x_out`` holds its last iterate (the solution when
    status is ``CONVERGED``) and ``quantities`` the equilibrium at it that a solution reports,
    read from the solve's workspace: ``(log wage, employment, log price index, log unit cost,
    shares, absorption, gross output, rents)`` (only these arrays reach Python, not the whole
    workspace; the fields of an :class:`Equilibrium`, as a plain tuple).

    The attempts and the iteration are one function, which calls the evaluation
    (:func:`~model.core.kernels.evaluate_lean`) directly: each call level above the evaluation
    makes the compiler optimise and generate its code again, seconds of a first run each.  The
    function is compiled twice over (below): on its own, the solver Python calls, and as
    :data:`iterate`, inlined in the draw kernel (:func:`model.sweep.kernels.solve_draws`),
    which therefore needs the evaluation compiled, not the solver, and is compiled beside it
    on a first run.  (A compiled wrapper inlining :data:`iterate` would be the same solver,
    but its iterations are 5-10 % slower at 60 x 65.)
    """
    nr, ns = p.structure.beta.shape
    ws = workspace(nr, ns, p.direct)
    prepare_weights(p, ws)
    tol, max_iter, memory, anderson = st.tol, st.max_iter, st.memory, st.anderson
    dim = x0.shape[0]
    x = np.empty(dim)
    g = np.empty(dim)
    f = np.empty(dim)
    f_old = np.empty(dim)
    g_old = np.empty(dim)
    dF = np.zeros((memory, dim))  # rows: past differences of f and of G(x)
    dG = np.zeros((memory, dim))
    gram = np.zeros((memory, memory))  # dF dF.T, a row updated per iteration
    x_new = np.empty(dim)  # scratch of the Anderson step
    wages_new = split(x_new, nr, ns)[0]
    A = np.empty((memory, memory))
    coef = np.empty(memory)
    # what the update reads, taken from the tuples once (not a reference count per array
    # and iteration)
    va, vaL, vaK, frw, alpha, E0, lw, L, lP, E, LD, KD, er = _update_arrays(p, ws)
    xa, xP, xr, xe = split(x, nr, ns)  # x and g change in place: their views, once
    ga, gP, gr, ge = split(g, nr, ns)
    damping = st.damping
    status = MAX_ITER
    total = 0
    res_w = np.inf
    res_p = np.inf
    res_e = np.inf
    for attempt in range(ATTEMPTS):
        if attempt == 0:
            _copy(x0, x)
        else:
            damping *= 0.5
            _copy(x_init, x)
        stored = 0
        head = 0
        status = MAX_ITER
        iters = max_iter
        for it in range(max_iter + 1):
            evaluate_lean(x, p, ws)
            res_w, res_p, res_e = _update(xa, xP, xr, xe, ga, gP, gr, ge, damping, va, vaL,
                                          vaK, frw, alpha, E0, lw, L, lP, E, LD, KD, er)
            finite = np.isfinite(res_w) and np.isfinite(res_p) and np.isfinite(res_e)
            for a in range(dim):
                if not np.isfinite(g[a]):
                    finite = False
            if not finite:
                if stored > 0:  # an extrapolated step went too far: back to the last plain step
                    _copy(g_old, x)
                    stored = 0
                    head = 0
                    continue
                status = NOT_FINITE
                iters = it
                break
            if res_w < tol and res_p < tol and res_e < tol:
                status = CONVERGED
                iters = it
                break
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
                _gram_row(dF, (head + memory - 1) % memory, stored, gram)  # the row written
            _copy(f, f_old)
            _copy(g, g_old)
            if anderson and stored > 0:
                if _anderson_step(x, g, f, dF, dG, gram, stored, x_new, wages_new, A, coef):
                    continue
                stored = 0  # a failed extrapolation: the plain step, and the history cleared
                head = 0
            _copy(g, x)
        total += iters
        _copy(x, x_out)
        if status == CONVERGED:
            break
    store_shares(ws)
    # the fields of an Equilibrium, not one: a compiled function does not return a named
    # tuple to Python (model.interrupts.interrupt_from)
    return (status, total, res_w, res_p, res_e, damping,
            (ws.lw, ws.L, ws.lP, ws.lc, ws.pi1, ws.E, ws.Y, ws.rents))


#: :func:`solve_with_retries` inlined where compiled code calls it (numba's
#: ``inline="always"``): the draw kernel
iterate = njit(**CACHED, inline="always")(solve_with_retries)
solve_with_retries = njit(**CACHED, nogil=True)(solve_with_retries)

r"""Newton's method on wages alone, each evaluation solving prices and absorption: a probe.

The joint fixed point of :mod:`model.core.solver` updates wages, price indices and absorption
together.  The alternative nests them, as Alvarez & Lucas (2007) and Caliendo & Parro (2015)
do: given wages :math:`\hat w`, iterate the price and absorption parts of the same map ``G``
to convergence and read off the labour-market residual
:math:`F(\hat w) = G_w(\hat w, \hat P(\hat w), E(\hat w)) - \hat w`.  Where their outer loop
moves wages by the excess demand for labour, this probe solves :math:`F = 0` by Newton's
method with a forward-difference Jacobian on the ``R - 1`` wages that the numeraire (world
value added) leaves free, with a backtracking line search.

It is here to measure whether Newton pays off against the Anderson-accelerated joint fixed
point (``python -m benchmarks`` reports both); it is not part of the model.  Every Jacobian
costs ``R - 1`` inner solves, so its cost grows with the number of regions while the joint
fixed point needs about 20 evaluations of ``G`` at every size.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.core.cache import install
from model.core.fixed_point import fixed_point_map
from model.core.kernels import workspace
from model.core.layout import split

install([__file__])  # compiled calls of the model's kernels: cached against their sources too


@njit(cache=True)
def _inner(x, p, ws, g, tol, max_inner):
    """Iterate the non-wage part of ``G`` at the wages ``x[:R]``, in place, until the price
    and absorption residuals are below ``tol``.  Leaves ``g = G(x)``; returns (evaluations of
    ``G``, labour residual, price residual, absorption residual)."""
    nr, ns = p.structure.beta.shape
    _, xP, xr, xe = split(x, nr, ns)
    _, gP, gr, ge = split(g, nr, ns)
    res_w, res_p, res_e = np.inf, np.inf, np.inf
    for k in range(max_inner):
        res_w, res_p, res_e = fixed_point_map(x, p, 1.0, g, ws)
        if res_p < tol and res_e < tol:
            return k + 1, res_w, res_p, res_e
        xP[:] = gP
        xr[:] = gr
        xe[:] = ge
    return max_inner, res_w, res_p, res_e


@njit(cache=True)
def _excess(x, g, nr, ns, m, out):
    """``G(x) - x`` for the wages of the first ``m`` regions."""
    wx, wg = split(x, nr, ns)[0], split(g, nr, ns)[0]
    for k in range(m):
        out[k] = wg[k] - wx[k]


@njit(cache=True)
def _set_wages(x, u, va, ns):
    """Wages ``u`` for the first ``R - 1`` regions; the last one keeps world value added."""
    nr = va.shape[0]
    wages = split(x, nr, ns)[0]
    m = nr - 1
    acc = 0.0
    for k in range(m):
        wages[k] = u[k]
        acc += u[k] * va[k]
    world = 0.0
    for k in range(nr):
        world += va[k]
    wages[m] = (world - acc) / va[m]


@njit(cache=True)
def _newton_wages(x, p, tol, max_newton, max_inner, step):
    """Solve in place from ``x``; returns (converged, Newton steps, evaluations of ``G``)."""
    nr, ns = p.structure.beta.shape
    m = nr - 1
    ws = workspace(nr, ns, p.direct)
    g = np.empty_like(x)
    inner_tol = 0.1 * tol
    evals, res_w, res_p, res_e = _inner(x, p, ws, g, inner_tol, max_inner)
    F = np.empty(m)
    _excess(x, g, nr, ns, m, F)
    J = np.empty((m, m))
    Fk = np.empty(m)
    u = np.empty(m)
    for it in range(max_newton + 1):
        if res_w < tol and res_p < tol and res_e < tol:
            return True, it, evals
        if it == max_newton:
            break
        base = x.copy()
        for k in range(m):
            xk = base.copy()
            u[:] = split(base, nr, ns)[0][:m]
            h = step * max(1.0, abs(u[k]))
            u[k] += h
            _set_wages(xk, u, p.structure.va, ns)
            ev, _, _, _ = _inner(xk, p, ws, g, inner_tol, max_inner)
            evals += ev
            _excess(xk, g, nr, ns, m, Fk)
            for a in range(m):
                J[a, k] = (Fk[a] - F[a]) / h
        du = np.linalg.solve(J, -F)
        f0 = np.max(np.abs(F))
        lam = 1.0
        while True:
            xt = base.copy()
            for k in range(m):
                u[k] = split(base, nr, ns)[0][k] + lam * du[k]
            _set_wages(xt, u, p.structure.va, ns)
            ok = True
            wages = split(xt, nr, ns)[0]
            for k in range(nr):
                if not wages[k] > 0.0:
                    ok = False
            if ok:
                ev, rw, rp, re = _inner(xt, p, ws, g, inner_tol, max_inner)
                evals += ev
                _excess(xt, g, nr, ns, m, Fk)
                if np.max(np.abs(Fk)) <= (1.0 - 1e-4 * lam) * f0 or lam < 1.0 / 64:
                    x[:] = xt
                    F[:] = Fk
                    res_w, res_p, res_e = rw, rp, re
                    break
            lam *= 0.5
    return False, max_newton, evals


def solve_newton_wages(p, x0, tol=1e-10, max_newton=50, max_inner=5000, step=1e-6):
    """Newton on wages from the state ``x0`` with kernel parameters ``p``
    (:func:`model.core.params.kernel_params`).  Returns ``(x, converged, Newton steps, evaluations
    of G)``."""
    x = np.array(x0, dtype=float)
    converged, steps, evals = _newton_wages(x, p, tol, max_newton, max_inner, step)
    return x, bool(converged), int(steps), int(evals)

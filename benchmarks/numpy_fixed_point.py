"""The baseline a user would write: the same fixed point in vectorised NumPy.

The map ``G`` is :func:`model.core.equations.fixed_point_map`, the NumPy twin of the compiled
map, with the price step's constant factors prepared once per solve
(:func:`model.core.equations.price_weights`), as the compiled solver does; the iteration is
Anderson type II with the solver's default memory, its least-squares weights from
``numpy.linalg.lstsq``.  Same equations, same starting point, same tolerance: the comparison
with the compiled solver measures the implementation, not the algorithm.
"""

from __future__ import annotations

import numpy as np

from model.core import equations
from model.core.layout import split
from model.core.params import kernel_params
from model.core.settings import SolverSettings
from model.core.solver import initial_state


def solve_numpy(bm, policy, tol: float = 1e-10, memory: int = 5, max_iter: int = 5000):
    """``(x, converged, iterations)``: the fixed point of ``G`` from the benchmark state,
    accelerated with Anderson mixing; an extrapolated step that is not finite or leaves a
    wage at or below zero is replaced by the plain step and the history cleared."""
    p = kernel_params(bm, policy, SolverSettings())
    nr, ns = bm.shape
    weights = equations.price_weights(p)
    x = initial_state(bm)
    dF, dG = [], []
    f_old = g_old = None
    for it in range(max_iter + 1):
        with np.errstate(all="ignore"):
            g, *res = equations.fixed_point_map(x, p, 1.0, weights)
        if not (np.all(np.isfinite(res)) and np.all(np.isfinite(g))):
            if dF:  # the extrapolation went too far: back to the last plain step
                x, dF, dG = g_old, [], []
                continue
            return x, False, it
        if max(res) < tol:
            return x, True, it
        f = g - x
        if f_old is not None:
            dF.append(f - f_old)
            dG.append(g - g_old)
            del dF[:-memory], dG[:-memory]
        f_old, g_old = f, g
        x = g
        if dF:
            gamma = np.linalg.lstsq(np.array(dF).T, f, rcond=None)[0]
            step = g - gamma @ np.array(dG)
            if np.all(np.isfinite(step)) and np.all(split(step, nr, ns)[0] > 0):
                x = step
            else:
                dF, dG = [], []
    return x, False, max_iter

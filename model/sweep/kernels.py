r"""Compiled solves of a sensitivity sweep: many solves of one scenario, on threads over draws.

Each draw is the scenario's equilibrium with its own Armington elasticities (a per-sector
multiplier of the benchmark's) and, for tariff grids, the shock of its own grid point; it is
solved by the engine's solver, inlined (:data:`~model.core.fixed_point.iterate`), warm-started from
the central solution of its grid point, and its outcomes are computed at once by the engine's
:func:`~model.core.outcomes.compute_outcomes`, so that only the outcomes a sweep stores leave
compiled code: the rows ``rows_region`` of the region outcomes and ``rows_sector`` of the
sector outcomes (chosen from the catalogue by the caller).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.fixed_point import CONVERGED, MAX_ITER, NOT_FINITE, Equilibrium, iterate
from model.core.linalg import CACHED
from model.core.outcomes import allocate, compute_outcomes
from model.core.params import KernelParams, Shock, scale_elasticities

#: Draw status codes: the engine's (converged, iteration limit, values not finite) and one more.
INVALID = 3  # an elasticity at or below 1: outside the model's domain, not solved
SEARCH_FAILED = 4  # the draw's endogenous instrument (target, optimum, Nash, quotas) not found
CONVERGENCE_FAILED = MAX_ITER  # a draw solved in Python that did not converge
STATUS = {CONVERGED: "converged", MAX_ITER: "iteration_limit", NOT_FINITE: "not_finite",
          INVALID: "elasticity_at_or_below_one", SEARCH_FAILED: "instrument_not_found"}


@njit(**CACHED)
def shock_at(shocks, g):
    """The :class:`~model.core.params.Shock` of grid point ``g`` from shocks stacked over grid
    points."""
    return Shock(shocks.ltau[g], shocks.inv1pt[g], shocks.inv1pe[g], shocks.lpref[g],
                 shocks.D1[g])


@njit(**CACHED, nogil=True)
def solve_draws(structure, elasticities, direct, oi, shocks, st, point, x0s, x_init, scales,
                rows_region, rows_sector, status, iterations, residuals, out_region,
                out_sector):
    r"""Solve draws ``d = 0 .. len(point) - 1``, one after the other, without the interpreter
    lock (:func:`model.sweep.runner.solve_chunk` runs parts of a chunk on threads side by
    side: numba's parallel loop would compile the whole solver a second time, ~16 s of a
    first run).

    Draw ``d`` solves the model of ``structure`` (a :class:`~model.core.params.Structure`) with
    the shock of grid point ``g = point[d]`` (``shocks`` stacked over grid points), the
    ``elasticities`` times ``scales[d]``, the warm start ``x0s[g]`` and the solver settings
    ``st``; ``direct`` solves absorption by LU.  (The parts of the kernel parameters are passed
    one by one, as the draws' parameters are built from them.)  A draw with an
    elasticity (either level of a nested form) at or below 1 is not solved (status
    :data:`INVALID`).  Writes ``status[d]``, ``iterations[d]``,
    ``residuals[d, :]`` (labour, price, absorption), ``out_region[d, k, n]`` (region outcome
    ``rows_region[k]``) and ``out_sector[d, k, n, j]``; a draw that did not converge gets NaN
    outcomes.
    """
    nr, ns = structure.beta.shape
    x = np.empty(x_init.shape[0])
    for k in range(point.shape[0]):  # the draws in this function, not in one of their own:
        d = np.int64(k)  # each call level above the solver is seconds more of a first run
        g = point[d]
        q = KernelParams(structure, shock_at(shocks, g),
                         scale_elasticities(elasticities, scales[d]), direct)
        out_region[d, :, :] = np.nan
        out_sector[d, :, :, :] = np.nan
        valid = True
        for j in range(ns):
            if not (q.elasticities.sigma[j] > 1.0 and q.elasticities.sigma_m[j] > 1.0):
                valid = False
        if not valid:
            status[d] = INVALID
            iterations[d] = 0
            residuals[d, :] = np.nan
            continue
        code, it, rw, rp, re, _, f = iterate(x0s[g], x_init, q, st, x)
        ev = Equilibrium(f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7])
        status[d] = code
        iterations[d] = it
        residuals[d, 0] = rw
        residuals[d, 1] = rp
        residuals[d, 2] = re
        if code == CONVERGED:
            out = allocate(nr, ns)
            compute_outcomes(x, q, oi, ev, out)
            for r in range(rows_region.shape[0]):
                for n in range(nr):  # loops, not slice copies: no shape check to compile
                    out_region[d, r, n] = out.region[rows_region[r], n]
            for r in range(rows_sector.shape[0]):
                for n in range(nr):
                    for j in range(ns):
                        out_sector[d, r, n, j] = out.sector[rows_sector[r], n, j]

r"""The state of the fixed point, defined once: its parts, their order and their shapes.

The state is one flat vector ``x = (a, log P, log r, E / E0)``:

- ``a[n]``: the wage change of a region with full employment, or its employment change under a
  fixed real wage;
- ``log P[n, j]``: the log change of the (effective) Armington price index;
- ``log r[n, j]``: the log change of the rental of sector-specific capital (0 where there is
  none);
- ``e[n, j] = E[n, j] / E0[n, j]``: absorption relative to the benchmark.

:func:`split` returns views of the four parts (writing into a view writes into ``x``); it is
compiled, so the kernels, the NumPy twins, the solver and the tests all read the state through
the same function.  Nothing else computes an offset into the state.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: the parts of the state, in order, with their shapes (``R`` regions, ``S`` sectors)
PARTS = (("a", "R"), ("log_P", "R x S"), ("log_r", "R x S"), ("e", "R x S"))


@njit(cache=True)
def split(x, nr, ns):
    """Views ``(a[n], lP[n, j], lr[n, j], e[n, j])`` of the state ``x``."""
    m = nr * ns
    return (x[:nr], x[nr:nr + m].reshape((nr, ns)), x[nr + m:nr + 2 * m].reshape((nr, ns)),
            x[nr + 2 * m:nr + 3 * m].reshape((nr, ns)))


def size(nr: int, ns: int) -> int:
    """Length of the state of a model with ``nr`` regions and ``ns`` sectors."""
    return nr + 3 * nr * ns


def join(a, lP, lr, e) -> np.ndarray:
    """The state vector from its parts (the inverse of :func:`split`)."""
    return np.concatenate([np.ravel(a), np.ravel(lP), np.ravel(lr), np.ravel(e)]).astype(float)


def initial(nr: int, ns: int) -> np.ndarray:
    """The benchmark: wages (or employment) 1, log prices 0, log rentals 0, absorption 1."""
    return join(np.ones(nr), np.zeros((nr, ns)), np.zeros((nr, ns)), np.ones((nr, ns)))

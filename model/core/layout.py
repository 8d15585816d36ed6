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
the same function, or its twin inside kernels compiled without reference counts
(:func:`split_leaf`, the same views: a test checks).  Nothing else computes an offset into the
state.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import overload

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)
from model.core.linalg import CACHED

#: the parts of the state, in order, with their shapes (``R`` regions, ``S`` sectors)
PARTS = (("a", "R"), ("log_P", "R x S"), ("log_r", "R x S"), ("e", "R x S"))


@njit(**CACHED)
def split(x, nr, ns):
    """Views ``(a[n], lP[n, j], lr[n, j], e[n, j])`` of the state ``x``."""
    m = nr * ns
    return (x[:nr], _grid(x, nr, nr, ns), _grid(x, nr + m, nr, ns),
            _grid(x, nr + 2 * m, nr, ns))


@njit(**CACHED, inline="always")
def split_leaf(x, nr, ns):
    """:func:`split` inside a kernel compiled without reference counts
    (:data:`~model.core.linalg.LEAF`), which may call no function that returns an array: the
    same views, made inline with ``reshape`` (for a contiguous ``x``, as every state is; the
    evaluation splits its state once per call this way, three calls of numba's shape check)."""
    m = nr * ns
    return (x[:nr], x[nr:nr + m].reshape((nr, ns)), x[nr + m:nr + 2 * m].reshape((nr, ns)),
            x[nr + 2 * m:nr + 3 * m].reshape((nr, ns)))


def _grid(x, start, nr, ns):
    """The ``nr x ns`` view, row by row, of ``x[start:start + nr * ns]``."""
    return x[start:start + nr * ns].reshape((nr, ns))


@overload(_grid)
def _grid_compiled(x, start, nr, ns):
    """:func:`_grid` in compiled code: the same view, made from the stride of ``x``, for any
    layout of ``x``, without the call of a C helper that checks the shapes which numba
    compiles ``reshape`` to (when the solver split its state four times an iteration with
    ``reshape``, an iteration of the 2 x 13 sweep benchmark took about 10 % longer)."""
    def grid(x, start, nr, ns):
        step = x.strides[0]
        return np.lib.stride_tricks.as_strided(x[start:], (nr, ns), (ns * step, step))
    return grid


def size(nr: int, ns: int) -> int:
    """Length of the state of a model with ``nr`` regions and ``ns`` sectors."""
    return nr + 3 * nr * ns


def join(a, lP, lr, e) -> np.ndarray:
    """The state vector from its parts (the inverse of :func:`split`)."""
    return np.concatenate([np.ravel(a), np.ravel(lP), np.ravel(lr), np.ravel(e)]).astype(float)


def initial(nr: int, ns: int) -> np.ndarray:
    """The benchmark: wages (or employment) 1, log prices 0, log rentals 0, absorption 1."""
    return join(np.ones(nr), np.zeros((nr, ns)), np.zeros((nr, ns)), np.ones((nr, ns)))

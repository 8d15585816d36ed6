"""Small dense linear algebra in compiled loops, shared by the kernels: the direct absorption
option and the Anderson mixing weights.  Loops rather than ``numpy.linalg``, whose LAPACK
wrappers take seconds to compile on every first run.  Also the options every kernel is
compiled with (:data:`CACHED`, :data:`SUMS`, :data:`LEAF`) and the decorator of the kernels
that only compiled code calls (:func:`inner`)."""

from __future__ import annotations

from numba import njit
from numba.core.registry import CPUDispatcher

from model.core import cache  # noqa: F401 (numba's cache check, before any kernel here)

#: options of every kernel: cached, and compiled without numba's wrapper for callers in C
#: (its first-class function objects, which nothing here uses: a tenth to a fifth of a second
#: of a first run's compiling for a kernel given the parameter or workspace tuples)
CACHED = {"cache": True, "no_cfunc_wrapper": True}

#: LLVM may reorder sums and fuse multiply-adds in the loops over flows (so that they run on
#: vector units); no other fast-math assumption: infinities and NaN keep their meaning
SUMS = {"reassoc", "contract"}
#: options of a kernel that allocates no array and returns none: compiled without numba's
#: reference counts (its private ``_nrt`` option), so that it counts no reference to each
#: array it is given or reads from a tuple, in and out (two atomic operations per array: with
#: them, a third of an iteration's time at 2 x 13)
LEAF = {"_nrt": False}


class CompiledCallersOnly(CPUDispatcher):
    """A kernel compiled for compiled callers only (:func:`inner`)."""

    def __call__(self, *args, **kwargs):
        name = self.py_func.__qualname__
        raise TypeError(f"{self.py_func.__module__}.{name} is compiled for compiled callers "
                        f"only: from Python, call {name}.py_func (the plain function) or a "
                        "compiled function that calls it")


def inner(**options):
    """The decorator of a kernel that only compiled code calls: ``njit`` with :data:`CACHED`
    and ``options``, and without numba's wrapper for callers in Python either.  That wrapper
    converts each argument from Python; for a kernel given the parameter and workspace tuples
    (dozens of arrays) it is about half a second of a first run's compiling, and numba
    compiles it for every kernel.  A call from Python raises TypeError (numba would call the
    missing wrapper at address 0: a crash); ``compile`` works as for any kernel."""
    def decorate(function):
        dispatcher = njit(**CACHED, no_cpython_wrapper=True, **options)(function)
        if isinstance(dispatcher, CPUDispatcher):  # not the plain function (NUMBA_DISABLE_JIT)
            dispatcher.__class__ = CompiledCallersOnly
        return dispatcher
    return decorate


@njit(**CACHED, fastmath=SUMS, **LEAF)
def gauss_solve(mat, rhs):
    """Solve ``mat z = rhs`` in place (``rhs`` becomes ``z``, ``mat`` is overwritten) by
    Gaussian elimination with partial pivoting; False if a pivot is zero.  A dense
    elimination: it suits the small systems it serves (the Anderson weights, and the direct
    absorption option up to N x S of a few hundred)."""
    size = rhs.shape[0]
    for col in range(size):
        piv = col
        for r in range(col + 1, size):
            if abs(mat[r, col]) > abs(mat[piv, col]):
                piv = r
        if mat[piv, col] == 0.0:
            return False
        if piv != col:
            for c in range(size):
                mat[col, c], mat[piv, c] = mat[piv, c], mat[col, c]
            rhs[col], rhs[piv] = rhs[piv], rhs[col]
        for r in range(col + 1, size):
            factor = mat[r, col] / mat[col, col]
            for c in range(col, size):
                mat[r, c] -= factor * mat[col, c]
            rhs[r] -= factor * rhs[col]
    for r in range(size - 1, -1, -1):
        acc = rhs[r]
        for c in range(r + 1, size):
            acc -= mat[r, c] * rhs[c]
        rhs[r] = acc / mat[r, r]
    return True

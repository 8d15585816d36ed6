"""numba's cache of the compiled kernels, kept in step with all their sources.

Importing this module installs the check (:func:`install`), holds Ctrl-C while numba loads
one of the checked functions from its cache (:func:`hold_interrupts_while_loading`) and loads
numba's array functions (:func:`load_array_functions`); each module of :data:`SOURCES` imports
it before it defines its compiled functions.

numba checks a cached function against its own source file only: a function whose file is
unchanged keeps the compiled code of a function it calls from another file, even after that
file has changed (a limitation numba documents).  After an update of the package, a solve
could then run the old equations.  :func:`install` makes numba check every compiled function
of the package against a digest of all the files that hold compiled functions
(:data:`SOURCES`) as well: a change to any of them compiles them again, once.

Where ``NUMBA_CACHE_LOCATOR_CLASSES`` is set, numba uses the locators named there and only its
own checks apply (a warning says so).
"""

from __future__ import annotations

import hashlib
import sys
import warnings
from pathlib import Path

from model.interrupts import deferred_interrupt

#: the files of the package with compiled (numba) functions, relative to ``model/``
SOURCES = ("core/fixed_point.py", "core/kernels.py", "core/layout.py", "core/linalg.py",
           "core/markets.py", "core/outcomes.py", "core/params.py", "sweep/kernels.py")

_MODEL = Path(__file__).resolve().parents[1]


def digest(paths) -> str:
    """SHA-256 of the contents of ``paths`` (with their names), in the order given."""
    h = hashlib.sha256()
    for path in paths:
        path = Path(path)
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def install(files=None) -> bool:
    """Make numba's cache check the compiled functions defined in ``files`` (default: the
    package's :data:`SOURCES`) against the digest of :data:`SOURCES` and ``files`` together,
    besides their own file; to be called before those functions are defined (code outside the
    package that compiles calls to the package's kernels passes its own file).  Installing the
    same files again replaces the earlier check.  Returns False where only numba's own checks
    apply: ``NUMBA_CACHE_LOCATOR_CLASSES`` is set, this numba keeps its cache locators
    elsewhere, or the files cannot be read."""
    sources = [(_MODEL / s).resolve() for s in SOURCES]
    claimed = [Path(p).resolve() for p in files] if files else sources
    try:
        from numba.core import caching, config

        impl = caching.CacheImpl
        classes = list(impl._locator_classes)
    except (ImportError, AttributeError):
        return False
    if getattr(config, "CACHE_LOCATOR_CLASSES", None):
        warnings.warn("NUMBA_CACHE_LOCATOR_CLASSES is set: numba's cache is checked against "
                      "each compiled function's own file only, so after a change to one of "
                      "armington-cge's kernels its callers may keep the old code (clear the "
                      "cache: remove the __pycache__ folders or NUMBA_CACHE_DIR)",
                      stacklevel=2)
        return False
    try:
        stamp = digest(sorted(set(sources) | set(claimed)))
    except OSError:  # not plain files (a zipped package): numba's own checks
        return False
    claims = frozenset(str(p) for p in claimed)
    bases = [c for c in classes if getattr(c, "claims", None) is None]
    others = [c for c in classes if getattr(c, "claims", None) not in (None, claims)]
    impl._locator_classes = [_locator(base, claims, stamp) for base in bases
                             if hasattr(base, "from_function")
                             and hasattr(base, "get_source_stamp")] + others + bases
    return True


def _locator(base, claims: frozenset, stamp: str):
    """numba's cache locator ``base`` for the functions defined in the files ``claims`` only,
    with ``stamp`` added to the stamp of each function's own file."""

    class Locator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            try:
                ours = str(Path(py_file).resolve()) in claims
            except (OSError, TypeError, ValueError):
                ours = False
            return super().from_function(py_func, py_file) if ours else None

        def get_source_stamp(self):
            return super().get_source_stamp(), stamp

    Locator.claims = claims
    Locator.__name__ = Locator.__qualname__ = f"AllSources{base.__name__}"
    return Locator


def hold_interrupts_while_loading() -> bool:
    """Hold Ctrl-C while numba loads a function checked by :func:`install` from its cache, and
    raise it once the function is loaded.  numba reads the cached machine code in a callback
    from llvmlite; a KeyboardInterrupt raised there is dropped (Python cannot raise it out of
    a callback from C), the code is then missing, and numba writes the function's environment
    through the address 0 that LLVM gives for it: a segmentation fault.  A load takes a few
    milliseconds; compiling stays interruptible.  numba's other functions load as before.
    Returns False where this numba loads its cache otherwise (its internals have changed)."""
    try:
        from numba.core import caching

        load = caching.Cache._load_overload
    except (ImportError, AttributeError):
        return False
    if getattr(load, "holds_interrupts", False):
        return True

    def _load_overload(self, sig, target_context):
        locator = getattr(getattr(self, "_impl", None), "locator", None)
        if getattr(type(locator), "claims", None) is None:  # not a checked function
            return load(self, sig, target_context)
        with deferred_interrupt():
            return load(self, sig, target_context)

    _load_overload.holds_interrupts = True
    caching.Cache._load_overload = _load_overload
    return True


def load_array_functions() -> bool:
    """Load numba's array functions (``numba.np.arraymath``) without their probe for scipy's
    BLAS: numba loads them before it compiles or loads any function from its cache, and the
    probe imports ``scipy.linalg`` (0.2-0.3 s of every run's start) only to choose the inner
    loop of ``np.correlate`` and ``np.convolve``, which no kernel calls.  The probe
    (``numba.np.linalg.ensure_blas``) is replaced by one that finds no BLAS while they load,
    then restored: other threads that import scipy meanwhile are not affected.  Functions that
    use a BLAS (``np.dot``, ``np.linalg``) still find it: each calls the probe when compiled.
    What the probe found is kept for the whole process: ``np.correlate`` and ``np.convolve``,
    if a function compiled in it calls them, use numba's own loop rather than the BLAS.
    Nothing is done where numba has loaded them already or ``scipy.linalg`` is loaded (the
    probe then costs nothing); returns whether they were loaded here."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return False
    import numba.np.linalg as linalg

    probe = linalg.ensure_blas

    def no_blas():
        raise ImportError("no BLAS for numba's array functions (model.core.cache)")

    linalg.ensure_blas = no_blas
    try:
        import numba.np.arraymath as arraymath
    except ImportError:
        return False
    finally:
        linalg.ensure_blas = probe
    arraymath.ensure_blas = probe  # the name it took from numba.np.linalg at its import
    return True


#: whether the check is installed (done once, when a module with compiled functions is first
#: imported)
INSTALLED = install()
hold_interrupts_while_loading()
load_array_functions()

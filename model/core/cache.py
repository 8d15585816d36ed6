"""numba's cache of the compiled kernels, kept in step with all their sources.

numba checks a cached function against its own source file only: a function whose file is
unchanged keeps the compiled code of a function it calls from another file, even after that
file has changed (a limitation numba documents).  After an update of the package, a solve
could then run the old equations.  :func:`install` makes numba check every compiled function
of the package against a digest of all the files that hold compiled functions
(:data:`SOURCES`) as well: a change to any of them compiles them again, once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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


def install(paths=None) -> bool:
    """Make numba's cache check the compiled functions of ``paths`` (default: the package's
    :data:`SOURCES`) against the digest of all of them, besides their own file; before those
    functions are defined.  Returns False (numba's own checks only) where this numba keeps its
    cache locators elsewhere or the files cannot be read."""
    paths = [Path(p).resolve() for p in (paths or [_MODEL / s for s in SOURCES])]
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # older numba
        bases = list(impl._locator_classes)
    except (ImportError, AttributeError):
        return False
    try:
        stamp = digest(paths)
    except OSError:  # not plain files (a zipped package): numba's own checks
        return False
    files = {str(p) for p in paths}
    wrapped = [_locator(base, files, stamp) for base in bases
               if hasattr(base, "from_function") and hasattr(base, "get_source_stamp")]
    impl._locator_classes = wrapped + bases
    return True


def _locator(base, files: set[str], stamp: str):
    """numba's cache locator ``base`` for the functions of ``files`` only, with ``stamp``
    added to the stamp of each function's own file."""

    class Locator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            try:
                ours = str(Path(py_file).resolve()) in files
            except (OSError, TypeError, ValueError):
                ours = False
            return super().from_function(py_func, py_file) if ours else None

        def get_source_stamp(self):
            return super().get_source_stamp(), stamp

    Locator.__name__ = Locator.__qualname__ = f"AllSources{base.__name__}"
    return Locator

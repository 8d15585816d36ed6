"""numba's cache of the compiled kernels follows every file they are compiled from
(model.core.cache)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from model.core.cache import SOURCES, digest

ROOT = Path(__file__).resolve().parents[1]

CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef g():\n    return {value}\n"
CALLER = ("from numba import njit\n\nfrom callee import g\n\n\n@njit(cache=True)\n"
          "def f():\n    return g() + 0.5\n")
RUN = ("import sys\n"
       "sys.path.insert(0, sys.argv[1])\n"
       "from pathlib import Path\n"
       "from model.core.cache import install\n"
       "folder = Path(sys.argv[1])\n"
       "install([folder / 'callee.py', folder / 'caller.py'])\n"
       "import caller\n"
       "print(caller.f(), len(caller.f.stats.cache_misses))\n")


def _run(folder: Path, cache: Path) -> tuple[float, int]:
    done = subprocess.run([sys.executable, "-c", RUN, str(folder)], cwd=ROOT,
                          env={**_env(), "NUMBA_CACHE_DIR": str(cache)},
                          capture_output=True, text=True, check=True)
    value, misses = done.stdout.split()
    return float(value), int(misses)


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_LOCATOR_CLASSES"}


def test_a_cached_function_is_compiled_again_when_a_function_it_calls_changes(tmp_path):
    """numba alone would keep the cached ``f`` (its file unchanged) with the old ``g`` compiled
    into it; checked against the digest of both files, ``f`` is compiled again."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "callee.py").write_text(CALLEE.format(value="1.0"), encoding="utf-8")
    (code / "caller.py").write_text(CALLER, encoding="utf-8")
    cache = tmp_path / "cache"
    assert _run(code, cache) == (1.5, 1)  # compiled, then cached
    assert _run(code, cache) == (1.5, 0)  # from the cache
    (code / "callee.py").write_text(CALLEE.format(value="2.0"), encoding="utf-8")
    assert _run(code, cache) == (2.5, 1)  # compiled again
    assert _run(code, cache) == (2.5, 0)  # and cached again


def test_every_file_with_compiled_functions_is_followed(tmp_path):
    """:data:`model.core.cache.SOURCES` lists every file of the package that defines a numba
    function; code outside it that compiles calls to the kernels (a benchmark) installs the
    check for its own file; the package's functions are cached by the check's locators; and
    the digest changes with a byte of any of the files."""
    def compiles(p):
        return "njit" in p.read_text(encoding="utf-8")

    compiled = {p.relative_to(ROOT / "model").as_posix()
                for p in (ROOT / "model").rglob("*.py") if compiles(p) and p.name != "cache.py"}
    assert compiled == set(SOURCES)
    assert not any(compiles(p) for p in (ROOT / "calibration").rglob("*.py"))
    outside = [p for p in (ROOT / "benchmarks").rglob("*.py") if compiles(p)]
    assert outside and all("install([__file__])" in p.read_text(encoding="utf-8")
                           for p in outside)
    from benchmarks import newton_wages
    from model.core import fixed_point
    from model.sweep import kernels

    for function in (fixed_point.solve_with_retries, kernels.solve_draws, newton_wages._inner):
        assert type(function._cache._impl.locator).__name__.startswith("AllSources")
    files = [tmp_path / s.replace("/", "_") for s in SOURCES]
    for f, s in zip(files, SOURCES):
        f.write_bytes((ROOT / "model" / s).read_bytes())
    before = digest(files)
    for f in files:
        text = f.read_bytes()
        f.write_bytes(text[:-1] + b"\t")
        assert digest(files) != before, f
        f.write_bytes(text)
    assert digest(files) == before


def test_installing_again_replaces_the_check(tmp_path):
    """A second install of the same files replaces the first (numba's list of locators does
    not grow); one of other files is added beside it."""
    from numba.core import caching

    from model.core.cache import install

    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n", encoding="utf-8")
    b.write_text("y = 1\n", encoding="utf-8")
    original = list(caching.CacheImpl._locator_classes)
    try:
        assert install([a])
        once = len(caching.CacheImpl._locator_classes)
        assert install([a])
        assert len(caching.CacheImpl._locator_classes) == once
        assert install([b])
        assert len(caching.CacheImpl._locator_classes) > once
    finally:
        caching.CacheImpl._locator_classes = original


PROBE = ("import sys\n"
         "import numpy as np\n"
         "import model.core\n"
         "from numba import njit\n"
         "from model.core.linalg import gauss_solve\n"
         "assert gauss_solve(np.eye(2), np.ones(2))\n"  # numba's array functions loaded
         "loaded = 'numba.np.arraymath' in sys.modules\n"
         "before = 'scipy.linalg' in sys.modules\n"
         "import numba.np.arraymath as am, numba.np.linalg as la\n"
         "restored = am.ensure_blas is la.ensure_blas and la.ensure_blas.__name__ == 'ensure_blas'\n"
         "dot = njit(lambda a, b: np.dot(a, b))(np.ones(3), np.ones(3))\n"
         "print(loaded, before, restored, dot, 'scipy.linalg' in sys.modules)\n")


def test_a_kernel_loads_without_scipy_linalg_and_np_dot_still_finds_a_blas(tmp_path):
    """numba's first load of its array functions probes for scipy's BLAS, importing
    ``scipy.linalg``; the package loads them without that probe (no kernel uses a BLAS), puts
    the probe back, and a function that does use one (``np.dot``) still compiles and finds it."""
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT,
                          env={**_env(), "NUMBA_CACHE_DIR": str(tmp_path)},
                          capture_output=True, text=True, check=True)
    loaded, before, restored, dot, after = done.stdout.split()
    assert (loaded, before, restored, float(dot), after) == ("True", "False", "True", 3.0, "True")


FIRST = ("import sys, importlib\n"
         "module = importlib.import_module(sys.argv[1])\n"
         "from numba.core.registry import CPUDispatcher\n"
         "kernels = [f for f in vars(module).values() if isinstance(f, CPUDispatcher)\n"
         "           and f.py_func.__module__ == module.__name__ and f._cache._impl]\n"
         "print(len(kernels), all(type(f._cache._impl.locator).__name__.startswith('AllSources')\n"
         "                       for f in kernels))\n")


def test_each_file_with_compiled_functions_installs_the_check_before_defining_them():
    """Imported first, on its own (the package itself loads nothing), each file of
    :data:`~model.core.cache.SOURCES` has every compiled function it defines cached under the
    check: it imports :mod:`model.core.cache` before defining them."""
    for source in SOURCES:
        name = "model." + source.removesuffix(".py").replace("/", ".")
        done = subprocess.run([sys.executable, "-c", FIRST, name], cwd=ROOT, env=_env(),
                              capture_output=True, text=True, check=True)
        count, checked = done.stdout.split()
        assert int(count) > 0 and checked == "True", (source, done.stdout)


def test_the_figures_child_loads_no_compiled_code():
    """What the child that draws a run's figures loads (the catalogue's labels, the figure
    code, matplotlib) imports neither numba nor a module of the solver: a second of a run's
    start on the other core."""
    from model.output.drawer import PRELOAD

    code = ("import importlib, sys\n"
            f"for name in {PRELOAD!r}:\n"
            "    importlib.import_module(name)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba'\n"
            "             or m.startswith(('model.core.solver', 'model.core.kernels',\n"
            "                              'model.sweep.runner'))))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


KERNEL = "from numba import njit\n\n\n@njit(cache=True)\ndef h(x):\n    return x + 1.0\n"


def _fresh(path: Path, name: str):
    """The module at ``path`` imported anew as ``name``: its function a new dispatcher, which
    loads from the cache what an earlier import compiled."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.h


def _interrupted_load(path: Path) -> list:
    """Load ``h`` of ``path`` from the cache with a Ctrl-C (SIGINT) coming where numba rebuilds
    the cached code (where llvmlite calls Python back to read it); returns what the rebuild
    returned, empty where the interrupt stopped it."""
    from numba.core import types

    assert _fresh(path, f"{path.stem}_first")(1.0) == 2.0  # compiled, into the cache
    h = _fresh(path, f"{path.stem}_again")
    impl = h._cache._impl
    rebuild, done = impl.rebuild, []

    def rebuild_interrupted(target_context, payload):
        signal.raise_signal(signal.SIGINT)
        done.append(rebuild(target_context, payload))
        return done[-1]

    impl.rebuild = rebuild_interrupted
    with pytest.raises(KeyboardInterrupt):
        h.compile((types.float64,))
    del impl.rebuild
    assert h(1.0) == 2.0 and h.stats.cache_hits  # loaded from the cache, whole
    return done


def test_ctrl_c_waits_while_a_checked_function_loads_from_the_cache(tmp_path):
    """A Ctrl-C that comes while numba loads a function the check follows is raised once the
    function is loaded, not inside the load (where it would land in llvmlite's callback that
    reads the machine code, be dropped, and numba would write through the address 0 of the
    code it did not get: a crash); a function of a file the check does not follow loads as
    numba loads it, stopped by the Ctrl-C."""
    from numba.core import caching

    from model.core.cache import hold_interrupts_while_loading, install

    held, free = tmp_path / "held.py", tmp_path / "free.py"
    for path in (held, free):
        path.write_text(KERNEL, encoding="utf-8")
    original = list(caching.CacheImpl._locator_classes)
    try:
        assert install([held]) and hold_interrupts_while_loading()  # installed once: True
        assert len(_interrupted_load(held)) == 1
        assert _interrupted_load(free) == []
    finally:
        caching.CacheImpl._locator_classes = original

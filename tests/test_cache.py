"""numba's cache of the compiled kernels follows every file they are compiled from
(model.core.cache)."""

import os
import subprocess
import sys
from pathlib import Path

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


def test_every_file_with_compiled_functions_is_followed():
    """:data:`model.core.cache.SOURCES` lists every file of the package that defines a numba
    function, and the digest changes with any of them."""
    compiled = {p.relative_to(ROOT / "model").as_posix()
                for p in (ROOT / "model").rglob("*.py")
                if "njit" in p.read_text(encoding="utf-8") and p.name != "cache.py"}
    assert compiled == set(SOURCES)
    assert not any("njit" in p.read_text(encoding="utf-8")
                   for p in (ROOT / "calibration").rglob("*.py"))
    files = [ROOT / "model" / s for s in SOURCES]
    assert digest(files) != digest(files[:-1])

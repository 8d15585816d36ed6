"""The model's core: policy and settings, the state layout, the compiled equations and their
NumPy twins, the solver, outcomes, targets and the welfare decomposition (no I/O)."""

from model.core.cache import install as _install_cache_check
from model.core.cache import load_array_functions as _load_array_functions

_install_cache_check()  # before any compiled function is defined: see model.core.cache
_load_array_functions()

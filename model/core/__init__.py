"""The model's core: policy and settings, the state layout, the compiled equations and their
NumPy twins, the solver, outcomes, targets and the welfare decomposition (no I/O)."""

from model.core.cache import install as _install_cache_check

_install_cache_check()  # before any compiled function is defined: see model.core.cache

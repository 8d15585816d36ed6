"""The model's core: policy and settings, the state layout, the compiled equations and their
NumPy twins, the solver, outcomes, targets and the welfare decomposition (no I/O).

Importing the package loads nothing: each module with compiled functions installs numba's
cache check (:mod:`model.core.cache`) before it defines them, and a process that only reads the
catalogue (the child that draws a run's figures) never loads numba."""

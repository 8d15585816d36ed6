"""The model's core: policy and settings, the state layout, the compiled equations and their
NumPy twins, the solver, outcomes, targets and the welfare decomposition (no I/O)."""

"""Solver benchmarks; run ``python -m benchmarks``."""

"""Solver benchmarks: ``python -m benchmarks [--repeat N]``.

Prints, for a 2-region x 13-sector problem with input-output links (the size of the US-Japan
model): the median warm solve time of the numba fixed point (Anderson-accelerated and plain),
the same equations solved by ``scipy.optimize.root`` (``hybr``) as the baseline measured in the
same run, and the ratio; then the cold start (a fresh process, numba cache on disk) and the
wall time of ``python -m model.run scenarios/example.toml``.  Times on a shared machine are
noisy: compare ratios, not absolute figures across machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.optimize import root

from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import equations
from model.params import SolverSettings, make_policy
from model.solver import initial_state, kernel_params, solve

ROOT = Path(__file__).resolve().parents[1]


def problem(n_regions=2, n_sectors=13, seed=0):
    """The benchmark problem: a seeded synthetic dataset and a 25-point tariff shock."""
    bm = calibrate(random_dataset(n_regions, n_sectors, seed=seed))
    t1 = bm.t0.copy()
    t1[1, 0, :] += 0.25
    return bm, make_policy(bm, t1=t1)


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scipy_solve(bm, pol):
    """The same fixed point, ``G(x) - x = 0``, by MINPACK's hybrid method on the NumPy twin."""
    p = kernel_params(bm, pol)
    x0 = initial_state(bm)

    def residual(x):
        return equations.fixed_point_map(x, p, 1.0)[0] - x

    sol = root(residual, x0, method="hybr", options={"xtol": 1e-12})
    return sol.x, sol.nfev


def wall(cmd: list[str], env=None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
    return time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=300, help="solves per timing (median)")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}")
    bm, pol = problem()
    fast = SolverSettings()
    plain = SolverSettings(acceleration="none")
    sol = solve(bm, pol, fast)  # compile or load from cache
    solve(bm, pol, plain)
    x_scipy, nfev = scipy_solve(bm, pol)
    gap = np.abs(x_scipy[:2] - sol.w_hat).max()
    t_fast = median_time(lambda: solve(bm, pol, fast), args.repeat)
    t_plain = median_time(lambda: solve(bm, pol, plain), args.repeat)
    t_scipy = median_time(lambda: scipy_solve(bm, pol), max(args.repeat // 10, 5))
    print("\n2 regions x 13 sectors, input-output links, 25-point tariff shock")
    print(f"{'method':<34}{'median ms':>11}{'iterations':>12}{'vs scipy':>10}")
    rows = [("numba fixed point + Anderson", t_fast, sol.iterations),
            ("numba fixed point, plain", t_plain, solve(bm, pol, plain).iterations),
            ("scipy.optimize.root hybr (NumPy)", t_scipy, nfev)]
    for name, t, it in rows:
        print(f"{name:<34}{t * 1e3:>11.3f}{it:>12}{t_scipy / t:>9.1f}x")
    print(f"largest wage difference numba vs scipy: {gap:.1e}")
    print(f"target: under 1 ms warm -> {'met' if t_fast < 1e-3 else 'MISSED'}")

    env = dict(os.environ)
    code = ("from benchmarks.__main__ import problem; from model.solver import solve; "
            "bm, pol = problem(); solve(bm, pol)")
    cold = wall([sys.executable, "-c", code], env)
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "results.nc")
        cmd = [sys.executable, "-m", "model.run", "scenarios/example.toml", "--out", out, "--quiet"]
        wall(cmd, env)  # warm the numba cache
        runs = [wall(cmd, env) for _ in range(3)]
    print(f"\nfresh process, import + first solve (numba cache warm): {cold:.2f} s")
    print(f"python -m model.run scenarios/example.toml (warm cache, median of 3): "
          f"{statistics.median(runs):.2f} s; target under 5 s -> "
          f"{'met' if statistics.median(runs) < 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measurements in fresh processes: the cold start (first solve of a new process, with the
numba cache on disk or with an empty one) and the peak resident memory of a large solve."""

from __future__ import annotations

import os
import statistics
import tempfile
from pathlib import Path

from benchmarks.timing import run_python

_COLD = """
import json, time
t0 = time.perf_counter()
from benchmarks.problems import tariff_problem
from model.core.solver import solve
t1 = time.perf_counter()
problem = tariff_problem(2, 13)
t2 = time.perf_counter()
solve(problem.bm, problem.policy)
t3 = time.perf_counter()
solve(problem.bm, problem.policy)
t4 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "problem_s": t2 - t1, "first_solve_s": t3 - t2,
                  "second_solve_s": t4 - t3}))
"""

_MEMORY = """
import json, os, sys
from benchmarks.methods import METHODS
from benchmarks.problems import tariff_problem

def rss_now():
    try:
        import psutil
        return psutil.Process().memory_info().rss
    except ImportError:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def rss_peak():
    if sys.platform == "win32":
        import psutil
        return psutil.Process().memory_info().peak_wset
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024

method = {m.key: m for m in METHODS}[%(method)r]
method.run(tariff_problem(2, 13))  # load the compiled code first
problem = tariff_problem(%(nr)d, %(ns)d)
before, peak_before = rss_now(), rss_peak()
outcome = method.run(problem)
peak = rss_peak()
print(json.dumps({"rss_before_solve_mib": before / 2**20, "peak_rss_mib": peak / 2**20,
                  "solve_raised_peak_by_mib": max(peak - peak_before, 0) / 2**20,
                  "converged": outcome.converged}))
"""


def cold_start(empty_cache: bool, repeat: int = 3) -> dict:
    """Import, build the 2x13 problem and solve it twice in a new Python process; medians of
    ``repeat`` processes.

    With ``empty_cache`` the numba cache goes to a new temporary folder, so the first solve
    compiles every kernel (the true cold start; one process); otherwise the project's cache
    is used, as after a first run (``cache=True``)."""
    env = dict(os.environ)
    if empty_cache:
        with tempfile.TemporaryDirectory() as cache:
            env["NUMBA_CACHE_DIR"] = cache
            return run_python(_COLD, env)
    runs = [run_python(_COLD, env) for _ in range(repeat)]
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def peak_memory(n_regions: int, n_sectors: int, method: str = "anderson",
                timeout: float = 600) -> dict:
    """Peak resident memory of a new process that solves one ``n_regions x n_sectors``
    problem with ``method`` (a key of ``benchmarks.methods.METHODS``); its resident memory
    just before the solve (imports, compiled code and the calibrated problem); and how much
    the solve raised the peak (0 when it stayed below the peak reached while loading)."""
    code = _MEMORY % {"method": method, "nr": n_regions, "ns": n_sectors}
    return run_python(code, dict(os.environ), timeout=timeout)


def example_run(repeat: int = 1) -> dict:
    """Wall time of ``python -m model.run scenarios/example.toml`` (a fresh process: start-up,
    every scenario of the example, results file, report and figures), after one untimed run
    that fills the numba cache; the median of ``repeat`` runs."""
    import subprocess
    import sys
    import time

    from benchmarks.timing import ROOT

    times = []
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "model.run", "scenarios/example.toml", "--out",
               str(Path(tmp) / "results.nc"), "--quiet"]
        for k in range(repeat + 1):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, timeout=600)
            if k > 0:
                times.append(time.perf_counter() - start)
    return {"wall_s": statistics.median(times), "runs": repeat}

"""Sweep benchmarks: ``python -m benchmarks.sweep [--draws N] [--python-draws N]
[--searched-draws N] [--memory]``.

Prints, for 2 regions x 13 sectors with input-output links:

1. draws per second of the compiled per-draw solve (warm-started from the central solution,
   outcomes included) on the seeded synthetic problem of ``python -m benchmarks`` (25-point
   tariff shock, all elasticities scaled by one uniform(0.75, 1.25) multiplier), with all
   cores and with one thread;
2. the same draws solved one by one from Python (``model.core.solver.solve`` with the same
   warm start, then ``model.core.outcomes.outcomes``), extrapolated from ``--python-draws`` of them, and
   the ratio; the largest welfare difference between the two;
3. the wall time of a complete 10,000-draw sweep (``model.sweep.run_sweep``: central solve,
   chunk files, assembly of ``sweep.nc``, statistics) on the US-Japan 2024 dataset, and of the
   same through ``python -m model.run`` in a fresh process (start-up, central run, reports);
4. ``--searched-draws`` draws of a searched scenario (the main job's ``purchases``: a
   preference shift that zeroes Japan's balance with the US, with a rice quota, on the
   five-region 2024 data), solved as a sweep solves them (each draw its own search, from the
   central solution) one after another, on threads and on processes
   (:func:`model.processes.on_processes`): ms per draw, min/median/max over three rounds, and
   the ratio to one after another in the same round;
5. with ``--memory``: the peak resident memory of fresh processes running 100,000 and
   1,000,000-draw sweeps (takes a few minutes).

Times on a shared machine are noisy: compare ratios, not absolute figures across machines.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from benchmarks.timing import ROOT, count, spread
from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
from model import sweep as sw
from model.sweep.runner import chunk_cases, prepare_scenario, solve_chunk
from model.core.outcomes import outcomes
from model.core.settings import SolverSettings
from model.core.policy import make_policy
from model.core.solver import solve
from model.study import prepare

SIGMA = {"name": "sigma", "sectors": "all", "distribution": "uniform", "low": 0.75,
         "high": 1.25}
SCENARIO = """title = "Sweep benchmark: US tariff on Japan, uncertain elasticities"
data = "{data}"

[scenarios.us_tariff]
[[scenarios.us_tariff.tariffs]]
importer = "USA"
exporter = "JPN"
sectors = "all"
except = ["services"]
add = 0.25

[sweep]
method = "monte_carlo"
draws = {draws}
seed = 1
chunk_size = {chunk}
[[sweep.parameters]]
name = "sigma"
sectors = "all"
distribution = "uniform"
low = 0.75
high = 1.25
"""


def problem(draws: int):
    """The synthetic 2 x 13 problem with input-output links and its sweep."""
    bm = calibrate(random_dataset(2, 13, seed=0))
    t1 = bm.t0.copy()
    t1[1, 0, :] += 0.25
    pol = make_policy(bm, t1=t1)
    spec = sw.parse_sweep({"method": "monte_carlo", "draws": draws, "seed": 1,
                           "parameters": [SIGMA]}, "benchmark", bm)
    return bm, pol, spec


def kernel_time(static, spec) -> tuple[float, dict]:
    """Wall time of solving every draw in compiled code, chunk by chunk (no disk)."""
    start = time.perf_counter()
    first = None
    for a in range(0, spec.n_draws, spec.chunk_size):
        point, scales = chunk_cases(spec, a, min(a + spec.chunk_size, spec.n_draws))
        out = solve_chunk(static, point, scales)
        first = first or out
    return time.perf_counter() - start, first


def python_time(bm, pol, spec, static, count: int) -> tuple[float, np.ndarray]:
    """Seconds per draw solving one by one from Python, and the welfare of those draws."""
    settings = SolverSettings()
    scales = sw.sigma_scales(spec, sw.draw_values(spec, 0, count))
    x0 = static.x0s[0]
    welfare = np.empty((count, len(bm.regions)))
    start = time.perf_counter()
    for d in range(count):
        sol = solve(bm, pol, settings, x0=x0, sigma=bm.sigma * scales[d])
        welfare[d] = outcomes(bm, pol, sol)["welfare"]
    return (time.perf_counter() - start) / count, welfare


def scenario_file(folder: Path, draws: int, chunk: int = 2500) -> Path:
    path = folder / f"sweep_{draws}.toml"
    path.write_text(SCENARIO.format(data=(ROOT / "data" / "jpn_usa_2024").as_posix(),
                                    draws=draws, chunk=chunk), encoding="utf-8")
    return path


def peak_rss_mb(toml: Path, out: Path) -> tuple[float, float]:
    """Run a sweep in a fresh process; returns (peak resident MB, wall seconds)."""
    code = ("import resource, sys; from model.study import prepare; "
            "from model.sweep import parse_sweep, run_sweep; "
            f"st = prepare({str(toml)!r}); "
            "spec = parse_sweep(st.file.sweep, st.file.path, st.benchmark); "
            f"run_sweep(st, spec, {str(out)!r}); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                          capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - start


def searched(draws: int, rounds: int = 3) -> None:
    """Print ms per draw of the main job's ``purchases`` draws one after another, on threads
    and on processes (min/median/max over ``rounds``), and each round's ratio to one after
    another."""
    import model.sweep.runner as runner
    from model.processes import on_processes
    from model.threads import on_threads

    study = prepare(ROOT / "scenarios" / "kiuchi.toml", compare=False)
    spec = sw.parse_sweep(study.file.sweep, study.file.path, study.benchmark)
    prepared = next(p for p in study.scenarios if p.name == "purchases")
    static, _ = prepare_scenario(spec, study.benchmark, prepared.policy, study.file.solver,
                                 search=prepared.search)
    point, scales = chunk_cases(spec, 0, draws)
    ways = {"one after another": lambda work, parts: [work(*a) for a in parts],
            "threads": on_threads, "processes": on_processes}
    times = {name: [] for name in ways}
    original = runner.on_processes
    try:
        for _ in range(rounds):
            for name, way in ways.items():
                runner.on_processes = way
                start = time.perf_counter()
                solve_chunk(static, point, scales)
                times[name].append(1e3 * (time.perf_counter() - start) / draws)
    finally:
        runner.on_processes = original
    base = times["one after another"]
    nr, ns = study.benchmark.shape
    print(f"\nsearched draws (kiuchi.toml, purchases: a target with a quota, {nr} x {ns}), "
          f"{draws} draws per round, {rounds} rounds; ms per draw min/median/max, ratio to "
          f"one after another (same round)")
    for name, ts in times.items():
        ratio = [t / b for t, b in zip(ts, base)]
        low, mid, high = spread(ts)
        print(f"  {name:<20}{low:7.2f}{mid:7.2f}{high:7.2f}   "
              f"ratio {'/'.join(f'{r:.2f}' for r in spread(ratio))}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep")
    parser.add_argument("--draws", type=count(), default=10_000)
    parser.add_argument("--python-draws", type=count(), default=500,
                        help="draws solved one by one from Python (the rate is extrapolated)")
    parser.add_argument("--searched-draws", type=count(0), default=60,
                        help="draws of a searched scenario per round (0: not measured)")
    parser.add_argument("--memory", action="store_true",
                        help="also measure peak memory of 100,000 and 1,000,000-draw sweeps")
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numba "
          f"{numba.__version__} ({numba.get_num_threads()} threads), Python "
          f"{platform.python_version()}, {platform.platform()}")

    bm, pol, spec = problem(args.draws)
    static, _ = prepare_scenario(spec, bm, pol, SolverSettings())
    point, scales = chunk_cases(spec, 0, 8)
    solve_chunk(static, point, scales)  # compile, or load the compiled kernel from cache
    t_all, out = kernel_time(static, spec)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    t_one, _ = kernel_time(static, spec)
    numba.set_num_threads(threads)
    per_py, welfare = python_time(bm, pol, spec, static, args.python_draws)
    gap = np.abs(out["region"][:args.python_draws, 0, :] - welfare).max()
    n = spec.n_draws
    print(f"\n2 regions x 13 sectors, input-output links, {n:,} draws of the elasticities")
    print(f"{'':<44}{'wall s':>9}{'draws/s':>11}{'ratio':>8}")
    print(f"{'compiled sweep kernel, ' + str(threads) + ' threads':<44}{t_all:>9.2f}"
          f"{n / t_all:>11,.0f}{per_py * n / t_all:>7.1f}x")
    print(f"{'compiled sweep kernel, 1 thread':<44}{t_one:>9.2f}{n / t_one:>11,.0f}"
          f"{per_py * n / t_one:>7.1f}x")
    print(f"{'one by one from Python (solve + outcomes)':<44}{per_py * n:>9.2f}"
          f"{1 / per_py:>11,.0f}{1.0:>7.1f}x   (from {args.python_draws} draws)")
    print(f"mean iterations per draw {out['iterations'].mean():.1f}; largest welfare "
          f"difference kernel vs Python {gap:.1e} percentage points")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        toml = scenario_file(tmp, 10_000)
        study = prepare(toml)
        spec10 = sw.parse_sweep(study.file.sweep, study.file.path, study.benchmark)
        sw.run_sweep(study, spec10, tmp / "warm" / "sweep.nc")  # load the kernels
        start = time.perf_counter()
        run = sw.run_sweep(study, spec10, tmp / "sweep" / "sweep.nc")
        wall = time.perf_counter() - start
        size = run.path.stat().st_size / 1e6
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "model.run", str(toml), "--out",
                        str(tmp / "cli" / "results.nc"), "--quiet"], cwd=ROOT, check=True)
        cli = time.perf_counter() - start
        print(f"\nUS-Japan 2024 (2 x 13, input-output links), 10,000 draws, complete sweep "
              f"(central solve, chunk files, sweep.nc of {size:.1f} MB, statistics): "
              f"{wall:.2f} s, {10_000 / wall:,.0f} draws/s; failed draws "
              f"{sum(run.failed.values())}")
        print(f"python -m model.run on it in a fresh process (start-up, central run, reports, "
              f"sweep, report): {cli:.2f} s; targets: the sweep under 5 s -> "
              f"{'met' if wall < 5 else 'MISSED'}, the whole command under 2.5 s -> "
              f"{'met' if cli < 2.5 else 'MISSED'}")
        if args.searched_draws > 0:
            searched(args.searched_draws)
        if args.memory:
            print("\npeak resident memory of a fresh process running the sweep:")
            for draws in (100_000, 1_000_000):
                rss, secs = peak_rss_mb(scenario_file(tmp, draws, 10_000),
                                        tmp / f"m{draws}" / "sweep.nc")
                print(f"  {draws:>9,} draws: {rss:7.0f} MB peak, {secs:6.0f} s "
                      f"({draws / secs:,.0f} draws/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

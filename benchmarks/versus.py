"""Solve time of this tree against an earlier revision of the project, measured in the same run:
``python -m benchmarks.versus REV [--sizes 2x13,31x40,60x65] [--rounds 3] [--budget 2]``.

The revision (anything ``git rev-parse`` accepts) is exported with ``git archive`` into a
temporary folder.  Each round starts one fresh process per tree, alternating, and each process
solves the seeded tariff problem of every size (``calibration.synthetic.random_dataset(N, S,
seed=0)``, region 1 raising its tariffs on every partner by 25 points) once untimed (compiling
it, or loading it from the numba cache) and then repeatedly for ``--budget`` seconds.  Printed
per size: min/median/max milliseconds per solve of each tree, the iterations, and the ratio
this tree / revision as min/median/max over the rounds' medians, so that a change of load on
a shared machine hits both alike.  The first round compiles the revision's kernels (tens of
seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.timing import count, seconds

ROOT = Path(__file__).resolve().parents[1]

#: run in each tree (its folder first on the path; the package layout before and after
#: ``model.core`` both work)
_TIMING = """
import json, os, sys, time
sys.path.insert(0, os.getcwd())
from calibration.calibrate import calibrate
from calibration.synthetic import random_dataset
if os.path.isdir("model/core"):
    from model.core.policy import make_policy
    from model.core.solver import solve
else:
    from model.params import make_policy
    from model.solver import solve
import model
assert model.__file__.startswith(os.getcwd()), model.__file__
out = {}
for nr, ns in %(sizes)r:
    bm = calibrate(random_dataset(nr, ns, seed=0))
    t1 = bm.t0.copy()
    for i in range(nr):
        if i != 1:
            t1[1, i, :] += 0.25
    pol = make_policy(bm, t1=t1)
    sol = solve(bm, pol)
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < %(budget)r or len(times) < 3:
        t = time.perf_counter()
        sol = solve(bm, pol)
        times.append(time.perf_counter() - t)
    out["%%dx%%d" %% (nr, ns)] = {"times": times, "iterations": int(sol.iterations)}
print(json.dumps(out))
"""


def export(rev: str, folder: Path) -> Path:
    """The files of revision ``rev`` in ``folder`` (``git archive``)."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def timings(tree: Path, sizes: list[tuple[int, int]], budget: float) -> dict:
    code = _TIMING % {"sizes": sizes, "budget": budget}
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True,
                          text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"timing in {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.versus")
    parser.add_argument("rev", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--sizes", default="2x13,31x40,60x65",
                        help="comma-separated REGIONSxSECTORS")
    parser.add_argument("--rounds", type=count(), default=3)
    parser.add_argument("--budget", type=seconds, default=2.0,
                        help="seconds of repeated solves per size, tree and round")
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    runs = {"this tree": [], args.rev: []}
    with tempfile.TemporaryDirectory() as tmp:
        old = export(args.rev, Path(tmp))
        for _ in range(args.rounds):
            runs[args.rev].append(timings(old, sizes, args.budget))
            runs["this tree"].append(timings(ROOT, sizes, args.budget))
    print(f"solve time, this tree against {args.rev} ({args.rounds} rounds, fresh processes "
          f"alternating; ms per solve min/median/max)")
    for nr, ns in sizes:
        key = f"{nr}x{ns}"
        cells = []
        for tree, rounds in runs.items():
            times = [t * 1e3 for r in rounds for t in r[key]["times"]]
            cells.append(f"{tree}: {min(times):.3g}/{statistics.median(times):.3g}/"
                         f"{max(times):.3g} ({rounds[-1][key]['iterations']} it.)")
        ratios = [statistics.median(a[key]["times"]) / statistics.median(b[key]["times"])
                  for a, b in zip(runs["this tree"], runs[args.rev])]
        print(f"  {key}: " + "; ".join(cells) + f"; ratio {min(ratios):.3f}/"
              f"{statistics.median(ratios):.3f}/{max(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

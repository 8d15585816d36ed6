"""The main job, ``python -m model.run scenarios/kiuchi.toml``, timed in fresh processes (with
``--quiet``: no tables or progress bar printed):
``python -m benchmarks.main_job [--repeat 5] [--file FILE] [--cold [N]] [--json PATH]``.

1. **Whole process**, numba cache on disk: wall time and CPU time (user + system, of the run
   and the children it waited for) of ``--repeat`` runs in fresh processes after one untimed
   run that fills the cache, as min/median/max.
2. **Where one run spends its time**: the same command once more, in a fresh process with
   timers around its phases: start-up (imports, reading and calibrating the data), the
   study's scenarios with those of the compared files (solved together), the sweep (central
   solves, draws by scenario, ``sweep.nc``), the other outputs, and the figures, drawn in a
   child process meanwhile (the study's while the sweep is solved, the sweep's once it is;
   the run waits for them at the end; where the child cannot draw them, the run does, and
   that time counts twice: under the figures and under the outputs).  A phase missing from
   the file (no sweep, no compared file) is left out.
3. With ``--cold [N]``, N runs (default 1), each with an empty numba cache (a first run
   after installation or an update of the code: every kernel compiled), as min/median/max;
   then one more, with each kernel compiled from Python, by the run or by the child that
   shares the compilation (:mod:`model.compiling`), when it started and ended, and when the
   first solve began: the first run's way to its first solve; and the earliest the first
   solve could come with that compiling, along its chain of kernels that call each other
   and shared perfectly over this machine's cores (:func:`compile_bound`).

Times on a shared machine are noisy: compare runs made one after another in the same session
(or use ``python -m benchmarks.versus`` for the solver alone).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.timing import ROOT, count, machine, spread
from model.compiling import RUN
from model.threads import cores

#: the main job
FILE = "scenarios/kiuchi.toml"

#: run in a fresh process by :func:`phases`: ``python -c _PHASES EVENTS FILE OUT``; each
#: timed call appends ``{"phase", "start", "end", "pid"}`` (seconds since the process
#: started) to EVENTS, from the run and from the child that draws the figures
_PHASES = r"""
import json, os, sys, time
T0 = time.perf_counter()
events, argv = sys.argv[1], sys.argv[2:]

def record(phase, start, end):
    line = json.dumps({"phase": phase, "start": start - T0, "end": end - T0,
                       "pid": os.getpid()}) + "\n"
    fd = os.open(events, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        os.write(fd, line.encode())  # unbuffered: the drawing child leaves by os._exit
    finally:
        os.close(fd)

def timer(module, name, phase):
    import importlib
    mod = importlib.import_module(module)
    inner = getattr(mod, name)  # an AttributeError here: the benchmark needs updating
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            label = phase(args, kwargs) if callable(phase) else phase
            record(label, start, time.perf_counter())
    setattr(mod, name, timed)

if os.environ.get("MAIN_JOB_COMPILES"):  # each kernel compiled, by process (a cold run)
    from numba.core import event

    class Compiles(event.Listener):  # the kernels compiled from Python, not inside others
        stack = []

        def on_start(self, ev):
            self.stack.append((ev.data["dispatcher"].py_func.__name__, time.perf_counter()))

        def on_end(self, ev):
            name, start = self.stack.pop()
            if not self.stack:
                record("compile " + name, start, time.perf_counter())

    event.register("numba:compile", Compiles())

from model.run import hide_dask_for, leave, main
hide_dask_for(argv)  # as python -m model.run does, before the timers load xarray
timer("model.cli", "solve_studies",
      lambda a, k: "study" if len(a[0]) == 1 else "study and compared files")
timer("model.sweep.runner", "prepare_scenario", "sweep: central solves")
timer("model.sweep.runner", "solve_chunk",
      lambda a, k: "sweep: draws, searched" if a[0].search is not None and (
          a[0].search.search is not None or a[0].search.policies[0].quotas is not None)
      else "sweep: draws")
timer("model.sweep.runner", "assemble", "sweep: sweep.nc")
timer("model.sweep.report", "write_sweep_figure", "sweep figure (drawn in a child)")
timer("model.cli", "write_outputs", "outputs (waiting for the figures at the end)")
timer("model.output.drawing", "write_figures", "figures (drawn in a child)")
code = main(argv, whole_process=True)
record("whole run", T0, time.perf_counter())
leave(code)
"""


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``python ARGV`` from the project root."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=1800)
    return time.perf_counter() - start, _cpu_of_children() - cpu


def whole(file: str, out: Path, repeat: int) -> dict:
    """Wall and CPU seconds of ``python -m model.run FILE`` (min/median/max over ``repeat``
    runs after an untimed one)."""
    argv = ["-m", "model.run", file, "--quiet", "--out", str(out / "results.nc")]
    _run(argv)
    walls, cpus = zip(*(_run(argv) for _ in range(repeat)))
    return {"wall_s": spread(list(walls)), "cpu_s": spread(list(cpus)), "runs": repeat,
            "walls_s": list(walls)}


def phases(file: str, out: Path) -> dict:
    """Seconds of each phase of one run (summed over calls; the figures' child separately)
    and the whole run, from :data:`_PHASES`."""
    events = out / "events.jsonl"
    _run(["-c", _PHASES, str(events), file, "--quiet", "--out", str(out / "results.nc")])
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    total = {}
    for row in rows:
        total[row["phase"]] = total.get(row["phase"], 0.0) + row["end"] - row["start"]
    run = next(r for r in rows if r["phase"] == "whole run")
    first = min((r["start"] for r in rows if r["pid"] == run["pid"]
                 and r["phase"] != "whole run"), default=run["end"])
    return {"start-up (imports, data)": first, **total}


def compiles(file: str, out: Path) -> dict:
    """One run with an empty numba cache, timed as :func:`phases` does, with each kernel
    compiled from Python (by the run or by the child that shares its compilation,
    :mod:`model.compiling`): ``{"kernels": [(process, kernel, start, end)], "first solve",
    "whole run"}`` in seconds since the run started."""
    events = out / "events.jsonl"
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "MAIN_JOB_COMPILES": "1"}
        _run(["-c", _PHASES, str(events), file, "--quiet", "--out", str(out / "results.nc")],
             env)
    rows = [json.loads(line) for line in events.read_text().splitlines()]
    run = next(r for r in rows if r["phase"] == "whole run")
    kernels = [("run" if r["pid"] == run["pid"] else "child", r["phase"].split(" ", 1)[1],
                r["start"], r["end"]) for r in rows if r["phase"].startswith("compile ")]
    solves = [r["start"] for r in rows if r["pid"] == run["pid"]
              and r["phase"].startswith(("study", "sweep"))]
    return {"kernels": sorted(kernels, key=lambda k: k[2]),
            "first solve": min(solves, default=float("nan")), "whole run": run["end"]}


#: the kernels of a first run each of which calls the one before (the solver the evaluation,
#: the evaluation ``gauss_solve``): each is compiled only once the one before it is
CHAIN = ("gauss_solve",) + RUN


def compile_bound(timeline: dict, cores: int) -> dict:
    """What the compilation of :func:`compiles`' run costs before its first solve: seconds of
    compiling in the run and in other processes (``run_s``, ``child_s``), along
    :data:`CHAIN` (``chain_s``), and the run's start-up before its first kernel
    (``start_s``); ``bound_s``, the earliest that run's first solve could come with the same
    compiling after that start-up: no sooner than the chain, nor than all of it shared
    perfectly over ``cores`` cores.  No other sharing of the compilation does better; less
    of it, or faster, can.  What is compiled after the first solve (the draw kernel, by the
    child, while the run solves) does not count."""
    first = timeline["first solve"]
    before = [(who, name, start, min(end, first)) for who, name, start, end
              in timeline["kernels"] if start < first]
    run = sum(end - start for who, _, start, end in before if who == "run")
    child = sum(end - start for who, _, start, end in before if who != "run")
    chain = sum(end - start for _, name, start, end in before if name in CHAIN)
    start = min((start for who, _, start, _ in before if who == "run"), default=float("nan"))
    shared = (run + child) / max(1, cores)
    return {"run_s": run, "child_s": child, "chain_s": chain, "start_s": start,
            "cores": cores, "bound_s": start + max(chain, shared)}


def cold(file: str, out: Path, repeat: int = 1) -> dict:
    """Wall and CPU seconds of ``repeat`` runs, each with an empty numba cache (min/median/
    max)."""
    walls, cpus = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "NUMBA_CACHE_DIR": cache}
            wall, cpu = _run(["-m", "model.run", file, "--quiet", "--out",
                              str(out / "results.nc")], env)
        walls.append(wall)
        cpus.append(cpu)
    return {"wall_s": spread(walls), "cpu_s": spread(cpus), "runs": repeat}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.main_job",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", default=FILE, help=f"scenario file (default {FILE})")
    parser.add_argument("--repeat", type=count(), default=5, help="timed runs (default 5)")
    parser.add_argument("--cold", type=count(0), nargs="?", const=1, default=0, metavar="N",
                        help="also N runs (default 1), each with an empty numba cache "
                             "(about 45 s each)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    result = {"file": args.file, "machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result["whole"] = whole(args.file, tmp / "whole", args.repeat)
        result["phases_s"] = phases(args.file, tmp / "phases")
        if args.cold:
            result["cold"] = cold(args.file, tmp / "cold", args.cold)
            result["compiles"] = compiles(args.file, tmp / "compiles")
            result["compile_bound"] = compile_bound(result["compiles"], cores())
    w, c = result["whole"]["wall_s"], result["whole"]["cpu_s"]
    print(f"python -m model.run {args.file} (fresh process, numba cache on disk, "
          f"{args.repeat} runs, min / median / max):")
    print(f"  wall {w[0]:.2f} / {w[1]:.2f} / {w[2]:.2f} s; CPU {c[0]:.2f} / {c[1]:.2f} / "
          f"{c[2]:.2f} s")
    ph = result["phases_s"]
    run = ph.get("whole run", float("nan"))
    print(f"one more run, by phase ({run:.2f} s in all; the figures are drawn in a child "
          "process while the run solves the sweep and writes its other outputs):")
    for name, seconds in ph.items():
        if name != "whole run":
            print(f"  {name:48s} {seconds:6.2f} s  {100 * seconds / run:5.1f} %")
    if "cold" in result:
        w, c = result["cold"]["wall_s"], result["cold"]["cpu_s"]
        print(f"with an empty numba cache (compiling every kernel; {args.cold} runs, min / "
              f"median / max): wall {w[0]:.2f} / {w[1]:.2f} / {w[2]:.2f} s; CPU "
              f"{c[0]:.2f} / {c[1]:.2f} / {c[2]:.2f} s")
        timeline = result["compiles"]
        print(f"one more run with an empty cache ({timeline['whole run']:.2f} s in all; the "
              f"first solve at {timeline['first solve']:.2f} s), each kernel compiled from "
              "Python (seconds since the run started):")
        for who, kernel, start, end in timeline["kernels"]:
            print(f"  {who:5s} {kernel:24s} {start:6.2f} - {end:6.2f} s  {end - start:5.2f} s")
        b = result["compile_bound"]
        print(f"  compiled before the first solve: {b['run_s']:.2f} s in the run, "
              f"{b['child_s']:.2f} s in the child, {b['chain_s']:.2f} s of it along "
              f"{' > '.join(CHAIN)} (each calls the one before); the first solve could not "
              f"come before {b['bound_s']:.2f} s: the run's first {b['start_s']:.2f} s, then "
              f"the longer of that chain and all of it shared perfectly over {b['cores']} "
              f"cores (it came at {timeline['first solve']:.2f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Solver benchmarks: ``python -m benchmarks [--full] [--sizes 2x13,31x40] [--out DIR]``.

For each problem size (``benchmarks.problems.SIZES``, all with input-output links, a 25-point
unilateral tariff), every method of ``benchmarks.methods`` solves the same equations; the table
gives the min/median/max time per solve after JIT warm-up, the evaluations of the fixed-point
map, the final equilibrium residual (one measure for all methods), the largest wage difference
from the default solver and the speed relative to ``scipy.optimize.root`` (``hybr``) on the
NumPy twin of the map and to the vectorised NumPy fixed point, each as min/median/max of the
ratios of solves made in the same round.  Methods too slow for the time limit are stopped
(or, for ``hybr``, not started when one finite-difference Jacobian alone would exceed it) and
shown as lower bounds.  Then: the cold start, the peak memory of the largest size, the wall
time of the example run, the peer comparison with ``gegravity``, the endogenous instruments
(``benchmarks.instruments``) and the targets.  Results go to
``results/benchmarks/benchmarks.json`` and ``scaling.png``.

Times on a shared machine are noisy: compare ratios measured in one run, not absolute
figures across machines or runs.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import fresh, instruments
from benchmarks.methods import METHODS, Method, active, equilibrium_residual, residual_time
from benchmarks.problems import SIZES, Problem, tariff_problem
from benchmarks.timing import ROOT, machine, median, run_limited, spread, timed
from model.core.layout import split

MODES = {
    # seconds of repeated solves per method and size (at least 3 solves where the first took
    # under repeat_below seconds, else the first alone); time limit of one solve; gegravity size
    "quick": {"budget": 0.25, "repeat_below": 1.0, "limit": 3.0, "peer_regions": 30,
              "peer_repeat": 1},
    "full": {"budget": 2.0, "repeat_below": 10.0, "limit": 60.0, "peer_regions": 60,
             "peer_repeat": 3},
}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--full", action="store_true",
                        help="longer timings and time limits, the compile from an empty numba "
                             "cache, memory of three methods, a 60-region peer problem")
    parser.add_argument("--sizes", default=None,
                        help="comma-separated sizes such as 2x13,31x40 (default: all)")
    parser.add_argument("--methods", default=None,
                        help="comma-separated method keys (default: all): "
                             + ", ".join(m.key for m in METHODS))
    parser.add_argument("--out", default=str(ROOT / "results" / "benchmarks"),
                        help="output folder (default: results/benchmarks)")
    parser.add_argument("--no-fresh", action="store_true",
                        help="skip the measurements in new processes (cold start, memory, "
                             "the example run)")
    parser.add_argument("--no-peer", action="store_true", help="skip the gegravity comparison")
    parser.add_argument("--no-instruments", action="store_true",
                        help="skip the optimal-tariff, Nash, quota and target timings")
    parser.add_argument("--quiet", action="store_true", help="print only the final table")
    return parser.parse_args(argv)


def parse_sizes(text):
    if not text:
        return list(SIZES)
    return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",")]


def select_methods(text) -> list[Method]:
    if not text:
        return list(METHODS)
    known = {m.key: m for m in METHODS}
    keys = [k.strip() for k in text.split(",")]
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise SystemExit(f"unknown method(s) {unknown}; choose from {sorted(known)}")
    if "anderson" not in keys:
        keys.insert(0, "anderson")  # the reference for wage differences
    return [known[k] for k in keys]


def first_run(problem: Problem, method: Method, cfg: dict, reference_x=None) -> dict:
    """One solve under the time limit, in a forked process: whether and how the method
    converges, its evaluations of ``G``, its residual, and a first time."""
    row = {"size": problem.label, "unknowns": int(_dimension(problem)), "method": method.key,
           "label": method.label}
    bound = _jacobian_bound(problem, method)
    if bound is not None and bound > cfg["limit"]:
        row.update(status="skipped", time_s=None, lower_bound_s=bound,
                   note=f"not run: one finite-difference Jacobian ({row['unknowns'] + 1} "
                        f"evaluations of G) takes about {bound:.0f} s")
        return row
    status, payload = run_limited(lambda: method.run(problem), cfg["limit"])
    if status == "timeout":
        row.update(status="stopped", time_s=None, lower_bound_s=cfg["limit"],
                   note=f"stopped at the time limit of {cfg['limit']:g} s")
        return row
    if status == "error":
        row.update(status="error", time_s=None, note=payload)
        return row
    first, outcome = payload
    residual = equilibrium_residual(problem, outcome.x)
    nr, ns = problem.shape
    gap = (float(np.abs(split(outcome.x, nr, ns)[0] - split(reference_x, nr, ns)[0]).max())
           if reference_x is not None else 0.0)
    ok = outcome.converged and residual < 1e-9
    row.update(status="ok" if ok else "failed", time_s=first, repeats=1,
               evaluations=outcome.evaluations, residual=residual, wage_gap=gap,
               note=outcome.note, x=outcome.x)
    return row


def repeat_interleaved(problem: Problem, methods, rows, budget: float, repeat_below: float,
                       max_repeat: int = 5000) -> None:
    """Time again the methods whose first solve took under ``repeat_below`` seconds, in turn
    (one solve of each per round, so that a change of load on a shared machine affects all
    of them alike), until each has spent ``budget`` seconds and made at least three solves;
    store the medians in ``rows``.  The others keep the time of their first solve."""
    todo = [(m, r) for m, r in zip(methods, rows)
            if r["status"] == "ok" and r["time_s"] < repeat_below]
    for row in rows:
        if row.get("time_s") is not None:
            row["times_s"] = [row["time_s"]]  # the first solve, until repeated
    times = {m.key: [] for m, _ in todo}
    while todo:
        for method, row in list(todo):
            t, _ = timed(lambda: method.run(problem))
            spent = times[method.key]
            spent.append(t)
            if (sum(spent) >= budget and len(spent) >= 3) or len(spent) >= max_repeat:
                todo.remove((method, row))
                row["time_s"], row["repeats"], row["times_s"] = median(spent), len(spent), spent


@functools.lru_cache(maxsize=4)
def _dimension(problem: Problem) -> int:
    """Unknowns of the problem: the state components that the fixed-point map moves."""
    return len(active(problem))


def _jacobian_bound(problem: Problem, method: Method):
    """Seconds of one forward-difference Jacobian for the ``hybr`` methods (else None)."""
    if not method.key.startswith("hybr"):
        return None
    t_eval = residual_time(problem, compiled=method.key.endswith("numba"), repeat=5)
    return (_dimension(problem) + 1) * t_eval


def warm_up(methods, log) -> dict:
    """Call every compiled method once on the smallest problem: the first call in this process
    compiles the kernels or loads them from the numba cache."""
    problem = tariff_problem(*SIZES[0])
    first = {}
    for method in methods:
        if method.jit:
            first[method.key], _ = timed(lambda: method.run(problem))
            log(f"  first call of {method.key:<16} {first[method.key]:8.3f} s")
    return first


def paired_ratios(base: list[float], times: list[float]) -> list[float]:
    """``base[k] / times[k]`` over the rounds both methods ran (the solves of one round are
    made one after the other, so a change of load affects both alike)."""
    return [b / t for b, t in zip(base, times)]


def add_ratios(rows) -> None:
    """Speed relative to the baseline (scipy hybr on the NumPy map) and to the NumPy fixed
    point of the same size, each as ``(min, median, max)`` over the paired rounds; a lower
    bound (``ratio_is_bound``) where the baseline was stopped or not run."""
    for key, flag in (("ratio", "baseline"), ("ratio_numpy", "reference")):
        baseline = next(m.key for m in METHODS if getattr(m, flag))
        for size in {r["size"] for r in rows}:
            group = [r for r in rows if r["size"] == size]
            base = next((r for r in group if r["method"] == baseline), None)
            for r in group:
                r[key], r[key + "_spread"], r[key + "_is_bound"] = None, None, False
                if base is None or r["time_s"] is None:
                    continue
                if base["time_s"] is not None:
                    r[key] = base["time_s"] / r["time_s"]
                    r[key + "_spread"] = spread(paired_ratios(base["times_s"], r["times_s"]))
                elif base.get("lower_bound_s"):
                    r[key], r[key + "_is_bound"] = base["lower_bound_s"] / r["time_s"], True
                    r[key + "_spread"] = spread([base["lower_bound_s"] / t
                                                 for t in r["times_s"]])


def _seconds(t: float) -> str:
    return f"{t * 1e3:.3g}" if t < 1 else f"{t:.3g} s"


def format_time(row) -> str:
    """``min/median/max`` in ms (or s, marked, from one second)."""
    if row["time_s"] is not None:
        return "/".join(_seconds(t) for t in spread(row.get("times_s") or [row["time_s"]]))
    if row.get("lower_bound_s"):
        return f"> {row['lower_bound_s']:.0f} s"
    return row["status"]


def format_ratio(row, key: str) -> str:
    if row.get(key) is None:
        return ""
    values = row[key + "_spread"] or (row[key],) * 3
    text = "/".join(f"{v:.0f}" if v >= 100 else f"{v:.3g}" for v in values)
    return (">" if row[key + "_is_bound"] else "") + text


def table(rows) -> str:
    head = (f"{'size':<7}{'method':<38}{'ms min/median/max':>22}{'evals G':>8}{'residual':>9}"
            f"{'|dw|':>7}  {'x vs hybr':>18}  {'x vs NumPy':>16}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        ev = str(r.get("evaluations", ""))
        res = f"{r['residual']:.0e}" if r.get("residual") is not None else ""
        gap = f"{r['wage_gap']:.0e}" if r.get("wage_gap") is not None else ""
        note = r.get("note", "")
        if r["status"] == "failed":
            note = "FAILED " + note
        lines.append(f"{r['size']:<7}{r['label']:<38}{format_time(r):>22}{ev:>8}{res:>9}"
                     f"{gap:>7}  {format_ratio(r, 'ratio'):>18}"
                     f"  {format_ratio(r, 'ratio_numpy'):>16}  {note}")
    return "\n".join(lines)


def run_sizes(sizes, methods, cfg, log) -> list[dict]:
    rows = []
    for nr, ns in sizes:
        problem = tariff_problem(nr, ns)
        log(f"{problem.label}: {_dimension(problem)} unknowns")
        group, reference = [], None
        for method in methods:
            row = first_run(problem, method, cfg, reference)
            if method.key == "anderson" and row["status"] == "ok":
                reference = row["x"]
            group.append(row)
            log(f"  {method.key:<16} {format_time(row):>12}  {row.get('note', '')}")
        repeat_interleaved(problem, methods, group, cfg["budget"], cfg["repeat_below"])
        for row in group:
            row.pop("x", None)
        rows.extend(group)
    add_ratios(rows)
    return rows


#: (size, seconds): the median solve time each size should stay under
KERNEL_TARGETS = (("2x13", 0.15e-3), ("31x40", 8e-3), ("60x65", 30e-3), ("194x65", 0.5))


def targets(rows, cold, memory, example=None, instrument_rows=None) -> list[dict]:
    """The targets, met or missed, with the measured values."""
    def get(size, method):
        return next((r for r in rows if r["size"] == size and r["method"] == method), None)

    out = []
    small = get("2x13", "anderson")
    if small and small["time_s"] is not None:
        if small.get("ratio") is not None:
            out.append({"target": "2x13 at least 20x faster than scipy root (hybr)",
                        "value": f"{small['ratio']:.1f}x", "met": small["ratio"] >= 20})
    for size, limit in KERNEL_TARGETS:
        row = get(size, "anderson")
        if row and row["time_s"] is not None:
            out.append({"target": f"{size} under {_seconds(limit)}"
                                  f"{' ms' if limit < 1 else ''} (median)",
                        "value": format_time(row) + (" ms" if row["time_s"] < 1 else ""),
                        "met": row["time_s"] < limit})
    for size in dict.fromkeys(r["size"] for r in rows):
        row = get(size, "anderson")
        if row and row.get("ratio_numpy") is not None and not row["ratio_numpy_is_bound"]:
            low = row["ratio_numpy_spread"][0]
            out.append({"target": f"{size} faster than the NumPy fixed point in every round",
                        "value": format_ratio(row, "ratio_numpy") + " x", "met": low > 1})
    big = get("60x65", "anderson")
    if big:
        value = format_time(big)
        if memory:
            value += (f" ms; peak memory {memory[0]['peak_rss_mib']:.0f} MiB solving "
                      f"{memory[0]['size']}")
        out.append({"target": "60x65 completes, time and memory reported", "value": value,
                    "met": big["status"] == "ok"})
    if cold and "cache" in cold:
        t = cold["cache"]["first_solve_s"]
        out.append({"target": "cold start with the numba cache (first solve) under 2 s",
                    "value": f"{t:.2f} s first solve; {cold['cache']['process_wall_s']:.2f} s "
                             "for the whole process incl. imports",
                    "met": t < 2})
    if example:
        out.append({"target": "python -m model.run scenarios/example.toml under 5 s",
                    "value": f"{example['wall_s']:.2f} s", "met": example["wall_s"] < 5})
    for row in instrument_rows or ():
        if "target_s" in row:
            out.append({"target": f"{row['case']} under {row['target_s'] * 1e3:.0f} ms warm",
                        "value": f"{row['instrument_s'] * 1e3:.1f} ms "
                                 f"({row['ratio']:.0f} plain solves)", "met": row["met"]})
    return out


def write_figure(rows, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5))
    for key in dict.fromkeys(r["method"] for r in rows):
        group = [r for r in rows if r["method"] == key]
        done = [(r["unknowns"], r["time_s"]) for r in group if r["time_s"] is not None]
        bound = [(r["unknowns"], r["lower_bound_s"]) for r in group
                 if r["time_s"] is None and r.get("lower_bound_s")]
        line, = ax.plot(*zip(*done), marker="o", label=group[0]["label"]) if done else (None,)
        if bound:
            color = line.get_color() if line is not None else None
            ax.plot(*zip(*bound), marker="^", linestyle="none", color=color, markersize=9,
                    markerfacecolor="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("unknowns (wages, price indices, absorption)")
    ax.set_ylabel("median seconds per solve")
    sizes = sorted({(r["unknowns"], r["size"]) for r in rows})
    for n, label in sizes:
        ax.annotate(label, (n, 0.01), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=8, color="grey")
    ax.set_title("Solve time against problem size (open triangles: time limit, lower bound)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)


def write_json(result, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=float), encoding="utf-8")
    tmp.replace(path)


def print_report(result) -> None:
    m = result["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; {m['platform']}; "
          f"Python {m['python']}, NumPy {m['numpy']}, SciPy {m['scipy']}, numba {m['numba']}")
    print(f"mode: {result['mode']}; a 25-point unilateral tariff of region 1 on all imports, "
          f"tolerance 1e-10\n")
    print(table(result["rows"]))
    print("\nms: min/median/max per solve over the repeats, after JIT warm-up (s where "
          "marked); evals G: evaluations of the fixed-point map (function evaluations for "
          "scipy); residual: max of the three equilibrium measures; |dw|: largest wage "
          "difference from the default method; x vs hybr, x vs NumPy: scipy root hybr's and "
          "the NumPy fixed point's time over this method's, min/median/max over rounds in "
          "which both ran one after the other ('>' where the baseline was stopped or not run)")
    if result.get("first_call_s"):
        print("\nfirst call in this process (compiles or loads the numba cache): " + ", ".join(
            f"{k} {v:.2f} s" for k, v in result["first_call_s"].items()))
    cold = result.get("cold_start") or {}
    for key, text in (("cache", "with the numba cache on disk"),
                      ("empty_cache", "with an empty numba cache (compiles every kernel)")):
        if key in cold:
            c = cold[key]
            print(f"cold start {text}: first solve {c['first_solve_s']:.2f} s, imports "
                  f"{c['import_s']:.2f} s, whole process {c['process_wall_s']:.2f} s")
    for mem in result.get("memory") or []:
        print(f"memory, {mem['size']} {mem['method']}: peak resident {mem['peak_rss_mib']:.0f} "
              f"MiB for the whole process; {mem['rss_before_solve_mib']:.0f} MiB resident before "
              f"the solve (Python, NumPy, SciPy, compiled code, the problem); " + (
                  f"the solve raised the peak by {mem['solve_raised_peak_by_mib']:.0f} MiB"
                  if mem["solve_raised_peak_by_mib"] >= 0.5 else
                  "the solve stayed below the peak reached while loading"))
    if result.get("example_run"):
        print(f"python -m model.run scenarios/example.toml (fresh process, numba cache on "
              f"disk): {result['example_run']['wall_s']:.2f} s")
    peer = result.get("peer")
    if peer:
        print_peer(peer)
    if result.get("targets"):
        print("\ntargets:")
        for t in result["targets"]:
            print(f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['value']}")


def print_peer(peer) -> None:
    o, g = peer["ours"], peer["gegravity"]
    print(f"\ngegravity {peer['version']} on {peer['n_regions']} regions x 1 sector "
          f"(sigma {peer['sigma']:g}; {peer['shock']}):")
    print(f"  counterfactual: ours {o['solve_s'] * 1e3:.2f} ms ({o['iterations']} iterations), "
          f"gegravity {g['counterfactual_s']:.2f} s "
          f"({g['counterfactual_s'] / o['solve_s']:.0f}x ours); setup: ours "
          f"{o['setup_s'] * 1e3:.1f} ms, gegravity {g['setup_s']:.2f} s")
    w0 = peer["welfare_shocked_region_pct"]
    print(f"  welfare of the shocked region: ours {w0[0]:.4f} %, gegravity {w0[1]:.4f} %; over "
          f"all regions the gap is at most {peer['welfare_max_abs_gap_pp']:.4f} percentage "
          f"points, {peer['welfare_median_rel_gap_pct']:.1f} % of our value at the median and "
          f"{peer['welfare_max_rel_gap_pct']:.1f} % at most")
    print(f"  factory-gate prices differ by up to {peer['price_max_abs_gap_pct']:.3f} %, trade "
          f"shares by up to {peer['trade_share_max_abs_gap_pp']:.3f} points "
          f"({peer['trade_share_change_max_rel_gap_pct']:.1f} % of their change)")
    print(f"  gegravity's own equations with output shares updated to their counterfactual "
          f"values ({peer['updated_shares_rounds']} rounds) match ours to "
          f"{peer['updated_shares_welfare_max_abs_gap_pp']:.0e} points: the gap is its "
          f"fixed-share approximation")


def main(argv=None) -> int:
    args = parse_args(argv)
    mode = "full" if args.full else "quick"
    cfg = MODES[mode]
    log = (lambda *a: None) if args.quiet else (lambda msg: print(msg, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = parse_sizes(args.sizes)
    methods = select_methods(args.methods)
    start = time.perf_counter()
    result = {"mode": mode, "machine": machine(), "settings": cfg,
              "sizes": [f"{nr}x{ns}" for nr, ns in sizes]}
    log("warming up the compiled methods (2x13)")
    result["first_call_s"] = warm_up(methods, log)
    result["rows"] = run_sizes(sizes, methods, cfg, log)
    if not args.no_fresh:
        log("cold start and memory in new processes")
        result["cold_start"] = cold_starts(full=args.full)
        result["memory"] = memory(sizes, args.full)
        result["example_run"] = fresh.example_run(repeat=3)
    if not args.no_peer:
        log("gegravity comparison")
        result["peer"] = peer(cfg)
    if not args.no_instruments:
        log("endogenous instruments (benchmarks.instruments)")
        result["instruments"] = instruments.measure(repeat=3 if mode == "quick" else 9)
    result["targets"] = targets(result["rows"], result.get("cold_start"), result.get("memory"),
                                result.get("example_run"), result.get("instruments"))
    result["wall_s"] = time.perf_counter() - start
    write_json(result, out / "benchmarks.json")
    write_figure(result["rows"], out / "scaling.png")
    print_report(result)
    print(f"\nwrote {out / 'benchmarks.json'} and {out / 'scaling.png'} "
          f"({result['wall_s']:.0f} s)")
    return 0


def cold_starts(full: bool) -> dict:
    cold = {"cache": fresh.cold_start(empty_cache=False)}
    if full:
        cold["empty_cache"] = fresh.cold_start(empty_cache=True)
    return cold


def memory(sizes, full: bool) -> list[dict]:
    nr, ns = max(sizes, key=lambda s: s[0] * s[1])
    keys = ["anderson", "anderson_direct", "krylov_numba"] if full else ["anderson"]
    result = []
    for key in keys:
        m = fresh.peak_memory(nr, ns, key)
        result.append({"size": f"{nr}x{ns}", "method": key, **m})
    return result


def peer(cfg) -> dict | None:
    try:
        import gegravity
    except ImportError:
        print("gegravity is not installed (pip install -e '.[benchmarks]'): no peer comparison")
        return None
    from benchmarks.peer import compare

    result = compare(cfg["peer_regions"], repeat=cfg["peer_repeat"])
    result["version"] = getattr(gegravity, "__version__", None) or _version("gegravity")
    return result


def _version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())

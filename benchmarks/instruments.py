"""Endogenous instruments: ``python -m benchmarks.instruments [--repeat N]``.

Median warm wall times, each beside the plain solve of the same dataset measured in the same
run (the ratio says how many plain solves an instrument costs):

- an optimal uniform tariff of the US on its goods imports, 2 regions x 13 sectors
  (``data/jpn_usa_2024``, balanced trade), the 21-point curve included: target under 20 ms;
- a Nash equilibrium in uniform goods tariffs of Japan, the US and the rest of the world,
  3 x 13 (``data/jpn_usa_row_2024``, balanced trade): target under 0.2 s;
- a quota on Japan's vehicle exports to the US at 80 % of the benchmark quantity, 3 x 13;
- Japan's bilateral balance with the US brought to zero with its overall balance as the
  instrument, 3 x 13.

Times on a shared machine are noisy: compare the ratios, not absolute figures across machines.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks.timing import ROOT, count, machine, median, timed
from calibration.calibrate import calibrate
from calibration.io import load_dataset
from model.core.optimal import NashSpec, OptimalTariffSpec, nash, optimal_tariff
from model.core.policy import deficit_rule, make_policy
from model.core.quotas import make_quotas
from model.core.settings import SolverSettings
from model.core.solver import solve
from model.core.instruments import INSTRUMENTS, TargetSpec
from model.core.targets import solve_target

TARGETS = {"optimal_tariff_2x13": 0.020, "nash_3x13": 0.2}


def goods_imports(bm, n, partners) -> np.ndarray:
    mask = np.zeros(bm.t0.shape, dtype=bool)
    goods = [j for j, s in enumerate(bm.sectors) if s != "services"]
    for i in partners:
        mask[n, i, goods] = True
    return mask


def cases() -> dict:
    """Each case: (plain solve, instrument solve) as functions of nothing."""
    two = calibrate(load_dataset(ROOT / "data" / "jpn_usa_2024"))
    three = calibrate(load_dataset(ROOT / "data" / "jpn_usa_row_2024"))
    balanced2 = make_policy(two, D1=deficit_rule(two, "balanced"))
    balanced3 = make_policy(three, D1=deficit_rule(three, "balanced"))
    u2, j2 = two.regions.index("USA"), two.regions.index("JPN")
    u, j = three.regions.index("USA"), three.regions.index("JPN")
    optimum = OptimalTariffSpec(u2, goods_imports(two, u2, [j2]), (0.0, 1.0), 21)
    masks = tuple(goods_imports(three, n, [i for i in range(3) if i != n]) for n in range(3))
    autos = three.sectors.index("motor_vehicles_and_parts")
    quota = make_policy(three, quotas=make_quotas([(u, j, autos)], 0.8, three.t0[u, j, autos]))
    absorb = three.VA0.sum(axis=1) * (np.arange(3) != j)
    balance = -three.D0[j]
    half = 0.5 * three.VA0[j].sum()
    target = TargetSpec(j, u, 0.0, INSTRUMENTS["trade_balance"], np.zeros(three.t0.shape, bool),
                        (balance - half, balance + half), instrument_region=j,
                        absorb=absorb / absorb.sum())
    plain2 = lambda: solve(two, balanced2)  # noqa: E731
    plain3 = lambda: solve(three, balanced3)  # noqa: E731
    return {
        "optimal_tariff_2x13": (plain2, lambda: optimal_tariff(two, balanced2, optimum)),
        "nash_3x13": (plain3, lambda: nash(three, balanced3, NashSpec((0, 1, 2), masks))),
        "quota_3x13": (lambda: solve(three, make_policy(three)), lambda: solve(three, quota)),
        "trade_balance_target_3x13": (lambda: solve(three, make_policy(three)),
                                      lambda: solve_target(three, make_policy(three), target,
                                                           SolverSettings())),
    }


def measure(repeat: int = 7) -> list[dict]:
    """Median times of each case and of its plain solve, interleaved, after a warm-up."""
    rows = []
    for name, (plain, instrument) in cases().items():
        plain(), instrument()  # compile and warm up
        t_plain, t_inst = [], []
        for _ in range(repeat):
            t_plain.append(timed(plain)[0])
            t_inst.append(timed(instrument)[0])
        row = {"case": name, "plain_solve_s": median(t_plain), "instrument_s": median(t_inst)}
        row["ratio"] = row["instrument_s"] / row["plain_solve_s"]
        if name in TARGETS:
            row["target_s"] = TARGETS[name]
            row["met"] = row["instrument_s"] < TARGETS[name]
        rows.append(row)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instruments",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=count(), default=7, help="timed repetitions (default 7)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = measure(args.repeat)
    print(f"{'case':28s} {'plain solve':>12s} {'instrument':>12s} {'ratio':>8s}  target")
    for r in rows:
        target = ""
        if "target_s" in r:
            target = f"{'met' if r['met'] else 'MISSED'} (< {r['target_s'] * 1e3:.0f} ms)"
        print(f"{r['case']:28s} {r['plain_solve_s'] * 1e3:10.2f} ms {r['instrument_s'] * 1e3:10.2f}"
              f" ms {r['ratio']:8.1f}  {target}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"machine": machine(), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

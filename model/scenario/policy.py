"""Scenarios into policy arrays aligned with a dataset: every name is checked here.

:func:`prepare_scenarios` turns each scenario of a file into one
:class:`PreparedScenario` record: the scenario, its :class:`~model.core.policy.Policy` and, for
a scenario that meets a target, the resolved :class:`~model.core.targets.TargetSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.calibrate import Benchmark
from model.core.policy import Policy, deficit_rule, make_policy
from model.core.settings import ModelError
from model.core.targets import TargetSpec
from model.scenario.errors import Errors
from model.scenario.records import CellEntry, Scenario, ScenarioFile, Target
from model.scenario.selection import cells

#: the cell entry lists of a scenario and the policy arrays they set
CELL_ARRAYS = {"trade_costs": ("d_hat", 1.0), "export_taxes": ("e1", 0.0),
               "preferences": ("pref", 1.0)}


@dataclass(frozen=True)
class PreparedScenario:
    """A scenario ready to solve: its record, its policy and its target (None without one)."""

    scenario: Scenario
    policy: Policy
    target: TargetSpec | None = None

    @property
    def name(self) -> str:
        return self.scenario.name


def prepare_scenarios(sf: ScenarioFile, bm: Benchmark,
                      regimes: dict | None = None) -> tuple[PreparedScenario, ...]:
    """Every scenario of ``sf`` as a :class:`PreparedScenario`; checks every name against
    ``bm`` and the dataset's tariff ``regimes`` (:attr:`calibration.io.Dataset.regimes`)."""
    return tuple(prepare_scenario(sf.path, sc, bm, regimes or {}) for sc in sf.scenarios)


def prepare_scenario(path: Path, sc: Scenario, bm: Benchmark,
                     regimes: dict | None = None) -> PreparedScenario:
    err = Errors(path)
    pol = policy(err, sc, bm, regimes or {})
    target = (resolve_target(err, sc.target, bm, pol, f"scenario {sc.name}") if sc.target
              else None)
    return PreparedScenario(sc, pol, target)


def policy(err: Errors, sc: Scenario, bm: Benchmark, regimes: dict | None = None) -> Policy:
    """Turn one scenario into tariffs, trade costs and deficits aligned with ``bm``."""
    arrays = {"t1": _tariffs(err, sc, bm, regimes or {})}
    for key, (field, neutral) in CELL_ARRAYS.items():
        arrays[field] = _cell_values(err, getattr(sc, key), bm, neutral)
    closure = sc.closure
    where = f"scenarios.{sc.name}.closure"
    rule = closure.trade_balance
    if not isinstance(rule, str):
        rule = {_region(err, bm, r, f"{where}.trade_balance.{r}"): v for r, v in rule}
    if isinstance(closure.labour, str):
        frw = np.full(len(bm.regions), closure.labour == "fixed_real_wage")
    else:
        frw = np.zeros(len(bm.regions), dtype=bool)
        for r, mode in closure.labour:
            frw[_region(err, bm, r, f"{where}.labour.{r}")] = mode == "fixed_real_wage"
    try:
        return make_policy(
            bm, D1=deficit_rule(bm, rule), nested=closure.armington == "nested",
            capital_share=closure.capital_share if closure.factors == "specific_capital" else None,
            fixed_real_wage=frw, **arrays,
        )
    except ModelError as exc:
        err.fail(f"scenarios.{sc.name}", str(exc))


def _tariffs(err: Errors, sc: Scenario, bm: Benchmark, regimes: dict) -> np.ndarray:
    """The scenario's tariffs: the regimes' rates first, then the tariff entries; later entries
    override earlier ones on the same cells."""
    t1 = bm.t0.copy()
    for entry in sc.regimes:
        if entry.regime not in regimes:
            err.fail(f"{entry.key}.regime", f"unknown regime '{entry.regime}'; the dataset's "
                     f"regimes are {', '.join(regimes) or 'none (no regimes.csv)'}")
        rates = regimes[entry.regime]
        for n, i, j in cells(err, entry.key, entry.cells, bm):
            if np.isnan(rates[n, i, j]):
                err.fail(entry.key, f"regime '{entry.regime}' sets no rate for "
                         f"{bm.regions[n]} imports of {bm.sectors[j]} from {bm.regions[i]}")
            t1[n, i, j] = rates[n, i, j]
    for entry in sc.tariffs:
        for n, i, j in cells(err, entry.key, entry.cells, bm):
            old = bm.t0[n, i, j]
            new = {"rate": entry.value, "add": old + entry.value,
                   "floor": max(old, entry.value)}[entry.mode]
            if not new > -1.0:
                err.fail(entry.key, f"gives a tariff of {new:g} ({new * 100:g} %) on "
                         f"{bm.regions[n]} imports of {bm.sectors[j]} from {bm.regions[i]}: "
                         "tariffs must be above -1 (-100 %)")
            t1[n, i, j] = new
    return t1


def _cell_values(err: Errors, entries: tuple[CellEntry, ...], bm: Benchmark,
                 neutral: float) -> np.ndarray:
    out = np.full(bm.t0.shape, neutral)
    for entry in entries:
        for n, i, j in cells(err, entry.key, entry.cells, bm):
            out[n, i, j] = entry.value
    return out


def _region(err: Errors, bm: Benchmark, region: str, key: str) -> int:
    if region not in bm.regions:
        err.fail(key, f"unknown region '{region}'; the regions are {', '.join(bm.regions)}")
    return bm.regions.index(region)


def resolve_target(err: Errors, target: Target, bm: Benchmark, pol: Policy,
                   label: str = "") -> TargetSpec:
    """Check a target against the dataset and the scenario's policy ``pol``; the
    :class:`~model.core.targets.TargetSpec` with region indices and the boolean mask
    ``[importer, exporter, sector]`` of the instrument's cells."""
    for key, name in (("region", target.region), ("partner", target.partner)):
        if name is not None:
            _region(err, bm, name, f"{target.key}.{key}")
    if target.balance == "overall":
        err.fail(f"{target.key}.balance",
                 "a region's overall trade balance is set by the trade-balance closure, so no "
                 "instrument can move it; use closure = { trade_balance = { "
                 f"{target.region} = ... }} }} or a bilateral target")
    if target.partner == target.region:
        err.fail(f"{target.key}.partner", "must differ from region")
    mask = np.zeros(bm.t0.shape, dtype=bool)
    for n, i, j in cells(err, target.key, target.cells, bm):
        mask[n, i, j] = True
    problem = target.instrument.bound_problem(pol.t1[mask], target.bounds[0])
    if problem:
        err.fail(f"{target.key}.bounds", problem)
    if len(bm.regions) == 2:
        err.fail(f"{target.key}.balance",
                 "with two regions a bilateral balance is the overall balance, which the "
                 "trade-balance closure sets; no instrument can move it. Use closure = { "
                 f"trade_balance = {{ {target.region} = ... }} }} or a dataset with a third "
                 "region")
    return TargetSpec(bm.regions.index(target.region), bm.regions.index(target.partner),
                      target.value, target.instrument, mask, target.bounds, label=label)

"""Scenarios into policy arrays aligned with a dataset: every name is checked here.

:func:`prepare_scenarios` turns each scenario of a file into one
:class:`PreparedScenario` record: the scenario, its :class:`~model.core.policy.Policy` and, for
a scenario that meets a target, the resolved :class:`~model.core.instruments.TargetSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.calibrate import Benchmark
from model.core.policy import Policy, deficit_rule, make_policy
from model.core.settings import ModelError
from model.core.optimal import NashSpec, OptimalTariffSpec
from model.core.quotas import QuotaSet, make_quotas
from model.core.instruments import TargetSpec
from model.scenario.errors import Errors
from model.scenario.records import (CellEntry, Nash, OptimalTariff, Scenario, ScenarioFile,
                                    Target)
from model.scenario.selection import cells, sector_indices

#: the cell entry lists of a scenario and the policy arrays they set
CELL_ARRAYS = {"trade_costs": ("d_hat", 1.0), "export_taxes": ("e1", 0.0),
               "preferences": ("pref", 1.0)}


@dataclass(frozen=True)
class PreparedScenario:
    """A scenario ready to solve: its record, its policy and its endogenous search (a
    :class:`~model.core.instruments.TargetSpec`, :class:`~model.core.optimal.OptimalTariffSpec` or
    :class:`~model.core.optimal.NashSpec`; None without one)."""

    scenario: Scenario
    policy: Policy
    search: TargetSpec | OptimalTariffSpec | NashSpec | None = None

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
    label = f"scenario {sc.name}"
    search = None
    if sc.target:
        search = resolve_target(err, sc.target, bm, pol, _closure_rule(err, sc, bm), label)
    elif sc.optimal_tariff:
        search = resolve_optimal_tariff(err, sc.optimal_tariff, bm, label)
    elif sc.nash:
        search = resolve_nash(err, sc.nash, bm, label)
    return PreparedScenario(sc, pol, search)


def policy(err: Errors, sc: Scenario, bm: Benchmark, regimes: dict | None = None) -> Policy:
    """Turn one scenario into tariffs, trade costs and deficits aligned with ``bm``."""
    arrays = {"t1": _tariffs(err, sc, bm, regimes or {})}
    for key, (field, neutral) in CELL_ARRAYS.items():
        arrays[field] = _cell_values(err, getattr(sc, key), bm, neutral)
    closure = sc.closure
    where = f"scenarios.{sc.name}.closure"
    rule = _closure_rule(err, sc, bm)
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
            fixed_real_wage=frw, quotas=_quotas(err, sc, bm, arrays["t1"]), **arrays,
        )
    except ModelError as exc:
        err.fail(f"scenarios.{sc.name}", str(exc))


def _closure_rule(err: Errors, sc: Scenario, bm: Benchmark):
    """The trade-balance closure as ``deficit_rule`` takes it (region names to indices)."""
    rule = sc.closure.trade_balance
    if isinstance(rule, str):
        return rule
    where = f"scenarios.{sc.name}.closure.trade_balance"
    return {_region(err, bm, r, f"{where}.{r}"): v for r, v in rule}


def _quotas(err: Errors, sc: Scenario, bm: Benchmark, t1: np.ndarray) -> QuotaSet | None:
    """The quota entries on their cells; a later entry on the same cell replaces an earlier
    one.  The in-quota rate defaults to the scenario's tariff on the cell."""
    chosen = {}
    for entry in sc.quotas:
        picked = list(cells(err, entry.key, entry.cells, bm))
        if entry.quantity is not None and len(picked) != 1:
            err.fail(f"{entry.key}.quantity", f"a quantity in the dataset's unit needs exactly "
                     f"one cell; the selection has {len(picked)} (use ratio for several)")
        for n, i, j in picked:
            x0 = bm.X0[i, n, j]
            if not x0 > 0:
                err.fail(entry.key, f"no {bm.sectors[j]} trade from {bm.regions[i]} to "
                         f"{bm.regions[n]} in the benchmark: a quota needs a benchmark flow")
            ratio = entry.ratio if entry.quantity is None else entry.quantity / x0
            t_in = t1[n, i, j] if entry.in_quota_rate is None else entry.in_quota_rate
            if not entry.out_of_quota_rate >= t_in:
                err.fail(f"{entry.key}.out_of_quota_rate",
                         f"{entry.out_of_quota_rate:g} is below the in-quota rate {t_in:g} on "
                         f"{bm.regions[n]} imports of {bm.sectors[j]} from {bm.regions[i]}")
            chosen[n, i, j] = (ratio, t_in, entry.out_of_quota_rate, entry.to_exporter,
                               entry.mode == "fix")
    if not chosen:
        return None
    values = list(zip(*chosen.values()))
    try:
        return make_quotas(list(chosen), *values)
    except ModelError as exc:
        err.fail(f"scenarios.{sc.name}.quotas", str(exc))

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


def _mask(err: Errors, key: str, selection, bm: Benchmark) -> np.ndarray:
    mask = np.zeros(bm.t0.shape, dtype=bool)
    for n, i, j in cells(err, key, selection, bm):
        mask[n, i, j] = True
    return mask


def resolve_optimal_tariff(err: Errors, spec: OptimalTariff, bm: Benchmark,
                           label: str = "") -> OptimalTariffSpec:
    """The region's import cells of the selection, checked against the dataset."""
    _region(err, bm, spec.region, f"{spec.key}.region")
    mask = _mask(err, spec.key, spec.cells, bm)
    if not mask.any():
        err.fail(spec.key, "selects no import cell of the region: the optimum would be over "
                 "an empty set")
    return OptimalTariffSpec(bm.regions.index(spec.region), mask, spec.bounds, spec.points,
                             label)


def resolve_nash(err: Errors, spec: Nash, bm: Benchmark, label: str = "") -> NashSpec:
    """Each player's cells: its imports of the selected sectors from the other players."""
    players = [_region(err, bm, p, f"{spec.key}.players") for p in spec.players]
    sectors = sector_indices(err, spec.key, spec.cells, bm)
    masks = []
    for n in players:
        mask = np.zeros(bm.t0.shape, dtype=bool)
        for i in players:
            if i != n:
                mask[n, i, sectors] = True
        masks.append(mask)
    return NashSpec(tuple(players), tuple(masks), spec.bounds, spec.tol, spec.max_rounds,
                    label)


def resolve_target(err: Errors, target: Target, bm: Benchmark, pol: Policy, rule=None,
                   label: str = "") -> TargetSpec:
    """Check a target against the dataset and the scenario's policy ``pol``; the
    :class:`~model.core.instruments.TargetSpec` with region indices and the boolean mask
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
    if not target.instrument.on_cells:
        return _balance_target(err, target, bm, pol, rule, label)
    mask = _mask(err, target.key, target.cells, bm)
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


def _balance_target(err: Errors, target: Target, bm: Benchmark, pol: Policy, rule,
                    label: str) -> TargetSpec:
    """A bilateral target met by a region's overall trade balance: the other regions absorb its
    change as the closure says (those with a deficit target keep it, the rest share in
    proportion to value added)."""
    r = _region(err, bm, target.instrument_region, f"{target.key}.instrument_region")
    listed = set(rule) if isinstance(rule, dict) else set()
    absorb = bm.VA0.sum(axis=1).astype(float)
    absorb[[n for n in listed | {r}]] = 0.0
    if not absorb.sum() > 0:
        err.fail(f"{target.key}.instrument_region",
                 "every other region has a deficit target in the closure: no region is left "
                 "to absorb a change of this region's balance")
    balance = -pol.D1[r]
    foreign = np.arange(len(bm.regions)) != r
    trade = bm.X0[r][foreign].sum() + bm.X0[:, r][foreign].sum()  # exports + imports
    bounds = target.bounds or (balance - trade, balance + trade)
    return TargetSpec(bm.regions.index(target.region), bm.regions.index(target.partner),
                      target.value, target.instrument, np.zeros(bm.t0.shape, dtype=bool),
                      bounds, label=label, instrument_region=r, absorb=absorb / absorb.sum())

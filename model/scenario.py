"""Scenario files (TOML) into frozen dataclasses, and scenarios into policy arrays.

Every problem raises :class:`ScenarioError` naming the file and the key (for example
``scenarios.accept_tariffs.tariffs[2].sectors``) and, for unknown names, the valid choices.
The format is documented in the README ("Scenario files").
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.calibrate import Benchmark
from model.params import ModelError, Policy, SolverSettings, deficit_rule, make_policy

TOP_KEYS = ("title", "data", "elasticities", "defaults", "scenarios", "solver", "sweep")
DEFAULT_KEYS = ("closure", "tariffs", "trade_costs")
SCENARIO_KEYS = ("description", "closure", "tariffs", "trade_costs")
TARIFF_KEYS = ("importer", "exporter", "sectors", "except", "rate", "add", "floor")
TARIFF_MODES = ("rate", "add", "floor")
TRADE_COST_KEYS = ("importer", "exporter", "sectors", "except", "factor")
CLOSURE_KEYS = ("trade_balance",)
SOLVER_KEYS = ("tol", "max_iter", "damping", "acceleration", "memory", "expenditure")


class ScenarioError(ValueError):
    """A scenario file that cannot be read or names something the dataset does not have."""


@dataclass(frozen=True)
class Selection:
    """Cells chosen by an entry: importers, exporters and sectors (``None`` means all)."""

    importers: tuple[str, ...] | None
    exporters: tuple[str, ...] | None
    sectors: tuple[str, ...] | None
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True)
class TariffEntry:
    """New tariffs on the selected cells: ``rate`` sets them, ``add`` adds to the benchmark
    rate, ``floor`` raises the benchmark rate to at least the value."""

    key: str
    cells: Selection
    mode: str
    value: float


@dataclass(frozen=True)
class TradeCostEntry:
    """Iceberg trade costs of the selected cells multiplied by ``factor`` (no revenue)."""

    key: str
    cells: Selection
    factor: float


@dataclass(frozen=True)
class Closure:
    """Trade-balance closure: ``"fixed"``, ``"balanced"`` or ``((region, deficit), ...)``."""

    trade_balance: str | tuple[tuple[str, float], ...] = "fixed"

    def describe(self) -> str:
        if isinstance(self.trade_balance, str):
            return self.trade_balance
        return ", ".join(f"{r} deficit = {v:g}" for r, v in self.trade_balance)


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    tariffs: tuple[TariffEntry, ...]
    trade_costs: tuple[TradeCostEntry, ...]
    closure: Closure


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario file: the text, the dataset it refers to, scenarios and solver."""

    path: Path
    text: str
    title: str
    data: Path
    elasticities: str
    scenarios: tuple[Scenario, ...]
    solver: SolverSettings
    sweep: dict | None = None  # the raw [sweep] table, checked by model.sweep


def load_scenario_file(path: str | Path) -> ScenarioFile:
    """Parse and check the structure of a scenario file (names are checked by :func:`policies`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc})") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    err = _Errors(path)
    err.keys(doc, TOP_KEYS, "")
    if "data" not in doc:
        err.fail("data", "missing: the dataset folder, relative to this file")
    data = err.string(doc["data"], "data")
    elasticities = err.string(doc.get("elasticities", "elasticities.csv"), "elasticities")
    defaults = doc.get("defaults", {})
    err.table(defaults, "defaults")
    err.keys(defaults, DEFAULT_KEYS, "defaults")
    scenarios = doc.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        err.fail("scenarios", "missing or empty: add at least one [scenarios.NAME] table")
    parsed = []
    for name, body in scenarios.items():
        where = f"scenarios.{name}"
        err.table(body, where)
        err.keys(body, SCENARIO_KEYS, where)
        tariffs = _entries(err, defaults, "defaults", "tariffs", _tariff) + _entries(
            err, body, where, "tariffs", _tariff)
        costs = _entries(err, defaults, "defaults", "trade_costs", _trade_cost) + _entries(
            err, body, where, "trade_costs", _trade_cost)
        closure_doc = dict(err.table(defaults.get("closure", {}), "defaults.closure"))
        closure_doc.update(err.table(body.get("closure", {}), f"{where}.closure"))
        closure = _closure(err, closure_doc, f"{where}.closure")
        parsed.append(Scenario(
            name=name,
            description=err.string(body.get("description", ""), f"{where}.description"),
            tariffs=tuple(tariffs),
            trade_costs=tuple(costs),
            closure=closure,
        ))
    solver_doc = err.table(doc.get("solver", {}), "solver")
    err.keys(solver_doc, SOLVER_KEYS, "solver")
    try:
        solver = SolverSettings(**solver_doc)
    except (ModelError, TypeError) as exc:
        err.fail("solver", str(exc))
    return ScenarioFile(
        path=path.resolve(),
        text=text,
        title=err.string(doc.get("title", path.stem), "title"),
        data=(path.parent / data).resolve(),
        elasticities=elasticities,
        scenarios=tuple(parsed),
        solver=solver,
        sweep=err.table(doc["sweep"], "sweep") if "sweep" in doc else None,
    )


def policies(sf: ScenarioFile, bm: Benchmark) -> list[Policy]:
    """The policy arrays of every scenario of ``sf``; checks every name against ``bm``."""
    return [policy(sf.path, sc, bm) for sc in sf.scenarios]


def policy(path: Path, sc: Scenario, bm: Benchmark) -> Policy:
    """Turn one scenario into tariffs, trade costs and deficits aligned with ``bm``."""
    err = _Errors(path)
    t1 = bm.t0.copy()
    d_hat = np.ones_like(bm.t0)
    for entry in sc.tariffs:
        for n, i, j in _cells(err, entry.key, entry.cells, bm):
            old = bm.t0[n, i, j]
            new = {"rate": entry.value, "add": old + entry.value,
                   "floor": max(old, entry.value)}[entry.mode]
            if not new > -1.0:
                err.fail(entry.key, f"gives a tariff of {new:g} ({new * 100:g} %) on "
                         f"{bm.regions[n]} imports of {bm.sectors[j]} from {bm.regions[i]}: "
                         "tariffs must be above -1 (-100 %)")
            t1[n, i, j] = new
    for entry in sc.trade_costs:
        for n, i, j in _cells(err, entry.key, entry.cells, bm):
            d_hat[n, i, j] = entry.factor
    rule = sc.closure.trade_balance
    if not isinstance(rule, str):
        index = {r: k for k, r in enumerate(bm.regions)}
        for region, _ in rule:
            if region not in index:
                err.fail(f"scenarios.{sc.name}.closure.trade_balance.{region}",
                         f"unknown region '{region}'; the regions are {', '.join(bm.regions)}")
        rule = {index[r]: v for r, v in rule}
    try:
        return make_policy(bm, t1=t1, d_hat=d_hat, D1=deficit_rule(bm, rule))
    except ModelError as exc:
        err.fail(f"scenarios.{sc.name}", str(exc))


# ----------------------------------------------------------------------------------------------


class _Errors:
    """Raises :class:`ScenarioError` with the file and key in the message."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str):
        raise ScenarioError(f"{self.path}: {key}: {message}")

    def keys(self, doc: dict, allowed: tuple[str, ...], where: str) -> None:
        for key in doc:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                self.fail(name, f"unknown key; valid keys here are {', '.join(allowed)}")

    def table(self, value, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, not {type(value).__name__}")
        return value

    def string(self, value, where: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, not {value!r}")
        return value

    def number(self, value, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            self.fail(where, f"must be a number, not {value!r}")
        return float(value)

    def names(self, value, where: str, allow_all: bool = True) -> tuple[str, ...] | None:
        if allow_all and value == "all":
            return None
        if isinstance(value, str):
            return (value,)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.fail(where, f'must be a name, a list of names or "all", not {value!r}')


def _entries(err: _Errors, doc: dict, where: str, key: str, parse) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        err.fail(f"{where}.{key}", f"must be an array of tables ([[{where}.{key}]])")
    return [parse(err, entry, f"{where}.{key}[{k}]") for k, entry in enumerate(value)]


def _selection(err: _Errors, entry: dict, where: str) -> Selection:
    for required in ("importer", "exporter", "sectors"):
        if required not in entry:
            err.fail(f"{where}.{required}", "missing")
    excluded = entry.get("except", [])
    if not isinstance(excluded, list) or not all(isinstance(v, str) for v in excluded):
        err.fail(f"{where}.except", f"must be a list of sector names, not {excluded!r}")
    return Selection(
        importers=err.names(entry["importer"], f"{where}.importer"),
        exporters=err.names(entry["exporter"], f"{where}.exporter"),
        sectors=err.names(entry["sectors"], f"{where}.sectors"),
        excluded=tuple(excluded),
    )


def _tariff(err: _Errors, entry: dict, where: str) -> TariffEntry:
    err.keys(entry, TARIFF_KEYS, where)
    modes = [m for m in TARIFF_MODES if m in entry]
    if len(modes) != 1:
        err.fail(where, "needs exactly one of rate, add or floor"
                 + (f"; it has {' and '.join(modes)}" if modes else ""))
    mode = modes[0]
    value = err.number(entry[mode], f"{where}.{mode}")
    if mode in ("rate", "floor") and not value > -1.0:
        err.fail(f"{where}.{mode}", f"{value:g} is not above -1 (-100 %)")
    return TariffEntry(key=where, cells=_selection(err, entry, where), mode=mode, value=value)


def _trade_cost(err: _Errors, entry: dict, where: str) -> TradeCostEntry:
    err.keys(entry, TRADE_COST_KEYS, where)
    if "factor" not in entry:
        err.fail(f"{where}.factor", "missing (1.10 = trade costs 10 % higher)")
    factor = err.number(entry["factor"], f"{where}.factor")
    if not factor > 0:
        err.fail(f"{where}.factor", f"{factor:g} must be positive")
    return TradeCostEntry(key=where, cells=_selection(err, entry, where), factor=factor)


def _closure(err: _Errors, doc: dict, where: str) -> Closure:
    err.keys(doc, CLOSURE_KEYS, where)
    rule = doc.get("trade_balance", "fixed")
    if isinstance(rule, str):
        if rule not in ("fixed", "balanced"):
            err.fail(f"{where}.trade_balance",
                     f"'{rule}' is not a closure; use \"fixed\", \"balanced\" or a table of "
                     "deficit targets such as { JPN = 0.0 }")
        return Closure(rule)
    if isinstance(rule, dict) and rule:
        return Closure(tuple(
            (region, err.number(v, f"{where}.trade_balance.{region}")) for region, v in rule.items()
        ))
    err.fail(f"{where}.trade_balance", f"must be \"fixed\", \"balanced\" or a table, not {rule!r}")


def _cells(err: _Errors, key: str, cells: Selection, bm: Benchmark):
    """Yield ``(importer, exporter, sector)`` indices of a selection; own-goods cells of an
    ``"all"`` selection are skipped, an explicit one is an error."""
    regions, sectors = bm.regions, bm.sectors

    def pick(names, valid, what, field):
        if names is None:
            return list(range(len(valid)))
        out = []
        for name in names:
            if name not in valid:
                err.fail(f"{key}.{field}",
                         f"unknown {what} '{name}'; the {what}s are {', '.join(valid)}")
            out.append(valid.index(name))
        return out

    importers = pick(cells.importers, regions, "region", "importer")
    exporters = pick(cells.exporters, regions, "region", "exporter")
    chosen = pick(cells.sectors, sectors, "sector", "sectors")
    dropped = pick(cells.excluded, sectors, "sector", "except")
    chosen = [j for j in chosen if j not in dropped]
    if not chosen:
        err.fail(f"{key}.sectors", "selects no sector once 'except' is applied")
    for n in importers:
        for i in exporters:
            if n == i:
                if cells.importers is not None and cells.exporters is not None:
                    err.fail(key, f"importer and exporter are both {regions[n]}: a region's "
                             "own goods carry no tariff or trade cost")
                continue
            for j in chosen:
                yield n, i, j

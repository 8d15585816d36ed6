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

TOP_KEYS = ("title", "data", "elasticities", "defaults", "scenarios", "solver", "sweep",
            "report")
REPORT_KEYS = ("notes", "regions", "sectors", "compare")
DEFAULT_KEYS = ("closure", "tariffs", "trade_costs", "export_taxes", "preferences")
SCENARIO_KEYS = ("description", "base", "closure", "tariffs", "trade_costs", "export_taxes",
                 "preferences", "target")
TARIFF_KEYS = ("importer", "exporter", "sectors", "except", "rate", "add", "floor")
TARIFF_MODES = ("rate", "add", "floor")
CELL_KEYS = ("importer", "exporter", "sectors", "except")
#: entry lists that set one value per cell: list name -> (value key, lower bound, meaning)
CELL_LISTS = {
    "trade_costs": ("factor", 0.0, "trade costs multiplied by factor (1.10 = 10 % higher)"),
    "export_taxes": ("rate", -1.0, "export tax or export-restraint equivalent (0.1 = 10 %)"),
    "preferences": ("factor", 0.0, "preference for the exporter's goods multiplied by factor"),
}
CLOSURE_KEYS = ("trade_balance", "armington", "factors", "capital_share", "labour")
CLOSURE_CHOICES = {
    "armington": ("one_level", "nested"),
    "factors": ("labour", "specific_capital"),
    "labour": ("full_employment", "fixed_real_wage"),
}
#: default capital share of value added for factors = "specific_capital", when the scenario
#: gives none: about a third, the conventional capital share of value added
DEFAULT_CAPITAL_SHARE = 1.0 / 3.0
TARGET_KEYS = ("balance", "region", "partner", "value", "instrument", "importer", "exporter",
               "sectors", "except", "bounds")
INSTRUMENTS = ("export_tax", "preference", "uniform_tariff")
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
class CellEntry:
    """One value for the selected cells: a trade-cost factor, an export tax or a preference
    shift (see ``CELL_LISTS``)."""

    key: str
    cells: Selection
    value: float


@dataclass(frozen=True)
class Closure:
    """How the model closes.

    ``trade_balance``: ``"fixed"``, ``"balanced"`` or ``((region, deficit), ...)``;
    ``armington``: ``"one_level"`` or ``"nested"``; ``factors``: ``"labour"`` or
    ``"specific_capital"`` with ``capital_share`` of value added; ``labour``:
    ``"full_employment"``, ``"fixed_real_wage"`` or ``((region, mode), ...)``.
    """

    trade_balance: str | tuple[tuple[str, float], ...] = "fixed"
    armington: str = "one_level"
    factors: str = "labour"
    capital_share: float = DEFAULT_CAPITAL_SHARE
    labour: str | tuple[tuple[str, str], ...] = "full_employment"

    def describe(self) -> str:
        tb = self.trade_balance
        parts = [tb if isinstance(tb, str) else ", ".join(f"{r} deficit = {v:g}" for r, v in tb)]
        if self.armington != "one_level":
            parts.append(f"{self.armington} Armington")
        if self.factors != "labour":
            parts.append(f"specific capital ({self.capital_share:g} of value added)")
        if self.labour != "full_employment":
            lab = self.labour
            parts.append(lab.replace("_", " ") if isinstance(lab, str) else
                         ", ".join(f"{r} {m.replace('_', ' ')}" for r, m in lab))
        return "; ".join(parts)


@dataclass(frozen=True)
class Target:
    """A balance to reach with one instrument the solver makes endogenous (a closure swap).

    ``balance`` is ``"bilateral"`` (exports of ``region`` to ``partner`` minus imports from it)
    or ``"overall"``; ``value`` the target in the dataset's unit; ``instrument`` one of
    ``INSTRUMENTS`` acting on the selected cells; ``bounds`` the search interval.
    """

    key: str
    balance: str
    region: str
    partner: str | None
    value: float
    instrument: str
    cells: Selection
    bounds: tuple[float, float]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    tariffs: tuple[TariffEntry, ...]
    trade_costs: tuple[CellEntry, ...]
    closure: Closure
    export_taxes: tuple[CellEntry, ...] = ()
    preferences: tuple[CellEntry, ...] = ()
    target: Target | None = None


@dataclass(frozen=True)
class ReportSpec:
    """What ``report.md`` adds for a study: a table of chosen regions and sectors, a comparison
    with other scenario files (same scenario names, other data or elasticities), and notes in
    Markdown whose ``{{variable|scenario|region|...}}`` placeholders are filled from the
    results."""

    notes: Path | None = None
    regions: tuple[str, ...] | None = None
    sectors: tuple[str, ...] | None = None
    compare: tuple["Comparison", ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Another scenario file to solve beside this one, optionally with another elasticity
    file of its dataset; ``label`` names it in tables and notes."""

    file: Path
    label: str
    elasticities: str | None = None


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
    report: ReportSpec = ReportSpec()


def load_scenario_file(path: str | Path, elasticities: str | None = None) -> ScenarioFile:
    """Parse and check the structure of a scenario file (names are checked by :func:`policies`);
    ``elasticities`` replaces the file's choice of elasticity file."""
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
    elasticities = elasticities or err.string(doc.get("elasticities", "elasticities.csv"),
                                              "elasticities")
    defaults = doc.get("defaults", {})
    err.table(defaults, "defaults")
    err.keys(defaults, DEFAULT_KEYS, "defaults")
    scenarios = doc.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        err.fail("scenarios", "missing or empty: add at least one [scenarios.NAME] table")
    parsed = []
    closures: dict[str, dict] = {}
    for name, body in scenarios.items():
        where = f"scenarios.{name}"
        err.table(body, where)
        err.keys(body, SCENARIO_KEYS, where)
        base = None
        if "base" in body:
            base_name = err.string(body["base"], f"{where}.base")
            base = next((p for p in parsed if p.name == base_name), None)
            if base is None:
                err.fail(f"{where}.base", f"'{base_name}' is not a scenario defined above; "
                         f"those are {', '.join(p.name for p in parsed) or 'none'}")
        tariffs = (list(base.tariffs) if base else _entries(
            err, defaults, "defaults", "tariffs", _tariff)) + _entries(
            err, body, where, "tariffs", _tariff)
        inherited = {"trade_costs": base.trade_costs, "export_taxes": base.export_taxes,
                     "preferences": base.preferences} if base else None
        cell_lists = {
            name_: (list(inherited[name_]) if base else _entries(
                err, defaults, "defaults", name_, _cell_entry)) + _entries(
                err, body, where, name_, _cell_entry)
            for name_ in CELL_LISTS
        }
        closure_doc = dict(closures[base.name]) if base else dict(
            err.table(defaults.get("closure", {}), "defaults.closure"))
        closure_doc.update(err.table(body.get("closure", {}), f"{where}.closure"))
        closures[name] = closure_doc
        closure = _closure(err, closure_doc, f"{where}.closure")
        target = _target(err, body["target"], f"{where}.target") if "target" in body else (
            base.target if base else None)
        parsed.append(Scenario(
            name=name,
            description=err.string(body.get("description", ""), f"{where}.description"),
            tariffs=tuple(tariffs),
            trade_costs=tuple(cell_lists["trade_costs"]),
            closure=closure,
            export_taxes=tuple(cell_lists["export_taxes"]),
            preferences=tuple(cell_lists["preferences"]),
            target=target,
        ))
    solver_doc = err.table(doc.get("solver", {}), "solver")
    err.keys(solver_doc, SOLVER_KEYS, "solver")
    for key, value in solver_doc.items():
        if key in ("max_iter", "memory"):
            if isinstance(value, bool) or not isinstance(value, int):
                err.fail(f"solver.{key}", f"must be an integer, not {value!r}")
        elif key in ("acceleration", "expenditure"):
            err.string(value, f"solver.{key}")
        else:
            err.number(value, f"solver.{key}")
    try:
        solver = SolverSettings(**solver_doc)
    except (ModelError, TypeError, ValueError) as exc:
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
        report=_report(err, doc.get("report", {}), path.parent),
    )


def _report(err: "_Errors", doc, folder: Path) -> ReportSpec:
    err.table(doc, "report")
    err.keys(doc, REPORT_KEYS, "report")
    notes = None
    if "notes" in doc:
        notes = (folder / err.string(doc["notes"], "report.notes")).resolve()
        if not notes.is_file():
            err.fail("report.notes", f"file {notes} not found")
    compare = []
    for k, entry in enumerate(doc.get("compare", [])):
        where = f"report.compare[{k}]"
        if isinstance(entry, str):
            entry = {"file": entry}
        err.table(entry, where)
        err.keys(entry, ("file", "elasticities", "label"), where)
        if "file" not in entry:
            err.fail(f"{where}.file", "missing")
        other = (folder / err.string(entry["file"], f"{where}.file")).resolve()
        if not other.is_file():
            err.fail(f"{where}.file", f"scenario file {other} not found")
        elasticities = entry.get("elasticities")
        if elasticities is not None:
            err.string(elasticities, f"{where}.elasticities")
        label = err.string(entry.get("label", other.stem), f"{where}.label")
        compare.append(Comparison(other, label, elasticities))
    names = {}
    for key in ("regions", "sectors"):
        if key in doc:
            names[key] = err.names(doc[key], f"report.{key}", allow_all=False)
    return ReportSpec(notes=notes, compare=tuple(compare), **names)


def policies(sf: ScenarioFile, bm: Benchmark) -> list[Policy]:
    """The policy arrays of every scenario of ``sf``; checks every name against ``bm``."""
    return [policy(sf.path, sc, bm) for sc in sf.scenarios]


def policy(path: Path, sc: Scenario, bm: Benchmark) -> Policy:
    """Turn one scenario into tariffs, trade costs and deficits aligned with ``bm``."""
    err = _Errors(path)
    t1 = bm.t0.copy()
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
    arrays = {"trade_costs": np.ones_like(bm.t0), "export_taxes": np.zeros_like(bm.t0),
               "preferences": np.ones_like(bm.t0)}
    for name, entries in (("trade_costs", sc.trade_costs), ("export_taxes", sc.export_taxes),
                          ("preferences", sc.preferences)):
        for entry in entries:
            for n, i, j in _cells(err, entry.key, entry.cells, bm):
                arrays[name][n, i, j] = entry.value
    closure = sc.closure
    where = f"scenarios.{sc.name}.closure"
    index = {r: k for k, r in enumerate(bm.regions)}

    def region_index(region, key):
        if region not in index:
            err.fail(key, f"unknown region '{region}'; the regions are {', '.join(bm.regions)}")
        return index[region]

    rule = closure.trade_balance
    if not isinstance(rule, str):
        rule = {region_index(r, f"{where}.trade_balance.{r}"): v for r, v in rule}
    if isinstance(closure.labour, str):
        frw = np.full(len(bm.regions), closure.labour == "fixed_real_wage")
    else:
        frw = np.zeros(len(bm.regions), dtype=bool)
        for r, mode in closure.labour:
            frw[region_index(r, f"{where}.labour.{r}")] = mode == "fixed_real_wage"
    if sc.target is not None:
        resolve_target(err, sc.target, closure, bm)
    try:
        return make_policy(
            bm, t1=t1, d_hat=arrays["trade_costs"], D1=deficit_rule(bm, rule),
            e1=arrays["export_taxes"], pref=arrays["preferences"],
            nested=closure.armington == "nested",
            capital_share=closure.capital_share if closure.factors == "specific_capital" else None,
            fixed_real_wage=frw,
        )
    except ModelError as exc:
        err.fail(f"scenarios.{sc.name}", str(exc))


def resolve_target(err, target: Target, closure: Closure, bm: Benchmark):
    """Check a target against the dataset and closure; returns ``(region, partner, mask)``
    indices and the boolean mask ``[importer, exporter, sector]`` of the instrument's cells."""
    if not isinstance(err, _Errors):
        err = _Errors(err)
    index = {r: k for k, r in enumerate(bm.regions)}
    for key, name in (("region", target.region), ("partner", target.partner)):
        if name is not None and name not in index:
            err.fail(f"{target.key}.{key}",
                     f"unknown region '{name}'; the regions are {', '.join(bm.regions)}")
    if target.balance == "overall":
        err.fail(f"{target.key}.balance",
                 "a region's overall trade balance is set by the trade-balance closure, so no "
                 "instrument can move it; use closure = { trade_balance = { "
                 f"{target.region} = ... }} }} or a bilateral target")
    if target.partner == target.region:
        err.fail(f"{target.key}.partner", "must differ from region")
    mask = np.zeros(bm.t0.shape, dtype=bool)
    for n, i, j in _cells(err, target.key, target.cells, bm):
        mask[n, i, j] = True
    if target.instrument == "uniform_tariff" and (bm.t0[mask] + target.bounds[0] <= -1.0).any():
        err.fail(f"{target.key}.bounds", f"the low bound {target.bounds[0]:g} would take a "
                 "tariff to -100 % or below")
    if len(bm.regions) == 2:
        err.fail(f"{target.key}.balance",
                 "with two regions a bilateral balance is the overall balance, which the "
                 "trade-balance closure sets; no instrument can move it. Use closure = { "
                 f"trade_balance = {{ {target.region} = ... }} }} or a dataset with a third "
                 "region")
    return index[target.region], index[target.partner], mask


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


def _cell_entry(err: _Errors, entry: dict, where: str) -> CellEntry:
    list_name = where.rsplit(".", 1)[-1].split("[")[0]
    value_key, lower, meaning = CELL_LISTS[list_name]
    err.keys(entry, CELL_KEYS + (value_key,), where)
    if value_key not in entry:
        err.fail(f"{where}.{value_key}", f"missing ({meaning})")
    value = err.number(entry[value_key], f"{where}.{value_key}")
    if not value > lower:
        err.fail(f"{where}.{value_key}", f"{value:g} must be above {lower:g}")
    return CellEntry(key=where, cells=_selection(err, entry, where), value=value)


def _closure(err: _Errors, doc: dict, where: str) -> Closure:
    err.keys(doc, CLOSURE_KEYS, where)
    rule = doc.get("trade_balance", "fixed")
    if isinstance(rule, str):
        if rule not in ("fixed", "balanced"):
            err.fail(f"{where}.trade_balance",
                     f"'{rule}' is not a closure; use \"fixed\", \"balanced\" or a table of "
                     "deficit targets such as { JPN = 0.0 }")
        trade_balance = rule
    elif isinstance(rule, dict) and rule:
        trade_balance = tuple(
            (region, err.number(v, f"{where}.trade_balance.{region}")) for region, v in rule.items()
        )
    else:
        err.fail(f"{where}.trade_balance",
                 f"must be \"fixed\", \"balanced\" or a table, not {rule!r}")
    choices = {}
    for key, valid in CLOSURE_CHOICES.items():
        value = doc.get(key, valid[0])
        if key == "labour" and isinstance(value, dict) and value:
            for region, mode in value.items():
                if mode not in valid:
                    err.fail(f"{where}.labour.{region}",
                             f"'{mode}' is not one of {', '.join(valid)}")
            choices[key] = tuple(value.items())
            continue
        if value not in valid:
            err.fail(f"{where}.{key}", f"{value!r} is not one of {', '.join(valid)}")
        choices[key] = value
    share = err.number(doc.get("capital_share", DEFAULT_CAPITAL_SHARE), f"{where}.capital_share")
    if not 0.0 <= share < 1.0:
        err.fail(f"{where}.capital_share", f"{share:g} must be in [0, 1)")
    if "capital_share" in doc and choices["factors"] != "specific_capital":
        err.fail(f"{where}.capital_share",
                 "has no effect unless factors = \"specific_capital\"; set both or neither")
    return Closure(trade_balance=trade_balance, capital_share=share, **choices)


def _target(err: _Errors, doc, where: str) -> Target:
    err.table(doc, where)
    err.keys(doc, TARGET_KEYS, where)
    for key in ("balance", "region", "value", "instrument"):
        if key not in doc:
            err.fail(f"{where}.{key}", "missing" + (
                f"; choose one of {', '.join(INSTRUMENTS)}" if key == "instrument" else ""))
    balance = err.string(doc["balance"], f"{where}.balance")
    if balance not in ("bilateral", "overall"):
        err.fail(f"{where}.balance", f"'{balance}' must be 'bilateral' or 'overall'")
    instrument = doc["instrument"]
    if isinstance(instrument, list):
        err.fail(f"{where}.instrument",
                 f"one target takes exactly one instrument, not {len(instrument)}: "
                 f"{', '.join(map(str, instrument))}")
    instrument = err.string(instrument, f"{where}.instrument")
    if instrument not in INSTRUMENTS:
        err.fail(f"{where}.instrument",
                 f"unknown instrument '{instrument}'; choose one of {', '.join(INSTRUMENTS)}")
    partner = doc.get("partner")
    if balance == "bilateral" and partner is None:
        err.fail(f"{where}.partner", "missing: a bilateral target needs a partner region")
    default_bounds = {"export_tax": (-0.5, 10.0), "preference": (0.02, 50.0),
                      "uniform_tariff": (-0.5, 10.0)}[instrument]
    bounds = doc.get("bounds", list(default_bounds))
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            or not all(math.isfinite(b) for b in bounds) or not bounds[0] < bounds[1]):
        err.fail(f"{where}.bounds",
                 f"must be [low, high], finite numbers with low < high, not {bounds!r}")
    floor = {"export_tax": -1.0, "preference": 0.0, "uniform_tariff": -1.0}[instrument]
    if not bounds[0] > floor:
        err.fail(f"{where}.bounds", f"the low bound {bounds[0]:g} of {instrument} must be above "
                 f"{floor:g}" + (" (a preference factor is positive)" if instrument ==
                                 "preference" else " (-100 %)"))
    return Target(
        key=where,
        balance=balance,
        region=err.string(doc["region"], f"{where}.region"),
        partner=None if partner is None else err.string(partner, f"{where}.partner"),
        value=err.number(doc["value"], f"{where}.value"),
        instrument=instrument,
        cells=_selection(err, doc, where),
        bounds=(float(bounds[0]), float(bounds[1])),
    )


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

"""Scenario files (TOML) into the frozen records of :mod:`model.scenario.records`.

Structure and values are checked here; names of regions and sectors are checked against the
dataset when the scenarios become policies (:mod:`model.scenario.policy`).  Every problem
raises :class:`~model.scenario.errors.ScenarioError` naming the file and the key.  The format
is documented in docs/formats.md.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path

from model.core.settings import ModelError, SolverSettings
from model.core.instruments import INSTRUMENTS
from model.scenario.errors import Errors, ScenarioError
from model.scenario.records import (DEFAULT_CAPITAL_SHARE, CellEntry, Closure, Comparison,
                                    Nash, OptimalTariff, QuotaEntry, RegimeEntry, ReportSpec,
                                    Scenario, ScenarioFile, TariffEntry, Target)
from model.scenario.selection import parse_selection

#: what a scenario name may be made of
NAME = re.compile(r"[A-Za-z0-9_.\-]+")
TOP_KEYS = ("title", "data", "elasticities", "defaults", "scenarios", "solver", "sweep",
            "report")
REPORT_KEYS = ("notes", "regions", "sectors", "compare")
COMPARE_KEYS = ("file", "label", "elasticities", "data", "armington", "scenarios")
DEFAULT_KEYS = ("closure", "regimes", "tariffs", "trade_costs", "export_taxes", "preferences",
                "quotas")
#: the endogenous searches a scenario may have (at most one)
SEARCH_KEYS = ("target", "optimal_tariff", "nash")
SCENARIO_KEYS = ("description", "base", "closure", "regimes", "tariffs", "trade_costs",
                 "export_taxes", "preferences", "quotas") + SEARCH_KEYS
TARIFF_KEYS = ("importer", "exporter", "sectors", "except", "rate", "add", "floor")
REGIME_KEYS = ("regime", "importer", "exporter", "sectors", "except")
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
TARGET_KEYS = ("balance", "region", "partner", "value", "instrument", "importer", "exporter",
               "sectors", "except", "bounds", "instrument_region")
QUOTA_KEYS = CELL_KEYS + ("ratio", "quantity", "mode", "in_quota_rate", "out_of_quota_rate",
                          "rents")
OPTIMAL_KEYS = ("region", "exporter", "sectors", "except", "bounds", "points")
NASH_KEYS = ("players", "sectors", "except", "bounds", "tol", "max_rounds")
#: default search interval of optimal and Nash tariffs, and of the curve of an optimal tariff
TARIFF_SEARCH_BOUNDS = (0.0, 1.0)
CURVE_POINTS = 21
SOLVER_KEYS = ("tol", "max_iter", "damping", "acceleration", "memory", "expenditure")


def load_scenario_file(path: str | Path, elasticities: str | None = None,
                       variant: Comparison | None = None) -> ScenarioFile:
    """Parse and check the structure of a scenario file (names are checked against the dataset
    by :mod:`model.scenario.policy`); ``elasticities`` replaces the file's choice of elasticity
    file, and a ``variant`` (a compared file of another's report) its dataset, elasticities,
    Armington form or scenarios."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: scenario file not found") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") \
            from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot be read ({exc})") from None
    return parse_scenario_text(text, path, elasticities, variant)


def parse_scenario_text(text: str, path: str | Path, elasticities: str | None = None,
                        variant: Comparison | None = None) -> ScenarioFile:
    """Parse and check scenario-file text as if it were read from ``path`` (which names it in
    messages and anchors its relative paths; the file need not exist)."""
    path = Path(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise ScenarioError(f"{path}: not valid TOML (nested too deeply)") from None
    err = Errors(path)
    err.keys(doc, TOP_KEYS, "")
    if "data" not in doc:
        err.fail("data", "missing: the dataset folder, relative to this file")
    data = (path.parent / err.string(doc["data"], "data")).resolve()
    elasticities = elasticities or err.string(doc.get("elasticities", "elasticities.csv"),
                                              "elasticities")
    if Path(elasticities).name != elasticities or not elasticities.endswith(".csv"):
        err.fail("elasticities", f"{elasticities!r} must be the name of a .csv file in the "
                 "dataset folder")
    scenarios = _scenarios(err, doc)
    if variant is not None:
        data = variant.data or data
        elasticities = variant.elasticities or elasticities
        scenarios = _variant_scenarios(err, scenarios, variant)
    return ScenarioFile(
        path=path.resolve(),
        text=text,
        title=err.string(doc.get("title", path.stem), "title"),
        data=data,
        elasticities=elasticities,
        scenarios=scenarios,
        solver=_solver(err, doc),
        sweep=err.table(doc["sweep"], "sweep") if "sweep" in doc else None,
        report=_report(err, doc.get("report", {}), path.parent),
    )


def _inside(err: Errors, path: Path, folder: Path, key: str, suffix: str) -> None:
    """A file a scenario file names must be a ``suffix`` file within the folder tree of the
    scenario file's parent folder."""
    root = folder.resolve().parent
    if path.suffix != suffix:
        err.fail(key, f"{path.name}: must be a {suffix} file")
    if root != path and root not in path.parents:
        err.fail(key, f"{path}: outside {root}, the folder tree of this scenario file")


def _variant_scenarios(err: Errors, scenarios, variant: Comparison):
    """The scenarios a compared file solves: those named (all by default), with the variant's
    Armington form."""
    names = [s.name for s in scenarios]
    chosen = scenarios
    if variant.scenarios is not None:
        for name in variant.scenarios:
            if name not in names:
                err.fail(f"(compared as '{variant.label}') scenarios", f"no scenario '{name}'; "
                         f"the scenarios are {', '.join(names)}")
        chosen = tuple(s for s in scenarios if s.name in variant.scenarios)
    if variant.armington is not None:
        chosen = tuple(dataclasses.replace(
            s, closure=dataclasses.replace(s.closure, armington=variant.armington))
            for s in chosen)
    return chosen


def _scenarios(err: Errors, doc: dict) -> tuple[Scenario, ...]:
    """The ``[scenarios.NAME]`` tables, each with the ``[defaults]`` or its ``base``."""
    defaults = doc.get("defaults", {})
    err.table(defaults, "defaults")
    err.keys(defaults, DEFAULT_KEYS, "defaults")
    scenarios = doc.get("scenarios")
    if not isinstance(scenarios, dict) or not scenarios:
        err.fail("scenarios", "missing or empty: add at least one [scenarios.NAME] table")
    parsed: list[Scenario] = []
    closures: dict[str, dict] = {}
    for name, body in scenarios.items():
        if not NAME.fullmatch(name):
            err.fail(f"scenarios.{name!r}", "a scenario name is letters, digits, '_', '-' and "
                     "'.' (it names rows of tables, placeholders and netCDF labels)")
        parsed.append(_scenario(err, name, body, defaults, parsed, closures))
    return tuple(parsed)


def _scenario(err: Errors, name: str, body, defaults: dict, parsed: list[Scenario],
              closures: dict[str, dict]) -> Scenario:
    """One scenario; ``parsed`` are those defined above it (a ``base`` must be one of them)
    and ``closures`` their closure tables, to which this one's is added."""
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

    def inherited(key, parse):
        start = list(getattr(base, key)) if base else err.entries(defaults, "defaults", key,
                                                                   parse)
        return tuple(start + err.entries(body, where, key, parse))

    closure_doc = dict(closures[base.name]) if base else dict(
        err.table(defaults.get("closure", {}), "defaults.closure"))
    closure_doc.update(err.table(body.get("closure", {}), f"{where}.closure"))
    closures[name] = closure_doc
    own = [k for k in SEARCH_KEYS if k in body]
    if len(own) > 1:
        err.fail(where, f"has {' and '.join(own)}: a scenario takes at most one endogenous "
                 "search (a target, an optimal tariff or a Nash game)")
    searches = {k: (getattr(base, k) if base and not own else None) for k in SEARCH_KEYS}
    for key, parse in (("target", _target), ("optimal_tariff", _optimal_tariff),
                       ("nash", _nash)):
        if key in body:
            searches[key] = parse(err, body[key], f"{where}.{key}")
    return Scenario(
        name=name,
        description=err.string(body.get("description", ""), f"{where}.description"),
        regimes=inherited("regimes", _regime),
        tariffs=inherited("tariffs", _tariff),
        trade_costs=inherited("trade_costs", _cell_entry),
        closure=_closure(err, closure_doc, f"{where}.closure"),
        export_taxes=inherited("export_taxes", _cell_entry),
        preferences=inherited("preferences", _cell_entry),
        quotas=inherited("quotas", _quota),
        **searches,
    )


def _solver(err: Errors, doc: dict) -> SolverSettings:
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
        return SolverSettings(**solver_doc)
    except (ModelError, TypeError, ValueError) as exc:
        err.fail("solver", str(exc))


def _report(err: "Errors", doc, folder: Path) -> ReportSpec:
    err.table(doc, "report")
    err.keys(doc, REPORT_KEYS, "report")
    notes = None
    if "notes" in doc:
        notes = (folder / err.string(doc["notes"], "report.notes")).resolve()
        if not notes.is_file():
            err.fail("report.notes", f"file {notes} not found")
        _inside(err, notes, folder, "report.notes", ".md")
    compare = []
    for k, entry in enumerate(doc.get("compare", [])):
        where = f"report.compare[{k}]"
        if isinstance(entry, str):
            entry = {"file": entry}
        err.table(entry, where)
        err.keys(entry, COMPARE_KEYS, where)
        if "file" not in entry:
            err.fail(f"{where}.file", "missing")
        other = (folder / err.string(entry["file"], f"{where}.file")).resolve()
        if not other.is_file():
            err.fail(f"{where}.file", f"scenario file {other} not found")
        _inside(err, other, folder, f"{where}.file", ".toml")
        elasticities = entry.get("elasticities")
        if elasticities is not None:
            err.string(elasticities, f"{where}.elasticities")
            if Path(elasticities).name != elasticities or not elasticities.endswith(".csv"):
                err.fail(f"{where}.elasticities", f"{elasticities!r} must be the name of a "
                         ".csv file in the dataset folder")
        data = None
        if "data" in entry:
            data = (folder / err.string(entry["data"], f"{where}.data")).resolve()
            if not data.is_dir():
                err.fail(f"{where}.data", f"dataset folder {data} not found")
        armington = entry.get("armington")
        if armington is not None and armington not in CLOSURE_CHOICES["armington"]:
            err.fail(f"{where}.armington", f"{armington!r} is not one of "
                     f"{', '.join(CLOSURE_CHOICES['armington'])}")
        chosen = (err.names(entry["scenarios"], f"{where}.scenarios", allow_all=False)
                  if "scenarios" in entry else None)
        label = err.string(entry.get("label", other.stem), f"{where}.label")
        compare.append(Comparison(other, label, elasticities, data, armington, chosen))
    names = {}
    for key in ("regions", "sectors"):
        if key in doc:
            names[key] = err.names(doc[key], f"report.{key}", allow_all=False)
    return ReportSpec(notes=notes, compare=tuple(compare), **names)


def _regime(err: Errors, entry: dict, where: str) -> RegimeEntry:
    err.keys(entry, REGIME_KEYS, where)
    if "regime" not in entry:
        err.fail(f"{where}.regime", "missing: the name of a regime of the dataset's regimes.csv")
    return RegimeEntry(key=where, regime=err.string(entry["regime"], f"{where}.regime"),
                       cells=parse_selection(err, entry, where))


def _tariff(err: Errors, entry: dict, where: str) -> TariffEntry:
    err.keys(entry, TARIFF_KEYS, where)
    modes = [m for m in TARIFF_MODES if m in entry]
    if len(modes) != 1:
        err.fail(where, "needs exactly one of rate, add or floor"
                 + (f"; it has {' and '.join(modes)}" if modes else ""))
    mode = modes[0]
    value = err.number(entry[mode], f"{where}.{mode}")
    if mode in ("rate", "floor") and not value > -1.0:
        err.fail(f"{where}.{mode}", f"{value:g} is not above -1 (-100 %)")
    return TariffEntry(key=where, cells=parse_selection(err, entry, where), mode=mode, value=value)


def _cell_entry(err: Errors, entry: dict, where: str) -> CellEntry:
    list_name = where.rsplit(".", 1)[-1].split("[")[0]
    value_key, lower, meaning = CELL_LISTS[list_name]
    err.keys(entry, CELL_KEYS + (value_key,), where)
    if value_key not in entry:
        err.fail(f"{where}.{value_key}", f"missing ({meaning})")
    value = err.number(entry[value_key], f"{where}.{value_key}")
    if not value > lower:
        err.fail(f"{where}.{value_key}", f"{value:g} must be above {lower:g}")
    return CellEntry(key=where, cells=parse_selection(err, entry, where), value=value)


def _closure(err: Errors, doc: dict, where: str) -> Closure:
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


def _bounds(err: Errors, doc: dict, where: str, default, floor: float, reason: str):
    """``doc["bounds"]`` (or ``default``): ``[low, high]``, finite, low < high, low > floor."""
    bounds = doc.get("bounds", None if default is None else list(default))
    if bounds is None:
        return None
    if (not isinstance(bounds, list) or len(bounds) != 2
            or not all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
            or not all(math.isfinite(b) for b in bounds) or not bounds[0] < bounds[1]):
        err.fail(f"{where}.bounds",
                 f"must be [low, high], finite numbers with low < high, not {bounds!r}")
    if not bounds[0] > floor:
        err.fail(f"{where}.bounds", f"the low bound {bounds[0]:g} must be above {floor:g} "
                 f"({reason})")
    return float(bounds[0]), float(bounds[1])


def _quota(err: Errors, entry: dict, where: str) -> QuotaEntry:
    err.keys(entry, QUOTA_KEYS, where)
    given = [k for k in ("ratio", "quantity") if k in entry]
    if len(given) != 1:
        err.fail(where, "needs exactly one of ratio (to the benchmark quantity) or quantity "
                 "(in the dataset's unit at benchmark prices)"
                 + (f"; it has {' and '.join(given)}" if given else
                    ": a quota, export restraint or tariff-rate quota needs its quota"))
    key = given[0]
    amount = err.number(entry[key], f"{where}.{key}")
    if not (math.isfinite(amount) and amount >= 0):
        err.fail(f"{where}.{key}", f"{amount:g}: a quota must be a finite quantity at or "
                 "above zero")
    mode = err.string(entry.get("mode", "cap"), f"{where}.mode")
    if mode not in ("cap", "fix"):
        err.fail(f"{where}.mode", f"'{mode}' must be \"cap\" (at most) or \"fix\" (exactly)")
    rates = {}
    for k in ("in_quota_rate", "out_of_quota_rate"):
        if k in entry:
            if mode == "fix":
                err.fail(f"{where}.{k}", "a fixed quantity has no in- or out-of-quota rate")
            rates[k] = err.number(entry[k], f"{where}.{k}")
            if not rates[k] > -1.0:
                err.fail(f"{where}.{k}", f"{rates[k]:g} is not above -1 (-100 %)")
    out_rate = rates.get("out_of_quota_rate", math.inf)
    if "in_quota_rate" in rates and not out_rate >= rates["in_quota_rate"]:
        err.fail(f"{where}.out_of_quota_rate", f"{out_rate:g} is below the in-quota rate "
                 f"{rates['in_quota_rate']:g}")
    rents = entry.get("rents", "importer")
    if rents in ("importer", "exporter"):
        to_exporter = 1.0 if rents == "exporter" else 0.0
    elif isinstance(rents, (int, float)) and not isinstance(rents, bool) and 0 <= rents <= 1:
        to_exporter = float(rents)
    else:
        err.fail(f"{where}.rents", f"{rents!r} must be \"importer\", \"exporter\" or the "
                 "exporter's share of the rent, a number in [0, 1]")
    return QuotaEntry(key=where, cells=parse_selection(err, entry, where),
                      ratio=amount if key == "ratio" else None,
                      quantity=amount if key == "quantity" else None, mode=mode,
                      in_quota_rate=rates.get("in_quota_rate"), out_of_quota_rate=out_rate,
                      to_exporter=to_exporter)


def _optimal_tariff(err: Errors, doc, where: str) -> OptimalTariff:
    err.table(doc, where)
    err.keys(doc, OPTIMAL_KEYS, where)
    if "region" not in doc:
        err.fail(f"{where}.region", "missing: the region that sets the tariff")
    region = err.string(doc["region"], f"{where}.region")
    entry = {"importer": region, "exporter": doc.get("exporter", "all"),
             **{k: doc[k] for k in ("sectors", "except") if k in doc}}
    return OptimalTariff(
        key=where, region=region,
        cells=parse_selection(err, entry, where, default_sectors="all"),
        bounds=_bounds(err, doc, where, TARIFF_SEARCH_BOUNDS, -1.0, "-100 %"),
        points=err.integer(doc.get("points", CURVE_POINTS), f"{where}.points", 3,
                           "integer of at least 3"))


def _nash(err: Errors, doc, where: str) -> Nash:
    err.table(doc, where)
    err.keys(doc, NASH_KEYS, where)
    if "players" not in doc:
        err.fail(f"{where}.players", "missing: the regions that set tariffs (two or more)")
    players = err.names(doc["players"], f"{where}.players", allow_all=False)
    if len(players) < 2 or len(set(players)) != len(players):
        err.fail(f"{where}.players", f"{list(players)}: a Nash game needs two or more "
                 "different players")
    tol = err.number(doc.get("tol", 1e-8), f"{where}.tol")
    if not 0 < tol < 1:
        err.fail(f"{where}.tol", f"{tol:g} must be in (0, 1)")
    entry = {"importer": "all", "exporter": "all",
             **{k: doc[k] for k in ("sectors", "except") if k in doc}}
    return Nash(key=where, players=players,
                cells=parse_selection(err, entry, where, default_sectors="all"),
                bounds=_bounds(err, doc, where, TARIFF_SEARCH_BOUNDS, -1.0, "-100 %"),
                tol=tol, max_rounds=err.integer(doc.get("max_rounds", 50),
                                                f"{where}.max_rounds", 1, "positive integer"))


def _target(err: Errors, doc, where: str) -> Target:
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
    name = err.string(instrument, f"{where}.instrument")
    if name not in INSTRUMENTS:
        err.fail(f"{where}.instrument",
                 f"unknown instrument '{name}'; choose one of {', '.join(INSTRUMENTS)}")
    instrument = INSTRUMENTS[name]
    partner = doc.get("partner")
    if balance == "bilateral" and partner is None:
        err.fail(f"{where}.partner", "missing: a bilateral target needs a partner region")
    if instrument.on_cells:
        if "instrument_region" in doc:
            err.fail(f"{where}.instrument_region", f"only for the trade_balance instrument; "
                     f"{name} acts on the cells chosen by importer, exporter and sectors")
        cells = parse_selection(err, doc, where)
    else:
        given = [k for k in CELL_KEYS if k in doc]
        if given:
            err.fail(f"{where}.{given[0]}", f"{name} acts on a region's overall balance, not on "
                     "cells: name the region with instrument_region (default: region)")
        cells = None
    bounds = _bounds(err, doc, where, instrument.bounds if instrument.on_cells else None,
                     instrument.floor, instrument.floor_reason)
    return Target(
        key=where,
        balance=balance,
        region=err.string(doc["region"], f"{where}.region"),
        partner=None if partner is None else err.string(partner, f"{where}.partner"),
        value=err.number(doc["value"], f"{where}.value"),
        instrument=instrument,
        cells=cells,
        bounds=bounds,
        instrument_region=err.string(doc.get("instrument_region", doc["region"]),
                                     f"{where}.instrument_region") if not instrument.on_cells
        else None,
    )

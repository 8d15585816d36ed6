"""Cells of the model chosen by an entry of a scenario file: importers, exporters and sectors,
by name or ``"all"``, with sectors left out by ``except``; checked against a dataset."""

from __future__ import annotations

from dataclasses import dataclass

from calibration.calibrate import Benchmark
from model.scenario.errors import Errors


@dataclass(frozen=True)
class Selection:
    """Cells chosen by an entry: importers, exporters and sectors (``None`` means all)."""

    importers: tuple[str, ...] | None
    exporters: tuple[str, ...] | None
    sectors: tuple[str, ...] | None
    excluded: tuple[str, ...] = ()


def parse_selection(err: Errors, entry: dict, where: str, regions: bool = True,
                    default_sectors=None) -> Selection:
    """The selection of an entry: ``importer``, ``exporter`` (required where ``regions``),
    ``sectors`` (required unless ``default_sectors`` is given) and ``except``."""
    required = ("importer", "exporter", "sectors") if regions else ("sectors",)
    for key in required:
        if key not in entry and not (key == "sectors" and default_sectors is not None):
            err.fail(f"{where}.{key}", "missing")
    excluded = entry.get("except", [])
    if not isinstance(excluded, list) or not all(isinstance(v, str) for v in excluded):
        err.fail(f"{where}.except", f"must be a list of sector names, not {excluded!r}")
    return Selection(
        importers=err.names(entry["importer"], f"{where}.importer") if regions else None,
        exporters=err.names(entry["exporter"], f"{where}.exporter") if regions else None,
        sectors=err.names(entry.get("sectors", default_sectors), f"{where}.sectors"),
        excluded=tuple(excluded),
    )


def _pick(err: Errors, names, valid, what: str, key: str) -> list[int]:
    if names is None:
        return list(range(len(valid)))
    out = []
    for name in names:
        if name not in valid:
            err.fail(key, f"unknown {what} '{name}'; the {what}s are {', '.join(valid)}")
        out.append(valid.index(name))
    return out


def sector_indices(err: Errors, key: str, sel: Selection, bm: Benchmark) -> list[int]:
    """Indices of the selected sectors once ``except`` is applied (at least one)."""
    chosen = _pick(err, sel.sectors, bm.sectors, "sector", f"{key}.sectors")
    dropped = _pick(err, sel.excluded, bm.sectors, "sector", f"{key}.except")
    chosen = [j for j in chosen if j not in dropped]
    if not chosen:
        err.fail(f"{key}.sectors", "selects no sector once 'except' is applied")
    return chosen


def cells(err: Errors, key: str, sel: Selection, bm: Benchmark):
    """Yield ``(importer, exporter, sector)`` indices of a selection; own-goods cells of an
    ``"all"`` selection are skipped, an explicit one is an error."""
    regions = bm.regions
    importers = _pick(err, sel.importers, regions, "region", f"{key}.importer")
    exporters = _pick(err, sel.exporters, regions, "region", f"{key}.exporter")
    chosen = sector_indices(err, key, sel, bm)
    for n in importers:
        for i in exporters:
            if n == i:
                if sel.importers is not None and sel.exporters is not None:
                    err.fail(key, f"importer and exporter are both {regions[n]}: a region's "
                             "own goods carry no tariff or trade cost")
                continue
            for j in chosen:
                yield n, i, j

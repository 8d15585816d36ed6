"""Aggregation maps: which source regions and sectors make up each model region and sector.

A map is a TOML file::

    name = "icio_jpn_usa_row"          # optional: dataset name (default: the output folder's)
    description = "..."                # optional
    year = 2018                        # optional for ICIO (read from the file name), else needed
    unit = "US$ bn"                    # optional: default the source's unit
    currency = "USD"                   # optional
    scale = 0.001                      # optional: every value is multiplied by it (default 1)

    [regions]                          # model region = source regions, or "*" for all the rest
    JPN = ["JPN"]
    USA = ["USA"]
    ROW = "*"

    [sectors]                          # model sector = source sectors (or "*")
    agriculture = ["D01T02", "D03"]
    manufacturing = "*"

    [sigma]                            # Armington elasticity by model sector (> 1)
    default = 4.0                      # optional: for the sectors not listed
    agriculture = 2.35

Every source label must be mapped exactly once; at most one model name per table may take "*".
The order of the model regions and sectors is the order of the map.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.sources import SourceError, SourceTable

#: Elasticity of sectors that neither the map's ``[sigma]`` table nor its ``default`` names:
#: sigma = 1 + theta with the trade elasticity theta = 4 (Simonovska and Waugh 2014, J. Int.
#: Econ. 92(1), their preferred estimate 4.12, rounded).
DEFAULT_SIGMA = 5.0

#: Model region and sector names: letters, digits, "_", "-", "."; starting with a letter or digit.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
#: Words a scenario file gives a meaning of their own, so they cannot name a region or sector.
RESERVED_NAMES = ("all",)

TOP_KEYS = ("name", "description", "year", "unit", "currency", "scale", "regions", "sectors",
            "sigma")


@dataclass(frozen=True)
class AggregationMap:
    """A parsed map file.

    Attributes
    ----------
    path : the map file; ``sha256`` its checksum.
    regions, sectors : dict of model name to a tuple of source labels, or ``"*"``.
    sigma : dict of model sector to its elasticity (explicit entries only).
    default_sigma : for sectors not in ``sigma``; ``default_source`` says where it came from.
    """

    path: Path
    sha256: str
    regions: dict
    sectors: dict
    sigma: dict
    default_sigma: float
    default_source: str
    name: str | None = None
    description: str | None = None
    year: int | None = None
    unit: str | None = None
    currency: str | None = None
    scale: float = 1.0

    def sigma_of(self, sector: str) -> float:
        return self.sigma.get(sector, self.default_sigma)


def read_map(path: str | Path) -> AggregationMap:
    """Read and check a map file (names, types, elasticities); labels are checked later
    against the source by :func:`aggregate`."""
    path = Path(path)
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{where}: cannot read the map ({exc.strerror})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"{where}: not valid TOML ({exc})") from None
    unknown = [k for k in doc if k not in TOP_KEYS]
    if unknown:
        raise SourceError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                          f"valid keys are {', '.join(TOP_KEYS)}")
    for key in ("regions", "sectors"):
        if not isinstance(doc.get(key), dict) or not doc[key]:
            raise SourceError(f"{where}: a [{key}] table with at least one entry is required")
    regions = _targets(where, "regions", doc["regions"])
    sectors = _targets(where, "sectors", doc["sectors"])
    sigma, default, default_source = _sigma(where, doc.get("sigma", {}), sectors)
    options = {}
    for key in ("name", "description", "unit", "currency"):
        if key in doc:
            if not isinstance(doc[key], str):
                raise SourceError(f"{where}: {key} must be a string")
            options[key] = doc[key]
    if "name" in options and not NAME_PATTERN.fullmatch(options["name"]):
        raise SourceError(f"{where}: name '{options['name']}' must be letters, digits, '_', '-' "
                          "or '.'")
    if "year" in doc:
        if not isinstance(doc["year"], int) or isinstance(doc["year"], bool):
            raise SourceError(f"{where}: year must be an integer, not {doc['year']!r}")
        options["year"] = doc["year"]
    if "scale" in doc:
        scale = doc["scale"]
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0 \
                or scale == float("inf"):
            raise SourceError(f"{where}: scale must be a positive number, not {scale!r}")
        options["scale"] = float(scale)
    return AggregationMap(path=path, sha256=hashlib.sha256(raw).hexdigest(), regions=regions,
                          sectors=sectors, sigma=sigma, default_sigma=default,
                          default_source=default_source, **options)


def _targets(where: str, table: str, entries: dict) -> dict:
    out = {}
    wildcard = None
    for target, sources in entries.items():
        key = f"{where}: [{table}] {target!r}"
        if not NAME_PATTERN.fullmatch(target):
            raise SourceError(
                f"{key}: not a valid model name; use letters, digits, '_', '-' or '.', starting "
                "with a letter or digit (no spaces or commas), so the dataset's CSV files and "
                "scenario files can refer to it")
        if target.lower() in RESERVED_NAMES:
            raise SourceError(f"{key}: '{target}' is reserved in scenario files (it selects every "
                              f"{table[:-1]}); choose another name")
        if table == "sectors" and target == "final_demand":
            raise SourceError(f"{key}: 'final_demand' names the final-demand column of the "
                              "balancing record; choose another sector name")
        if sources == "*":
            if wildcard is not None:
                raise SourceError(f"{where}: [{table}] both {wildcard!r} and {target!r} take \"*\"; "
                                  "only one can take the remaining labels")
            wildcard = target
            out[target] = "*"
            continue
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not sources or \
                not all(isinstance(s, str) and s for s in sources):
            raise SourceError(f"{key}: must be a list of source labels or \"*\", not {sources!r}")
        out[target] = tuple(sources)
    return out


def _sigma(where: str, table, sectors: dict):
    if not isinstance(table, dict):
        raise SourceError(f"{where}: [sigma] must be a table of sector = elasticity")
    sigma = {}
    default, source = DEFAULT_SIGMA, "built-in default (1 + trade elasticity 4)"
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 1 \
                or value == float("inf"):
            raise SourceError(f"{where}: [sigma] {key} = {value!r}: an elasticity must be a "
                              "finite number above 1")
        if key == "default":
            default, source = float(value), "the map's default"
        elif key not in sectors:
            raise SourceError(f"{where}: [sigma] {key!r} is not a sector of [sectors] "
                              f"({', '.join(sectors)})")
        else:
            sigma[key] = float(value)
    return sigma, default, source


def assignment(where: str, table: str, targets: dict, labels: tuple[str, ...]) -> np.ndarray:
    """Index of the model name each source label goes to.

    Raises
    ------
    SourceError
        Naming the source labels left unmapped, mapped twice, or unknown to the source.
    """
    index = {label: k for k, label in enumerate(labels)}
    out = np.full(len(labels), -1)
    wildcard = None
    for t, (target, sources) in enumerate(targets.items()):
        if sources == "*":
            wildcard = t
            continue
        unknown = [s for s in sources if s not in index]
        if unknown:
            raise SourceError(
                f"{where}: [{table}] {target} = {', '.join(unknown)}: not a {table[:-1]} of the "
                f"source; the source has {_listing(labels)}")
        for s in sources:
            if out[index[s]] >= 0:
                first = list(targets)[out[index[s]]]
                raise SourceError(f"{where}: [{table}] source {table[:-1]} {s} is mapped twice "
                                  f"(to {first} and to {target})")
            out[index[s]] = t
    if wildcard is not None:
        out[out < 0] = wildcard
    missing = [labels[k] for k in np.flatnonzero(out < 0)]
    if missing:
        raise SourceError(
            f"{where}: [{table}] source {table[:-1]}(s) {', '.join(missing)} are not mapped; "
            f"add them to a {table[:-1]} or give one {table[:-1]} \"*\"")
    return out


def _listing(labels, limit=20) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def concordance(index: np.ndarray, n_targets: int) -> np.ndarray:
    """0/1 matrix ``C[source, target]`` with one 1 per row: where each source label goes."""
    c = np.zeros((len(index), n_targets))
    c[np.arange(len(index)), index] = 1.0
    return c


def sum_axis(array: np.ndarray, axis: int, conc: np.ndarray) -> np.ndarray:
    """Sum ``array`` along ``axis`` into groups: ``out[..., t, ...] = Σ_s conc[s, t] a[..., s, ...]``."""
    return np.moveaxis(np.tensordot(array, conc, axes=([axis], [0])), -1, axis)


def aggregate(table: SourceTable, amap: AggregationMap) -> SourceTable:
    """The table on the map's regions and sectors: every value is a sum of source values.

    Shipments between two source regions of one model region become that region's domestic
    sales (their duties stay in ``duties`` and are dealt with by the build); world totals of
    shipments, duties, purchases and value added are unchanged (times ``scale``).
    """
    where = str(amap.path)
    cr = concordance(assignment(where, "regions", amap.regions, table.regions), len(amap.regions))
    cs = concordance(assignment(where, "sectors", amap.sectors, table.sectors), len(amap.sectors))
    scale = amap.scale

    def agg(array, axes):
        out = array
        for axis, kind in axes:
            out = sum_axis(out, axis, cr if kind == "r" else cs)
        return out * scale if scale != 1.0 else out

    three = ((0, "r"), (1, "r"), (2, "s"))
    return SourceTable(
        regions=tuple(amap.regions),
        sectors=tuple(amap.sectors),
        flows=agg(table.flows, three),
        duties=agg(table.duties, three),
        intermediates=agg(table.intermediates, ((0, "r"), (1, "s"), (2, "s"))),
        final_demand=agg(table.final_demand, ((0, "r"), (1, "s"))),
        value_added=agg(table.value_added, ((0, "r"), (1, "s"))),
        folded={k: v * scale for k, v in table.folded.items()},
        unit=amap.unit or table.unit,
        currency=amap.currency or table.currency,
        year=amap.year if amap.year is not None else table.year,
        description=table.description,
    )


def expanded(targets: dict, labels: tuple[str, ...], where: str, kind: str) -> dict:
    """The map with "*" replaced by the source labels it takes (for the dataset's record)."""
    index = assignment(where, kind, targets, labels)
    return {t: [labels[k] for k in np.flatnonzero(index == n)] for n, t in enumerate(targets)}

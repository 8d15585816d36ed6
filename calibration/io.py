"""Read a dataset folder (CSV files plus ``dataset.toml``) into labelled arrays, and check it.

A dataset that fails a check is never repaired here: every failure raises
:class:`DatasetError` with the file, the row and the numbers.  Balancing is a separate,
explicit step (:mod:`calibration.balance`).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.accounts import absorption

#: Relative tolerance of the gross-output identity (output = value added + intermediates).
OUTPUT_IDENTITY_RTOL = 1e-6

REQUIRED_FILES = ("flows.csv", "value_added.csv", "elasticities.csv", "dataset.toml")
OPTIONAL_FILES = ("intermediates.csv", "tariffs.csv", "regimes.csv")
DATASET_TOML_KEYS = ("name", "year", "currency", "unit", "description", "sources")


class DatasetError(ValueError):
    """A dataset folder that cannot be read or does not pass a check."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A benchmark dataset as labelled arrays.

    Attributes
    ----------
    regions, sectors : tuple of str
        Labels, in the order of first appearance in ``value_added.csv``.
    flows : ndarray, shape (R, R, S)
        ``flows[i, n, j]``: shipments of sector ``j`` from exporter ``i`` to importer ``n`` at
        pre-tariff prices; the diagonal ``i == n`` holds domestic sales.
    value_added : ndarray, shape (R, S)
    intermediates : ndarray, shape (R, S, S)
        ``intermediates[n, k, j]``: purchases of the sector-``k`` composite by sector ``j``.
    tariffs : ndarray, shape (R, R, S)
        ``tariffs[n, i, j]``: ad valorem rate of importer ``n`` on exporter ``i`` (0.025 = 2.5 %).
    sigma, sigma_m : ndarray, shape (S,)
        Armington elasticity (one level); ``sigma_m`` is the within-imports elasticity of the
        nested form, equal to ``sigma`` when the file has no ``sigma_m`` column.
    regimes : dict of str to ndarray, shape (R, R, S)
        Named tariff regimes of ``regimes.csv``: ``regimes[name][n, i, j]`` is the rate of
        importer ``n`` on exporter ``i`` under the regime, NaN where the regime sets none.
    """

    path: Path
    name: str
    year: int
    currency: str
    unit: str
    description: str
    sources: dict
    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    flows: np.ndarray
    value_added: np.ndarray
    intermediates: np.ndarray
    tariffs: np.ndarray
    sigma: np.ndarray
    sigma_m: np.ndarray
    elasticities_file: str = "elasticities.csv"
    files_hash: str = ""
    meta: dict = field(default_factory=dict)
    regimes: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("flows", "value_added", "intermediates", "tariffs", "sigma", "sigma_m"):
            getattr(self, name).setflags(write=False)


def load_dataset(path: str | Path, elasticities: str = "elasticities.csv") -> Dataset:
    """Read and check the dataset folder ``path``.

    Parameters
    ----------
    path : folder holding ``flows.csv``, ``value_added.csv``, ``elasticities.csv``,
        ``dataset.toml`` and optionally ``intermediates.csv`` and ``tariffs.csv``.
    elasticities : name of the elasticity file inside the folder (an alternative set such as
        ``elasticities_cp2015.csv`` can be chosen).

    Raises
    ------
    DatasetError
        With the file, row and numbers of the first problem found.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    for name in REQUIRED_FILES:
        if name == "elasticities.csv":
            name = elasticities
        if not (folder / name).is_file():
            raise DatasetError(f"{folder / name}: required file is missing")

    meta = _read_meta(folder / "dataset.toml")
    regions, sectors, value_added = _read_value_added(folder / "value_added.csv")
    check_size(folder / "value_added.csv", len(regions), len(sectors))
    sidx = {s: k for k, s in enumerate(sectors)}
    index = {"region": {r: k for k, r in enumerate(regions)}, "sector": sidx}
    flows = _read_cells(folder / "flows.csv", ("exporter", "importer", "sector", "value"),
                        ("region", "region", "sector"), index, _nonneg_value, required=True)
    intermediates = _read_cells(folder / "intermediates.csv",
                                ("region", "input", "sector", "value"),
                                ("region", "sector", "sector"), index, _nonneg_value)
    tariffs = _read_cells(folder / "tariffs.csv", ("importer", "exporter", "sector", "rate"),
                          ("region", "region", "sector"), index, _tariff_rate)

    sigma, sigma_m = _read_elasticities(folder / elasticities, sidx)
    regimes = _read_regimes(folder / "regimes.csv", index)

    return make_dataset(
        regions, sectors, flows, value_added, intermediates, tariffs, sigma, sigma_m,
        path=folder.resolve(),
        name=meta["name"],
        year=int(meta["year"]),
        currency=str(meta["currency"]),
        unit=str(meta["unit"]),
        description=str(meta["description"]),
        sources=dict(meta["sources"]),
        elasticities_file=elasticities,
        files_hash=files_hash(folder, elasticities),
        meta=meta,
        regimes=regimes,
    )


#: arrays of regions x regions x sectors (and regions x sectors x sectors) held at once while
#: a dataset is calibrated and solved (data, benchmark shares, solver workspace), a bound
#: measured on the shipped datasets with room to spare
ARRAYS_HELD = 40


def memory_needed(n_regions: int, n_sectors: int) -> int:
    """Bytes the model's arrays take for a dataset of this size (an upper estimate)."""
    return 8 * ARRAYS_HELD * (n_regions ** 2 * n_sectors + n_regions * n_sectors ** 2)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (None where it cannot be read)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_size(where, n_regions: int, n_sectors: int) -> None:
    """Refuse a dataset whose arrays would not fit in the memory available, before any of them
    is allocated."""
    need, have = memory_needed(n_regions, n_sectors), available_memory()
    if have is not None and need > have:
        raise DatasetError(f"{where}: {n_regions} regions x {n_sectors} sectors need about "
                           f"{need / 2**30:.1f} GiB for the model's arrays; "
                           f"{have / 2**30:.1f} GiB of memory is available")


def make_dataset(regions, sectors, flows, value_added, intermediates=None, tariffs=None,
                 sigma=None, sigma_m=None, **info) -> Dataset:
    """Build a :class:`Dataset` from arrays, with the same accounting checks as the loader.

    ``info`` fills the descriptive fields (``name``, ``year``, ``unit``, ...); ``path`` names the
    source in error messages.
    """
    regions, sectors = tuple(regions), tuple(sectors)
    nr, ns = len(regions), len(sectors)
    flows = np.array(flows, dtype=float)
    value_added = np.array(value_added, dtype=float)
    intermediates = np.zeros((nr, ns, ns)) if intermediates is None else np.array(intermediates, float)
    tariffs = np.zeros((nr, nr, ns)) if tariffs is None else np.array(tariffs, dtype=float)
    sigma = np.array(sigma, dtype=float)
    sigma_m = sigma.copy() if sigma_m is None else np.array(sigma_m, dtype=float)
    where = info.get("path", "dataset")
    shapes = {"flows": (nr, nr, ns), "value_added": (nr, ns), "intermediates": (nr, ns, ns),
              "tariffs": (nr, nr, ns), "sigma": (ns,), "sigma_m": (ns,)}
    arrays = {"flows": flows, "value_added": value_added, "intermediates": intermediates,
              "tariffs": tariffs, "sigma": sigma, "sigma_m": sigma_m}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise DatasetError(f"{where}: {key} has shape {arrays[key].shape}, expected {shape}")
        if not np.isfinite(arrays[key]).all():
            raise DatasetError(f"{where}: {key} holds values that are not finite")
    for key in ("flows", "value_added", "intermediates"):
        if (arrays[key] < 0).any():
            raise DatasetError(f"{where}: {key} holds negative values")
    if not (tariffs > -1).all():
        raise DatasetError(f"{where}: tariffs must be above -1 (-100 %)")
    if not ((sigma > 1).all() and (sigma_m > 1).all()):
        raise DatasetError(f"{where}: every elasticity must be above 1")
    idle = [r for r, v in zip(regions, value_added.sum(axis=1)) if not v > 0]
    if idle:
        raise DatasetError(f"{where}: region {', '.join(idle)} has no value added: every "
                           "region needs factor income (a region with none has no prices)")
    _check_output_identity(where, regions, sectors, flows, value_added, intermediates)
    _check_final_demand(where, regions, sectors, flows, tariffs, intermediates)
    defaults = dict(path=Path(str(where)), name="unnamed", year=0, currency="", unit="",
                    description="", sources={})
    defaults.update(info)
    return Dataset(regions=regions, sectors=sectors, flows=flows, value_added=value_added,
                   intermediates=intermediates, tariffs=tariffs, sigma=sigma, sigma_m=sigma_m,
                   **defaults)


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks of 1 MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_hash(folder: Path, elasticities: str = "elasticities.csv") -> str:
    """SHA-256 over the dataset's files (names and bytes, in a fixed order)."""
    digest = hashlib.sha256()
    for name in sorted(set(REQUIRED_FILES + OPTIONAL_FILES) - {"elasticities.csv"} | {elasticities}):
        p = Path(folder) / name
        if p.is_file():
            digest.update(name.encode())
            digest.update(p.read_bytes())
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Reading helpers


class _Row(dict):
    where: str


def _rows(path: Path, columns: tuple[str, ...]):
    """Yield the rows of a CSV file as dicts, each knowing its file and line (``where``)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # a spreadsheet's BOM is fine
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in columns if c not in header]
            if missing:
                raise DatasetError(
                    f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(header) or 'none'}"
                )
            reader.fieldnames = header
            for line, raw in enumerate(reader, start=2):
                row = _Row({k: (v or "").strip() for k, v in raw.items() if k is not None})
                row.where = f"{path}, line {line}"
                if None in raw:
                    raise DatasetError(f"{row.where}: more fields than columns in the header")
                yield row
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc})") from None


def _read_cells(path: Path, columns: tuple[str, ...], kinds: tuple[str, ...], index: dict,
                value, required: bool = False) -> np.ndarray:
    """A long table (one label column per axis, then the value) as an array, zero where no
    row is given; ``kinds[a]`` is ``"region"`` or ``"sector"``, the kind of label of axis ``a``,
    and ``value(row, cell)`` reads and checks a row's value.  A missing optional file is all
    zeros; a second row for the same cell is an error."""
    out = np.zeros(tuple(len(index[kind]) for kind in kinds))
    if not required and not path.is_file():
        return out
    seen: dict = {}
    for row in _rows(path, columns):
        cell = tuple(_label(row, c, index[kind], kind) for c, kind in zip(columns, kinds))
        _store(out, seen, cell, value(row, cell), row)
    return out


def _read_regimes(path: Path, index: dict) -> dict:
    """``regimes.csv``: ``{regime: t[importer, exporter, sector]}``, NaN where a regime sets no
    rate (an absent file: no regimes)."""
    if not path.is_file():
        return {}
    shape = (len(index["region"]), len(index["region"]), len(index["sector"]))
    out: dict = {}
    seen: dict = {}
    for row in _rows(path, ("regime", "importer", "exporter", "sector", "rate")):
        name = row["regime"]
        if not name:
            raise DatasetError(f"{row.where}: empty regime name")
        t = out.setdefault(name, np.full(shape, np.nan))
        cell = tuple(_label(row, c, index[k], k) for c, k in (
            ("importer", "region"), ("exporter", "region"), ("sector", "sector")))
        _store(t, seen.setdefault(name, {}), cell, _tariff_rate(row, cell), row)
    return out


def _nonneg_value(row: _Row, cell: tuple) -> float:
    return _nonneg(row, "value")


def _tariff_rate(row: _Row, cell: tuple) -> float:
    """A tariff row's rate: above -1, and 0 on a region's own goods."""
    n, i, _ = cell
    rate = _number(row, "rate")
    if not rate > -1.0:
        raise DatasetError(f"{row.where}: rate {rate} is not above -1 (-100 %)")
    if i == n and rate != 0.0:
        raise DatasetError(f"{row.where}: a tariff of {row['importer']} on its own goods "
                           f"({rate}) is not allowed")
    return rate


def _number(row: _Row, column: str) -> float:
    text = row.get(column, "")
    try:
        value = float(text)
    except ValueError:
        raise DatasetError(f"{row.where}: {column} '{text}' is not a number") from None
    if not math.isfinite(value):
        raise DatasetError(f"{row.where}: {column} {text} is not finite")
    return value


def _nonneg(row: _Row, column: str) -> float:
    value = _number(row, column)
    if value < 0:
        raise DatasetError(f"{row.where}: {column} {value} is negative")
    return value


def _label(row: _Row, column: str, index: dict, kind: str) -> int:
    name = row.get(column, "")
    if name not in index:
        raise DatasetError(
            f"{row.where}: unknown {kind} '{name}' in column {column}; "
            f"the {kind}s of value_added.csv are {', '.join(index)}"
        )
    return index[name]


def _store(array: np.ndarray, seen: dict, cell: tuple, value: float, row: _Row) -> None:
    """Write ``value`` into ``array[cell]``; a second row for the same cell is an error."""
    if cell in seen:
        raise DatasetError(f"{row.where}: duplicate of the row at {seen[cell]}")
    seen[cell] = row.where.rsplit(", ", 1)[-1]
    array[cell] = value


def _read_meta(path: Path) -> dict:
    try:
        meta = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") \
            from None
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise DatasetError(f"{path}: not valid TOML ({exc})") from None
    missing = [k for k in DATASET_TOML_KEYS if k not in meta]
    if missing:
        raise DatasetError(f"{path}: missing key(s) {', '.join(missing)}")
    if not isinstance(meta["sources"], dict):
        raise DatasetError(f"{path}: key 'sources' must be a table")
    if isinstance(meta["year"], bool) or not isinstance(meta["year"], int):
        raise DatasetError(f"{path}: year {meta['year']!r} is not an integer")
    return meta


def _read_value_added(path: Path):
    regions: dict[str, None] = {}
    sectors: dict[str, None] = {}
    cells: dict[tuple[str, str], tuple[float, _Row]] = {}
    for row in _rows(path, ("region", "sector", "value")):
        r, s = row["region"], row["sector"]
        if not r or not s:
            raise DatasetError(f"{row.where}: empty region or sector label")
        value = _number(row, "value")
        if value < 0:
            raise DatasetError(f"{row.where}: value added {value} of {r}/{s} is negative")
        if (r, s) in cells:
            raise DatasetError(f"{row.where}: duplicate region/sector {r}/{s}")
        regions.setdefault(r)
        sectors.setdefault(s)
        cells[(r, s)] = (value, row)
    if not cells:
        raise DatasetError(f"{path}: no rows")
    missing = [f"{r}/{s}" for r in regions for s in sectors if (r, s) not in cells]
    if missing:
        raise DatasetError(
            f"{path}: every region needs every sector; missing {', '.join(missing[:10])}"
            + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        )
    va = np.array([[cells[(r, s)][0] for s in sectors] for r in regions])
    return tuple(regions), tuple(sectors), va


def _read_elasticities(path: Path, sidx: dict):
    ns = len(sidx)
    sigma = np.full(ns, np.nan)
    sigma_m = np.full(ns, np.nan)
    has_m = False
    rows = list(_rows(path, ("sector", "sigma")))
    for row in rows:
        j = _label(row, "sector", sidx, "sector")
        if not np.isnan(sigma[j]):
            raise DatasetError(f"{row.where}: duplicate sector {row['sector']}")
        sigma[j] = _number(row, "sigma")
        if not sigma[j] > 1.0:
            raise DatasetError(f"{row.where}: sigma {sigma[j]} of {row['sector']} must be above 1")
        if row.get("sigma_m", ""):
            has_m = True
            sigma_m[j] = _number(row, "sigma_m")
            if not sigma_m[j] > 1.0:
                raise DatasetError(
                    f"{row.where}: sigma_m {sigma_m[j]} of {row['sector']} must be above 1"
                )
    missing = [s for s, j in sidx.items() if np.isnan(sigma[j])]
    if missing:
        raise DatasetError(f"{path}: no elasticity for sector(s) {', '.join(missing)}")
    if has_m and np.isnan(sigma_m).any():
        absent = [s for s, j in sidx.items() if np.isnan(sigma_m[j])]
        raise DatasetError(f"{path}: sigma_m is given for some sectors but not for {', '.join(absent)}")
    return sigma, (sigma_m if has_m else sigma.copy())


# ----------------------------------------------------------------------------------------------
# Accounting checks


def _check_output_identity(folder, regions, sectors, flows, value_added, intermediates):
    """Gross output from the sales side equals value added plus intermediate inputs."""
    sales = flows.sum(axis=1)  # [i, j]
    costs = value_added + intermediates.sum(axis=1)  # [n, j]
    gap = np.abs(sales - costs)
    bad = gap > OUTPUT_IDENTITY_RTOL * np.maximum(np.abs(sales), np.abs(costs))
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise DatasetError(
            f"{folder}: accounts do not balance for {regions[i]}/{sectors[j]}: gross output from "
            f"flows.csv (sum over importers) is {sales[i, j]:.9g}, but value_added.csv + "
            f"intermediates.csv give {value_added[i, j]:.9g} + {intermediates[i, :, j].sum():.9g} = "
            f"{costs[i, j]:.9g} (gap {sales[i, j] - costs[i, j]:.3g}; "
            f"{int(bad.sum())} cell(s) fail the relative tolerance {OUTPUT_IDENTITY_RTOL:g})"
        )


def _check_final_demand(folder, regions, sectors, flows, tariffs, intermediates):
    """Absorption (tariff-inclusive) minus intermediate use must be non-negative."""
    spend = absorption(flows, tariffs)
    use = intermediates.sum(axis=2)  # [n, k]: purchases of k by all sectors
    final = spend - use
    tol = 1e-9 * np.maximum(spend, use)
    bad = final < -tol
    if bad.any():
        n, j = np.argwhere(bad)[0]
        raise DatasetError(
            f"{folder}: final demand for {sectors[j]} in {regions[n]} is negative: absorption "
            f"(flows.csv with tariffs) {spend[n, j]:.9g} minus intermediate use "
            f"(intermediates.csv) {use[n, j]:.9g} = {final[n, j]:.9g}"
        )

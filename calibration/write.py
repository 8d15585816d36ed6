"""Write a dataset folder (the CSV files and ``dataset.toml`` of the dataset format), for every
builder.

Numbers are written in Python's shortest round-trip form (``repr``) unless a file is given a
number of decimals, so reading a file back gives exactly the array that was written, and the
same arrays always give the same bytes.  A missing value (NaN) is an empty cell.  Rows follow
the order of the region and sector labels; zero cells of ``flows``, ``intermediates`` and
``tariffs`` are written too, so every file has a fixed shape.  A folder is written beside its
destination, loaded with the dataset loader's checks, and only then moved into place.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

ADJUSTMENT_COLUMNS = ("region", "input", "user", "before", "after", "change", "relative")


def number(value, decimals: int | None = None) -> str:
    """Shortest text that reads back as exactly ``value`` (``-0.0`` is written as ``0.0``), or
    ``value`` with ``decimals`` fixed decimals; NaN is an empty cell."""
    value = float(value)
    if math.isnan(value):
        return ""
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return repr(value + 0.0) if value != 0.0 else "0.0"


def csv_text(header: tuple[str, ...], rows, decimals: int | None = None) -> str:
    lines = [",".join(header)]
    lines += [",".join(str(x) if isinstance(x, str) else number(x, decimals) for x in row)
              for row in rows]
    return "\n".join(lines) + "\n"


def dataset_files(regions, sectors, flows, value_added, intermediates, tariffs,
                  elasticities: dict, decimals: dict | None = None) -> dict:
    """The CSV files of a dataset, as ``{file name: text}``.

    Arrays are indexed as in :class:`calibration.io.Dataset`: ``flows[i, n, j]``,
    ``value_added[n, j]``, ``intermediates[n, k, j]``, ``tariffs[n, i, j]``.
    ``elasticities`` maps each elasticity file's name to ``sigma[j]``, or to ``(sigma[j],
    sigma_m[j])`` for the nested form; ``decimals`` maps a file name to its number of decimals
    (default: round-trip numbers).
    """
    decimals = decimals or {}
    R, S = range(len(regions)), range(len(sectors))
    tables = {
        "flows.csv": (("exporter", "importer", "sector", "value"), (
            (regions[i], regions[n], sectors[j], flows[i, n, j]) for i in R for n in R for j in S)),
        "value_added.csv": (("region", "sector", "value"), (
            (regions[n], sectors[j], value_added[n, j]) for n in R for j in S)),
        "intermediates.csv": (("region", "input", "sector", "value"), (
            (regions[n], sectors[k], sectors[j], intermediates[n, k, j])
            for n in R for k in S for j in S)),
        "tariffs.csv": (("importer", "exporter", "sector", "rate"), (
            (regions[n], regions[i], sectors[j], tariffs[n, i, j])
            for n in R for i in R if i != n for j in S)),
    }
    for name, values in elasticities.items():
        if isinstance(values, tuple):
            sigma, sigma_m = values
            tables[name] = (("sector", "sigma", "sigma_m"),
                            [(sectors[j], sigma[j], sigma_m[j]) for j in S])
        else:
            tables[name] = (("sector", "sigma"), [(sectors[j], values[j]) for j in S])
    return {name: csv_text(header, rows, decimals.get(name))
            for name, (header, rows) in tables.items()}


def adjustments_text(records: list[dict], decimals: int | None = None) -> str:
    """``balancing_adjustments.csv``: every cell of each region's use table before and after
    balancing (records of :func:`calibration.balance.balance_region`)."""
    return csv_text(ADJUSTMENT_COLUMNS, ((r["region"], r["row"], r["col"], r["before"],
                                          r["after"], r["change"], r["relative"])
                                         for r in records), decimals)


def toml_value(value) -> str:
    """A TOML value for a str, bool, int, float, or list of them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            raise ValueError(f"cannot write {value} to TOML here")
        return number(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def toml_text(doc: dict) -> str:
    """TOML for a dict of values and (nested) tables; keys are written in dict order."""
    lines: list[str] = []

    def key(k: str) -> str:
        return k if k.replace("_", "").replace("-", "").isalnum() and k.isascii() else json.dumps(k)

    def table(prefix: tuple[str, ...], d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            if lines:
                lines.append("")
            lines.append("[" + ".".join(key(p) for p in prefix) + "]")
        for k, v in scalars.items():
            lines.append(f"{key(k)} = {toml_value(v)}")
        for k, v in tables.items():
            table(prefix + (k,), v)

    table((), doc)
    return "\n".join(lines) + "\n"


def write_files(folder: Path, files: dict) -> None:
    """Write ``{name: text}`` into ``folder`` (created if needed), UTF-8 with ``\\n`` endings."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        with open(folder / name, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)


def write_dataset(out: Path, files: dict, check) -> None:
    """Write ``files`` into a temporary folder beside ``out``, call ``check(folder)`` (which
    loads it with the dataset loader and raises on a problem), then put that folder in place of
    ``out`` whole (no file of an earlier build is left beside the new ones): a failed build
    leaves nothing behind and the old dataset as it was.  An existing ``out`` that is not a
    dataset folder (no ``dataset.toml``) and not empty is refused, never replaced."""
    from calibration.io import DatasetError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / "dataset.toml").is_file():
        raise DatasetError(f"{out}: a folder that is not a dataset (no dataset.toml) and not "
                           "empty; choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    old = None
    try:
        write_files(tmp, files)
        check(tmp)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes the folder private
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

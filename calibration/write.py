"""Write a dataset folder (the CSV files and ``dataset.toml`` of the dataset format).

Numbers are written in Python's shortest round-trip form (``repr``), so reading a file back
gives exactly the array that was written, and the same arrays always give the same bytes.
Rows follow the order of the region and sector labels; zero cells of ``flows``,
``intermediates`` and ``tariffs`` are written too, so every file has a fixed shape.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def number(value) -> str:
    """Shortest text that reads back as exactly ``value`` (``-0.0`` is written as ``0.0``)."""
    value = float(value)
    return repr(value + 0.0) if value != 0.0 else "0.0"


def csv_text(header: tuple[str, ...], rows) -> str:
    lines = [",".join(header)]
    lines += [",".join(str(x) if isinstance(x, str) else number(x) for x in row) for row in rows]
    return "\n".join(lines) + "\n"


def dataset_files(regions, sectors, flows, value_added, intermediates, tariffs, sigma) -> dict:
    """The CSV files of a dataset, as ``{file name: text}``.

    Arrays are indexed as in :class:`calibration.io.Dataset`: ``flows[i, n, j]``,
    ``value_added[n, j]``, ``intermediates[n, k, j]``, ``tariffs[n, i, j]``, ``sigma[j]``.
    """
    R, S = range(len(regions)), range(len(sectors))
    return {
        "flows.csv": csv_text(("exporter", "importer", "sector", "value"), (
            (regions[i], regions[n], sectors[j], flows[i, n, j]) for i in R for n in R for j in S)),
        "value_added.csv": csv_text(("region", "sector", "value"), (
            (regions[n], sectors[j], value_added[n, j]) for n in R for j in S)),
        "intermediates.csv": csv_text(("region", "input", "sector", "value"), (
            (regions[n], sectors[k], sectors[j], intermediates[n, k, j])
            for n in R for k in S for j in S)),
        "tariffs.csv": csv_text(("importer", "exporter", "sector", "rate"), (
            (regions[n], regions[i], sectors[j], tariffs[n, i, j])
            for n in R for i in R if i != n for j in S)),
        "elasticities.csv": csv_text(("sector", "sigma"), (
            (sectors[j], sigma[j]) for j in S)),
    }


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

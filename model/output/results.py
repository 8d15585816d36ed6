"""The results Dataset: one variable per entry of the catalogue (:mod:`model.core.catalogue`),
with labels, units and provenance (docs/formats.md, "The results Dataset")."""

from __future__ import annotations

from importlib import metadata

import numpy as np
import xarray as xr

from calibration.calibrate import Benchmark
from calibration.io import Dataset
from model.core import catalogue
from model.output.files import display_path


def package_version() -> str:
    try:
        return metadata.version("armington-cge")
    except metadata.PackageNotFoundError:
        return "unknown"


#: what each coordinate labels (CF ``long_name`` attributes)
COORDINATES = {
    "scenario": "scenario, as named in the scenario file",
    "region": "region whose outcome it is",
    "partner": "trading partner of the region",
    "exporter": "exporting region (source of the shipment)",
    "importer": "importing region (destination of the shipment)",
    "sector": "sector (one Armington good per sector)",
    "point": "point of the optimal-tariff curve",
}


def coordinates(names, bm: Benchmark) -> dict:
    regions = list(bm.regions)
    return {"scenario": list(names), "region": regions, "partner": regions,
            "exporter": regions, "importer": regions, "sector": list(bm.sectors)}


def build_results(ds: Dataset, bm: Benchmark, records, attrs: dict) -> xr.Dataset:
    """One Dataset over the scenarios of ``records`` (one
    :class:`~model.study.ScenarioResult` each, in order).

    A scenario that did not converge has NaN outcomes; its solve record (``converged``,
    residuals) says why.  ``attrs`` are added to the Dataset's attributes (``title`` first).
    """
    coords = coordinates([r.scenario.name for r in records], bm)
    curves = [len(r.search.rates) for r in records if getattr(r, "search", None) is not None]
    coords["point"] = np.arange(max(curves + [1]))
    data_vars = {}
    for v in catalogue.stored():
        meta = {"units": v.unit_text(ds.unit)} if v.units else {}
        meta["long_name"] = v.long_name
        if v.gtap:
            meta["gtap_name"] = v.gtap
        if v.group == "benchmark":
            data_vars[v.name] = (v.dims, np.asarray(v.read(bm)), meta)
            continue
        if v.group == "text":
            values = np.array([v.read(r) for r in records], dtype=object)
        elif "point" in v.dims:  # curves of different lengths, padded with NaN
            values = np.full((len(records), len(coords["point"])), np.nan)
            for k, r in enumerate(records):
                curve = v.read(r)
                values[k, :len(curve)] = curve
        elif v.group in ("solve", "policy"):
            source = [r if v.group == "solve" else r.policy for r in records]
            values = np.array([v.read(x) for x in source])
        else:
            shape = tuple(len(coords[d]) for d in v.dims)
            values = np.full((len(records),) + shape, np.nan)
            for k, r in enumerate(records):
                if r.outcomes is not None:
                    values[k] = r.outcomes[v.name]
        data_vars[v.name] = (("scenario",) + v.dims, values, meta)
    result = xr.Dataset(data_vars, coords=coords)
    for name, text in COORDINATES.items():
        result[name].attrs["long_name"] = text
    result.attrs.update({
        "title": attrs.get("title", ""),
        "Conventions": "CF-1.8",
        "dataset_name": ds.name,
        "dataset_path": display_path(ds.path),
        "dataset_hash_sha256": ds.files_hash,
        "dataset_year": ds.year,
        "dataset_unit": ds.unit,
        "dataset_currency": ds.currency,
        "dataset_description": ds.description,
        "elasticities_file": ds.elasticities_file,
        "package": "armington-cge",
        "package_version": package_version(),
        "model": "multi-sector Armington model with input-output links, exact hat algebra; "
                 "closure options per scenario in the variable 'closure' (see docs/model.md)",
        "numeraire": "world factor-price index (world value added under full employment)",
    })
    result.attrs.update({k: v for k, v in attrs.items() if k != "title"})
    return result


#: the columns of the long table: the labels a value may have, then the value and its unit
LONG_COLUMNS = ("scenario", "variable", "region", "partner", "exporter", "importer", "sector",
                "point", "value", "unit")


def long_columns(result: xr.Dataset) -> dict:
    """The long table of every numeric variable of ``result`` (``results.csv``) as columns,
    :data:`LONG_COLUMNS` in order: a row per value, in the order of the variables and of each
    one's dimensions, with its labels (the coordinate's values, an empty text where the
    variable has no such dimension), the value (float; a bool as 0 or 1) and its unit; missing
    values (NaN) are left out."""
    parts = {column: [] for column in LONG_COLUMNS}
    labels = {}  # each dimension's labels as Python objects (text, integers), once
    for name, var in result.data_vars.items():
        if var.dtype.kind not in "fiub":
            continue
        values = np.asarray(var.values, dtype=float)
        kept = np.flatnonzero(~np.isnan(values.reshape(-1)))
        at = dict(zip(var.dims, np.unravel_index(kept, values.shape)))
        for column in LONG_COLUMNS[:8]:
            if column in at:
                if column not in labels:
                    labels[column] = np.asarray(result[column].values).astype(object)
                parts[column].append(labels[column][at[column]])
            else:
                parts[column].append(np.full(len(kept), name if column == "variable" else "",
                                             dtype=object))
        parts["value"].append(values.reshape(-1)[kept])
        parts["unit"].append(np.full(len(kept), var.attrs.get("units", ""), dtype=object))
    return {column: np.concatenate(part) if part else
            np.array([], dtype=float if column == "value" else object)
            for column, part in parts.items()}


def long_table(result: xr.Dataset):
    """:func:`long_columns` as a ``pandas.DataFrame``."""
    import pandas as pd

    return pd.DataFrame(long_columns(result))


def long_csv(result: xr.Dataset) -> str:
    """``results.csv``: :func:`long_columns` as comma-separated text, a header line first,
    labels as written (``str``), values with 10 significant digits (a field holding a comma or
    a quote is quoted)."""
    import csv
    import io

    columns = long_columns(result)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    values = ["%.10g" % v for v in columns["value"].tolist()]
    writer.writerows(zip(*(columns[c] for c in LONG_COLUMNS[:8]), values, columns["unit"]))
    return text.getvalue()


#: the longest text an Excel cell holds
EXCEL_CELL = 32767


def excel_sheets(result: xr.Dataset) -> dict:
    """The workbook of ``results.xlsx``: a sheet ``about`` (the Dataset's attributes), then one
    sheet per group of variables (outcome, decomposition, policy, benchmark, solve) holding its
    rows of the long table, without the label columns the group does not use."""
    import pandas as pd

    from model.core.variables import GROUPS

    table = long_table(result)
    group = table["variable"].map({v.name: v.group for v in catalogue.CATALOGUE})
    about = pd.DataFrame({"attribute": list(result.attrs),
                          "value": [str(v)[:EXCEL_CELL] for v in result.attrs.values()]})
    sheets = {"about": about}
    for name in GROUPS:
        part = table[group == name]
        if len(part):
            used = [c for c in part.columns if c in ("value", "unit", "variable")
                    or (part[c] != "").any()]
            sheets[name] = part[used].reset_index(drop=True)
    return sheets

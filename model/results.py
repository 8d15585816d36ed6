"""The results Dataset (interfaces.md): labels, units, provenance, and atomic writing."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from calibration.calibrate import Benchmark, bilateral_balance
from calibration.io import Dataset

#: name -> (dimensions, units, long name).  ``{unit}`` is the dataset's unit.
VARIABLES = {
    "welfare": (("region",), "percent change",
                "equivalent variation as percent of benchmark income, 100 (I1/I0 / Pc_hat - 1)"),
    "welfare_tot": (("region",), "percentage points",
                    "welfare decomposition: terms-of-trade effect"),
    "welfare_volume": (("region",), "percentage points",
                       "welfare decomposition: volume-of-trade (allocative efficiency) effect of "
                       "tariff and export-tax wedges"),
    "welfare_preference": (("region",), "percentage points",
                           "welfare decomposition: cost of buying a mix the benchmark "
                           "preferences would not choose (preference shifts)"),
    "welfare_transfer": (("region",), "percentage points",
                         "welfare decomposition: transfer effect of the change in the deficit"),
    "welfare_employment": (("region",), "percentage points",
                           "welfare decomposition: effect of the change in employment"),
    "welfare_path_total": (("region",), "percent change",
                           "sum of the decomposition parts (equals welfare up to the "
                           "integration error)"),
    "real_wage": (("region",), "percent change", "real wage, 100 (w_hat / Pc_hat - 1)"),
    "wage": (("region",), "ratio", "wage change w_hat (numeraire: world value added)"),
    "price_index": (("region",), "ratio", "Cobb-Douglas consumer price index change Pc_hat"),
    "real_gdp": (("region",), "percent change",
                 "GDP at benchmark prices, expenditure side (GTAP qgdp)"),
    "terms_of_trade": (("region",), "percent change",
                       "export (fob) over import (cif) price index, Tornqvist"),
    "trade_balance": (("region",), "{unit}",
                      "exports minus imports, all partners, pre-tariff prices"),
    "tariff_revenue": (("region",), "{unit}", "tariff revenue"),
    "export_tax_rents": (("region",), "{unit}",
                         "rents from export taxes or export restraints, kept by the exporter"),
    "employment_total": (("region",), "percent change", "employment (labour used) in the region"),
    "income": (("region",), "{unit}",
               "income: value added + tariff revenue + deficit + export-tax rents"),
    "value_added": (("region",), "{unit}", "value added: wages and capital rentals"),
    "bilateral_balance": (("region", "partner"), "{unit}",
                          "exports to partner minus imports from partner, pre-tariff prices"),
    "output": (("region", "sector"), "percent change", "real gross output, 100 (Y_hat / c_hat - 1)"),
    "employment": (("region", "sector"), "percent change", "labour employed in the sector"),
    "gross_output": (("region", "sector"), "{unit}", "gross output value"),
    "absorption": (("region", "sector"), "{unit}", "absorption at tariff-inclusive prices"),
    "sector_price": (("region", "sector"), "ratio", "Armington composite price change P_hat"),
    "unit_cost": (("region", "sector"), "ratio", "unit cost (producer price) change c_hat"),
    "capital_rental": (("region", "sector"), "ratio",
                       "rental change of sector-specific capital (1 where there is none)"),
    "trade": (("exporter", "importer", "sector"), "{unit}",
              "shipments at pre-tariff prices; exporter == importer is domestic sales"),
    "tariff": (("importer", "exporter", "sector"), "fraction", "ad valorem tariff in the scenario"),
    "trade_cost": (("importer", "exporter", "sector"), "ratio",
                   "change of iceberg trade costs d_hat"),
    "export_tax": (("importer", "exporter", "sector"), "fraction",
                   "export tax (or export-restraint tariff equivalent) of the exporter"),
    "preference": (("importer", "exporter", "sector"), "ratio",
                   "shift of the importer's preference for the source"),
}

BENCHMARK = {
    "trade_benchmark": (("exporter", "importer", "sector"), "{unit}",
                        "benchmark shipments at pre-tariff prices"),
    "tariff_benchmark": (("importer", "exporter", "sector"), "fraction", "benchmark tariff"),
    "trade_balance_benchmark": (("region",), "{unit}", "benchmark exports minus imports"),
    "bilateral_balance_benchmark": (("region", "partner"), "{unit}",
                                    "benchmark exports to partner minus imports from partner"),
    "income_benchmark": (("region",), "{unit}", "benchmark income"),
    "value_added_benchmark": (("region", "sector"), "{unit}", "benchmark value added"),
    "gross_output_benchmark": (("region", "sector"), "{unit}", "benchmark gross output"),
    "tariff_revenue_benchmark": (("region",), "{unit}", "benchmark tariff revenue"),
}

SCENARIO_INFO = {
    "converged": ("1", "solver converged"),
    "iterations": ("1", "fixed-point iterations"),
    "residual": ("1", "max |excess demand for labour or capital| / world value added at the "
                      "solution"),
    "price_residual": ("1", "max |change of log price index| in the last iteration"),
    "absorption_residual": ("1", "max |change of absorption| / world value added in the last "
                                 "iteration"),
}


def display_path(path) -> str:
    """``path`` relative to the working directory when it lies below it (so that reference
    outputs do not carry the machine's folders), else as given."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def package_version() -> str:
    try:
        return metadata.version("armington-cge")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_results(
    ds: Dataset,
    bm: Benchmark,
    names: list[str],
    outcomes: list[dict | None],
    info: list[dict],
    policies: list,
    attrs: dict,
) -> xr.Dataset:
    """Assemble one Dataset over scenarios.

    ``outcomes[k]`` is the dict of :func:`model.outcomes.outcomes` for scenario ``names[k]``, or
    ``None`` when it did not converge (its values are then NaN); ``info[k]`` holds
    ``converged``, ``iterations``, ``residual``, ``price_residual``, ``description`` and
    ``closure``; ``policies[k]`` is its :class:`~model.params.Policy`.
    """
    coords = {
        "scenario": list(names),
        "region": list(bm.regions),
        "partner": list(bm.regions),
        "exporter": list(bm.regions),
        "importer": list(bm.regions),
        "sector": list(bm.sectors),
    }
    data_vars = {}
    for name, (dims, units, long_name) in VARIABLES.items():
        shape = tuple(len(coords[d]) for d in dims)
        stacked = np.full((len(names),) + shape, np.nan)
        for k, out in enumerate(outcomes):
            policy_arrays = {"tariff": "t1", "trade_cost": "d_hat", "export_tax": "e1",
                             "preference": "pref"}
            if name in policy_arrays:
                stacked[k] = getattr(policies[k], policy_arrays[name])
            elif out is not None:
                stacked[k] = out[name]
        data_vars[name] = (("scenario",) + dims, stacked,
                           {"units": units.format(unit=ds.unit), "long_name": long_name})
    bench = {
        "trade_benchmark": bm.X0,
        "tariff_benchmark": bm.t0,
        "trade_balance_benchmark": -bm.D0,
        "bilateral_balance_benchmark": bilateral_balance(bm.X0),
        "income_benchmark": bm.I0,
        "value_added_benchmark": bm.VA0,
        "gross_output_benchmark": bm.Y0,
        "tariff_revenue_benchmark": bm.R0,
    }
    for name, (dims, units, long_name) in BENCHMARK.items():
        data_vars[name] = (dims, np.asarray(bench[name]),
                           {"units": units.format(unit=ds.unit), "long_name": long_name})
    for name, (units, long_name) in SCENARIO_INFO.items():
        data_vars[name] = (("scenario",), np.array([row[name] for row in info]),
                           {"units": units, "long_name": long_name})
    data_vars["description"] = (("scenario",), np.array([row["description"] for row in info],
                                                        dtype=object), {"long_name": "description"})
    data_vars["closure"] = (("scenario",), np.array([row["closure"] for row in info], dtype=object),
                            {"long_name": "closure: trade balance, Armington form, factors, labour"})
    data_vars["instrument"] = (("scenario",), np.array([row.get("instrument", "") for row in info],
                                                       dtype=object),
                               {"long_name": "endogenous instrument and its target"})
    data_vars["instrument_value"] = (
        ("scenario",), np.array([row.get("instrument_value", np.nan) for row in info], float),
        {"units": "export tax or tariff points as a fraction; preference shift as a factor",
         "long_name": "value of the endogenous instrument that meets the target"})
    data_vars["sigma"] = (("sector",), bm.sigma, {"units": "1", "long_name": "Armington elasticity"})
    result = xr.Dataset(data_vars, coords=coords)
    result.attrs.update({
        "title": attrs.get("title", ""),
        "dataset_name": ds.name,
        "dataset_path": display_path(ds.path),
        "dataset_hash_sha256": ds.files_hash,
        "dataset_year": ds.year,
        "dataset_unit": ds.unit,
        "dataset_currency": ds.currency,
        "elasticities_file": ds.elasticities_file,
        "package": "armington-cge",
        "package_version": package_version(),
        "model": "multi-sector Armington model with input-output links, exact hat algebra; "
                 "closure options per scenario in the variable 'closure' (see README)",
        "numeraire": "world factor-price index (world value added under full employment)",
    })
    result.attrs.update({k: v for k, v in attrs.items() if k != "title"})
    return result


@contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; results are for sharing
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def staged_folder(folder: Path):
    """Yield a temporary folder beside ``folder``; on success move every file written there into
    ``folder`` (each a rename), else delete it, so a failure leaves the previous set of outputs
    as it was rather than a mix of new and old files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=folder))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        for item in stage.glob("*"):
            item.unlink()
        stage.rmdir()


def write_netcdf(result: xr.Dataset, path: Path) -> None:
    """Write ``result`` to netCDF-4 atomically (temporary file, then rename)."""
    with atomic_path(path) as tmp:
        result.to_netcdf(tmp, engine="netcdf4")


def write_text(text: str, path: Path) -> None:
    """Write a text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")

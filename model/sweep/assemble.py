"""``sweep.nc``: the chunk files of a sweep assembled one chunk at a time, with the design, the
per-draw outcomes of the catalogue, and their statistics (and Sobol' indices) appended."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.core import catalogue
from model.core.catalogue import VARIABLES
from model.core.outcomes import REGION, SECTOR
from model.output.files import atomic_path, display_path
from model.output.results import package_version
from model.sweep.designs import STATISTICS, draw_values, sigma_scales
from model.sweep.kernels import CONVERGED, STATUS
from model.sweep.spec import SweepSpec, describe
from model.sweep.statistics import sobol_indices, summary

STAT_BUDGET = 1 << 20  # values read at once when computing statistics (8 MB)
RESIDUALS = ("residual", "price_residual", "absorption_residual")


def stored_rows() -> tuple[np.ndarray, np.ndarray]:
    """Rows of the region and sector outcomes of :mod:`model.core.outcomes` that a sweep
    stores per draw (the catalogue's ``per_draw`` outcomes), in catalogue order."""
    names = [v.name for v in catalogue.per_draw()]
    return (np.array([REGION.index(n) for n in names if n in REGION], dtype=np.int64),
            np.array([SECTOR.index(n) for n in names if n in SECTOR], dtype=np.int64))


def lead(spec: SweepSpec) -> tuple[str, ...]:
    """The leading dimensions of every per-draw variable."""
    return ("scenario",) + tuple(g.label for g in spec.grid) + (
        ("draw",) if spec.design.sampled else ())


def skeleton(study, spec: SweepSpec, settings) -> xr.Dataset:
    """Coordinates, the design and the attributes of ``sweep.nc`` (everything small)."""
    bm = study.benchmark
    coords = {"scenario": [p.name for p in study.scenarios], "region": list(bm.regions),
              "sector": list(bm.sectors), "statistic": list(STATISTICS)}
    for g in spec.grid:
        coords[g.label] = np.asarray(g.values)
    data = {"sigma_benchmark": (("sector",), bm.sigma, {"units": "1", "long_name":
                                                         "Armington elasticity of the dataset"})}
    if spec.design.sampled:
        coords["draw"] = np.arange(spec.n_draws)
        coords["parameter"] = list(spec.labels)
        weights = spec.design.weights(spec.n_draws)
        if weights is not None:
            data["weight"] = (("draw",), weights, {"units": "1",
                                                   "long_name": spec.design.weight_meaning})
    attrs = {
        "title": study.file.title, "scenario_file": display_path(study.file.path),
        "scenario_text": study.file.text, "dataset_name": study.dataset.name,
        "dataset_unit": study.dataset.unit, "dataset_hash_sha256": study.dataset.files_hash,
        "elasticities_file": study.dataset.elasticities_file,
        "package": "armington-cge", "package_version": package_version(),
        "sweep_method": spec.method, "sweep_seed": spec.seed,
        "sweep_parameters": "; ".join(describe(spec)),
        "sweep_base_draws": spec.draws if spec.design.takes_draws else 0,
        "sweep_draws_per_point": spec.n_draws,
        **{f"solver_{k}": v for k, v in settings.as_dict().items()},
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def assemble(study, spec: SweepSpec, path: Path, store, n_chunks: int, settings) -> dict:
    """Write ``sweep.nc`` from the chunk files of ``store``, one chunk in memory at a time, then
    add the statistics.  Returns the number of failed draws per scenario."""
    import netCDF4

    with atomic_path(path) as tmp:
        skeleton(study, spec, settings).to_netcdf(tmp, engine="netcdf4")
        with netCDF4.Dataset(tmp, "a") as nc:
            variables = _create_variables(nc, spec, study.dataset.unit)
            if spec.design.sampled:
                _write_design(nc, spec)
            region_names = [v.name for v in catalogue.per_draw() if v.name in REGION]
            sector_names = [v.name for v in catalogue.per_draw() if v.name in SECTOR]
            for s in range(len(study.scenarios)):
                for c in range(n_chunks):
                    start = c * spec.chunk_size
                    out = store.read(s, c)
                    stop = start + len(out["status"])
                    for a, b, index in runs(spec, s, start, stop):
                        rows = slice(a - start, b - start)
                        for k, name in enumerate(region_names):
                            variables[name][index] = out["region"][rows, k, :]
                        for k, name in enumerate(sector_names):
                            variables[name][index] = out["sector"][rows, k]
                        variables["status"][index] = out["status"][rows]
                        variables["converged"][index] = (
                            out["status"][rows] == CONVERGED).astype(np.int8)
                        variables["iterations"][index] = out["iterations"][rows]
                        variables["instrument_value"][index] = out["instrument"][rows]
                        variables["instrument_tariff"][index] = out["instrument_tariff"][rows]
                        for k, name in enumerate(RESIDUALS):
                            variables[name][index] = out["residuals"][rows, k]
        failed = add_statistics(study, spec, tmp)
    return failed


def _create_variables(nc, spec: SweepSpec, unit: str) -> dict:
    """The per-draw variables of ``sweep.nc``, chunked so that each is written once."""
    dims = lead(spec)

    def var(name, dtype, extra, units, long_name, **kw):
        chunks = None
        if spec.design.sampled:  # a netCDF chunk: consecutive draws of one point, at most
            # 1 MB, a whole fraction of a sweep chunk so that it is written once
            cells = [len(nc.dimensions[d]) for d in extra]
            cap = max(1, (1 << 20) // (8 * int(np.prod(cells, dtype=np.int64))))
            length = min(spec.n_draws, spec.chunk_size)
            length = -(-length // -(-length // cap))
            chunks = [1] * (len(dims) - 1) + [length] + cells
        v = nc.createVariable(name, dtype, dims + extra, chunksizes=chunks, **kw)
        v.set_var_chunk_cache(size=1 << 21)  # 2 MB, whatever the number of draws
        v.units, v.long_name = units, long_name
        return v

    out = {v.name: var(v.name, "f8", v.dims, v.unit_text(unit), v.long_name, fill_value=np.nan)
           for v in catalogue.per_draw()}
    status = var("status", "i1", (), "1", "solve status of the draw")
    status.flag_values = np.array(sorted(STATUS), dtype=np.int8)
    status.flag_meanings = " ".join(STATUS[k] for k in sorted(STATUS))
    out["status"] = status
    conv = var("converged", "i1", (), "1", VARIABLES["converged"].long_name
               + " (failed draws are excluded from the statistics)")
    conv.setncattr("dtype", "bool")
    out["converged"] = conv
    out["iterations"] = var("iterations", "i8", (), "1", VARIABLES["iterations"].long_name
                            + ", all attempts")
    for name in RESIDUALS:
        out[name] = var(name, "f8", (), "1", VARIABLES[name].long_name)
    value = VARIABLES["instrument_value"]
    out["instrument_value"] = var("instrument_value", "f8", (), value.unit_text(unit),
                                  value.long_name + " in the draw", fill_value=np.nan)
    tariff = VARIABLES["instrument_tariff"]
    out["instrument_tariff"] = var("instrument_tariff", "f8", ("region",), tariff.units,
                                   tariff.long_name + " in the draw", fill_value=np.nan)
    return out


def _write_design(nc, spec: SweepSpec) -> None:
    """The drawn parameter values and the elasticities of every draw."""
    sample = nc.createVariable("sample", "f8", ("draw", "parameter"))
    sample.units = "1"
    sample.long_name = ("drawn parameter values (multipliers of the dataset's elasticities "
                        "unless relative = false)")
    sig = nc.createVariable("sigma", "f8", ("draw", "sector"))
    sig.units = "1"
    sig.long_name = "Armington elasticities of the draw (before any sigma grid)"
    for d0 in range(0, spec.n_draws, spec.chunk_size):
        d1 = min(d0 + spec.chunk_size, spec.n_draws)
        values = draw_values(spec, d0, d1)
        sample[d0:d1, :] = values
        sig[d0:d1, :] = sigma_scales(spec, values) * np.asarray(spec.sigma0)


def runs(spec: SweepSpec, s: int, start: int, stop: int):
    """Split cases ``start..stop-1`` of scenario ``s`` into runs within one grid point; yields
    ``(a, b, netCDF index)``."""
    a = start
    while a < stop:
        g = a // spec.n_draws
        b = min(stop, (g + 1) * spec.n_draws)
        gidx = np.unravel_index(g, spec.grid_shape) if spec.grid else ()
        index = (s,) + tuple(int(k) for k in gidx)
        if spec.design.sampled:
            d0 = a - g * spec.n_draws
            index += (slice(d0, d0 + b - a),)
        yield a, b, index
        a = b


def _columns(shape: tuple[int, ...], rows: int):
    """Index tuples over trailing cells so that each read holds at most STAT_BUDGET values."""
    if rows * int(np.prod(shape, dtype=np.int64)) <= STAT_BUDGET or not shape:
        yield ()
        return
    for head in range(shape[0]):
        for rest in _columns(shape[1:], rows):
            yield (head,) + rest


def add_statistics(study, spec: SweepSpec, tmp: Path) -> dict:
    """Read each per-draw outcome back column by column and append the statistics (and
    Sobol' indices) to the file; returns failed-draw counts per scenario."""
    import netCDF4

    n_sc = len(study.scenarios)
    points = list(np.ndindex(*spec.grid_shape)) if spec.grid else [()]
    stats, sobol = {}, {}
    counts = np.zeros((n_sc,) + spec.grid_shape, dtype=np.int64)
    with netCDF4.Dataset(tmp, "r") as nc:
        nc.set_auto_mask(False)
        for var in nc.variables.values():  # small caches: memory independent of the draws
            var.set_var_chunk_cache(size=1 << 21)
        for s in range(n_sc):
            for pt in points:
                conv = nc["status"][(s,) + pt] == CONVERGED
                counts[(s,) + pt] = int(np.sum(~np.atleast_1d(conv)))
        if spec.design.sampled:
            for v in catalogue.per_draw():
                stats[v.name], indices = _variable_statistics(nc, spec, v, n_sc, points)
                if spec.design.indices:
                    sobol[v.name] = indices
    data = _statistics_variables(spec, stats, sobol, study.dataset.unit)
    data["failed_draws"] = (("scenario",) + tuple(g.label for g in spec.grid), counts, {
        "units": "1", "long_name": "draws that did not converge or had an elasticity <= 1 "
                                   "(excluded from statistics)"})
    xr.Dataset(data).to_netcdf(tmp, mode="a", engine="netcdf4")
    return {p.name: int(counts[s].sum()) for s, p in enumerate(study.scenarios)}


def _variable_statistics(nc, spec: SweepSpec, v, n_sc: int, points):
    """Statistics (and Sobol' indices) of one per-draw variable at every scenario and point."""
    trail = tuple(len(nc.dimensions[d]) for d in v.dims)
    weights = spec.design.weights(spec.n_draws)
    st = np.full((n_sc,) + spec.grid_shape + (len(STATISTICS),) + trail, np.nan)
    s1 = np.full((n_sc,) + spec.grid_shape + (spec.dims,) + trail, np.nan)
    stt = s1.copy()
    for s in range(n_sc):
        for pt in points:
            ok = nc["status"][(s,) + pt] == CONVERGED
            for cols in _columns(trail, spec.n_draws):
                values = nc[v.name][(s,) + pt + (slice(None),) + cols]
                for cell in np.ndindex(*values.shape[1:]):
                    # one contiguous column at a time: the same arithmetic whatever the read
                    # size
                    col = np.ascontiguousarray(values[(slice(None),) + cell])
                    at = (s,) + pt + (slice(None),) + cols + cell
                    st[at] = summary(col, ok, weights)
                    if spec.design.indices:
                        y = np.where(ok, col, np.nan).reshape(spec.draws, spec.dims + 2)
                        s1[at], stt[at] = sobol_indices(y, spec.dims)
    return st, (s1, stt)


def _statistics_variables(spec: SweepSpec, stats: dict, sobol: dict, unit: str) -> dict:
    grid_dims = tuple(g.label for g in spec.grid)
    data = {}
    for name, st in stats.items():
        v = VARIABLES[name]
        data[f"{name}_summary"] = (("scenario",) + grid_dims + ("statistic",) + v.dims, st, {
            "units": v.unit_text(unit),
            "long_name": f"{v.long_name}: statistics over converged draws"})
        if name in sobol:
            for key, arr, what in (("S1", sobol[name][0], "first-order"),
                                   ("ST", sobol[name][1], "total")):
                data[f"{name}_{key}"] = (("scenario",) + grid_dims + ("parameter",) + v.dims,
                                         arr, {"units": "1", "long_name": f"{what} Sobol index "
                                               f"of {name} (Saltelli 2010; Jansen 1999)"})
    return data

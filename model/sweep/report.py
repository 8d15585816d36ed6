"""The uncertainty section of ``report.md`` and the distribution figure of a sweep
(``sweep.nc``, written by :func:`model.sweep.runner.run_sweep`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.core.catalogue import VARIABLES
from model.output.figures import save
from model.sweep.designs import DESIGNS

#: the indicators of the uncertainty tables, and of the figure
INDICATORS = ("welfare", "real_wage", "real_gdp", "terms_of_trade")
FIGURE = ("welfare", "real_gdp")


def _cases(sw: xr.Dataset) -> list[dict]:
    """Every (scenario, grid point) as a selection dict, scenario first."""
    grid = _grid(sw)
    out = []
    for sc in sw.scenario.values:
        for idx in np.ndindex(*[sw.sizes[d] for d in grid]):
            sel = {"scenario": sc}
            sel.update({d: sw[d].values[k] for d, k in zip(grid, idx)})
            out.append(sel)
    return out


def _grid(sw: xr.Dataset) -> list[str]:
    return [d for d in sw.welfare.dims if d not in ("scenario", "draw", "region")]


def _label(sel: dict) -> str:
    return " ".join([str(sel["scenario"])] + [f"{k}={v:g}" for k, v in sel.items()
                                              if k != "scenario"])


def _stats(st: xr.DataArray) -> dict:
    return {k: float(st.sel(statistic=k)) for k in st.statistic.values}


def _cell(sw, design, name, sel, region) -> str:
    if f"{name}_summary" not in sw:  # a pure grid: one value per point
        v = float(sw[name].sel(sel).sel(region=region))
        return "n/a" if not np.isfinite(v) else f"{v:.3f}"
    stats = _stats(sw[f"{name}_summary"].sel(sel).sel(region=region))
    return "n/a" if not np.isfinite(stats["mean"]) else design.cell(stats)


def uncertainty_markdown(sw: xr.Dataset) -> str:
    """Markdown: the design, failed-draw counts, bands of the headline indicators and, for
    Sobol' sweeps, the indices of welfare."""
    design = DESIGNS[sw.attrs.get("sweep_method", "")]
    draws = int(sw.attrs.get("sweep_draws_per_point", 1))
    unit = sw.attrs.get("dataset_unit", "")
    regions = list(sw.region.values)
    cases = _cases(sw)
    failed = int(sw.failed_draws.sum())
    size = (f"{draws} draws per scenario" + (" and grid point" if len(cases) > len(sw.scenario)
                                              else "")
            if design.sampled else "one solve per scenario and grid point")
    parts = ["## Uncertainty (sensitivity sweep)", "",
             f"Method `{design.name}`, {size}"
             + (f", seed {sw.attrs.get('sweep_seed')}" if design.seeded else "")
             + ". Parameters:", ""]
    parts += [f"- {line}" for line in str(sw.attrs.get("sweep_parameters", "")).split("; ")]
    parts += ["", f"Draws that did not converge or had an elasticity at or below 1: {failed} "
              f"of {draws * len(cases)}" + (" (recorded in `sweep.nc` with their residual, "
                                           "excluded from the statistics)." if failed else "."),
              "", f"Each cell: {design.band}.", ""]
    for name in INDICATORS:
        parts += [f"### {VARIABLES[name].label.format(unit=unit)}", "",
                  "| case | " + " | ".join(regions) + " |", "|---|" + "---|" * len(regions)]
        for sel in cases:
            parts.append(f"| {_label(sel)} | "
                         + " | ".join(_cell(sw, design, name, sel, r) for r in regions) + " |")
        parts.append("")
    if "welfare_S1" in sw:
        parts += _sobol_table(sw, cases, regions)
    return "\n".join(parts)


def _sobol_table(sw: xr.Dataset, cases, regions) -> list[str]:
    parts = ["### Sobol' indices of welfare (first order / total)", "",
             "| case | parameter | " + " | ".join(regions) + " |",
             "|---|---|" + "---|" * len(regions)]
    for sel in cases:
        for par in sw.parameter.values:
            cells = []
            for r in regions:
                a = float(sw.welfare_S1.sel(sel).sel(parameter=par, region=r))
                b = float(sw.welfare_ST.sel(sel).sel(parameter=par, region=r))
                cells.append(f"{a:.3f} / {b:.3f}")
            parts.append(f"| {_label(sel)} | {par} | " + " | ".join(cells) + " |")
    return parts + [""]


def write_sweep_figure(sw: xr.Dataset, folder: Path) -> Path:
    """``sweep.png``: for sampled sweeps without a grid, histograms of welfare and real GDP by
    region (one colour per scenario), or the mean ± standard deviation of a quadrature; with a
    grid, the central value along the first grid dimension with its band."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

    design = DESIGNS[sw.attrs.get("sweep_method", "")]
    regions = list(sw.region.values)
    grid = _grid(sw)
    fig = Figure(figsize=(4.5 * len(regions), 6.5), layout="constrained")
    axes = fig.subplots(len(FIGURE), len(regions), squeeze=False)
    for row, name in enumerate(FIGURE):
        for col, region in enumerate(regions):
            ax = axes[row, col]
            for k, sc in enumerate(sw.scenario.values):
                base = {"scenario": sc, "region": region}
                if grid:
                    _grid_panel(ax, sw, design, name, base, grid)
                elif not design.histogram:
                    stats = _stats(sw[f"{name}_summary"].sel(base))
                    ax.errorbar([k], [stats["mean"]], yerr=[stats["sd"]], fmt="o", capsize=4,
                                label=str(sc))
                else:
                    values = sw[name].sel(base).values
                    values = values[np.isfinite(values)]
                    if values.size:
                        ax.hist(values, bins=min(60, max(10, values.size // 20)),
                                histtype="step", density=True, label=str(sc))
                    ax.set_xlabel("percent change")
            ax.set_title(f"{region}: {VARIABLES[name].label.format(unit='')}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{sw.attrs.get('title', '')}: sensitivity ({design.name})")
    return save(fig, Path(folder) / "sweep.png", dpi=110)


def _grid_panel(ax, sw, design, name, base, grid) -> None:
    """The central value (or the value) along the first grid dimension, with its band."""
    first = {d: 0 for d in grid[1:]}
    x = sw[grid[0]].values
    if f"{name}_summary" in sw:
        st = sw[f"{name}_summary"].sel(base).isel(first)
        stats = {k: st.sel(statistic=k).values for k in st.statistic.values}
        ax.plot(x, stats[design.central], marker="o", label=str(base["scenario"]))
        ax.fill_between(x, *design.limits(stats), alpha=0.2)
    else:
        ax.plot(x, sw[name].sel(base).isel(first).values, marker="o",
                label=str(base["scenario"]))
    ax.set_xlabel(grid[0])


def sweep_section(sweep_path: Path, folder: Path) -> tuple[str, Path]:
    """The uncertainty section for ``report.md`` (with its figure) and ``sweep.png``, drawn
    into ``folder``."""
    with xr.open_dataset(sweep_path, engine="netcdf4") as sw:
        figure = write_sweep_figure(sw, folder)
        section = uncertainty_markdown(sw)
    return f"{section}\n\n![{figure.stem}]({figure.name})", figure

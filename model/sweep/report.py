"""The uncertainty section of ``report.md`` and the distribution figure of a sweep
(``sweep.nc``, written by :func:`model.sweep.runner.run_sweep`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.core.catalogue import VARIABLES
from model.output.figures import boxes, save, unticked
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


def _by_case(da: xr.DataArray, grid: list[str]) -> np.ndarray:
    """``da`` as an array ``[case, region, ...]``, the cases in the order of :func:`_cases`
    (read whole: one selection per cell would read the file once per cell)."""
    values = np.asarray(da.transpose("scenario", *grid, "region", ...).values)
    return values.reshape((-1,) + values.shape[1 + len(grid):])


def _cells(sw, design, name, grid) -> np.ndarray:
    """The table cells of ``name``, as an array of strings ``[case, region]``."""
    if f"{name}_summary" not in sw:  # a pure grid: one value per point
        values = _by_case(sw[name], grid).reshape(-1, sw.sizes["region"])
        return np.array([["n/a" if not np.isfinite(v) else f"{v:.3f}" for v in row]
                         for row in values.tolist()])
    statistics = [str(k) for k in sw.statistic.values]
    summary = _by_case(sw[f"{name}_summary"], grid).tolist()  # [case, region, statistic]
    return np.array([["n/a" if not np.isfinite(cell[statistics.index("mean")])
                      else design.cell(dict(zip(statistics, cell))) for cell in row]
                     for row in summary])


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
        cells = _cells(sw, design, name, _grid(sw))
        for sel, row in zip(cases, cells):
            parts.append(f"| {_label(sel)} | " + " | ".join(row) + " |")
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


def write_sweep_figure(sw: xr.Dataset, folder: Path,
                       central: xr.Dataset | None = None) -> Path:
    """``sweep.png`` (:func:`sweep_figure`) in ``folder``."""
    return save(sweep_figure(sw, central), Path(folder) / "sweep.png", dpi=110)


def sweep_figure(sw: xr.Dataset, central: xr.Dataset | None = None):
    """Welfare and real GDP by region (one panel each): for sampled sweeps without a grid, the
    distribution of the draws of each scenario as a box (quartiles, median, whiskers at the 5th
    and 95th percentiles) with the central solution of ``central`` marked; for a quadrature the
    mean ± standard deviation; with a grid, the central value along the first grid dimension
    with its band."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

    design = DESIGNS[sw.attrs.get("sweep_method", "")]
    regions = list(sw.region.values)
    scenarios = [str(s) for s in sw.scenario.values]
    grid = _grid(sw)
    tall = 1.2 + 0.32 * len(scenarios) if not grid else 3.0
    fig = Figure(figsize=(2.2 + 3.0 * len(regions), 1.2 + 2 * tall), layout="constrained")
    axes = fig.subplots(len(FIGURE), len(regions), squeeze=False, sharey=not grid)
    y = np.arange(len(scenarios))
    # the draws of each scenario read at once, [scenario][region] (not a read per panel)
    draws = {name: np.array([np.asarray(sw[name].sel(scenario=sc).transpose("region", ...)
                                        .values) for sc in scenarios])
             for name in FIGURE} if design.histogram and not grid else {}
    for row, name in enumerate(FIGURE):
        units = VARIABLES[name].units
        for col, region in enumerate(regions):
            ax = axes[row, col]
            ax.set_title(f"{region}: {VARIABLES[name].label.format(unit='')}", fontsize=9)
            if grid:
                for sc in scenarios:
                    _grid_panel(ax, sw, design, name, {"scenario": sc, "region": region}, grid)
                ax.set_ylabel(units)
                continue
            if design.histogram:
                boxes(ax, y, list(draws[name][:, col]), 0.6)
            else:
                stats = [_stats(sw[f"{name}_summary"].sel(scenario=sc, region=region))
                         for sc in scenarios]
                ax.errorbar([s["mean"] for s in stats], y, xerr=[s["sd"] for s in stats],
                            fmt="o", capsize=3, color="C0", label="mean ± sd")
            if central is not None:
                known = [sc for sc in scenarios if sc in central.scenario.values]
                ax.plot([float(central[name].sel(scenario=sc, region=region)) for sc in known],
                        [scenarios.index(sc) for sc in known], "D", color="black",
                        markersize=3.5, label="central solution")
            ax.axvline(0, color="0.5", linewidth=0.5)
            ax.set_xlabel(units, fontsize=8)
            ax.xaxis.set_major_locator(_locator())
            if col == 0:
                ax.set_ylabel("scenario")
            else:
                ax.tick_params(labelleft=False)
    if not grid:  # after every panel: a box plot sets the shared ticks to its positions
        for row in range(len(FIGURE)):
            axes[row, 0].set_yticks(y, scenarios, fontsize=7)
            for ax in axes[row, 1:]:  # the scenarios named in the first column only
                unticked(ax.yaxis)
        axes[0, 0].invert_yaxis()  # shared: the first scenario on top in every panel
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", fontsize=8, ncols=2)
    band = ("boxes: quartiles and median of the draws, whiskers: 5th-95th percentile"
            if design.histogram and not grid else design.name)
    fig.suptitle(f"{sw.attrs.get('title', '')}\nsensitivity ({design.name}; {band})",
                 fontsize=10)
    return fig


def _locator():
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(nbins=4)


def sobol_figure(sw: xr.Dataset):
    """``sobol.png``: first-order and total Sobol' indices of welfare by parameter, one panel
    per region, one group of bars per scenario."""
    from matplotlib.figure import Figure

    regions = list(sw.region.values)
    scenarios = list(sw.scenario.values)
    params = [str(p) for p in sw.parameter.values]
    cases = _cases(sw)
    fig = Figure(figsize=(3.2 * len(regions) + 2, 1.8 + 0.35 * len(cases) * len(params)),
                 layout="constrained")
    axes = fig.subplots(1, len(regions), sharey=True, squeeze=False)[0]
    rows = [(sel, par) for sel in cases for par in params]
    y = np.arange(len(rows))
    for ax, region in zip(axes, regions):
        s1 = [float(sw.welfare_S1.sel(sel).sel(parameter=par, region=region))
              for sel, par in rows]
        st = [float(sw.welfare_ST.sel(sel).sel(parameter=par, region=region))
              for sel, par in rows]
        ax.barh(y - 0.2, s1, 0.4, label="first order (S1)", color="C0")
        ax.barh(y + 0.2, st, 0.4, label="total (ST)", color="C1")
        ax.set_xlim(0, 1.05)
        ax.set_xlabel("share of the variance of welfare")
        ax.set_title(f"{region}", fontsize=9)
    labels = [f"{_label(sel)}: {par}" if len(scenarios) > 1 or len(cases) > 1 else par
              for sel, par in rows]
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].set_ylabel("parameter")
    axes[0].invert_yaxis()
    for ax in axes[1:]:  # the parameters named beside the first panel only
        unticked(ax.yaxis)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2,
               fontsize=8)
    fig.suptitle(f"{sw.attrs.get('title', '')}: Sobol' indices of welfare", fontsize=10)
    return fig


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


def figure_names(sw: xr.Dataset) -> tuple[str, ...]:
    """The figures of the sweep ``sw``: ``sweep.png`` and, for Sobol' sweeps, ``sobol.png``."""
    return ("sweep.png", "sobol.png") if "welfare_S1" in sw else ("sweep.png",)


def write_sweep_figures(sweep_path: Path, folder: Path,
                        central: xr.Dataset | None = None) -> list[Path]:
    """The figures of the sweep whose results are ``sweep_path`` (:func:`figure_names`),
    drawn into ``folder``; ``central`` holds the central solutions (the run's results) marked
    on the histograms."""
    with xr.open_dataset(sweep_path, engine="netcdf4") as sw:
        figures = [write_sweep_figure(sw, folder, central)]
        if "sobol.png" in figure_names(sw):
            figures.append(save(sobol_figure(sw), Path(folder) / "sobol.png", dpi=110))
    return figures


def sweep_section(sweep_path: Path) -> tuple[str, tuple[str, ...]]:
    """The uncertainty section for ``report.md`` of the sweep whose results are
    ``sweep_path``, and the names of its figures (:func:`figure_names`, which the section
    shows; drawn by :func:`write_sweep_figures`)."""
    with xr.open_dataset(sweep_path, engine="netcdf4") as sw:
        names = figure_names(sw)
        section = uncertainty_markdown(sw)
    images = "\n\n".join(f"![{Path(name).stem}]({name})" for name in names)
    return f"{section}\n\n{images}", names

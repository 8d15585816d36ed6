"""The uncertainty section of ``report.md`` and the distribution figure of a sweep
(``sweep.nc``, written by :func:`model.sweep.run_sweep`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.report import HEADLINE
from model.results import atomic_path, write_text

INDICATORS = ("welfare", "real_wage", "real_gdp", "terms_of_trade")


def _cases(sw: xr.Dataset) -> list[dict]:
    """Every (scenario, grid point) as a selection dict, scenario first."""
    grid = [d for d in sw.welfare.dims if d not in ("scenario", "draw", "region")]
    out = []
    for sc in sw.scenario.values:
        for idx in np.ndindex(*[sw.sizes[d] for d in grid]):
            sel = {"scenario": sc}
            sel.update({d: sw[d].values[k] for d, k in zip(grid, idx)})
            out.append(sel)
    return out


def _label(sel: dict) -> str:
    return " ".join([str(sel["scenario"])] + [f"{k}={v:g}" for k, v in sel.items()
                                              if k != "scenario"])


def _band(sw, name, sel, region) -> str:
    if f"{name}_summary" not in sw:  # a pure grid: one value per point
        v = float(sw[name].sel(sel).sel(region=region))
        return "n/a" if not np.isfinite(v) else f"{v:.3f}"
    st = sw[f"{name}_summary"].sel(sel).sel(region=region)
    mean, sd, p5, p95 = (float(st.sel(statistic=k)) for k in ("mean", "sd", "p5", "p95"))
    if not np.isfinite(mean):
        return "n/a"
    if sw.attrs.get("sweep_method") == "quadrature":
        return f"{mean:.3f} ± {sd:.3f}"
    return f"{mean:.3f} [{p5:.3f}, {p95:.3f}]"


def uncertainty_markdown(sw: xr.Dataset) -> str:
    """Markdown: the design, failed-draw counts, bands of the headline indicators and, for
    Sobol' sweeps, the indices of welfare."""
    method = sw.attrs.get("sweep_method", "")
    draws = int(sw.attrs.get("sweep_draws_per_point", 1))
    unit = sw.attrs.get("dataset_unit", "")
    regions = list(sw.region.values)
    cases = _cases(sw)
    failed = int(sw.failed_draws.sum())
    total = draws * len(cases)
    band = {"monte_carlo": "mean [5th, 95th percentile] over the draws",
            "sobol": "mean [5th, 95th percentile] over the Saltelli design's draws",
            "quadrature": "mean ± standard deviation (Stroud-3 quadrature: exact for "
                          "polynomials of degree 3 in the parameters)",
            "grid": "value at each grid point"}[method]
    parts = ["## Uncertainty (sensitivity sweep)", "",
             f"Method `{method}`, " + ("one solve per scenario and grid point" if
                                        method == "grid" else
                                        f"{draws} draws per scenario"
                                        + (" and grid point" if len(cases) > len(sw.scenario)
                                           else ""))
             + (f", seed {sw.attrs.get('sweep_seed')}" if method in ("monte_carlo", "sobol")
                else "") + ". Parameters:", ""]
    parts += [f"- {line}" for line in str(sw.attrs.get("sweep_parameters", "")).split("; ")]
    parts += ["", f"Draws that did not converge or had an elasticity at or below 1: {failed} "
              f"of {total}" + (" (recorded in `sweep.nc` with their residual, excluded from "
                               "the statistics)." if failed else "."), "",
              f"Each cell: {band}.", ""]
    for name in INDICATORS:
        parts += [f"### {HEADLINE[name].format(unit=unit)}", "",
                  "| case | " + " | ".join(regions) + " |", "|---|" + "---|" * len(regions)]
        for sel in cases:
            parts.append(f"| {_label(sel)} | "
                         + " | ".join(_band(sw, name, sel, r) for r in regions) + " |")
        parts.append("")
    if "welfare_S1" in sw:
        parts += ["### Sobol' indices of welfare (first order / total)", "",
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
        parts.append("")
    return "\n".join(parts)


def write_sweep_figure(sw: xr.Dataset, folder: Path) -> Path:
    """``sweep.png``: for sampled sweeps without a grid, histograms of welfare and real GDP by
    region (one colour per scenario); with a grid, the median (or value) along the first grid
    dimension with the 5-95 % band; for quadrature, mean ± standard deviation."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

    method = sw.attrs.get("sweep_method", "")
    regions = list(sw.region.values)
    grid = [d for d in sw.welfare.dims if d not in ("scenario", "draw", "region")]
    names = ("welfare", "real_gdp")
    fig = Figure(figsize=(4.5 * len(regions), 6.5), layout="constrained")
    axes = fig.subplots(len(names), len(regions), squeeze=False)
    for row, name in enumerate(names):
        for col, region in enumerate(regions):
            ax = axes[row, col]
            for sc in sw.scenario.values:
                base = {"scenario": sc, "region": region}
                if grid:
                    first = {d: 0 for d in grid[1:]}
                    x = sw[grid[0]].values
                    if f"{name}_summary" in sw:
                        st = sw[f"{name}_summary"].sel(base).isel(first)
                        key = "mean" if method == "quadrature" else "p50"
                        ax.plot(x, st.sel(statistic=key).values, marker="o", label=str(sc))
                        if method == "quadrature":
                            m, s = st.sel(statistic="mean").values, st.sel(statistic="sd").values
                            ax.fill_between(x, m - s, m + s, alpha=0.2)
                        else:
                            ax.fill_between(x, st.sel(statistic="p5").values,
                                            st.sel(statistic="p95").values, alpha=0.2)
                    else:
                        ax.plot(x, sw[name].sel(base).isel(first).values, marker="o",
                                label=str(sc))
                    ax.set_xlabel(grid[0])
                elif method == "quadrature":
                    st = sw[f"{name}_summary"].sel(base)
                    k = list(sw.scenario.values).index(sc)
                    ax.errorbar([k], [float(st.sel(statistic="mean"))],
                                yerr=[float(st.sel(statistic="sd"))], fmt="o", capsize=4,
                                label=str(sc))
                else:
                    values = sw[name].sel(base).values
                    values = values[np.isfinite(values)]
                    if values.size:
                        ax.hist(values, bins=min(60, max(10, values.size // 20)),
                                histtype="step", density=True, label=str(sc))
                    ax.set_xlabel("percent change")
            ax.set_title(f"{region}: {HEADLINE[name].format(unit='')}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{sw.attrs.get('title', '')}: sensitivity ({method})")
    path = Path(folder) / "sweep.png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    return path


def write_sweep_reports(sweep_path: Path, folder: Path) -> list[Path]:
    """Append the sweep's uncertainty section to the ``report.md`` the scenario run wrote
    (keeping its study notes and comparisons) and draw ``sweep.png``; returns the paths
    written."""
    folder = Path(folder)
    with xr.open_dataset(sweep_path, engine="netcdf4") as sw:
        figure = write_sweep_figure(sw, folder)
        section = uncertainty_markdown(sw)
    report = folder / "report.md"
    text = report.read_text(encoding="utf-8").rstrip("\n")
    write_text(f"{text}\n\n{section}\n\n![{figure.stem}]({figure.name})\n", report)
    return [report, figure]

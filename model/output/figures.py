"""Figures of a results Dataset: ``headline.png``, ``output.png`` and, for optimal-tariff
searches, ``optimal_tariff.png`` (matplotlib's object API: no pyplot, no GUI backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from model.core.catalogue import VARIABLES
from model.output.files import atomic_path

#: the indicators of ``headline.png``, one panel each
HEADLINE_PANELS = ("welfare", "real_wage", "real_gdp", "terms_of_trade")


def write_figures(result: xr.Dataset, folder: Path) -> list[Path]:
    """``headline.png`` (welfare, real wage, real GDP and terms of trade by scenario and region)
    and ``output.png`` (sectoral output changes by scenario, one panel per region)."""
    folder = Path(folder)
    figures = [headline_figure(result, folder / "headline.png"),
               output_figure(result, folder / "output.png")]
    if np.isfinite(result.curve_rate.values).any():
        figures.append(optimal_tariff_figure(result, folder / "optimal_tariff.png"))
    return figures


def optimal_tariff_figure(result: xr.Dataset, path: Path) -> Path:
    """The welfare of the region choosing along each optimal-tariff curve, the optimum marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    for sc in result.scenario.values:
        rates = result.curve_rate.sel(scenario=sc).values
        keep = np.isfinite(rates)
        if not keep.any():
            continue
        line = ax.plot(rates[keep], result.curve_welfare.sel(scenario=sc).values[keep],
                       label=str(sc))[0]
        chooser = np.isfinite(result.instrument_tariff.sel(scenario=sc).values)
        region = result.region.values[chooser][0]
        ax.plot(float(result.instrument_value.sel(scenario=sc)),
                float(result.welfare.sel(scenario=sc, region=region)), "o",
                color=line.get_color())
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("uniform tariff (fraction)")
    ax.set_ylabel("welfare of the region choosing (EV, % of income)")
    ax.legend(fontsize=8)
    ax.set_title("Optimal tariffs: the curves searched, optima marked")
    return save(fig, path)


def headline_figure(result: xr.Dataset, path: Path) -> Path:
    from matplotlib.figure import Figure

    scenarios = list(result.scenario.values)
    regions = list(result.region.values)
    x = np.arange(len(scenarios))
    width = 0.8 / max(len(regions), 1)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, key in zip(axes.ravel(), HEADLINE_PANELS):
        for k, region in enumerate(regions):
            values = result[key].sel(region=region).values
            ax.bar(x + (k - (len(regions) - 1) / 2) * width, values, width, label=region)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(VARIABLES[key].label.format(unit=""))
        ax.set_xticks(x, scenarios, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("percent change")
    axes[0, 0].legend()
    fig.suptitle(result.attrs.get("title", ""))
    return save(fig, path)


def output_figure(result: xr.Dataset, path: Path) -> Path:
    from matplotlib.figure import Figure

    scenarios = list(result.scenario.values)
    regions = list(result.region.values)
    fig = Figure(figsize=(5 + 4 * len(regions), 1.5 + 0.45 * len(result.sector)),
                 layout="constrained")
    axes = fig.subplots(1, len(regions), squeeze=False)
    data = result.output.values  # [scenario, region, sector]
    limit = np.nanmax(np.abs(data)) if np.isfinite(data).any() else 1.0
    limit = limit if limit > 0 else 1.0
    for ax, (k, region) in zip(axes[0], enumerate(regions)):
        image = ax.imshow(data[:, k, :].T, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_title(f"{region}: real output (%)")
        ax.set_xticks(range(len(scenarios)), scenarios, rotation=30, ha="right", fontsize=8)
        ax.set_yticks(range(len(result.sector)), list(result.sector.values), fontsize=8)
        for s in range(len(scenarios)):
            for j in range(len(result.sector)):
                if np.isfinite(data[s, k, j]):
                    ax.text(s, j, f"{data[s, k, j]:.1f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
    return save(fig, path)


def save(fig, path: Path, dpi: int = 100) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path

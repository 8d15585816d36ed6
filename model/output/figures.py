"""Figures of a results Dataset: ``headline.png`` and ``output.png`` (matplotlib's object API:
no pyplot, no GUI backend)."""

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
    return [headline_figure(result, folder / "headline.png"),
            output_figure(result, folder / "output.png")]


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

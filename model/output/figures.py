"""Figures of a results Dataset: ``headline.png``, ``output.png`` and, for optimal-tariff
searches, ``optimal_tariff.png`` (matplotlib's object API: no pyplot, no GUI backend).

Each figure is built by a function returning the matplotlib Figure (the tests inspect titles,
axis labels and overlaps) and saved by :func:`write_figures`.  Scenarios are labelled with
their name and the start of their description; a value the closure fixes (the real wage under a
fixed real wage, employment under full employment) is marked ``fixed`` rather than left blank.
"""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

from model.core.catalogue import VARIABLES
from model.output.files import atomic_path

#: the indicators of ``headline.png``, one panel each (employment only where it moves)
HEADLINE_PANELS = ("welfare", "real_wage", "real_gdp", "terms_of_trade", "employment_total")
#: characters of a scenario's description shown beside its name
DESCRIPTION_CHARS = 80


def write_figures(result: xr.Dataset, folder: Path) -> list[Path]:
    """``headline.png`` (welfare, real wage, real GDP, terms of trade and, where a closure lets
    it move, employment, by scenario and region), ``output.png`` (sectoral output changes, one
    panel per region) and, with optimal-tariff searches, ``optimal_tariff.png``."""
    return [save(build(result), Path(folder) / name) for name, build in figure_builders(result)]


def figure_builders(result: xr.Dataset) -> list:
    """``(file name, function building the Figure)`` of each figure of ``result``."""
    builders = [("headline.png", headline_figure), ("output.png", output_figure)]
    if np.isfinite(result.curve_rate.values).any():
        builders.append(("optimal_tariff.png", optimal_tariff_figure))
    return builders


def scenario_label(result: xr.Dataset, scenario: str, width: int = 44) -> str:
    """The scenario's name and the start of its description, wrapped."""
    text = str(result.description.sel(scenario=scenario).item() or "")
    if len(text) > DESCRIPTION_CHARS:
        text = text[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " ..."
    lines = textwrap.wrap(text, width)[:2]
    return "\n".join([str(scenario)] + lines)


def fixed_by_closure(result: xr.Dataset, name: str) -> np.ndarray:
    """``[scenario, region]``: True where the closure fixes the variable ``name`` (the real
    wage under a fixed real wage, employment under full employment)."""
    regions = [str(r) for r in result.region.values]
    fixed = np.zeros((result.sizes["scenario"], len(regions)), dtype=bool)
    for s, text in enumerate(result.closure.values):
        parts = [p.strip() for p in str(text).split(";")]
        for k, region in enumerate(regions):
            sticky = any(p == "fixed real wage" or f"{region} fixed real wage" in p
                         for p in parts)
            fixed[s, k] = sticky if name == "real_wage" else (
                not sticky if name == "employment_total" else False)
    return fixed


def headline_panels(result: xr.Dataset) -> tuple[str, ...]:
    """The panels of ``headline.png``: employment only if some closure lets it move."""
    moves = not fixed_by_closure(result, "employment_total").all()
    return tuple(p for p in HEADLINE_PANELS if p != "employment_total" or moves)


def panel_title(name: str) -> str:
    """A variable's table label, or its name and units."""
    v = VARIABLES[name]
    if v.label:
        return v.label.format(unit="").replace(" ()", "")
    return f"{name.replace('_total', '').replace('_', ' ')} (%)"


def headline_figure(result: xr.Dataset):
    """Horizontal bars: one row per scenario (labelled), one bar per region, one panel per
    indicator; the legend above the panels."""
    from matplotlib.figure import Figure

    scenarios = [str(s) for s in result.scenario.values]
    regions = [str(r) for r in result.region.values]
    panels = headline_panels(result)
    y = np.arange(len(scenarios))
    height = 0.8 / max(len(regions), 1)
    fig = Figure(figsize=(3.5 + 3.2 * len(panels), max(3.5, 1.8 + 0.5 * len(scenarios))),
                 layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    colours = [f"C{k}" for k in range(len(regions))]
    for ax, key in zip(axes, panels):
        values = result[key].values  # [scenario, region]
        fixed = fixed_by_closure(result, key)
        for k, region in enumerate(regions):
            pos = y + (k - (len(regions) - 1) / 2) * height
            bars(ax, pos, np.where(fixed[:, k], 0.0, values[:, k]), height, colours[k], region)
            marks = np.flatnonzero(fixed[:, k])
            ax.plot(np.zeros(len(marks)), pos[marks], "x", color="0.45", markersize=3.5,
                    label="fixed by the closure" if k == 0 and len(marks) else None)
        ax.autoscale_view()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(panel_title(key), fontsize=10)
        ax.set_xlabel(VARIABLES[key].units + (" (x: fixed by the closure)" if fixed.any()
                                              else ""), fontsize=8)
        ax.grid(axis="x", linewidth=0.3, alpha=0.5)
    axes[0].set_yticks(y, [scenario_label(result, s) for s in scenarios], fontsize=7)
    axes[0].set_ylabel("scenario")
    axes[0].invert_yaxis()
    for ax in axes[1:]:  # the scenarios are named beside the first panel only
        unticked(ax.yaxis)
    handles, labels = axes[0].get_legend_handles_labels()
    keep = [k for k, label in enumerate(labels) if label in regions]
    fig.legend([handles[k] for k in keep], [labels[k] for k in keep], loc="outside lower center",
               ncols=len(regions), title="region", fontsize=8)
    fig.suptitle(result.attrs.get("title", ""))
    return fig


def unticked(axis) -> None:
    """No ticks on ``axis``, one a panel shares with a panel that names them (its tick labels
    would be hidden, its tick marks repeat the named panel's): each tick, drawn or not, costs
    about half a millisecond to build, place and lay out, and a labelled one a few.  The panels
    stay shared (their limits move together); only this one's ticks go."""
    from matplotlib.axis import Ticker
    from matplotlib.ticker import NullFormatter, NullLocator

    axis.major, axis.minor = Ticker(), Ticker()  # the shared tickers replaced, not changed
    axis.set_major_locator(NullLocator())
    axis.set_major_formatter(NullFormatter())
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def bars(ax, pos: np.ndarray, values: np.ndarray, height: float, colour: str, label: str):
    """Horizontal bars from zero to ``values`` at ``pos``, as one collection (a bar per patch,
    as ``barh`` draws them, costs a millisecond each to build and lay out)."""
    from matplotlib.collections import PolyCollection

    values = np.where(np.isfinite(values), values, 0.0)
    lo, hi = pos - height / 2, pos + height / 2
    verts = np.stack([np.stack([np.zeros_like(values), lo], 1), np.stack([values, lo], 1),
                      np.stack([values, hi], 1), np.stack([np.zeros_like(values), hi], 1)], 1)
    ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="none", label=label),
                      autolim=True)


def boxes(ax, pos: np.ndarray, samples: list, height: float, colour: str = "C0",
          whis: tuple[float, float] = (5, 95)):
    """Horizontal box plots of ``samples`` (one array per position in ``pos``; values that
    are not finite left out) as three collections: boxes from the first to the third quartile,
    medians, and whiskers to the furthest value within the ``whis`` percentiles with caps, the
    statistics of ``Axes.boxplot`` (which builds a dozen artists per box, a millisecond each
    to lay out and draw).  A sample with no finite value draws nothing."""
    from matplotlib.collections import LineCollection, PolyCollection

    polys, medians, whiskers = [], [], []
    half, cap = height / 2, height / 4
    for y, sample in zip(pos, samples):
        x = np.asarray(sample, dtype=float)
        x = x[np.isfinite(x)]
        if not x.size:
            continue
        q1, med, q3 = np.percentile(x, [25, 50, 75])
        lo_val, hi_val = np.percentile(x, whis)
        lo = x[x >= lo_val].min(initial=q1)  # never inside the box
        hi = x[x <= hi_val].max(initial=q3)
        polys.append([(q1, y - half), (q3, y - half), (q3, y + half), (q1, y + half)])
        medians.append([(med, y - half), (med, y + half)])
        whiskers += [[(lo, y), (q1, y)], [(q3, y), (hi, y)],
                     [(lo, y - cap), (lo, y + cap)], [(hi, y - cap), (hi, y + cap)]]
    ax.add_collection(PolyCollection(polys, facecolors=colour, alpha=0.35, edgecolors="black",
                                     linewidths=1.0), autolim=True)
    ax.add_collection(LineCollection(whiskers, colors="black", linewidths=1.0), autolim=True)
    ax.add_collection(LineCollection(medians, colors=colour, linewidths=1.0), autolim=True)
    ax.autoscale_view()


def cell_labels(ax, texts: list[str], x, y, colours, size: float = 6.0):
    """Labels centred on the data points ``(x, y)``, drawn as one collection of glyph outlines
    (a text artist per cell costs about a millisecond to lay out and render, and a heat map of
    a study has a thousand cells).  The collection keeps its texts in ``labels``."""
    from matplotlib.collections import PathCollection
    from matplotlib.transforms import Affine2D

    points = Affine2D().scale(1 / 72) + ax.get_figure().dpi_scale_trans  # points to pixels
    labels = PathCollection([_glyphs(t, size) for t in texts], offsets=np.column_stack([x, y]),
                            offset_transform=ax.transData, transform=points,
                            facecolors=list(colours), edgecolors="none", linewidths=0)
    labels.labels = list(texts)
    labels.set_in_layout(False)  # inside the cells
    ax.add_collection(labels, autolim=False)
    return labels


@functools.lru_cache(maxsize=4096)
def _glyphs(text: str, size: float):
    """The outline of ``text`` in points, centred horizontally and on the height of a digit."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    from matplotlib.transforms import Affine2D

    prop = FontProperties(size=size)
    digit = TextPath((0, 0), "0", prop=prop).vertices[:, 1]
    path = TextPath((0, 0), text, prop=prop)
    x = path.vertices[:, 0]  # control points: their bounds are close enough to centre
    return path.transformed(Affine2D().translate(-(x.min() + x.max()) / 2,
                                                 -(digit.min() + digit.max()) / 2))


def output_figure(result: xr.Dataset):
    """Sectoral real output (percent change): one heat map per region (sectors by scenario),
    stacked, each cell labelled, the scenarios named below the last (a column is one scenario
    in every panel); the colour scale is symmetric and clipped at the 99th percentile of the
    absolute changes (the colour bar says so)."""
    from matplotlib.figure import Figure

    scenarios = [str(s) for s in result.scenario.values]
    regions = [str(r) for r in result.region.values]
    sectors = [str(s) for s in result.sector.values]
    data = result.output.values  # [scenario, region, sector]
    finite = np.abs(data[np.isfinite(data)])
    limit = float(np.percentile(finite, 99)) if finite.size else 1.0
    limit = limit if limit > 0 else 1.0
    # at least 7 inches wide: a panel's title needs about 3.6 beside the sector names and the
    # colour bar (a narrower panel's title would run under the colour bar)
    fig = Figure(figsize=(max(3.5 + 0.55 * len(scenarios), 7.0),
                          len(regions) * (1.6 + 0.3 * len(sectors))), layout="constrained")
    # the scenarios' names once, below the last panel (each copy is text to lay out and draw)
    axes = fig.subplots(len(regions), 1, squeeze=False, sharex=True)[:, 0]
    for ax, (k, region) in zip(axes, enumerate(regions)):
        image = ax.imshow(data[:, k, :].T, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        ax.set_title(f"{region}: real output by sector (percent change)", fontsize=10)
        ax.set_yticks(range(len(sectors)), sectors, fontsize=7)
        ax.set_ylabel("sector")
        s_idx, j_idx = np.nonzero(np.isfinite(data[:, k, :]))
        values = data[s_idx, k, j_idx]
        cell_labels(ax, [f"{v:.1f}".replace("-0.0", "0.0") for v in values], s_idx, j_idx,
                    np.where(np.abs(values) > 0.55 * limit, "white", "black"))
    axes[-1].set_xticks(range(len(scenarios)), scenarios, rotation=90, fontsize=7)
    axes[-1].set_xlabel("scenario")
    for ax in axes[:-1]:
        unticked(ax.xaxis)
    bar = fig.colorbar(image, ax=list(axes), shrink=0.5, extend="both", location="right")
    bar.set_label(f"real output, percent change (colour clipped at ±{limit:.1f})")
    fig.suptitle(result.attrs.get("title", ""))
    return fig


def optimal_tariff_figure(result: xr.Dataset):
    """The welfare of the region choosing along each optimal-tariff curve, the optimum marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    for sc in result.scenario.values:
        rates = result.curve_rate.sel(scenario=sc).values
        keep = np.isfinite(rates)
        if not keep.any():
            continue
        chooser = np.isfinite(result.instrument_tariff.sel(scenario=sc).values)
        region = result.region.values[chooser][0]
        line = ax.plot(100 * rates[keep], result.curve_welfare.sel(scenario=sc).values[keep],
                       label=f"{sc} ({region})")[0]
        ax.plot(100 * float(result.instrument_value.sel(scenario=sc)),
                float(result.welfare.sel(scenario=sc, region=region)), "o",
                color=line.get_color())
    ax.axhline(0, color="black", linewidth=0.6)
    ax.set_xlabel("uniform tariff (percent)")
    ax.set_ylabel("welfare of the region choosing (EV, % of income)")
    fig.legend(loc="outside right upper", fontsize=8, title="scenario (region)")
    ax.set_title("Optimal tariffs: the curves searched, optima marked")
    return fig


def save(fig, path: Path, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG, its layout computed once (``savefig`` would lay it out, draw it
    without rendering and lay it out again while drawing it), compressed at zlib's level 3
    (the default, 6, takes 1.5-2.5 times as long to encode these figures, for files at most
    8 % smaller)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import matplotlib

    # no layout engine chosen by the rc settings when one is set to None (here and in savefig)
    with matplotlib.rc_context({"figure.autolayout": False,
                                "figure.constrained_layout.use": False}):
        engine = fig.get_layout_engine()
        if engine is not None:
            FigureCanvasAgg(fig)
            fig.set_dpi(dpi)
            engine.execute(fig)
            # laid out: no engine (not "none", which savefig takes as one), so one drawing
            fig.set_layout_engine(None)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png", pil_kwargs={"compress_level": 3})
    return path

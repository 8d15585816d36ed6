"""Tables and figures from a results Dataset: ``summary.csv``, ``report.md``, PNG figures and
the terminal table."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.results import atomic_path, write_text

PLACEHOLDER = re.compile(r"\{\{([^{}]+)\}\}")


class NotesError(ValueError):
    """A placeholder of the notes that names something the results do not have."""


def parse_placeholder(text: str) -> tuple[str, str, str | None, tuple[str, ...], str]:
    """``variable|scenario[@file]|label...[:format]`` -> (variable, scenario, file, labels,
    format).  ``file`` is the stem of a compared scenario file; the format defaults to
    ``.2f``."""
    body, _, fmt = text.partition(":")
    parts = [p.strip() for p in body.split("|")]
    if len(parts) < 2:
        raise NotesError(f"{{{{{text}}}}}: write {{{{variable|scenario|region...}}}}")
    scenario, _, label = parts[1].partition("@")
    return parts[0], scenario, label or None, tuple(parts[2:]), fmt or ".2f"


def lookup(results: dict, default: str, text: str) -> float:
    """The value a placeholder names, from ``results`` (file stem -> results Dataset)."""
    variable, scenario, label, labels, _ = parse_placeholder(text)
    result = results.get(label or default)
    if result is None:
        raise NotesError(f"{{{{{text}}}}}: no compared scenario file '{label}'; the files are "
                         f"{', '.join(results)}")
    if variable not in result:
        raise NotesError(f"{{{{{text}}}}}: unknown variable '{variable}'")
    if scenario not in result.scenario.values:
        raise NotesError(f"{{{{{text}}}}}: unknown scenario '{scenario}'; the scenarios are "
                         f"{', '.join(map(str, result.scenario.values))}")
    da = result[variable].sel(scenario=scenario)
    dims = [d for d in da.dims]
    if len(labels) != len(dims):
        raise NotesError(f"{{{{{text}}}}}: '{variable}' needs {len(dims)} label(s) after the "
                         f"scenario ({', '.join(dims) or 'none'})")
    for dim, name in zip(dims, labels):
        if name not in da[dim].values:
            raise NotesError(f"{{{{{text}}}}}: unknown {dim} '{name}'; the choices are "
                             f"{', '.join(map(str, da[dim].values))}")
        da = da.sel({dim: name})
    return float(da)


def render_notes(text: str, results: dict, default: str) -> str:
    """Fill every ``{{...}}`` placeholder of ``text`` with the value it names."""
    def fill(match):
        value = lookup(results, default, match.group(1))
        return format(value, parse_placeholder(match.group(1))[4])
    return PLACEHOLDER.sub(fill, text)


def study_tables(result: xr.Dataset, regions=None, sectors=None) -> str:
    """One table per region: the headline indicators and the output of chosen sectors."""
    unit = result.attrs.get("dataset_unit", "")
    parts = []
    for region in regions or result.region.values:
        r = result.sel(region=region)
        frame = pd.DataFrame({
            "welfare %": r.welfare.values,
            "real GDP %": r.real_gdp.values,
            "real wage %": r.real_wage.values,
            "employment %": r.employment_total.values,
            "terms of trade %": r.terms_of_trade.values,
            f"trade balance ({unit})": r.trade_balance.values,
            "change": (r.trade_balance - r.trade_balance_benchmark).values,
        }, index=result.scenario.values)
        for sector in sectors or ():
            frame[f"{sector} output %"] = r.output.sel(sector=sector).values
        parts += [f"### {region}", "", _markdown_table(frame.reset_index(names="scenario"), 2), ""]
    return "\n".join(parts)


def comparison_scenarios(results: dict) -> list[str]:
    """Scenario names of the first file that every file with a common name has."""
    first = next(iter(results.values()))
    groups = [r for r in results.values() if set(r.scenario.values) & set(first.scenario.values)]
    return [s for s in first.scenario.values if all(s in r.scenario.values for r in groups)]


def comparison_tables(results: dict, regions, variables=("welfare", "real_gdp")) -> str:
    """Welfare and real GDP of the scenarios the files share, side by side across files (files
    with no scenario in common with the first are left out)."""
    common = comparison_scenarios(results)
    results = {k: r for k, r in results.items() if set(common) <= set(r.scenario.values)}
    labels = list(results)
    parts = []
    for region in regions:
        frame = pd.DataFrame(index=common)
        for variable in variables:
            for label in labels:
                sel = results[label][variable].sel(region=region, scenario=common)
                frame[f"{variable} ({label})"] = sel.values
        parts += [f"### {region}", "", _markdown_table(frame.reset_index(names="scenario"), 2), ""]
    return "\n".join(parts)

HEADLINE = {
    "welfare": "welfare (EV, % of income)",
    "real_wage": "real wage (%)",
    "real_gdp": "real GDP (%)",
    "terms_of_trade": "terms of trade (%)",
    "trade_balance": "trade balance ({unit})",
    "trade_balance_change": "change in trade balance ({unit})",
    "tariff_revenue": "tariff revenue ({unit})",
}


def summary_table(result: xr.Dataset) -> pd.DataFrame:
    """One row per scenario and region with the headline indicators."""
    rows = []
    for sc in result.scenario.values:
        for region in result.region.values:
            r = result.sel(scenario=sc, region=region)
            rows.append({
                "scenario": sc,
                "region": region,
                "welfare": float(r.welfare),
                "real_wage": float(r.real_wage),
                "real_gdp": float(r.real_gdp),
                "terms_of_trade": float(r.terms_of_trade),
                "trade_balance": float(r.trade_balance),
                "trade_balance_change": float(r.trade_balance - r.trade_balance_benchmark),
                "tariff_revenue": float(r.tariff_revenue),
                "converged": bool(r.converged),
                "residual": float(r.residual),
            })
    return pd.DataFrame(rows)


def largest_output_changes(result: xr.Dataset, scenario: str, count: int = 5) -> pd.DataFrame:
    """The ``count`` largest absolute changes of real sectoral output in a scenario."""
    out = result.output.sel(scenario=scenario).to_series().dropna()
    order = out.abs().sort_values(ascending=False).index[:count]
    return out.loc[order].rename("output (%)").reset_index()


def _fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.{digits}f}"


def _markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        cells = [_fmt(v, digits) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(result: xr.Dataset, figures: list[Path] = (), study=None,
                    compared: dict | None = None) -> str:
    """``report.md``: headline indicators side by side for all scenarios, the welfare
    decomposition, the largest sectoral output changes, and each scenario's convergence record;
    for a study with a ``[report]`` table, first its notes, its tables and the comparison with
    the other scenario files."""
    unit = result.attrs.get("dataset_unit", "")
    summary = summary_table(result)
    parts = [
        f"# {result.attrs.get('title', 'Results')}",
        "",
    ]
    spec = study.file.report if study is not None else None
    if spec is not None and (spec.notes or spec.regions or spec.sectors or spec.compare):
        stem = study.label
        results = {stem: result, **(compared or {})}
        if spec.notes:
            parts += [render_notes(spec.notes.read_text(encoding="utf-8"), results, stem), ""]
        parts += ["## The study in numbers", "",
                  study_tables(result, spec.regions, spec.sectors)]
        if compared and len(comparison_scenarios(results)):
            parts += ["## The same scenarios on other data or elasticities", "",
                      "Welfare (EV, % of income) and real GDP (%) for the scenarios every file "
                      f"has; columns are labelled by scenario file ({', '.join(results)}).", "",
                      comparison_tables(results, spec.regions or result.region.values)]
        parts += ["# Full results", ""]
    parts += [
        f"Dataset `{result.attrs['dataset_name']}` ({result.attrs['dataset_year']}, {unit}; "
        f"sha256 `{result.attrs['dataset_hash_sha256'][:12]}`), elasticities from "
        f"`{result.attrs['elasticities_file']}`. Scenario file `{result.attrs['scenario_file']}`. "
        f"armington-cge {result.attrs['package_version']}. Percent changes are relative to the "
        f"benchmark; values are in {unit} at benchmark prices of world value added (the numeraire).",
        "",
        "## Scenarios",
        "",
    ]
    for sc in result.scenario.values:
        desc = str(result.description.sel(scenario=sc).values)
        closure = str(result.closure.sel(scenario=sc).values)
        parts.append(f"- **{sc}**: {desc or '(no description)'} Trade-balance closure: {closure}.")
    parts += ["", "## Headline indicators", ""]
    for key, label in HEADLINE.items():
        table = summary.pivot(index="scenario", columns="region", values=key)
        table = table.loc[list(result.scenario.values), list(result.region.values)]
        parts += [f"### {label.format(unit=unit)}", "",
                  _markdown_table(table.reset_index()), ""]
    bench = result.trade_balance_benchmark.to_series()
    parts += ["Benchmark trade balance: "
              + ", ".join(f"{r} {_fmt(v)}" for r, v in bench.items()) + f" ({unit}).", ""]
    parts += ["## Welfare decomposition (percentage points of benchmark income)", "",
              "Each region's welfare change split by integrating along the path of the shock "
              "(Huff & Hertel 2000): terms of trade, volume of trade (efficiency of tariff and "
              "export-tax wedges; dearer shipping shows in the importer's terms of trade), "
              "preference distortions, the "
              "transfer from a change in the deficit, and employment. The parts add up to the "
              "welfare change (last column).", ""]
    decomposition = ["welfare_tot", "welfare_volume", "welfare_preference", "welfare_transfer",
                     "welfare_employment", "welfare"]
    rows = []
    for sc in result.scenario.values:
        for region in result.region.values:
            r = result.sel(scenario=sc, region=region)
            rows.append({"scenario": sc, "region": region,
                         **{k.replace("welfare_", ""): float(r[k]) for k in decomposition}})
    parts += [_markdown_table(pd.DataFrame(rows)), ""]
    parts += ["## Largest changes of sectoral output (real gross output, %)", ""]
    for sc in result.scenario.values:
        if not bool(result.converged.sel(scenario=sc)):
            continue
        parts += [f"### {sc}", "", _markdown_table(largest_output_changes(result, sc)), ""]
    parts += ["## Convergence", "",
              "| scenario | converged | iterations | labour residual | price residual | "
              "absorption residual |",
              "|---|---|---|---|---|---|"]
    for sc in result.scenario.values:
        r = result.sel(scenario=sc)
        parts.append(f"| {sc} | {bool(r.converged)} | {int(r.iterations)} | "
                     f"{float(r.residual):.2e} | {float(r.price_residual):.2e} | "
                     f"{float(r.absorption_residual):.2e} |")
    parts += ["", f"Solver: tolerance {result.attrs.get('solver_tol')}, "
              f"acceleration {result.attrs.get('solver_acceleration')}, "
              f"damping {result.attrs.get('solver_damping')}.", ""]
    if figures:
        parts += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures] + [""]
    return "\n".join(parts)


def terminal_table(result: xr.Dataset) -> str:
    """A short comparison table for the terminal."""
    summary = summary_table(result)
    cols = ["scenario", "region", "welfare", "real_wage", "real_gdp", "terms_of_trade",
            "trade_balance"]
    frame = summary[cols].copy()
    unit = result.attrs.get("dataset_unit", "")
    frame.columns = ["scenario", "region", "welfare %", "real wage %", "real GDP %", "ToT %",
                     f"balance {unit}"]
    return frame.to_string(index=False, float_format=lambda v: f"{v:9.3f}")


def write_figures(result: xr.Dataset, folder: Path) -> list[Path]:
    """``headline.png`` (welfare, real wage, real GDP and terms of trade by scenario and region)
    and ``output.png`` (sectoral output changes by scenario, one panel per region)."""
    from matplotlib.figure import Figure  # the object API: no pyplot, no GUI backend

    folder = Path(folder)
    paths = []
    scenarios = list(result.scenario.values)
    regions = list(result.region.values)
    x = np.arange(len(scenarios))
    width = 0.8 / max(len(regions), 1)
    fig = Figure(figsize=(11, 7.5), layout="constrained")
    axes = fig.subplots(2, 2)
    for ax, key in zip(axes.ravel(), ("welfare", "real_wage", "real_gdp", "terms_of_trade")):
        for k, region in enumerate(regions):
            values = result[key].sel(region=region).values
            ax.bar(x + (k - (len(regions) - 1) / 2) * width, values, width, label=region)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(HEADLINE[key].format(unit=""))
        ax.set_xticks(x, scenarios, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel("percent change")
    axes[0, 0].legend()
    fig.suptitle(result.attrs.get("title", ""))
    paths.append(_save(fig, folder / "headline.png"))

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
    paths.append(_save(fig, folder / "output.png"))
    return paths


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return path


def write_reports(result: xr.Dataset, folder: Path, study=None,
                  compared: dict | None = None) -> list[Path]:
    """Write ``summary.csv``, the figures and ``report.md`` into ``folder``; ``compared`` holds
    the results of the scenario files the study compares itself with, by label."""
    folder = Path(folder)
    figures = write_figures(result, folder)
    write_text(summary_table(result).to_csv(index=False, float_format="%.6g"),
               folder / "summary.csv")
    write_text(report_markdown(result, figures, study, compared), folder / "report.md")
    return [folder / "summary.csv", folder / "report.md", *figures]

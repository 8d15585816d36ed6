"""Tables of a results Dataset: ``summary.csv``, ``report.md`` and the terminal table.

Every label, unit and the choice of headline indicators come from the catalogue
(:mod:`model.core.catalogue`); the views below only say which variables each table shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from model.core.catalogue import DECOMPOSITION, PARTS, VARIABLES, headline
from model.output import notes

#: the columns of a study's table for each region, and of the terminal table
STUDY_TABLE = ("welfare", "real_gdp", "real_wage", "employment_total", "terms_of_trade",
               "trade_balance", "trade_balance_change")
TERMINAL_TABLE = ("welfare", "real_wage", "real_gdp", "terms_of_trade", "trade_balance")
#: what the comparison across scenario files shows
COMPARED = ("welfare", "real_gdp")


def values(result: xr.Dataset, name: str) -> xr.DataArray:
    """A variable of the results, or one derived from them (see the catalogue)."""
    v = VARIABLES[name]
    return v.read(result) if v.group == "derived" else result[name]


def by_scenario(result: xr.Dataset, name: str, dims: tuple[str, ...] = ()) -> np.ndarray:
    """The values of variable ``name``, scenario first, then ``dims`` and the variable's other
    dimensions: a report reads each scenario's entry by position, not by a selection of the
    Dataset per scenario."""
    return result[name].transpose("scenario", *dims, ...).values


def summary_table(result: xr.Dataset) -> pd.DataFrame:
    """One row per scenario and region with the headline indicators, whether the scenario
    converged and its residual."""
    frame = _by_scenario_and_region(result, {v.name: values(result, v.name)
                                             for v in headline()})
    regions = result.sizes["region"]
    frame["converged"] = np.repeat(result.converged.values.astype(bool), regions)
    frame["residual"] = np.repeat(result.residual.values.astype(float), regions)
    return frame


def _by_scenario_and_region(result: xr.Dataset, columns: dict) -> pd.DataFrame:
    """A row per scenario and region (regions within scenarios) with a column per entry of
    ``columns`` (DataArrays over scenario and region), read as whole arrays rather than one
    selection per cell."""
    scenarios, regions = result.scenario.values, result.region.values
    frame = pd.DataFrame({"scenario": np.repeat(scenarios, len(regions)),
                          "region": np.tile(regions, len(scenarios))})
    for label, array in columns.items():
        frame[label] = array.transpose("scenario", "region").values.astype(float).ravel()
    return frame


def study_tables(result: xr.Dataset, regions=None, sectors=None) -> str:
    """One table per region: the indicators of :data:`STUDY_TABLE` and the output of chosen
    sectors."""
    unit = result.attrs.get("dataset_unit", "")
    tables = {VARIABLES[name].short.format(unit=unit): values(result, name)
              .transpose("scenario", "region").values for name in STUDY_TABLE}
    output = result.output.transpose("scenario", "region", "sector").values
    region_at, sector_at = result.indexes["region"].get_loc, result.indexes["sector"].get_loc
    parts = []
    for region in regions or result.region.values:
        n = region_at(region)
        columns = {label: table[:, n] for label, table in tables.items()}
        for sector in sectors or ():
            columns[f"{sector} {VARIABLES['output'].short}"] = output[:, n, sector_at(sector)]
        frame = pd.DataFrame(columns, index=result.scenario.values)
        parts += [f"### {region}", "", markdown_table(frame.reset_index(names="scenario"), 2), ""]
    return "\n".join(parts)


def comparison_scenarios(results: dict) -> list[str]:
    """Scenario names of the first file that at least one other file has."""
    first, *others = results.values()
    solved = [set(r.scenario.values) for r in others]
    return [s for s in first.scenario.values if any(s in names for names in solved)]


def comparison_tables(results: dict, regions, variables=COMPARED) -> str:
    """The ``variables`` of the scenarios the first file shares with others, side by side
    across files; a blank where a file lacks the scenario or the region (a compared file may
    solve some scenarios only, on a dataset with other regions)."""
    common = comparison_scenarios(results)
    found = {}  # each file's rows of the common scenarios it has (and where), and its regions
    for label, r in results.items():
        at = {s: k for k, s in enumerate(r.scenario.values)}
        rows = np.array([at.get(s, -1) for s in common], dtype=int)
        found[label] = rows >= 0, rows[rows >= 0], list(r.region.values)
    tables = {(label, variable): by_scenario(r, variable, ("region",))
              for label, r in results.items() for variable in variables}
    parts = []
    for region in regions:
        columns = {}
        for variable in variables:
            for label in results:
                has, rows, regions_of = found[label]
                column = np.full(len(common), np.nan)  # n/a where the file lacks it
                if region in regions_of:
                    column[has] = tables[label, variable][rows, regions_of.index(region)]
                columns[f"{variable} ({label})"] = column
        frame = pd.DataFrame(columns, index=common)
        parts += [f"### {region}", "", markdown_table(frame.reset_index(names="scenario"), 2), ""]
    return "\n".join(parts)


def largest_output_changes(result: xr.Dataset, scenario: str, count: int = 5) -> pd.DataFrame:
    """The ``count`` largest absolute changes of real sectoral output in a scenario (NaN left
    out; ties in pandas' order of a descending sort of the region by sector table)."""
    table = result.output.sel(scenario=scenario).transpose("region", "sector").values
    region, sector = np.divmod(np.arange(table.size), table.shape[1])
    values = table.ravel()
    kept = ~np.isnan(values)
    order = pd.Series(np.abs(values[kept])).sort_values(ascending=False).index[:count]
    chosen = np.flatnonzero(kept)[order]
    return pd.DataFrame({"region": result.region.values[region[chosen]],
                         "sector": result.sector.values[sector[chosen]],
                         "output (%)": values[chosen]})


def fmt(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals; a value that rounds to zero is written without a sign."""
    if not np.isfinite(x):
        return "n/a"
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.values:  # the rows iterrows gives, without a Series for each
        cells = [fmt(v, digits) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report_markdown(result: xr.Dataset, figures: list[Path] = (), study=None,
                    compared: dict | None = None, sections: tuple[str, ...] = (),
                    sweep: xr.Dataset | None = None) -> str:
    """``report.md``: headline indicators side by side for all scenarios, the welfare
    decomposition, the largest sectoral output changes, and each scenario's convergence record;
    for a study with a ``[report]`` table, first its notes, its tables and the comparison with
    the other scenario files (``compared``: their results by label; the notes may cite the
    ``sweep``'s statistics); ``sections`` (Markdown, such as a sweep's uncertainty section)
    come last."""
    parts = [f"# {result.attrs.get('title', 'Results')}", ""]
    spec = study.file.report if study is not None else None
    if spec is not None and (spec.notes or spec.regions or spec.sectors or spec.compare):
        parts += _study_section(result, study, compared or {}, sweep) + ["# Full results", ""]
    parts += _scenarios_section(result) + _warnings_section(result)
    parts += _instruments_section(result)
    parts += _headline_section(result)
    parts += _decomposition_section(result) + _output_section(result)
    parts += _convergence_section(result)
    if figures:
        parts += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in figures] + [""]
    text = "\n".join(parts)
    for section in sections:
        text = f"{text.rstrip(chr(10))}\n\n{section}\n"
    return text


def _study_section(result: xr.Dataset, study, compared: dict, sweep=None) -> list[str]:
    spec = study.file.report
    results = {study.label: result, **compared}
    parts = []
    if spec.notes:
        cited = {**results, **({notes.SWEEP: sweep} if sweep is not None else {})}
        parts += [notes.render(spec.notes.read_text(encoding="utf-8"), cited, study.label), ""]
    parts += ["## The study in numbers", "", study_tables(result, spec.regions, spec.sectors)]
    if compared and len(comparison_scenarios(results)):
        parts += ["## The same scenarios on other data or elasticities", "",
                  "Welfare (EV, % of income) and real GDP (%) for the scenarios solved again by "
                  f"the compared files; columns are labelled by file ({', '.join(results)}); "
                  "n/a where a file lacks the scenario or the region.", "",
                  comparison_tables(results, spec.regions or result.region.values)]
    return parts


def _scenarios_section(result: xr.Dataset) -> list[str]:
    unit = result.attrs.get("dataset_unit", "")
    parts = [
        f"Dataset `{result.attrs['dataset_name']}` ({result.attrs['dataset_year']}, {unit}; "
        f"sha256 `{result.attrs['dataset_hash_sha256'][:12]}`): "
        f"{result.attrs.get('dataset_description', '').rstrip('.')}. Elasticities from "
        f"`{result.attrs['elasticities_file']}`. Scenario file `{result.attrs['scenario_file']}`. "
        f"armington-cge {result.attrs['package_version']}. Percent changes are relative to the "
        f"benchmark; values are in {unit} at benchmark prices of world value added (the "
        "numeraire).",
        "",
        "## Scenarios",
        "",
    ]
    for sc, desc, closure in zip(result.scenario.values, by_scenario(result, "description"),
                                 by_scenario(result, "closure")):
        desc, closure = str(desc), str(closure)
        parts.append(f"- **{sc}**: {desc or '(no description)'} Trade-balance closure: {closure}.")
    return parts + [""]


def _warnings_section(result: xr.Dataset) -> list[str]:
    """The scenarios' warnings, if any: what to read with care."""
    found = [(sc, str(text)) for sc, text in zip(result.scenario.values,
                                                  by_scenario(result, "warning")) if str(text)]
    if not found:
        return []
    return (["## Warnings", ""] + [f"- **{sc}**: {text}" for sc, text in found] + [""])


def _instruments_section(result: xr.Dataset) -> list[str]:
    """Endogenous instruments: each search's value, the tariffs of optimal-tariff and Nash
    searches, the curve an optimal tariff searched, and where each quota ends."""
    unit = result.attrs.get("dataset_unit", "")
    scenarios = result.scenario.values
    parts = []
    described = by_scenario(result, "instrument")
    found = [k for k in range(len(scenarios)) if str(described[k])]
    if found:
        parts += ["## Endogenous instruments", "",
                  "| scenario | instrument | value |", "|---|---|---|"]
        value = by_scenario(result, "instrument_value")
        for k in found:
            parts.append(f"| {scenarios[k]} | {described[k]} | {fmt(float(value[k]), 6)} |")
        parts.append("")
    tariffs = result.instrument_tariff
    chosen = [sc for sc, rates in zip(scenarios, by_scenario(result, "instrument_tariff"))
              if np.isfinite(rates).any()]
    if chosen:
        frame = tariffs.sel(scenario=chosen).to_pandas()
        rounds = dict(zip(scenarios, by_scenario(result, "search_rounds")))
        parts += ["### Tariffs chosen (optimal tariff, Nash equilibrium)", "",
                  "Uniform rate set by each region that chooses (fraction); best-response "
                  "rounds of a Nash search in the last column.", "",
                  markdown_table(frame.assign(rounds=[
                      fmt(float(rounds[sc]), 0) for sc in chosen]).reset_index(), 4), ""]
    for k, rates in enumerate(by_scenario(result, "curve_rate")):
        keep = np.isfinite(rates)
        if keep.any():
            welfare = result.curve_welfare.isel(scenario=k).values
            frame = pd.DataFrame({"tariff": rates[keep], "welfare %": welfare[keep]})
            parts += [f"### {scenarios[k]}: welfare along the tariffs searched", "",
                      markdown_table(frame, 4), ""]
    cells = ("importer", "exporter", "sector")
    regime = by_scenario(result, "quota_regime", cells)
    quota = {name: by_scenario(result, name, cells) for name in
             ("quota_tariff_equivalent", "quota_rent", "quota_fill")
             } if np.isfinite(regime).any() else {}  # read only where a quota is solved
    names = {0: "in quota", 1: "at the quota", 2: "over quota", 3: "zero quota"}
    rows = []
    for k, sc in enumerate(scenarios):
        for n, i, j in np.argwhere(np.isfinite(regime[k])):
            cell = {"importer": result.importer.values[n], "exporter": result.exporter.values[i],
                    "sector": result.sector.values[j]}
            rows.append({"scenario": sc, **cell,
                         "regime": names[int(regime[k, n, i, j])],
                         "tariff equivalent": float(quota["quota_tariff_equivalent"][k, n, i, j]),
                         f"rent ({unit})": float(quota["quota_rent"][k, n, i, j]),
                         "imports / quota": float(quota["quota_fill"][k, n, i, j])})
    if rows:
        parts += ["### Quotas", "", "Where each quota ends, its tariff equivalent (the tariff "
                  "that would give the same imports) and its rent.", "",
                  markdown_table(pd.DataFrame(rows), 4), ""]
    return parts


def _headline_section(result: xr.Dataset) -> list[str]:
    unit = result.attrs.get("dataset_unit", "")
    parts = ["## Headline indicators", ""]
    for v in headline():  # scenarios by regions, the values of summary_table
        table = pd.DataFrame(
            values(result, v.name).transpose("scenario", "region").values.astype(float),
            index=pd.Index(result.scenario.values, name="scenario"),
            columns=list(result.region.values))
        parts += [f"### {v.label.format(unit=unit)}", "", markdown_table(table.reset_index()), ""]
    bench = result.trade_balance_benchmark.to_series()
    return parts + ["Benchmark trade balance: "
                    + ", ".join(f"{r} {fmt(v)}" for r, v in bench.items()) + f" ({unit}).", ""]


def _decomposition_section(result: xr.Dataset) -> list[str]:
    parts = ["## Welfare decomposition (percentage points of benchmark income)", "",
             "Each region's welfare change split by integrating along the path of the shock "
             "(Huff & Hertel 2000): terms of trade, volume of trade (efficiency of tariff and "
             "export-tax wedges; dearer shipping shows in the importer's terms of trade), "
             "preference distortions, the "
             "transfer from a change in the deficit, and employment. The parts add up to the "
             "welfare change (last column).", ""]
    columns = {v.short: v.name for v in DECOMPOSITION if v.name in PARTS}
    columns["welfare"] = "welfare"
    frame = _by_scenario_and_region(result, {label: result[name]
                                             for label, name in columns.items()})
    return parts + [markdown_table(frame), ""]


def _output_section(result: xr.Dataset) -> list[str]:
    parts = ["## Largest changes of sectoral output (real gross output, %)", ""]
    for sc, converged in zip(result.scenario.values, by_scenario(result, "converged")):
        if not bool(converged):
            continue
        parts += [f"### {sc}", "", markdown_table(largest_output_changes(result, sc)), ""]
    return parts


def _convergence_section(result: xr.Dataset) -> list[str]:
    parts = ["## Convergence", "",
             "| scenario | converged | iterations | factor residual | price residual | "
             "absorption residual |",
             "|---|---|---|---|---|---|"]
    record = zip(result.scenario.values, *(by_scenario(result, name) for name in (
        "converged", "iterations", "residual", "price_residual", "absorption_residual")))
    for sc, converged, iterations, factor, price, absorption in record:
        parts.append(f"| {sc} | {bool(converged)} | {int(iterations)} | "
                     f"{float(factor):.2e} | {float(price):.2e} | {float(absorption):.2e} |")
    return parts + ["", f"Solver: tolerance {result.attrs.get('solver_tol')}, "
                    f"acceleration {result.attrs.get('solver_acceleration')}, "
                    f"damping {result.attrs.get('solver_damping')}.", ""]


def terminal_table(result: xr.Dataset) -> str:
    """A short comparison table for the terminal."""
    unit = result.attrs.get("dataset_unit", "")
    summary = summary_table(result)
    frame = summary[["scenario", "region", *TERMINAL_TABLE]].copy()
    frame.columns = ["scenario", "region"] + [VARIABLES[name].short.format(unit=unit)
                                              for name in TERMINAL_TABLE]
    return frame.to_string(index=False, float_format=lambda v: f"{v:9.3f}")

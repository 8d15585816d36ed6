"""The tables of data/README.md that describe the committed datasets: each region's totals and
each balanced region's adjustments.  ``python -m calibration.world2024 --check`` fails when the
README's copy differs from what the datasets give (``tests/test_data_world.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from calibration.io import load_dataset
from calibration.world2024.sources import SOURCES

#: the datasets the README describes, in the order of its tables
DATASETS = ("world5_2024", "jpn_usa_row_2024", "jpn_usa_2024")


def region_totals(folder: Path) -> pd.DataFrame:
    """Value added, gross output, goods and services trade with all partners (pre-tariff) and
    the trade balance of each region of the dataset in ``folder``, US$ bn."""
    ds = load_dataset(folder)
    x = ds.flows.copy()
    r = len(ds.regions)
    x[np.arange(r), np.arange(r)] = 0.0
    svc = list(ds.sectors).index("services")
    goods = np.arange(len(ds.sectors)) != svc
    rows = []
    for k, name in enumerate(ds.regions):
        ex_g, im_g = x[k][:, goods].sum(), x[:, k][:, goods].sum()
        ex_s, im_s = x[k, :, svc].sum(), x[:, k, svc].sum()
        rows.append({"region": name, "value added": ds.value_added[k].sum(),
                     "gross output": ds.flows[k].sum(),
                     "goods exports": ex_g, "goods imports": im_g,
                     "services exports": ex_s, "services imports": im_s,
                     "balance": ex_g + ex_s - im_g - im_s})
    return pd.DataFrame(rows)


def totals_markdown(data: Path) -> str:
    """The totals table of every dataset, as Markdown."""
    head = ("| dataset | region | value added | gross output | goods exports | goods imports "
            "| services exports | services imports | balance |")
    lines = [head, "|" + "---|" * 9]
    for name in DATASETS:
        for _, row in region_totals(data / name).iterrows():
            values = " | ".join(f"{row[c]:,.2f}" for c in row.index[1:])
            lines.append(f"| {name} | {row['region']} | {values} |")
    return "\n".join(lines)


def balancing_markdown(data: Path) -> str:
    """For each balanced region (of the five-region world; the derived datasets carry the same
    record): the sum of absolute changes to intermediates and to final demand, as a share of
    the source values, and the three largest changes."""
    lines = ["| region | intermediates: Σ\\|change\\| (share) | final demand: "
             "Σ\\|change\\| (share) | largest changes |", "|---|---|---|---|"]
    rec = pd.read_csv(data / DATASETS[0] / "balancing_adjustments.csv")
    for region, g in rec.groupby("region", sort=False):
        final = g["user"] == "final_demand"
        cells = []
        for part in (~final, final):
            moved = g.loc[part, "change"].abs().sum()
            share = 100 * moved / g.loc[part, "before"].abs().sum()
            cells.append(f"{moved:,.1f} ({share:.1f} %)")
        top = g.reindex(g["change"].abs().sort_values(ascending=False).index[:3])
        largest = "; ".join(f"{row.input}→{row.user} {row.change:+,.1f}"
                            for row in top.itertuples())
        lines.append(f"| {region} | {cells[0]} | {cells[1]} | {largest} |")
    return "\n".join(lines)


def regime_averages(flows: np.ndarray, regimes: dict, regions, sectors) -> pd.DataFrame:
    """The US tariff of each regime on each partner, averaged over goods with the benchmark US
    imports as weights, % (rows: regime; columns: partner)."""
    u = list(regions).index("USA")
    goods = np.array([s != "services" for s in sectors])
    rows = {}
    for regime, t in regimes.items():
        rows[regime] = {}
        for k, partner in enumerate(regions):
            if k == u:
                continue
            w = flows[k, u] * goods
            rows[regime][partner] = 100 * float(np.nansum(w * t[u, k]) / w.sum())
    return pd.DataFrame.from_dict(rows, orient="index")


def yale_rates(sources: Path = SOURCES) -> pd.DataFrame:
    """The Yale Budget Lab's effective rates by regime and partner (rate %, date)."""
    return pd.read_csv(sources / "yale_effective_rates_2025.csv")


def regimes_markdown(data: Path) -> str:
    """The regime averages of the five-region world beside the Yale tracker's rates."""
    ds = load_dataset(data / DATASETS[0])
    avg = regime_averages(ds.flows, ds.regimes, ds.regions, ds.sectors)
    yale = yale_rates()
    lines = ["| regime | " + " | ".join(avg.columns) + " | Yale tracker date |",
             "|---|" + "---|" * (len(avg.columns) + 1)]
    for regime, row in avg.iterrows():
        hits = yale[yale["regime"] == regime].set_index("partner")
        cells = [f"{row[p]:.2f}" + (f" ({hits.loc[p, 'rate_percent']:.2f})" if p in hits.index
                                    else "") for p in avg.columns]
        date = hits["date"].iloc[0] if len(hits) else "—"
        lines.append(f"| `{regime}` | " + " | ".join(cells) + f" | {date} |")
    return "\n".join(lines)


def blocks(data: Path) -> dict[str, str]:
    """The generated README blocks by marker name."""
    return {"totals": totals_markdown(data), "balancing": balancing_markdown(data),
            "regimes": regimes_markdown(data)}


def readme_block(text: str, marker: str) -> str:
    """The text between ``<!-- marker:begin -->`` and ``<!-- marker:end -->``, stripped."""
    begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
    if begin not in text or end not in text:
        raise ValueError(f"data/README.md has no {begin} ... {end} block")
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def refresh_readme(readme: Path, data: Path) -> None:
    """Rewrite the generated blocks of ``readme`` from the datasets in ``data``."""
    text = readme.read_text(encoding="utf-8")
    for marker, table in blocks(data).items():
        readme_block(text, marker)  # both markers are there
        begin, end = f"<!-- {marker}:begin -->", f"<!-- {marker}:end -->"
        head, rest = text.split(begin, 1)
        text = f"{head}{begin}\n{table}\n{end}{rest.split(end, 1)[1]}"
    tmp = readme.with_name(readme.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(readme)


def stale_blocks(readme: Path, data: Path) -> list[str]:
    """The marker names whose README block differs from what the datasets give."""
    text = readme.read_text(encoding="utf-8")
    return [m for m, table in blocks(data).items() if readme_block(text, m) != table]

"""``python -m calibration.world2024 [--check]``: rebuild ``data/world5_2024``,
``data/jpn_usa_row_2024`` and ``data/jpn_usa_2024`` from ``data/sources`` and refresh the tables
of data/README.md that describe them; ``--check``
rebuilds into a temporary folder, exits 1 if a committed file (or a table of data/README.md
that describes them) differs, and prints each region's
trade totals beside the cited figures and the US tariff regimes beside the Yale Budget Lab's
effective rates.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.io import load_dataset
from calibration.world2024 import summary, trade
from calibration.world2024.build import aggregate, fold, world5
from calibration.world2024.sources import REGIONS, ROOT, SECTORS, Sources, read_sources
from calibration.world2024.tariffs import regime_table, us_regimes
from calibration.write import adjustments_text, dataset_files, toml_text, write_dataset

DATA = ROOT / "data"
README = DATA / "README.md"
#: the datasets and how each is made from the five-region world
DATASETS = {
    "world5_2024": lambda w: w,
    "jpn_usa_row_2024": lambda w: aggregate(w, {"JPN": ("JPN",), "USA": ("USA",),
                                                "ROW": ("CHN", "EU", "ROW")}),
    "jpn_usa_2024": lambda w: fold(w, ("JPN", "USA")),
}
MEMBERS = {"world5_2024": {r: (r,) for r in REGIONS},
           "jpn_usa_row_2024": {"JPN": ("JPN",), "USA": ("USA",), "ROW": ("CHN", "EU", "ROW")},
           "jpn_usa_2024": {"JPN": ("JPN",), "USA": ("USA",)}}
DECIMALS = {"flows.csv": 9, "value_added.csv": 9, "intermediates.csv": 9, "tariffs.csv": 6,
            "elasticities.csv": 4, "elasticities_cp2015.csv": 4, "elasticities_uniform.csv": 4}
DESCRIPTIONS = {
    "world5_2024": "Japan, the United States, China, the EU (27) and the rest of the world, 13 "
                   "sectors, 2024, US$ bn. Each named region's goods and services trade with "
                   "all partners is its published 2024 total; the rest of the world is the "
                   "counterpart.",
    "jpn_usa_row_2024": "Japan, the United States and the rest of the world (China, the EU and "
                        "all others merged), 13 sectors, 2024, US$ bn: the five-region world "
                        "aggregated, with the same totals.",
    "jpn_usa_2024": "Japan and the United States, 13 sectors, 2024, US$ bn; a teaching case. "
                    "Each country's trade with third countries is replaced by its own "
                    "production for its own use, so its overall trade balance equals its "
                    "bilateral balance with the other by construction.",
}


def elasticity_files(src: Sources) -> dict:
    """The three elasticity files: GTAP σ_D with σ_M by the rule of two (the default),
    Caliendo & Parro (2015) θ + 1, and a uniform σ = 5 (θ = 4)."""
    e = src["elasticities_2024"].set_index("sector").reindex(list(SECTORS))
    gtap = e["sigma_gtap"].to_numpy(float)
    uniform = 1.0 + src.scalar("uniform_trade_elasticity")
    return {"elasticities.csv": (gtap, e["sigma_m_gtap"].to_numpy(float)),
            "elasticities_cp2015.csv": e["theta_cp2015"].to_numpy(float) + 1.0,
            "elasticities_uniform.csv": np.full(len(SECTORS), uniform)}


def us_import_weights(world: dict) -> np.ndarray:
    """US imports by five-region partner and sector in the benchmark: the weights of the
    regime averages."""
    return world["flows"][:, REGIONS.index("USA"), :]


def files_of(name: str, ds: dict, world: dict, src: Sources) -> dict:
    files = dataset_files(ds["regions"], SECTORS, ds["flows"], ds["value_added"],
                          ds["intermediates"], ds["tariffs"], elasticity_files(src), DECIMALS)
    files["regimes.csv"] = regime_table(src, ds["regions"], MEMBERS[name],
                                        us_import_weights(world)).to_csv(
        index=False, float_format="%.6f", lineterminator="\n")
    files["balancing_adjustments.csv"] = adjustments_text(ds["records"], decimals=6)
    files["dataset.toml"] = toml_text({
        "name": name, "year": 2024, "currency": "USD", "unit": "US$ bn",
        "description": DESCRIPTIONS[name],
        "sources": {"documentation": "data/README.md",
                    "build": "python -m calibration.world2024 (from data/sources)"},
    })
    return files


def _loads(folder: Path) -> None:
    for name in ("elasticities.csv", "elasticities_cp2015.csv", "elasticities_uniform.csv"):
        load_dataset(folder, name)


def build(out: Path = DATA, src: Sources | None = None) -> list[str]:
    """Write the three datasets into ``out``; returns the lines of the check report."""
    src = src or read_sources()
    world = world5(src)
    for name, make in DATASETS.items():
        write_dataset(out / name, files_of(name, make(world), world, src), _loads)
    if out == DATA:
        summary.refresh_readme(README, DATA)
    return report(world, src)


def report(world: dict, src: Sources) -> list[str]:
    """Each region's trade totals beside the cited figures, the balancing, and the US
    regimes' import-weighted averages beside the Yale tracker's effective rates."""
    lines = ["trade totals, US$ bn (dataset / cited):"]
    totals = trade.trade_totals(world["flows"])
    for r in REGIONS[:-1]:
        cited = {"goods exports": src.usd_bn(trade.GOODS_TOTALS[r][0]),
                 "goods imports": src.usd_bn(trade.GOODS_TOTALS[r][1]),
                 "services exports": src.usd_bn(trade.SERVICES_TOTALS[r][0]),
                 "services imports": src.usd_bn(trade.SERVICES_TOTALS[r][1])}
        lines.append(f"  {r}: " + "; ".join(f"{k} {totals[r][k]:.2f} / {v:.2f}"
                                            for k, v in cited.items()))
    rec = pd.DataFrame(world["records"])
    lines.append("balancing (share of intermediates and final demand moved):")
    for r, g in rec.groupby("region", sort=False):
        lines.append(f"  {r}: {100 * g['change'].abs().sum() / g['before'].abs().sum():.2f} %")
    avg = summary.regime_averages(world["flows"], _regimes_5(src), REGIONS, SECTORS)
    yale = summary.yale_rates()
    lines.append("US tariffs, import-weighted over goods sectors, % (Yale effective rate, date):")
    for regime, row in avg.iterrows():
        hits = yale[yale["regime"] == regime].set_index("partner")
        lines.append(f"  {regime}: " + "; ".join(
            f"{p} {row[p]:.2f}" + (f" (Yale {hits.loc[p, 'rate_percent']:.2f}, "
                                   f"{hits.loc[p, 'date']})" if p in hits.index else "")
            for p in avg.columns))
    return lines


def _regimes_5(src: Sources) -> dict:
    """The regimes as ``t[importer, exporter, sector]`` of the five regions."""
    out = {}
    u = REGIONS.index("USA")
    for regime, t in us_regimes(src).items():
        full = np.zeros((len(REGIONS), len(REGIONS), len(SECTORS)))
        full[u] = t
        out[regime] = full
    return out


def differing_files(a: Path, b: Path) -> list[str]:
    """Names of files that differ between two dataset folders (or exist in only one)."""
    names = sorted({p.name for p in a.glob("*")} | {p.name for p in b.glob("*")})
    return [n for n in names if not ((a / n).exists() and (b / n).exists()
                                     and filecmp.cmp(a / n, b / n, shallow=False))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m calibration.world2024",
                                description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true",
                   help="rebuild into a temporary folder and fail if committed files differ")
    args = p.parse_args(argv)
    if not args.check:
        print("\n".join(build()))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        lines = build(Path(tmp))
        diffs = [f"{name}/{f}" for name in DATASETS
                 for f in differing_files(Path(tmp) / name, DATA / name)]
        diffs += [f"the {block} table of data/README.md"
                  for block in summary.stale_blocks(README, Path(tmp))]
    print("\n".join(lines))
    if diffs:
        print("out of date: " + ", ".join(diffs), file=sys.stderr)
        return 1
    print("datasets are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

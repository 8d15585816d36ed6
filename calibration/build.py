"""Build a dataset folder from an OECD ICIO or WIOD table or a GTAP basedata file, with a map.

    python -m calibration.build SOURCE --map MAP.toml --out data/NAME [--sets SETS.har]
                                [--format icio|gtap|wiod] [--date YYYY-MM-DD] [--quiet]

Steps, each a function of its inputs:

1. read the source into a :class:`~calibration.sources.SourceTable` in the model's accounting
   (:mod:`calibration.sources.icio`, :mod:`calibration.sources.wiod`,
   :mod:`calibration.sources.gtap`);
2. aggregate it onto the map's regions and sectors (:func:`calibration.sources.maps.aggregate`);
3. clean and balance (:func:`benchmark_from_table`): negative shipments and value added are set
   to zero, duties on trade inside one model region are dropped, tariff rates are duties over
   shipments, and each region's intermediates and final demand are balanced by RAS to the
   absorption implied by the shipments and to each sector's input costs (output − value added),
   so shipments and value added are kept exactly;
4. check with the dataset loader's rules and write the folder (:mod:`calibration.write`), with
   ``balancing_adjustments.csv`` (every cell before and after balancing) and ``dataset.toml``
   (source file name and SHA-256, the map, the build date, the treatment of the source's items).

Exit codes: 0 success; 2 bad input (unreadable source, missing header, a map that leaves a
source label unmapped or names something the loader would reject, data the balancing cannot
fix): the message on stderr names the file and the item, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.accounts import absorption
from calibration.balance import BalancingError, balance_region
from calibration.io import DatasetError, load_dataset, make_dataset, sha256_of
from calibration.sources import SourceError, SourceTable
from calibration.sources.maps import AggregationMap, aggregate, expanded, read_map
from calibration.write import adjustments_text, dataset_files, toml_text, write_dataset

FORMATS = ("icio", "gtap", "wiod")
DOCUMENTATION = "README.md, section 'Building a dataset from ICIO, WIOD or GTAP'"


@dataclass(frozen=True, eq=False)
class BalancedTable:
    """Balanced benchmark arrays on the model's labels, with the record of every adjustment.

    ``flows[i, n, j]``, ``value_added[n, j]``, ``intermediates[n, k, j]``, ``tariffs[n, i, j]``;
    ``adjustments`` lists every cell of each region's ``[intermediates | final demand]`` before
    and after balancing; ``cleaning`` holds the totals set to zero or dropped before balancing.
    """

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    flows: np.ndarray
    value_added: np.ndarray
    intermediates: np.ndarray
    final_demand: np.ndarray
    tariffs: np.ndarray
    adjustments: list
    cleaning: dict


def detect_format(path: Path) -> str:
    """``gtap`` for ``.har`` files, ``wiod`` for ``WIOT*`` or Excel files, else ``icio``."""
    if path.suffix.lower() == ".har":
        return "gtap"
    if path.name.lower().startswith("wiot") or path.suffix.lower() in (".xlsx", ".xlsb"):
        return "wiod"
    return "icio"


def read_source(path: Path, fmt: str, sets: Path | None = None) -> tuple[SourceTable, str, str]:
    """The source as a table, its format description and the record of its treatment."""
    if fmt == "gtap":
        from calibration.sources import gtap

        return gtap.read_gtap(path, sets), gtap.FORMAT + " read with harpy3", gtap.TREATMENT
    if sets is not None:
        raise SourceError(f"{sets}: --sets applies to GTAP .har files only")
    if fmt == "icio":
        import pymrio

        from calibration.sources import icio

        return (icio.read_icio(path), f"{icio.FORMAT} read with pymrio {pymrio.__version__} "
                "(parse_oecd)", icio.TREATMENT)
    if fmt == "wiod":
        import pymrio

        from calibration.sources import wiod

        return (wiod.read_wiod(path), f"{wiod.FORMAT} read with pymrio {pymrio.__version__} "
                "(parse_wiod)", wiod.TREATMENT)
    raise SourceError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def tariff_rates(flows: np.ndarray, duties: np.ndarray, regions, sectors) -> np.ndarray:
    """``t[n, i, j] = duties[i, n, j] / flows[i, n, j]`` between regions (0 where nothing flows
    and on a region's own goods)."""
    rate = np.divide(duties, flows, out=np.zeros_like(flows), where=flows > 0)
    idx = np.arange(len(regions))
    rate[idx, idx, :] = 0.0
    bad = np.argwhere(rate <= -1.0)
    if bad.size:
        i, n, j = bad[0]
        raise SourceError(f"import subsidy of {regions[n]} on {sectors[j]} from {regions[i]} is "
                          f"{-duties[i, n, j]:.9g}, at least the value shipped "
                          f"({flows[i, n, j]:.9g}): a rate at or below -100 %")
    return np.transpose(rate, (1, 0, 2))


def benchmark_from_table(table: SourceTable, floor_share: float = 1e-3) -> BalancedTable:
    """Clean and balance an aggregated table (module docstring, step 3).

    Shipments and value added come out as they went in, except cells that were negative (set to
    0) or value added above a sector's output (capped at it); only intermediates and final
    demand move, by RAS (:func:`calibration.balance.balance_use_table`).
    """
    regions, sectors = table.regions, table.sectors
    nr, ns = len(regions), len(sectors)
    flows = np.clip(table.flows, 0.0, None)
    idx = np.arange(nr)
    inside = table.duties[idx, idx, :].sum()
    positive = table.flows > 0
    orphan = np.where(positive, 0.0, table.duties)
    orphan[idx, idx, :] = 0.0
    tariffs = tariff_rates(flows, np.where(positive, table.duties, 0.0), regions, sectors)
    output = flows.sum(axis=1)
    va = np.clip(table.value_added, 0.0, None)
    capped = np.maximum(va - output, 0.0)
    va = np.minimum(va, output)
    cleaning = {
        "negative shipments set to 0": float(-np.minimum(table.flows, 0.0).sum()),
        "negative value added set to 0": float(-np.minimum(table.value_added, 0.0).sum()),
        "value added above gross output, capped at output": float(capped.sum()),
        "duties on trade within one model region, dropped": float(inside),
        "duties on shipments that are zero or negative, dropped": float(orphan.sum()),
    }
    intermediates = np.zeros((nr, ns, ns))
    final_demand = np.zeros((nr, ns))
    adjustments = []
    spend = absorption(flows, tariffs)
    for n, region in enumerate(regions):
        try:
            intermediates[n], final_demand[n], records = balance_region(
                region, sectors, table.intermediates[n], table.final_demand[n], spend[n],
                output[n] - va[n], floor_share=floor_share)
        except BalancingError as exc:
            raise SourceError(f"balancing {region}: {exc}") from None
        adjustments += records
    return BalancedTable(regions=regions, sectors=sectors, flows=flows, value_added=va,
                         intermediates=intermediates, final_demand=final_demand,
                         tariffs=tariffs, adjustments=adjustments, cleaning=cleaning)


def adjustment_summary(bm: BalancedTable) -> dict:
    """Size of the balancing by region: Σ|after − before| of intermediates and of final demand,
    each also as a share of the source's Σ|before|, and the largest single change."""
    out = {}
    for region in bm.regions:
        recs = [r for r in bm.adjustments if r["region"] == region]
        summary = {}
        for part, pick in (("intermediates", lambda r: r["col"] != "final_demand"),
                           ("final_demand", lambda r: r["col"] == "final_demand")):
            sel = [r for r in recs if pick(r)]
            change = sum(abs(r["change"]) for r in sel)
            base = sum(abs(r["before"]) for r in sel)
            summary[f"{part}_abs_change"] = change
            summary[f"{part}_share"] = change / base if base > 0 else 0.0
        largest = max(recs, key=lambda r: abs(r["change"]))
        summary["largest_change"] = largest["change"]
        summary["largest_change_cell"] = f"{largest['row']} -> {largest['col']}"
        out[region] = summary
    return out


def sigma_vector(amap: AggregationMap, sectors) -> np.ndarray:
    return np.array([amap.sigma_of(s) for s in sectors])


def metadata(*, name, year, table: SourceTable, amap: AggregationMap, source: Path,
             source_sha256: str, fmt_text: str, treatment: str, date: str, source_labels,
             bm: BalancedTable, sigma: np.ndarray) -> dict:
    """The content of ``dataset.toml``."""
    where = str(amap.path)
    summary = adjustment_summary(bm)
    total_change = sum(s["intermediates_abs_change"] + s["final_demand_abs_change"]
                       for s in summary.values())
    base = sum(abs(r["before"]) for r in bm.adjustments)
    defaulted = [s for s in bm.sectors if s not in amap.sigma]
    parts = [f"map [sigma] for {', '.join(s for s in bm.sectors if s in amap.sigma)}"] \
        if len(defaulted) < len(bm.sectors) else []
    if defaulted:
        parts.append(f"{amap.default_source} {amap.default_sigma:g} for {', '.join(defaulted)}")
    sigma_text = "; ".join(parts)
    description = amap.description or (
        f"{table.description} aggregated to {len(bm.regions)} regions and {len(bm.sectors)} "
        f"sectors with the map {amap.path.name}, {table.unit}.")
    return {
        "name": name,
        "year": int(year),
        "currency": table.currency,
        "unit": table.unit,
        "description": description,
        "sources": {
            "file": source.name,
            "sha256": source_sha256,
            "format": fmt_text,
            "map": amap.path.name,
            "map_sha256": amap.sha256,
            "build_date": date,
            "treatment": treatment,
            "elasticities": sigma_text,
            "balancing": (f"RAS of each region's intermediates and final demand to the absorption "
                          f"of the shipments and the input costs of each sector; shipments and "
                          f"value added kept; sum of absolute changes {total_change:.6g} "
                          f"{table.unit} ({100 * total_change / base if base else 0.0:.4g} % of "
                          "the source values); every cell in balancing_adjustments.csv"),
            "documentation": DOCUMENTATION,
        },
        "map": {
            "regions": expanded(amap.regions, source_labels[0], where, "regions"),
            "sectors": expanded(amap.sectors, source_labels[1], where, "sectors"),
            "sigma": {s: float(v) for s, v in zip(bm.sectors, sigma)},
            **({"scale": amap.scale} if amap.scale != 1.0 else {}),
        },
        "folded": dict(table.folded),
        "cleaning": dict(bm.cleaning),
        "balancing": summary,
    }


def build(source: str | Path, map_path: str | Path, out: str | Path, *, sets=None, fmt=None,
          date: str | None = None) -> dict:
    """Build the dataset folder ``out`` (module docstring); returns the content of its
    ``dataset.toml`` (:func:`report_text` summarises it).

    Raises
    ------
    SourceError
        For every problem with the inputs; nothing is written then.
    """
    source, out = Path(source), Path(out)
    fmt = fmt or detect_format(source)
    date = date or dt.date.today().isoformat()
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise SourceError(f"--date {date!r} is not a date (YYYY-MM-DD)") from None
    amap = read_map(map_path)
    table, fmt_text, treatment = read_source(source, fmt, Path(sets) if sets else None)
    agg = aggregate(table, amap)
    if agg.year is None:
        raise SourceError(f"{amap.path}: the year of the data is not known from the source; "
                          "give `year = ...` in the map")
    bm = benchmark_from_table(agg)
    sigma = sigma_vector(amap, bm.sectors)
    name = amap.name or out.name
    try:
        make_dataset(bm.regions, bm.sectors, bm.flows, bm.value_added, bm.intermediates,
                     bm.tariffs, sigma, path=out)
    except DatasetError as exc:
        raise SourceError(f"the built dataset fails the loader's checks: {exc}") from None
    meta = metadata(name=name, year=agg.year, table=agg, amap=amap, source=source,
                    source_sha256=sha256_of(source), fmt_text=fmt_text, treatment=treatment,
                    date=date, source_labels=(table.regions, table.sectors), bm=bm, sigma=sigma)
    files = dataset_files(bm.regions, bm.sectors, bm.flows, bm.value_added, bm.intermediates,
                          bm.tariffs, {"elasticities.csv": sigma})
    files["balancing_adjustments.csv"] = adjustments_text(bm.adjustments)
    files["dataset.toml"] = toml_text(meta)
    write_dataset(out, files, _loads)
    return meta


def _loads(folder: Path) -> None:
    """The written folder must pass the loader's checks."""
    try:
        load_dataset(folder)
    except DatasetError as exc:
        raise SourceError(f"the written dataset fails the loader's checks: {exc}") from None


def report_text(out: Path, meta: dict) -> str:
    unit = meta["unit"]
    lines = [f"wrote {out} ({meta['name']}, {meta['year']}, {unit}): "
             f"{len(meta['map']['regions'])} regions, {len(meta['map']['sectors'])} sectors",
             f"  source {meta['sources']['file']} sha256 {meta['sources']['sha256'][:16]}...",
             "  balancing (RAS on intermediates | final demand; shipments and value added kept):"]
    for region, s in meta["balancing"].items():
        lines.append(
            f"    {region}: intermediates sum|change| {s['intermediates_abs_change']:.6g} "
            f"({100 * s['intermediates_share']:.4g} %), final demand "
            f"{s['final_demand_abs_change']:.6g} ({100 * s['final_demand_share']:.4g} %); largest "
            f"{s['largest_change']:.6g} at {s['largest_change_cell']}")
    nonzero = {k: v for k, v in meta["cleaning"].items() if v}
    for k, v in nonzero.items():
        lines.append(f"  {k}: {v:.6g} {unit}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m calibration.build",
        description="Build a dataset folder from an OECD ICIO or WIOD table or a GTAP basedata file.")
    p.add_argument("source", help="ICIO CSV (or zip) file, WIOD .xlsx file, or GTAP basedata "
                   ".har file")
    p.add_argument("--map", required=True, dest="map_path", help="aggregation map (TOML)")
    p.add_argument("--out", required=True, help="dataset folder to write, e.g. data/NAME")
    p.add_argument("--sets", help="GTAP sets file (.har) giving the set elements")
    p.add_argument("--format", choices=FORMATS, help="source format (default: from the file)")
    p.add_argument("--date", help="build date to record, YYYY-MM-DD (default: today)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    args = p.parse_args(argv)
    try:
        meta = build(args.source, args.map_path, args.out, sets=args.sets, fmt=args.format,
                     date=args.date)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(report_text(Path(args.out), meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())

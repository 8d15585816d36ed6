"""OECD Inter-Country Input-Output tables (ICIO), read with ``pymrio.parse_oecd``.

The ICIO is an industry-by-industry table at basic prices in million US$: rows and columns
``CCC_IND`` (country, industry; e.g. ``AUS_D01T02``), final-demand columns ``CCC_HFCE``,
``CCC_NPISH``, ``CCC_GGFC``, ``CCC_GFCF``, ``CCC_INVNT``, ``CCC_DPABR``, and below the
inter-industry block the rows ``TLS`` (taxes less subsidies on products) and ``VALU`` (value
added), then ``OUTPUT``. pymrio merges the Chinese and Mexican sub-tables (``CN1``, ``MX1``,
...) into ``CHN`` and ``MEX`` and drops the ``OUTPUT`` row and ``TOTAL`` column.

How the table enters the model's accounts (:func:`table_from_iosystem`):

- shipments ``flows[i, n, j]`` = everything country ``n`` buys from industry ``j`` of ``i``:
  intermediate use by all of ``n``'s industries plus all of ``n``'s final-demand columns;
- import duties are not separately identified in the ICIO (they are inside ``TLS``): the
  benchmark tariffs are zero;
- value added of an industry = every row below the inter-industry block (``VALU`` + ``TLS``,
  or the ``TAXSUB`` rows of older releases): net taxes on products paid by industries are folded
  into value added, so the cost side adds up to output;
- final demand = the sum of the final-demand columns: household and non-profit consumption,
  government consumption, investment (``GFCF``), inventory changes (``INVNT``) and direct
  purchases abroad (``DPABR``); net taxes on products paid by final users (``TLS`` under the
  final-demand columns) are left out, since final demand is valued at basic prices;
- a final-demand column without a country (the discrepancy column ``DISC`` of the 2016 release)
  is left out; the balancing step absorbs it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from calibration.sources import SourceError, SourceTable, parse_with_pymrio

UNIT = "US$ mn"
CURRENCY = "USD"
FORMAT = "OECD ICIO"

#: One-line record of how the source enters the dataset, written to ``dataset.toml``.
TREATMENT = (
    "shipments = intermediate plus final use by the buying country, basic prices; tariffs 0 "
    "(duties are not separate in the ICIO); value added = VALU + TLS of each industry (net "
    "taxes on products paid by industries folded in); final demand = HFCE + NPISH + GGFC + "
    "GFCF (investment) + INVNT (inventories) + DPABR; TLS on final demand left out")


def read_icio(path: str | Path) -> SourceTable:
    """Read one OECD ICIO CSV file (or the zip archive holding it) into a :class:`SourceTable`."""
    path = Path(path)
    io = parse_with_pymrio(path, "parse_oecd", "an OECD ICIO table")
    year = _year(path.name)
    return table_from_iosystem(io, where=str(path), year=year,
                               description=f"OECD ICIO {path.name}")


def _year(filename: str) -> int | None:
    """The table's year: the last four-digit group of the file name (``ICIO2021_2018.csv``)."""
    years = re.findall(r"(?<!\d)(\d{4})(?!\d)", filename)
    return int(years[-1]) if years else None


#: Names of the value-added row in the ICIO releases (``VALU``; ``VA`` in the 2023 release).
VALUE_ADDED_ROW = r"VALU|^VA$"
#: What the other rows below the inter-industry block are, for the record.
OTHER_ROWS = "net taxes on products paid by industries (TLS), folded into value added"


def table_from_iosystem(io, where: str, year=None, description="",
                        value_added_row: str = VALUE_ADDED_ROW,
                        other_rows: str = OTHER_ROWS) -> SourceTable:
    """Fold a pymrio ``IOSystem`` (``Z``, ``Y`` and the ``factor_inputs`` extension) into the
    model's accounts, as described in the module docstring.

    Every row of ``factor_inputs.F`` is summed into value added (pymrio has dropped the totals);
    ``value_added_row`` (a regular expression) identifies the value-added row, which must exist,
    and the others are recorded under ``other_rows``. Their entries under the final-demand
    columns (``F_Y``) are left out.
    """
    Z, Y = io.Z, io.Y
    if Z.shape[0] == 0 or Z.shape[0] != Z.shape[1]:
        raise SourceError(f"{where}: the inter-industry block is empty or not square ({Z.shape})")
    regions = tuple(dict.fromkeys(Z.index.get_level_values(0)))
    sectors = tuple(dict.fromkeys(Z.index.get_level_values(1)))
    nr, ns = len(regions), len(sectors)
    full = [(r, s) for r in regions for s in sectors]
    if list(Z.index) != full or list(Z.columns) != full:
        raise SourceError(f"{where}: every country must have the same industries, in one order")
    z = Z.to_numpy(float).reshape(nr, ns, nr, ns)            # [i, j, n, k]
    y_region = Y.columns.get_level_values(0)
    known = np.isin(y_region, regions)
    y_values = Y.to_numpy(float)
    y = np.zeros((nr, ns, nr))                                # [i, j, n]
    for n, r in enumerate(regions):
        y[:, :, n] = y_values[:, np.asarray(y_region == r)].sum(axis=1).reshape(nr, ns)
    F = io.factor_inputs.F.to_numpy(float)                    # rows: TLS, VALU, ...
    if F.shape[1] != nr * ns:
        raise SourceError(f"{where}: value-added rows do not cover every industry column")
    rows = [str(r) for r in io.factor_inputs.F.index]
    if not any(re.search(value_added_row, r) for r in rows):
        raise SourceError(f"{where}: no value-added row ({value_added_row}) below the "
                          f"inter-industry block; found {', '.join(rows) or 'none'}")
    flows = z.sum(axis=3) + y                                  # [i, j, n]
    flows = np.transpose(flows, (0, 2, 1))                     # [i, n, j]
    intermediates = np.einsum("ijnk->njk", z)
    final_demand = y.sum(axis=0).T                             # [n, j]
    value_added = F.sum(axis=0).reshape(nr, ns)
    tax_rows = [k for k, r in enumerate(rows) if not re.search(value_added_row, r)]
    categories = Y.columns.get_level_values(1)
    by_category = {}
    for cat in dict.fromkeys(categories[known]):
        by_category[str(cat)] = float(y_values[:, np.asarray(known & (categories == cat))].sum())
    folded = {
        other_rows: float(F[tax_rows].sum()),
        "the same rows under the final-demand columns, left out":
            float(io.factor_inputs.F_Y.to_numpy(float)[tax_rows].sum()),
        "final-demand columns without a country (discrepancy), left out":
            float(y_values[:, ~known].sum()),
    }
    folded.update({f"final demand {cat}, summed into final demand": v
                   for cat, v in by_category.items()})
    return SourceTable(
        regions=regions, sectors=sectors, flows=flows, duties=np.zeros_like(flows),
        intermediates=intermediates, final_demand=final_demand, value_added=value_added,
        folded=folded, unit=UNIT, currency=CURRENCY, year=year, description=description)

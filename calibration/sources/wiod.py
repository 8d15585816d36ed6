"""WIOD world input-output tables, 2013 release, read with ``pymrio.parse_wiod``.

The files are ``wiot??_row_apr12.xlsx`` (one per year, 1995-2011): 40 countries and ``RoW``,
35 industries (c-codes ``c1`` ... ``c35``, named by their ISIC rev. 3 codes ``AtB``, ``C``,
``15t16``, ..., ``P``), final-demand columns ``c37`` (households), ``c38`` (NPISH), ``c39``
(government), ``c41`` (gross fixed capital formation), ``c42`` (inventories and valuables), and
below the inter-industry block the rows ``r61`` taxes less subsidies on products, ``r62`` cif/fob
adjustments on exports, ``r63`` direct purchases abroad by residents, ``r64`` purchases on the
domestic territory by non-residents, ``r65`` value added at basic prices and ``r66``
international transport margins (the totals ``r60`` and ``r69`` are dropped by pymrio). Sectors
are labelled by their ISIC codes, regions by the WIOD country codes. The 2016 release (56
industries, ``WIOT2014_Nov16_ROW.xlsb``) has another layout, which pymrio does not read.

The table enters the model's accounts as the ICIO does (:func:`calibration.sources.icio.
table_from_iosystem`): shipments = intermediate plus final use by the buying country; tariffs 0
(not separate in WIOD); value added = all of ``r61`` ... ``r66`` in each industry's column (so
net taxes on products, the cif/fob and direct-purchase adjustments and the international
transport margins paid by the industry are folded into its value added); final demand = ``c37``
+ ``c38`` + ``c39`` + ``c41`` (investment) + ``c42`` (inventories); the rows under the
final-demand columns are left out.
"""

from __future__ import annotations

from pathlib import Path

from calibration.sources import SourceTable, parse_with_pymrio
from calibration.sources.icio import table_from_iosystem

FORMAT = "WIOD world input-output table (2013 release)"

#: One-line record of how the source enters the dataset, written to ``dataset.toml``.
TREATMENT = (
    "shipments = intermediate plus final use by the buying country, basic prices; tariffs 0 "
    "(duties are not separate in WIOD); value added = r61 taxes less subsidies on products + "
    "r62 cif/fob adjustments + r63 direct purchases abroad + r64 purchases by non-residents + "
    "r65 value added + r66 international transport margins of each industry; final demand = "
    "c37 + c38 + c39 + c41 (investment) + c42 (inventories); rows under final demand left out")

OTHER_ROWS = ("taxes less subsidies on products, cif/fob adjustments, direct purchases and "
              "international transport margins paid by industries (r61-r64, r66), folded into "
              "value added")


def read_wiod(path: str | Path) -> SourceTable:
    """Read one WIOD world input-output table (``.xlsx``) into a :class:`SourceTable`."""
    path = Path(path)
    io = parse_with_pymrio(path, "parse_wiod", "a WIOD table (2013 release layout)",
                           names=("isic", "c_codes"))
    year = getattr(io.factor_inputs, "year", None)
    try:
        year = int(year) if year is not None else None
    except (TypeError, ValueError):
        year = None
    return table_from_iosystem(io, where=str(path), year=year, description=f"WIOD {path.name}",
                               value_added_row=r"(?i)^value added", other_rows=OTHER_ROWS)

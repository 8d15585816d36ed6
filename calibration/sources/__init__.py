"""Readers for the standard multi-region input-output databases.

Each reader turns one source format into a :class:`SourceTable`: plain arrays labelled with the
source's own regions and sectors, already in the accounting of the model (shipments at
pre-tariff prices, purchases at tariff-inclusive prices, value added as the residual primary
input), with the items the model has no place for folded in and their size recorded.
Aggregation onto the model's regions and sectors is :mod:`calibration.sources.maps`; balancing
and writing the dataset folder is :mod:`calibration.build`.

- :mod:`calibration.sources.icio`: OECD Inter-Country Input-Output tables (CSV), via pymrio;
- :mod:`calibration.sources.gtap`: GTAP basedata header-array files (``.har``), via harpy3;
- :mod:`calibration.sources.wiod`: WIOD world input-output tables (2013 release), via pymrio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class SourceError(ValueError):
    """A source file or aggregation map that cannot be used; the message names the problem."""


@dataclass(frozen=True, eq=False)
class SourceTable:
    """A multi-region input-output table in the model's accounting, with source labels.

    Index names: ``i`` exporter, ``n`` importer (user region), ``j``, ``k`` sectors.

    Attributes
    ----------
    regions, sectors : tuple of str
    flows : (R, R, S) ``flows[i, n, j]``: sales of sector ``j``'s output made in ``i`` to all
        users in ``n``, at pre-tariff prices (basic prices, or fob for international trade).
        May hold negative cells (for instance inventory drawdowns) before cleaning.
    duties : (R, R, S) ``duties[i, n, j]``: import duties paid by ``n`` on ``flows[i, n, j]``.
    intermediates : (R, S, S) ``intermediates[n, k, j]``: purchases of ``k`` by sector ``j`` in
        ``n`` (all origins, duties included).
    final_demand : (R, S) ``final_demand[n, k]``: purchases of ``k`` by all final users in ``n``
        (households, government, investment, inventories; duties included).
    value_added : (R, S) primary input of each sector, the residual of output less purchased
        inputs (so it includes net taxes on production and products paid by the sector).
    folded : dict of str to float
        World totals of the items folded in, in the source's unit, for the record.
    unit, currency : str
    year : int or None
    description : str
    """

    regions: tuple[str, ...]
    sectors: tuple[str, ...]
    flows: np.ndarray
    duties: np.ndarray
    intermediates: np.ndarray
    final_demand: np.ndarray
    value_added: np.ndarray
    folded: dict = field(default_factory=dict)
    unit: str = ""
    currency: str = ""
    year: int | None = None
    description: str = ""

    def __post_init__(self):
        nr, ns = len(self.regions), len(self.sectors)
        shapes = {"flows": (nr, nr, ns), "duties": (nr, nr, ns), "intermediates": (nr, ns, ns),
                  "final_demand": (nr, ns), "value_added": (nr, ns)}
        for name, shape in shapes.items():
            value = getattr(self, name)
            if value.shape != shape:
                raise SourceError(f"{name} has shape {value.shape}, expected {shape}")
            if not np.isfinite(value).all():
                raise SourceError(f"{name} holds values that are not finite")
            value.setflags(write=False)
        for kind, labels in (("region", self.regions), ("sector", self.sectors)):
            if len(set(labels)) != len(labels):
                dup = sorted({x for x in labels if labels.count(x) > 1})
                raise SourceError(f"duplicate {kind} label(s) in the source: {', '.join(dup)}")


__all__ = ["SourceError", "SourceTable"]


def parse_with_pymrio(path, parser: str, what: str, **kwargs):
    """Parse ``path`` with ``pymrio.<parser>``, turning a missing file or any parser failure
    into a :class:`SourceError` that names the file and what was expected."""
    import warnings
    from pathlib import Path

    import pymrio  # the build extra; imported here so the rest of the package does not need it

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: file not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return getattr(pymrio, parser)(path, **kwargs)
    except Exception as exc:  # pymrio raises many kinds on a malformed file
        raise SourceError(f"{path}: not {what} that pymrio can parse "
                          f"({type(exc).__name__}: {exc})") from None

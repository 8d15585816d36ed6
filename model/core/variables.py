"""The record of one reported variable: its name, dimensions, units and how it is shown.

Each variable is declared once, in :mod:`model.core.catalogue` (the outcomes that
:mod:`model.core.outcomes` computes, the parts of the welfare decomposition of
:mod:`model.core.decomposition`, the policy, benchmark and solve records).  The results
Dataset, the sweep's per-draw outcomes, the report's tables, the figures and the placeholder
checker of study notes all read that one catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

#: what kind of variable: computed by the outcome kernel, by the welfare decomposition, a
#: policy array of the scenario, a benchmark value, a record of the solve, a text describing
#: the scenario, or derived from other variables for tables only
GROUPS = ("outcome", "decomposition", "policy", "benchmark", "solve", "text", "derived")


@dataclass(frozen=True)
class Variable:
    """One variable of the results.

    Attributes
    ----------
    name : its name in ``results.nc`` and in placeholders of study notes.
    dims : dimensions after ``scenario`` (benchmark variables have no scenario dimension).
    units : units; ``{unit}`` stands for the dataset's unit (e.g. ``US$ bn``).
    long_name : what it is, in words.
    group : one of :data:`GROUPS`.
    gtap : the GTAP (RunGTAP) name of the same concept, where there is one.
    label : the title of its table in the report's headline section and figures.
    short : its column label in compact tables.
    headline : position in the headline tables (0: not a headline indicator).
    per_draw : stored for every draw of a sensitivity sweep.
    read : where the value comes from, for every group but ``outcome`` and ``decomposition``
        (whose functions return values by name): a function of the scenario's
        :class:`~model.core.policy.Policy` (``policy``), of the
        :class:`~calibration.calibrate.Benchmark` (``benchmark``), of the solve record
        (``solve``, ``text``) or of the results (``derived``).
    """

    name: str
    dims: tuple[str, ...]
    units: str
    long_name: str
    group: str = "outcome"
    gtap: str = ""
    label: str = ""
    short: str = ""
    headline: int = 0
    per_draw: bool = False
    read: Callable | None = None

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"variable {self.name}: group {self.group!r} is not one of {GROUPS}")
        if (self.group in ("outcome", "decomposition")) != (self.read is None):
            raise ValueError(f"variable {self.name}: `read` is needed by the {self.group} "
                             "group alone" if self.read is None else "not needed here")

    def unit_text(self, unit: str) -> str:
        """The units with the dataset's unit filled in."""
        return self.units.format(unit=unit)

"""A scenario file as frozen records: scenarios with their tariff and cell entries, closure and
target, the ``[report]`` table and the file itself (parsed by :mod:`model.scenario.parse`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.core.settings import SolverSettings
from model.core.instruments import Instrument
from model.scenario.selection import Selection

#: default capital share of value added for factors = "specific_capital", when the scenario
#: gives none: about a third, the conventional capital share of value added
DEFAULT_CAPITAL_SHARE = 1.0 / 3.0


@dataclass(frozen=True)
class TariffEntry:
    """New tariffs on the selected cells: ``rate`` sets them, ``add`` adds to the benchmark
    rate, ``floor`` raises the benchmark rate to at least the value."""

    key: str
    cells: Selection
    mode: str
    value: float


@dataclass(frozen=True)
class RegimeEntry:
    """The rates of a named tariff regime of the dataset (``regimes.csv``) on the selected
    cells; applied before the tariff entries, which may override it."""

    key: str
    regime: str
    cells: Selection


@dataclass(frozen=True)
class CellEntry:
    """One value for the selected cells: a trade-cost factor, an export tax or a preference
    shift (see ``CELL_LISTS``)."""

    key: str
    cells: Selection
    value: float


@dataclass(frozen=True)
class Closure:
    """How the model closes.

    ``trade_balance``: ``"fixed"``, ``"balanced"`` or ``((region, deficit), ...)``;
    ``armington``: ``"one_level"`` or ``"nested"``; ``factors``: ``"labour"`` or
    ``"specific_capital"`` with ``capital_share`` of value added; ``labour``:
    ``"full_employment"``, ``"fixed_real_wage"`` or ``((region, mode), ...)``.
    """

    trade_balance: str | tuple[tuple[str, float], ...] = "fixed"
    armington: str = "one_level"
    factors: str = "labour"
    capital_share: float = DEFAULT_CAPITAL_SHARE
    labour: str | tuple[tuple[str, str], ...] = "full_employment"

    def describe(self) -> str:
        tb = self.trade_balance
        parts = [tb if isinstance(tb, str) else ", ".join(f"{r} deficit = {v:g}" for r, v in tb)]
        if self.armington != "one_level":
            parts.append(f"{self.armington} Armington")
        if self.factors != "labour":
            parts.append(f"specific capital ({self.capital_share:g} of value added)")
        if self.labour != "full_employment":
            lab = self.labour
            parts.append(lab.replace("_", " ") if isinstance(lab, str) else
                         ", ".join(f"{r} {m.replace('_', ' ')}" for r, m in lab))
        return "; ".join(parts)


@dataclass(frozen=True)
class Target:
    """A balance to reach with one instrument the solver makes endogenous (a closure swap).

    ``balance`` is ``"bilateral"`` (exports of ``region`` to ``partner`` minus imports from it)
    or ``"overall"``; ``value`` the target in the dataset's unit; ``instrument`` one of
    :data:`model.core.instruments.INSTRUMENTS` acting on the selected cells (or, for
    ``trade_balance``, on the overall balance of ``instrument_region``); ``bounds`` the search
    interval (None: the instrument's default, for ``trade_balance`` the region's benchmark
    exports plus imports either side of its balance in the scenario).
    """

    key: str
    balance: str
    region: str
    partner: str | None
    value: float
    instrument: Instrument
    cells: Selection | None
    bounds: tuple[float, float] | None
    instrument_region: str | None = None


@dataclass(frozen=True)
class QuotaEntry:
    """A quota, voluntary export restraint or tariff-rate quota on each selected cell: the
    quantity as ``ratio`` to the benchmark quantity, or ``quantity`` in the dataset's unit at
    benchmark prices (one cell only); ``mode`` ``"cap"`` or ``"fix"``; the in-quota rate (None:
    the scenario's tariff on the cell) and out-of-quota rate (``inf`` for a plain quota); the
    share of the rent held by the exporter."""

    key: str
    cells: Selection
    ratio: float | None
    quantity: float | None
    mode: str
    in_quota_rate: float | None
    out_of_quota_rate: float
    to_exporter: float


@dataclass(frozen=True)
class OptimalTariff:
    """Search for the welfare-maximising uniform tariff of ``region`` on its imports of the
    selected cells (``cells`` has no importers: the region is the importer)."""

    key: str
    region: str
    cells: Selection
    bounds: tuple[float, float]
    points: int


@dataclass(frozen=True)
class Nash:
    """A Nash equilibrium in uniform tariffs among ``players``: each taxes its imports of the
    selected sectors from the other players."""

    key: str
    players: tuple[str, ...]
    cells: Selection
    bounds: tuple[float, float]
    tol: float
    max_rounds: int


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    tariffs: tuple[TariffEntry, ...]
    trade_costs: tuple[CellEntry, ...]
    closure: Closure
    export_taxes: tuple[CellEntry, ...] = ()
    preferences: tuple[CellEntry, ...] = ()
    target: Target | None = None
    regimes: tuple[RegimeEntry, ...] = ()
    quotas: tuple[QuotaEntry, ...] = ()
    optimal_tariff: OptimalTariff | None = None
    nash: Nash | None = None

    @property
    def search(self):
        """The endogenous search of the scenario: its target, optimal tariff or Nash game."""
        return self.target or self.optimal_tariff or self.nash


@dataclass(frozen=True)
class ReportSpec:
    """What ``report.md`` adds for a study: a table of chosen regions and sectors, a comparison
    with other scenario files (same scenario names, other data or elasticities), and notes in
    Markdown whose ``{{variable|scenario|region|...}}`` placeholders are filled from the
    results."""

    notes: Path | None = None
    regions: tuple[str, ...] | None = None
    sectors: tuple[str, ...] | None = None
    compare: tuple["Comparison", ...] = ()


@dataclass(frozen=True)
class Comparison:
    """Another scenario file (or the same one) to solve beside this one, with one or more
    choices changed: another elasticity file of its dataset, another dataset, another Armington
    form for every scenario, or only some of its scenarios; ``label`` names it in tables and
    notes."""

    file: Path
    label: str
    elasticities: str | None = None
    data: Path | None = None
    armington: str | None = None
    scenarios: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ScenarioFile:
    """A parsed scenario file: the text, the dataset it refers to, scenarios and solver."""

    path: Path
    text: str
    title: str
    data: Path
    elasticities: str
    scenarios: tuple[Scenario, ...]
    solver: SolverSettings
    sweep: dict | None = None  # the raw [sweep] table, checked by model.sweep.spec
    report: ReportSpec = ReportSpec()

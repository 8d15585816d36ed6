"""The instruments a target can make endogenous (a closure swap, as in GEMPACK), a resolved
target, and the balance it sets.

A bilateral trade balance is made exogenous and one policy instrument endogenous: an export
tax or voluntary export restraint of the exporter (rents kept by the exporter), a preference
shift of the importer towards a partner's goods (purchase commitments), a uniform tariff
change, or a region's overall trade balance (spending more or less than it earns, the
counterpart absorbed as the trade-balance closure says).  The search for the instrument's
value is in :mod:`model.core.targets`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.outcomes_numpy import shipments_at
from model.core.policy import Policy
from model.core.quotas import make_quotas, merged
from model.core.solver import Solution


@dataclass(frozen=True)
class Instrument:
    """A policy instrument a target can make endogenous: its name in scenario files, what it
    sets on its cells, its default search interval, the value its interval must stay above
    (and why), and whether its search scans geometrically (a factor) or linearly (a rate)."""

    name: str
    meaning: str
    bounds: tuple[float, float]
    floor: float
    floor_reason: str
    geometric: bool = False

    #: whether it acts on cells (selected by importer, exporter and sectors) or on a region
    on_cells: bool = True

    def apply(self, policy: Policy, spec: "TargetSpec", v: float) -> Policy:
        """``policy`` with the instrument set to ``v`` (on the cells of ``spec.mask``)."""
        raise NotImplementedError

    def scan(self, lo: float, hi: float, points: int = 25) -> np.ndarray:
        return np.geomspace(lo, hi, points) if self.geometric else np.linspace(lo, hi, points)

    def bound_problem(self, t1: np.ndarray, low: float) -> str:
        """What is wrong with the low bound ``low`` on cells whose tariffs in the scenario are
        ``t1`` ("" if nothing)."""
        return ""


class _ExportTax(Instrument):
    def apply(self, policy, spec, v):
        e1 = policy.e1.copy()
        e1[spec.mask] = v
        return policy.replace(e1=e1)


class _Preference(Instrument):
    def apply(self, policy, spec, v):
        pref = policy.pref.copy()
        pref[spec.mask] = v
        return policy.replace(pref=pref)


class _UniformTariff(Instrument):
    def apply(self, policy, spec, v):
        t1 = policy.t1.copy()
        t1[spec.mask] = policy.t1[spec.mask] + v
        return policy.replace(t1=t1)

    def bound_problem(self, t1, low):
        if (t1 + low <= -1.0).any():
            return f"the low bound {low:g} would take a tariff to -100 % or below"
        return ""


class _ExportQuota(Instrument):
    """A voluntary export restraint set as a quantity: the exporter's shipments on each cell
    capped at ``v`` times the benchmark quantity (a quota whose rents the exporter keeps), on
    top of any quotas of the scenario."""

    def apply(self, policy, spec, v):
        cells = [tuple(c) for c in np.argwhere(spec.mask)]
        t_in = [policy.t1[c] for c in cells]
        quotas = make_quotas(cells, v, t_in, to_exporter=1.0)
        return policy.replace(quotas=merged(policy.quotas, quotas))


class _TradeBalance(Instrument):
    """The overall trade balance (exports − imports) of ``spec.instrument_region``: its deficit
    is ``-v``, and the change is absorbed by the regions of ``spec.absorb`` (weights summing to
    one), as the trade-balance closure spreads a deficit target."""

    def apply(self, policy, spec, v):
        r = spec.instrument_region
        D1 = np.array(policy.D1)
        change = -v - D1[r]
        D1 = D1 - change * spec.absorb
        D1[r] = -v
        return policy.replace(D1=D1)


#: the instruments, by their name in scenario files
INSTRUMENTS = {i.name: i for i in (
    _ExportTax("export_tax", "the exporter's export tax (or the tariff equivalent of a "
               "voluntary export restraint), rents to the exporter", (-0.5, 10.0), -1.0,
               "-100 %"),
    _Preference("preference", "a shift of the importer's preference towards the exporter's "
                "goods (purchase commitments), as a factor", (0.02, 50.0), 0.0,
                "a preference factor is positive", geometric=True),
    _UniformTariff("uniform_tariff", "points added to the importer's tariffs", (-0.5, 10.0),
                   -1.0, "-100 %"),
    _ExportQuota("export_quota", "a voluntary export restraint as a quantity: shipments on "
                 "the cells capped at the value times their benchmark quantity, rents to the "
                 "exporter", (0.05, 1.5), 0.0, "a quota is at or above zero", geometric=True),
    _TradeBalance("trade_balance", "the overall trade balance (exports - imports) of "
                  "instrument_region, in the dataset's unit; the counterpart is absorbed as the "
                  "trade-balance closure says", (-np.inf, np.inf), -np.inf, "", on_cells=False),
)}


@dataclass(frozen=True)
class TargetSpec:
    """A resolved target: indices into the benchmark and the instrument's cells."""

    region: int
    partner: int
    value: float
    instrument: Instrument
    mask: np.ndarray  # [importer, exporter, sector] cells the instrument acts on
    bounds: tuple[float, float]
    label: str = ""
    instrument_region: int = -1  # the region whose overall balance is the instrument
    absorb: np.ndarray | None = None  # the regions absorbing its change (weights)

    def describe(self, regions, sectors) -> str:
        """A short label, e.g. ``export_tax on JPN -> USA (motor_vehicles_and_parts); target:
        bilateral balance of JPN with USA = 0``."""
        target = (f"target: bilateral balance of {regions[self.region]} with "
                  f"{regions[self.partner]} = {self.value:g}")
        if not self.instrument.on_cells:
            return (f"{self.instrument.name} of {regions[self.instrument_region]} (absorbed by "
                    f"{', '.join(regions[n] for n in np.flatnonzero(self.absorb))}); {target}")
        cells = np.argwhere(self.mask)
        importers = sorted({regions[n] for n in cells[:, 0]})
        exporters = sorted({regions[i] for i in cells[:, 1]})
        chosen = sorted({int(j) for j in cells[:, 2]})
        names = ("all sectors" if len(chosen) == len(sectors)
                 else ", ".join(sectors[j] for j in chosen))
        return (f"{self.instrument.name} on {'/'.join(exporters)} -> {'/'.join(importers)} "
                f"({names}); {target}")


def with_instrument(policy: Policy, spec: TargetSpec, v: float) -> Policy:
    """``policy`` with the instrument set to ``v``: the export tax rate, the preference factor
    or the points added to the scenario's tariffs on its cells, or a region's trade balance."""
    return spec.instrument.apply(policy, spec, v)


def balance(policy: Policy, sol: Solution, region: int, partner: int) -> float:
    """Exports of ``region`` to ``partner`` minus its imports from it, pre-tariff (the entry of
    :func:`calibration.accounts.bilateral_balance` of the solution's shipments)."""
    if region == partner:
        return 0.0
    policy = sol.policy if sol.policy is not None else policy  # quotas: the effective one
    exports = shipments_at(sol.pi1, sol.E1, policy.t1, partner, region)
    imports = shipments_at(sol.pi1, sol.E1, policy.t1, region, partner)
    return float(exports.sum() - imports.sum())

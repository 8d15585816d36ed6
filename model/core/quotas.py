r"""Quantity instruments: quotas, voluntary export restraints set as quantities and tariff-rate
quotas, solved as the tariff equivalents that make each constraint hold (docs/model.md,
"Quotas").

A quota on the cell ``(n, i, j)`` (imports of ``n`` from ``i`` of sector ``j``) limits the
quantity shipped, :math:`q = X^1_{inj} / (X^0_{inj}\,\hat p_{inj})` with
:math:`\hat p = \hat c_{ij}\hat d_{nij}(1+e_{nij})` the change of its pre-tariff price, to
:math:`\bar q` (a ratio to the benchmark quantity).  A binding quota drives a wedge between
the buyer's price and the seller's: it acts on prices as a tariff :math:`t^q` would, and the
wedge's value, the quota rent, goes to whoever holds the licences.  A tariff-rate quota has an
in-quota rate :math:`t^{in}`, a quota and an out-of-quota rate :math:`t^{out}`; its tariff
equivalent lies in :math:`[t^{in}, t^{out}]` and tells which regime the equilibrium is in:

- in quota (:math:`t^q = t^{in}`, :math:`q \le \bar q`): the quota does not bind;
- at the quota (:math:`t^{in} < t^q < t^{out}`, :math:`q = \bar q`);
- over quota (:math:`t^q = t^{out}`, :math:`q \ge \bar q`): imports beyond the quota pay the
  out-of-quota rate, which sets the price at the margin.

A plain quota is a tariff-rate quota with :math:`t^{out} = \infty`; a quantity that is fixed
(not capped) lets the wedge take any value above −100 %, a subsidy where the fixed quantity is
above what buyers would choose.  The rent is :math:`(t^q - t^{in})\,\min(X^1, \bar X)` with
:math:`\bar X = X^0\bar q\hat p` the quota's value: the importer's government collects the
whole tariff equivalent as revenue, and the share of the rent held by the exporter is paid to
it as a transfer, which enters both regions' incomes and current accounts (a rent held abroad,
like the revenue of an export tax).

The wedges are found by an outer iteration around the equilibrium solve: each step solves the
model at the current wedges and transfers (warm-started), then moves each wedge by a secant
(at first a Newton step with the partial-equilibrium elasticity of the cell's demand, or with
the slope a nearby problem measured) towards the quantity, projected on its interval, and the
transfers to the rents; it stops when neither moves.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model.core.outcomes_numpy import shipments_at
from model.core.settings import ModelError

#: the regime of each quota at the solution
IN_QUOTA, AT_QUOTA, OVER_QUOTA, PROHIBITED = 0, 1, 2, 3
REGIMES = {IN_QUOTA: "in quota (not binding)", AT_QUOTA: "at the quota (binding)",
           OVER_QUOTA: "over quota (out-of-quota rate)", PROHIBITED: "zero quota (no trade)"}
#: outer iterations before the quota solve gives up
MAX_ROUNDS = 200


class QuotaError(RuntimeError):
    """The quota wedges did not settle; ``solution`` is the last solve."""

    def __init__(self, message: str, solution=None):
        super().__init__(message)
        self.solution = solution


@dataclass(frozen=True, eq=False)
class QuotaSet:
    """The quotas of a policy, one entry per cell ``(n[k], i[k], j[k])``.

    Attributes
    ----------
    n, i, j : (K,) int importer, exporter and sector of each quota.
    qbar : (K,) quota as a ratio to the benchmark quantity (0: no trade).
    t_in : (K,) in-quota tariff (the scenario's tariff on the cell).
    t_out : (K,) out-of-quota tariff (``inf`` for a plain quota).
    to_exporter : (K,) share of the rent held by the exporter (0: importer's government).
    fixed : (K,) bool, the quantity is fixed rather than capped (the wedge may be negative).
    """

    n: np.ndarray
    i: np.ndarray
    j: np.ndarray
    qbar: np.ndarray
    t_in: np.ndarray
    t_out: np.ndarray
    to_exporter: np.ndarray
    fixed: np.ndarray

    def __post_init__(self):
        k = len(self.n)
        for name in ("i", "j", "qbar", "t_in", "t_out", "to_exporter", "fixed"):
            if len(getattr(self, name)) != k:
                raise ModelError(f"quota arrays differ in length ({name})")
        if not (np.isfinite(self.qbar).all() and (self.qbar >= 0).all()):
            raise ModelError("a quota must be a finite quantity at or above zero")
        if not ((self.t_in > -1).all() and (self.t_out >= self.t_in).all()):
            raise ModelError("tariff-rate quotas need -1 < in-quota rate <= out-of-quota rate")
        if not ((self.to_exporter >= 0).all() and (self.to_exporter <= 1).all()):
            raise ModelError("the exporter's share of a quota rent must be in [0, 1]")
        if (self.n == self.i).any():
            raise ModelError("a quota cannot limit a region's sales to itself")
        cells = set(zip(self.n.tolist(), self.i.tolist(), self.j.tolist()))
        if len(cells) != k:
            raise ModelError("two quotas on the same cell")
        for value in vars(self).values():
            value.setflags(write=False)

    def __len__(self) -> int:
        return len(self.n)


@dataclass(frozen=True)
class QuotaOutcome:
    """Where each quota ends: ``tariff_equivalent`` (K,), ``regime`` (K,) codes of
    :data:`REGIMES`, ``rent`` (K,) in the dataset's unit, ``quantity`` (K,) the quantity as a
    ratio to the benchmark, the outer ``rounds``, the rent ``transfers`` by region and the
    quota ``cells`` (the :class:`QuotaSet` solved, an instrument's quotas included)."""

    tariff_equivalent: np.ndarray
    regime: np.ndarray
    rent: np.ndarray
    quantity: np.ndarray
    rounds: int
    transfers: np.ndarray  # (R,) rent transfers received, by region
    cells: QuotaSet | None = None  # the quotas these values belong to
    #: (K,) the response of each cell's log quantity to its log(1 + wedge) (minus), as last
    #: measured by a secant, over the partial-equilibrium one: a nearby problem's first step
    #: takes it (None: not measured)
    slope: np.ndarray | None = None

    def on_grid(self, values: np.ndarray, shape) -> np.ndarray:
        """``values`` (one per quota) on the ``[importer, exporter, sector]`` grid, NaN
        elsewhere."""
        return self.dense(self.cells, values, shape)

    def dense(self, quotas: QuotaSet, values: np.ndarray, shape) -> np.ndarray:
        """``values`` (one per quota) on the ``[importer, exporter, sector]`` grid, NaN
        elsewhere."""
        out = np.full(shape, np.nan)
        out[quotas.n, quotas.i, quotas.j] = values
        return out


def make_quotas(cells, qbar, t_in, t_out=None, to_exporter=None, fixed=None) -> QuotaSet:
    """A :class:`QuotaSet` from ``cells`` (a list of ``(n, i, j)``) and per-cell values (numbers
    are broadcast): defaults are plain quotas (``t_out = inf``) with the rents to the
    importer's government, capping (not fixing) the quantity."""
    k = len(cells)
    idx = np.array(cells, dtype=np.int64).reshape(k, 3)

    def vec(v, default, dtype=float):
        return np.broadcast_to(np.asarray(default if v is None else v, dtype=dtype), (k,)).copy()

    return QuotaSet(idx[:, 0].copy(), idx[:, 1].copy(), idx[:, 2].copy(), vec(qbar, 0.0),
                    vec(t_in, 0.0), vec(t_out, np.inf), vec(to_exporter, 0.0),
                    vec(fixed, False, bool))


def merged(first: QuotaSet | None, second: QuotaSet) -> QuotaSet:
    """The quotas of both sets (a cell in both is an error)."""
    if first is None:
        return second
    return QuotaSet(*(np.concatenate([getattr(first, f), getattr(second, f)])
                      for f in ("n", "i", "j", "qbar", "t_in", "t_out", "to_exporter", "fixed")))


def cell_quantity(bm: Benchmark, policy, sol, quotas: QuotaSet):
    """Quantity ratio to the benchmark, pre-tariff value and price change of each quota cell."""
    n, i, j = quotas.n, quotas.i, quotas.j
    X1 = shipments_at(sol.pi1, sol.E1, policy.t1, n, i, j)
    price = sol.c_hat[i, j] * policy.d_hat[n, i, j] * (1.0 + policy.e1[n, i, j])
    X0 = bm.X0[i, n, j]
    return X1 / (X0 * price), X1, price


def _bounds(q: QuotaSet) -> tuple[np.ndarray, np.ndarray]:
    """The interval of each wedge, as log(1 + t)."""
    lo = np.where(q.fixed, -np.inf, np.log1p(q.t_in))
    with np.errstate(divide="ignore"):
        hi = np.where(q.fixed, np.inf, np.log1p(q.t_out))
    return lo, hi


def with_wedges(policy, q: QuotaSet, u: np.ndarray, transfers: np.ndarray):
    """``policy`` without its quotas, with tariffs ``exp(u) - 1`` on the quota cells and the
    rent transfers added to the deficits (a transfer received finances imports)."""
    t1 = np.array(policy.t1)
    t1[q.n, q.i, q.j] = np.expm1(u)
    return policy.replace(t1=t1, D1=np.array(policy.D1) + transfers, quotas=None)


def rents(bm: Benchmark, q: QuotaSet, u: np.ndarray, X1: np.ndarray,
          price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each quota's rent and the resulting transfers by region (the exporter's share, paid by
    the importer)."""
    t_eq = np.expm1(u)
    quota_value = bm.X0[q.i, q.n, q.j] * q.qbar * price
    units = np.where(q.fixed, X1, np.minimum(X1, quota_value))
    with np.errstate(invalid="ignore"):  # a zero quota: no trade, no rent
        rent = np.where(np.isfinite(t_eq), (t_eq - q.t_in) * units, 0.0)
    transfers = np.zeros(len(bm.regions))
    np.add.at(transfers, q.i, q.to_exporter * rent)
    np.subtract.at(transfers, q.n, q.to_exporter * rent)
    return rent, transfers


def partial_slope(bm: Benchmark, policy, sol, q: QuotaSet, sigma=None) -> np.ndarray:
    """The partial-equilibrium response of each quota cell's log quantity to its
    log(1 + wedge) (minus): the demand elasticity of the cell, ``sigma_M (1 - share)`` (at
    least 0.05), at the solution ``sol``; ``sigma`` replaces the dataset's elasticities."""
    sig = bm.sigma if sigma is None else np.asarray(sigma, dtype=float)
    eta_sector = bm.sigma_m * (sig / bm.sigma) if policy.nested else sig
    share = sol.pi1[q.n, q.i, q.j]
    return np.maximum(eta_sector[q.j] * (1.0 - share), 0.05)


def regimes(q: QuotaSet, u: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    reg = np.full(len(q), AT_QUOTA, dtype=np.int64)
    reg[(u <= lo) & ~q.fixed] = IN_QUOTA
    reg[(u >= hi) & np.isfinite(hi) & ~q.fixed] = OVER_QUOTA
    reg[q.qbar == 0] = PROHIBITED
    return reg


def _same_cells(start: QuotaOutcome, q: QuotaSet) -> bool:
    """Whether ``start`` belongs to the quotas ``q`` (the same cells in the same order)."""
    if len(start.tariff_equivalent) != len(q):
        return False
    c = start.cells
    return c is None or bool((c.n == q.n).all() and (c.i == q.i).all() and (c.j == q.j).all())


def solve_quotas(bm: Benchmark, policy, settings, x0, sigma, solve_fixed, start=None):
    """Solve ``policy`` with its quotas; ``solve_fixed(bm, policy, settings, x0, sigma)``
    solves a policy without quotas; ``start`` (a :class:`QuotaOutcome` of the same quotas in a
    nearby problem) starts the wedges and transfers where that one ended.  Returns the solution
    (its ``policy`` is the effective one: wedges as tariffs, rent transfers in the deficits) and
    the :class:`QuotaOutcome`.

    Raises
    ------
    QuotaError
        When the wedges have not settled after :data:`MAX_ROUNDS` solves.
    ConvergenceError
        From an equilibrium solve.
    """
    q = policy.quotas
    if (bm.X0[q.i, q.n, q.j] <= 0).any():
        k = int(np.argmax(bm.X0[q.i, q.n, q.j] <= 0))
        raise ModelError(f"a quota on {bm.regions[q.n[k]]} imports of {bm.sectors[q.j[k]]} from "
                         f"{bm.regions[q.i[k]]}: there is no such trade in the benchmark")
    lo, hi = _bounds(q)
    zero = q.qbar == 0
    u = np.where(q.fixed, np.log1p(q.t_in), lo)
    transfers = np.zeros(len(bm.regions))
    measured = np.full(len(q), np.nan)  # the last secant slope of each cell
    if start is not None and _same_cells(start, q):
        with np.errstate(invalid="ignore"):
            u = np.clip(np.log1p(start.tariff_equivalent), lo, hi)
        transfers = start.transfers.copy()
        if start.slope is not None:
            measured = start.slope.copy()
    u[zero] = np.inf
    scale = bm.world_value_added
    prev = None  # (u, gap) of the previous round, for the secant
    x = x0
    for rounds in range(1, MAX_ROUNDS + 1):
        pol = with_wedges(policy, q, u, transfers)
        sol = solve_fixed(bm, pol, settings, x, sigma)
        x = sol.x
        quantity, X1, price = cell_quantity(bm, pol, sol, q)
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.where(zero, 0.0, np.log(quantity) - np.log(np.where(zero, 1.0, q.qbar)))
        # Newton with the slope a nearby problem measured, else with the cell's
        # partial-equilibrium demand elasticity; then secants
        elastic = partial_slope(bm, policy, sol, q, sigma)
        slope = elastic
        if prev is None:
            slope = np.where(np.isfinite(measured) & (measured > 0.05), measured * elastic,
                             slope)
        else:
            du, dg = u - prev[0], gap - prev[1]
            with np.errstate(divide="ignore", invalid="ignore"):
                secant = -dg / du
            ok = np.isfinite(secant) & (np.abs(du) > 1e-14) & (secant > 0.05 * elastic)
            slope = np.where(ok, secant, slope)
            # a slope worth passing on (from a step well above the solves' accuracy), as a
            # multiple of the elastic one: it carries over to other elasticities
            measured = np.where(ok & (np.abs(du) > 1e-8), secant / elastic, measured)
        step = np.where(zero, 0.0, gap / slope)
        new_u = np.where(zero, np.inf, np.clip(u + step, lo, hi))
        rent, new_transfers = rents(bm, q, u, X1, price)
        moved = np.abs(np.where(zero, 0.0, new_u) - np.where(zero, 0.0, u))
        moved = np.where(np.isfinite(moved), moved, np.inf)
        if (moved.max(initial=0.0) < 1e-12
                and np.abs(new_transfers - transfers).max() < 1e-13 * scale):
            outcome = QuotaOutcome(np.expm1(u), regimes(q, u, lo, hi), rent, quantity, rounds,
                                   transfers, q, measured)
            return dataclasses.replace(sol, policy=pol), outcome
        prev = (u, gap)
        u, transfers = new_u, new_transfers
    raise QuotaError(f"the quota wedges did not settle in {MAX_ROUNDS} rounds (largest change "
                     f"of log(1 + tariff equivalent) {moved.max():.3g})", sol)

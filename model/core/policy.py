"""The counterfactual policy as a frozen dataclass of arrays, validated once, and the
trade-balance closures that set its deficits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.calibrate import Benchmark
from model.core.settings import ModelError


@dataclass(frozen=True, eq=False)
class Policy:
    """The counterfactual, as arrays aligned with a :class:`~calibration.calibrate.Benchmark`.

    Attributes
    ----------
    t1 : (R, R, S) ``t1[n, i, j]`` counterfactual ad valorem tariffs (``inf`` is prohibitive).
    d_hat : (R, R, S) ``d_hat[n, i, j]`` change of iceberg trade costs (1 = unchanged).
    D1 : (R,) counterfactual deficits (imports - exports) in numeraire units; they sum to zero.
    e1 : (R, R, S) ``e1[n, i, j]`` export tax (or the tariff equivalent of a voluntary export
        restraint) of exporter ``i`` on its sales to ``n``; the rents go to ``i``.
    pref : (R, R, S) ``pref[n, i, j]`` multiplicative shift of importer ``n``'s preference for
        source ``i`` (1 = unchanged; purchase commitments). Welfare is measured at benchmark
        preferences.
    nested : bool, nested Armington (``sigma`` between domestic goods and the import composite,
        ``sigma_m`` among import sources) instead of one level with ``sigma``.
    theta : (R, S) labour share of value added; 1 without sector-specific capital.
    fixed_real_wage : (R,) bool, regions whose real wage is fixed and whose employment adjusts.
    quotas : :class:`~model.core.quotas.QuotaSet` or None, quantity limits solved as tariff
        equivalents (:func:`model.core.solver.solve`).
    """

    t1: np.ndarray
    d_hat: np.ndarray
    D1: np.ndarray
    e1: np.ndarray
    pref: np.ndarray
    nested: bool
    theta: np.ndarray
    fixed_real_wage: np.ndarray
    quotas: object = None

    def __post_init__(self):
        _freeze(vars(self).values())

    def __setstate__(self, state: dict) -> None:
        """Unpickled (a result sent back by a child process): its arrays read-only again."""
        vars(self).update(state)
        _freeze(state.values())

    def replace(self, **changes) -> Policy:
        """This policy with ``changes`` (their arrays frozen like the others): what
        ``dataclasses.replace`` returns, without its work per field (a search builds a policy
        for every solve).  The checks of a policy are :func:`make_policy`'s; this only
        freezes."""
        unknown = changes.keys() - vars(self).keys()
        if unknown:
            raise TypeError(f"Policy has no field {', '.join(sorted(unknown))}")
        new = object.__new__(Policy)
        vars(new).update(vars(self), **changes)
        _freeze(changes.values())
        return new


def _freeze(values) -> None:
    """Make the arrays among ``values`` read-only (a policy's arrays are never written)."""
    for value in values:
        if isinstance(value, np.ndarray):
            value.setflags(write=False)


def make_policy(bm: Benchmark, t1=None, d_hat=None, D1=None, e1=None, pref=None,
                nested: bool = False, capital_share=None, fixed_real_wage=None,
                quotas=None) -> Policy:
    """Check and freeze a policy; defaults are the benchmark tariffs, costs and deficits, no
    export taxes or preference shifts, one-level Armington, labour as the only factor and full
    employment.

    ``capital_share`` (a number or an (R, S) array in [0, 1)) makes that share of each
    sector's value added a return to sector-specific capital; ``fixed_real_wage`` is a bool or
    an (R,) bool array; ``quotas`` a :class:`~model.core.quotas.QuotaSet`.
    """
    nr, ns = bm.shape
    t1 = bm.t0.copy() if t1 is None else np.array(t1, dtype=float)
    d_hat = np.ones((nr, nr, ns)) if d_hat is None else np.array(d_hat, dtype=float)
    D1 = bm.D0.copy() if D1 is None else np.array(D1, dtype=float)
    e1 = np.zeros((nr, nr, ns)) if e1 is None else np.array(e1, dtype=float)
    pref = np.ones((nr, nr, ns)) if pref is None else np.array(pref, dtype=float)
    shapes = {"t1": (t1, (nr, nr, ns)), "d_hat": (d_hat, (nr, nr, ns)), "D1": (D1, (nr,)),
              "e1": (e1, (nr, nr, ns)), "pref": (pref, (nr, nr, ns))}
    for name, (value, shape) in shapes.items():
        if value.shape != shape:
            raise ModelError(f"policy {name} has shape {value.shape}, expected {shape} for "
                             f"{nr} regions x {ns} sectors")
    if np.isnan(t1).any() or not (t1 > -1.0).all():
        raise ModelError("every tariff must be above -1 (-100 %)")
    if np.isnan(d_hat).any() or not (d_hat > 0.0).all():
        raise ModelError("every trade-cost factor must be positive")
    if not np.isfinite(e1).all() or not (e1 > -1.0).all():
        raise ModelError("every export tax must be finite and above -1 (-100 %)")
    if not np.isfinite(pref).all() or not (pref > 0.0).all():
        raise ModelError("every preference shift must be finite and positive")
    idx = np.arange(nr)
    if ((t1[idx, idx, :] != 0.0).any() or (d_hat[idx, idx, :] != 1.0).any()
            or (e1[idx, idx, :] != 0.0).any()):
        raise ModelError("a region cannot tax or change the trade cost of its own goods")
    if not np.isfinite(D1).all():
        raise ModelError("deficits must be finite")
    if abs(D1.sum()) > 1e-9 * bm.world_value_added:
        raise ModelError(f"deficits must sum to zero across regions; they sum to {D1.sum():.6g}")
    share = np.zeros((nr, ns)) if capital_share is None else np.broadcast_to(
        np.asarray(capital_share, dtype=float), (nr, ns)).copy()
    if not np.isfinite(share).all() or (share < 0).any() or (share >= 1).any():
        raise ModelError("capital shares of value added must be in [0, 1)")
    frw = np.zeros(nr, dtype=bool) if fixed_real_wage is None else np.broadcast_to(
        np.asarray(fixed_real_wage, dtype=bool), (nr,)).copy()
    lacking = [n for n in range(nr) if frw[n] and not (share[n] > 0).any()]
    if lacking:
        raise ModelError(
            f"a fixed real wage needs a fixed factor beside labour in the region (region "
            f"{', '.join(bm.regions[n] for n in lacking)}): with labour alone and constant "
            "returns, prices cannot fall and employment alone absorbs every shock, or is not "
            "determined at all; add sector-specific capital (factors = \"specific_capital\"), "
            "as in GTAP's short-run closure")
    if quotas is not None and len(quotas) and (
            (quotas.n >= nr).any() or (quotas.i >= nr).any() or (quotas.j >= ns).any()):
        raise ModelError("a quota names a region or sector the benchmark does not have")
    return Policy(t1=t1, d_hat=d_hat, D1=D1, e1=e1, pref=pref, nested=bool(nested),
                  theta=1.0 - share, fixed_real_wage=frw,
                  quotas=quotas if quotas is not None and len(quotas) else None)


def deficit_rule(bm: Benchmark, rule) -> np.ndarray:
    """Counterfactual deficits ``D1`` for a trade-balance closure.

    ``"fixed"`` keeps ``D1 = D0`` (in numeraire units); ``"balanced"`` sets every ``D1 = 0``; a
    mapping ``{region index: target}`` sets those regions' deficits and lets every other region
    absorb the change in proportion to its benchmark value added, so ``sum(D1) == 0``.
    """
    if isinstance(rule, str):
        if rule == "fixed":
            return bm.D0.copy()
        if rule == "balanced":
            return np.zeros_like(bm.D0)
        raise ModelError(f"trade-balance closure '{rule}' must be 'fixed', 'balanced' or targets")
    D1 = bm.D0.copy()
    targeted = np.zeros(len(D1), dtype=bool)
    for n, value in rule.items():
        D1[n] = float(value)
        targeted[n] = True
    if targeted.all():
        if abs(D1.sum()) > 1e-9 * bm.world_value_added:
            raise ModelError(
                f"every region has a deficit target and the targets sum to {D1.sum():.6g}, not 0"
            )
        return D1
    va = bm.VA0.sum(axis=1) * ~targeted
    D1[~targeted] -= D1.sum() * va[~targeted] / va.sum()
    return D1

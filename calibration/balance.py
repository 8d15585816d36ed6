"""Matrix balancing for benchmark data: biproportional scaling (RAS) with fixed cells.

A benchmark data set must satisfy accounting identities (row sums equal supply, column sums
equal costs) that raw data from different sources and years do not satisfy. The functions here
move the *free* cells of a non-negative matrix as little as possible, in the RAS sense, so that
its row and column sums hit given targets, while *fixed* cells (for instance observed bilateral
trade flows) keep their values exactly.

References
----------
Miller, R. E. and P. D. Blair (2009), *Input-Output Analysis: Foundations and Extensions*,
2nd ed., Cambridge University Press, ch. 7 ("Nonsurvey and partial-survey methods"), §7.4, the
RAS technique and its fixed point.
Bacharach, M. (1970), *Biproportional Matrices and Input-Output Change*, Cambridge University
Press: existence and uniqueness of the biproportional solution.
Lahr, M. L. and L. de Mesnard (2004), "Biproportional techniques in input-output analysis:
table updating and structural analysis", *Economic Systems Research* 16(2), 115-134: RAS with
exogenously fixed cells (the "modified RAS" of Miller & Blair §7.4.3).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "BalancingError",
    "ras_with_fixed_cells",
    "adjustment_table",
    "use_table_prior",
    "balance_use_table",
    "balance_region",
]


class BalancingError(ValueError):
    """The targets cannot be reached by scaling the free cells of the matrix."""


def _check_inputs(matrix: np.ndarray, row_targets: np.ndarray, col_targets: np.ndarray,
                  fixed: np.ndarray) -> None:
    if matrix.ndim != 2:
        raise BalancingError(f"matrix must be 2-D, got shape {matrix.shape}")
    n_rows, n_cols = matrix.shape
    if row_targets.shape != (n_rows,) or col_targets.shape != (n_cols,):
        raise BalancingError(
            f"targets have shapes {row_targets.shape} and {col_targets.shape}; "
            f"expected ({n_rows},) and ({n_cols},)")
    if fixed.shape != matrix.shape:
        raise BalancingError(f"fixed mask has shape {fixed.shape}, matrix {matrix.shape}")
    for name, arr in (("matrix", matrix), ("row_targets", row_targets),
                      ("col_targets", col_targets)):
        if not np.all(np.isfinite(arr)):
            raise BalancingError(f"{name} contains non-finite values")
    if np.any(matrix[~fixed] < 0):
        i, j = np.argwhere((matrix < 0) & ~fixed)[0]
        raise BalancingError(
            f"free cell ({i}, {j}) is negative ({matrix[i, j]:.6g}); RAS needs non-negative "
            "free cells: apply a documented rule to negative source entries first")


def _free_targets(matrix: np.ndarray, row_targets: np.ndarray, col_targets: np.ndarray,
                  fixed: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Targets left for the free cells once the fixed cells are subtracted."""
    fixed_part = np.where(fixed, matrix, 0.0)
    row_free = row_targets - fixed_part.sum(axis=1)
    col_free = col_targets - fixed_part.sum(axis=0)
    scale = max(1.0, float(np.abs(row_targets).sum()))
    if abs(row_free.sum() - col_free.sum()) > tol * scale:
        raise BalancingError(
            f"row targets for free cells sum to {row_free.sum():.9g} but column targets to "
            f"{col_free.sum():.9g}: totals must agree (after removing fixed cells)")
    for name, free in (("row", row_free), ("column", col_free)):
        bad = np.flatnonzero(free < -tol * scale)
        if bad.size:
            k = bad[0]
            raise BalancingError(
                f"{name} {k}: fixed cells already exceed the target by {-free[k]:.9g}")
    return np.clip(row_free, 0.0, None), np.clip(col_free, 0.0, None)


def _check_support(free_matrix: np.ndarray, row_free: np.ndarray, col_free: np.ndarray,
                   tol: float) -> None:
    """A positive target needs at least one positive free cell in its row or column."""
    scale = max(1.0, float(row_free.sum()))
    for name, sums, targets in (("row", free_matrix.sum(axis=1), row_free),
                                ("column", free_matrix.sum(axis=0), col_free)):
        bad = np.flatnonzero((sums <= 0) & (targets > tol * scale))
        if bad.size:
            k = bad[0]
            raise BalancingError(
                f"{name} {k} has target {targets[k]:.9g} but no positive free cell to scale")


def ras_with_fixed_cells(matrix, row_targets, col_targets, fixed=None, *, tol=1e-11,
                         max_iter=100_000):
    """Balance a non-negative matrix by biproportional scaling (RAS), keeping fixed cells.

    Finds ``B = diag(r) · A_free · diag(s) + A_fixed`` with row sums ``row_targets`` and
    column sums ``col_targets``, where ``A_free`` holds the cells not in ``fixed`` and
    ``A_fixed`` the cells in ``fixed`` (unchanged). This is the RAS method of Miller & Blair
    (2009, ch. 7, §7.4) applied to the free part, with the fixed cells' contributions removed
    from the targets first (their "modified RAS", §7.4.3). Zeros stay zero and signs are kept.
    Among all matrices with the target margins and the same zero pattern, the RAS solution
    minimises the information distance ``Σ b·ln(b/a)`` to the prior (Bacharach 1970).

    Parameters
    ----------
    matrix : array_like, shape (m, n)
        Prior matrix. Free cells must be ≥ 0.
    row_targets, col_targets : array_like, shapes (m,) and (n,)
        Required row and column sums (including fixed cells). Their totals must agree.
    fixed : array_like of bool, shape (m, n), optional
        Cells whose values must not change. Default: none.
    tol : float
        Convergence tolerance on the largest absolute margin error, relative to the grand total.
    max_iter : int
        Maximum number of row-column scaling rounds.

    Returns
    -------
    balanced : ndarray, shape (m, n)
        The balanced matrix.
    iterations : int
        Number of scaling rounds used.

    Raises
    ------
    BalancingError
        If inputs are malformed, totals disagree, fixed cells exceed a target, a row or column
        with a positive target has no positive free cell, or the iteration does not converge
        (the zero pattern admits no matrix with the required margins).
    """
    a = np.asarray(matrix, dtype=float)
    r_t = np.asarray(row_targets, dtype=float)
    c_t = np.asarray(col_targets, dtype=float)
    fx = np.zeros(a.shape, dtype=bool) if fixed is None else np.asarray(fixed, dtype=bool)
    _check_inputs(a, r_t, c_t, fx)
    row_free, col_free = _free_targets(a, r_t, c_t, fx, tol)
    free = np.where(fx, 0.0, a)
    _check_support(free, row_free, col_free, tol)
    scale = max(1.0, float(row_free.sum()))
    b = free.copy()
    for it in range(1, max_iter + 1):
        rs = b.sum(axis=1)
        b *= np.divide(row_free, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
        cs = b.sum(axis=0)
        b *= np.divide(col_free, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        err = np.abs(b.sum(axis=1) - row_free).max()
        if err <= tol * scale:
            return np.where(fx, a, b), it
    raise BalancingError(
        f"RAS did not converge in {max_iter} rounds (largest row error {err:.3g}): "
        "the zero pattern of the free cells admits no matrix with these margins")


def adjustment_table(before, after, row_labels, col_labels):
    """Cell-by-cell size of a balancing adjustment.

    Parameters
    ----------
    before, after : array_like, shape (m, n)
        Matrix before and after balancing.
    row_labels, col_labels : sequence of str
        Labels of rows and columns.

    Returns
    -------
    list of dict
        One record per cell with ``row``, ``col``, ``before``, ``after``, ``change``
        (after − before) and ``relative`` (change / before, NaN when before is 0).
    """
    b0 = np.asarray(before, dtype=float)
    b1 = np.asarray(after, dtype=float)
    rows = []
    for i, rl in enumerate(row_labels):
        for j, cl in enumerate(col_labels):
            ch = b1[i, j] - b0[i, j]
            rel = ch / b0[i, j] if b0[i, j] != 0 else float("nan")
            rows.append({"row": rl, "col": cl, "before": b0[i, j], "after": b1[i, j],
                         "change": ch, "relative": rel})
    return rows


def use_table_prior(intermediates, final_demand, absorption, floor_share=1e-3):
    """Starting values for balancing a region's use table ``[intermediates | final demand]``.

    RAS keeps signs and zeros, so the prior must be non-negative and must have a positive cell
    wherever a positive total has to be reached. The rules, each applied only where needed:

    * a negative purchase of an input by a sector starts at 0;
    * final demand that is not positive (none recorded, or inventory drawdowns and scrap)
      starts at ``floor_share`` times the row's intermediate use;
    * a row with a positive absorption but no positive cell starts with all of it in final
      demand;
    * a sector with no recorded inputs starts with the region's average input mix (the row sums
      of the intermediate block), or with the absorption vector if there is none.

    Parameters
    ----------
    intermediates : (S, S) purchases ``[input, sector]``.
    final_demand : (S,) purchases by final users.
    absorption : (S,) row targets (domestic sales + imports with tariffs).
    floor_share : float

    Returns
    -------
    ndarray, shape (S, S + 1)
        The prior matrix, final demand in the last column.
    """
    m = np.clip(np.asarray(intermediates, dtype=float), 0.0, None)
    f = np.asarray(final_demand, dtype=float)
    a = np.asarray(absorption, dtype=float)
    f = np.where(f > 0, f, floor_share * m.sum(axis=1))
    prior = np.column_stack([m, f])
    empty_row = (prior.sum(axis=1) <= 0) & (a > 0)
    prior[empty_row, -1] = a[empty_row]
    mix = m.sum(axis=1)
    if not mix.sum() > 0:
        mix = a.copy()
    empty_col = m.sum(axis=0) <= 0
    prior[:, :-1][:, empty_col] = mix[:, None]
    return prior


def balance_use_table(intermediates, final_demand, absorption, input_costs, *,
                      floor_share=1e-3, tol=1e-11):
    r"""Make a region's purchases consistent with its shipments, by RAS.

    Finds intermediates ``M[k, j] ≥ 0`` and final demand ``F[k] ≥ 0`` with

    .. math::
        \sum_j M_{kj} + F_k = A_k \quad\text{(absorption of } k\text{)},\qquad
        \sum_k M_{kj} = C_j \quad\text{(input costs of } j\text{)},\qquad
        \sum_k F_k = \sum_k A_k - \sum_j C_j ,

    the biproportional scaling (Miller & Blair 2009, §7.4) of :func:`use_table_prior`. With the
    gross output and value added of every sector fixed (``C = output − value added``) and
    ``A`` taken from the trade flows, the result satisfies the dataset loader's two identities:
    output = value added + inputs, and final demand ≥ 0. If the data already satisfy them the
    matrix comes back unchanged (to ``tol``).

    Returns
    -------
    intermediates : (S, S); final_demand : (S,); iterations : int

    Raises
    ------
    BalancingError
        If input costs are negative, exceed absorption in total (no room for final demand), or
        the RAS cannot reach the targets.
    """
    a = np.asarray(absorption, dtype=float)
    c = np.asarray(input_costs, dtype=float)
    if (c < -tol * max(1.0, float(np.abs(c).sum()))).any():
        k = int(np.argmin(c))
        raise BalancingError(f"sector {k}: value added exceeds gross output by {-c[k]:.9g}")
    c = np.clip(c, 0.0, None)
    final_total = a.sum() - c.sum()
    if final_total < -tol * max(1.0, float(a.sum())):
        raise BalancingError(f"input costs ({c.sum():.9g}) exceed absorption ({a.sum():.9g}): "
                             "no room for final demand")
    prior = use_table_prior(intermediates, final_demand, a, floor_share)
    out, iterations = ras_with_fixed_cells(prior, a, np.r_[c, max(final_total, 0.0)], tol=tol)
    return out[:, :-1], out[:, -1], iterations


def balance_region(region: str, sectors, intermediates, final_demand, absorption, input_costs,
                   *, floor_share=1e-3):
    """:func:`balance_use_table` for one region of a dataset, with the record of every cell
    before and after (rows of ``balancing_adjustments.csv``).

    Returns ``(intermediates, final_demand, records)``; each record is one of
    :func:`adjustment_table`'s with the ``region`` added.
    """
    m, f, _ = balance_use_table(intermediates, final_demand, absorption, input_costs,
                                floor_share=floor_share)
    before = np.column_stack([intermediates, final_demand])
    records = [{"region": region, **rec} for rec in adjustment_table(
        before, np.column_stack([m, f]), sectors, list(sectors) + ["final_demand"])]
    return m, f, records

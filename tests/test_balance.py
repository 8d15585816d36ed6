"""RAS balancing: cases whose answer is known from a formula."""

import numpy as np
import pytest

from calibration.balance import BalancingError, adjustment_table, ras_with_fixed_cells


def test_rank_one_prior_gives_outer_product_of_targets():
    # For a rank-one prior u v', the RAS solution is row_targets ⊗ col_targets / total
    # (every biproportional scaling of a rank-one matrix is rank one; margins pin it down).
    prior = np.outer([1.0, 2.0, 3.0], [4.0, 1.0, 2.0, 5.0])
    rows = np.array([10.0, 20.0, 30.0])
    cols = np.array([5.0, 15.0, 25.0, 15.0])
    out, _ = ras_with_fixed_cells(prior, rows, cols)
    np.testing.assert_allclose(out, np.outer(rows, cols) / rows.sum(), rtol=1e-10)


def test_two_by_two_keeps_the_cross_product_ratio():
    # RAS preserves b11*b22/(b12*b21) (Bacharach 1970). With prior [[2,1],[1,1]], row sums
    # (3,1) and column sums (2,2): b = [[a, 3-a], [2-a, a-1]] and a(a-1) = 2(3-a)(2-a),
    # i.e. a^2 - 9a + 12 = 0, so a = (9 - sqrt(33)) / 2.
    out, _ = ras_with_fixed_cells([[2.0, 1.0], [1.0, 1.0]], [3.0, 1.0], [2.0, 2.0])
    a = (9.0 - np.sqrt(33.0)) / 2.0
    np.testing.assert_allclose(out, [[a, 3 - a], [2 - a, a - 1]], rtol=1e-10)
    assert out[0, 0] * out[1, 1] / (out[0, 1] * out[1, 0]) == pytest.approx(2.0)


def test_balanced_matrix_is_a_fixed_point():
    prior = np.array([[1.0, 2.0, 0.0], [3.0, 0.5, 4.0]])
    out, iterations = ras_with_fixed_cells(prior, prior.sum(axis=1), prior.sum(axis=0))
    np.testing.assert_allclose(out, prior, rtol=1e-14)
    assert iterations == 1


def test_fixed_cells_unchanged_margins_hit_and_zeros_kept():
    prior = np.array([[4.0, 1.0, 2.0], [1.0, 3.0, 0.0], [2.0, 2.0, 5.0]])
    fixed = np.zeros_like(prior, dtype=bool)
    fixed[0, 1] = True
    rows = np.array([9.0, 6.0, 10.0])
    cols = np.array([8.0, 7.0, 10.0])
    out, _ = ras_with_fixed_cells(prior, rows, cols, fixed)
    assert out[0, 1] == prior[0, 1]
    assert out[1, 2] == 0.0
    np.testing.assert_allclose(out.sum(axis=1), rows, rtol=1e-10)
    np.testing.assert_allclose(out.sum(axis=0), cols, rtol=1e-10)
    # free cells are r_i * a_ij * s_j, so the cross-product ratio of a free 2x2 block is kept
    block = np.ix_([0, 2], [0, 2])
    cross = lambda m: m[0, 0] * m[1, 1] / (m[0, 1] * m[1, 0])
    assert cross(out[block]) == pytest.approx(cross(prior[block]), rel=1e-10)


def test_fixed_cell_with_unique_solution():
    # prior of ones, cell (0,0) fixed at 1, rows (4,3), cols (3,4): the free cells must satisfy
    # b01 = 3, b01 + b11 = 4, b10 + b11 = 3, so the only solution is [[1, 3], [2, 1]].
    fixed = np.array([[True, False], [False, False]])
    out, _ = ras_with_fixed_cells(np.ones((2, 2)), [4.0, 3.0], [3.0, 4.0], fixed)
    np.testing.assert_allclose(out, [[1.0, 3.0], [2.0, 1.0]], rtol=1e-10)


def test_zero_pattern_without_solution_raises():
    # A diagonal prior keeps its zeros, so row i and column i must have the same sum.
    with pytest.raises(BalancingError, match="did not converge"):
        ras_with_fixed_cells(np.eye(2), [1.0, 2.0], [2.0, 1.0], max_iter=500)


def test_totals_must_agree():
    with pytest.raises(BalancingError, match="totals must agree"):
        ras_with_fixed_cells(np.ones((2, 2)), [1.0, 1.0], [1.0, 2.0])


def test_fixed_cells_exceeding_a_target_raise():
    fixed = np.array([[True, False], [False, False]])
    with pytest.raises(BalancingError, match="exceed the target"):
        ras_with_fixed_cells([[5.0, 1.0], [1.0, 1.0]], [3.0, 2.0], [2.5, 2.5], fixed)


def test_positive_target_on_empty_row_raises():
    with pytest.raises(BalancingError, match="no positive free cell"):
        ras_with_fixed_cells([[0.0, 0.0], [1.0, 1.0]], [1.0, 2.0], [1.5, 1.5])


def test_negative_free_cell_raises():
    with pytest.raises(BalancingError, match="negative"):
        ras_with_fixed_cells([[-1.0, 2.0], [1.0, 1.0]], [1.0, 2.0], [1.0, 2.0])


def test_adjustment_table_reports_every_cell():
    rows = adjustment_table([[1.0, 0.0]], [[1.5, 0.0]], ["a"], ["x", "y"])
    assert rows[0]["change"] == pytest.approx(0.5) and rows[0]["relative"] == pytest.approx(0.5)
    assert rows[1]["change"] == 0.0 and np.isnan(rows[1]["relative"])

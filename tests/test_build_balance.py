"""Balancing a region's use table (calibration.balance.balance_use_table): cases whose answer
is known from a formula or is unique."""

import numpy as np
import pytest

from calibration.balance import BalancingError, balance_use_table, use_table_prior


def test_consistent_table_comes_back_unchanged():
    m = np.array([[2.0, 5.0, 1.0], [3.0, 0.0, 4.0], [1.0, 2.0, 2.0]])
    f = np.array([7.0, 1.0, 6.0])
    out_m, out_f, _ = balance_use_table(m, f, m.sum(axis=1) + f, m.sum(axis=0))
    np.testing.assert_allclose(out_m, m, rtol=1e-14)
    np.testing.assert_allclose(out_f, f, rtol=1e-14)


def test_rank_one_prior_gives_outer_product_of_targets():
    # [M | F] = u (v, w): every biproportional scaling is rank one, so the answer is
    # absorption ⊗ (input costs, final total) / total absorption.
    u, v, w = np.array([1.0, 2.0, 4.0]), np.array([3.0, 1.0, 2.0]), 5.0
    a, c = np.array([20.0, 10.0, 30.0]), np.array([12.0, 6.0, 18.0])
    out_m, out_f, _ = balance_use_table(np.outer(u, v), u * w, a, c)
    expected = np.outer(a, np.r_[c, a.sum() - c.sum()]) / a.sum()
    np.testing.assert_allclose(out_m, expected[:, :-1], rtol=1e-10)
    np.testing.assert_allclose(out_f, expected[:, -1], rtol=1e-10)


def test_one_sector_has_a_unique_answer_even_with_negative_final_demand():
    # M + F = a and M = c fix M = c, F = a - c whatever the prior (F < 0 starts at a floor).
    out_m, out_f, _ = balance_use_table([[5.0]], [-2.0], [10.0], [6.0])
    assert out_m[0, 0] == pytest.approx(6.0) and out_f[0] == pytest.approx(4.0)


def test_prior_rules_for_negative_and_empty_rows_and_columns():
    m = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]])
    f = np.array([-4.0, 0.0, 2.0])
    a = np.array([10.0, 3.0, 8.0])
    prior = use_table_prior(m, f, a, floor_share=0.01)
    assert prior[0, 2] == 0.0                       # negative purchase -> 0
    assert prior[0, 3] == pytest.approx(0.02)       # negative final demand -> 1 % of the
    #                                                 row's intermediate use (2, the -1 is 0)
    assert prior[1, 3] == 3.0                       # empty row -> all in final demand
    np.testing.assert_array_equal(prior[:, 1], [2.0, 0.0, 4.0])   # empty column -> input mix


def test_errors_name_the_problem():
    with pytest.raises(BalancingError, match="no room for final demand"):
        balance_use_table([[1.0, 1.0], [1.0, 1.0]], [1.0, 1.0], [3.0, 3.0], [4.0, 4.0])
    with pytest.raises(BalancingError, match="sector 1: value added exceeds gross output by 2"):
        balance_use_table([[1.0, 1.0], [1.0, 1.0]], [1.0, 1.0], [3.0, 3.0], [2.0, -2.0])

r"""Estimators over the draws of a sweep: mean, standard deviation and percentiles (weighted for
quadrature), and Sobol' indices from the Saltelli design."""

from __future__ import annotations

import numpy as np

from model.sweep.designs import STATISTICS


def summary(values: np.ndarray, ok: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Mean, standard deviation and 5/50/95 percentiles over the first axis of ``values``,
    counting only rows where ``ok``.  With ``weights`` (quadrature) the mean and standard
    deviation are weighted (weights renormalised over the rows kept) and percentiles are NaN,
    as a handful of quadrature points do not define them.  Percentiles interpolate linearly
    (``numpy.percentile``); the standard deviation divides by ``n - 1``."""
    v = values[ok]
    out = np.full((len(STATISTICS),) + values.shape[1:], np.nan)
    if v.shape[0] == 0:
        return out
    if weights is not None:
        w = weights[ok] / weights[ok].sum()
        w = w.reshape((-1,) + (1,) * (v.ndim - 1))
        mean = (w * v).sum(axis=0)
        out[0] = mean
        out[1] = np.sqrt((w * (v - mean) ** 2).sum(axis=0))
        return out
    out[0] = v.mean(axis=0)
    if v.shape[0] > 1:
        out[1] = v.std(axis=0, ddof=1)
    out[2:] = np.percentile(v, [5.0, 50.0, 95.0], axis=0)
    return out


def sobol_indices(y: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    r"""First-order and total Sobol' indices from outputs of the Saltelli design.

    ``y[r, :]`` holds, for base point ``r``, the outputs at ``A``, ``A_B^{(1)} .. A_B^{(D)}``
    and ``B`` (D + 2 values; rows with a NaN are dropped).  Saltelli et al. (2010) first order
    :math:`S_i = \overline{f_B (f_{A_B^{(i)}} - f_A)} / V` and Jansen's total effect
    :math:`S_{Ti} = \tfrac12\overline{(f_A - f_{A_B^{(i)}})^2} / V`, with :math:`V` the variance
    of :math:`f_A, f_B` together, after standardising all outputs (as SALib does).  Returns two
    arrays of length ``dims`` (NaN when the output does not vary).
    """
    y = y[np.isfinite(y).all(axis=1)]
    nan = np.full(dims, np.nan)
    if y.shape[0] < 2:
        return nan, nan.copy()
    sd = y.std()
    if not sd > 0:
        return nan, nan.copy()
    y = (y - y.mean()) / sd
    A, B, AB = y[:, 0], y[:, -1], y[:, 1:-1]
    var = np.var(np.r_[A, B])
    if not var > np.finfo(float).eps:
        return nan, nan.copy()
    s1 = np.mean(B[:, None] * (AB - A[:, None]), axis=0) / var
    st = 0.5 * np.mean((A[:, None] - AB) ** 2, axis=0) / var
    return s1, st

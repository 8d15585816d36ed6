r"""Accounting identities of a dataset's arrays, written once and used by the loader, the
calibration, the dataset builders and the model's outcomes.

Index names: ``n`` importer, ``i`` exporter, ``j`` sector.  ``X[i, n, j]`` are shipments at
pre-tariff prices (``i == n``: domestic sales); ``t[n, i, j]`` ad valorem tariffs of importer
``n`` on exporter ``i``.
"""

from __future__ import annotations

import numpy as np


def absorption(X0: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """``E0[n, j] = sum_i X0[i, n, j] (1 + t0[n, i, j])``."""
    return np.einsum("inj,nij->nj", X0, 1.0 + t0)


def expenditure_shares(X0: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """``pi0[n, i, j] = X0[i, n, j] (1 + t0[n, i, j]) / E0[n, j]`` (0 where ``E0`` is 0)."""
    spend = np.transpose(X0, (1, 0, 2)) * (1.0 + t0)
    total = spend.sum(axis=1, keepdims=True)
    return np.divide(spend, total, out=np.zeros_like(spend), where=total > 0)


def tariff_revenue(X0: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """``R0[n] = sum_{i,j} t0[n, i, j] X0[i, n, j]``."""
    return np.einsum("nij,inj->n", t0, X0)


def off_diagonal(X: np.ndarray) -> np.ndarray:
    """``X[i, n, j]`` with the domestic cells ``i == n`` set to zero."""
    out = X.copy()
    idx = np.arange(X.shape[0])
    out[idx, idx, :] = 0.0
    return out


def trade_balance(X: np.ndarray) -> np.ndarray:
    """Exports minus imports of each region, all partners, at pre-tariff prices."""
    foreign = off_diagonal(X)
    return foreign.sum(axis=(1, 2)) - foreign.sum(axis=(0, 2))


def bilateral_balance(X: np.ndarray) -> np.ndarray:
    """``B[n, p]`` = exports of ``n`` to partner ``p`` minus imports of ``n`` from ``p``."""
    foreign = off_diagonal(X).sum(axis=2)  # [exporter, importer]
    return foreign - foreign.T


def deficits(X0: np.ndarray) -> np.ndarray:
    """``D0[n]`` = imports - exports at pre-tariff prices (domestic sales excluded)."""
    return -trade_balance(X0)

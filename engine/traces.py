"""Traces tr(W^k) / n, computed once on the host and shared by log-determinants and effects.

tr(W), tr(W^2), tr(W^3), tr(W^4) are exact, from sparse products
(tr(W^2) = sum_ij W_ij W_ji, tr(W^4) = sum_ij (W^2)_ij (W^2)_ji). Higher
orders use Hutchinson's estimator with Rademacher probes drawn once from a
fixed seed (Barry & Pace 1999, *Linear Algebra Appl.* 289, 41-54):
tr(A) ~ mean_p z_p' A z_p, unbiased with variance 2 sum_{i != j} A_ij^2 / p.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

EXACT_ORDER = 4
"""Orders k <= 4 are computed exactly."""

PROBE_BLOCK = 64
"""Probes multiplied at once (bounds memory to n x 64 doubles per vector)."""


class Traces(NamedTuple):
    """Normalised traces m_k = tr(W^k) / n for k = 0..order."""

    moments: np.ndarray
    """m_0 = 1, m_1..m_4 exact, m_5.. Hutchinson estimates."""
    se: np.ndarray
    """Monte Carlo standard error of each m_k (0 where exact)."""
    n: int
    """Number of units."""
    probes: int
    """Number of Rademacher probes used beyond order 4."""
    forms: np.ndarray
    """Per-probe control-variate-adjusted forms z'W^k z / n, shape (order + 1, probes)."""


def exact_power_traces(m: sp.csr_matrix) -> np.ndarray:
    """Exact tr(W^k) / n for k = 0..4 from sparse element-wise products."""
    n = m.shape[0]
    w2 = m @ m
    t = [
        float(n),
        float(m.diagonal().sum()),
        float(m.multiply(m.T).sum()),
        float(w2.multiply(m.T).sum()),
        float(w2.multiply(w2.T).sum()),
    ]
    return np.asarray(t) / n


def rademacher(n: int, probes: int, seed: int) -> np.ndarray:
    """Fixed +-1 probe block of shape (n, probes)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2, size=(n, probes), dtype=np.int8).astype(float) * 2.0 - 1.0


def probe_forms(matvec, n: int, order: int, probes: int, seed: int, recurrence: str = "power"):
    """Per-probe quadratic forms z' P_k z for k = 0..order.

    ``recurrence="power"`` gives P_k = M^k; ``"chebyshev"`` gives the Chebyshev
    polynomials T_k(M) through T_k = 2 M T_{k-1} - T_{k-2}. ``matvec`` applies
    M to an (n, b) block. Returns an array of shape (order + 1, probes).
    """
    out = np.empty((order + 1, probes))
    for start in range(0, probes, PROBE_BLOCK):
        stop = min(start + PROBE_BLOCK, probes)
        z = rademacher(n, probes, seed)[:, start:stop]
        prev, cur = None, z
        out[0, start:stop] = (z * z).sum(0)
        for k in range(1, order + 1):
            nxt = matvec(cur) if recurrence == "power" or k == 1 else 2.0 * matvec(cur) - prev
            prev, cur = cur, nxt
            out[k, start:stop] = (z * cur).sum(0)
    return out


def control_variate_mean(forms: np.ndarray, exact: np.ndarray, k_exact: int) -> tuple:
    """Mean of each row of ``forms`` with the exact low orders as control variates.

    Rows k <= k_exact are replaced by their exact values; each higher row is
    regressed on the centred low-order rows across probes and the fitted
    deviation removed (Owen 2013, *Monte Carlo theory*, ch. 8.9). Returns
    (estimates, standard errors, adjusted per-probe forms).
    """
    p = forms.shape[1]
    est = forms.mean(1)
    se = forms.std(1, ddof=1) / np.sqrt(p)
    adjusted = forms.copy()
    est[: k_exact + 1] = exact[: k_exact + 1]
    se[: k_exact + 1] = 0.0
    adjusted[: k_exact + 1] = exact[: k_exact + 1, None]
    cv = forms[1 : k_exact + 1] - exact[1 : k_exact + 1, None]
    cv = cv[cv.std(1) > 0]
    if cv.shape[0] == 0 or p <= cv.shape[0] + 2:
        return est, se, adjusted
    for k in range(k_exact + 1, forms.shape[0]):
        coef, *_ = np.linalg.lstsq(cv.T, forms[k] - forms[k].mean(), rcond=None)
        adjusted[k] = forms[k] - coef @ cv
        est[k] = adjusted[k].mean()
        se[k] = adjusted[k].std(ddof=cv.shape[0] + 1) / np.sqrt(p)
    return est, se, adjusted


def init_traces(W, order: int = 50, probes: int = 64, seed: int = 0) -> Traces:
    """Compute tr(W^k)/n for k = 0..order: exact to 4, Hutchinson with control variates above.

    Parameters
    ----------
    W : Weights or scipy.sparse matrix
        The spatial weights (as used in the model, e.g. row-standardised).
    order : int
        Highest power.
    probes : int
        Rademacher probes (fixed by ``seed``); cost ``order * probes`` sparse
        matrix-vector products.
    """
    from bayespatial.engine.sparse import as_csr

    m = as_csr(W)
    n = m.shape[0]
    exact = exact_power_traces(m)
    if order <= EXACT_ORDER:
        return Traces(exact[: order + 1], np.zeros(order + 1), n, 0, exact[: order + 1, None])
    forms = probe_forms(lambda v: m @ v, n, order, probes, seed) / n
    ex = np.concatenate([exact, np.zeros(order - EXACT_ORDER)])
    est, se, adjusted = control_variate_mean(forms, ex, EXACT_ORDER)
    return Traces(est, se, n, probes, adjusted)

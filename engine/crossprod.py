"""Sufficient statistics of Gaussian spatial panels after the fixed-effect transformation.

With flat priors on unit and/or time effects, the effects integrate out
exactly by the orthonormal transformation of Lee & Yu (2010, *J. Econometrics*
154, 165-185): F_{T,T-1} over periods removes unit effects, F_{n,n-1} over
units removes time effects (W row-standardised, so that F_n' W = W* F_n').
Because both transformations are orthonormal, inner products of transformed
series equal inner products of the demeaned series, so only demeaned
cross-products are needed. What changes is the likelihood's bookkeeping:

=========  ======================  =========================================
fe         observations N          log-determinant term
=========  ======================  =========================================
none       n T                     T log|I - rho W|
unit       n (T - 1)               (T - 1) log|I - rho W|
time       (n - 1) T               T [log|I - rho W| - log(1 - rho)]
twoway     (n - 1)(T - 1)          (T - 1) [log|I - rho W| - log(1 - rho)]
=========  ======================  =========================================

(Lee & Yu 2010, eqs. 2.4, 3.2, 4.2; Elhorst 2014, *Spatial Econometrics*,
sec. 3.3). The cross-products of [y, W y, Z, W Z] then cost O(nnz(W) T) once,
and every likelihood evaluation afterwards is O(p^3), independent of n.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

FE_KINDS = ("none", "unit", "time", "twoway")


class CrossProducts(NamedTuple):
    """Gram matrix of the transformed columns [y, W y, Z, W Z]."""

    gram: np.ndarray
    """(2 + 2p, 2 + 2p) inner products of the demeaned columns y, Wy, Z, WZ."""
    p: int
    """Number of regressors in Z (for Durbin models Z = [X, W X])."""
    nobs: int
    """Effective observations N after the transformation."""
    logdet_mult: int
    """Multiplier c of log|I - rho W| in the log-likelihood."""
    drop_unit_root: bool
    """Whether c log(1 - rho) is subtracted (time effects removed)."""


def demean(v: np.ndarray, fe: str) -> np.ndarray:
    """Remove unit and/or time means from v of shape (T, n, ...) (two-way: both)."""
    if fe not in FE_KINDS:
        raise ValueError(f"fe must be one of {FE_KINDS}, not {fe!r}.")
    out = v
    if fe in ("unit", "twoway"):
        out = out - out.mean(axis=0, keepdims=True)
    if fe in ("time", "twoway"):
        out = out - out.mean(axis=1, keepdims=True)
    return out


def cross_products(y: np.ndarray, Z: np.ndarray, W, fe: str = "none") -> CrossProducts:
    """Cross-products of [y, W y, Z, W Z] after the fixed-effect transformation.

    W Z is what the spatial error models need (A(lam) Z = Z - lam W Z).

    Parameters
    ----------
    y : array (T, n)
        Outcome, period-major.
    Z : array (T, n, p)
        Regressors (no constant when fe != "none": effects absorb it).
    W : scipy.sparse matrix or `Weights`
        Spatial weights (row-standardised when time effects are removed).
    fe : {"none", "unit", "time", "twoway"}
    """
    m = W.sparse if hasattr(W, "sparse") else W
    T, n = y.shape
    p = Z.shape[2]
    cols = np.concatenate([y[..., None], Z], axis=2)  # (T, n, 1 + p)
    lagged = (m @ cols.transpose(1, 0, 2).reshape(n, -1)).reshape(n, T, 1 + p).transpose(1, 0, 2)
    cols = np.concatenate([cols[..., :1], lagged[..., :1], cols[..., 1:], lagged[..., 1:]], axis=2)
    flat = demean(cols, fe).reshape(T * n, 2 + 2 * p)
    gram = flat.T @ flat
    nobs = {"none": n * T, "unit": n * (T - 1), "time": (n - 1) * T, "twoway": (n - 1) * (T - 1)}[
        fe
    ]
    mult = T - 1 if fe in ("unit", "twoway") else T
    return CrossProducts(gram, p, nobs, mult, fe in ("time", "twoway"))

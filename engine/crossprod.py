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

from bayespatial.engine.sparse import as_csr

FE_KINDS = ("none", "unit", "time", "twoway")
FE_ALIASES = {"individual": "unit", "ind": "unit", "twoways": "twoway", "both": "twoway"}
"""Spellings of R splm/SDPDmod ("individual", "twoways") and Stata xsmle ("ind", "both")."""


def fe_kind(fe: str) -> str:
    """The fixed-effects kind named by ``fe`` (an alias from `FE_ALIASES` allowed)."""
    kind = FE_ALIASES.get(fe, fe)
    if kind not in FE_KINDS:
        aliases = ", ".join(f"{k!r} = {v!r}" for k, v in FE_ALIASES.items())
        raise ValueError(f"fe must be one of {FE_KINDS} (aliases: {aliases}), not {fe!r}.")
    return kind


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
    m = as_csr(W)
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


def quadratic_forms(cp: CrossProducts, r, kind: str = "lag", xp=np):
    """Y_r'y_r, Z_r'y_r and Z_r'Z_r for r of any shape (pure ``xp``: numpy or jax.numpy).

    Lag models: y_r = y - r W y, Z_r = Z; error models: y_r = (I - r W) y,
    Z_r = (I - r W) Z. Shapes: r.shape, r.shape + (p,), r.shape + (p, p).
    """
    g, p = xp.asarray(cp.gram), cp.p
    z, wz = slice(2, 2 + p), slice(2 + p, 2 + 2 * p)
    r = xp.asarray(r)
    r1, r2 = r[..., None], r[..., None, None]
    yy = g[0, 0] - 2 * r * g[0, 1] + r**2 * g[1, 1]
    if kind == "lag":
        zy = g[z, 0] - r1 * g[z, 1]
        zz = g[z, z] + 0 * r2
    elif kind == "error":
        zy = g[z, 0] - r1 * (g[z, 1] + g[wz, 0]) + r1**2 * g[wz, 1]
        zz = g[z, z] - r2 * (g[z, wz] + g[wz, z]) + r2**2 * g[wz, wz]
    else:
        raise ValueError(f"kind must be 'lag' or 'error', not {kind!r}.")
    return yy, zy, zz


def gaussian_loglik(cp: CrossProducts, r, beta, sigma2, logdet_value, kind: str = "lag", xp=np):
    """Gaussian log-likelihood of the transformed panel at scalar (r, beta, sigma^2).

    c (log|I - r W| [- log(1 - r)]) - N/2 log(2 pi sigma^2) - RSS / (2 sigma^2),
    RSS = y_r'y_r - 2 beta'Z_r'y_r + beta'Z_r'Z_r beta; ``logdet_value`` is
    log|I - r W| from `bayespatial.engine.logdet`.
    """
    yy, zy, zz = quadratic_forms(cp, r, kind, xp)
    rss = yy - 2 * beta @ zy + beta @ zz @ beta
    return (
        log_jacobian(cp, r, logdet_value, xp)
        - 0.5 * cp.nobs * xp.log(2 * xp.pi * sigma2)
        - (0.5 * rss / sigma2)
    )


def log_jacobian(cp: CrossProducts, r, logdet_value, xp=np):
    """The transformed panel's log-Jacobian c (log|I - r W| [- log(1 - r)]) (module table)."""
    ld = logdet_value - xp.log1p(-r) if cp.drop_unit_root else logdet_value
    return cp.logdet_mult * ld

"""Per-observation (streaming) likelihood of spatial models, for non-Gaussian errors.

The fixed effects are removed by orthonormal transformations, as in Lee & Yu
(2010, *J. Econometrics* 154, 165-185), but applied to the rows themselves:
the Helmert (forward orthogonal deviations) basis F_T over periods for unit
effects and F_n over units for time effects, each an orthonormal complement of
the constant vector computed in O(length) (Arellano & Bover 1995, *J.
Econometrics* 68, 29-51). For a row-standardised W, F_n' W F_n F_n' = F_n' W,
so the transformed rows of W y are the spatial lags of the transformed model,
and the residual of every transformed observation is linear in the
coefficients given r:

    lag:   e* = y* - r (W y)* - Z* beta
    error: e* = y* - r (W y)* - (Z* - r (W Z)*) beta

With Gaussian errors the transformation is exact and sum e*^2 equals the RSS
of `bayespatial.engine.crossprod` (same log density, tested). With Student-t
errors the transformed errors of a unit are mixtures of its t errors, so
treating them as independent t variates is a quasi-likelihood (exact with
fe="none"); this is the usual transformed-likelihood treatment.
Each evaluation costs O(N p): the work that grows with n.
"""

from __future__ import annotations

import numpy as np
from jax.scipy.special import gammaln

from bayespatial.engine.crossprod import FE_KINDS
from bayespatial.engine.sparse import as_csr


def helmert(v: np.ndarray, axis: int) -> np.ndarray:
    """Forward orthogonal deviations of v along ``axis`` (length L -> L - 1).

    x*_t = sqrt((L - t) / (L - t + 1)) (x_t - mean(x_{t+1}, ..., x_L)), t = 1..L-1:
    orthonormal rows orthogonal to the constant (Arellano & Bover 1995).
    """
    v = np.moveaxis(np.asarray(v, dtype=float), axis, 0)
    L = v.shape[0]
    tail = np.cumsum(v[::-1], axis=0)[::-1]  # sum_{s >= t} x_s
    count = np.arange(L, 0, -1, dtype=float)  # L - t + 1 for t = 1..L
    ahead = tail[1:] / count[1:].reshape(-1, *([1] * (v.ndim - 1)))  # mean of x_{t+1..L}
    c = np.sqrt(count[1:] / count[:-1]).reshape(-1, *([1] * (v.ndim - 1)))
    return np.moveaxis(c * (v[:-1] - ahead), 0, axis)


def transform_columns(y: np.ndarray, Z: np.ndarray, W, fe: str = "none") -> np.ndarray:
    """Rows [y*, (W y)*, Z*, (W Z)*] after the fixed-effect transformation, (N, 2 + 2p).

    ``y`` is (T, n), ``Z`` is (T, n, p), period-major; W must be row-standardised
    when time effects are removed.
    """
    if fe not in FE_KINDS:
        raise ValueError(f"fe must be one of {FE_KINDS}, not {fe!r}.")
    m = as_csr(W)
    T, n = y.shape
    p = Z.shape[2]
    cols = np.concatenate([y[..., None], Z], axis=2)
    lagged = (m @ cols.transpose(1, 0, 2).reshape(n, -1)).reshape(n, T, 1 + p).transpose(1, 0, 2)
    cols = np.concatenate([cols[..., :1], lagged[..., :1], cols[..., 1:], lagged[..., 1:]], axis=2)
    if fe in ("unit", "twoway"):
        cols = helmert(cols, 0)
    if fe in ("time", "twoway"):
        cols = helmert(cols, 1)
    return cols.reshape(-1, 2 + 2 * p)


def residuals(cols, p: int, r, beta, kind: str, xp=np):
    """Transformed residuals e* for scalar r and beta (p,) (pure ``xp``)."""
    y, wy = cols[:, 0], cols[:, 1]
    z, wz = cols[:, 2 : 2 + p], cols[:, 2 + p : 2 + 2 * p]
    if kind == "lag":
        return y - r * wy - z @ beta
    if kind == "error":
        return y - r * wy - (z - r * wz) @ beta
    raise ValueError(f"kind must be 'lag' or 'error', not {kind!r}.")


def loglik(
    cols,
    p: int,
    r,
    beta,
    sigma2,
    logdet_value,
    logdet_mult: int,
    drop_unit_root: bool,
    kind: str = "lag",
    nu=None,
    xp=np,
):
    """Log-likelihood from transformed rows: Gaussian (``nu`` None) or Student-t(nu).

    c (log|I - r W| [- log(1 - r)]) + sum_i log f(e*_i; sigma, nu), with f the
    N(0, sigma^2) or scaled t density (Geweke 1993, *J. Appl. Econometrics* 8,
    S19-S40; LeSage 1997 for its spatial use).
    """
    e = residuals(cols, p, r, beta, kind, xp)
    ld = logdet_value - xp.log1p(-r) if drop_unit_root else logdet_value
    N = e.shape[0]
    if nu is None:
        dens = -0.5 * N * xp.log(2 * xp.pi * sigma2) - 0.5 * xp.sum(e**2) / sigma2
    else:
        dens = N * (
            gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * xp.log(nu * xp.pi * sigma2)
        ) - 0.5 * (nu + 1) * xp.sum(xp.log1p(e**2 / (nu * sigma2)))
    return logdet_mult * ld + dens

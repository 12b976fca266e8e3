"""Exact pointwise conditional log-likelihood of non-factorising Gaussian spatial models.

SAR/SDM/DSDM: A y = Z beta + e; SEM/SDEM: A (y - Z beta) = e; A = I - r W,
e ~ N(0, sigma^2 I). Either way y is Gaussian with precision Q = A'A / sigma^2,
and the leave-one-out conditional density of y_i given all other y is
(Bürkner, Gabry & Vehtari 2021, *Computational Statistics* 36, 1243-1261):

    g = Q (y - E y) = A' e / sigma^2,      qbar_i = Q_ii = (1 + r^2 sum_k W_ki^2) / sigma^2,
    log p(y_i | y_-i) = -1/2 log 2 pi + 1/2 log qbar_i - 1/2 g_i^2 / qbar_i,

with e the structural residual (A y - Z beta, or A (y - Z beta)) and W_ii = 0.
No inverse and no log-determinant: O(nnz(W)) per draw and period. Panels are
handled period by period on the fixed-effect-transformed (demeaned) data: what
is left out is one unit-period, given the other units of that period (and, for
dynamic models, given the lags); see `bayespatial.models.results`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from bayespatial.engine.sparse import SparseW, matvec, rmatvec


def column_sumsq(op: SparseW) -> jax.Array:
    """sum_k W_ki^2 for every column i (the diagonal of W'W)."""
    n = op.diag.shape[0]
    return jax.ops.segment_sum(op.vals**2, op.cols, num_segments=n)


def pointwise(y, Z, op: SparseW, r, beta, sigma, kind: str = "lag"):
    """Log p(y_it | y_-it) for one draw: y (T, n), Z (T, n, p) -> (T, n) (pure jnp)."""
    Wy = matvec(op, y)
    if kind == "lag":
        e = y - r * Wy - Z @ beta
    elif kind == "error":
        u = y - Z @ beta
        e = u - r * matvec(op, u)
    else:
        e = y - Z @ beta
    s2 = sigma**2
    g = (e - r * rmatvec(op, e)) / s2
    qbar = (1.0 + r**2 * column_sumsq(op)) / s2
    return -0.5 * jnp.log(2 * jnp.pi) + 0.5 * jnp.log(qbar) - 0.5 * g**2 / qbar


def pointwise_draws(y, Z, op, r, beta, sigma, kind="lag", chunk: int = 256) -> np.ndarray:
    """Pointwise log-likelihood for many draws: r, sigma (D,), beta (D, p) -> (D, T, n).

    Draws are processed in chunks of ``chunk`` under one jitted vmap.
    """
    fn = jax.jit(jax.vmap(lambda r_, b_, s_: pointwise(y, Z, op, r_, b_, s_, kind)))
    out = [
        np.asarray(fn(r[i : i + chunk], beta[i : i + chunk], sigma[i : i + chunk]))
        for i in range(0, len(r), chunk)
    ]
    return np.concatenate(out)

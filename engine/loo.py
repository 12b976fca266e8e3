"""Exact pointwise conditional log-likelihood of non-factorising Gaussian spatial models.

SAR/SDM/DSDM: A y = Z beta + e; SEM/SDEM: A (y - Z beta) = e; A = I - r W,
e ~ N(0, sigma^2 I). Either way y is Gaussian with precision Q = A'A / sigma^2,
and the leave-one-out conditional density of y_i given all other y is
(Bürkner, Gabry & Vehtari 2021, *Computational Statistics* 36, 1243-1261):

    g = Q (y - E y) = A' e / sigma^2,      qbar_i = Q_ii = (1 + r^2 sum_k W_ki^2) / sigma^2,
    log p(y_i | y_-i) = -1/2 log 2 pi + 1/2 log qbar_i - 1/2 g_i^2 / qbar_i,

with e the structural residual (A y - Z beta, or A (y - Z beta)) and W_ii = 0.
No inverse and no log-determinant: O(nnz(W)) per draw and period, and after a
one-off O(nnz(W) T p) basis (`LooBasis`) a block of draws is one matrix
product with a handful of fixed arrays. Student-t errors: `loo_student`. Panels are
handled period by period on the fixed-effect-transformed (demeaned) data: what
is left out is one unit-period, given the other units of that period (and, for
dynamic models, given the lags); see `bayespatial.models.results`.
"""

from __future__ import annotations

from typing import NamedTuple

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


class LooBasis(NamedTuple):
    """Draw-independent products of the data with W and W' (computed once, O(nnz T p)).

    sigma^2 g = e - r W'e is linear in a few fixed arrays with coefficients that
    depend on the draw only (module docstring; e as there):

    lag:    y - r (W y + W'y) + r^2 W'W y - sum_p beta_p (Z_p - r W'Z_p)
    error:  y - r (W y + W'y) + r^2 W'W y
              - sum_p beta_p (Z_p - r (W Z_p + W'Z_p) + r^2 W'W Z_p)

    so a block of draws is one matrix product coef (D, K) @ arrays (K, T n).
    """

    arrays: jax.Array
    """(K, T, n): y, W y + W'y, W'W y, then Z_p, W'Z_p (lag) or Z_p, W Z_p + W'Z_p, W'W Z_p."""
    colsq: jax.Array
    """sum_k W_ki^2 per unit (n,)."""


def init_basis(y, Z, op: SparseW, kind: str = "lag") -> LooBasis:
    """Precompute the arrays that make each draw's LOO terms one row of a matrix product."""
    y = jnp.asarray(y)
    Zc = jnp.moveaxis(jnp.asarray(Z), 2, 0)  # (p, T, n): W acts on the last axis
    Wy, WZ = matvec(op, y), matvec(op, Zc)
    head = jnp.stack([y, Wy + rmatvec(op, y), rmatvec(op, Wy)])
    cols = [Zc, rmatvec(op, Zc)]
    if kind == "error":
        cols = [Zc, WZ + cols[1], rmatvec(op, WZ)]
    return LooBasis(jnp.concatenate([head, *cols]), column_sumsq(op))


def basis_coefficients(r, beta, kind: str = "lag"):
    """Coefficients (D, K) of the basis arrays for draws r (D,), beta (D, p)."""
    r1 = r[:, None]
    head = jnp.stack([jnp.ones_like(r), -r, r**2], axis=1)
    if kind == "error":
        return jnp.concatenate([head, -beta, r1 * beta, -(r1**2) * beta], axis=1)
    return jnp.concatenate([head, -beta, r1 * beta], axis=1)


def apply_basis(basis: LooBasis, r, beta, sigma, kind: str = "lag"):
    """Log p(y_it | y_-it) for draws r, sigma (D,), beta (D, p) -> (D, T, n) (pure jnp).

    sigma^2 g from one matrix product (`LooBasis`); with sigma^2 qbar_i = 1 + r^2
    colsq_i, log p = -1/2 log 2 pi + 1/2 log qbar - 1/2 (sigma^2 g)^2 / (sigma^2 (1 + r^2 colsq)).
    """
    K, T, n = basis.arrays.shape
    coef = basis_coefficients(r, beta, kind)
    sg = (coef @ basis.arrays.reshape(K, T * n)).reshape(-1, T, n)
    unit_q = 1.0 + r[:, None] ** 2 * basis.colsq  # (D, n)
    log_qbar = (jnp.log(unit_q) - jnp.log(sigma**2)[:, None])[:, None, :]
    scale = (sigma[:, None] ** 2 * unit_q)[:, None, :]
    return -0.5 * jnp.log(2 * jnp.pi) + 0.5 * log_qbar - 0.5 * sg**2 / scale


_apply_jit = jax.jit(apply_basis, static_argnames="kind")


def stream_draws(fn, per_draw: tuple, chunk: int, reduce=None):
    """fn(*blocks) over blocks of ``chunk`` draws of the arrays ``per_draw`` (D, ...).

    Returns the concatenated (D, ...) result, or the list of ``reduce(block)``
    when given (for panels where draws x N does not fit in memory).
    """
    out = []
    for i in range(0, len(per_draw[0]), chunk):
        block = fn(*(jnp.asarray(a[i : i + chunk]) for a in per_draw))
        out.append(reduce(block) if reduce is not None else np.asarray(block))
    return out if reduce is not None else np.concatenate(out)


def pointwise_draws(y, Z, op, r, beta, sigma, kind="lag", chunk: int = 64, reduce=None):
    """Pointwise log-likelihood for many draws: r, sigma (D,), beta (D, p) -> (D, T, n).

    Draws are processed in chunks of ``chunk`` (`stream_draws`); the data enter
    as arguments (no constant folding of large arrays).
    """
    k = "lag" if kind == "none" else kind
    basis = init_basis(y, Z, op, k)
    return stream_draws(lambda *d: _apply_jit(basis, *d, kind=k), (r, beta, sigma), chunk, reduce)

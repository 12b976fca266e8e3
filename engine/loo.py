"""Exact pointwise conditional log-likelihood of non-factorising Gaussian spatial models.

SAR/SDM/DSDM: A y_t = alpha + mu_t + Z_t beta + e_t; SEM/SDEM: A (y_t - alpha - mu_t
- Z_t beta) = e_t; A = I - r W, e ~ N(0, sigma^2 I), unit effects alpha and period
effects mu_t (as the fit's ``fe`` says) with flat priors. Integrating the effects
out leaves a Gaussian in the stacked y whose precision is degenerate but whose
conditionals are proper:

    Q = B' M B / sigma^2,      B = I_T (x) A,      M = M_T (x) M_n,

with M_T = I - J/T when unit effects are removed (else I) and M_n = I - J/n when
period effects are (else I): M is the annihilator of the effect dummies, and for
the error models span(B D) = span(D) because W is row-standardised (A 1 = (1 - r) 1).
The leave-one-out conditional density of y_it given all other unit-periods is
(Bürkner, Gabry & Vehtari 2021, *Computational Statistics* 36, 1243-1261):

    g = Q (y - E y) = B' M e / sigma^2,
    log p(y_it | y_-it) = -1/2 log 2 pi + 1/2 log Q_ii - 1/2 g_i^2 / Q_ii,

with e the structural residual (A y - Z beta, or A (y - Z beta)) and W_ii = 0,
and the diagonal, per unit, in closed form (c_i = sum_k W_ki, s_i = sum_k W_ki^2):

    sigma^2 Q_ii = m_T (1 + r^2 s_i - [time] (1 - r c_i)^2 / n),  m_T = 1 - [unit] / T.

So the held-out y_it does not help estimate its own unit or period effect.
No inverse and no log-determinant: O(nnz(W) T) per draw, and after a one-off
O(nnz(W) T p) basis (`LooBasis`) a block of draws is one matrix product with a
handful of fixed arrays. Student-t errors: `loo_student` (fe="none" only). For
dynamic models the lags enter as regressors: what is left out is one unit-period
given the lags.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from bayespatial.engine.absorb import CellEffects
from bayespatial.engine.sparse import SparseW, matvec, rmatvec


def column_sumsq(op: SparseW) -> jax.Array:
    """sum_k W_ki^2 for every column i (the diagonal of W'W)."""
    n = op.diag.shape[0]
    return jax.ops.segment_sum(op.vals**2, op.cols, num_segments=n)


def annihilate(v, fe: str):
    """M v for v (..., T, n): remove unit (time-axis) and/or period (unit-axis) means."""
    if fe in ("unit", "twoway"):
        v = v - v.mean(axis=-2, keepdims=True)
    if fe in ("time", "twoway"):
        v = v - v.mean(axis=-1, keepdims=True)
    return v


def precision_poly(op: SparseW, fe: str, T: int) -> jax.Array:
    """(3, n) coefficients of sigma^2 Q_ii = q0 + q1 r + q2 r^2 per unit (module docstring)."""
    n = op.diag.shape[0]
    s = column_sumsq(op)
    ones = jnp.ones(n)
    q = jnp.stack([ones, jnp.zeros(n), s])
    if fe in ("time", "twoway"):
        c = jax.ops.segment_sum(op.vals, op.cols, num_segments=n)
        q = q - jnp.stack([ones, -2 * c, c**2]) / n
    if fe in ("unit", "twoway"):
        q = q * (1 - 1 / T)
    return q


def unit_precision(qpoly, r):
    """sigma^2 Q_ii for draws r (D,) -> (D, n), or a scalar r -> (n,)."""
    r = jnp.asarray(r)[..., None]
    return qpoly[0] + r * qpoly[1] + r**2 * qpoly[2]


def pointwise(y, Z, op: SparseW, r, beta, sigma, kind: str = "lag", fe: str = "none"):
    """Log p(y_it | y_-it) for one draw: y (T, n), Z (T, n, p) -> (T, n) (pure jnp).

    ``y`` and ``Z`` are the untransformed data; ``fe`` says which effects are
    integrated out.
    """
    if kind == "lag":
        e = y - r * matvec(op, y) - Z @ beta
    elif kind == "error":
        u = y - Z @ beta
        e = u - r * matvec(op, u)
    else:
        e = y - Z @ beta
    s2 = sigma**2
    Me = annihilate(e, fe)
    g = (Me - r * rmatvec(op, Me)) / s2
    qbar = unit_precision(precision_poly(op, fe, y.shape[0]), r) / s2
    return -0.5 * jnp.log(2 * jnp.pi) + 0.5 * jnp.log(qbar) - 0.5 * g**2 / qbar


class LooBasis(NamedTuple):
    """Draw-independent products of the data with W, W' and M (computed once, O(nnz T p)).

    sigma^2 g = B'M e is linear in a few fixed arrays with coefficients that
    depend on the draw only (module docstring; e as there):

    lag:    My - r (M W y + W'M y) + r^2 W'M W y - sum_p beta_p (M Z_p - r W'M Z_p)
    error:  the same in y, minus sum_p beta_p (M Z_p - r (M W Z_p + W'M Z_p) + r^2 W'M W Z_p)

    so a block of draws is one matrix product coef (D, K) @ arrays (K, T n).
    """

    arrays: jax.Array
    """(K, T, n): My, MWy + W'My, W'MWy, then MZ_p, W'MZ_p (lag) or also MWZ_p, W'MWZ_p."""
    qpoly: jax.Array
    """(3, n): sigma^2 Q_ii = q0 + q1 r + q2 r^2 per unit (`precision_poly`)."""


def init_basis(y, Z, op: SparseW, kind: str = "lag", fe: str = "none") -> LooBasis:
    """Precompute the arrays that make each draw's LOO terms one row of a matrix product.

    Computed once per fit on the host (numpy and scipy.sparse: a few sparse products,
    no per-shape compilation), then moved to the device.
    """
    n = op.diag.shape[0]
    W = sp.csr_matrix(
        (np.asarray(op.vals), (np.asarray(op.rows), np.asarray(op.cols))), shape=(n, n)
    )

    def times(m, x):  # m acting on the last axis of x
        return np.asarray(m @ x.reshape(-1, n).T).T.reshape(x.shape)

    y = np.asarray(y, dtype=float)
    Zc = np.moveaxis(np.asarray(Z, dtype=float), 2, 0)  # (p, T, n): W acts on the last axis
    My, MZ = annihilate(y, fe), annihilate(Zc, fe)
    MWy, MWZ = annihilate(times(W, y), fe), annihilate(times(W, Zc), fe)
    head = np.stack([My, MWy + times(W.T, My), times(W.T, MWy)])
    cols = [MZ, times(W.T, MZ)]
    if kind == "error":
        cols = [MZ, MWZ + cols[1], times(W.T, MWZ)]
    arrays = jnp.asarray(np.concatenate([head, *cols]))
    return LooBasis(arrays, precision_poly(op, fe, y.shape[0]))


def cell_basis(y, Z, effects: CellEffects) -> LooBasis:
    """The `LooBasis` of a model without a spatial parameter on arbitrary observed cells.

    y (N,), Z (N, p) on the cells of ``effects`` (an unbalanced panel: OLS, SLX with
    W X among the columns of Z). With r = 0 the module's formulas hold with
    B = I and M the effects' annihilator on the cells (`bayespatial.engine.absorb`):
    sigma^2 g = M e and sigma^2 Q_ii = M_ii. The arrays of the r terms are zero;
    the cells form one "period" of N observations, so shapes are (K, 1, N) and (3, N).
    """
    y = np.asarray(y, dtype=float).reshape(-1)
    Z = np.asarray(Z, dtype=float).reshape(y.size, -1)
    p = Z.shape[1]
    M = effects.annihilate(np.column_stack([y, Z]))
    arrays = np.zeros((3 + 2 * p, 1, y.size))
    arrays[0, 0], arrays[3 : 3 + p, 0] = M[:, 0], M[:, 1:].T
    qpoly = np.zeros((3, y.size))
    qpoly[0] = effects.diagonal()
    return LooBasis(jnp.asarray(arrays), jnp.asarray(qpoly))


def basis_coefficients(r, beta, kind: str = "lag"):
    """Coefficients (D, K) of the basis arrays for draws r (D,), beta (D, p)."""
    r1 = r[:, None]
    head = jnp.stack([jnp.ones_like(r), -r, r**2], axis=1)
    if kind == "error":
        return jnp.concatenate([head, -beta, r1 * beta, -(r1**2) * beta], axis=1)
    return jnp.concatenate([head, -beta, r1 * beta], axis=1)


def apply_columns(arrays, qcols, r, beta, sigma, kind: str = "lag"):
    """Log p(y_i | y_-i) for draws r, sigma (D,), beta (D, p) at columns (K, B) -> (D, B).

    ``arrays`` are columns of `LooBasis.arrays` flattened to (K, T n) and ``qcols``
    the matching columns of the unit precision polynomial (3, B): sigma^2 g is one
    matrix product, sigma^2 Q_ii = q0 + q1 r + q2 r^2, and
    log p = -1/2 log 2 pi + 1/2 log(Q_ii) - 1/2 (sigma^2 g)^2 / (sigma^2 sigma^2 Q_ii).
    """
    sg = basis_coefficients(r, beta, kind) @ arrays
    r1, s2 = r[:, None], sigma[:, None] ** 2
    uq = qcols[0] + r1 * qcols[1] + r1**2 * qcols[2]
    return -0.5 * jnp.log(2 * jnp.pi) + 0.5 * jnp.log(uq / s2) - 0.5 * sg**2 / (s2 * uq)


def flat_columns(basis: LooBasis) -> tuple[jax.Array, jax.Array]:
    """The basis as (K, T n) columns and the precision polynomial per column (3, T n)."""
    K, T, n = basis.arrays.shape
    return basis.arrays.reshape(K, T * n), jnp.tile(basis.qpoly, (1, T))


def apply_basis(basis: LooBasis, r, beta, sigma, kind: str = "lag"):
    """Log p(y_it | y_-it) for draws r, sigma (D,), beta (D, p) -> (D, T, n) (pure jnp)."""
    _, T, n = basis.arrays.shape
    return apply_columns(*flat_columns(basis), r, beta, sigma, kind).reshape(-1, T, n)


_apply_jit = jax.jit(apply_basis, static_argnames="kind")


def stream_draws(fn, per_draw: tuple, chunk: int, reduce=None, on_block=None):
    """fn(*blocks) over blocks of ``chunk`` draws of the arrays ``per_draw`` (D, ...).

    Returns the concatenated (D, ...) result, or the list of ``reduce(block)``
    when given (for panels where draws x N does not fit in memory).
    ``on_block(k)`` is called after each block of k draws (progress).
    """
    D = len(per_draw[0])
    out, whole = [], None
    for i in range(0, D, chunk):
        block = fn(*(jnp.asarray(a[i : i + chunk]) for a in per_draw))
        if reduce is not None:
            out.append(reduce(block))
        else:
            if whole is None:  # written in place: no list of blocks, no concatenation
                whole = np.empty((D, *block.shape[1:]), dtype=block.dtype)
            whole[i : i + chunk] = block
        if on_block is not None:
            on_block(block.shape[0])
    return out if reduce is not None else whole


def pointwise_draws(
    y,
    Z,
    op,
    r,
    beta,
    sigma,
    kind="lag",
    chunk: int = 64,
    reduce=None,
    fe: str = "none",
    on_block=None,
):
    """Pointwise log-likelihood for many draws: r, sigma (D,), beta (D, p) -> (D, T, n).

    Draws are processed in chunks of ``chunk`` (`stream_draws`); the data enter
    as arguments (no constant folding of large arrays).
    """
    k = "lag" if kind == "none" else kind
    return basis_draws(init_basis(y, Z, op, k, fe), r, beta, sigma, k, chunk, reduce, on_block)


def basis_draws(basis: LooBasis, r, beta, sigma, kind="lag", chunk=64, reduce=None, on_block=None):
    """`apply_basis` over many draws in chunks (`stream_draws`): (D, T, n), or reduced blocks."""
    k = "lag" if kind == "none" else kind
    return stream_draws(
        lambda *d: _apply_jit(basis, *d, kind=k), (r, beta, sigma), chunk, reduce, on_block
    )


def _columns_obs_major(arrays, qcols, r, beta, sigma, kind):
    """`apply_columns` laid out (B, D), computed in that layout (no transpose)."""
    sg = arrays.T @ basis_coefficients(r, beta, kind).T
    s2 = sigma**2
    uq = qcols[0][:, None] + qcols[1][:, None] * r + qcols[2][:, None] * r**2
    return -0.5 * jnp.log(2 * jnp.pi) + 0.5 * jnp.log(uq / s2) - 0.5 * sg**2 / (s2 * uq)


_obs_major_jit = jax.jit(_columns_obs_major, static_argnames="kind")


def observation_blocks(basis: LooBasis, r, beta, sigma, kind: str = "lag", block: int = 4096):
    """Yield (start, values (B, D) jax array) over blocks of B observations, all draws.

    PSIS needs every draw of one observation together; this streams the
    (N, D) log-likelihood matrix by observations so that it never has to exist
    whole (4 x 10^9 values at 4,000 draws x 10^6 observations). Rows are
    observations (contiguous over draws), as the Pareto smoothing reads them;
    the next block is dispatched before this one is handed out, so the host's
    work on one overlaps the device's on the next.
    """
    k = "lag" if kind == "none" else kind
    arrays, qcols = flat_columns(basis)
    r, beta, sigma = (jnp.asarray(a) for a in (r, beta, sigma))
    N = arrays.shape[1]

    def launch(start):
        sl = slice(start, min(start + block, N))
        return _obs_major_jit(arrays[:, sl], qcols[:, sl], r, beta, sigma, kind=k)

    pending = launch(0)
    for start in range(0, N, block):
        current = pending
        if start + block < N:
            pending = launch(start + block)
        yield start, current

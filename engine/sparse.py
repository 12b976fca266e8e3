"""A sparse W operator for device use: W x by gather + segment_sum, batched over periods.

``init`` copies a scipy CSR matrix to the device once; ``matvec`` is pure jnp
(jit/grad/vmap-safe) and costs O(nnz) per vector. Inputs of shape (..., n)
(e.g. (T, n) for a panel) are multiplied along their last axis.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax.experimental import sparse as jsparse


class SparseW(NamedTuple):
    """Device copy of W in coordinate form, rows sorted."""

    rows: jax.Array
    """Row index of each non-zero (sorted)."""
    cols: jax.Array
    """Column index of each non-zero."""
    vals: jax.Array
    """Weight of each non-zero."""
    diag: jax.Array
    """Zeros of length n: carries n as a static shape through jit."""


def as_csr(W) -> sp.csr_matrix:
    """The CSR matrix of a `Weights`-like object (``.sparse``) or of a matrix, canonical.

    Canonical (sorted indices, no duplicates), copied if it was not: scipy
    canonicalises a matrix lazily and in place (``abs``, sums and products call
    ``sum_duplicates``), rewriting arrays that the caller's matrix and other views
    share, and a thread reading them meanwhile corrupts memory. A matrix already
    canonical (every `Weights` holds one) is never rewritten, so it is shared, not copied.
    """
    m = W.sparse if hasattr(W, "sparse") else W
    m = sp.csr_matrix(m, dtype=float)
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    return m


def init(W) -> SparseW:
    """Copy W (a `Weights` or a scipy.sparse matrix) to the device."""
    m = as_csr(W)
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(m.indptr))
    return SparseW(
        jnp.asarray(rows),
        jnp.asarray(m.indices.astype(np.int32)),
        jnp.asarray(m.data),
        jnp.zeros(m.shape[0], dtype=jnp.asarray(m.data).dtype),
    )


def matvec(op: SparseW, x: jax.Array) -> jax.Array:
    """W x along the last axis of ``x`` (shape (..., n)); O(nnz) per vector."""
    n = op.diag.shape[0]
    contrib = jnp.moveaxis(x[..., op.cols] * op.vals, -1, 0)
    out = jax.ops.segment_sum(contrib, op.rows, num_segments=n, indices_are_sorted=True)
    return jnp.moveaxis(out, 0, -1)


def rmatvec(op: SparseW, x: jax.Array) -> jax.Array:
    """W' x along the last axis of ``x`` (needed for SEM cross-products and LOO)."""
    n = op.diag.shape[0]
    contrib = jnp.moveaxis(x[..., op.rows] * op.vals, -1, 0)
    out = jax.ops.segment_sum(contrib, op.cols, num_segments=n)
    return jnp.moveaxis(out, 0, -1)


def to_bcoo(W) -> jsparse.BCOO:
    """W as a `jax.experimental.sparse.BCOO` matrix (for ``W @ X`` with X of shape (n, T))."""
    return jsparse.BCOO.from_scipy_sparse(as_csr(W))

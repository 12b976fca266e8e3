"""Host-side spectral facts of W that log-determinant methods need at init.

The methods need an interval [lmin, lmax] that *encloses* the real parts of
the eigenvalues (Chebyshev nodes must cover the spectrum) and the
symmetriser d when W = D^-1 A with A symmetric. Up to 2,000 units the
eigenvalues are computed densely. Above, for a row-stochastic W,
lmax = 1 exactly (Perron-Frobenius) and lmin >= -1; lmin comes from 200
Lanczos steps, widened by twice the Ritz residual bound and 1% of the
interval and floored by Gershgorin's bound, which keeps the interval
enclosing at a fraction of the cost of a tight ARPACK solve (minutes for a
10^6-cell lattice, whose extreme eigenvalues are clustered).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.linalg import eigh_tridiagonal

from bayespatial.engine.sparse import as_csr

DENSE_N = 2000


class Spectrum(NamedTuple):
    """What init functions need to know about W."""

    matrix: sp.csr_matrix
    """W itself."""
    scale: np.ndarray | None
    """d with diag(d) W symmetric (so S = D^1/2 W D^-1/2 is symmetric), or None."""
    lmin: float
    """Lower end of an interval enclosing the real parts of the eigenvalues."""
    lmax: float
    """Upper end of that interval (1 for a row-stochastic W)."""

    @property
    def n(self) -> int:
        """Number of units."""
        return self.matrix.shape[0]

    def symmetric(self) -> sp.csr_matrix:
        """The symmetric similar matrix S = D^1/2 W D^-1/2 (requires ``scale``)."""
        return symmetrise(self.matrix, self.scale)

    def identity(self) -> sp.csr_matrix:
        """The n x n identity, sparse."""
        return sp.identity(self.n, format="csr")


def symmetrise(m: sp.csr_matrix, d: np.ndarray) -> sp.csr_matrix:
    """S = D^1/2 W D^-1/2 for diag(d) W symmetric: same eigenvalues, traces and pattern as W."""
    r = np.sqrt(d)
    s = sp.diags(r) @ m @ sp.diags(1.0 / r)
    return sp.csr_matrix((s + s.T) / 2)


def _scale_of(m: sp.csr_matrix) -> np.ndarray | None:
    n = m.shape[0]
    rowmax = np.zeros(n)
    np.maximum.at(rowmax, np.repeat(np.arange(n), np.diff(m.indptr)), m.data)
    for d in (np.ones(n), np.divide(1.0, rowmax, out=np.ones(n), where=rowmax > 0)):
        s = sp.diags(d) @ m
        gap = abs(s - s.T)
        if gap.nnz == 0 or gap.max() <= 1e-12 * max(abs(s).max(), 1.0):
            return d
    return None


def symmetriser(W) -> np.ndarray | None:
    """D with diag(d) W symmetric, or None (asks a `Weights` first)."""
    if hasattr(W, "symmetric_scale"):
        return W.symmetric_scale()
    return _scale_of(as_csr(W))


def dense_eigenvalues(W) -> np.ndarray:
    """Every eigenvalue of W: real ascending when W is similar to a symmetric matrix, else complex.

    A `Weights` computes them once and keeps them (``W.eigenvalues()``), so rho's
    interval, the exact log-determinant and the poles of ``lu_grid`` share one
    dense solve; a bare matrix is solved here.
    """
    if hasattr(W, "eigenvalues"):
        return W.eigenvalues()
    m = as_csr(W)
    d = symmetriser(W)
    if d is None:
        return np.linalg.eigvals(m.toarray())
    return np.linalg.eigvalsh(symmetrise(m, d).toarray())


def lanczos_extremes(op, steps: int = 200, seed: int = 0) -> tuple[float, float, float, float]:
    """Smallest and largest Ritz values of a symmetric operator and their residual bounds.

    Plain Lanczos from a random start (no reorthogonalisation: extreme Ritz
    values still converge, Paige 1980); the residual of a Ritz pair (theta, y)
    is |beta_m s_m|, s_m the last component of its eigenvector of the
    tridiagonal matrix (Parlett 1998, *The Symmetric Eigenvalue Problem*, 13.2).
    """
    n = op.shape[0]
    steps = min(steps, n)
    q = np.random.default_rng(seed).standard_normal(n)
    q /= np.linalg.norm(q)
    q_prev = np.zeros(n)
    alphas, betas = [], []
    beta = 0.0
    for _ in range(steps):
        w = op @ q - beta * q_prev
        alpha = q @ w
        w -= alpha * q
        alphas.append(alpha)
        beta = np.linalg.norm(w)
        if beta < 1e-12:
            break
        betas.append(beta)
        q_prev, q = q, w / beta
    m = len(alphas)
    theta, vec = eigh_tridiagonal(np.array(alphas), np.array(betas[: m - 1]))
    last = abs(beta * vec[-1]) if beta >= 1e-12 else np.zeros(m)
    return float(theta[0]), float(last[0]), float(theta[-1]), float(last[-1])


TIGHT_PAD = 1e-9
"""Relative widening of W's own (tight, tol 1e-10) extreme eigenvalues when reused."""


def spectrum(W) -> Spectrum:
    """Symmetriser and an enclosing interval of the real eigenvalues of W.

    A `Weights` with a symmetric similar form (real spectrum) whose extreme
    eigenvalues were already computed (a fit computes them first, for rho's
    interval) lends them, widened by `TIGHT_PAD`: the spectrum is then computed
    once per W, and the Chebyshev nodes lie inside rho's interval, where every
    log(1 - rho x) is finite. Otherwise Lanczos gives an enclosing interval
    (a tight solve can take minutes at 10^6 units).
    """
    m = as_csr(W)
    d = symmetriser(W)
    spec = Spectrum(m, d, 0.0, 0.0)
    known = W.known_extreme_eigenvalues() if hasattr(W, "known_extreme_eigenvalues") else None
    if d is not None and known is not None:
        lo, hi = known
        pad = TIGHT_PAD * (hi - lo)
        return spec._replace(lmin=float(lo - pad), lmax=float(hi + pad))
    if m.shape[0] <= DENSE_N:  # by n alone, so a fit's numbers never depend on what ran before
        ev = dense_eigenvalues(W)
        return spec._replace(lmin=float(np.min(ev.real)), lmax=float(np.max(ev.real)))
    stochastic = m.data.min() >= 0 and np.allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0)
    op = spec.symmetric() if d is not None else m
    absrow = np.asarray(abs(op).sum(axis=1)).ravel().max()  # Gershgorin: |lambda| <= this
    if d is not None:
        lo, r_lo, hi, r_hi = lanczos_extremes(op)
    else:  # real parts of a non-symmetric spectrum: ARPACK
        lo = spla.eigs(op, k=1, which="SR", return_eigenvectors=False, tol=1e-6)[0].real
        hi = spla.eigs(op, k=1, which="LR", return_eigenvectors=False, tol=1e-6)[0].real
        r_lo = r_hi = 1e-6 * absrow
    pad = 0.01 * (hi - lo)
    lo = max(lo - 2 * r_lo - pad, -1.0 if stochastic else -absrow)
    hi = 1.0 if stochastic else min(hi + 2 * r_hi + pad, absrow)
    return spec._replace(lmin=float(lo), lmax=float(hi))

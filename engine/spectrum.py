"""Host-side spectral facts of W that log-determinant methods need at init.

A `Weights` object answers these itself (``symmetric_scale``,
``extreme_eigenvalues``); a bare scipy matrix gets the same answers here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from bayespatial.engine.sparse import as_csr


class Spectrum(NamedTuple):
    """What init functions need to know about W."""

    matrix: sp.csr_matrix
    """W itself."""
    scale: np.ndarray | None
    """d with diag(d) W symmetric (so S = D^1/2 W D^-1/2 is symmetric), or None."""
    lmin: float
    """Smallest real eigenvalue."""
    lmax: float
    """Largest real eigenvalue."""

    @property
    def n(self) -> int:
        """Number of units."""
        return self.matrix.shape[0]

    def symmetric(self) -> sp.csr_matrix:
        """The symmetric similar matrix S = D^1/2 W D^-1/2 (requires ``scale``)."""
        r = np.sqrt(self.scale)
        s = sp.diags(r) @ self.matrix @ sp.diags(1.0 / r)
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


def spectrum(W) -> Spectrum:
    """Symmetriser and extreme real eigenvalues of W (a `Weights` or a scipy matrix)."""
    m = as_csr(W)
    if hasattr(W, "symmetric_scale") and hasattr(W, "extreme_eigenvalues"):
        lo, hi = W.extreme_eigenvalues()
        return Spectrum(m, W.symmetric_scale(), lo, hi)
    d = _scale_of(m)
    spec = Spectrum(m, d, 0.0, 0.0)
    if m.shape[0] <= 2000:
        dense = spec.symmetric().toarray() if d is not None else m.toarray()
        ev = np.linalg.eigvalsh(dense) if d is not None else np.linalg.eigvals(dense)
        ev = np.real(ev[np.abs(np.imag(ev)) < 1e-10])
        return spec._replace(lmin=float(ev.min()), lmax=float(ev.max()))
    if d is not None:
        s = spec.symmetric()
        lo = spla.eigsh(s, k=1, which="SA", return_eigenvectors=False, tol=1e-10)[0]
        hi = spla.eigsh(s, k=1, which="LA", return_eigenvectors=False, tol=1e-10)[0]
    else:
        lo = spla.eigs(m, k=1, which="SR", return_eigenvectors=False, tol=1e-10)[0].real
        hi = spla.eigs(m, k=1, which="LR", return_eigenvectors=False, tol=1e-10)[0].real
    return spec._replace(lmin=float(lo), lmax=float(hi))

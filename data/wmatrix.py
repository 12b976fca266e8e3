"""The spatial weights object: a scipy.sparse CSR matrix with unit ids.

`Weights` is small and immutable: every transformation (row-standardisation,
re-ordering to a panel's units) returns a new object, and its arrays are read-only,
so what fits cache on it (`memo`, the W context) cannot go stale. It also knows its valid
interval for the spatial parameter, from the extreme real eigenvalues of W
(LeSage & Pace 2009, *Introduction to Spatial Econometrics*, sec. 4.1).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from bayespatial.data.errors import WeightsError, listing

_quoted = partial(listing, quote=True)

DENSE_EIGEN_MAX_N = 1000
"""Largest n for which the extreme eigenvalues come from a dense solve."""
DENSE_EIGEN_LIMIT = 5000
"""Largest n for which `Weights.eigenvalues` runs a dense solve at all (as the exact
log-determinant, `bayespatial.engine.logdet.EIGEN_MAX_N`)."""


def _is_bipartite(m: sp.csr_matrix) -> bool:
    """Whether the (symmetrised) graph of m is 2-colourable: BFS parity across every edge."""
    a = (abs(m) + abs(m).T).tocsr()
    _, labels = csgraph.connected_components(a, directed=False)
    roots = np.unique(labels, return_index=True)[1]
    depth = csgraph.dijkstra(a, directed=False, indices=roots, unweighted=True, min_only=True)
    parity = depth.astype(np.int64) % 2
    rows = np.repeat(np.arange(a.shape[0]), np.diff(a.indptr))
    return bool(np.all(parity[rows] != parity[a.indices]))


ISLANDS = ("raise", "keep")
"""What to do with units without neighbours: raise, or keep them as zero rows."""


@dataclass(frozen=True, eq=False)
class Weights:
    """Spatial weights W (n x n, zero diagonal) with the unit ids of its rows.

    Attributes
    ----------
    sparse : scipy.sparse.csr_matrix
        The matrix; row i holds the neighbours of unit ``ids[i]``.
    ids : tuple
        Unit identifiers in row order (unique).
    transform : str
        ``"raw"`` as built, or ``"row"`` after row-standardisation.
    scale : numpy.ndarray or None
        Diagonal d with D W symmetric (W = D^-1 A with A = A'), when known; it
        makes D^1/2 W D^-1/2 a symmetric matrix similar to W, so eigenvalues are
        real and symmetric eigensolvers apply (Ord 1975, JASA 70, 120-126).
    """

    sparse: sp.csr_matrix
    ids: tuple
    transform: str = "raw"
    scale: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        # canonical CSR (sorted, no duplicates): scipy canonicalises lazily and in place,
        # rewriting arrays that views share; a canonical matrix is never rewritten, so
        # threads may read it concurrently (as `bayespatial.engine.sparse.as_csr`)
        m = sp.csr_matrix(self.sparse)
        if not m.has_canonical_format:
            m = m.copy()
            m.sum_duplicates()
        elif any(a.flags.writeable for a in (m.data, m.indices, m.indptr)):
            m = m.copy()  # the caller's arrays stay theirs to change
        for a in (m.data, m.indices, m.indptr):
            a.flags.writeable = False  # what is cached on W (its context) cannot go stale
        if self.scale is not None:
            scale = np.array(self.scale, dtype=float)
            scale.flags.writeable = False
            object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "sparse", m)

    @classmethod
    def from_sparse(cls, matrix, ids: Sequence | None = None, *, islands: str = "raise"):
        """Validate a square sparse or dense matrix and wrap it.

        Parameters
        ----------
        matrix : array_like or scipy.sparse matrix
            Non-negative weights with a zero diagonal.
        ids : sequence, optional
            Unit ids in row order; default ``0..n-1``.
        islands : {"raise", "keep"}
            Units without neighbours raise by default; ``"keep"`` keeps them as
            zero rows (their spatial lag is 0).
        """
        m = sp.csr_matrix(matrix, dtype=float, copy=True)  # edited in place below
        m.sum_duplicates()
        m.eliminate_zeros()
        if m.shape[0] != m.shape[1]:
            raise WeightsError(f"W must be square; got shape {m.shape}.")
        n = m.shape[0]
        ids = tuple(range(n)) if ids is None else tuple(ids)
        if len(ids) != n:
            raise WeightsError(
                f"W has {n} rows but {len(ids)} ids were given; pass one id per row."
            )
        if len(set(ids)) != n:
            dup = [i for i in set(ids) if ids.count(i) > 1] if n < 20000 else ["(several)"]
            raise WeightsError(f"W ids must be unique; repeated: {_quoted(dup)}.")
        if not np.all(np.isfinite(m.data)):
            rows = np.repeat(np.arange(n), np.diff(m.indptr))[~np.isfinite(m.data)]
            raise WeightsError(
                f"W has non-finite weights in the rows of units {_quoted(ids[r] for r in rows)}; "
                "check the distances or the edge list that built it."
            )
        if np.any(m.data < 0):
            rows = np.repeat(np.arange(n), np.diff(m.indptr))[m.data < 0]
            raise WeightsError(
                f"W has negative weights in the rows of units {_quoted(ids[r] for r in rows)}; "
                "spatial weights must be non-negative."
            )
        if np.any(m.diagonal() != 0):
            bad = np.flatnonzero(m.diagonal())
            raise WeightsError(
                f"W has a non-zero diagonal for units {_quoted(ids[i] for i in bad)}; a unit "
                "cannot be its own neighbour: set the diagonal to 0."
            )
        w = cls(m, ids, "raw", None)
        w.check_islands(islands)
        return w

    # ------------------------------------------------------------------ basics
    @property
    def n(self) -> int:
        """Number of units."""
        return self.sparse.shape[0]

    @property
    def nnz(self) -> int:
        """Number of non-zero weights."""
        return self.sparse.nnz

    @property
    def islands(self) -> tuple:
        """Ids of units without neighbours (zero rows)."""
        empty = np.flatnonzero(np.diff(self.sparse.indptr) == 0)
        return tuple(self.ids[i] for i in empty)

    def check_islands(self, islands: str = "raise") -> None:
        """Raise if W has units without neighbours, unless ``islands="keep"``."""
        if islands not in ISLANDS:
            raise WeightsError(f"islands must be 'raise' or 'keep', not {islands!r}.")
        found = self.islands
        if found and islands == "raise":
            raise WeightsError(
                f"W has {len(found)} island(s) without neighbours: {_quoted(found)}. Join them "
                "to a neighbour (e.g. by k-nearest neighbours or an edge list), drop them from "
                "the data, or keep them as zero rows with islands='keep' (bsp.fit, "
                "W.row_standardize and the weights builders take it)."
            )

    @property
    def fingerprint(self) -> str:
        """SHA-256 of ids, structure and weights (identifies W in saved fits)."""
        h = hashlib.sha256()
        h.update(repr(self.ids).encode())
        for a in (self.sparse.indptr, self.sparse.indices, self.sparse.data):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]

    def __eq__(self, other):
        return isinstance(other, Weights) and self.fingerprint == other.fingerprint

    def __hash__(self):
        return hash(self.fingerprint)

    def __repr__(self):
        return (
            f"Weights(n={self.n}, nnz={self.nnz}, transform={self.transform!r}, "
            f"mean neighbours={self.nnz / max(self.n, 1):.2f})"
        )

    # --------------------------------------------------------- transformations
    def row_standardize(self, *, islands: str = "raise") -> Weights:
        """Divide each row by its sum, W = D^-1 A, so that rows sum to one.

        Islands raise unless ``islands="keep"``, which keeps them as zero rows.
        When A is symmetric the row sums are kept as ``scale``, so that the
        symmetric similar matrix D^1/2 W D^-1/2 is available to eigensolvers.
        """
        self.check_islands(islands)
        if self.transform == "row":
            return self
        return self.memo(("row_standardize", islands), self._row_standardized)

    def _row_standardized(self) -> Weights:
        a = self.sparse
        rowsum = np.asarray(a.sum(axis=1)).ravel()
        if self.rows_sum_to_one():  # already standardised (e.g. read from a file)
            return Weights(sp.csr_matrix(a), self.ids, "row", None)
        inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum > 0)
        w = sp.diags(inv) @ a
        base = self.symmetric_scale()
        scale = None if base is None else base * rowsum
        if scale is not None and np.any(scale == 0):
            scale = np.where(scale == 0, 1.0, scale)
        return Weights(sp.csr_matrix(w), self.ids, "row", scale)

    @cached_property
    def _memo(self) -> dict:
        return {}

    @cached_property
    def _memo_lock(self) -> threading.RLock:
        return threading.RLock()

    def memo(self, key, make):
        """``make()`` computed once per W and key, then reused (W is immutable).

        What depends on W alone (its row-standardised form, the fits' W context,
        `bayespatial.models.context`) is kept here, so that every fit on this W shares
        it. Thread-safe: fits in threads on one W compute each entry once.
        """
        if key not in self._memo:
            with self._memo_lock:
                if key not in self._memo:
                    self._memo[key] = make()
        return self._memo[key]

    def rows_sum_to_one(self) -> bool:
        """Whether W is row-standardised, by its label or by its values.

        Rows must sum to 1 within 1e-10 (zero rows of islands allowed).
        """
        if self.transform == "row":
            return True
        rowsum = np.asarray(self.sparse.sum(axis=1)).ravel()
        return bool(np.all((np.abs(rowsum - 1) < 1e-10) | (rowsum == 0)) and np.any(rowsum))

    def align(self, ids: Sequence) -> Weights:
        """Reorder W to the unit order ``ids`` (e.g. a panel's units).

        Raises when a unit of ``ids`` is not in W or W has units not in ``ids``.
        """
        ids = tuple(ids)
        if ids == self.ids:
            return self
        pos = {u: i for i, u in enumerate(self.ids)}
        missing = [u for u in ids if u not in pos]
        if missing:
            raise WeightsError(
                f"{len(missing)} unit(s) of the data are not in W: {_quoted(missing)}. Build W for "
                "the same units (check the id column and its type, e.g. '01001' vs 1001)."
            )
        wanted = set(ids)
        extra = [u for u in self.ids if u not in wanted]
        if extra:
            raise WeightsError(
                f"{len(extra)} unit(s) of W are not in the data: {_quoted(extra)}. Add their rows "
                "to the data or build W on the data's units only."
            )
        order = np.array([pos[u] for u in ids])
        m = self.sparse[order][:, order].tocsr()
        scale = None if self.scale is None else self.scale[order]
        return Weights(m, ids, self.transform, scale)

    def subset(self, ids: Sequence, *, islands: str = "raise") -> Weights:
        """W restricted to the units ``ids`` (links to other units dropped), in that order.

        For region-specific fits: subset the unstandardised W, then row-standardise.
        Raises naming units of ``ids`` not in W, or units left without neighbours
        inside the subset (unless ``islands="keep"``).
        """
        ids = tuple(ids)
        pos = {u: i for i, u in enumerate(self.ids)}
        missing = [u for u in ids if u not in pos]
        if missing:
            raise WeightsError(f"{len(missing)} unit(s) are not in W: {_quoted(missing)}.")
        if self.transform != "raw":
            raise WeightsError(
                "subset the unstandardised W (row sums of a subset of a row-standardised W "
                "are no longer one); row-standardise after subsetting."
            )
        order = np.array([pos[u] for u in ids])
        return Weights.from_sparse(self.sparse[order][:, order].tocsr(), ids, islands=islands)

    # ---------------------------------------------------------------- spectrum
    def symmetric_scale(self) -> np.ndarray | None:
        """Return d with diag(d) W symmetric, or None if none is found (computed once).

        `symmetrising_scale`, trying the stored ``scale`` first.
        """
        return self._symmetric_scale

    @cached_property
    def _symmetric_scale(self) -> np.ndarray | None:
        return symmetrising_scale(self.sparse, self.scale)

    def eigenvalues(self) -> np.ndarray:
        """Every eigenvalue of W by a dense solve, O(n^3): computed once, then kept.

        Raises for n > `DENSE_EIGEN_LIMIT` (a dense solve's memory and hours of time).

        Real and ascending when W is similar to a symmetric matrix (``symmetric_scale``:
        the eigenvalues of D^1/2 W D^-1/2, Ord 1975, JASA 70, 120-126), complex
        otherwise. The one dense spectrum of W: rho's interval, the exact
        log-determinant and the effects quadrature all read it.
        """
        return self._eigenvalues

    def known_eigenvalues(self) -> np.ndarray | None:
        """`eigenvalues` if already computed on this W, else None (no work)."""
        return self.__dict__.get("_eigenvalues")

    @cached_property
    def _eigenvalues(self) -> np.ndarray:
        if self.n > DENSE_EIGEN_LIMIT:
            raise WeightsError(
                f"all eigenvalues of a {self.n:,}-unit W need a dense {self.n:,} x {self.n:,} "
                f"solve (limit {DENSE_EIGEN_LIMIT:,} units); use the sparse methods "
                "(extreme_eigenvalues, or a log-determinant method other than 'eigen')."
            )
        d = self.symmetric_scale()
        dense = self.sparse.toarray()
        if d is None:
            return np.linalg.eigvals(dense)
        r = np.sqrt(d)
        s = (r[:, None] * dense) / r[None, :]
        return np.linalg.eigvalsh((s + s.T) / 2)

    def extreme_eigenvalues(self) -> tuple[float, float]:
        """Smallest and largest real eigenvalue of W (computed once, then cached).

        Dense eigenvalues for n <= 2,000. Above: lambda_max = 1 for a
        row-stochastic W (Perron-Frobenius) and lambda_min = -1 when its graph
        is also bipartite (the spectrum of D^-1 A is then symmetric about 0);
        otherwise ARPACK on the symmetric similar matrix when one exists, else
        on W itself (real parts).
        """
        return self._extremes

    def known_extreme_eigenvalues(self) -> tuple[float, float] | None:
        """`extreme_eigenvalues` if already computed on this W, else None (no work)."""
        return self.__dict__.get("_extremes")

    @cached_property
    def _extremes(self) -> tuple[float, float]:
        d = self.symmetric_scale()
        if self.n <= DENSE_EIGEN_MAX_N:  # by n alone: the result never depends on what ran before
            ev = self.eigenvalues()
            ev = ev if d is not None else ev[np.abs(ev.imag) < 1e-10].real
            return float(ev.min()), float(ev.max())
        m = self.sparse
        stochastic = m.data.min() >= 0 and np.allclose(np.asarray(m.sum(axis=1)).ravel(), 1.0)
        if d is not None:
            r = np.sqrt(d)
            s = sp.diags(r) @ m @ sp.diags(1 / r)
            op, which = (s + s.T) / 2, ("SA", "LA")
            solve = spla.eigsh
        else:
            op, which = m, ("SR", "LR")
            solve = spla.eigs
        if stochastic:
            hi = 1.0
        else:
            hi = solve(op, k=1, which=which[1], return_eigenvectors=False, tol=1e-10)[0].real
        if stochastic and _is_bipartite(m):
            lo = -1.0
        else:
            lo = solve(op, k=1, which=which[0], return_eigenvectors=False, tol=1e-10)[0].real
        return float(lo), float(hi)

    def rho_bounds(self) -> tuple[float, float]:
        """Valid interval (1/lambda_min, 1/lambda_max) for rho.

        I - rho W is non-singular with a positive determinant for rho strictly
        inside this interval (LeSage & Pace 2009, sec. 4.1). For a
        row-standardised W, lambda_max = 1.
        """
        lo, hi = self.extreme_eigenvalues()
        if lo >= 0 or hi <= 0:
            raise WeightsError(
                f"W has extreme eigenvalues ({lo:.3g}, {hi:.3g}) that do not bracket zero; "
                "it is not a valid spatial weights matrix (is it empty or triangular?)."
            )
        return 1.0 / lo, 1.0 / hi

    def check_rho(self, rho: float, name: str = "rho") -> float:
        """Return ``rho`` if it lies inside ``rho_bounds()``, else raise."""
        lo, hi = self.rho_bounds()
        if not lo < rho < hi:
            raise WeightsError(
                f"{name} = {rho} is outside the valid interval ({lo:.4f}, {hi:.4f}) of this W, "
                "where I - rho W is non-singular; choose a value inside it."
            )
        return rho


def _symmetric_under(m: sp.csr_matrix, d: np.ndarray) -> bool:
    s = sp.diags(d) @ m
    diff = abs(s - s.T)
    return diff.nnz == 0 or diff.max() <= 1e-12 * max(abs(s).max(), 1.0)


def symmetrising_scale(m, first: np.ndarray | None = None) -> np.ndarray | None:
    """The scale d > 0 with diag(d) W symmetric (W similar to a symmetric one), or None.

    Tried in turn: ``first`` (a stored scale); ones (W symmetric); for rows whose
    non-zeros are all equal (binary weights row-standardised), the reciprocal of that
    value; and, for any W = D^-1 A with A symmetric (weighted weights row-standardised,
    whose D the matrix no longer shows), the scale read off the edges,
    d_j = d_i w_ij / w_ji, along a breadth-first spanning forest (one free scale per
    connected component), then checked on every edge. None when W's pattern is not
    symmetric or the check fails (k nearest neighbours).
    """
    m = sp.csr_matrix(m)
    n = m.shape[0]
    rowmax = np.zeros(n)
    np.maximum.at(rowmax, np.repeat(np.arange(n), np.diff(m.indptr)), m.data)
    cheap = [first, np.ones(n), np.divide(1.0, rowmax, out=np.ones(n), where=rowmax > 0)]
    for d in cheap:
        if d is not None and _symmetric_under(m, np.asarray(d, dtype=float)):
            return np.asarray(d, dtype=float)
    pattern = (m != 0).astype(np.int8)
    if (pattern - pattern.T).nnz:
        return None
    log_d = np.full(n, np.nan)
    pred = np.full(n, -1)
    _, label = csgraph.connected_components(pattern, directed=False)
    for component in np.unique(label):
        root = int(np.flatnonzero(label == component)[0])
        order, parents = csgraph.breadth_first_order(
            pattern, root, directed=False, return_predecessors=True
        )
        log_d[root] = 0.0
        pred[order[1:]] = parents[order[1:]]
    child = np.flatnonzero(pred >= 0)
    parent = pred[child]
    ratio = np.asarray(m[parent, child]).ravel() / np.asarray(m[child, parent]).ravel()
    if not np.all(ratio > 0):  # a negative weight: no positive scale
        return None
    step = np.full(n, np.nan)
    step[child] = np.log(ratio)
    waiting = child
    while waiting.size:  # one level of the forest per pass
        ready = waiting[~np.isnan(log_d[pred[waiting]])]
        if not ready.size:
            return None
        log_d[ready] = log_d[pred[ready]] + step[ready]
        waiting = waiting[np.isnan(log_d[waiting])]
    d = np.exp(log_d - log_d.max())
    return d if _symmetric_under(m, d) else None

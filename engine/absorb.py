"""Fixed effects on any set of observed (unit, period) cells: the within projection M v.

For N observed cells with unit u(c) and period t(c), let D_u (N x n_u) and D_t
(N x n_t) be the dummy matrices. The residual of v after least squares on the
effects is M v, with

- ``unit``: v minus its unit means, M_u = I - D_u (D_u'D_u)^-1 D_u';
- ``time``: v minus its period means;
- ``twoway``: M = M_A - M_A D_B S^+ D_B' M_A, S = D_B' M_A D_B, the Frisch-Waugh-Lovell
  partial-out of one factor's dummies (B, the one with fewer levels) after the
  other's (A), as Wansbeek & Kapteyn (1989, *J. Econometrics* 41, 341-361) derive the
  two-way within transformation of an incomplete panel. S (n_B x n_B) is
  diag(count_B) - C diag(1 / count_A) C' with C = D_B'D_A the cell counts.

S is singular: the unit-period graph (units and periods the nodes, observed cells
the edges) has ``components`` connected components, and the effects are identified
only up to one constant per component, so the rank of [D_u, D_t] is
n_u + n_t - components (Abowd, Creecy & Kramarz 2002; what fixest and reghdfe
count as the absorbed degrees of freedom). Fixing one B-level per component at
zero leaves a positive-definite system, solved by Cholesky when n_B is at most
`DIRECT_MAX`, else by conjugate gradients on the operator (O(N) per iteration, as
the alternating-projection solvers of fixest and reghdfe; Correia 2016), to a
residual of `CG_RTOL`.

A balanced panel gives the familiar M_T (x) M_n (`bayespatial.engine.crossprod.demean`).
Numpy and scipy only, on the host: it runs once per fit on the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from bayespatial.engine.crossprod import CrossProducts, fe_kind

DIRECT_MAX = 2000
"""Largest number of levels of the smaller factor solved by a dense Cholesky factor."""
CG_RTOL = 1e-13
"""Relative residual at which conjugate gradients stop (far below 1e-8 of the result)."""


@dataclass(frozen=True, eq=False)
class CellEffects:
    """The projection M of one set of cells and fixed-effects kind (`init`)."""

    fe: str
    """"none", "unit", "time" or "twoway"."""
    n_cells: int
    """N, the number of observed cells."""
    levels: tuple
    """(n_u, n_t): units and periods that occur among the cells."""
    components: int
    """Connected components of the unit-period graph (1 for a connected panel)."""
    dof: int
    """Rank of the effects' dummy matrix: the degrees of freedom the effects absorb."""
    _a: sp.csr_matrix | None = None
    """Dummies of the factor swept by means (N x n_A)."""
    _a_count: np.ndarray | None = None
    _b: sp.csr_matrix | None = None
    """Dummies of the factor partialled out through S (N x n_B), reduced columns."""
    _solve: object = None
    """x -> S_r^-1 x for the reduced S (one B-level per component fixed at zero)."""
    direct: bool = True
    """Whether two-way effects are solved by a dense Cholesky factor (else conjugate
    gradients; then `diagonal` is not available)."""
    _memo: dict = field(default_factory=dict)
    """What is computed once per projection (`diagonal`)."""

    def diagonal(self, block: int = 4_000_000) -> np.ndarray:
        """diag(M) (N,): one minus each cell's leverage on the effect dummies.

        One-way: 1 - 1/count of the cell's level. Two-way: diag(M_A) - g_i S_r^-1 g_i'
        with G = M_A D_B (reduced columns), by blocks of about ``block`` / k cells from
        the explicit S_r^-1 (k <= `DIRECT_MAX` levels). With conjugate gradients (both
        factors above `DIRECT_MAX` levels) it would take one solve per cell and raises
        instead. The leave-one-out density of
        a cell needs it (`bayespatial.engine.loo.cell_basis`): M_ii = 0 is a cell that
        its effects fit exactly (a unit seen once under unit effects).
        """
        if "diagonal" not in self._memo:  # once per projection: the fit and its LOO share it
            self._memo["diagonal"] = self._diagonal(block)
            self._memo["diagonal"].flags.writeable = False
        return self._memo["diagonal"]

    def _diagonal(self, block: int) -> np.ndarray:
        if self.fe == "none":
            return np.ones(self.n_cells)
        codes = self._a.indices  # one dummy per row: the row's level
        out = 1.0 - 1.0 / self._a_count[codes]
        if self._b is None:
            return out
        if not self.direct:
            raise ValueError(
                f"the leverage of {self.n_cells:,} cells under two-way effects with both "
                f"factors above the dense solve's limit ({self.levels} levels) needs one "
                "sparse solve per cell; it is not computed. Use fewer levels in one factor."
            )
        k = self._b.shape[1]
        inverse = self._solve(np.eye(k))
        h = (self._a.T @ self._b).tocsr().multiply(1.0 / self._a_count[:, None]).tocsr()
        rows = max(1, block // k)
        for lo in range(0, self.n_cells, rows):
            hi = min(lo + rows, self.n_cells)
            g = self._b[lo:hi].toarray() - h[codes[lo:hi]].toarray()  # rows of M_A D_B
            out[lo:hi] -= ((g @ inverse) * g).sum(axis=1)
        return np.clip(out, 0.0, 1.0)

    def annihilate(self, v: np.ndarray) -> np.ndarray:
        """M v for v of shape (N,) or (N, k): v with the effects projected out."""
        v = np.asarray(v, dtype=float)
        if v.shape[0] != self.n_cells:
            raise ValueError(f"v has {v.shape[0]} rows; the cells are {self.n_cells}.")
        if self.fe == "none":
            return v.copy()
        flat = v.reshape(self.n_cells, -1)
        out = sweep(self._a, self._a_count, flat)
        if self._b is not None:
            rhs = self._b.T @ out
            x = self._solve(rhs)
            out = out - sweep(self._a, self._a_count, self._b @ x)
        return out.reshape(v.shape)


def dummies(codes: np.ndarray, levels: int) -> sp.csr_matrix:
    """Sparse (N, levels) indicator matrix of integer codes 0..levels-1."""
    n = codes.size
    return sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, levels))


def sweep(d: sp.csr_matrix, count: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The vectors v with their means within the levels of ``d`` removed."""
    return v - d @ ((d.T @ v) / count[:, None])


def level_codes(values) -> tuple[np.ndarray, int]:
    """Integer codes 0..L-1 of the values and the number L of distinct values."""
    uniques, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.ravel(), uniques.size


def init(unit, time, fe: str = "twoway", direct_max: int | None = None) -> CellEffects:
    """The projection for cells with unit ids ``unit`` and periods ``time`` (length N each).

    Each (unit, period) pair should occur once (a panel); repeated pairs are allowed
    and treated as repeated cells of the same effects. ``direct_max`` (default
    `DIRECT_MAX`) chooses between
    the dense solve and conjugate gradients (module docstring).
    """
    fe = fe_kind(fe)
    direct_max = DIRECT_MAX if direct_max is None else direct_max
    unit, time = np.asarray(unit), np.asarray(time)
    if unit.shape != time.shape or unit.ndim != 1:
        raise ValueError(
            f"unit and time must be 1-d of one length; got {unit.shape}, {time.shape}."
        )
    n_cells = unit.size
    u, n_u = level_codes(unit)
    t, n_t = level_codes(time)
    du, dt = dummies(u, n_u), dummies(t, n_t)
    graph = sp.bmat([[None, du.T @ dt], [dt.T @ du, None]], format="csr")
    components, labels = csgraph.connected_components(graph, directed=False)
    components = int(components)
    if fe == "none":
        return CellEffects(fe, n_cells, (n_u, n_t), components, 0)
    if fe in ("unit", "time"):
        d = du if fe == "unit" else dt
        count = np.asarray(d.sum(axis=0)).ravel()
        return CellEffects(fe, n_cells, (n_u, n_t), components, d.shape[1], d, count)
    # two-way: sweep the factor with more levels by means, the other through S
    units_first = n_u >= n_t
    da, db = (du, dt) if units_first else (dt, du)
    n_b = db.shape[1]
    count_a = np.asarray(da.sum(axis=0)).ravel()
    count_b = np.asarray(db.sum(axis=0)).ravel()
    c = (db.T @ da).tocsr()  # (n_b, n_a) cell counts
    # one B-level per component is fixed at zero: the first level of each component
    b_labels = labels[n_u:] if units_first else labels[:n_u]
    _, first = np.unique(b_labels, return_index=True)
    keep = np.setdiff1d(np.arange(n_b), first)
    db_r = db[:, keep].tocsr()
    if keep.size == 0:  # one level of B per component: B is absorbed by A already
        return CellEffects(fe, n_cells, (n_u, n_t), components, n_u + n_t - components, da, count_a)
    c_r = c[keep].tocsr()  # (k, n_a): counts of the kept B-levels
    if keep.size <= direct_max:
        s_r = np.diag(count_b[keep]) - (c_r @ sp.diags(1.0 / count_a) @ c_r.T).toarray()
        factor = sla.cho_factor(s_r, lower=True)

        def solve(rhs):
            return sla.cho_solve(factor, rhs)

    else:
        scaled = (c_r @ sp.diags(1.0 / count_a)).tocsr()
        diag = count_b[keep] - np.asarray(c_r.multiply(scaled).sum(axis=1)).ravel()

        def matvec(x):
            return count_b[keep] * x - c_r @ (scaled.T @ x)

        op = spla.LinearOperator((keep.size, keep.size), matvec=matvec, dtype=float)
        precond = spla.LinearOperator(  # Jacobi: the diagonal of S_r
            (keep.size, keep.size), matvec=lambda x: x / diag, dtype=float
        )

        def solve(rhs):
            cols = []
            for j in range(rhs.shape[1]):
                x, info = spla.cg(
                    op, rhs[:, j], rtol=CG_RTOL, atol=0.0, M=precond, maxiter=10 * keep.size
                )
                if info != 0:
                    raise RuntimeError(
                        f"conjugate gradients did not converge for the two-way effects ({info} "
                        "iterations): the unit-period graph is very weakly connected."
                    )
                cols.append(x)
            return np.column_stack(cols)

    dof = n_u + n_t - components
    direct = keep.size <= direct_max
    return CellEffects(fe, n_cells, (n_u, n_t), components, dof, da, count_a, db_r, solve, direct)


def cross_products(y: np.ndarray, Z: np.ndarray, effects: CellEffects) -> CrossProducts:
    """`CrossProducts` of y (N,) and Z (N, p) on observed cells, the effects projected out.

    The layout of `bayespatial.engine.crossprod.cross_products` ([y, W y, Z, W Z]) with
    the W blocks zero: on an arbitrary set of cells W y is undefined, so only the
    families without a spatial parameter (OLS, SLX: W X among the columns of Z) are
    fitted here, and they read the gram at r = 0. N = cells - `CellEffects.dof`, the
    degrees of freedom left after the effects (one per connected component lost).
    """
    y = np.asarray(y, dtype=float)
    Z = np.asarray(Z, dtype=float).reshape(y.size, -1)
    p = Z.shape[1]
    cols = effects.annihilate(np.column_stack([y, Z]))
    flat = np.zeros((y.size, 2 + 2 * p))
    flat[:, 0], flat[:, 2 : 2 + p] = cols[:, 0], cols[:, 1:]
    gram = flat.T @ flat
    return CrossProducts(gram, p, effects.n_cells - effects.dof, 0, False)

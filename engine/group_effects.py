"""Direct, indirect and total effects by group of units, for coefficients that vary by group.

With unit-specific coefficients the partial derivatives of E[y] with respect to
regressor k are S = (I - rho W)^-1 (diag(beta) + W diag(theta)) (LeSage & Pace 2009,
*Introduction to Spatial Econometrics*, sec. 2.7; LeSage & Chih 2016, *Regional
Science and Urban Economics* 61, 1-10, on heterogeneous coefficients). For a group g
of units (n_g of them, coefficients beta_g, theta_g) we report

    direct_g = (1/n_g) sum_{i in g} S_ii,
    total_g  = (1/n_g) sum_{j in g} sum_i S_ij,        indirect_g = total_g - direct_g:

the own-unit effect averaged over the group's units, and the effect on every unit of
the map of a change in x at one of the group's units (column sums, LeSage & Pace's
"total effect from" a unit), averaged over the group. Weighted by n_g / n they add up
to the usual average effects tr(S)/n and 1'S1/n; with one group they are those.

With M = (I - rho W)^-1 and S_ii = beta_g M_ii + theta_g (M W)_ii for i in g, both
are averages of f(W) = (beta_g + theta_g W)(I - rho W)^-1 over the group's diagonal
or column sums. An eigendecomposition W = V diag(lambda) V^-1 computed once makes
each a quadrature over the eigenvalues with group weights:

    direct_g = sum_k a_gk (beta_g + theta_g lambda_k) / (1 - rho lambda_k),
        a_gk = (1/n_g) sum_{i in g} V_ik (V^-1)_ki,
    total_g  = sum_k c_gk (beta_g + theta_g lambda_k) / (1 - rho lambda_k),
        c_gk = (1'V)_k (1/n_g) sum_{j in g} (V^-1)_kj,

and each draw costs O(n) per group, with no inverse. When diag(d) W is symmetric
(symmetric weights row-standardised: binary ones from the matrix alone, weighted ones
when ``W`` is a `Weights`, whose d is read off its edges,
`bayespatial.data.wmatrix.symmetrising_scale`) V = D^-1/2 Q with Q orthogonal
from the symmetric eigenproblem, so a_gk = mean Q_ik^2 (the weights of the local
spectral density; Golub & Meurant 2010, *Matrices, Moments and Quadrature*, ch. 7).
Up to `DENSE_MAX` units the decomposition is dense; above, the averages come from
sparse LU factors of I - rho W at Chebyshev points of rho (`probed_interpolant`).

Other weights (k nearest neighbours row-standardised, asymmetric weights) take the
interpolation below; k nearest neighbours are not similar to a symmetric matrix at
all, and their eigenvectors can be close to dependent (condition numbers of 10^10
for 4 neighbours of 40 points). The four group averages are then computed from dense
inverses of I - rho W at Chebyshev points over the draws' range of rho and
interpolated (barycentric formula; Trefethen 2013, *Approximation Theory and
Approximation Practice*, chs. 2-5): the averages are analytic in rho away from the
poles 1/lambda, and times 1 - rho also at the pole 1 of a row-standardised W (long-run
effects come close to it), so the interpolant converges geometrically; nested grids of 9, 17, ...,
257 points stop when the new points agree with the coarser interpolant to
`INTERPOLATION_TOL`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from bayespatial.engine.sparse import as_csr
from bayespatial.engine.spectrum import symmetrise, symmetriser

DENSE_MAX = 5_000
"""Largest n for the dense eigendecomposition (O(n^3) time, O(n^2) memory)."""
CHUNK = 256
"""Draws per block of the (draws, n) resolvent."""
INTERPOLATION_TOL = 1e-10
"""Largest change (relative to the averages' scale) at new Chebyshev points that stops refining."""
MAX_POINTS = 257
"""Largest Chebyshev grid over rho of the interpolated averages."""
PROBE_DISTANCE = 12
"""Colouring distance of the probed diagonals above `DENSE_MAX` units."""
PROBE_BLOCK = 64
"""Probe columns per sparse solve."""


class GroupQuadrature(NamedTuple):
    """Eigenvalues of W and, per group, the weights of its diagonal and column-sum averages."""

    nodes: np.ndarray
    """(n,) eigenvalues (complex when W is not similar to a symmetric matrix)."""
    direct: np.ndarray
    """(G, n) a_gk."""
    total: np.ndarray
    """(G, n) c_gk."""

    def moments(self, rho: np.ndarray) -> np.ndarray:
        """(4, draws, G): group means of M_ii, (M W)_ii, (1'M)_j and (1'M W)_j at each rho."""
        out = np.empty((4, rho.size, self.direct.shape[0]))
        for start in range(0, rho.size, CHUNK):
            resolvent = 1.0 / (1.0 - rho[start : start + CHUNK, None] * self.nodes[None])
            lagged = resolvent * self.nodes
            for j, (part, weights) in enumerate(
                (
                    (resolvent, self.direct),
                    (lagged, self.direct),
                    (resolvent, self.total),
                    (lagged, self.total),
                )
            ):
                out[j, start : start + CHUNK] = np.real(part @ weights.T)
        return out


class GroupInterpolant(NamedTuple):
    """The four group averages at Chebyshev points of rho, and their interpolant.

    What is interpolated is (1 - rho) times the averages: a row-standardised W has the
    eigenvalue 1, so the averages have a simple pole at rho = 1, which long-run effects
    approach (rho_L = (rho + eta) / (1 - tau) near 1 for a persistent process); times
    1 - rho the function is analytic up to the next pole 1/lambda_2 and the
    interpolant converges there too.
    """

    points: np.ndarray
    """(P,) Chebyshev points of the second kind on [lo, hi]."""
    values: np.ndarray
    """(P, 4, G) (1 - rho) times the averages at each point."""

    def moments(self, rho: np.ndarray) -> np.ndarray:
        """(4, draws, G) by barycentric interpolation (`GroupQuadrature.moments`)."""
        G = self.values.shape[2]
        if self.points.size == 1:
            out = np.broadcast_to(self.values[0].reshape(1, -1), (rho.size, 4 * G))
        else:
            out = _barycentric(self.points, self.values.reshape(self.points.size, -1), rho)
        out = out / (1.0 - rho)[:, None]
        return out.reshape(rho.size, 4, -1).transpose(1, 0, 2)


def group_quadrature(W, of_unit: np.ndarray, n_groups: int) -> GroupQuadrature | None:
    """The `GroupQuadrature` of W (n x n) for units in groups ``of_unit``.

    None when W is not similar to a symmetric matrix (use `group_interpolant`).

    Raises
    ------
    ValueError
        n above `DENSE_MAX`.
    """
    m = as_csr(W)
    n = m.shape[0]
    if n > DENSE_MAX:
        raise ValueError(_too_large(n))
    member = _members(of_unit, n_groups)
    d = symmetriser(W)  # a `Weights` finds the scale of weighted W too
    if d is not None:
        lam, Q = np.linalg.eigh(symmetrise(m, d).toarray())
        r = np.sqrt(d)
        direct = member @ Q**2
        total = (member @ (Q * r[:, None])) * ((Q / r[:, None]).sum(axis=0))[None]
        return GroupQuadrature(lam, direct, total)
    return None


def group_averages(
    W, of_unit: np.ndarray, n_groups: int, lo: float, hi: float
) -> GroupQuadrature | GroupInterpolant:
    """The group averages of W for rho in [lo, hi]: quadrature, dense or probed interpolant."""
    if as_csr(W).shape[0] > DENSE_MAX:
        return probed_interpolant(as_csr(W), of_unit, n_groups, lo, hi)
    q = group_quadrature(W, of_unit, n_groups)
    return group_interpolant(as_csr(W), of_unit, n_groups, lo, hi) if q is None else q


def _members(of_unit: np.ndarray, n_groups: int) -> np.ndarray:
    """(G, n) rows averaging over each group's units."""
    member = np.zeros((n_groups, of_unit.size))
    member[of_unit, np.arange(of_unit.size)] = 1.0
    return member / member.sum(axis=1, keepdims=True)


def group_interpolant(
    W: sp.spmatrix, of_unit: np.ndarray, n_groups: int, lo: float, hi: float
) -> GroupInterpolant:
    """The `GroupInterpolant` of any W (n <= `DENSE_MAX`) over rho in [lo, hi], dense."""
    m = sp.csr_matrix(W).toarray()
    n = m.shape[0]
    if n > DENSE_MAX:
        raise ValueError(_too_large(n))
    member = _members(of_unit, n_groups)

    def averages(r):
        inv = np.linalg.inv(np.eye(n) - r * m)
        lagged = inv @ m
        cols = (np.diag(inv), np.diag(lagged), inv.sum(axis=0), lagged.sum(axis=0))
        return np.stack([member @ c for c in cols])

    return _interpolate(averages, lo, hi)


def probed_interpolant(
    W: sp.spmatrix,
    of_unit: np.ndarray,
    n_groups: int,
    lo: float,
    hi: float,
    distance: int = PROBE_DISTANCE,
    seed: int = 0,
) -> GroupInterpolant:
    """The `GroupInterpolant` of a large sparse W: sparse LU at each Chebyshev point.

    Column sums are exact: 1'M solves (I - rho W)' v = 1, and 1'M W = (W'v)'. The
    diagonals of M and M W are probed (`bayespatial.engine.probing`): with probes
    z_c holding random signs on the units of colour c of a distance-d colouring,
    sum_c z_c o (M z_c) is M's diagonal plus the entries of M between units of one
    colour, all more than d steps apart, with random signs (Tang & Saad 2012): an
    error of order |rho|^d per unit, which averaging over a group's units reduces
    further. No dense matrix: memory O(n x `PROBE_BLOCK`).
    """
    from bayespatial.engine import probing

    m = sp.csr_matrix(W)
    n = m.shape[0]
    member = _members(of_unit, n_groups)
    col = probing.colouring(m, distance, seed)
    signs = np.random.default_rng(seed).choice([-1.0, 1.0], size=n)
    eye = sp.identity(n, format="csc")

    def averages(r):
        lu = spla.splu(sp.csc_matrix(eye - r * m))
        diag, lagged = np.zeros(n), np.zeros(n)
        for start in range(0, col.n_colours, PROBE_BLOCK):
            colours = np.arange(start, min(start + PROBE_BLOCK, col.n_colours))
            z = probing.probe_block(col, colours, signs)
            diag += (z * lu.solve(z)).sum(axis=1)
            lagged += (z * lu.solve(np.asarray(m @ z))).sum(axis=1)
        v = lu.solve(np.ones(n), trans="T")
        cols = (diag, lagged, v, m.T @ v)
        return np.stack([member @ c for c in cols])

    return _interpolate(averages, lo, hi)


def _interpolate(raw, lo: float, hi: float) -> GroupInterpolant:
    """Nested Chebyshev grids of (1 - r) ``raw(r)`` (4, G) until the new points agree."""

    def averages(r):
        return (1.0 - r) * raw(r)

    if hi - lo <= 1e-12 * max(1.0, abs(hi)):
        return GroupInterpolant(np.array([lo]), averages(lo)[None])
    cache = {}
    size = 9
    while True:
        points = _chebyshev(lo, hi, size)
        values = np.stack([cache.setdefault(float(p), averages(p)) for p in points])
        if size > 9:
            new = slice(1, None, 2)  # the points added to the coarser grid
            coarse = _barycentric(
                points[::2], values[::2].reshape(len(points[::2]), -1), points[new]
            )
            scale = np.abs(values).max()
            if np.abs(coarse - values[new].reshape(coarse.shape)).max() <= (
                INTERPOLATION_TOL * scale
            ):
                return GroupInterpolant(points, values)
        if size >= MAX_POINTS:
            raise ValueError(
                f"the group effects did not converge on {MAX_POINTS} Chebyshev points of rho in "
                f"[{lo:.4f}, {hi:.4f}]: rho comes too close to a pole 1/lambda of W."
            )
        size = 2 * size - 1


def _chebyshev(lo: float, hi: float, size: int) -> np.ndarray:
    """Chebyshev points of the second kind on [lo, hi] (nested: 2k - 1 contains k)."""
    return (lo + hi) / 2 + (hi - lo) / 2 * np.cos(np.pi * np.arange(size) / (size - 1))


def _barycentric(points: np.ndarray, values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Barycentric interpolation on Chebyshev points of the second kind: (len(x), columns)."""
    weights = (-1.0) ** np.arange(points.size)
    weights[0] /= 2
    weights[-1] /= 2
    x = np.asarray(x, dtype=float)
    diff = x[:, None] - points[None]
    exact = diff == 0
    diff[exact] = 1.0
    c = weights / diff
    out = (c @ values) / c.sum(axis=1, keepdims=True)
    hit = exact.any(axis=1)
    out[hit] = values[exact[hit].argmax(axis=1)]
    return out


def _too_large(n: int) -> str:
    return f"dense group averages are for up to {DENSE_MAX:,} units; this W has {n:,}."


def group_effects(q: GroupQuadrature | GroupInterpolant, rho, beta, theta) -> dict:
    """Draws of direct, indirect and total effects by group: each (draws, G).

    ``rho`` (draws,); ``beta`` and ``theta`` (draws, G) the groups' coefficients of
    one regressor.
    """
    moments = q.moments(np.asarray(rho, dtype=float))
    direct = beta * moments[0] + theta * moments[1]
    total = beta * moments[2] + theta * moments[3]
    return {"direct": direct, "indirect": total - direct, "total": total}

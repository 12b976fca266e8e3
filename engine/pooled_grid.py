"""Exact draws of a model with one partially pooled term: a grid over (r, log tau).

With one varying term (one block of G group coefficients, spread omega = sigma tau)
the posterior of `bayespatial.engine.pooling.collapsed` has two dimensions, r and
tau, once the coefficients and sigma^2 are integrated out. On a grid its cost per
point is O(p): with S(r) = Z_r'Z_r + Lambda_b + Lambda_1 / tau_ref^2 = L L' (Lambda_b
the fixed unit precision of a `Layout.zero_mean` block, else 0; Lambda_1 the block's
precision at tau = 1; tau_ref the prior scale of tau, which makes S positive definite
even where a group's column is all zero, so that Z_r'Z_r alone is singular) and the
eigendecomposition L^-1 Lambda_1 L^-T = U diag(lam) U',

    P_n(r, tau) = L U (I + diag(lam) d) U' L',   d = tau^-2 - tau_ref^-2,
    log|P_n| = 2 sum log L_ii + sum_i log(1 + lam_i d),
    m_n'P_n m_n = sum_i c_i^2 / (1 + lam_i d),   c = U' L^-1 Z_r'y_r,

a simultaneous diagonalisation computed once (lag models, where Z_r = Z) or once per
node of r (error models) (Golub & Van Loan 2013, *Matrix Computations*, sec. 8.7).
The grid spans r's interval and log tau from 10^-14 to 10^2 prior scales, and is
rebuilt (twice, `REBUILDS`) over the region that holds all but 10^-12 of each
marginal's mass. r is drawn
by inverting the trapezoid CDF of its marginal, log tau from the conditional at that
r (the joint density interpolated linearly between the two neighbouring nodes of r),
then sigma^2 and the coefficients from their conjugate conditionals: independent
draws, as for the models without groups (`bayespatial.engine.conjugate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla

from bayespatial.engine import pooling
from bayespatial.engine.conjugate import END_GAP, trapezoid_cdf
from bayespatial.engine.crossprod import CrossProducts, quadratic_forms

R_POINTS = 513
"""Nodes of r (the 1-D exact sampler uses 2,049; the density is O(h^2)-accurate here too)."""
TAU_POINTS = 2049
"""Nodes of log tau: its marginal has a long left tail (density ~ tau as tau -> 0), so the
span that holds all but `TAIL` of the mass is some 30 units of log tau wide."""
TAU_RANGE = (1e-14, 1e2)
"""The first grid's span of tau, in prior scales."""
TAIL = 1e-12
"""Mass left out of each marginal when the grid is rebuilt."""
REBUILDS = 2
"""Times the grid is rebuilt. Once is not enough when the posterior of r is narrower than
a step of the first grid (10^6 observations: sd(rho) = 0.001 against steps of 0.004):
the first rebuild can only keep two steps either side of the one or two nodes with
mass, some 35 sd, and the trapezoid CDF over 15 nodes per sd was off by 9e-5, above
the Monte Carlo share its check allows (`bayespatial.models.convergence.grid_checks`);
the second spans the 10^-12 tails, some 14 sd."""


class GridDraws(NamedTuple):
    """Independent draws and the grid they came from."""

    r: np.ndarray
    """(D,) draws of the spatial parameter (zeros without one)."""
    tau: np.ndarray
    """(D,) draws of tau = omega / sigma."""
    sigma2: np.ndarray
    """(D,) draws of sigma^2."""
    theta: np.ndarray
    """(D, p) coefficient draws."""
    r_grid: np.ndarray
    """Nodes of r."""
    log_tau_grid: np.ndarray
    """Nodes of log tau."""
    log_density: np.ndarray
    """(R, U) unnormalised log p(r, log tau | y) at the nodes."""
    more: Callable | None = None
    """(draws, rng) -> `GridDraws`: further independent draws from the same grid (used by
    rejection, e.g. dsdm's stationarity)."""

    def marginals(self) -> tuple[np.ndarray, np.ndarray]:
        """Log marginal densities of r and of log tau on their nodes (for grid checks)."""
        dens = np.exp(self.log_density - self.log_density.max())
        with np.errstate(divide="ignore"):
            r = np.log(np.trapezoid(dens, self.log_tau_grid, axis=1))
            u = np.log(np.trapezoid(dens, self.r_grid, axis=0) if self.r_grid.size > 1 else dens[0])
        return r, u


class _Node(NamedTuple):
    """The simultaneous diagonalisation at one r."""

    chol: np.ndarray
    """L (p, p)."""
    basis: np.ndarray
    """U (p, p)."""
    lam: np.ndarray
    """(p,) eigenvalues of L^-1 Lambda_1 L^-T."""
    c: np.ndarray
    """(p,) U' L^-1 Z_r'y_r."""
    yy: float
    """y_r'y_r."""
    inv_ref: float
    """tau_ref^-2, the block precision already in L."""


def _node(cp, layout, lam1, lam_b, r, kind, tau_ref) -> _Node:
    yy, zy, zz = quadratic_forms(cp, np.atleast_1d(r), kind)
    inv_ref = 1.0 / tau_ref**2
    chol = np.linalg.cholesky(zz[0] + lam_b + lam1 * inv_ref)
    half = sla.solve_triangular(chol, lam1, lower=True)
    lam, basis = np.linalg.eigh(sla.solve_triangular(chol, half.T, lower=True))
    c = basis.T @ sla.solve_triangular(chol, zy[0], lower=True)
    return _Node(chol, basis, np.maximum(lam, 0.0), c, float(yy[0]), inv_ref)


class _Factors:
    """The simultaneous diagonalisation at any r.

    One is shared by every r for lag models (Z_r = Z: only Z_r'y_r and y_r'y_r move),
    one per r for error models.
    """

    def __init__(self, cp, layout, lam1, lam_b, kind, tau_ref):
        self.cp, self.layout, self.lam1, self.lam_b, self.kind = cp, layout, lam1, lam_b, kind
        self.tau_ref = tau_ref
        shared = kind != "error"
        self.shared = _node(cp, layout, lam1, lam_b, 0.0, kind, tau_ref) if shared else None

    def forms(self, r) -> tuple[np.ndarray, np.ndarray]:
        """y_r'y_r (R,) and c (R, p) at an array of r, with the shared factorisation."""
        yy, zy, _ = quadratic_forms(self.cp, np.atleast_1d(r), self.kind)
        c = sla.solve_triangular(self.shared.chol, zy.T, lower=True).T @ self.shared.basis
        return yy, c

    def at(self, r) -> _Node:
        """The `_Node` at one r."""
        if self.shared is None:
            return _node(self.cp, self.layout, self.lam1, self.lam_b, r, self.kind, self.tau_ref)
        yy, c = self.forms(r)
        return self.shared._replace(c=c[0], yy=float(yy[0]))


def _log_density(node: _Node, log_tau, a_n, b0):
    """-1/2 log|P_n| - a_n log b_n on a vector of log tau, and b_n (no r or tau prior terms)."""
    shrink = 1.0 + node.lam[None] * (np.exp(-2 * log_tau) - node.inv_ref)[:, None]  # (U, p)
    quad = (node.c[None] ** 2 / shrink).sum(axis=1)
    rate = b0 + 0.5 * (node.yy - quad)
    logdet = 2 * np.log(np.diag(node.chol)).sum() + np.log(shrink).sum(axis=1)
    return -0.5 * logdet - a_n * np.log(rate), rate


def sample(
    cp: CrossProducts,
    layout: pooling.Layout,
    a0: float,
    b0: float,
    log_prior_tau: Callable[[np.ndarray], np.ndarray],
    tau_scale: float,
    draws: int,
    rng: np.random.Generator,
    kind: str = "none",
    bounds: tuple[float, float] | None = None,
    logdet: Callable[[np.ndarray], np.ndarray] | None = None,
    log_prior_r: Callable[[np.ndarray], np.ndarray] | None = None,
) -> GridDraws:
    """Independent draws of (r, tau, sigma^2, theta) for one varying block (module docstring).

    ``kind`` "none" has no r (OLS/SLX); otherwise ``bounds`` is r's interval,
    ``logdet`` r -> log|I - r W| on arrays and ``log_prior_r`` its log prior there.
    ``log_prior_tau`` is the log prior density of tau (on tau, not log tau).
    """
    if len(layout.blocks) != 1:
        raise ValueError("the grid sampler takes exactly one varying block.")
    ((start, size),) = layout.blocks
    lam_all = pooling.prior_precision(layout, np.array([1.0]))
    lam_b = np.zeros_like(lam_all)
    if layout.zero_mean and layout.zero_mean[0]:  # the unit precision does not scale with tau
        lam_b[start : start + size, start : start + size] = 1.0 / size
    lam1 = lam_all - lam_b
    a_n = a0 + 0.5 * (cp.nobs - pooling.flat_directions(layout))
    G = size
    shape_kind = "lag" if kind == "none" else kind
    factors = _Factors(cp, layout, lam1, lam_b, shape_kind, tau_scale)

    def r_terms(r):
        if kind == "none":
            return np.zeros_like(r)
        ld = cp.logdet_mult * np.asarray(logdet(r))
        if cp.drop_unit_root:
            ld = ld - cp.logdet_mult * np.log1p(-r)
        return ld + log_prior_r(r)

    def grid_density(r_nodes, u_nodes):
        out = np.empty((r_nodes.size, u_nodes.size))
        for i, r in enumerate(r_nodes):
            out[i], _ = _log_density(factors.at(r), u_nodes, a_n, b0)
        out += r_terms(r_nodes)[:, None]
        out += log_prior_tau(np.exp(u_nodes))[None] + u_nodes[None] * (2 - G)  # d tau = tau du
        return np.where(np.isfinite(out), out, -np.inf)

    if kind == "none":
        r_nodes = np.zeros(1)
    else:
        lo, hi = bounds
        eps = END_GAP * (hi - lo)
        r_nodes = np.linspace(lo + eps, hi - eps, R_POINTS)
    u_nodes = np.linspace(*np.log(np.array(TAU_RANGE) * tau_scale), TAU_POINTS)
    logd = grid_density(r_nodes, u_nodes)
    if not np.isfinite(logd).any():
        raise ValueError("the posterior of (r, tau) is zero on the whole grid.")
    for _ in range(REBUILDS):
        r_nodes, u_nodes = _rebuilt(r_nodes, u_nodes, logd)
        logd = grid_density(r_nodes, u_nodes)
    grid = Grid(r_nodes, u_nodes, logd, factors, a_n, b0, layout)
    return grid.draw(draws, rng)


class Grid(NamedTuple):
    """The evaluated posterior grid of (r, log tau): more draws cost no new evaluations."""

    r_nodes: np.ndarray
    u_nodes: np.ndarray
    logd: np.ndarray
    factors: object
    a_n: float
    b0: float
    layout: pooling.Layout

    def draw(self, draws: int, rng: np.random.Generator) -> GridDraws:
        """``draws`` more independent draws (`GridDraws.more` calls this)."""
        out = _draw(*self[:3], self.factors, self.a_n, self.b0, draws, rng, self.layout)
        return out._replace(more=self.draw)


def _span(nodes, log_marginal):
    """The nodes' range holding all but `TAIL` of the mass, widened by two steps."""
    if nodes.size == 1:
        return nodes
    cdf = trapezoid_cdf(nodes, log_marginal)
    step = nodes[1] - nodes[0]
    left = max(nodes[0], np.interp(TAIL, cdf, nodes) - 2 * step)
    right = min(nodes[-1], np.interp(1 - TAIL, cdf, nodes) + 2 * step)
    return np.linspace(left, right, nodes.size)


def _rebuilt(r_nodes, u_nodes, logd):
    dens = np.exp(logd - logd.max())
    with np.errstate(divide="ignore"):
        u_marginal = np.log(np.trapezoid(dens, r_nodes, axis=0) if r_nodes.size > 1 else dens[0])
        r_marginal = np.log(np.trapezoid(dens, u_nodes, axis=1))
    return _span(r_nodes, r_marginal), _span(u_nodes, u_marginal)


def _draw(r_nodes, u_nodes, logd, factors, a_n, b0, draws, rng, layout) -> GridDraws:
    dens = np.exp(logd - logd.max())
    columns = np.concatenate(  # unnormalised trapezoid CDF of log tau at each node of r
        [np.zeros((dens.shape[0], 1)), np.cumsum(0.5 * (dens[:, 1:] + dens[:, :-1]), axis=1)],
        axis=1,
    )
    if r_nodes.size > 1:
        with np.errstate(divide="ignore"):  # rows of zero mass: log 0 = -inf, weight 0
            log_marginal = np.log(columns[:, -1])
        r = np.interp(rng.uniform(size=draws), trapezoid_cdf(r_nodes, log_marginal), r_nodes)
        i = np.clip(np.searchsorted(r_nodes, r) - 1, 0, r_nodes.size - 2)
        w = (r - r_nodes[i]) / (r_nodes[i + 1] - r_nodes[i])
    else:
        r, i, w = np.zeros(draws), np.zeros(draws, dtype=int), np.zeros(draws)
    target = rng.uniform(size=draws)
    u = np.empty(draws)
    nxt = np.minimum(i + 1, r_nodes.size - 1)
    for d in range(draws):  # the joint density linear in r between nodes: so is the CDF
        cdf = (1 - w[d]) * columns[i[d]] + w[d] * columns[nxt[d]]
        u[d] = np.interp(target[d] * cdf[-1], cdf, u_nodes)
    normal = rng.standard_normal((draws, layout.p))
    gamma = rng.gamma(a_n, size=draws)
    if factors.shared is not None:  # lag models: one factorisation, c and y_r'y_r per draw
        chol, basis, lam = factors.shared.chol, factors.shared.basis, factors.shared.lam
        yy, c = factors.forms(r)
        shrink = 1.0 + lam[None] * (np.exp(-2 * u) - factors.shared.inv_ref)[:, None]
        rate = b0 + 0.5 * (yy - (c**2 / shrink).sum(axis=1))
        sigma2 = rate / gamma
        coef = (c / shrink + np.sqrt(sigma2[:, None] / shrink) * normal) @ basis.T
        theta = sla.solve_triangular(chol.T, coef.T, lower=False).T
    else:  # error models: P_n moves with r, one factorisation per draw
        sigma2 = np.empty(draws)
        theta = np.empty((draws, layout.p))
        for d in range(draws):
            node = factors.at(r[d])
            shrink = 1.0 + node.lam * (np.exp(-2 * u[d]) - node.inv_ref)
            _, rate = _log_density(node, np.array([u[d]]), a_n, b0)
            sigma2[d] = rate[0] / gamma[d]
            coef = node.basis @ (node.c / shrink + np.sqrt(sigma2[d] / shrink) * normal[d])
            theta[d] = sla.solve_triangular(node.chol.T, coef, lower=False)
    theta = pooling.centre(layout, theta)
    return GridDraws(r, np.exp(u), sigma2, theta, r_nodes, u_nodes, logd)

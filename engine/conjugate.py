"""Exact posterior sampling for Gaussian spatial models with a conjugate prior.

Model (after the fixed-effect transformation, `bayespatial.engine.crossprod`):
spatial lag  A(rho) y = Z beta + e, or spatial error A(lam)(y - Z beta) = e,
with A(r) = I - r W, e ~ N(0, sigma^2 I_N), and the normal-inverse-gamma prior
beta | sigma^2 ~ N(m0, sigma^2 P0^-1), sigma^2 ~ IG(a0, b0), any prior on r.
Integrating beta and sigma^2 out (LeSage & Pace 2009, *Introduction to Spatial
Econometrics*, sec. 5.3; Hepple 1995, *Environ. Plan. A* 27, 447-469):

    log p(r | y) = log p(r) + c log|I - r W| [- c log(1 - r)]
                   - 1/2 log|P_n(r)| - a_n log b_n(r) + const,

    P_n = P0 + Z_r'Z_r,  m_n = P_n^-1 (P0 m0 + Z_r'y_r),  a_n = a0 + (N - f)/2,
    b_n = b0 + (y_r'y_r + m0'P0 m0 - m_n'P_n m_n) / 2,

with y_r = y - r W y and Z_r = Z (lag) or y_r = A y, Z_r = A Z (error), and f
the number of coefficients with a flat prior (P0 of rank p - f, e.g. the
intercept under the g-prior of Liang et al. 2008). All of them are quadratic
in r given the cross-products, so each evaluation costs O(p^3). The
one-dimensional posterior of r is evaluated on an adaptive grid, r is drawn
by inverse CDF, then sigma^2 | r ~ IG(a_n, b_n(r)) and beta | r, sigma^2 ~
N(m_n(r), sigma^2 P_n(r)^-1). The draws are independent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from bayespatial.engine.crossprod import CrossProducts, quadratic_forms


class NIGPrior(NamedTuple):
    """Normal-inverse-gamma prior on (beta, sigma^2)."""

    mean: np.ndarray
    """m0, prior mean of beta (p,)."""
    precision: np.ndarray
    """P0, prior precision of beta in units of 1/sigma^2 (p, p)."""
    a0: float
    """Inverse-gamma shape of sigma^2."""
    b0: float
    """Inverse-gamma scale of sigma^2."""
    flat: int = 0
    """f, the number of coefficient directions with a flat prior (p - rank P0)."""


class ExactDraws(NamedTuple):
    """Independent posterior draws and the grid they came from."""

    spatial: np.ndarray
    """Draws of rho (lag) or lam (error)."""
    sigma: np.ndarray
    """Draws of sigma."""
    beta: np.ndarray
    """Draws of beta, (draws, p)."""
    grid: np.ndarray
    """Final grid of the spatial parameter."""
    log_density: np.ndarray
    """Unnormalised log posterior density on the grid."""
    log_jacobian: np.ndarray | None = None
    """log dr/du at the nodes, uniform in u (`posterior_grid`); None: uniform in r."""

    def log_mass(self) -> np.ndarray:
        """Log p(r | y) dr/du per node: what trapezoid sums over the node index integrate."""
        if self.log_jacobian is None:
            return self.log_density
        return self.log_density + self.log_jacobian


def posterior_terms(cp: CrossProducts, prior: NIGPrior, r: np.ndarray, kind: str):
    """NIG posterior (P_n, m_n, a_n, b_n) of (beta, sigma^2) at each r (module docstring)."""
    yy, zy, zz = quadratic_forms(cp, r, kind)
    pn = prior.precision[None] + zz
    rhs = (prior.precision @ prior.mean)[None] + zy
    mn = np.linalg.solve(pn, rhs[..., None])[..., 0]
    quad0 = prior.mean @ prior.precision @ prior.mean
    bn = prior.b0 + 0.5 * (yy + quad0 - np.einsum("gi,gi->g", mn, rhs))
    an = prior.a0 + 0.5 * (cp.nobs - prior.flat)
    return pn, mn, an, bn


def log_density(
    cp: CrossProducts,
    prior: NIGPrior,
    r: np.ndarray,
    logdet: Callable[[np.ndarray], np.ndarray],
    log_prior: Callable[[np.ndarray], np.ndarray],
    kind: str = "lag",
) -> np.ndarray:
    """Unnormalised log p(r | y) at the points r (see the module docstring)."""
    r = np.atleast_1d(np.asarray(r, dtype=float))
    pn, _, an, bn = posterior_terms(cp, prior, r, kind)
    ld = cp.logdet_mult * np.asarray(logdet(r))
    if cp.drop_unit_root:
        ld = ld - cp.logdet_mult * np.log1p(-r)
    out = log_prior(r) + ld - 0.5 * np.linalg.slogdet(pn)[1] - an * np.log(bn)
    return np.where(bn > 0, out, -np.inf)


def trapezoid_cdf(grid, logd):
    """Normalised trapezoid CDF of an unnormalised log density ``logd`` on a sorted grid."""
    dens = np.exp(logd - logd.max())
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    return cdf / cdf[-1]


def _graded(a: float, b: float, lower: bool, upper: bool, points: int, eps: float):
    """Nodes x(u) on a uniform u-grid and log dx/du, graded towards the ends in ``lower``/``upper``.

    An end where posterior mass reaches the boundary of the interval may carry an
    integrable singularity, f(x) ~ |x - end|^-alpha: a uniform grid's trapezoid rule
    is then far off there (1e-2 in the CDF on small cross-sections). With
    x = a + (b - a) sin(pi u / 2) (upper end), b - (b - a) cos(pi u / 2) (lower) or
    a + (b - a) (1 - cos(pi u)) / 2 (both), dx/du vanishes linearly at a graded
    end, so f(x(u)) dx/du stays bounded for alpha <= 1/2 and the trapezoid rule in u
    is accurate; the u-range stops where x is ``eps`` from the end, as the uniform grid
    does. Without a graded end the map is the identity, x = a + (b - a) u.
    """
    span = b - a
    if lower and upper:
        lo_u = np.arccos(1 - 2 * eps / span) / np.pi
        u = np.linspace(lo_u, 1 - lo_u, points)
        return a + span * (1 - np.cos(np.pi * u)) / 2, np.log(np.pi / 2 * span * np.sin(np.pi * u))
    if upper:
        u = np.linspace(0.0, 2 / np.pi * np.arcsin(1 - eps / span), points)
        return a + span * np.sin(np.pi * u / 2), np.log(np.pi / 2 * span * np.cos(np.pi * u / 2))
    if lower:
        u = np.linspace(2 / np.pi * np.arccos(1 - eps / span), 1.0, points)
        return b - span * np.cos(np.pi * u / 2), np.log(np.pi / 2 * span * np.sin(np.pi * u / 2))
    return np.linspace(a, b, points), np.zeros(points)


def posterior_grid(
    cp: CrossProducts,
    prior: NIGPrior,
    bounds: tuple[float, float],
    logdet: Callable[[np.ndarray], np.ndarray],
    log_prior: Callable[[np.ndarray], np.ndarray],
    kind: str = "lag",
    points: int = 2049,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid over the posterior mass of r, the unnormalised log density and log dr/du there.

    The grid first spans the open interval ``bounds`` (``points`` points), then
    is rebuilt over the region holding all but 1e-12 of the mass, widened by
    two coarse steps, with ``points`` points again: uniform where that region
    stays inside the interval, graded towards an end it reaches (`_graded`). The
    nodes are uniform in u: integrals over r are trapezoid sums in u of
    p(r | y) dr/du (`trapezoid_cdf` on the node index).
    """
    lo, hi = bounds
    eps = 1e-9 * (hi - lo)
    grid = np.linspace(lo + eps, hi - eps, points)
    logd = log_density(cp, prior, grid, logdet, log_prior, kind)
    if not np.isfinite(logd).any():
        raise ValueError("the posterior of the spatial parameter is zero on the whole interval.")
    cdf = trapezoid_cdf(grid, logd)
    step = grid[1] - grid[0]
    left = np.interp(1e-12, cdf, grid) - 2 * step
    right = np.interp(1 - 1e-12, cdf, grid) + 2 * step
    lower, upper = left <= grid[0], right >= grid[-1]
    a, b = (lo if lower else left), (hi if upper else right)
    grid, log_jac = _graded(a, b, lower, upper, points, eps)
    return grid, log_density(cp, prior, grid, logdet, log_prior, kind), log_jac


def sample(
    cp: CrossProducts,
    prior: NIGPrior,
    bounds: tuple[float, float],
    logdet: Callable[[np.ndarray], np.ndarray],
    log_prior: Callable[[np.ndarray], np.ndarray],
    draws: int,
    rng: np.random.Generator,
    kind: str = "lag",
    points: int = 2049,
) -> ExactDraws:
    """Draw (r, sigma, beta) exactly: r on the adaptive grid, then the rest.

    r by inverting the trapezoid CDF (in u, `posterior_grid`), then sigma^2 and
    beta from their conjugate conditionals.
    """
    grid, logd, log_jac = posterior_grid(cp, prior, bounds, logdet, log_prior, kind, points)
    nodes = np.arange(grid.size, dtype=float)
    u = np.interp(rng.uniform(size=draws), trapezoid_cdf(nodes, logd + log_jac), nodes)
    r = np.interp(u, nodes, grid)
    pn, mn, an, bn = posterior_terms(cp, prior, r, kind)
    sigma2 = bn / rng.gamma(an, size=draws)
    chol = np.linalg.cholesky(np.linalg.inv(pn))
    beta = mn + np.sqrt(sigma2)[:, None] * np.einsum(
        "gij,gj->gi", chol, rng.standard_normal(mn.shape)
    )
    return ExactDraws(r, np.sqrt(sigma2), beta, grid, logd, log_jac)


def sample_regression(
    cp: CrossProducts, prior: NIGPrior, draws: int, rng: np.random.Generator
) -> ExactDraws:
    """Exact NIG posterior of a model without a spatial parameter (OLS, SLX).

    sigma^2 ~ IG(a_n, b_n) and beta | sigma^2 ~ N(m_n, sigma^2 P_n^-1) with the
    quantities of the module docstring at r = 0 (Z may hold W X columns).
    """
    r = np.zeros(draws)
    pn, mn, an, bn = posterior_terms(cp, prior, r[:1], "lag")
    sigma2 = bn[0] / rng.gamma(an, size=draws)
    chol = np.linalg.cholesky(np.linalg.inv(pn[0]))
    beta = mn[0] + np.sqrt(sigma2)[:, None] * (rng.standard_normal((draws, cp.p)) @ chol.T)
    return ExactDraws(r, np.sqrt(sigma2), beta, np.zeros(1), np.zeros(1))

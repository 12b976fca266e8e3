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


END_GAP = 1e-6
"""The grid over r stops this share of the interval short of each end. Closer, P_n(r)
loses its precision where a column of Z_r vanishes at the end (an SEM's intercept:
(I - lam W) 1 = 0 at lam = 1), and slogdet returns rounding noise there: a spurious
spike of the log density at the last node put 1e-2 of error into the CDF of a small
SEM. The mass left out beyond the gap is of order the gap where the density is bounded."""


def posterior_grid(
    cp: CrossProducts,
    prior: NIGPrior,
    bounds: tuple[float, float],
    logdet: Callable[[np.ndarray], np.ndarray],
    log_prior: Callable[[np.ndarray], np.ndarray],
    kind: str = "lag",
    points: int = 2049,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid over the posterior mass of r and the unnormalised log density there.

    The grid first spans ``bounds`` less `END_GAP` at each end (``points`` points),
    then is rebuilt over the region holding all but 1e-12 of the mass, widened by
    two coarse steps, with ``points`` points again.
    """
    lo, hi = bounds
    eps = END_GAP * (hi - lo)
    grid = np.linspace(lo + eps, hi - eps, points)
    logd = log_density(cp, prior, grid, logdet, log_prior, kind)
    if not np.isfinite(logd).any():
        raise ValueError("the posterior of the spatial parameter is zero on the whole interval.")
    cdf = trapezoid_cdf(grid, logd)
    step = grid[1] - grid[0]
    left = max(grid[0], np.interp(1e-12, cdf, grid) - 2 * step)
    right = min(grid[-1], np.interp(1 - 1e-12, cdf, grid) + 2 * step)
    grid = np.linspace(left, right, points)
    return grid, log_density(cp, prior, grid, logdet, log_prior, kind)


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

    r by inverting the trapezoid CDF on `posterior_grid`, then sigma^2 and beta
    from their conjugate conditionals.
    """
    grid, logd = posterior_grid(cp, prior, bounds, logdet, log_prior, kind, points)
    r = np.interp(rng.uniform(size=draws), trapezoid_cdf(grid, logd), grid)
    pn, mn, an, bn = posterior_terms(cp, prior, r, kind)
    sigma2 = bn / rng.gamma(an, size=draws)
    chol = np.linalg.cholesky(np.linalg.inv(pn))
    beta = mn + np.sqrt(sigma2)[:, None] * np.einsum(
        "gij,gj->gi", chol, rng.standard_normal(mn.shape)
    )
    return ExactDraws(r, np.sqrt(sigma2), beta, grid, logd)


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

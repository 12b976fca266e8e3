"""Partially pooled coefficients: the coefficients integrated out given their variances.

The coefficient vector theta (p,) holds coefficients with flat priors and, for each
varying term k, a block of its G_k group coefficients
beta_{k,g} = mu_k + omega_k z_{k,g}, z_{k,g} ~ N(0, 1). With a flat prior on the
common mean mu_k, integrating mu_k out leaves on the block the intrinsic Gaussian
prior of precision (I - J / G_k) / omega_k^2 (zero on the block's mean direction),
and zero precision on the flat coefficients (Lindley & Smith 1972, *JRSS B* 34,
1-41; Gelman & Hill 2007, *Data Analysis Using Regression and Multilevel Models*,
chs. 12-13). Call that precision Lambda(omega).

Given the data's transformed cross-products (y_r = A y and Z_r as in
`bayespatial.engine.crossprod.quadratic_forms`, fixed effects removed) and sigma^2,
the coefficients are Gaussian a posteriori,

    P = Z_r'Z_r / sigma^2 + Lambda,     m = P^-1 Z_r'y_r / sigma^2,

and the likelihood with theta integrated out is, up to a constant that depends on
neither r, sigma^2 nor omega,

    log p(y_r | r, sigma^2, omega) = -N/2 log(2 pi sigma^2) - y_r'y_r / (2 sigma^2)
                                     + m'P m / 2 - log|P| / 2 - sum_k (G_k - 1) log omega_k,

the last term being half the log pseudo-determinant of Lambda (the eigenvalues of
I - J/G are G - 1 ones and a zero). Each evaluation costs O(p^3) whatever N, so a
sampler over (r, sigma^2, omega) keeps the cost of a gradient independent of n.
Pure ``xp`` (numpy or jax.numpy): differentiable under JAX.

`collapsed` is the form the fit uses: the spreads in units of the error sd,
omega_k = sigma tau_k, so that the prior of the coefficients scales with sigma^2 and
the model is normal-inverse-gamma given (r, tau). With sigma^2 ~ IG(a0, b0), sigma^2
integrates out too (the conjugate algebra of `bayespatial.engine.conjugate`, whose
prior precision is now Lambda(tau) in units of 1/sigma^2):

    log p(y_r | r, tau) = -1/2 log|P_n| - a_n log b_n - sum_k (G_k - 1) log tau_k + const,
    P_n = Z_r'Z_r + Lambda(tau),   m_n = P_n^-1 Z_r'y_r,   b_n = b0 + (y_r'y_r - m_n'P_n m_n)/2,
    a_n = a0 + (N - f)/2,

f the number of flat directions (the fixed coefficients and each block's mean), and
sigma^2 | r, tau ~ IG(a_n, b_n), theta | r, tau, sigma^2 ~ N(m_n, sigma^2 P_n^-1).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bayespatial.engine.conjugate import trapezoid_cdf


class Layout(NamedTuple):
    """Where the group blocks sit among the p coefficients."""

    p: int
    """Number of coefficients (columns of Z)."""
    blocks: tuple
    """(start, size) of each varying term's block of group coefficients."""
    zero_mean: tuple = ()
    """Per block, True where the data cannot see the block's mean (group intercepts under
    time effects, which absorb their level): that direction gets a unit precision instead
    of the flat prior, and draws are centred (`centre`). Empty: no such block."""


def prior_precision(layout: Layout, omega, xp=np):
    """Lambda(omega) (p, p): (I - J/G_k) / omega_k^2 on each group block, zero elsewhere."""
    lam = xp.zeros((layout.p, layout.p))
    for k, (start, size) in enumerate(layout.blocks):
        block = (xp.eye(size) - 1.0 / size) / omega[k] ** 2
        if _zero_mean(layout, k):  # a constant in log|P|: Z 1 = 0
            block = block + 1.0 / size
        if xp is np:
            lam[start : start + size, start : start + size] = block
        else:
            lam = lam.at[start : start + size, start : start + size].set(block)
    return lam


class Conditional(NamedTuple):
    """The Gaussian posterior of the coefficients given (r, sigma^2, omega)."""

    log_marginal: object
    """log p(y_r | r, sigma^2, omega) up to a constant (module docstring)."""
    mean: object
    """m (p,)."""
    chol: object
    """Lower Cholesky factor of P (p, p)."""


def conditional(layout: Layout, yy, zy, zz, nobs, sigma2, omega, xp=np) -> Conditional:
    """The posterior of the coefficients and the marginal likelihood given the variances.

    ``yy``, ``zy``, ``zz``: y_r'y_r, Z_r'y_r (p,), Z_r'Z_r (p, p) at this r; ``nobs``
    the observations left after the fixed effects (`CrossProducts.nobs`).
    """
    prec = zz / sigma2 + prior_precision(layout, omega, xp)
    chol = xp.linalg.cholesky(prec)
    half = _solve_lower(chol, zy / sigma2, xp)  # L^-1 b, so m'P m = |L^-1 b|^2
    mean = _solve_lower(chol.T, half, xp, upper=True)
    pooled = sum((size - 1) * xp.log(omega[k]) for k, (_, size) in enumerate(layout.blocks))
    log_marginal = (
        -0.5 * nobs * xp.log(2 * np.pi * sigma2)
        - 0.5 * yy / sigma2
        + 0.5 * half @ half
        - xp.sum(xp.log(xp.diag(chol)))
        - pooled
    )
    return Conditional(log_marginal, mean, chol)


class Collapsed(NamedTuple):
    """The normal-inverse-gamma posterior of (theta, sigma^2) given (r, tau)."""

    log_density: object
    """log p(y_r | r, tau) up to a constant (module docstring)."""
    mean: object
    """m_n (p,)."""
    chol: object
    """Lower Cholesky factor of P_n (p, p), in units of 1/sigma^2."""
    shape: object
    """a_n of sigma^2's inverse-gamma posterior."""
    rate: object
    """b_n of sigma^2's inverse-gamma posterior."""


def flat_directions(layout: Layout) -> int:
    """f: the fixed coefficients and the mean of each block that is not `Layout.zero_mean`."""
    fixed = layout.blocks[0][0] if layout.blocks else layout.p
    return fixed + sum(1 for k in range(len(layout.blocks)) if not _zero_mean(layout, k))


def collapsed(layout: Layout, yy, zy, zz, nobs, a0, b0, tau, xp=np) -> Collapsed:
    """The posterior given (r, tau) with sigma^2 integrated out (module docstring)."""
    prec = zz + prior_precision(layout, tau, xp)
    chol = xp.linalg.cholesky(prec)
    half = _solve_lower(chol, zy, xp)
    mean = _solve_lower(chol.T, half, xp, upper=True)
    shape = a0 + 0.5 * (nobs - flat_directions(layout))
    rate = b0 + 0.5 * (yy - half @ half)
    pooled = sum((size - 1) * xp.log(tau[k]) for k, (_, size) in enumerate(layout.blocks))
    log_density = -xp.sum(xp.log(xp.diag(chol))) - shape * xp.log(rate) - pooled
    return Collapsed(log_density, mean, chol, shape, rate)


def _zero_mean(layout: Layout, k: int) -> bool:
    return bool(layout.zero_mean) and bool(layout.zero_mean[k])


def draw(cond: Conditional | Collapsed, normal, xp=np):
    """Coefficients m + L^-T e for standard normal ``e`` (p,) or (D, p) drawn by the caller.

    For a `Collapsed` posterior (P_n in units of 1/sigma^2) pass sigma e.
    """
    e = xp.asarray(normal)
    return cond.mean + _solve_lower(cond.chol.T, e.T, xp, upper=True).T


def centre(layout: Layout, theta: np.ndarray) -> np.ndarray:
    """Draws (D, p) with the blocks of `Layout.zero_mean` centred on their mean.

    Where Z 1_block = 0 the mean direction is an eigenvector of P with eigenvalue
    1 (the unit precision's) and no data, so its draws are prior noise; the
    identified part is the deviation from the block mean.
    """
    out = np.array(theta, dtype=float)
    for k, (start, size) in enumerate(layout.blocks):
        if _zero_mean(layout, k):
            block = out[:, start : start + size]
            out[:, start : start + size] = block - block.mean(axis=1, keepdims=True)
    return out


def _solve_lower(chol, b, xp, upper: bool = False):
    if xp is np:
        import scipy.linalg as sla

        return sla.solve_triangular(chol, b, lower=not upper)
    import jax.scipy.linalg as jsl

    return jsl.solve_triangular(chol, b, lower=not upper)


class MeansDraws(NamedTuple):
    """Draws of partially pooled means (`normal_means`)."""

    theta: np.ndarray
    """(S, G) group means."""
    mu: np.ndarray
    """(S,) their common mean."""
    omega: np.ndarray
    """(S,) their spread."""


def normal_means(
    m: np.ndarray,
    V: np.ndarray,
    scale: float,
    draws: int,
    rng: np.random.Generator,
    points: int = 2049,
) -> MeansDraws:
    """Exact draws of group means pooled towards their common mean.

    Model (Rubin 1981, *J. Educ. Stat.* 6, 377-401, the eight schools; Gelman et al. 2013,
    *Bayesian Data Analysis*, sec. 5.4-5.5, with correlated estimates):
    m | theta ~ N(theta, V), theta_g ~ N(mu, omega^2), a flat prior on mu and omega ~
    half-normal(``scale``). With Sigma = V + omega^2 I, mu and theta integrate out:

        log p(omega | m) = log p(omega) - 1/2 log|Sigma| - 1/2 log(1'Sigma^-1 1)
                           - 1/2 (m - mu_hat 1)'Sigma^-1 (m - mu_hat 1),
        mu_hat = 1'Sigma^-1 m / 1'Sigma^-1 1,

    evaluated on a grid (rebuilt over the region holding all but 1e-12 of the mass) and
    drawn by inverse CDF; then mu | omega ~ N(mu_hat, 1 / 1'Sigma^-1 1) and theta | mu,
    omega ~ N(mu 1 + omega^2 Sigma^-1 (m - mu 1), omega^2 I - omega^4 Sigma^-1), a form
    that stays finite as omega -> 0 (complete pooling).
    """
    m = np.asarray(m, dtype=float)
    G = m.size
    eye = np.eye(G)

    def terms(omega):
        sig = V[None] + (omega**2)[:, None, None] * eye
        inv = np.linalg.inv(sig)
        one = inv.sum(axis=(1, 2))
        mu_hat = (inv @ m).sum(axis=1) / one
        r = m[None] - mu_hat[:, None]
        quad = np.einsum("gi,gij,gj->g", r, inv, r)
        logd = (
            -0.5 * (omega / scale) ** 2
            - 0.5 * np.linalg.slogdet(sig)[1]
            - 0.5 * np.log(one)
            - 0.5 * quad
        )
        return logd, inv, one, mu_hat

    grid = np.linspace(0.0, 8.0 * scale, points)
    logd = terms(grid)[0]
    cdf = trapezoid_cdf(grid, logd)
    hi = min(grid[-1], np.interp(1 - 1e-12, cdf, grid) + 2 * (grid[1] - grid[0]))
    grid = np.linspace(0.0, hi, points)
    logd = terms(grid)[0]
    omega = np.interp(rng.uniform(size=draws), trapezoid_cdf(grid, logd), grid)
    _, inv, one, mu_hat = terms(omega)
    mu = mu_hat + rng.standard_normal(draws) / np.sqrt(one)
    w2 = (omega**2)[:, None, None]
    mean = mu[:, None] + (w2[:, :, 0] * np.einsum("sij,sj->si", inv, m[None] - mu[:, None]))
    cov = w2 * eye - w2**2 * inv
    vals, vecs = np.linalg.eigh(0.5 * (cov + np.swapaxes(cov, 1, 2)))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))[:, None, :]
    theta = mean + np.einsum("sij,sj->si", root, rng.standard_normal((draws, G)))
    return MeansDraws(theta, mu, omega)

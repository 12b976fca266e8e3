"""NumPyro definition of the Gaussian spatial models on sufficient statistics.

One function covers OLS/SLX (``kind="none"``), SAR/SDM (``"lag"``, parameter
rho) and SEM/SDEM (``"error"``, lam); Durbin models only differ in their
columns Z = [X, W X]. The log-likelihood after the fixed-effect
transformation is `bayespatial.engine.crossprod.gaussian_loglik`: every term
is a polynomial in r of precomputed cross-products, so one gradient costs
O(p^3) whatever n (Elhorst 2014, *Spatial Econometrics*, sec. 3.3; LeSage &
Pace 2009, ch. 5).

Sampling scale. NUTS does not move on (r, beta, sigma^2) directly: the
coefficients are written as

    beta = m(r) + sigma L(r)^-T z,   L(r) L(r)' = P(r) = P0 + Z_r'Z_r,
    m(r) = P(r)^-1 (P0 m0 + Z_r'y_r),

the conditional posterior mean and Cholesky scale given (r, sigma^2) under
the conjugate prior (P0 = 0 and m0 = 0 for other coefficient priors). Under the
conjugate prior z | r, sigma ~ N(0, I) exactly, whatever the units of the
regressors; otherwise nearly so. The map (r, sigma^2, z) -> (r, sigma^2, beta)
is triangular, so its log-Jacobian is p/2 log sigma^2 - log|L(r)|, added to
the density. rho/lam and sigma^2 are sampled on unconstrained scales by
NumPyro's bijections (logit of the position in the prior's interval, log).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayespatial.data.families import SPATIAL_PARAMETER
from bayespatial.engine.crossprod import CrossProducts, gaussian_loglik, quadratic_forms
from bayespatial.priors.spec import CoefPrior


def coef_log_prior(beta, sigma2, prior: CoefPrior):
    """Log prior of beta: N(m0, sigma^2 P0^-1) on the conjugate block, normals or flat elsewhere."""
    m = prior.nig_mask
    k = jnp.sum(m)
    d = (beta - prior.nig_mean) * m
    # log det of P0 restricted to its block: pad the complement with ones
    block = prior.nig_precision + jnp.diag(1.0 - m)
    nig = (
        -0.5 * k * jnp.log(2 * jnp.pi * sigma2)
        + 0.5 * jnp.linalg.slogdet(block)[1]
        - 0.5 * d @ prior.nig_precision @ d / sigma2
    )
    free = (1.0 - m) * (1.0 - prior.flat_mask)  # flat-prior terms add nothing
    normal = jnp.sum(free * dist.Normal(prior.normal_mean, prior.normal_sd).log_prob(beta))
    return nig + normal


class ModelData(NamedTuple):
    """What the NumPyro models of the Gaussian and Student-t families read, by name."""

    cp: CrossProducts
    """Transformed cross-products of [y, Wy, Z, WZ]."""
    coef: CoefPrior
    """Coefficient prior (conjugate block and/or independent normals)."""
    sigma2_prior: tuple[float, float]
    """(shape, scale) of the inverse-gamma prior of sigma^2."""
    kind: str = "lag"
    """"lag" (rho), "error" (lam) or "none" (OLS/SLX)."""
    spatial_prior: dist.Distribution | None = None
    """Prior of rho/lam on its interval (None for ``kind="none"``)."""
    logdet: Callable | None = None
    """r -> log|I - r W| (jnp)."""
    constraint: Callable | None = None
    """(beta, r, xp) -> bool; the prior is restricted to where it holds (dsdm
    stationarity). NUTS treats the boundary as a wall (divergences there)."""
    rows: jnp.ndarray | None = None
    """Rows [y, Wy, Z, WZ] after the fixed-effect transformation (Student-t errors:
    `bayespatial.engine.streaming.transform_columns`)."""


def gaussian_model(data: ModelData) -> None:
    """Gaussian OLS/SLX (``kind="none"``), lag (rho) or error (lam) model on ``data``."""
    r, ld, sigma2, beta, log_jac = spatial_regression_block(data)
    kind = "lag" if data.kind == "none" else data.kind
    loglik = gaussian_loglik(data.cp, r, beta, sigma2, ld, kind, jnp)
    numpyro.factor("loglik", loglik + coef_log_prior(beta, sigma2, data.coef) + log_jac)


def spatial_regression_block(data: ModelData):
    """Sample r, sigma^2 and the whitened coefficients; return (r, logdet, sigma2, beta, log_jac).

    beta = m(r) + sigma L(r)^-T z as in the module docstring; ``log_jac`` is the
    log-Jacobian of z -> beta, to be added to the density with the likelihood.
    """
    cp, coef, kind = data.cp, data.coef, data.kind
    if kind == "none":
        r, ld = jnp.zeros(()), jnp.zeros(())
    else:
        r = numpyro.sample(SPATIAL_PARAMETER[kind], data.spatial_prior)
        ld = data.logdet(r)
    sigma2 = numpyro.sample("sigma2", dist.InverseGamma(*data.sigma2_prior))
    numpyro.deterministic("sigma", jnp.sqrt(sigma2))
    _, zy, zz = quadratic_forms(cp, r, "lag" if kind == "none" else kind, jnp)
    p0 = coef.nig_precision
    chol = jnp.linalg.cholesky(zz + p0)
    mean = jsl.cho_solve((chol, True), zy + p0 @ coef.nig_mean)
    z = numpyro.sample("z", dist.ImproperUniform(constraints.real_vector, (), event_shape=(cp.p,)))
    beta = mean + jnp.sqrt(sigma2) * jsl.solve_triangular(chol.T, z, lower=False)
    numpyro.deterministic("coef", beta)
    log_jac = 0.5 * cp.p * jnp.log(sigma2) - jnp.sum(jnp.log(jnp.diag(chol)))
    if data.constraint is not None:
        numpyro.factor("constraint", jnp.where(data.constraint(beta, r, jnp), 0.0, -jnp.inf))
    return r, ld, sigma2, beta, log_jac

"""NumPyro definition of the Gaussian spatial lag and error models on sufficient statistics.

The log-likelihood after the fixed-effect transformation
(`bayespatial.engine.crossprod`) is

    c (log|I - r W| [- log(1 - r)]) - N/2 log(2 pi sigma^2)
      - (y_r'y_r - 2 beta'Z_r'y_r + beta'Z_r'Z_r beta) / (2 sigma^2),

with y_r, Z_r as in `bayespatial.engine.conjugate` (lag: y_r = y - r W y,
Z_r = Z; error: both multiplied by I - r W). Every term is a polynomial in r
of the precomputed cross-products, so one gradient costs O(p^2) whatever n
(Elhorst 2014, *Spatial Econometrics*, sec. 3.3; LeSage & Pace 2009, ch. 5).
The prior here is the conjugate normal-inverse-gamma one, so that NUTS and the
exact sampler can be compared on the same posterior.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayespatial.engine.conjugate import NIGPrior
from bayespatial.engine.crossprod import CrossProducts


def quadratic_terms(cp: CrossProducts, r, kind: str):
    """y_r'y_r, Z_r'y_r and Z_r'Z_r at a scalar r, from the Gram matrix (pure jnp)."""
    g, p = jnp.asarray(cp.gram), cp.p
    z = slice(2, 2 + p)
    wz = slice(2 + p, 2 + 2 * p)
    yy = g[0, 0] - 2 * r * g[0, 1] + r**2 * g[1, 1]
    if kind == "lag":
        return yy, g[z, 0] - r * g[z, 1], g[z, z]
    zy = g[z, 0] - r * (g[z, 1] + g[wz, 0]) + r**2 * g[wz, 1]
    zz = g[z, z] - r * (g[z, wz] + g[wz, z]) + r**2 * g[wz, wz]
    return yy, zy, zz


def log_likelihood(cp: CrossProducts, r, beta, sigma2, logdet: Callable, kind: str = "lag"):
    """Gaussian log-likelihood of the transformed panel at (r, beta, sigma^2)."""
    yy, zy, zz = quadratic_terms(cp, r, kind)
    rss = yy - 2 * beta @ zy + beta @ zz @ beta
    ld = logdet(r)
    if cp.drop_unit_root:
        ld = ld - jnp.log1p(-r)
    return cp.logdet_mult * ld - 0.5 * cp.nobs * jnp.log(2 * jnp.pi * sigma2) - 0.5 * rss / sigma2


def conjugate_model(
    cp: CrossProducts,
    prior: NIGPrior,
    bounds: tuple[float, float],
    logdet: Callable,
    kind: str = "lag",
) -> None:
    """Spatial lag (``kind="lag"``, parameter rho) or error (``"error"``, lam) model."""
    name = "rho" if kind == "lag" else "lam"
    r = numpyro.sample(name, dist.Uniform(*bounds))
    sigma2 = numpyro.sample("sigma2", dist.InverseGamma(prior.a0, prior.b0))
    beta = numpyro.sample(
        "beta",
        dist.MultivariateNormal(
            jnp.asarray(prior.mean), precision_matrix=jnp.asarray(prior.precision) / sigma2
        ),
    )
    numpyro.factor("loglik", log_likelihood(cp, r, beta, sigma2, logdet, kind))

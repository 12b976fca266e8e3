"""NumPyro definition of the Gaussian spatial lag and error models on sufficient statistics.

The log-likelihood after the fixed-effect transformation is
`bayespatial.engine.crossprod.gaussian_loglik`: every term is a polynomial in
r of precomputed cross-products, so one gradient costs O(p^2) whatever n
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
from bayespatial.engine.crossprod import CrossProducts, gaussian_loglik


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
    numpyro.factor("loglik", gaussian_loglik(cp, r, beta, sigma2, logdet(r), kind, jnp))

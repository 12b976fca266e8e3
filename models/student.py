"""Student-t spatial models on the streaming (per-observation) likelihood.

Heteroskedasticity- and outlier-robust errors e_i ~ sigma t_nu, the
marginal form of LeSage's (1997) sar_g scale mixture e_i ~ N(0, sigma^2 v_i),
nu / v_i ~ chi^2_nu. The likelihood is `bayespatial.engine.streaming.loglik`
on the rows transformed to remove the fixed effects (a quasi-likelihood when
fixed effects are removed; see that module). Prior on the degrees of freedom:
nu ~ Gamma(2, 0.1) (Juárez & Steel 2010, *J. Business & Economic Statistics*
28, 52-66). Coefficients are sampled on the same whitened scale as the
Gaussian model (`bayespatial.models.gaussian`), built from the Gaussian
cross-products, which leaves z close to N(0, I) when the errors are near normal.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints

from bayespatial.engine import logdet as logdet_engine
from bayespatial.engine import streaming
from bayespatial.engine.crossprod import CrossProducts, quadratic_forms
from bayespatial.models.gaussian import coef_log_prior
from bayespatial.models.sampling import nuts_run, sigma2_prior, spatial_distribution
from bayespatial.priors.spec import CoefPrior

NU_PRIOR = (2.0, 0.1)
"""Gamma(shape, rate) prior of nu (Juárez & Steel 2010)."""


def student_model(
    cols: jnp.ndarray,
    cp: CrossProducts,
    coef: CoefPrior,
    sigma2_prior: tuple[float, float],
    spatial_prior: dist.Distribution | None,
    logdet: Callable | None,
    kind: str = "lag",
) -> None:
    """Student-t OLS/SLX (``kind="none"``), lag or error model on transformed rows ``cols``."""
    if kind == "none":
        r, ld = jnp.zeros(()), jnp.zeros(())
    else:
        r = numpyro.sample("rho" if kind == "lag" else "lam", spatial_prior)
        ld = logdet(r)
    sigma2 = numpyro.sample("sigma2", dist.InverseGamma(*sigma2_prior))
    numpyro.deterministic("sigma", jnp.sqrt(sigma2))
    nu = numpyro.sample("nu", dist.Gamma(*NU_PRIOR))
    q_kind = "lag" if kind == "none" else kind
    _, zy, zz = quadratic_forms(cp, r, q_kind, jnp)
    prec = zz + coef.nig_precision
    chol = jnp.linalg.cholesky(prec)
    mean = jsl.cho_solve((chol, True), zy + coef.nig_precision @ coef.nig_mean)
    z = numpyro.sample("z", dist.ImproperUniform(constraints.real_vector, (), event_shape=(cp.p,)))
    beta = mean + jnp.sqrt(sigma2) * jsl.solve_triangular(chol.T, z, lower=False)
    numpyro.deterministic("coef", beta)
    log_jac = 0.5 * cp.p * jnp.log(sigma2) - jnp.sum(jnp.log(jnp.diag(chol)))
    loglik = streaming.loglik(
        cols, cp.p, r, beta, sigma2, ld, cp.logdet_mult, cp.drop_unit_root, q_kind, nu, jnp
    )
    numpyro.factor("loglik", loglik + coef_log_prior(beta, sigma2, coef) + log_jac)


def run_nuts(config, design, W, cp, coef, state, interval):
    """NUTS on the Student-t model; returns draws and sample statistics like the Gaussian path."""
    Z = np.concatenate([design.X, design.WX], axis=2)
    cols = jnp.asarray(streaming.transform_columns(design.y, Z, W, config.fe))
    spatial = (
        None if config.kind == "none" else spatial_distribution(config.priors.spatial, interval)
    )
    ld = None if state is None else partial(logdet_engine.apply, state)
    with numpyro.validation_enabled(False):
        samples, stats = nuts_run(
            student_model,
            config,
            cols,
            cp,
            coef,
            sigma2_prior(config, cp, design),
            spatial,
            ld,
            config.kind,
        )
    draws = {"coef": samples["coef"], "sigma": samples["sigma"], "nu": samples["nu"]}
    if config.kind != "none":
        name = "rho" if config.kind == "lag" else "lam"
        draws[name] = samples[name]
    return draws, stats

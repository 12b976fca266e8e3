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

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from bayespatial.engine import streaming
from bayespatial.models.gaussian import ModelData, coef_log_prior, spatial_regression_block

NU_PRIOR = (2.0, 0.1)
"""Gamma(shape, rate) prior of nu (Juárez & Steel 2010)."""


def student_model(data: ModelData) -> None:
    """Student-t OLS/SLX (``kind="none"``), lag or error model on the transformed ``data.rows``.

    `bayespatial.models.gaussian.ModelData`; ``rows`` from
    `bayespatial.engine.streaming.transform_columns`.
    """
    cp, kind = data.cp, data.kind
    r, ld, sigma2, beta, log_jac = spatial_regression_block(data)
    nu = numpyro.sample("nu", dist.Gamma(*NU_PRIOR))
    loglik = streaming.loglik(
        data.rows,
        cp.p,
        r,
        beta,
        sigma2,
        ld,
        cp.logdet_mult,
        cp.drop_unit_root,
        "lag" if kind == "none" else kind,
        nu,
        jnp,
    )
    numpyro.factor("loglik", loglik + coef_log_prior(beta, sigma2, data.coef) + log_jac)


def transformed_rows(y, Z, W, fe: str) -> jnp.ndarray:
    """The rows [y, Wy, Z, WZ] after the fixed-effect transformation, on the device."""
    return jnp.asarray(streaming.transform_columns(y, Z, W, fe))

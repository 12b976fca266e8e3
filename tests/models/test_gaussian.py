"""NUTS on the sufficient-statistics model against the exact conjugate sampler (same posterior)."""

import arviz as az
import jax
import numpy as np
import pytest
from numpyro.infer import MCMC, NUTS

import bayespatial as bsp
from bayespatial.engine import logdet
from bayespatial.engine.conjugate import NIGPrior, sample
from bayespatial.engine.crossprod import cross_products
from bayespatial.models.gaussian import conjugate_model


@pytest.mark.parametrize("kind", ["lag", "error"])
def test_nuts_and_exact_sampler_agree_on_columbus(kind):
    """Quantiles agree within 4 combined Monte Carlo standard errors."""
    data = bsp.load_columbus()
    W = data.W.row_standardize()
    y = data.frame["CRIME"].to_numpy()[None]
    X = np.column_stack([np.ones(49), data.frame["INC"], data.frame["HOVAL"]])[None]
    cp = cross_products(y, X, W, "none")
    state = logdet.init(W, "eigen")
    prior = NIGPrior(np.array([40.0, 0.0, 0.0]), np.diag([1e-3, 1e-1, 1e-1]), 3.0, 200.0)
    bounds = W.rho_bounds()
    exact = sample(
        cp,
        prior,
        bounds,
        lambda r: np.asarray(logdet.apply(state, r)),
        np.zeros_like,
        40000,
        np.random.default_rng(3),
        kind=kind,
    )
    mcmc = MCMC(
        NUTS(conjugate_model, dense_mass=True),
        num_warmup=1000,
        num_samples=1500,
        num_chains=2,
        chain_method="sequential",
        progress_bar=False,
    )
    mcmc.run(jax.random.PRNGKey(0), cp, prior, bounds, lambda r: logdet.apply(state, r), kind)
    idata = az.from_numpyro(mcmc)
    name = "rho" if kind == "lag" else "lam"
    post = idata.posterior
    pairs = {
        name: (post[name].values, exact.spatial),
        "sigma": (np.sqrt(post["sigma2"].values), exact.sigma),
        "beta1": (post["beta"].values[..., 1], exact.beta[:, 1]),
        "beta2": (post["beta"].values[..., 2], exact.beta[:, 2]),
    }
    for label, (nuts, ex) in pairs.items():
        for q in (0.1, 0.5, 0.9):
            mcse = float(az.mcse(nuts, method="quantile", prob=q))
            x_q = np.quantile(ex, q)
            dens = np.mean(np.abs(ex - x_q) < 0.05 * ex.std()) / (0.1 * ex.std())
            se_exact = np.sqrt(q * (1 - q) / ex.size) / dens
            gap = abs(np.quantile(nuts, q) - x_q)
            assert gap < 4 * np.hypot(mcse, se_exact), (label, q, gap, mcse, se_exact)

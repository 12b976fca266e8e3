"""NUTS on the whitened sufficient-statistics model against the exact conjugate sampler.

Same model, same priors, two samplers: quantiles (10%, 50%, 90%) of every
parameter agree within 4 combined Monte Carlo standard errors (NUTS: ArviZ's
quantile MCSE; exact draws: the binomial quantile standard error over a
kernel density estimate).
"""

import numpy as np
import pytest
from scipy import stats

import bayespatial as bsp
from bayespatial.models.gaussian import coef_log_prior
from bayespatial.priors.spec import Normal, Priors, ZellnerG


@pytest.fixture(scope="module")
def columbus():
    data = bsp.load_columbus()
    return data.frame.assign(id=list(data.W.ids)), data.W


@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")  # not checked here
@pytest.mark.parametrize("model", ["sar", "sem", "sdm"])
def test_nuts_and_exact_sampler_agree_on_columbus(columbus, model, quantiles_agree):
    df, W = columbus
    args = ("CRIME ~ INC + HOVAL", df, W)
    exact = bsp.fit(model, *args, unit="id", sampler="exact", chains=4, draws=10000, seed=3)
    nuts = bsp.fit(model, *args, unit="id", sampler="nuts", chains=2, draws=1500, seed=0)
    assert exact.attrs["sampler"] == "exact"
    assert nuts.attrs["sampler"] == "nuts"
    assert nuts.attrs["leapfrog_per_draw"] < 16  # whitened scale: a few steps per draw
    for name in ("rho" if model != "sem" else "lam", "sigma"):
        quantiles_agree(nuts.idata.posterior[name].values, exact.draws(name), name)
    for j, term in enumerate(nuts.idata.posterior["term"].values):
        quantiles_agree(
            nuts.idata.posterior["beta"].values[..., j], exact.draws("beta")[:, j], term
        )


def test_coefficient_log_prior_matches_scipy():
    """g-prior block (ZellnerG) and per-term normals (others flat): the scipy densities."""
    rng = np.random.default_rng(0)
    zz = np.cov(rng.normal(size=(3, 50))) * 50
    beta, sigma2 = np.array([0.3, -0.4, 1.2]), 1.7
    zellner = Priors(coef=ZellnerG()).coef_prior(["a", "b", "c"], zz, nobs=50)
    want = stats.multivariate_normal(np.zeros(3), sigma2 * np.linalg.inv(zz / 50)).logpdf(beta)
    assert float(coef_log_prior(beta, sigma2, zellner)) == pytest.approx(want, rel=1e-10)
    mixed = Priors(coef={"b": Normal(1.0, 2.0)}).coef_prior(["a", "b", "c"], zz, nobs=50)
    want = stats.norm(1.0, 2.0).logpdf(beta[1])  # a and c flat: they add nothing
    assert float(coef_log_prior(beta, sigma2, mixed)) == pytest.approx(want, rel=1e-10)

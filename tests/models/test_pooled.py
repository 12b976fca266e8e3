"""NUTS on the collapsed posterior of several varying terms against a grid oracle.

Without a spatial parameter and with two varying blocks the collapsed posterior
(`bayespatial.engine.pooling.collapsed`) has two dimensions, tau_1 and tau_2, so its
moments follow from quadrature on a fine grid, independently of NUTS; sigma^2 and the
coefficients then follow from their conjugate conditionals, whose moments given tau
are closed-form. Tolerances: 4 Monte Carlo standard errors (posterior sd / sqrt(bulk
ESS)).
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import halfnorm

from bayespatial.engine import absorb, pooling
from bayespatial.engine.precision import float64
from bayespatial.models.arviz_io import ess_rhat
from bayespatial.models.pooled import PooledData, coefficient_draws, pooled_model
from bayespatial.models.sampling import nuts_run

G, PER = 6, 30  # groups, observations per group


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    N = G * PER
    group = np.repeat(np.arange(G), PER)
    x1, x2 = rng.normal(size=N), rng.normal(size=N)
    slopes1 = 1.0 + 0.5 * rng.normal(size=G)
    slopes2 = -0.5 + 0.1 * rng.normal(size=G)
    y = slopes2[group] * x2 + slopes1[group] * x1 + rng.normal(size=N)
    member = (group[:, None] == np.arange(G)[None]).astype(float)
    Z = np.column_stack([np.ones(N), x1[:, None] * member, x2[:, None] * member])
    cp = absorb.cross_products(y, Z, absorb.init(np.arange(N), np.zeros(N), "none"))
    layout = pooling.Layout(p=1 + 2 * G, blocks=((1, G), (1 + G, G)))
    return PooledData(cp, layout, (2.0, 2.0), np.array([1.0, 1.0]))


def _grid_moments(data: PooledData):
    """Posterior means of tau, sigma^2 and the coefficients on a 200 x 200 grid of log tau."""
    p = data.layout.p
    g = data.cp.gram
    yy, zy, zz = g[0, 0], g[2 : 2 + p, 0], g[2 : 2 + p, 2 : 2 + p]
    u = np.linspace(np.log(1e-4), np.log(5.0), 200)
    logp = np.empty((u.size, u.size))
    sig2 = np.empty_like(logp)
    means = np.empty((u.size, u.size, p))
    for i, a in enumerate(u):
        for j, b in enumerate(u):
            tau = np.exp([a, b])
            c = pooling.collapsed(data.layout, yy, zy, zz, data.cp.nobs, *data.sigma2_prior, tau)
            logp[i, j] = c.log_density + halfnorm.logpdf(tau).sum() + a + b
            sig2[i, j] = c.rate / (c.shape - 1)  # E[sigma^2 | tau]
            means[i, j] = c.mean
    w = np.exp(logp - logp.max())
    w /= w.sum()
    assert w[-1].sum() + w[:, -1].sum() < 1e-6  # the grid holds the mass (tau -> 0 is in)
    return {
        "tau": (w.sum(1) @ np.exp(u), w.sum(0) @ np.exp(u)),
        "sigma2": (w * sig2).sum(),
        "theta": np.einsum("ij,ijk->k", w, means),
    }


@float64
def test_nuts_on_the_collapsed_posterior_matches_the_grid(data):
    config = SimpleNamespace(chains=4, draws=1000, warmup=1000, seed=1, progress=False)
    samples, stats = nuts_run(pooled_model, config, data)
    assert not stats["diverging"].any()
    want = _grid_moments(data)
    tau = samples["tau"]
    ess = []
    for k in range(2):
        e, rhat = ess_rhat(tau[..., k])
        ess.append(e)
        assert rhat < 1.01
        assert abs(tau[..., k].mean() - want["tau"][k]) < 4 * tau[..., k].std() / np.sqrt(e)
    sigma2, theta = coefficient_draws(data, np.zeros(4000), tau, np.random.default_rng(2))
    n = min(ess)
    assert abs(sigma2.mean() - want["sigma2"]) < 4 * sigma2.std() / np.sqrt(n)
    se = theta.std(0) / np.sqrt(n)
    assert np.all(np.abs(theta.mean(0) - want["theta"]) < 4 * se)

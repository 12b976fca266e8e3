"""The collapsed partially pooled model: NUTS against a two-dimensional grid oracle.

Without a spatial parameter the collapsed posterior has two dimensions (sigma^2 and
one omega), so its moments follow from quadrature on a fine grid, independently of
NUTS. Tolerances: 4 Monte Carlo standard errors (posterior sd / sqrt(bulk ESS)).
"""

from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import halfnorm, invgamma

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
    slopes = 1.0 + 0.5 * rng.normal(size=G)
    y = 0.3 * x2 + slopes[group] * x1 + rng.normal(size=N)
    member = (group[:, None] == np.arange(G)[None]).astype(float)
    Z = np.column_stack([x2, x1[:, None] * member])
    cp = absorb.cross_products(y, Z, absorb.init(np.arange(N), np.zeros(N), "none"))
    layout = pooling.Layout(p=1 + G, blocks=((1, G),))
    return PooledData(cp, layout, (2.0, 2.0), np.array([1.0]))


def _grid_moments(data: PooledData):
    """Posterior means of sigma, omega and the coefficients on a 240 x 320 grid."""
    p = data.layout.p
    g = data.cp.gram
    yy, zy, zz = g[0, 0], g[2 : 2 + p, 0], g[2 : 2 + p, 2 : 2 + p]
    s2 = np.linspace(0.4, 2.2, 240)
    om = np.linspace(1e-3, 4.0, 320)
    logp = np.empty((s2.size, om.size))
    means = np.empty((s2.size, om.size, p))
    for i, v in enumerate(s2):
        for j, w in enumerate(om):
            c = pooling.conditional(data.layout, yy, zy, zz, data.cp.nobs, v, np.array([w]))
            logp[i, j] = c.log_marginal
            means[i, j] = c.mean
    logp += invgamma(*data.sigma2_prior[:1], scale=data.sigma2_prior[1]).logpdf(s2)[:, None]
    logp += halfnorm(scale=data.omega_scale[0]).logpdf(om)[None, :]
    w = np.exp(logp - logp.max())
    w /= w.sum()
    assert w[0].sum() + w[-1].sum() + w[:, -1].sum() < 1e-6  # the grid holds the mass
    return {
        "sigma": (w * np.sqrt(s2)[:, None]).sum(),
        "omega": (w * om[None, :]).sum(),
        "theta": np.einsum("ij,ijk->k", w, means),
    }


@float64
def test_nuts_on_the_collapsed_posterior_matches_the_grid(data):
    config = SimpleNamespace(chains=4, draws=1000, warmup=1000, seed=1, progress=False)
    samples, stats = nuts_run(pooled_model, config, data)
    assert not stats["diverging"].any()
    want = _grid_moments(data)
    ess = {}
    for name in ("sigma", "omega"):
        draws = samples[name].reshape(config.chains, config.draws)
        ess[name], rhat = ess_rhat(draws)
        assert rhat < 1.01
        se = draws.std() / np.sqrt(ess[name])
        assert abs(draws.mean() - want[name]) < 4 * se, name
    theta, mu = coefficient_draws(
        data, np.zeros(4000), samples["sigma2"], samples["omega"], np.random.default_rng(2)
    )
    se = theta.std(0) / np.sqrt(min(ess.values()))
    assert np.all(np.abs(theta.mean(0) - want["theta"]) < 4 * se)
    # mu given the block: its mean is the average group slope's
    np.testing.assert_allclose(mu.mean(), theta[:, 1:].mean(), atol=4 * mu.std() / np.sqrt(4000))

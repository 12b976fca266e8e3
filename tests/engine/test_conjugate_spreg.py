"""The exact sampler against spreg's maximum likelihood on columbus (frozen in tests/reference).

With vague priors (P0 = 1e-8 I, a0 = b0 = 1e-3, flat rho/lam) the posterior mean
and the MLE differ by the posterior's skewness, of order sd / sqrt(N) with
N = 49, i.e. about 0.15 posterior sd; the Monte Carlo error of a mean of
20,000 independent draws is sd / 141. So the tolerance is 0.25 posterior sd.
For the lag model the marginal posterior of rho is proportional to
|A(rho)| b_n(rho)^(-N/2), whose mode is the profile-likelihood maximiser, so its
mode must equal spreg's rho to grid resolution.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.engine import logdet
from bayespatial.engine.conjugate import NIGPrior, sample
from bayespatial.engine.crossprod import cross_products

REF = json.loads((Path(__file__).parents[1] / "reference" / "spreg_columbus.json").read_text())


@pytest.fixture(scope="module")
def columbus():
    data = bsp.load_columbus()
    W = data.W.row_standardize()
    y = data.frame["CRIME"].to_numpy()[None]
    X = np.column_stack([np.ones(49), data.frame["INC"], data.frame["HOVAL"]])[None]
    state = logdet.init(W, "eigen")
    return W, y, X, state


@pytest.mark.parametrize(
    ("kind", "key", "name"), [("lag", "ML_Lag", "rho"), ("error", "ML_Error", "lam")]
)
def test_posterior_means_near_spreg_ml(columbus, kind, key, name):
    W, y, X, state = columbus
    ref = REF[key]
    cp = cross_products(y, X, W, "none")
    prior = NIGPrior(np.zeros(3), np.eye(3) * 1e-8, 1e-3, 1e-3)
    out = sample(
        cp,
        prior,
        W.rho_bounds(),
        lambda r: np.asarray(logdet.apply(state, r)),
        np.zeros_like,
        20000,
        np.random.default_rng(7),
        kind=kind,
    )
    draws = np.column_stack([out.beta, out.spatial])
    ml = np.array([*ref["beta"], ref[name]])
    gap = np.abs(draws.mean(0) - ml) / draws.std(0)
    assert np.all(gap < 0.25), gap
    if kind == "lag":
        step = out.grid[1] - out.grid[0]
        assert abs(out.grid[np.argmax(out.log_density)] - ref["rho"]) < 2 * step

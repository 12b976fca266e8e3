"""Prior predictive draws against moments computed from the model by hand."""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.priors.spec import InverseGamma, Normal, Priors, Uniform


@pytest.fixture(scope="module")
def sim():
    W = weights.lattice(5, 4).row_standardize()
    return simulate("sar", W, T=2, rho=0.3, fe="none", seed=2).frame, W


def test_ols_prior_predictive_moments(sim):
    """y = X beta + e, beta_j ~ N(0, 1), sigma^2 ~ IG(a, b): Var y_i = x_i'x_i + b / (a - 1)."""
    df, W = sim
    priors = Priors(coef=Normal(0.0, 1.0), sigma2=InverseGamma(shape=20.0, scale_factor=5.0))
    out = bsp.prior_predictive(
        "ols", "y ~ x1 + x2", df, W, unit="unit", time="time", priors=priors, draws=4000
    )
    X = np.stack([np.ones((2, 20)), *[df[c].to_numpy().reshape(2, 20) for c in ("x1", "x2")]], -1)
    b0 = 5.0 * np.var(out.observed)
    want = (X**2).sum(-1) + b0 / 19.0
    got = out.y.var(axis=0)
    # sample variance of 4,000 draws: relative se about sqrt(2 / 4000) * kurtosis factor
    assert np.all(np.abs(got / want - 1) < 0.15)
    assert np.all(np.abs(out.y.mean(axis=0)) < 5 * np.sqrt(want / 4000))
    assert out.scale_ratio().index.tolist() == ["q5", "q25", "q50", "q75", "q95"]


def test_lag_prior_predictive_mean_is_the_dense_solve(sim):
    """With beta and rho pinned by tight priors, E[y_t] = (I - rho W)^-1 X_t beta."""
    df, W = sim
    priors = Priors(
        coef=Normal(1.0, 1e-8),
        sigma2=InverseGamma(shape=1e4, scale_factor=1e4),
        spatial=Uniform(0.4, 0.4 + 1e-9),
    )
    out = bsp.prior_predictive(
        "sar", "y ~ x1 + x2", df, W, unit="unit", time="time", priors=priors, draws=2000
    )
    A = np.eye(20) - 0.4 * W.sparse.toarray()
    X = np.stack([np.ones((2, 20)), *[df[c].to_numpy().reshape(2, 20) for c in ("x1", "x2")]], -1)
    want = np.linalg.solve(A, X.sum(-1).T).T
    sd = np.sqrt(np.var(out.observed) * np.diag(np.linalg.inv(A.T @ A)))
    assert np.all(np.abs(out.y.mean(axis=0) - want) < 4 * sd / np.sqrt(2000))
    assert "rho" in out.params


def test_flat_default_has_no_prior_predictive(sim):
    df, W = sim
    with pytest.raises(ValueError, match="proper coefficient priors"):
        bsp.prior_predictive("sar", "y ~ x1 + x2", df, W, unit="unit", time="time")

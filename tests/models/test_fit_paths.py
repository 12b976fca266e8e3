"""Paths through ``fit`` that the other tests do not take, each checked against a value.

Every log-determinant method, Student-t errors with fixed effects, the prior options,
dsdm without eta and with time effects, OLS/SLX posteriors against least squares, SDEM
recovery, and the divergence and r_hat branches of the convergence warning.
"""

import warnings

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.models.fit import _warn_diagnostics
from bayespatial.priors.spec import BetaInterval, Normal, Priors, ZellnerG


@pytest.fixture(scope="module")
def sar_panel():
    W = weights.lattice(12, 12).row_standardize()
    sim = simulate("sar", W, T=4, beta=[1.0, -0.5], rho=0.4, fe="twoway", seed=21)
    return sim.frame, W


KW = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 1000, "seed": 3}


def test_every_logdet_method_gives_the_eigen_posterior(sar_panel):
    """Same seed, same uniforms: the exact-sampler posteriors differ only through the
    log-determinant's approximation error, which each method bounds far below what
    would move rho by a tenth of its posterior sd at n = 144."""
    df, W = sar_panel
    ref = bsp.fit("sar", "y ~ x1 + x2", df, W, logdet="eigen", **KW).draws("rho")
    for method in ("lu_grid", "chebyshev", "taylor", "slq"):
        fit = bsp.fit("sar", "y ~ x1 + x2", df, W, logdet=method, **KW)
        assert fit.attrs["logdet_method"] == method
        rho = fit.draws("rho")
        assert abs(rho.mean() - ref.mean()) < 0.1 * ref.std(), method
        assert rho.std() == pytest.approx(ref.std(), rel=0.1), method


def test_prior_options_move_the_posterior_as_their_algebra_says(sar_panel):
    df, W = sar_panel
    flat = bsp.fit("sar", "y ~ x1 + x2", df, W, **KW)
    b_flat = flat.draws("beta")[:, 0]
    # LeSage's Beta(1.01, 1.01) on the interval is all but uniform
    beta_prior = bsp.fit(
        "sar", "y ~ x1 + x2", df, W, priors=Priors(spatial=BetaInterval(1.01, 1.01)), **KW
    )
    assert abs(beta_prior.draws("rho").mean() - flat.draws("rho").mean()) < 0.1 * b_flat.std()
    # Zellner's g-prior shrinks the slopes by g / (1 + g) given rho: half at g = 1
    g1 = bsp.fit("sar", "y ~ x1 + x2", df, W, priors=Priors(coef=ZellnerG(1.0)), **KW)
    assert g1.draws("beta")[:, 0].mean() == pytest.approx(0.5 * b_flat.mean(), rel=0.05)
    # a tight normal prior N(0, 0.01^2) on x1 (NUTS): the posterior precision is at least
    # the prior's, so the posterior sd is at most 0.01, and the mean lies between 0 and
    # the flat fit's (about 1), within a few prior sd of 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplerChoiceWarning)
        tight = bsp.fit(
            "sar",
            "y ~ x1 + x2",
            df,
            W,
            priors=Priors(coef={"x1": Normal(0.0, 0.01)}),
            **{**KW, "draws": 500, "warmup": 500, "chains": 2},
        )
    x1 = tight.draws("beta")[:, 0]
    assert tight.attrs["sampler"] == "nuts"
    assert 0 < x1.mean() < 0.05
    assert x1.std() < 0.011


def test_student_t_errors_with_fixed_effects(sar_panel):
    """The streaming t path with two-way effects (the 10^6 benchmark's path) recovers
    rho; its LOO refuses, because the likelihood is a quasi-likelihood there."""
    df, W = sar_panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplingWarning)
        fit = bsp.fit(
            "sar",
            "y ~ x1 + x2",
            df,
            W,
            errors="student_t",
            **{**KW, "draws": 400, "warmup": 400, "chains": 2},
        )
    rho = fit.draws("rho")
    assert abs(rho.mean() - 0.4) < 4 * rho.std()
    assert "log_likelihood" not in fit.idata.groups()
    with pytest.raises(ValueError, match="quasi-likelihood"):
        fit.loo()


def test_dsdm_without_eta_and_with_time_effects():
    """No unit effects, so no Nickell bias: tau and rho are recovered (4 sd)."""
    W = weights.lattice(10, 10).row_standardize()
    sim = simulate("dsdm", W, T=8, tau=0.3, rho=0.3, eta=0.0, theta=[0.0, 0.0], fe="time", seed=5)
    fit = bsp.fit(
        "dsdm",
        "y ~ x1 + x2",
        sim.frame,
        W,
        unit="unit",
        time="time",
        fe="time",
        eta=False,
        durbin=False,
        draws=1000,
    )
    post = fit.idata.posterior
    assert "eta" not in post
    assert "tau" in post
    for name, truth in (("tau", 0.3), ("rho", 0.3)):
        v = fit.draws(name)
        assert abs(v.mean() - truth) < 4 * v.std(), name


@pytest.mark.parametrize("model", ["ols", "slx"])
def test_ols_and_slx_posteriors_equal_least_squares(model):
    """Flat prior: the posterior mean of beta is the least-squares estimate and its sd is
    s sqrt([(X'X)^-1]_jj (N - p) / (N - p - 2)) (Student-t marginal); checked to Monte
    Carlo error (4 se of the mean over 4,000 independent draws; 5% on the sd)."""
    W = weights.lattice(9, 9).row_standardize()
    sim = simulate("slx", W, beta=[1.0, -0.5], theta=[0.4, 0.1], fe="none", intercept=2.0, seed=8)
    df = sim.frame
    X = np.column_stack([np.ones(len(df)), df[["x1", "x2"]].to_numpy()])
    if model == "slx":
        X = np.column_stack([X, W.sparse @ X[:, 1:]])
    y = df["y"].to_numpy()
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    N, p = X.shape
    s2 = np.sum((y - X @ b) ** 2) / (N - p)
    sd = np.sqrt(np.diag(np.linalg.inv(X.T @ X)) * s2 * (N - p) / (N - p - 2))
    fit = bsp.fit(model, "y ~ x1 + x2", df, W, unit="unit")
    draws = fit.draws("beta")
    if model == "slx":
        draws = np.column_stack([draws, fit.draws("theta")[:, 1:]])
    assert np.all(np.abs(draws.mean(0) - b) < 4 * sd / np.sqrt(len(draws)))
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.05)


def test_sdem_recovers_its_truth():
    W = weights.lattice(12, 12).row_standardize()
    sim = simulate("sdem", W, T=4, beta=[1.0, -0.5], theta=[0.5, 0.2], lam=0.5, fe="twoway", seed=9)
    fit = bsp.fit("sdem", "y ~ x1 + x2", sim.frame, W, **{**KW, "seed": 0})
    for name, j, truth in (("beta", 0, 1.0), ("theta", 0, 0.5), ("theta", 1, 0.2)):
        v = fit.draws(name)[:, j]
        assert abs(v.mean() - truth) < 4 * v.std(), (name, j)
    lam = fit.draws("lam")
    assert abs(lam.mean() - 0.5) < 4 * lam.std()


def test_divergence_and_r_hat_warnings_name_the_problem():
    rng = np.random.default_rng(0)
    stuck = np.stack([rng.normal(0, 1, 500), rng.normal(3, 1, 500)])[..., None]  # 2 chains
    stats = {"diverging": np.r_[np.ones(7), np.zeros(993)].reshape(2, 500)}
    with pytest.warns(bsp.SamplingWarning) as rec:
        _warn_diagnostics({"coef": stuck}, stats)
    message = str(rec[0].message)
    assert "7 divergent transition(s)" in message
    assert "r_hat > 1.01 for coef" in message

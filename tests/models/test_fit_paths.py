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
from bayespatial.models.arviz_io import ess_rhat
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


@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")  # not checked here
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
    # a tight normal prior N(0, 0.01^2) on x1 (NUTS) against a grid oracle
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplerChoiceWarning)
        tight = bsp.fit(
            "sar",
            "y ~ x1 + x2",
            df,
            W,
            priors=Priors(coef={"x1": Normal(0.0, 0.01)}),
            **{**KW, "draws": 1000, "warmup": 500, "chains": 2},
        )
    assert tight.attrs["sampler"] == "nuts"
    # the oracle itself, with an all but flat prior, against the exact sampler's draws
    vague = normal_prior_grid_oracle(df, W, prior_sd=1e6)
    for name, draws in (("x1", b_flat), ("rho", flat.draws("rho"))):
        assert abs(draws.mean() - vague[name][0]) < 4 * draws.std() / np.sqrt(draws.size)
    oracle = normal_prior_grid_oracle(df, W, prior_sd=0.01)
    for name, draws in (("x1", tight.draws("beta")[:, 0]), ("rho", tight.draws("rho"))):
        ess = float(ess_rhat(draws.reshape(2, -1))[0])
        mcse = draws.std() / np.sqrt(ess)
        assert abs(draws.mean() - oracle[name][0]) < 4 * mcse, name
        # the sd's Monte Carlo relative error is about 1 / sqrt(2 ess)
        assert draws.std() == pytest.approx(oracle[name][1], rel=4 / np.sqrt(2 * ess)), name


def normal_prior_grid_oracle(df, W, prior_sd: float) -> dict:
    """Posterior mean and sd of beta_x1 and rho for the two-way FE SAR with beta_x1 ~
    N(0, prior_sd^2), beta_x2 flat, rho uniform on W's interval and sigma^2 ~ IG(0.01,
    0.01 var(y~)), by quadrature: beta integrated out in closed form given (rho, sigma^2)
    (a Gaussian integral), (rho, sigma^2) on a 600 x 600 grid. Dense numpy throughout;
    the transformed likelihood is Lee & Yu's (2010): N = (n - 1)(T - 1) rows and
    (T - 1)(log|I - rho W| - log(1 - rho))."""
    n, Wd = W.n, W.sparse.toarray()
    T = len(df) // n
    y = df["y"].to_numpy().reshape(T, n)
    X = df[["x1", "x2"]].to_numpy().reshape(T, n, 2)

    def within(v):  # two-way demeaning of (T, n, ...)
        v = v - v.mean(axis=0, keepdims=True)
        return v - v.mean(axis=1, keepdims=True)

    yt, wyt = within(y).ravel(), within(y @ Wd.T).ravel()
    Z = within(X).reshape(-1, 2)
    N = (n - 1) * (T - 1)
    a0, b0 = 0.01, 0.01 * (yt @ yt) / N
    lam = np.linalg.eigvals(Wd).real
    s2_ols = np.mean((yt - Z @ np.linalg.lstsq(Z, yt, rcond=None)[0]) ** 2)
    r = np.linspace(-0.9, 0.95, 600)[:, None]  # (rho, sigma^2) grid
    s2 = np.linspace(0.05, 5.0, 600)[None, :] * s2_ols
    ee = yt @ yt - 2 * r * (yt @ wyt) + r**2 * (wyt @ wyt)  # e'e, e = y - rho W y
    Ze = (Z.T @ yt)[None, None, :] - r[..., None] * (Z.T @ wyt)  # Z'e, (rho, 1, 2)
    P = (Z.T @ Z)[None, None] / s2[..., None, None] + np.diag([1 / prior_sd**2, 0.0])
    P_inv = np.linalg.inv(P)  # (1, s2, 2, 2)
    b = Ze / s2[..., None]  # (rho, s2, 2)
    m = np.einsum("...ij,...j->...i", P_inv, b)
    ld = (T - 1) * (np.log(1 - r * lam).sum(axis=1, keepdims=True) - np.log(1 - r))
    logp = (
        ld
        - (0.5 * N + a0 + 1) * np.log(s2)
        - 0.5 * (ee / s2 - np.einsum("...i,...i->...", b, m))
        - 0.5 * np.linalg.slogdet(P)[1]
        - b0 / s2
    )
    w = np.exp(logp - logp.max())
    w /= w.sum()
    assert w[[0, -1], :].sum() + w[:, [0, -1]].sum() < 1e-8  # the grid holds the posterior
    # E[beta1^2] = E[Var(beta1 | rho, sigma^2) + m1^2], Var(beta1 | .) = (P^-1)_11
    mean_b = float((w * m[..., 0]).sum())
    sd_b = float(np.sqrt((w * (P_inv[..., 0, 0] + m[..., 0] ** 2)).sum() - mean_b**2))
    pr = w.sum(axis=1)
    mean_r = float(pr @ r[:, 0])
    sd_r = float(np.sqrt(pr @ r[:, 0] ** 2 - mean_r**2))
    return {"x1": (mean_b, sd_b), "rho": (mean_r, sd_r)}


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

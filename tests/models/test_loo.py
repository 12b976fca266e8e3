"""Pointwise log-likelihood plumbing (design, Durbin and dynamic terms, demeaning), LOO, compare."""

import numpy as np
import pytest
from scipy.special import gammaln, logsumexp

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.engine.crossprod import demean


@pytest.fixture(scope="module")
def panel():
    W = weights.lattice(6, 5).row_standardize()
    sim = simulate("sdm", W, T=4, beta=[1.0, -0.5], theta=[0.4, 0.2], rho=0.3, fe="twoway", seed=6)
    return sim.frame, W


@pytest.mark.parametrize(("model", "kind"), [("sdm", "lag"), ("sdem", "error"), ("slx", "none")])
@pytest.mark.parametrize("fe", ["unit", "twoway"])
def test_log_likelihood_equals_the_dense_formula_with_effects_integrated_out(
    panel, model, kind, fe, dense_fe_conditionals
):
    """fit.log_likelihood() (design, Durbin columns, draws) against Q = B'M B / sigma^2."""
    df, W = panel
    fit = bsp.fit(model, "y ~ x1 + x2", df, W, unit="unit", time="time", fe=fe, draws=50)
    ll = fit.log_likelihood().reshape(-1, 4, W.n)
    T, n = 4, W.n
    y = df["y"].to_numpy().reshape(T, n)
    X = df[["x1", "x2"]].to_numpy().reshape(T, n, 2)
    Wd = W.sparse.toarray()
    Z = np.concatenate([X, np.einsum("ij,tjk->tik", Wd, X)], axis=2)
    beta, theta = fit.draws("beta"), fit.draws("theta")
    r = fit.draws({"lag": "rho", "error": "lam"}[kind]) if kind != "none" else np.zeros(200)
    sigma = fit.draws("sigma")
    k = "lag" if kind == "none" else kind
    for d in (0, 77, 199):
        b = np.concatenate([beta[d], theta[d]])
        want = dense_fe_conditionals(y, Z, Wd, r[d], b, sigma[d], k, fe)
        np.testing.assert_allclose(ll[d], want, rtol=1e-8, atol=1e-10)


def test_dynamic_log_likelihood_conditions_on_lags(dense_fe_conditionals):
    """dsdm with unit effects: y_{t-1} and W y_{t-1} enter as regressors (the first
    period is conditioned on), the effects are integrated out: the dense formula."""
    W = weights.lattice(5, 4).row_standardize()
    sim = simulate("dsdm", W, T=6, tau=0.4, rho=0.2, eta=0.1, fe="unit", seed=2)
    fit = bsp.fit(
        "dsdm", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", fe="unit", draws=50
    )
    ll = fit.log_likelihood()
    assert ll.shape == (4, 50, 5 * W.n)  # first period conditioned on
    n, Wd = W.n, W.sparse.toarray()
    y = sim.frame["y"].to_numpy().reshape(6, n)
    X = sim.frame[["x1", "x2"]].to_numpy().reshape(6, n, 2)[1:]
    lag = y[:-1]
    WX = np.einsum("ij,tjk->tik", Wd, X)
    Z = np.concatenate([X, WX, lag[..., None], (lag @ Wd.T)[..., None]], axis=2)
    beta, theta = fit.draws("beta"), fit.draws("theta")
    tau, eta, rho, sigma = (fit.draws(k) for k in ("tau", "eta", "rho", "sigma"))
    ll = ll.reshape(-1, 5, n)
    for d in (0, 77, 199):
        b = np.r_[beta[d], theta[d], tau[d], eta[d]]
        want = dense_fe_conditionals(y[1:], Z, Wd, rho[d], b, sigma[d], "lag", "unit")
        np.testing.assert_allclose(ll[d], want, rtol=1e-8, atol=1e-10)


def test_loo_compare_and_round_trip(panel, tmp_path):
    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 500}
    fits = {m: bsp.fit(m, "y ~ x1 + x2", df, W, **kw) for m in ("sar", "sdm", "slx")}
    loo = fits["sdm"].loo()
    assert loo.loo_i.shape == (4 * W.n,)
    table = bsp.compare(fits)
    elpd = {m: f.loo().elpd_loo for m, f in fits.items()}
    best = max(elpd, key=elpd.get)
    assert table.index[0] == best
    for m in fits:  # the table holds each fit's own LOO, differences from the best
        assert table.loc[m, "elpd_loo"] == pytest.approx(elpd[m], abs=1e-9)
        assert table.loc[m, "elpd_diff"] == pytest.approx(elpd[best] - elpd[m], abs=1e-9)
    listed = bsp.compare(list(fits.values()))  # names from the models
    assert set(listed.index) == {"sar", "sdm", "slx"}
    back = bsp.load(fits["sdm"].to_netcdf(tmp_path / "f.nc"))
    np.testing.assert_array_equal(back.log_likelihood(), fits["sdm"].log_likelihood())
    labels = fits["sdm"].obs_labels()
    assert labels[0] == (W.ids[0], 0)
    assert labels[W.n] == (W.ids[0], 1)


def test_compare_refuses_different_observations(panel):
    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 100}
    with pytest.raises(ValueError, match="same observations"):
        bsp.compare(
            {
                "sdm": bsp.fit("sdm", "y ~ x1", df, W, **kw),
                "dsdm": bsp.fit("dsdm", "y ~ x1", df, W, **kw),
            }
        )


# ------------------------------------------------ PSIS-LOO against exact leave-one-out


def _log_marginal(yS, H, Sigma, P0, flat, a0, b0):
    """log p(y_S | rho) for y_S ~ N(H beta, sigma^2 Sigma) under the NIG prior
    beta | sigma^2 ~ N(0, sigma^2 P0^-) (``flat`` directions with a flat prior),
    sigma^2 ~ IG(a0, b0): whiten by chol(Sigma), integrate beta and sigma^2 analytically.
    Constants common to every y_S (|P0|_+, a0 log b0 - log Gamma(a0)) are left out."""
    L = np.linalg.cholesky(Sigma)
    yt, Xt = np.linalg.solve(L, yS), np.linalg.solve(L, H)
    m = yS.size
    Pn = Xt.T @ Xt + P0
    bn = np.linalg.solve(Pn, Xt.T @ yt)
    an = a0 + (m - flat) / 2
    return (
        -(m - flat) / 2 * np.log(2 * np.pi)
        - 0.5 * np.linalg.slogdet(Pn)[1]
        + gammaln(an)
        - an * np.log(b0 + (yt @ yt - bn @ Pn @ bn) / 2)
        - np.log(np.diag(L)).sum()
    )


def _exact_loo(y, X, Wd, kind, P0, flat, a0, b0, grid, D=None, log_w=0.0):
    """Exact log p(y_i | y_-i) = log p(y) - log p(y_-i), both marginal over (beta, sigma^2)
    analytically and over the uniform prior of rho/lam by quadrature on ``grid``.

    This is what refitting without y_i and averaging p(y_i | y_-i, theta) over that
    posterior estimates, with no Monte Carlo error: y_-i keeps the W of all units
    (its marginal is the submatrix of the joint covariance), so it is the exact
    refit of the model with y_i unobserved. ``log_w``: log quadrature weights of a
    non-uniform grid. ``D``: fixed-effect dummies with flat
    priors, entering the reduced form (y = D alpha + A^-1 (X beta + e) for lag models),
    which is the parametrisation whose integrated likelihood is Lee & Yu's."""
    n = y.size
    full, loo = [], []
    for r in grid:
        A = np.eye(n) - r * Wd
        Sigma = np.linalg.inv(A.T @ A)
        H = np.linalg.solve(A, X) if kind == "lag" else X
        H = H if D is None else np.column_stack([D, H])
        full.append(_log_marginal(y, H, Sigma, P0, flat, a0, b0))
        keep = [np.r_[0:i, i + 1 : n] for i in range(n)]
        loo.append([_log_marginal(y[k], H[k], Sigma[np.ix_(k, k)], P0, flat, a0, b0) for k in keep])
    full, loo = np.array(full) + log_w, np.array(loo) + np.reshape(log_w, (-1, 1))
    return logsumexp(full) - logsumexp(loo, axis=0)


def _oracle(fit_frame, ycol, xcols, W, kind):
    """Exact LOO under the fit's default prior: flat on the coefficients,
    sigma^2 ~ IG(shape, scale_factor var(y)), uniform rho/lam on W's interval."""
    from bayespatial.priors.spec import Priors

    Wd = W.row_standardize().sparse.toarray()
    y = fit_frame[ycol].to_numpy()
    X = np.column_stack([np.ones(y.size), fit_frame[xcols].to_numpy()])
    prior = Priors().sigma2
    w = np.linalg.eigvals(Wd).real
    grid = np.linspace(1 / w.min(), 1 / w.max(), 302)[1:-1]
    P0 = np.zeros((X.shape[1],) * 2)
    b0 = prior.scale_factor * np.var(y)
    return _exact_loo(y, X, Wd, kind, P0, X.shape[1], prior.shape, b0, grid)


@pytest.mark.parametrize(("model", "kind"), [("sar", "lag"), ("sem", "error")])
def test_psis_loo_matches_exact_leave_one_out(model, kind):
    """Simulated 6x6 cross-section: PSIS-LOO from 4,000 exact-sampler draws against the
    exact leave-one-out predictive densities.

    Measured over 4 seeds per model: |PSIS - exact| of the sum 0.03-0.07 (its Monte
    Carlo sd ~0.05), pointwise at most 0.027, all Pareto k < 0.52. Tolerances: 0.25 on
    the sum (5 MC sd; far inside elpd's standard error, 2.8) and 0.1 pointwise."""
    W = weights.lattice(6, 6).row_standardize()
    sim = simulate(model, W, beta=(1.0, -0.5), rho=0.5, lam=0.5, fe="none", intercept=1.0, seed=11)
    exact = _oracle(sim.frame, "y", ["x1", "x2"], W, kind)
    fit = bsp.fit(model, "y ~ x1 + x2", sim.frame, W, unit="unit", draws=1000, seed=1)
    loo = fit.loo()
    assert float(loo.pareto_k.max()) < 0.7
    assert abs(loo.elpd_loo - exact.sum()) < 0.25
    assert abs(loo.elpd_loo - exact.sum()) < loo.se
    np.testing.assert_allclose(loo.loo_i.values, exact, atol=0.1)


def test_psis_loo_on_columbus_flags_the_observation_it_gets_wrong():
    """Columbus SAR (real data, N = 49): the PSIS total is within its standard error of
    the exact LOO; observations with k < 0.7 agree pointwise, and the one with k > 1
    (its PSIS term is unreliable) is named in the warning."""
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    exact = _oracle(df, "CRIME", ["INC", "HOVAL"], data.W, "lag")
    fit = bsp.fit("sar", "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=1000, seed=0)
    with pytest.warns(bsp.SamplingWarning, match=r"Pareto k > 0.70 for 1 observation") as rec:
        loo = fit.loo()
    k = loo.pareto_k.values
    bad = int(np.argmax(k))
    assert str(data.W.ids[bad]) in str(rec[0].message)
    assert abs(loo.elpd_loo - exact.sum()) < loo.se
    ok = k < 0.7
    np.testing.assert_allclose(loo.loo_i.values[ok], exact[ok], atol=0.15)


def test_student_t_fit_loo_beats_gaussian_on_heavy_tailed_data():
    """SAR with t_2 errors (simulated, 144 units): the Student-t fit's exact conditional
    LOO (quadrature) ranks above the Gaussian fit's, on the same observations.

    The t fit ranked first for each of data seeds 0-4 (checked once, seed by seed),
    by 1.50, 1.55 and 1.99 dse on three of them and more than 2 on two: the outliers that
    make the difference also make its se large. The assertion keeps a margin of
    0.5 dse, one dse below the smallest measured ratio. Convergence warnings are
    not what this test checks (2 chains x 500 draws) and are silenced."""
    import warnings

    W = weights.lattice(12, 12).row_standardize()
    sim = simulate("sar", W, beta=(1.0, -0.5), rho=0.4, fe="none", intercept=1.0, nu=2.0, seed=4)
    kw = {"unit": "unit", "draws": 500, "warmup": 500, "chains": 2, "seed": 2}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplingWarning)
        fits = {
            "gaussian": bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, **kw),
            "student_t": bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, errors="student_t", **kw),
        }
        ll = fits["student_t"].log_likelihood()
        table = bsp.compare(fits)
    assert ll.shape == (2, 500, W.n)
    assert np.isfinite(ll).all()
    assert table.index[0] == "student_t"
    assert table.loc["gaussian", "elpd_diff"] > 0.5 * table.loc["gaussian", "dse"]


@pytest.mark.parametrize(("model", "kind"), [("sar", "lag"), ("sem", "error")])
def test_exact_loo_without_refits_equals_the_marginal_likelihood_ratio(model, kind):
    """fit.loo(method="exact") (deletion algebra + quadrature in rho, no Monte Carlo)
    against the dense marginal-likelihood-ratio oracle: agreement to the oracle's own
    quadrature error (3e-5 for the SEM on 300 points)."""
    W = weights.lattice(6, 6).row_standardize()
    sim = simulate(model, W, beta=(1.0, -0.5), rho=0.5, lam=0.5, fe="none", intercept=1.0, seed=11)
    exact = _oracle(sim.frame, "y", ["x1", "x2"], W, kind)
    fit = bsp.fit(model, "y ~ x1 + x2", sim.frame, W, unit="unit", draws=200, seed=1)
    loo = fit.loo(method="exact")
    np.testing.assert_allclose(loo.loo_i.values, exact, atol=1e-4)
    assert loo.elpd_loo == pytest.approx(exact.sum(), abs=1e-3)
    assert float(loo.pareto_k.max()) == 0.0


def test_exact_loo_on_a_pooled_panel_and_where_psis_fails():
    """Pooled panel (fe='none', T = 2) against the oracle with W_NT = I_T ⊗ W; columbus
    observation 7, whose PSIS Pareto k exceeds 1, exactly."""
    W = weights.lattice(4, 4).row_standardize()
    sim = simulate("sar", W, T=2, beta=(1.0, -0.5), rho=0.4, fe="none", intercept=1.0, seed=5)
    fit = bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", draws=200)
    big = weights.from_sparse(np.kron(np.eye(2), W.sparse.toarray()))
    exact = _oracle(sim.frame, "y", ["x1", "x2"], big, "lag")
    np.testing.assert_allclose(fit.loo(method="exact").loo_i.values, exact, atol=1e-4)
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    exact = _oracle(df, "CRIME", ["INC", "HOVAL"], data.W, "lag")
    fit = bsp.fit("sar", "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=200, seed=0)
    np.testing.assert_allclose(fit.loo(method="exact").loo_i.values, exact, atol=1e-5)


def test_exact_loo_compare_round_trip_and_where_it_does_not_apply(panel, tmp_path):
    W = weights.lattice(5, 5).row_standardize()
    sim = simulate("sar", W, beta=(1.0, -0.5), rho=0.5, fe="none", intercept=1.0, seed=2)
    fits = {
        m: bsp.fit(m, "y ~ x1 + x2", sim.frame, W, unit="unit", draws=200) for m in ("sar", "sem")
    }
    table = bsp.compare(fits, method="exact")
    for m, f in fits.items():
        assert table.loc[m, "elpd_loo"] == pytest.approx(f.loo(method="exact").elpd_loo, abs=1e-9)
    back = bsp.load(fits["sar"].to_netcdf(tmp_path / "f.nc"))
    np.testing.assert_array_equal(
        back.loo(method="exact").loo_i.values, fits["sar"].loo(method="exact").loo_i.values
    )
    df, Wp = panel
    kw = {"unit": "unit", "time": "time", "fe": "unit", "draws": 50}
    dyn = bsp.fit("dsdm", "y ~ x1 + x2", df, Wp, **kw)
    with pytest.raises(ValueError, match="method='psis'"):
        dyn.loo(method="exact")


@pytest.mark.parametrize(("model", "kind"), [("sar", "lag"), ("sem", "error")])
@pytest.mark.parametrize("fe", ["unit", "time", "twoway"])
def test_exact_loo_with_fixed_effects_equals_the_dummy_variable_oracle(model, kind, fe):
    """Exact LOO on FE panels (no refits) against the marginal-likelihood ratio of the
    model with explicit effect dummies under flat priors, every parameter integrated
    out (dense, quadrature in rho/lam): the effects are re-estimated without y_it."""
    from bayespatial.priors.spec import Priors

    W = weights.lattice(4, 4).row_standardize()
    T, n = 3, W.n
    sim = simulate(model, W, T=T, beta=(1.0, -0.5), rho=0.4, lam=0.4, fe=fe, seed=3)
    fit = bsp.fit(model, "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", fe=fe, draws=50)
    y = sim.frame["y"].to_numpy()
    X = sim.frame[["x1", "x2"]].to_numpy()
    blocks = []
    if fe in ("unit", "twoway"):
        blocks.append(np.kron(np.ones((T, 1)), np.eye(n)))
    if fe in ("time", "twoway"):
        blocks.append(np.kron(np.eye(T), np.ones((n, 1)))[:, (fe == "twoway") :])
    D = np.column_stack(blocks)
    Wbig = np.kron(np.eye(T), W.sparse.toarray())
    prior = Priors().sigma2
    b0 = prior.scale_factor * (demean(y.reshape(T, n), fe) ** 2).sum() / fit.attrs["nobs"]
    w = np.linalg.eigvals(W.sparse.toarray()).real
    # with time effects the posterior of r does not vanish at r = 1 / w_max = 1 (the
    # log(1 - r) term cancels A's root there): trapezoid weights, last point near 1
    grid = np.linspace(1 / w.min(), 1 - 1e-6, 1001)[1:]
    log_w = np.log(np.gradient(grid) * np.r_[1, np.ones(grid.size - 2), 0.5])
    flat = D.shape[1] + X.shape[1]
    P0 = np.zeros((flat, flat))
    exact = _exact_loo(y, X, Wbig, kind, P0, flat, prior.shape, b0, grid, D, log_w)
    np.testing.assert_allclose(fit.loo(method="exact").loo_i.values, exact, atol=1e-4)


def test_fixed_effects_loo_does_not_beat_an_oracle_that_knows_every_effect(
    dense_fe_conditionals,
):
    """Unit-FE SAR on a 20 x 20 lattice, T = 5, rho 0.3, sigma 1 (the design where the
    old demeaned-data LOO came out 238 nats above what is possible). An oracle that
    knows rho, beta, sigma and all 400 unit effects scores sum_it log p(y_it | y_-it)
    with them; LOO must score less, since it estimates the effects from the other
    T - 1 periods and its neighbours. Its predictive variance is T / (T - 1) times the
    oracle's and unbiased, so the expected gap is n T log(T / (T - 1)) / 2 = 223 nats
    plus a few for the parameters, with sd about sqrt(n T) x 0.45 = 20 (per point
    (z_fe^2 - z_oracle^2) / 2 with corr(z) = sqrt(0.8)): measured 185. The bounds
    are 6 sd either side; the old demeaned-data LOO was 238 nats above the oracle."""
    W = weights.lattice(20, 20).row_standardize()
    T = 5
    sim = simulate("sar", W, T=T, beta=(1.0, -0.5), rho=0.3, fe="unit", seed=12)
    fit = bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", fe="unit")
    truth = sim.truth
    y = sim.frame["y"].to_numpy().reshape(T, W.n)
    X = sim.frame[["x1", "x2"]].to_numpy().reshape(T, W.n, 2)
    Z = np.concatenate([X, np.broadcast_to(truth["mu"], (T, W.n))[..., None]], axis=2)
    beta = np.r_[truth["beta"], 1.0]
    oracle = dense_fe_conditionals(y, Z, W.sparse.toarray(), 0.3, beta, 1.0, "lag", "none")
    loo = fit.loo()
    assert loo.loo_i.size == T * W.n
    assert 100 < oracle.sum() - loo.elpd_loo < 350
    assert 100 < oracle.sum() - fit.loo(method="exact").elpd_loo < 350


def test_an_event_dummy_skips_exact_loo_with_a_note_instead_of_failing():
    """A regressor non-zero for one unit-period has leverage 1: exact LOO is undefined
    there (the posterior without it is improper), so the fit says so and PSIS remains."""
    W = weights.lattice(5, 6).row_standardize()
    sim = simulate("sem", W, T=5, beta=(1.0, -0.5), lam=0.4, fe="twoway", seed=7)
    df = sim.frame.assign(event=0.0)
    df.loc[17, "event"] = 1.0
    fit = bsp.fit(
        "sem", "y ~ x1 + x2 + event", df, W, unit="unit", time="time", fe="twoway", draws=200
    )
    assert any("leverage 1" in note for note in fit.notes)
    with pytest.raises(ValueError, match="method='psis'"):
        fit.loo(method="exact")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplingWarning)  # the event's k is high
        assert np.isfinite(fit.loo().elpd_loo)


def test_time_effects_with_islands_are_refused():
    a = weights.lattice(4, 4).sparse.tolil()
    a[0, :] = 0
    a[:, 0] = 0
    W = weights.from_sparse(a.tocsr(), islands="keep").row_standardize(islands="keep")
    sim = simulate("sar", weights.lattice(4, 4).row_standardize(), T=3, fe="none", seed=1)
    with pytest.raises(bsp.WeightsError, match="islands"):
        bsp.fit("sem", "y ~ x1", sim.frame, W, unit="unit", time="time", fe="twoway")


def test_compare_refuses_different_outcomes_of_the_same_shape(panel):
    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 100}
    other = df.assign(y=df["y"] * 2)
    with pytest.raises(ValueError, match="same outcome"):
        bsp.compare(
            {
                "a": bsp.fit("sar", "y ~ x1", df, W, **kw),
                "b": bsp.fit("sar", "y ~ x1", other, W, **kw),
            }
        )

"""Pointwise log-likelihood plumbing (design, Durbin and dynamic terms, demeaning), LOO, compare."""

import numpy as np
import pytest
from scipy import stats

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.engine.crossprod import demean


@pytest.fixture(scope="module")
def panel():
    W = weights.lattice(6, 5).row_standardize()
    sim = simulate("sdm", W, T=4, beta=[1.0, -0.5], theta=[0.4, 0.2], rho=0.3, fe="twoway", seed=6)
    return sim.frame, W


def _dense(y, mean, Q):
    d = y - mean
    cm = mean - (Q @ d - np.diag(Q) * d) / np.diag(Q)
    return stats.norm(cm, 1 / np.sqrt(np.diag(Q))).logpdf(y)


@pytest.mark.parametrize(("model", "kind"), [("sdm", "lag"), ("sdem", "error"), ("slx", "none")])
def test_log_likelihood_equals_dense_conditionals_on_demeaned_data(panel, model, kind):
    df, W = panel
    fit = bsp.fit(model, "y ~ x1 + x2", df, W, unit="unit", time="time", fe="twoway", draws=50)
    ll = fit.log_likelihood().reshape(-1, 4, W.n)
    T, n = 4, W.n
    y = demean(df["y"].to_numpy().reshape(T, n), "twoway")
    X = df[["x1", "x2"]].to_numpy().reshape(T, n, 2)
    Wd = W.sparse.toarray()
    Z = demean(np.concatenate([X, np.einsum("ij,tjk->tik", Wd, X)], axis=2), "twoway")
    beta, theta = fit.draws("beta"), fit.draws("theta")
    r = fit.draws({"lag": "rho", "error": "lam"}[kind]) if kind != "none" else np.zeros(200)
    sigma = fit.draws("sigma")
    for d in (0, 77, 199):
        b = np.concatenate([beta[d], theta[d]])
        A = np.eye(n) - r[d] * Wd
        Q = A.T @ A / sigma[d] ** 2
        for t in range(T):
            mean = np.linalg.solve(A, Z[t] @ b) if kind == "lag" else Z[t] @ b
            np.testing.assert_allclose(ll[d, t], _dense(y[t], mean, Q), rtol=1e-9, atol=1e-12)


def test_dynamic_log_likelihood_conditions_on_lags():
    W = weights.lattice(5, 4).row_standardize()
    sim = simulate("dsdm", W, T=6, tau=0.4, rho=0.2, eta=0.1, fe="unit", seed=2)
    fit = bsp.fit(
        "dsdm", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", fe="unit", draws=50
    )
    ll = fit.log_likelihood()
    assert ll.shape == (4, 50, 5 * W.n)  # first period conditioned on
    assert np.isfinite(ll).all()


def test_loo_compare_and_round_trip(panel, tmp_path):
    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 500}
    fits = {m: bsp.fit(m, "y ~ x1 + x2", df, W, **kw) for m in ("sar", "sdm", "slx")}
    loo = fits["sdm"].loo()
    assert loo.loo_i.shape == (4 * W.n,)
    table = bsp.compare(fits)
    assert set(table.index) == {"sar", "sdm", "slx"}
    assert table["weight"].sum() == pytest.approx(1.0)
    assert table.index[0] == "sdm"  # the data are an SDM
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

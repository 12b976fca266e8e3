"""Dynamic spatial Durbin model: stability region, rejection, long-run effects, round trip."""

import warnings

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.engine.dynamic import spectral_radius, stationary


@pytest.fixture(scope="module")
def W():
    return weights.lattice(8, 7).row_standardize()


def test_stability_region_matches_dense_spectral_radius(W):
    """max |eig((I - rho W)^-1 (tau I + eta W))| equals the two-ends formula (1e-10)."""
    rng = np.random.default_rng(0)
    Wd = W.sparse.toarray()
    w_min, w_max = W.extreme_eigenvalues()
    eye = np.eye(W.n)
    for _ in range(30):
        tau, rho, eta = rng.uniform(-0.9, 0.9), rng.uniform(-0.8, 0.8), rng.uniform(-0.9, 0.9)
        B = np.linalg.solve(eye - rho * Wd, tau * eye + eta * Wd)
        dense = np.abs(np.linalg.eigvals(B)).max()
        assert spectral_radius(tau, rho, eta, w_min, w_max) == pytest.approx(dense, rel=1e-10)
        assert stationary(tau, rho, eta, w_min, w_max) == (dense < 1)


def test_simulator_refuses_the_study_values(W):
    """tau = 0.708, rho = 0.180, eta = 0.265 (the seed study) are not stationary."""
    with pytest.raises(bsp.WeightsError, match=r"tau \+ rho \+ eta < 1"):
        simulate("dsdm", W, T=10, tau=0.708, rho=0.180, eta=0.265)


@pytest.fixture(scope="module")
def dsdm(W):
    sim = simulate(
        "dsdm",
        W,
        T=15,
        beta=[1.0, -0.5],
        theta=[0.3, 0.2],
        tau=0.4,
        rho=0.2,
        eta=0.1,
        fe="twoway",
        seed=5,
    )
    fit = bsp.fit(
        "dsdm", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", fe="twoway", draws=500
    )
    return sim, fit


def test_dsdm_records_dynamic_parameters(dsdm, W):
    _, fit = dsdm
    post = fit.idata.posterior
    assert {"tau", "eta", "rho", "beta", "theta"} <= set(post.data_vars)
    assert fit.attrs["nobs"] == (W.n - 1) * (14 - 1)  # first period conditioned on
    # tau + rho + eta is about 0.63 +- 0.07 here, over 5 sd inside the bound of 1
    assert fit.attrs["p_stationary"] == 1.0
    assert fit.stationary_draws().all()
    table = fit.effects()
    assert set(table["horizon"]) == {"short", "long"}


def test_long_run_effects_match_dense_inverse(dsdm, W):
    _, fit = dsdm
    long = fit.effect_draws("long")
    short = fit.effect_draws("short")
    rho, tau, eta = fit.draws("rho"), fit.draws("tau"), fit.draws("eta")
    beta, theta = fit.draws("beta"), fit.draws("theta")
    Wd, eye = W.sparse.toarray(), np.eye(W.n)
    for i in range(0, rho.size, 173):
        lr = np.linalg.inv((1 - tau[i]) * eye - (rho[i] + eta[i]) * Wd)
        sr = np.linalg.inv(eye - rho[i] * Wd)
        for k, term in enumerate(["x1", "x2"]):
            for inv, got in ((lr, long), (sr, short)):
                S = inv @ (beta[i, k] * eye + theta[i, k] * Wd)
                assert got["direct"][term][i] == pytest.approx(np.trace(S) / W.n, rel=1e-8)
                assert got["total"][term][i] == pytest.approx(S.sum() / W.n, rel=1e-8)


@pytest.fixture(scope="module")
def near_unit_root(W):
    """tau + rho + eta = 0.99: fits with stationarity enforced and reported."""
    sim = simulate(
        "dsdm",
        W,
        T=12,
        beta=[1.0, -0.5],
        theta=[0.0, 0.0],
        tau=0.7,
        rho=0.2,
        eta=0.09,
        fe="none",
        seed=0,
    )
    args = ("dsdm", "y ~ x1 + x2", sim.frame, W)
    kw = {"unit": "unit", "time": "time", "fe": "none", "draws": 400, "seed": 2}
    return bsp.fit(*args, **kw), bsp.fit(*args, stationarity="report", **kw)


def test_rejection_near_the_boundary(near_unit_root):
    """Near a unit root (tau + rho + eta = 0.99): enforce keeps stable draws only; report
    gives P(stable | y) under the unrestricted posterior (here about 0.3)."""
    enforced, reported = near_unit_root
    assert enforced.stationary_draws().all()
    p = reported.attrs["p_stationary"]
    assert p == pytest.approx(reported.stationary_draws().mean())
    # same posterior before restriction: the acceptance rate estimates the same probability
    se = np.sqrt(p * (1 - p) / 1600) + np.sqrt(p * (1 - p) / enforced.attrs["p_stationary_draws"])
    assert abs(enforced.attrs["p_stationary"] - p) < 4 * se + 1e-9
    assert 0.05 < p < 0.95
    assert enforced.attrs["p_stationary_draws"] > 1600  # rejection drew more
    with pytest.warns(bsp.StationarityWarning, match="outside the stable region"):
        reported.effects()


def test_long_run_effects_diverge_outside_the_stable_region(near_unit_root, W):
    """A draw whose reduced form B = (I - rho W)^-1 (tau I + eta W) has a real eigenvalue
    >= 1 (dense eigvals) has a cumulative response that grows without bound: its long-run
    effects are +-inf with the sign of beta + theta; stable draws stay finite. The
    interval counts them, so with about 70% of the posterior there the upper limit of
    x1 (beta 1) is inf and the lower limit of x2 (beta -0.5) is -inf."""
    _, fit = near_unit_root
    long = fit.effect_draws("long")
    rho, tau, eta = fit.draws("rho"), fit.draws("tau"), fit.draws("eta")
    terms = [str(t) for t in fit.idata.posterior["term"].values]
    keep = [terms.index(t) for t in long["total"].columns]  # no intercept
    beta, theta = fit.draws("beta")[:, keep], fit.draws("theta")[:, keep]
    Wd, eye = W.sparse.toarray(), np.eye(W.n)
    for i in range(0, rho.size, 37):
        B = np.linalg.solve(eye - rho[i] * Wd, tau[i] * eye + eta[i] * Wd)
        unit_root = np.linalg.eigvals(B).real.max() >= 1
        for effect in ("direct", "indirect", "total"):
            got = long[effect].iloc[i].to_numpy()
            if unit_root:
                np.testing.assert_array_equal(got, np.sign(beta[i] + theta[i]) * np.inf)
            else:
                assert np.isfinite(got).all()
    with pytest.warns(bsp.StationarityWarning):
        table = fit.effects().query("horizon == 'long' and effect == 'total'")
    x1, x2 = (table[table.term == t].iloc[0] for t in ("x1", "x2"))
    assert x1["upper"] == np.inf
    assert np.isfinite(x1["lower"])
    assert x2["lower"] == -np.inf
    assert np.isfinite(x2["upper"])
    assert "outside the stable region" in x1["note"]


def test_dsdm_round_trip(dsdm, tmp_path):
    _, fit = dsdm
    back = bsp.load(fit.to_netcdf(tmp_path / "dsdm.nc"))
    assert back == fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert back.effects().equals(fit.effects())


@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")  # not checked here
def test_nuts_with_the_stability_constraint_matches_exact(dsdm, W, quantiles_agree):
    sim, exact = dsdm
    nuts = bsp.fit(
        "dsdm",
        "y ~ x1 + x2",
        sim.frame,
        W,
        unit="unit",
        time="time",
        fe="twoway",
        sampler="nuts",
        chains=2,
        draws=1000,
        seed=1,
    )
    assert nuts.stationary_draws().all()
    # from 4,000 exact draws of the unrestricted posterior, which is far from the bound
    assert nuts.attrs["p_stationary"] == exact.attrs["p_stationary"] == 1.0
    for name in ("rho", "tau", "eta", "sigma"):
        quantiles_agree(nuts.idata.posterior[name].values, exact.draws(name), name)


def test_a_root_at_the_smallest_eigenvalue_diverges_the_direct_effect_only(dsdm, W):
    """f(w) = (tau + eta w) / (1 - rho w) decreases in w when eta + rho tau < 0: on this
    bipartite lattice (w_min = -1) tau, rho, eta = 0.95, 0.3, -0.4 give f(-1) = 1.04 and
    f(1) = 0.79. The cumulative response then grows along the w_min eigenvector, which
    carries the direct effect (to sign(beta + theta w_min) inf; indirect the opposite)
    but not the total, which stays the dense (beta + theta) / (1 - tau - rho - eta)."""
    from bayespatial.models.arviz_io import shift_posterior
    from bayespatial.models.results import SpatialFit

    _, fit = dsdm
    assert fit.attrs["w_min"] == pytest.approx(-1.0, abs=1e-8)
    post = fit.idata.posterior
    target = {"tau": 0.95, "rho": 0.3, "eta": -0.4}
    moved = SpatialFit(
        shift_posterior(fit.idata, {k: v - post[k].values for k, v in target.items()}, {})
    )
    long = moved.effect_draws("long")
    beta, theta = moved.draws("beta")[0], moved.draws("theta")[0]
    Wd = W.sparse.toarray()
    M = np.linalg.inv(0.05 * np.eye(W.n) + 0.1 * Wd)  # (1 - tau) I - (rho + eta) W
    for j, term in enumerate(long["direct"].columns):
        assert long["direct"][term].iloc[0] == np.sign(beta[j] - theta[j]) * np.inf
        assert long["indirect"][term].iloc[0] == -np.sign(beta[j] - theta[j]) * np.inf
        dense_total = (M @ (beta[j] * np.eye(W.n) + theta[j] * Wd)).sum() / W.n
        assert long["total"][term].iloc[0] == pytest.approx(dense_total, rel=1e-8)


def test_equal_tailed_limits_with_diverging_draws():
    """With +-inf draws the limits are order statistics: inf exactly when more than
    (1 - ci) / 2 of the draws are inf."""
    from bayespatial.models.results import equal_tailed

    finite = np.arange(1.0, 101.0)
    assert equal_tailed(np.r_[finite, np.inf, np.inf], 0.95)[1] == 100.0  # 2 of 102: 2.0%
    assert equal_tailed(np.r_[finite, [np.inf] * 3], 0.95)[1] == np.inf  # 3 of 103: 2.9%
    assert equal_tailed(np.r_[[-np.inf] * 3, finite], 0.95)[0] == -np.inf
    np.testing.assert_allclose(equal_tailed(finite, 0.95), np.quantile(finite, [0.025, 0.975]))

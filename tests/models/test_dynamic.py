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

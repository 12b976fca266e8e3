"""Unbalanced panels: OLS and SLX with fixed effects on the observed cells.

Oracles: dummy-variable least squares (numpy lstsq on explicit unit and period
dummies) for the coefficients and degrees of freedom, the same model fitted with the
dummies in the formula for the exact leave-one-out densities, and a dense annihilator
for the pointwise log-likelihood.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.errors import ModelError, PanelError
from bayespatial.data.simulate import simulate
from bayespatial.models.config import FitConfig
from bayespatial.models.fit import prepare
from bayespatial.models.predictive import prior_predictive
from bayespatial.priors.spec import InverseGamma, Priors

VAGUE = Priors(sigma2=InverseGamma(1e-12, 1e-12))
"""A sigma^2 prior of negligible weight: its scale is set from var(y) after the effects,
which differs between the absorbed and the dummy fit; at 1e-12 that shifts nothing."""
KW = {"unit": "unit", "time": "time", "progress": False}


def _dummies(df: pd.DataFrame, fe: str) -> np.ndarray:
    cols = [np.zeros((len(df), 0))]
    if fe in ("unit", "twoway"):
        cols.append(pd.get_dummies(df["unit"]).to_numpy(dtype=float))
    if fe in ("time", "twoway"):
        cols.append(pd.get_dummies(df["time"]).to_numpy(dtype=float))
    return np.hstack(cols)


def _least_squares(df, X, fe):
    """Coefficients of X and the rank of the dummies, by lstsq on [X, dummies]."""
    D = _dummies(df, fe)
    coef = np.linalg.lstsq(np.hstack([X, D]), df["y"].to_numpy(), rcond=None)[0]
    return coef[: X.shape[1]], (np.linalg.matrix_rank(D) if D.shape[1] else 0)


def _estimate(model, formula, df, W, fe, durbin=None):
    """The least-squares estimate and N from the fit's own cross-products (`prepare`)."""
    config = FitConfig.build(
        model, formula, unit="unit", time="time", fe=fe, durbin=durbin, priors=None
    )
    *_, cp, _ = prepare(config, df, W)
    g, p = cp.gram, cp.p
    return np.linalg.solve(g[2 : 2 + p, 2 : 2 + p], g[2 : 2 + p, 0]), cp.nobs


@pytest.fixture(scope="module")
def unbalanced():
    """A 6 x 6 lattice over 8 periods with a quarter of the unit-periods missing."""
    W = weights.lattice(6, 6).row_standardize()
    sim = simulate("ols", W, T=8, beta=[1.0, -0.5], fe="twoway", seed=8)
    keep = np.random.default_rng(0).random(len(sim.frame)) < 0.75
    return sim.frame[keep].reset_index(drop=True), W


@pytest.mark.parametrize("fe", ["unit", "time", "twoway"])
def test_ols_equals_dummy_least_squares_and_its_exact_loo(unbalanced, fe):
    df, W = unbalanced
    X = df[["x1", "x2"]].to_numpy()
    want, rank = _least_squares(df, X, fe)
    got, nobs = _estimate("ols", "y ~ x1 + x2", df, W, fe)
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    assert nobs == len(df) - rank

    fit = bsp.fit("ols", "y ~ x1 + x2", df, W, fe=fe, priors=VAGUE, **KW)
    assert not any("dropped" in n for n in fit.notes)  # no cell is fitted exactly here
    terms = {"unit": " + C(unit)", "time": " + C(time)", "twoway": " + C(unit) + C(time)"}[fe]
    dummy = bsp.fit("ols", "y ~ x1 + x2" + terms, df, W, fe="none", priors=VAGUE, **KW)
    # exact LOO is deterministic: the absorbed effects and the explicit dummies agree
    np.testing.assert_allclose(
        fit.idata.constant_data["loo_exact"].values,
        dummy.idata.constant_data["loo_exact"].values,
        atol=1e-8,
    )
    # posterior: Student-t around least squares; 4 Monte Carlo se on the mean, 5% on the sd
    D, y = _dummies(df, fe), df["y"].to_numpy()
    XD = np.hstack([X, D])
    resid = y - XD @ np.linalg.lstsq(XD, y, rcond=None)[0]
    nu = len(df) - rank - 2
    MX = X - D @ np.linalg.lstsq(D, X, rcond=None)[0]
    sd = np.sqrt(np.diag(np.linalg.inv(MX.T @ MX)) * (resid @ resid) / (nu - 2))
    draws = fit.draws("beta")
    assert np.all(np.abs(draws.mean(0) - want) < 4 * sd / np.sqrt(len(draws)))
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.05)
    assert fit.attrs["nobs"] == len(df) - rank


def test_disconnected_design_counts_one_lost_degree_per_component():
    """Units 0-17 only in periods 0-3, units 18-35 only in 4-7 (with holes): two
    components of the unit-period graph, rank n_u + n_t - 2."""
    W = weights.lattice(6, 6).row_standardize()
    df = simulate("ols", W, T=8, beta=[1.0, -0.5], fe="twoway", seed=9).frame
    first = df["unit"].map({u: i for i, u in enumerate(W.ids)}) < 18
    early = df["time"].rank(method="dense") <= 4
    holes = np.random.default_rng(1).random(len(df)) < 0.15
    df = df[(first == early) & ~holes].reset_index(drop=True)
    X = df[["x1", "x2"]].to_numpy()
    want, rank = _least_squares(df, X, "twoway")
    assert rank == 36 + 8 - 2
    got, nobs = _estimate("ols", "y ~ x1 + x2", df, W, "twoway")
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    assert nobs == len(df) - rank
    fit = bsp.fit("ols", "y ~ x1 + x2", df, W, fe="twoway", **KW)
    assert any("2 connected component(s)" in n for n in fit.notes)
    assert np.isfinite(fit.idata.constant_data["loo_exact"].values).all()


def test_pointwise_log_likelihood_equals_the_dense_annihilator_and_survives_netcdf(
    unbalanced, tmp_path
):
    df, W = unbalanced
    fit = bsp.fit("ols", "y ~ x1 + x2", df, W, fe="twoway", draws=200, **KW)
    ll = fit.log_likelihood().reshape(-1, len(df))
    D = _dummies(df, "twoway")
    M = np.eye(len(df)) - D @ np.linalg.pinv(D)
    X, y = df[["x1", "x2"]].to_numpy(), df["y"].to_numpy()
    beta, sigma = fit.draws("beta"), fit.draws("sigma")
    for d in (0, 37, 511):
        Me = M @ (y - X @ beta[d])
        q = np.diag(M) / sigma[d] ** 2
        want = -0.5 * np.log(2 * np.pi) + 0.5 * np.log(q) - 0.5 * (Me / sigma[d] ** 2) ** 2 / q
        np.testing.assert_allclose(ll[d], want, atol=1e-10)
    labels = fit.obs_labels()
    assert labels == list(zip(df["unit"], df["time"], strict=True))  # period-major order kept
    path = tmp_path / "unbalanced.nc"
    fit.to_netcdf(path, log_likelihood=False)
    back = bsp.load(path)
    np.testing.assert_allclose(back.log_likelihood().reshape(ll.shape), ll, atol=1e-12)
    assert back.obs_labels() == labels
    assert abs(back.loo().elpd_loo - fit.loo().elpd_loo) < 1e-8


def _two_regions():
    """W of two 4 x 4 lattices without links between them (units a0..a15, b0..b15)."""
    block = weights.lattice(4, 4).sparse
    ids = [f"a{i}" for i in range(16)] + [f"b{i}" for i in range(16)]
    return weights.from_sparse(sp.block_diag([block, block]).tocsr(), ids).row_standardize()


def test_slx_where_w_x_is_defined_and_the_error_where_it_is_not():
    """Region b enters in period 3 and misses period 5: every observed cell has all its
    neighbours, so W x is defined and SLX equals least squares on [x, W x, dummies]."""
    W = _two_regions()
    df = simulate("slx", W, T=7, beta=[1.0, -0.5], theta=[0.4, 0.1], fe="twoway", seed=3).frame
    Wx = np.concatenate(  # W x on the full panel, period by period
        [W.sparse @ g[["x1", "x2"]].to_numpy() for _, g in df.groupby("time", sort=True)]
    )
    df = df.sort_values(
        ["time", "unit"],
        key=lambda c: c.map({u: i for i, u in enumerate(W.ids)}) if c.name == "unit" else c,
    ).reset_index(drop=True)
    df[["Wx1", "Wx2"]] = Wx
    late = df["unit"].str.startswith("b") & df["time"].isin(sorted(df["time"].unique())[:3])
    gap = df["unit"].str.startswith("b") & (df["time"] == sorted(df["time"].unique())[5])
    part = df[~late & ~gap].reset_index(drop=True)
    X = part[["x1", "x2", "Wx1", "Wx2"]].to_numpy()
    want, rank = _least_squares(part, X, "twoway")
    got, nobs = _estimate("slx", "y ~ x1 + x2", part, W, "twoway")
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    assert nobs == len(part) - rank
    fit = bsp.fit("slx", "y ~ x1 + x2", part, W, fe="twoway", **KW)
    assert fit.effects().query("term == 'x1' and effect == 'indirect'")["mean"].notna().all()

    holed = part.drop(index=part.index[(part["unit"] == "a5")][2]).reset_index(drop=True)
    with pytest.raises(
        PanelError,
        match=r"W x of the Durbin terms .* undefined for 4 observed.*neighbour unit=a5 has",
    ):
        bsp.fit("slx", "y ~ x1 + x2", holed, W, fe="twoway", **KW)
    # OLS needs no W x: the same data fit
    bsp.fit("ols", "y ~ x1 + x2", holed, W, fe="twoway", draws=100, **KW)


def test_spatial_families_and_student_errors_need_a_balanced_panel(unbalanced):
    df, W = unbalanced
    for model in ("sar", "sem", "sdm"):
        with pytest.raises(PanelError, match=r"unbalanced panel: .*'ols' and 'slx' accept"):
            bsp.fit(model, "y ~ x1 + x2", df, W, fe="twoway", **KW)
    with pytest.raises(ModelError, match="needs a balanced panel"):
        bsp.fit("ols", "y ~ x1 + x2", df, W, fe="twoway", errors="student_t", **KW)
    with pytest.raises(PanelError, match="unbalanced panel"):
        bsp.lm_tests(df, W, "y ~ x1 + x2", unit="unit", time="time", fe="twoway")


def test_cells_fitted_exactly_are_dropped_with_a_note(unbalanced):
    """A unit seen once is fitted by its own effect (M_ii = 0): dropped, said, and the
    estimate is that of least squares on all cells."""
    df, W = unbalanced
    one = df[df["unit"] == df["unit"].iloc[0]]
    df = pd.concat([df[df["unit"] != one["unit"].iloc[0]], one.iloc[:1]]).reset_index(drop=True)
    want, _ = _least_squares(df, df[["x1", "x2"]].to_numpy(), "twoway")
    fit = bsp.fit("ols", "y ~ x1 + x2", df, W, fe="twoway", draws=100, **KW)
    assert any("dropped 1 cell(s) that the twoway effects fit exactly" in n for n in fit.notes)
    assert fit.idata.observed_data["y"].size == len(df) - 1
    got, _ = _estimate("ols", "y ~ x1 + x2", df, W, "twoway")
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_prior_predictive_on_cells(unbalanced):
    df, W = unbalanced
    pp = prior_predictive(
        "ols",
        "y ~ x1 + x2",
        df,
        W,
        unit="unit",
        time="time",
        fe="twoway",
        priors=Priors(coef=bsp.priors.ZellnerG()),
        draws=20,
    )
    assert pp.y.shape == (20, len(df))


def test_large_two_way_effects_by_conjugate_gradients_fit_and_say_loo_is_unavailable(
    unbalanced, monkeypatch
):
    """With both factors above the dense solve's limit (forced here by a limit of 0) the
    effects are solved by conjugate gradients: the estimate is still least squares, and
    LOO, which needs each cell's leverage, is declined with the reason."""
    from bayespatial.engine import absorb

    df, W = unbalanced
    monkeypatch.setattr(absorb, "DIRECT_MAX", 0)
    want, _ = _least_squares(df, df[["x1", "x2"]].to_numpy(), "twoway")
    got, _ = _estimate("ols", "y ~ x1 + x2", df, W, "twoway")
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    fit = bsp.fit("ols", "y ~ x1 + x2", df, W, fe="twoway", draws=100, **KW)
    assert any(n.startswith("LOO not available: the leverage") for n in fit.notes)
    assert "log_likelihood" not in fit.idata.groups()
    with pytest.raises(ValueError, match="one sparse solve per cell"):
        fit.loo()


def test_slx_log_likelihood_reads_the_stored_w_x(tmp_path):
    """An unbalanced SLX fit stores the design's W X (constant_data "WX"), from which a
    loaded fit recomputes the pointwise log-likelihood it stored; PSIS agrees with exact."""
    W = _two_regions()
    df = simulate("slx", W, T=6, beta=[1.0, -0.5], theta=[0.4, 0.1], fe="twoway", seed=4).frame
    b_early = df["unit"].str.startswith("b") & (df["time"] < sorted(df["time"].unique())[2])
    part = df[~b_early].reset_index(drop=True)
    fit = bsp.fit("slx", "y ~ x1 + x2", part, W, fe="twoway", **KW)
    assert fit.idata.constant_data["WX"].shape == (len(part), 2)
    stored = fit.log_likelihood()
    assert np.isfinite(stored).all()
    fit.to_netcdf(tmp_path / "slx.nc", log_likelihood=False)
    back = bsp.load(tmp_path / "slx.nc")
    np.testing.assert_allclose(back.log_likelihood(), stored, atol=1e-12)
    assert abs(fit.loo().elpd_loo - fit.loo(method="exact").elpd_loo) < 0.5

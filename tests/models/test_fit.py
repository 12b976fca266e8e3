"""``bsp.fit`` end to end: save and load, effects against dense algebra, bad input, warnings."""

import warnings

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.priors.spec import Normal, Priors, Uniform


@pytest.fixture(scope="module")
def sim():
    W = weights.lattice(7, 6).row_standardize()
    out = simulate("sdm", W, T=5, beta=[1.0, -0.5], theta=[0.5, 0.2], rho=0.4, fe="twoway", seed=11)
    return out.frame, W


@pytest.fixture(scope="module")
def sdm_fit(sim):
    df, W = sim
    return bsp.fit(
        "sdm", "y ~ x1 + x2", df, W, unit="unit", time="time", fe="twoway", draws=500, seed=1
    )


def test_fit_records_what_was_done(sdm_fit, sim):
    _, W = sim
    a = sdm_fit.attrs
    assert (a["model"], a["fe"], a["sampler"], a["logdet_method"]) == (
        "sdm",
        "twoway",
        "exact",
        "eigen",
    )
    assert a["W_fingerprint"] == W.fingerprint
    assert a["nobs"] == (W.n - 1) * (5 - 1)
    assert sdm_fit.durbin_terms == ["x1", "x2"]
    post = sdm_fit.idata.posterior
    assert post["beta"].dims == ("chain", "draw", "term")
    assert list(post["term"].values) == ["x1", "x2"]
    assert sdm_fit.idata.observed_data["y"].dims == ("time", "unit")
    assert set(sdm_fit.summary()["term"]) == {"x1", "x2", "W_x1", "W_x2", "rho", "sigma"}


def test_seed_reproduces_draws(sim, sdm_fit):
    df, W = sim
    again = bsp.fit(
        "sdm", "y ~ x1 + x2", df, W, unit="unit", time="time", fe="twoway", draws=500, seed=1
    )
    assert again.idata.posterior.equals(sdm_fit.idata.posterior)  # values; attrs hold timings


def test_netcdf_roundtrip_gives_an_equal_fit(sdm_fit, tmp_path):
    path = sdm_fit.to_netcdf(tmp_path / "fit.nc")
    back = bsp.load(path)
    assert back == sdm_fit
    pd.testing.assert_frame_equal(back.summary(), sdm_fit.summary())
    pd.testing.assert_frame_equal(back.effects(), sdm_fit.effects())
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temporary file


def test_cross_section_roundtrip(tmp_path):
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    fit = bsp.fit("sem", "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=200)
    assert fit.idata.observed_data["y"].dims == ("unit",)
    assert "W row-standardised (rows sum to one)" in fit.notes
    assert bsp.load(fit.to_netcdf(tmp_path / "sem.nc")) == fit


def test_effects_match_dense_inverse(sdm_fit, sim):
    """Direct/total per draw equal tr(S)/n and 1'S1/n with S = (I - rho W)^-1 (b I + t W)."""
    _, W = sim
    draws = sdm_fit.effect_draws()
    rho = sdm_fit.draws("rho")
    beta, theta = sdm_fit.draws("beta"), sdm_fit.draws("theta")
    Wd = W.sparse.toarray()
    eye = np.eye(W.n)
    for i in range(0, rho.size, 97):
        inv = np.linalg.inv(eye - rho[i] * Wd)
        for k, term in enumerate(["x1", "x2"]):
            S = inv @ (beta[i, k] * eye + theta[i, k] * Wd)
            direct, total = np.trace(S) / W.n, S.sum() / W.n
            assert draws["direct"][term][i] == pytest.approx(direct, rel=1e-8, abs=1e-12)
            assert draws["total"][term][i] == pytest.approx(total, rel=1e-8, abs=1e-12)
            assert draws["indirect"][term][i] == pytest.approx(total - direct, abs=1e-10)


def test_effects_of_models_without_a_multiplier(sim):
    df, W = sim
    fit = bsp.fit(
        "slx", "y ~ x1 + x2", df, W, unit="unit", time="time", fe="twoway", draws=200, seed=0
    )
    eff = fit.effect_draws()
    np.testing.assert_array_equal(eff["direct"].to_numpy(), fit.draws("beta"))
    np.testing.assert_array_equal(eff["indirect"].to_numpy(), fit.draws("theta"))
    table = fit.effects()
    assert list(table.columns) == ["term", "effect", "mean", "sd", "lower", "upper"]
    assert list(table["effect"][:3]) == ["direct", "indirect", "total"]


def test_durbin_subset_and_lags(sim):
    df, W = sim
    fit = bsp.fit(
        "sdm",
        "y ~ x1 + x2 + lag(x1, 1)",
        df,
        W,
        unit="unit",
        time="time",
        fe="unit",
        durbin=["x1"],
        drop_initial=1,
        draws=200,
    )
    assert fit.durbin_terms == ["x1"]
    assert list(fit.idata.posterior["term"].values) == ["x1", "x2", "lag(x1, 1)"]
    theta = fit.draws("theta")
    assert np.all(theta[:, 1:] == 0)  # not W-lagged: zero by constraint
    assert fit.idata.observed_data.sizes["time"] == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "sarr"}, bsp.ModelError, "unknown model"),
        ({"time": None, "fe": "twoway"}, bsp.ModelError, "needs a panel"),
        ({"unit": None}, bsp.ModelError, "unit= is required"),
        ({"sampler": "gibbs"}, bsp.ModelError, "sampler"),
        ({"model": "sar", "durbin": ["x1"]}, bsp.ModelError, "no W-lagged"),
        (
            {"priors": Priors(coef=Normal(0, 1)), "sampler": "exact"},
            bsp.ModelError,
            "conjugate",
        ),
        ({"priors": Priors(spatial=Uniform(0.5, 2.0))}, ValueError, "valid interval"),
        ({"priors": Priors(coef={"x9": Normal(0, 1)})}, ValueError, "x9"),
        ({"formula": "y ~ x1 + nothere"}, bsp.PanelError, "nothere"),
        ({"draws": 0}, bsp.ModelError, "draws"),
    ],
)
def test_bad_input_raises_with_a_message(sim, kwargs, error, match):
    df, W = sim
    args = {
        "model": "sdm",
        "formula": "y ~ x1 + x2",
        "unit": "unit",
        "time": "time",
        "fe": "twoway",
        "draws": 50,
    }
    args.update(kwargs)
    with pytest.raises(error, match=match):
        bsp.fit(args.pop("model"), args.pop("formula"), df, W, **args)


def test_data_problems_name_the_row(sim):
    df, W = sim
    bad = df.copy()
    bad.loc[7, "x2"] = np.nan
    with pytest.raises(bsp.PanelError, match="x2"):
        bsp.fit("sar", "y ~ x1 + x2", bad, W, unit="unit", time="time", fe="twoway")
    with pytest.raises(bsp.WeightsError):
        bsp.fit("sar", "y ~ x1", df, W.sparse, unit="unit", time="time")
    with pytest.raises(bsp.PanelError, match="unbalanced"):
        bsp.fit("sar", "y ~ x1", df.drop(index=3), W, unit="unit", time="time")


def test_non_conjugate_prior_switches_to_nuts_and_says_so(sim):
    df, W = sim
    tight = Priors(coef={"x1": Normal(0.0, 0.01)})
    warnings.simplefilter("ignore", bsp.SamplingWarning)
    with pytest.warns(bsp.SamplerChoiceWarning, match="not conjugate"):
        fit = bsp.fit(
            "sar",
            "y ~ x1 + x2",
            df,
            W,
            unit="unit",
            time="time",
            fe="twoway",
            priors=tight,
            chains=2,
            draws=300,
            warmup=300,
        )
    assert fit.attrs["sampler"] == "nuts"
    x1 = fit.draws("beta")[:, 0]
    assert abs(x1.mean()) < 4 * 0.01  # the N(0, 0.01^2) prior dominates the truth 1.0


def test_short_nuts_run_warns_with_advice(sim):
    df, W = sim
    with pytest.warns(bsp.SamplingWarning, match="bulk ESS < 400"):
        bsp.fit(
            "sem",
            "y ~ x1 + x2",
            df,
            W,
            unit="unit",
            time="time",
            fe="twoway",
            sampler="nuts",
            chains=1,
            draws=40,
            warmup=100,
        )

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
    table = sdm_fit.summary().set_index("term")
    assert set(table.index) == {"x1", "x2", "W_x1", "W_x2", "rho", "sigma", "sigma2"}
    s2 = sdm_fit.draws("sigma") ** 2
    assert table.loc["sigma2", "mean"] == pytest.approx(s2.mean(), rel=1e-12)
    assert table.loc["sigma2", "upper"] == pytest.approx(np.quantile(s2, 0.975), rel=1e-12)
    # exact sampler: independent draws, reported as such rather than estimated
    assert (table["ess_bulk"] == s2.size).all()


def test_log_likelihood_is_stored_so_arviz_works_on_a_plain_fit(sdm_fit, tmp_path):
    import warnings

    import arviz as az

    ll = sdm_fit.idata.log_likelihood["y"]
    assert ll.dims == ("chain", "draw", "obs")
    fresh = np.concatenate(sdm_fit.log_likelihood(reduce=np.asarray))  # recomputed, streamed
    np.testing.assert_allclose(ll.values.reshape(fresh.shape), fresh, rtol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # ArviZ's own k-hat note, if any
        ref = az.loo(sdm_fit.idata)
    assert sdm_fit.loo().elpd_loo == pytest.approx(ref.elpd_loo, abs=1e-8)
    back = bsp.load(sdm_fit.to_netcdf(tmp_path / "fit.nc"))
    assert "log_likelihood" in back.idata.groups()
    lean = bsp.load(sdm_fit.to_netcdf(tmp_path / "lean.nc", log_likelihood=False))
    assert "log_likelihood" not in lean.idata.groups()
    assert lean.loo().elpd_loo == pytest.approx(sdm_fit.loo().elpd_loo, abs=1e-9)


def test_fe_spellings_of_other_packages_are_aliases(sim, sdm_fit):
    df, W = sim
    kw = {"unit": "unit", "time": "time", "draws": 500, "seed": 1}
    for alias in ("twoways", "both"):
        again = bsp.fit("sdm", "y ~ x1 + x2", df, W, fe=alias, **kw)
        assert again.attrs["fe"] == "twoway"
        np.testing.assert_allclose(again.draws("rho"), sdm_fit.draws("rho"), rtol=1e-12)
    with pytest.raises(bsp.ModelError, match="'individual' = 'unit'"):
        bsp.fit("sdm", "y ~ x1 + x2", df, W, fe="fixed", **kw)


def test_weights_read_already_row_standardised_are_recognised(sim):
    from bayespatial.data import weights

    df, W = sim
    plain = weights.from_sparse(W.sparse, ids=W.ids)  # labelled "raw", rows sum to one
    assert plain.transform == "raw"
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 50}
    fit = bsp.fit("sar", "y ~ x1", df, plain, **kw)
    assert not any("standardised" in note for note in fit.notes)
    np.testing.assert_allclose(
        fit.draws("rho"), bsp.fit("sar", "y ~ x1", df, W, **kw).draws("rho"), rtol=1e-12
    )


def test_seed_reproduces_draws(sim, sdm_fit):
    df, W = sim
    again = bsp.fit(
        "sdm", "y ~ x1 + x2", df, W, unit="unit", time="time", fe="twoway", draws=500, seed=1
    )
    # the same draws; the last bits (3e-15) can move when other JAX work ran in between
    # in the process (measured: one eager init_basis call between two fits)
    for name in ("rho", "sigma", "beta", "theta"):
        np.testing.assert_allclose(again.draws(name), sdm_fit.draws(name), rtol=1e-12, atol=1e-14)


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
    assert list(table.columns) == ["term", "effect", "mean", "sd", "lower", "upper", "note"]
    assert list(table["effect"][:3]) == ["direct", "indirect", "total"]
    assert (table["note"] == "").all()  # slx: every term W-lagged, theta is the spillover


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
        draws=2000,
    )
    assert fit.durbin_terms == ["x1"]
    assert list(fit.idata.posterior["term"].values) == ["x1", "x2", "lag(x1, 1)"]
    theta = fit.draws("theta")
    assert np.all(theta[:, 1:] == 0)  # not W-lagged: zero by constraint
    assert fit.idata.observed_data.sizes["time"] == 4
    # the same model with the columns built by hand: W x1 and x1 one period earlier,
    # first period dropped; both exact samplers target one posterior (4 MC se)
    n = W.n
    frame = df.sort_values(["time", "unit"]).reset_index(drop=True)
    x1 = frame["x1"].to_numpy().reshape(5, n)
    frame["W_x1"] = (x1 @ W.sparse.toarray().T).ravel()
    frame["x1_lag1"] = np.r_[np.full(n, np.nan), x1[:-1].ravel()]
    frame = frame[frame["time"] > 0]
    hand = bsp.fit(
        "sar",
        "y ~ x1 + x2 + x1_lag1 + W_x1",
        frame,
        W,
        unit="unit",
        time="time",
        fe="unit",
        draws=2000,
    )
    ref = fit
    pairs = [
        (ref.draws("rho"), hand.draws("rho")),
        (ref.draws("beta")[:, 2], hand.draws("beta")[:, 2]),
        (ref.draws("theta")[:, 0], hand.draws("beta")[:, 3]),
    ]
    for a, b in pairs:
        se = np.hypot(a.std(), b.std()) / np.sqrt(a.size)
        assert abs(a.mean() - b.mean()) < 4 * se


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
    with pytest.warns(bsp.SamplerChoiceWarning, match="not conjugate") as record:
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
    choice = [w for w in record if w.category is bsp.SamplerChoiceWarning]
    assert choice[0].filename == __file__  # the warning names the caller's line
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


@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_effects_with_an_island_equal_the_dense_impact_matrix(model):
    """A 5 x 5 lattice whose corner unit has no neighbours (islands='keep'): W's rows do
    not all sum to one, so the total effect is not (beta + theta) / (1 - rho); per draw,
    direct = tr(S)/n and total = 1'S1/n of the dense S = (I - rho W)^-1 (beta I + theta W)."""
    import pandas as pd

    from bayespatial.data import weights

    a = weights.lattice(5, 5).sparse.tolil()
    a[0, :] = 0
    a[:, 0] = 0
    W = weights.from_sparse(a.tocsr(), islands="keep").row_standardize(islands="keep")
    rng = np.random.default_rng(0)
    x = rng.normal(size=W.n)
    Wd = W.sparse.toarray()
    y = np.linalg.solve(np.eye(W.n) - 0.5 * Wd, 1.0 + x + 0.3 * Wd @ x + rng.normal(size=W.n))
    df = pd.DataFrame({"id": list(W.ids), "y": y, "x": x})
    fit = bsp.fit(model, "y ~ x", df, W, unit="id", draws=100)
    eff = fit.effect_draws()
    rho, beta = fit.draws("rho"), fit.draws("beta")[:, 1]
    theta = fit.draws("theta")[:, 1] if model == "sdm" else np.zeros_like(beta)
    for d in (0, 57, 399):
        S = np.linalg.solve(np.eye(W.n) - rho[d] * Wd, beta[d] * np.eye(W.n) + theta[d] * Wd)
        assert eff["direct"]["x"][d] == pytest.approx(np.trace(S) / W.n, rel=1e-9)
        assert eff["total"]["x"][d] == pytest.approx(S.sum() / W.n, rel=1e-9)
    naive = (beta + theta) / (1 - rho)
    assert np.all(np.abs(eff["total"]["x"].to_numpy() - naive) > 1e-3)


def test_error_model_effects_say_where_spillovers_are_zero_by_construction(sim):
    df, W = sim
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 200}
    sem = bsp.fit("sem", "y ~ x1 + x2", df, W, **kw).effects().set_index(["term", "effect"])
    assert sem.loc[("x1", "indirect"), "sd"] == 0
    assert "no spillover of x1 in sem" in sem.loc[("x1", "indirect"), "note"]
    assert sem.loc[("x1", "direct"), "note"] == ""
    fit = bsp.fit("sdem", "y ~ x1 + x2", df, W, durbin=["x1"], **kw)
    sdem = fit.effects().set_index(["term", "effect"])
    theta = fit.draws("theta")[:, 0]
    assert sdem.loc[("x1", "indirect"), "mean"] == pytest.approx(theta.mean(), rel=1e-12)
    assert sdem.loc[("x1", "indirect"), "note"] == ""
    assert "no spillover of x2 in sdem" in sdem.loc[("x2", "indirect"), "note"]


_NO_X64 = """
import json, sys
import jax
assert not jax.config.jax_enable_x64
import numpy as np
import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
W = weights.lattice(8, 8).row_standardize()
sim = simulate("sar", W, T=3, beta=(1.0, -0.5), rho=0.4, fe="none", intercept=1000.0, seed=3)
fit = bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", sampler="nuts",
              chains=1, draws=100, warmup=100, seed=0, progress=False)
print(json.dumps({k: fit.draws(k).tolist() for k in ("rho", "sigma", "beta")}))
"""


def test_numerics_are_float64_without_the_callers_x64_switch():
    """A fresh process that never enables x64 gets the same NUTS draws as this one
    (x64 on): the fit runs in float64 either way (float32 moved a SAR with y ~ 1000
    by 194 posterior sd)."""
    import json
    import os
    import subprocess
    import sys
    import warnings

    env = {**os.environ, "JAX_ENABLE_X64": "0", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", _NO_X64], env=env, capture_output=True, text=True, check=True
    )
    fresh = json.loads(out.stdout.strip().splitlines()[-1])
    from bayespatial.data import weights

    W = weights.lattice(8, 8).row_standardize()
    sim = simulate("sar", W, T=3, beta=(1.0, -0.5), rho=0.4, fe="none", intercept=1000.0, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplingWarning)  # 100 draws: not what is checked
        fit = bsp.fit(
            "sar",
            "y ~ x1 + x2",
            sim.frame,
            W,
            unit="unit",
            time="time",
            sampler="nuts",
            chains=1,
            draws=100,
            warmup=100,
            seed=0,
            progress=False,
        )
    for k in ("rho", "sigma", "beta"):
        np.testing.assert_allclose(np.asarray(fresh[k]), fit.draws(k), rtol=1e-9)

"""Staggered DID: the imputation estimator and TWFE against their frequentist references.

References on the same simulated panels: diff-diff's ``ImputationDiD`` (Borusyak,
Jaravel & Spiess 2024) and pyfixest's ``did2s`` (Gardner two-stage: the same point
estimates), pyfixest ``feols`` for the TWFE regressions, diff-diff's
``BaconDecomposition``. With the reference prior the posterior means are those point
estimates; the draws' means sit within Monte Carlo error of them (tolerance 5 Monte
Carlo se, sd / sqrt(draws), since the draws are independent).
"""

import json
import warnings

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from diff_diff import BaconDecomposition, ImputationDiD

import bayespatial as bsp
from bayespatial.data.errors import DIDWarning, ModelError, PanelError
from bayespatial.data.simulate_did import simulate_staggered

KW = {"unit": "unit", "time": "time", "treat": "adopt", "progress": False}
S = 4000  # chains * draws of the default fit


def _close(table, ref, sd_col="sd"):
    """Posterior means within 5 Monte Carlo se of the reference values (aligned rows)."""
    gap = np.abs(table["mean"].to_numpy() - np.asarray(ref, dtype=float))
    assert np.all(gap < 5 * table[sd_col].to_numpy() / np.sqrt(S)), (gap, table)


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(n_units=90, n_periods=10, confound=0.15, seed=11).frame


@pytest.fixture(scope="module")
def bjs(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = ImputationDiD(pretrends=True)
        res = est.fit(panel, outcome="y", unit="unit", time="time", first_treat="adopt",
                      covariates=["x1"])  # fmt: skip
        return {
            "overall": res.overall_att,
            "cohort": res.aggregate("group").to_dataframe(),
            "event": res.aggregate("event_study").to_dataframe(),
            "pretrend": res.pretrend_test(),
        }


@pytest.fixture(scope="module")
def imputed(panel):
    return bsp.fit("did", "y ~ x1", panel, None, **KW)


def test_imputation_equals_diff_diff_imputation(imputed, bjs):
    _close(imputed.att(), [bjs["overall"]])
    cohort = imputed.att(by="cohort")
    ref = bjs["cohort"].set_index("label")["att"]
    assert list(cohort["key"]) == [4, 7]
    _close(cohort, ref.loc[cohort["key"]].to_numpy())
    event = imputed.att(by="event")
    ref = bjs["event"].set_index("event_time")
    ref = ref[~ref["is_reference"]]
    assert sorted(event["key"]) == sorted(ref.index)  # post periods and the leads e <= -2
    _close(event, ref.loc[event["key"], "att"].to_numpy())
    np.testing.assert_array_equal(event["n"], ref.loc[event["key"], "n"].to_numpy(dtype=int))


def test_imputation_equals_did2s(panel, imputed):
    d = panel.assign(
        D=panel["treated"], rel=np.where(panel.adopt > 0, panel.time - panel.adopt, -1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        static = pf.did2s(d, yname="y", first_stage="~ x1 | unit + time", second_stage="~ D",
                          treatment="D", cluster="unit")  # fmt: skip
        dyn = pf.did2s(d, yname="y", first_stage="~ x1 | unit + time",
                       second_stage="~ i(rel, ref=-1)", treatment="D", cluster="unit")  # fmt: skip
    _close(imputed.att(), [static.coef()["D"]])
    event = imputed.att(by="event").query("key >= 0")
    coef = dyn.coef()
    _close(event, [coef[f"rel::{e}"] for e in event["key"]])


def test_pretrend_equals_bjs_test_1(imputed, bjs):
    tests = imputed.pretrend().set_index("test")
    ref = bjs["pretrend"]
    assert (
        tests.loc["wald_cluster", "df1"] == ref["df"]
        or tests.loc["wald_cluster", "df1"] == ref["n_leads"]
    )
    # diff-diff counts one more parameter in the CR1 factor (N - 1)/(N - K): 0.3% apart
    np.testing.assert_allclose(tests.loc["wald_cluster", "statistic"], ref["f_stat"], rtol=0.01)
    assert 0 <= tests.loc["posterior", "p_value"] <= 1


def test_twfe_equals_feols_and_bacon(panel):
    tw = bsp.fit("did", "y ~ x1", panel, None, estimator="twfe", **KW)
    d = panel.assign(
        D=panel["treated"], rel=np.where(panel.adopt > 0, panel.time - panel.adopt, -1)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        static = pf.feols("y ~ D + x1 | unit + time", data=d)
        dyn = pf.feols("y ~ i(rel, ref=-1) + x1 | unit + time", data=d)
    _close(tw.att(), [static.coef()["D"]])
    # the posterior sd is the classical homoskedastic se (t posterior with dof - 2 scaling)
    np.testing.assert_allclose(tw.att()["sd"].iloc[0], static.se()["D"], rtol=0.05)
    event = tw.att(by="event")
    _close(event, [dyn.coef()[f"rel::{e}"] for e in event["key"]])
    plain = bsp.fit("did", "y ~ 1", panel, None, estimator="twfe", **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = BaconDecomposition().fit(panel, "y", "unit", "time", "adopt")
    table = plain.bacon()
    mine = table.set_index(["type", "treated", "control"])["weight"]
    theirs = ref.to_dataframe().replace({"never_treated": "never"})
    theirs = theirs.set_index(["comparison_type", "treated_group", "control_group"])["weight"]
    theirs.index = [(a, b, "never" if c == "never" else int(c)) for a, b, c in theirs.index]
    mine.index = [(a, int(b), c if c == "never" else int(c)) for a, b, c in mine.index]
    np.testing.assert_allclose(
        mine.sort_index().to_numpy(), theirs.sort_index().to_numpy(), rtol=1e-10
    )
    np.testing.assert_allclose(
        (table["weight"] * table["estimate"]).sum(), ref.twfe_estimate, rtol=1e-10
    )
    with pytest.raises(ModelError, match="cohort"):
        plain.att(by="cohort")


def test_uncertainty_mean_is_narrower_by_the_cells_noise(imputed):
    pred, mean = imputed.att(), imputed.att(uncertainty="mean")
    _close(mean, pred["mean"].to_numpy(), sd_col="sd")
    assert mean["sd"].iloc[0] < pred["sd"].iloc[0]
    # the gap is sigma^2 / n (equal weights over n cells): up to Monte Carlo error of the variances
    sigma2 = np.mean(imputed.draws("sigma") ** 2)
    gap = pred["sd"].iloc[0] ** 2 - mean["sd"].iloc[0] ** 2
    n = pred["n"].iloc[0]
    assert abs(gap - sigma2 / n) < 5 * np.sqrt(2 / S) * pred["sd"].iloc[0] ** 2


def test_indicator_treatment_and_unbalanced_panel(panel, imputed):
    by_indicator = bsp.fit("did", "y ~ x1", panel, None, **{**KW, "treat": "treated"},
                           treat_kind="indicator")  # fmt: skip
    pd.testing.assert_frame_equal(by_indicator.att("event"), imputed.att("event"))
    rng = np.random.default_rng(0)
    holes = panel.drop(index=rng.choice(panel.index, size=40, replace=False))
    fit = bsp.fit("did", "y ~ x1", holes, None, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ImputationDiD().fit(holes, outcome="y", unit="unit", time="time",
                                  first_treat="adopt", covariates=["x1"])  # fmt: skip
    _close(fit.att(), [ref.overall_att])


def test_save_and_load(tmp_path, imputed):
    imputed.to_netcdf(tmp_path / "did.nc")
    back = bsp.load(tmp_path / "did.nc")
    assert back == imputed
    pd.testing.assert_frame_equal(back.att("cohort"), imputed.att("cohort"))
    pd.testing.assert_frame_equal(back.pretrend(), imputed.pretrend())
    cells = back.cell_effects()
    assert len(cells) == int(imputed.att()["n"].iloc[0])
    with pytest.raises(ModelError, match="LOO"):
        back.loo()


# ---------------------------------------------------------------- edge cases
def test_adoption_varying_within_unit_names_the_units(panel):
    bad = panel.copy()
    bad.loc[(bad.unit == 3) & (bad.time == 2), "adopt"] = 5
    with pytest.raises(PanelError, match=r"varies within 1 unit\(s\): 3"):
        bsp.fit("did", "y ~ x1", bad, None, **KW)
    off = panel.copy()
    unit = off.loc[off.treated == 1, "unit"].iloc[0]
    off.loc[(off.unit == unit) & (off.time == off.time.max()), "treated"] = 0
    with pytest.raises(PanelError, match="absorbing"):
        bsp.fit("did", "y ~ x1", off, None, **{**KW, "treat": "treated"}, treat_kind="indicator")


def test_cohort_treated_in_the_first_period_is_left_out_with_a_warning(panel):
    df = panel.copy()
    df.loc[df.unit.isin([0, 1, 2]), "adopt"] = 1
    with pytest.warns(DIDWarning, match=r"3 unit\(s\) have no untreated period.*cohort\(s\) 1"):
        fit = bsp.fit("did", "y ~ x1", df, None, **KW)
    assert 1 not in set(fit.att("cohort")["key"])
    assert any("no identified counterfactual" in n for n in fit.notes)


def test_without_never_treated_only_not_yet_treated_controls():
    df = simulate_staggered(n_units=80, n_periods=10, cohorts={4: 0.5, 8: 0.5}, seed=3).frame
    assert (df.adopt > 0).all()
    with pytest.warns(DIDWarning, match=r"period\(s\) 8, 9, 10 have no control unit"):
        fit = bsp.fit("did", "y ~ x1", df, None, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ImputationDiD().fit(df, outcome="y", unit="unit", time="time", first_treat="adopt",
                                  covariates=["x1"])  # fmt: skip
    _close(fit.att(), [ref.overall_att])
    assert set(fit.att("period")["key"]) == {4, 5, 6, 7}
    tw = bsp.fit("did", "y ~ x1", df, None, estimator="twfe", **KW)
    assert -1 in json.loads(tw.attrs["event_reference"])
    assert len(json.loads(tw.attrs["event_reference"])) >= 2


def test_did_options_are_checked(panel):
    with pytest.raises(ModelError, match="treat="):
        bsp.fit("did", "y ~ x1", panel, None, unit="unit", time="time")
    with pytest.raises(ModelError, match="options of model 'did'"):
        bsp.fit("ols", "y ~ x1", panel, None, unit="unit", time="time", treat="adopt")
    with pytest.raises(ModelError, match="spatial weights"):
        bsp.fit("did", "y ~ x1", panel, None, spillover=True, **KW)
    with pytest.raises(ModelError, match="fe='twoway'"):
        bsp.fit("did", "y ~ x1", panel, None, fe="unit", **KW)
    with pytest.raises(PanelError, match="treat='nope' is not a column"):
        bsp.fit("did", "y ~ x1", panel, None, **{**KW, "treat": "nope"})
    with pytest.raises(PanelError, match="x_time_invariant"):
        bsp.fit("did", "y ~ x1 + x_time_invariant", panel.assign(x_time_invariant=panel.unit % 3),
                None, **KW)  # fmt: skip


# ---------------------------------------------------------------- spillovers
@pytest.fixture(scope="module")
def grid():
    W = bsp.weights.lattice(12, 12, kind="queen")
    df = simulate_staggered(
        n_units=144, n_periods=10, cohorts={4: 0.12, 7: 0.12}, W=W, spill=0.8, seed=2
    ).frame
    xy = np.array([(i // 12, i % 12) for i in range(144)], dtype=float)
    return W, df.assign(cx=xy[df.unit, 0], cy=xy[df.unit, 1]), xy


def _dense_imputation(df, control, targets):
    """Least squares with unit and period dummies on the control rows; weighted means of
    y - fitted over each target's rows (weights: a dict name -> (mask, weights))."""
    units, periods = np.sort(df.unit.unique()), np.sort(df.time.unique())
    D = np.column_stack(
        [df.unit.to_numpy()[:, None] == units, (df.time.to_numpy()[:, None] == periods)[:, 1:]]
    ).astype(float)
    b, *_ = np.linalg.lstsq(D[control], df.y.to_numpy()[control], rcond=None)
    tau = df.y.to_numpy() - D @ b
    return {name: np.sum(w * tau[m]) for name, (m, w) in targets.items()}


def _exposure(W, df, kind="any"):
    dense = W.sparse.toarray()
    T = df.time.nunique()
    D = df.pivot(index="time", columns="unit", values="treated").to_numpy()
    if kind == "share":
        S = D @ (dense / dense.sum(axis=1, keepdims=True)).T
    else:
        S = (D @ (dense != 0).T > 0).astype(float)
    assert S.shape == (T, len(W.ids))
    return S[df.time.to_numpy() - 1, df.unit.to_numpy()]


def test_spillover_equals_diff_diff_spillover(grid):
    from diff_diff import SpilloverDiD

    W, df, _ = grid
    fit = bsp.fit("did", "y ~ 1", df, W, spillover=True, **KW)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SpilloverDiD(rings=[0, 1.5], conley_coords=("cx", "cy"), conley_metric="euclidean")
        ref = ref.fit(df, outcome="y", unit="unit", time="time", first_treat="adopt")
    table = fit.att()
    assert list(table["effect"]) == ["direct", "spillover"]
    _close(table, [ref.att, ref.spillover_effects["coef"].iloc[0]])
    exposed = _exposure(W, df)
    control = (df.treated == 0).to_numpy() & (exposed == 0)
    assert table["n"].tolist() == [
        int(df.treated.sum()),
        int(((df.treated == 0) & (exposed > 0)).sum()),
    ]
    assert fit.attrs["n_control"] == control.sum()


def test_share_exposure_and_rings_equal_dense_oracles(grid):
    W, df, xy = grid
    share = _exposure(W, df, "share")
    fit = bsp.fit("did", "y ~ 1", df, W, spillover="share", **KW)
    treated = (df.treated == 1).to_numpy()
    control = ~treated & (share == 0)
    sp_cells = ~treated & (share > 0)
    ref = _dense_imputation(
        df,
        control,
        {
            "direct": (treated, np.full(treated.sum(), 1 / treated.sum())),
            "spillover": (sp_cells, share[sp_cells] / np.sum(share[sp_cells] ** 2)),
        },
    )
    _close(fit.att(), [ref["direct"], ref["spillover"]])
    ids = list(range(144))
    rings = [bsp.weights.distance_band(xy, d, ids=ids) for d in (1.5, 2.9)]
    with pytest.warns(DIDWarning, match="no control unit"):
        fit = bsp.fit("did", "y ~ 1", df, None, spillover=True, exposure=rings, **KW)
    r1, r2 = _exposure(rings[0], df), _exposure(rings[1], df)
    control = ~treated & (r2 == 0)
    # the oracle's periods without controls are left out as the fit does
    ok = df.time.isin(df.time[control].unique()).to_numpy()
    masks = {
        "direct": treated & ok,
        "spillover1": ~treated & (r1 > 0) & ok,
        "spillover2": ~treated & (r1 == 0) & (r2 > 0) & ok,
    }
    ref = _dense_imputation(
        df, control, {k: (m, np.full(m.sum(), 1 / m.sum())) for k, m in masks.items()}
    )
    table = fit.att()
    assert table["ring"].tolist() == [0, 1, 2]
    assert table["n"].tolist() == [int(m.sum()) for m in masks.values()]
    _close(table, list(ref.values()))
    tw = bsp.fit("did", "y ~ 1", df, None, spillover=True, exposure=rings, estimator="twfe", **KW)
    assert tw.att()["ring"].tolist() == [0, 1, 2]


def test_spatial_did_in_a_two_way_sdm_with_a_0_1_regressor():
    """The applied papers' spatial DID: D in a two-way FE SDM; direct and indirect effects of
    D against the truth of the simulated SDM (within 4 posterior sd)."""
    W = bsp.weights.lattice(10, 10, kind="queen")
    sim = simulate_staggered(n_units=100, n_periods=12, cohorts={4: 0.3, 8: 0.3}, tau0=1.0,
                             growth=0.0, cohort_gap=0.0, seed=7)  # fmt: skip
    df = sim.frame
    rng = np.random.default_rng(7)
    rho, beta, theta = 0.4, 1.0, 0.5
    A = np.eye(100) - rho * W.sparse.toarray()
    Wd = W.sparse.toarray()
    y = np.zeros(len(df))
    for t in df.time.unique():
        rows = (df.time == t).to_numpy()
        d = df.treated.to_numpy()[rows].astype(float)
        x = df.x1.to_numpy()[rows]
        rhs = beta * d + theta * Wd @ d + 0.5 * x + rng.normal(size=100) + rng.normal() + 0.1 * t
        y[rows] = np.linalg.solve(A, rhs)
    df = df.assign(y=y + np.repeat(rng.normal(size=100)[None], 12, axis=0).ravel(), D=df.treated)
    fit = bsp.fit("sdm", "y ~ D + x1", df, W, unit="unit", time="time", fe="twoway",
                  progress=False)  # fmt: skip
    eff = fit.effects().set_index(["term", "effect"])
    S = np.linalg.inv(A) @ (beta * np.eye(100) + theta * Wd)
    truth = {"direct": np.trace(S) / 100, "total": S.sum() / 100}
    truth["indirect"] = truth["total"] - truth["direct"]
    for kind, value in truth.items():
        row = eff.loc[("D", kind)]
        assert abs(row["mean"] - value) < 4 * row["sd"], (kind, row, value)


# ---------------------------------------------------------------- group ATTs
def test_group_atts_pooled_and_contrasted():
    df = simulate_staggered(n_units=200, n_periods=10, group_gap=0.5, seed=4).frame
    df["hub"] = np.where(df.group == 1, "hub", "non-hub")
    fit = bsp.fit("did", "y ~ x1", df, None, varying={"att": "hub"}, **KW)
    pooled = fit.att("group").set_index("key")
    separate = fit.att("group", pooled=False).set_index("key")
    assert list(pooled.index) == ["hub", "non-hub", "mu", "omega"]
    # two well-measured groups far apart: pooling moves them by little (less than 0.2 sd)
    gap = (pooled.loc[["hub", "non-hub"], "mean"] - separate["mean"]).abs()
    assert np.all(gap < 0.2 * separate["sd"]), gap
    # the separate group ATTs are the cells' imputation averages (dense oracle)
    cells = fit.cell_effects().merge(df[["unit", "time", "hub"]], on=["unit", "time"])
    _close(separate.reset_index(), cells.groupby("hub")["tau"].mean().to_numpy())
    c = fit.contrasts()
    assert c[["group_a", "group_b"]].values.tolist() == [["hub", "non-hub"]]
    assert c["p_greater"].iloc[0] > 0.99  # true gap 0.5 x the effect (about 1.2 sd apart ...)
    with pytest.raises(ModelError, match="varying=\\{'att': 'hub'\\}"):
        bsp.fit("did", "y ~ x1", df, None, varying={"x1": "hub"}, **KW)
    with pytest.raises(PanelError, match="constant within each unit"):
        bsp.fit("did", "y ~ x1", df.assign(hub=np.where(df.time > 5, "a", df.hub)), None,
                varying={"att": "hub"}, **KW)  # fmt: skip


def test_many_groups_with_one_effect_are_shrunk_together():
    df = simulate_staggered(n_units=240, n_periods=10, n_groups=8, group_sd=0.0, seed=9).frame
    fit = bsp.fit("did", "y ~ x1", df, None, varying={"att": "group"}, **KW)
    pooled = fit.att("group").set_index("key")
    separate = fit.att("group", pooled=False).set_index("key")
    groups = list(range(8))
    # shrinkage borrows strength: narrower on average (an outlying group may widen, as the
    # spread omega's uncertainty enters its interval)
    assert pooled.loc[groups, "sd"].mean() < separate.loc[groups, "sd"].mean()
    spread = lambda t: t.loc[groups, "mean"].std()  # noqa: E731
    # the groups differ only through their mix of cohorts and event times (true spread
    # about 0.15 here): the separate estimates scatter more, the pooled ones less
    truth = df[df.treated == 1].groupby("group").tau.mean()
    assert spread(pooled) < spread(separate)
    assert np.mean((pooled.loc[groups, "mean"] - truth) ** 2) < np.mean(
        (separate.loc[groups, "mean"] - truth) ** 2
    )


# ---------------------------------------------------------------- input forms (review)
def test_nan_means_never_treated_and_period_labels_of_any_type(panel, imputed):
    nan = bsp.fit("did", "y ~ x1", panel.assign(adopt=panel.adopt.replace(0, np.nan)), None, **KW)
    pd.testing.assert_frame_equal(nan.att("cohort"), imputed.att("cohort"))
    # periods as strings (sortable labels) and as dates: the same positions, the same ATTs
    label = {t: f"p{t:02d}" for t in range(1, 11)}
    text = panel.assign(time=panel.time.map(label), adopt=panel.adopt.map(label).fillna(""))
    fit = bsp.fit("did", "y ~ x1", text, None, **KW)
    pd.testing.assert_frame_equal(fit.att("event"), imputed.att("event"))
    dates = pd.to_datetime([f"{2000 + t}-01-01" for t in range(1, 11)])
    when = dict(zip(range(1, 11), dates, strict=True))
    dated = panel.assign(time=panel.time.map(when), adopt=panel.adopt.map(when))
    fit = bsp.fit("did", "y ~ x1", dated, None, **KW)
    np.testing.assert_allclose(fit.att()["mean"], imputed.att()["mean"])
    by_indicator = bsp.fit("did", "y ~ x1", dated, None, **{**KW, "treat": "treated"},
                           treat_kind="indicator")  # fmt: skip
    np.testing.assert_allclose(by_indicator.att()["mean"], imputed.att()["mean"])
    with pytest.raises(PanelError, match="not periods of column 'time'"):
        bsp.fit("did", "y ~ x1", text.assign(adopt=text.adopt.replace("p04", "p4")), None, **KW)


def test_indicator_from_period_zero_is_treated_not_never(panel):
    df = panel.assign(time=panel.time - 1)  # periods 0..9
    always = df.unit.isin(df.loc[df.adopt == 0, "unit"].unique()[:6])
    df.loc[always, "treated"] = 1
    with pytest.warns(DIDWarning, match=r"6 unit\(s\) have no untreated period"):
        fit = bsp.fit("did", "y ~ x1", df, None, **{**KW, "treat": "treated"},
                      treat_kind="indicator")  # fmt: skip
    assert fit.att()["n"].iloc[0] == int(panel.treated.sum())


def test_nothing_identified_is_an_error_not_a_crash():
    one = simulate_staggered(n_units=60, n_periods=8, cohorts={3: 1.0}, seed=1).frame
    with pytest.raises(ModelError, match="no treated cell has an identified counterfactual"):
        bsp.fit("did", "y ~ x1", one, None, **KW)
    with pytest.raises(ModelError, match="collinear with the unit and period effects"):
        bsp.fit("did", "y ~ x1", one, None, estimator="twfe", **KW)
    early = simulate_staggered(n_units=60, n_periods=8, seed=1).frame
    early = early.assign(adopt=np.where(early.adopt > 0, -3, 0))  # before the first period
    with pytest.raises(ModelError, match="no treated cell"):
        bsp.fit("did", "y ~ x1", early, None, **KW)


def test_options_of_other_families_are_refused(panel):
    with pytest.raises(ModelError, match="not options of model 'did'"):
        bsp.fit("did", "y ~ x1", panel, None, durbin=["x1"], **KW)
    with pytest.raises(ModelError, match="leads= sets the pre-trend check"):
        bsp.fit("did", "y ~ x1", panel, None, estimator="twfe", leads=2, **KW)
    with pytest.raises(ModelError, match="leads must be"):
        bsp.fit("did", "y ~ x1", panel, None, leads=True, **KW)
    fit = bsp.fit("did", "y ~ x1", panel, None, leads=np.int64(2), **KW)
    assert sorted(fit.att("event").query("key < 0")["key"]) == [-3, -2]

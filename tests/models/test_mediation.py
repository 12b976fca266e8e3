"""Mediation: the joint posterior of the mediator and outcome equations, its quantities.

Oracles: least squares with explicit two-way dummies (numpy) for the non-spatial
equations, whose flat-prior posterior means are the least-squares coefficients, so the
posterior mean of nie = a b is their product (a and b are independent a posteriori)
within Monte Carlo error (5 se of the mean of independent draws); dense matrices per
draw for the spatial composition of the mediator's and the outcome's multipliers.
"""

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp
from bayespatial.data.errors import ModelError

W = bsp.weights.lattice(12, 12, kind="queen")
N = 144
S = 4000


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(0)
    rows = []
    for t in range(5):
        x, c = rng.normal(size=N), rng.normal(size=N)
        m1 = 0.5 * x + 0.3 * c + rng.normal(size=N)
        m2 = -0.3 * x + rng.normal(size=N)
        y = -0.4 * x + 0.3 * m1 + 0.2 * m2 + 0.2 * c + rng.normal(size=N)
        rows.append(pd.DataFrame({"id": np.arange(N), "t": t, "x": x, "m1": m1, "m2": m2,
                                  "y": y, "c": c}))  # fmt: skip
    return pd.concat(rows, ignore_index=True)


KW = {"unit": "id", "time": "t", "fe": "twoway", "progress": False}


def _ls(df, formula_cols, y):
    D = np.column_stack(
        [df[formula_cols].to_numpy(), pd.get_dummies(df["id"]).to_numpy(float),
         pd.get_dummies(df["t"]).to_numpy(float)[:, 1:]]
    )  # fmt: skip
    return dict(
        zip(formula_cols, np.linalg.lstsq(D, df[y].to_numpy(), rcond=None)[0], strict=False)
    )


def test_ols_nie_is_the_product_of_least_squares_coefficients(panel):
    med = bsp.mediation(panel, W, treatment="x", mediator=["m1", "m2"], outcome="y",
                        controls=["c"], model="ols", **KW)  # fmt: skip
    a1 = _ls(panel, ["x", "c"], "m1")["x"]
    a2 = _ls(panel, ["x", "c"], "m2")["x"]
    out = _ls(panel, ["x", "m1", "m2", "c"], "y")
    table = med.effects().set_index(["quantity", "mediator"])
    expect = {
        ("nie", "m1"): a1 * out["m1"],
        ("nie", "m2"): a2 * out["m2"],
        ("nie", "all"): a1 * out["m1"] + a2 * out["m2"],
        ("nde", "all"): out["x"],
        ("te", "all"): out["x"] + a1 * out["m1"] + a2 * out["m2"],
    }
    for key, value in expect.items():
        row = table.loc[key]
        assert abs(row["mean"] - value) < 5 * row["sd"] / np.sqrt(S), (key, row, value)
    d = med.draws()
    np.testing.assert_allclose(
        d[("nie", "all", "effect")], d[("nie", "m1", "effect")] + d[("nie", "m2", "effect")]
    )
    sup = med.suppression().iloc[0]
    nie, nde = d[("nie", "all", "effect")], d[("nde", "all", "effect")]
    opposite = np.sign(nie) != np.sign(nde)
    assert sup["p_opposite"] == opposite.mean()
    assert sup["p_opposite"] > 0.5  # nie = 0.15 - 0.06 > 0 > nde = -0.4 in the simulation
    assert sup["share_median"] == np.median(np.abs(nie[opposite]) / np.abs(nde[opposite]))


def test_spatial_impacts_compose_the_two_multipliers(panel):
    med = bsp.mediation(panel, W, treatment="x", mediator="m1", outcome="y", controls=["c"],
                        model="sdm", **KW)  # fmt: skip
    d = med.draws()
    fm, fy = med.fits["m1"], med.fits["y"]
    Wd = W.row_standardize().sparse.toarray()
    eye = np.eye(N)

    def coef(fit, term, k):
        terms = [str(t) for t in fit.idata.posterior["term"].values]
        j = terms.index(term)
        return fit.draws("beta")[k, j], fit.draws("theta")[k, j]

    for k in (0, 17, 999):
        a, ta = coef(fm, "x", k)
        b, tb = coef(fy, "m1", k)
        c, tc = coef(fy, "x", k)
        Am = np.linalg.inv(eye - fm.draws("rho")[k] * Wd)
        Ay = np.linalg.inv(eye - fy.draws("rho")[k] * Wd)
        nie = Ay @ (b * eye + tb * Wd) @ Am @ (a * eye + ta * Wd)
        nde = Ay @ (c * eye + tc * Wd)
        for name, M in (("nie", nie), ("nde", nde)):
            direct, total = np.trace(M) / N, M.sum() / N
            np.testing.assert_allclose(d[(name, "all", "direct")][k], direct, rtol=1e-8)
            np.testing.assert_allclose(d[(name, "all", "total")][k], total, rtol=1e-8)
            np.testing.assert_allclose(
                d[(name, "all", "indirect")][k], total - direct, rtol=1e-7, atol=1e-12
            )
    table = med.effects()
    assert set(table["impact"]) == {"direct", "indirect", "total"}


def test_mediation_input_errors(panel):
    with pytest.raises(ModelError, match="mediation is available"):
        bsp.mediation(panel, W, treatment="x", mediator="m1", outcome="y", model="dsdm", **KW)
    with pytest.raises(ModelError, match=r"\['nope'\] not in the data"):
        bsp.mediation(panel, W, treatment="x", mediator="nope", outcome="y", **KW)
    with pytest.raises(ModelError, match="distinct columns"):
        bsp.mediation(panel, W, treatment="x", mediator="x", outcome="y", **KW)
    with pytest.raises(ModelError, match="needs the spatial weights"):
        bsp.mediation(panel, None, treatment="x", mediator="m1", outcome="y", model="sar", **KW)


def test_ols_without_weights_equals_ols_with_them(panel):
    """W=None for the non-spatial family: nothing reads W, the draws are the same."""
    kw = {"treatment": "x", "mediator": "m1", "outcome": "y", "controls": ["c"], **KW}
    with_w = bsp.mediation(panel, W, **kw)
    without = bsp.mediation(panel, None, **kw)
    pd.testing.assert_frame_equal(with_w.effects(), without.effects())
    fit = bsp.fit("ols", "y ~ x", panel, None, **KW)
    assert "no spatial weights (W=None)" in fit.notes
    assert bsp.fit("ols", "y ~ x", panel, W, **KW).summary().equals(fit.summary())
    with pytest.raises(bsp.WeightsError, match="needs W"):
        bsp.fit("sdm", "y ~ x", panel, None, **KW)


# ---------------------------------------------------------------- moderation
def test_marginal_effect_over_a_moderator(panel):
    from bayespatial.models.plots import marginal_effect_plot

    df = panel.assign(y=panel.y + 0.5 * panel.x * panel.c)
    fit = bsp.fit("ols", "y ~ x * c", df, W, **KW)
    at = [-1.0, 0.0, 2.0]
    table = fit.marginal_effect("x", at={"c": at})
    ls = _ls(df.assign(xc=df.x * df.c), ["x", "c", "xc"], "y")
    direct = table[table.effect == "direct"]
    expect = [ls["x"] + ls["xc"] * v for v in at]
    gap = np.abs(direct["mean"].to_numpy() - expect)
    assert np.all(gap < 5 * direct["sd"].to_numpy() / np.sqrt(S)), gap
    assert (table[table.effect == "indirect"]["mean"] == 0).all()
    import matplotlib.pyplot as plt

    plt.close(marginal_effect_plot(table, "x"))
    # a spatial lag model: the impacts of (I - rho W)^-1 (beta_x + beta_xc c) at each c,
    # against dense inverses of every draw (4 x 100 draws)
    sar = bsp.fit("sar", "y ~ x * c", df, W, draws=100, **KW)
    table = sar.marginal_effect("x", at={"c": at}).set_index(["c", "effect"])
    terms = [str(t) for t in sar.idata.posterior["term"].values]
    beta, rho = sar.draws("beta"), sar.draws("rho")
    Wd = W.row_standardize().sparse.toarray()
    inv = np.linalg.inv(np.eye(N)[None] - rho[:, None, None] * Wd[None])
    trace, total = np.trace(inv, axis1=1, axis2=2) / N, inv.sum(axis=(1, 2)) / N
    for v in at:
        b = beta[:, terms.index("x")] + beta[:, terms.index("x:c")] * v
        np.testing.assert_allclose(table.loc[(v, "direct"), "mean"], np.mean(b * trace), rtol=1e-8)
        np.testing.assert_allclose(table.loc[(v, "total"), "mean"], np.mean(b * total), rtol=1e-8)
    with pytest.raises(ValueError, match="no interaction"):
        fit.marginal_effect("x", at={"m1": [0.0]})


def test_ols_mediation_equals_statsmodels_mediation():
    """statsmodels' Mediation (Imai et al.'s quasi-Bayesian simulation from the estimates'
    sampling distribution) on a cross-section: the same ACME, ADE and total effect within
    the two Monte Carlo errors. Their spreads are not compared: statsmodels draws each
    observation's potential mediators M(1), M(0) with independent residual noise, which
    adds b^2 2 sigma_M^2 / n to its ACME's variance (a sample-average estimand)."""
    import statsmodels.api as sm
    from statsmodels.stats.mediation import Mediation as SMMediation

    rng = np.random.default_rng(3)
    n = 200
    x, c = rng.normal(size=n), rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + rng.normal(size=n)
    y = -0.4 * x + 0.3 * m + 0.2 * c + rng.normal(size=n)
    df = pd.DataFrame({"id": np.arange(n), "x": x, "c": c, "m": m, "y": y})
    np.random.seed(0)  # statsmodels draws from numpy's global generator
    ref = SMMediation(
        sm.OLS.from_formula("y ~ x + m + c", df), sm.OLS.from_formula("m ~ x + c", df), "x", "m"
    ).fit(n_rep=200)
    ours = bsp.mediation(df, None, treatment="x", mediator="m", outcome="y", controls=["c"],
                         unit="id", progress=False)  # fmt: skip
    table = ours.effects().set_index(["quantity", "mediator"])
    for key, theirs in (
        (("nie", "m"), ref.indirect_effects[0].mean(axis=0)),  # (arm, obs, rep)
        (("nde", "all"), ref.direct_effects[0].mean(axis=0)),
        (("te", "all"), ref.total_effect),
    ):
        row = table.loc[key]
        se = np.hypot(row["sd"] / np.sqrt(S), np.std(theirs) / np.sqrt(theirs.size))
        assert abs(row["mean"] - np.mean(theirs)) < 5 * se, (key, row, np.mean(theirs))


def test_mediation_by_group():
    """a varies by city size: each group's nie = a_g b_g from the equations' group draws, the
    overall rows their unit-weighted average; the groups' truth within 4 posterior sd."""
    rng = np.random.default_rng(5)
    n = 90
    size = np.repeat(["small", "medium", "large"], n // 3)
    a_of = {"small": 0.8, "medium": 0.5, "large": 0.2}
    a = np.array([a_of[s] for s in size])
    rows = []
    for t in range(5):
        x, c = rng.normal(size=n), rng.normal(size=n)
        m = a * x + 0.3 * c + rng.normal(size=n)
        y = -0.4 * x + 0.3 * m + 0.2 * c + rng.normal(size=n)
        rows.append(pd.DataFrame({"id": np.arange(n), "t": t, "x": x, "c": c, "m": m, "y": y,
                                  "size": size}))  # fmt: skip
    df = pd.concat(rows, ignore_index=True)
    med = bsp.mediation(df, None, treatment="x", mediator="m", outcome="y", controls=["c"],
                        varying="size", draws=300, **KW)  # fmt: skip
    by = med.effects_by_group().set_index(["quantity", "mediator", "group"])
    labels = [str(g) for g in med.fits["y"].idata.posterior["group"].values]
    fm, fy = med.fits["m"], med.fits["y"]
    names_m = [str(v) for v in fm.idata.posterior["varying"].values]
    names_y = [str(v) for v in fy.idata.posterior["varying"].values]
    ag = fm.draws("beta_group")[:, names_m.index("x"), :]
    bg = fy.draws("beta_group")[:, names_y.index("m"), :]
    for g, label in enumerate(labels):
        np.testing.assert_allclose(
            by.loc[("nie", "m", label), "mean"], np.mean(ag[:, g] * bg[:, g])
        )
        row = by.loc[("nie", "all", label)]
        assert abs(row["mean"] - a_of[label] * 0.3) < 4 * row["sd"], (label, row)
    overall = med.effects().set_index(["quantity", "mediator"]).loc[("nie", "all"), "mean"]
    np.testing.assert_allclose(overall, np.mean((ag * bg).mean(axis=1)))  # equal group sizes
    with pytest.raises(ModelError, match="composes group coefficients"):
        bsp.mediation(df, W, treatment="x", mediator="m", outcome="y", model="sar", varying="size",
                      **KW)  # fmt: skip


def test_moderated_mediation_index(panel):
    """First-stage moderation by c (x:c in the mediator equation): the index a3 b and the
    conditional indirect effects (a1 + a3 z) b equal the least-squares products within
    Monte Carlo error (independent a posteriori)."""
    rng = np.random.default_rng(8)
    df = panel.assign(m1=panel.m1 + 0.4 * panel.x * panel.c + 0.1 * rng.normal(size=len(panel)))
    med = bsp.mediation(df, None, treatment="x", mediator="m1", outcome="y",
                        controls=["c", "x:c"], **KW)  # fmt: skip
    table = med.moderated("c", at=[-1.0, 1.0]).set_index(["quantity", "c"], drop=False)
    lm = _ls(df.assign(xc=df.x * df.c), ["x", "c", "xc"], "m1")
    ly = _ls(df.assign(xc=df.x * df.c), ["x", "m1", "c", "xc"], "y")
    index = table[table["quantity"] == "index"].iloc[0]
    assert abs(index["mean"] - lm["xc"] * ly["m1"]) < 5 * index["sd"] / np.sqrt(S)
    for z in (-1.0, 1.0):
        row = table[(table["quantity"] == "conditional") & (table["c"] == z)].iloc[0]
        expect = (lm["x"] + lm["xc"] * z) * ly["m1"]
        assert abs(row["mean"] - expect) < 5 * row["sd"] / np.sqrt(S), (z, row, expect)
    with pytest.raises(ModelError, match="no x:t term"):
        med.moderated("t")

"""Tables of a ``varying=`` fit: group coefficients, contrasts, effects and turning points
by group, the pointwise log-likelihood, the netCDF round trip and bad input.

Oracles are independent of the fit's code paths: dense impact matrices
(I - rho W)^-1 (diag(beta_i) + W diag(theta_i)) per draw, the dense fixed-effects
leave-one-out formula (`tests/conftest.py`) on group columns built by loops, and the
draws themselves for shares and differences (exact identities, floating-point
tolerances).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.errors import BayespatialError
from bayespatial.engine.turning import summarise
from bayespatial.models import group_tables

T = 4
GROUPS = ("east", "west", "north")


@pytest.fixture(scope="module")
def panel():
    W = weights.lattice(7, 6, kind="queen").row_standardize()
    n = W.n
    rng = np.random.default_rng(11)
    region = rng.integers(0, 3, size=n)
    m = W.sparse.toarray()
    A = np.linalg.inv(np.eye(n) - 0.4 * m)
    b1 = np.array([2.0, 1.2, 1.6])[region]
    rows = []
    for t in range(T):
        x = rng.uniform(0, 3, size=n)
        z = rng.normal(size=n)
        y = A @ (b1 * x - 0.5 * x**2 + 0.3 * z + 0.2 * m @ z + 0.5 * rng.normal(size=n))
        region_names = [GROUPS[g] for g in region]
        rows.append(
            pd.DataFrame(
                {"id": list(W.ids), "t": t, "y": y, "x": x, "z": z, "region": region_names}
            )
        )
    return W, pd.concat(rows, ignore_index=True), region


@pytest.fixture(scope="module")
def fit(panel):
    W, df, _ = panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return bsp.fit(
            "sdm",
            "y ~ x + I(x ** 2) + z",
            df,
            W,
            unit="id",
            time="t",
            fe="unit",
            durbin=["z"],
            varying={"x": "region", "I(x ** 2)": "region"},
            progress=False,
        )


def test_varying_table_has_every_group_mu_omega_and_its_prior(fit, panel):
    _, _, region = panel
    table = fit.varying()
    assert list(table.columns) == [
        "term",
        "parameter",
        "group",
        "n_units",
        "mean",
        "sd",
        "lower",
        "upper",
    ]
    x = table[table.term == "x"]
    assert list(x.parameter) == ["beta"] * 3 + ["mu", "omega", "omega_prior"]
    labels = sorted(GROUPS)
    assert list(x.group[:3]) == labels
    want = {GROUPS[g]: int((region == g).sum()) for g in range(3)}
    assert dict(zip(x.group[:3], x.n_units[:3], strict=True)) == want
    assert set(table.term) == {"x", "I(x ** 2)"}  # z is W-lagged but does not vary
    draws = fit.draws("beta_group")[:, 0, labels.index("east")]
    row = x[x.group == "east"].iloc[0]
    assert row["mean"] == pytest.approx(draws.mean())
    assert (fit.draws("omega") > 0).all()


def test_contrasts_are_the_draws_differences(fit):
    table = fit.contrasts("x")
    assert len(table) == 3  # pairs of three groups
    labels = sorted(GROUPS)
    b = fit.draws("beta_group")[:, 0]
    for _, row in table.iterrows():
        diff = b[:, labels.index(row.group_a)] - b[:, labels.index(row.group_b)]
        assert row["mean"] == pytest.approx(diff.mean())
        assert row.p_greater == pytest.approx(np.mean(diff > 0))
    with pytest.raises(ValueError, match="does not vary"):
        fit.contrasts("z")


def test_effects_by_group_equal_the_dense_impacts_and_average_to_effects(fit, panel):
    W, _, region = panel
    m = W.sparse.toarray()
    n = W.n
    labels = sorted(GROUPS)
    of_unit = np.array([labels.index(GROUPS[g]) for g in region])
    by = fit.effects(by="region")
    draws = {
        "rho": fit.draws("rho"),
        "beta": fit.draws("beta_group"),
        "theta": fit.draws("theta"),
        "beta_z": fit.draws("beta"),
    }
    terms = [str(t) for t in fit.idata.posterior["term"].values]
    # direct and total effects of z (shared coefficient, W-lagged) and x (varying) by dense S
    for d in (0, 1500, 3999):
        M = np.linalg.inv(np.eye(n) - draws["rho"][d] * m)
        bx = draws["beta"][d, 0, of_unit]
        Sx = M @ np.diag(bx)
        bz, tz = draws["beta_z"][d, terms.index("z")], draws["theta"][d, terms.index("z")]
        Sz = M @ (bz * np.eye(n) + tz * m)
        eff = group_tables.effect_draws(fit, group_tables.groups(fit))
        for j in range(3):
            own = of_unit == j
            assert eff["direct"]["x"][d, j] == pytest.approx(np.diag(Sx)[own].mean(), rel=1e-9)
            assert eff["total"]["x"][d, j] == pytest.approx(Sx.sum(0)[own].mean(), rel=1e-9)
            assert eff["direct"]["z"][d, j] == pytest.approx(np.diag(Sz)[own].mean(), rel=1e-9)
            assert eff["total"]["z"][d, j] == pytest.approx(Sz.sum(0)[own].mean(), rel=1e-9)
    # the unit-weighted average of the groups' effects is the overall table
    overall = fit.effects().set_index(["term", "effect"])["mean"]
    share = by.groupby(["term", "effect"]).apply(
        lambda f: np.average(f["mean"], weights=f["n_units"]), include_groups=False
    )
    for key, value in share.items():
        assert overall[key] == pytest.approx(value, rel=1e-9)


def test_turning_point_by_group_uses_each_group_coefficients_and_range(fit, panel):
    _, df, _ = panel
    table = fit.turning_point("x", by="region")
    assert set(table.basis) == {"coef", "direct", "total"}
    labels = sorted(GROUPS)
    b = fit.draws("beta_group")
    for label in labels:
        row = table[(table.basis == "coef") & (table.group == label)].iloc[0]
        xs = df.loc[df.region == label, "x"]
        j = labels.index(label)
        want = summarise(b[:, 0, j], b[:, 1, j], float(xs.min()), float(xs.max()), 0.95)
        assert row.x_min == pytest.approx(xs.min())
        assert row.p_lind_mehlum == pytest.approx(want["p_lind_mehlum"])
        assert row["median"] == pytest.approx(want["median"])
    with pytest.raises(ValueError, match="vary by 'region'"):
        fit.turning_point("x", by="province")


def test_log_likelihood_uses_the_group_columns(fit, panel, dense_fe_conditionals):
    W, df, region = panel
    labels = sorted(GROUPS)
    of_unit = np.array([labels.index(GROUPS[g]) for g in region])
    n = W.n
    m = W.sparse.toarray()
    y = df["y"].to_numpy().reshape(T, n)
    x = df["x"].to_numpy().reshape(T, n)
    z = df["z"].to_numpy().reshape(T, n)
    split = np.zeros((T, n, 6))
    for i in range(n):
        split[:, i, of_unit[i]] = x[:, i]
        split[:, i, 3 + of_unit[i]] = x[:, i] ** 2
    Z = np.concatenate([z[..., None], (z @ m.T)[..., None], split], axis=2)
    ll = fit.log_likelihood().reshape(-1, T, n)
    terms = [str(t) for t in fit.idata.posterior["term"].values]
    for d in (3, 900):
        b = np.concatenate(
            [
                [fit.draws("beta")[d, terms.index("z")], fit.draws("theta")[d, terms.index("z")]],
                fit.draws("beta_group")[d].ravel(),
            ]
        )
        want = dense_fe_conditionals(
            y, Z, m, fit.draws("rho")[d], b, fit.draws("sigma")[d], "lag", "unit"
        )
        np.testing.assert_allclose(ll[d], want, rtol=1e-8, atol=1e-10)


def test_netcdf_round_trip_keeps_the_group_tables(fit, tmp_path):
    path = tmp_path / "varying.nc"
    fit.to_netcdf(path)
    back = bsp.load(path)
    pd.testing.assert_frame_equal(back.varying(), fit.varying())
    pd.testing.assert_frame_equal(back.contrasts(), fit.contrasts())
    pd.testing.assert_frame_equal(back.effects(by="region"), fit.effects(by="region"))
    assert list(back.idata.posterior["group"].values) == sorted(GROUPS)


def _fit(df, W, **kw):
    options = {"unit": "id", "time": "t", "progress": False, "draws": 10, "warmup": 10}
    return bsp.fit(kw.pop("model", "sar"), kw.pop("formula", "y ~ x + z"), df, W, **options, **kw)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"varying": {"q": "region"}}, "not terms of the design"),
        ({"varying": {"x": "zone"}}, "grouping column 'zone' not in the data"),
        ({"varying": {"x": "region", "z": "other"}}, "one column"),
        (
            {"varying": {"x": "region"}, "sampler": "exact", "model": "sdm"},
            "grid for one varying coefficient",
        ),
        (
            {
                "varying": {"x": "region"},
                "model": "dsdm",
                "fe": "unit",
                "bias_correction": "analytic",
            },
            "bias_correction='jackknife'",
        ),
        (
            {"varying": {"x": "region"}, "priors": bsp.priors.Priors(coef=bsp.priors.ZellnerG())},
            "flat prior",
        ),
        ({"varying": {"Intercept": "region"}, "fe": "unit"}, "absorbed by unit effects"),
        ({"varying": ["x"]}, "map term names"),
    ],
)
def test_bad_varying_input_says_what_is_wrong(panel, kw, match):
    W, df, _ = panel
    with pytest.raises(BayespatialError, match=match):
        _fit(df, W, **kw)


def test_a_group_that_changes_within_a_unit_is_named(panel):
    W, df, _ = panel
    bad = df.copy()
    unit = bad["id"].iloc[0]
    bad.loc[(bad["id"] == unit) & (bad["t"] == 2), "region"] = "elsewhere"
    with pytest.raises(BayespatialError, match=rf"change group over time: {unit}"):
        _fit(bad, W, varying={"x": "region"})

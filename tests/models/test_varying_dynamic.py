"""Partially pooled coefficients in the dynamic spatial Durbin model (dsdm).

Oracles:
- given y_{t-1} the dsdm is a SAR with y_{t-1} and W y_{t-1} as regressors (Elhorst 2014,
  ch. 4): without the stationarity restriction and bias correction its posterior is
  the varying SAR's on the same rows (a separate code path: columns built from the data
  frame, no dynamic bookkeeping);
- under the restriction, three samplers of the same posterior: the grid's independent
  draws with rejection, NUTS with (tau, eta) mapped onto the stable region, and the
  unrestricted draws of another seed kept where stable;
- long-run effects by group: dense ((1 - tau) I - (rho + eta) W)^-1 (diag(beta_i) +
  W diag(theta_i)) per draw;
- the split-panel jackknife: the three fits by hand (mu, tau, rho; the group
  coefficients move with mu).

Tolerances: differences of posterior means within 5 Monte Carlo standard errors of the
difference (sd / sqrt(ESS) of each; independent draws: ESS = draws).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.models import group_tables
from bayespatial.models.arviz_io import ess_rhat

SLOPES = {"a": 0.5, "b": 1.0, "c": 1.5, "d": 0.8}
SPILL = {"a": 0.1, "b": 0.3, "c": 0.5, "d": 0.2}


def _panel(T: int, tau: float, rho: float, eta: float, seed: int = 0, side: int = 8, sd_mu=0.5):
    """Dynamic SDM panel on a rook lattice; x's slope and spillover vary by region."""
    W = weights.lattice(side, side).row_standardize()
    n, A = W.n, W.sparse
    rng = np.random.default_rng(seed)
    region = np.array(list(SLOPES))[np.arange(n) % 4]
    beta = np.array([SLOPES[g] for g in region])
    theta = np.array([SPILL[g] for g in region])
    lu = spla.splu(sp.csc_matrix(sp.identity(n) - rho * A))
    mu = rng.normal(0, sd_mu, n)
    y, rows = np.zeros(n), []
    for t in range(-30, T):
        x = rng.standard_normal(n)
        shock = beta * x + A @ (theta * x) + mu + rng.standard_normal(n)
        y = lu.solve(tau * y + eta * (A @ y) + shock)
        if t >= 0:
            rows.append(pd.DataFrame({"id": list(W.ids), "t": t, "y": y, "x": x, "region": region}))
    return pd.concat(rows, ignore_index=True), W


def _fit(model, formula, df, W, **kw):
    options = {"unit": "id", "time": "t", "fe": "unit", "progress": False}
    return bsp.fit(model, formula, df, W, **{**options, **kw})


def _mc_close(a: np.ndarray, b: np.ndarray, what: str, ess_a=None, ess_b=None):
    """Posterior means of draws (D, ...) within 5 MC se of their difference."""
    a, b = np.asarray(a), np.asarray(b)
    ess_a = a.shape[0] if ess_a is None else ess_a
    ess_b = b.shape[0] if ess_b is None else ess_b
    se = np.sqrt(a.var(axis=0) / ess_a + b.var(axis=0) / ess_b)
    gap = np.abs(a.mean(axis=0) - b.mean(axis=0))
    assert np.all(gap < 5 * se), f"{what}: |difference| {gap} vs 5 se {5 * se}"


def _min_ess(fit, names) -> float:
    """Smallest bulk ESS over every element of the named variables."""
    post, out = fit.idata.posterior, []
    for k in names:
        v = post[k].values
        v = v.reshape(*v.shape[:2], -1)
        out += [ess_rhat(v[..., j])[0] for j in range(v.shape[2])]
    return float(min(out))


@pytest.fixture(scope="module")
def far():
    """tau + rho + eta = 0.8: the stable region holds practically all the mass."""
    return _panel(T=10, tau=0.4, rho=0.3, eta=0.1, seed=1)


def test_dsdm_varying_equals_the_varying_sar_on_the_lagged_outcomes(far):
    df, W = far
    fit = _fit(
        "dsdm",
        "y ~ x",
        df,
        W,
        durbin=False,
        varying={"x": "region"},
        stationarity="report",
        bias_correction="none",
    )
    lagged = df.sort_values(["id", "t"]).copy()
    lagged["ylag"] = lagged.groupby("id")["y"].shift(1)
    wide = lagged.pivot(index="t", columns="id", values="ylag")[list(W.ids)]
    wy = pd.DataFrame(wide.to_numpy() @ W.sparse.T.toarray(), wide.index, wide.columns)
    lagged["wylag"] = wy.stack().reindex(pd.MultiIndex.from_arrays([lagged.t, lagged.id])).values
    lagged = lagged[lagged.t > lagged.t.min()]
    sar = _fit("sar", "y ~ x + ylag + wylag", lagged, W, varying={"x": "region"})
    assert fit.attrs["sampler"] == sar.attrs["sampler"] == "exact"
    terms = [str(t) for t in sar.idata.posterior["term"].values]
    pairs = {
        "tau": sar.draws("beta")[:, terms.index("ylag")],
        "eta": sar.draws("beta")[:, terms.index("wylag")],
        "rho": sar.draws("rho"),
        "sigma": sar.draws("sigma"),
        "omega": sar.draws("omega"),
        "mu": sar.draws("mu"),
        "beta_group": sar.draws("beta_group").reshape(len(sar.draws("rho")), -1),
    }
    for name, other in pairs.items():
        mine = fit.draws(name)
        _mc_close(mine.reshape(len(mine), -1), other.reshape(len(other), -1), name)
    short = fit.effects(by="region")
    short = short[(short.horizon == "short") & (short.term == "x")].reset_index(drop=True)
    want = sar.effects(by="region")
    want = want[want.term == "x"].reset_index(drop=True)
    se = np.sqrt(short["sd"] ** 2 + want["sd"] ** 2) / np.sqrt(fit.draws("rho").size)
    assert np.all(np.abs(short["mean"] - want["mean"]) < 5 * se)
    # same conditional likelihood: the same PSIS-LOO up to Monte Carlo error
    assert abs(fit.loo().elpd_loo - sar.loo().elpd_loo) < 0.5


@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")
def test_dsdm_varying_long_run_effects_by_group_match_dense_inverses(far):
    """Checked per draw: a short run (its ESS warning silenced) serves as well as a long one."""
    df, W = far
    fit = _fit(
        "dsdm",
        "y ~ x",
        df,
        W,
        varying={"x": "region"},
        bias_correction="none",
        chains=2,
        draws=200,
        warmup=300,
    )
    assert fit.attrs["sampler"] == "nuts"  # x and W x vary: two blocks
    g = group_tables.groups(fit)
    assert g.terms == ["x", "W_x"]
    member = g.of_unit[:, None] == np.arange(len(g.labels))[None]
    Wd = W.sparse.toarray()
    n = W.n
    rho, tau, eta = fit.draws("rho"), fit.draws("tau"), fit.draws("eta")
    beta, theta = fit.draws("beta_group")[:, 0], fit.draws("beta_group")[:, 1]
    for horizon in ("short", "long"):
        got = group_tables.effect_draws(fit, g, horizon)
        for d in (0, 57, 399):
            if horizon == "short":
                M = np.linalg.inv(np.eye(n) - rho[d] * Wd)
            else:
                M = np.linalg.inv((1 - tau[d]) * np.eye(n) - (rho[d] + eta[d]) * Wd)
            S = M @ (np.diag(beta[d][g.of_unit]) + Wd @ np.diag(theta[d][g.of_unit]))
            direct = (np.diag(S) @ member) / member.sum(0)
            total = (S.sum(0) @ member) / member.sum(0)
            np.testing.assert_allclose(got["direct"]["x"][d], direct, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(got["total"]["x"][d], total, rtol=1e-8, atol=1e-10)
    table = fit.effects(by="region")
    assert set(table.horizon) == {"short", "long"}
    assert (table.note == "").all()  # every draw stable under the restriction
    overall = fit.effects()
    long_total = overall[(overall.horizon == "long") & (overall.effect == "total")]
    weights_ = g.sizes / g.sizes.sum()
    want = group_tables.effect_draws(fit, g, "long")["total"]["x"] @ weights_
    assert long_total["mean"].iloc[0] == pytest.approx(want.mean(), rel=1e-12)


def test_enforced_stationarity_grid_nuts_and_restricted_draws_agree():
    # no unit effects (no Nickell bias): the posterior sits on the stable region's edge
    df, W = _panel(T=6, tau=0.55, rho=0.3, eta=0.13, seed=3, sd_mu=0.0)
    common = {"durbin": False, "varying": {"x": "region"}, "fe": "none"}
    grid = _fit("dsdm", "y ~ x", df, W, **common)
    # another seed: not the grid's own first batch
    report = _fit("dsdm", "y ~ x", df, W, stationarity="report", seed=11, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nuts = _fit("dsdm", "y ~ x", df, W, sampler="nuts", **common)
    assert grid.attrs["sampler"] == "exact"
    assert nuts.attrs["sampler"] == "nuts"
    p = grid.attrs["p_stationary"]
    assert 0.05 < p < 0.97, p  # the restriction matters on this design
    # two independent estimates, of 4,000 draws and of more
    assert report.attrs["p_stationary"] == pytest.approx(p, abs=5 * np.sqrt(p * (1 - p) / 2000))
    assert grid.stationary_draws().all()
    assert nuts.stationary_draws().all()
    keep = report.stationary_draws()
    names = ["rho", "tau", "eta", "sigma", "omega", "beta_group"]
    ess = _min_ess(nuts, names)
    assert ess > 400
    for name in names:
        a = grid.draws(name).reshape(grid.draws("rho").size, -1)
        b = nuts.draws(name).reshape(nuts.draws("rho").size, -1)
        c = report.draws(name).reshape(keep.size, -1)[keep]
        _mc_close(a, b, f"{name}: grid vs NUTS", ess_b=ess)
        _mc_close(a, c, f"{name}: grid vs restricted draws")


def test_jackknife_is_the_default_and_moves_the_group_coefficients(far):
    df, W = far
    kw = {"durbin": False, "varying": {"x": "region"}, "draws": 500}
    fit = _fit("dsdm", "y ~ x", df, W, **kw)
    assert fit.attrs["bias_correction"] == "split-panel jackknife"
    full = _fit("dsdm", "y ~ x", df, W, bias_correction="none", **kw)
    periods = sorted(df.t.unique())
    halves = [periods[: (len(periods) + 1) // 2], periods[len(periods) // 2 :]]
    parts = [
        _fit("dsdm", "y ~ x", df[df.t.isin(h)], W, bias_correction="none", **kw) for h in halves
    ]
    shift = json.loads(fit.attrs["jackknife_shift"])
    for name in ("mu", "tau", "rho"):
        mean = full.draws(name).mean(0).ravel()
        want = mean - 0.5 * sum(p.draws(name).mean(0).ravel() for p in parts)
        np.testing.assert_allclose(np.ravel(shift[name]), want, atol=1e-6)
        np.testing.assert_allclose(fit.draws(name).mean(0).ravel(), mean + want, atol=1e-9)
    # the groups keep their deviations from mu (the halves' stronger shrinkage is not
    # extrapolated) and move with it
    moved = fit.draws("beta_group") - full.draws("beta_group")
    np.testing.assert_allclose(moved, np.broadcast_to(moved[:1], moved.shape), atol=1e-12)
    np.testing.assert_allclose(moved[0, 0], np.ravel(shift["mu"])[0], atol=1e-6)

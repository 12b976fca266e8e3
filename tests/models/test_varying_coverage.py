"""Partial pooling against simulated truth (slow: ``pytest -m slow``).

A SAR panel with unit effects on an 8 x 8 queen lattice, T = 5, six regions of
unequal size (two of 5 units), and in each replication the regions' true slopes drawn
from the population the model assumes, beta_g ~ N(mu, omega^2) with mu = 1,
omega = 0.4: averaged over replications, the 90% intervals of the group slopes are
calibrated, so their coverage must fall in 85-95% (600 intervals, 100 per group:
binomial sd 1.2 points at 90%, so the band is about 4 sd wide on each side even with
the correlation within a replication). The same data fitted without pooling (a slope
per region, flat priors: what a separate regression per region estimates, with rho
and sigma shared) must have a larger RMSE of the group slopes. omega's 90% intervals
cover its truth in at least 78% of the 100 replications (the lower end of a 99.9%
binomial band at 90%; with six groups omega's posterior is wide and its prior
matters). With omega = 0 in truth the group slopes agree with the pooled fit's common
slope within their posterior error (each posterior mean within 2 of its posterior sds,
and mu within 2 of its own), and sit closer to it than the separate fits' slopes do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp
from bayespatial.data import weights

pytestmark = pytest.mark.slow

SIZES = (5, 5, 8, 12, 16, 18)
T, RHO, MU, OMEGA = 5, 0.4, 1.0, 0.4
REPS = 100


def _data(seed: int, omega: float):
    W = weights.lattice(8, 8, kind="queen").row_standardize()
    n = W.n
    rng = np.random.default_rng(seed)
    region = np.repeat(np.arange(len(SIZES)), SIZES)
    rng.shuffle(region)
    slopes = MU + omega * rng.standard_normal(len(SIZES))
    A = np.linalg.inv(np.eye(n) - RHO * W.sparse.toarray())
    alpha = rng.standard_normal(n)
    frames = []
    for t in range(T):
        x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
        y = A @ (alpha + slopes[region] * x1 + 0.5 * x2 + rng.standard_normal(n))
        frame = pd.DataFrame({"id": list(W.ids), "t": t, "y": y, "x1": x1, "x2": x2})
        frame["region"] = [f"r{g}" for g in region]
        for g in range(len(SIZES)):
            frame[f"x1_r{g}"] = np.where(region == g, x1, 0.0)
        frames.append(frame)
    return W, pd.concat(frames, ignore_index=True), slopes


def _fit(df, W, formula, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return bsp.fit(
            "sar", formula, df, W, unit="id", time="t", fe="unit", progress=False, ci=0.9, **kw
        )


def test_group_slopes_cover_and_beat_separate_fits():
    covered, pooled_err, separate_err, omega_covered = [], [], [], []
    separate_terms = " + ".join(f"x1_r{g}" for g in range(len(SIZES)))
    for rep in range(REPS):
        W, df, slopes = _data(rep, OMEGA)
        fit = _fit(df, W, "y ~ x1 + x2", varying={"x1": "region"}, draws=500)
        rows = fit.varying(ci=0.9)
        beta = rows[rows["parameter"] == "beta"]
        covered += list((beta["lower"] <= slopes) & (slopes <= beta["upper"]))
        pooled_err += list(beta["mean"] - slopes)
        omega = rows[rows["parameter"] == "omega"].iloc[0]
        omega_covered.append(omega["lower"] <= OMEGA <= omega["upper"])
        separate = _fit(df, W, f"y ~ {separate_terms} + x2", draws=500).summary(ci=0.9)
        means = separate.set_index("term").loc[[f"x1_r{g}" for g in range(len(SIZES))], "mean"]
        separate_err += list(means.to_numpy() - slopes)
    coverage = np.mean(covered)
    assert 0.85 <= coverage <= 0.95, coverage
    rmse_pooled = np.sqrt(np.mean(np.square(pooled_err)))
    rmse_separate = np.sqrt(np.mean(np.square(separate_err)))
    assert rmse_pooled < rmse_separate, (rmse_pooled, rmse_separate)
    assert np.mean(omega_covered) >= 0.78, np.mean(omega_covered)


def test_no_heterogeneity_gives_the_pooled_slope():
    W, df, _ = _data(1234, 0.0)
    fit = _fit(df, W, "y ~ x1 + x2", varying={"x1": "region"}, draws=2000)
    pooled = _fit(df, W, "y ~ x1 + x2", draws=2000).summary().set_index("term")
    slope = pooled.loc["x1", "mean"]
    table = fit.varying()
    beta = table[table["parameter"] == "beta"]
    assert np.all(np.abs(beta["mean"] - slope) < 2 * beta["sd"]), (beta, slope)
    mu = table[table["parameter"] == "mu"].iloc[0]
    assert abs(mu["mean"] - slope) < 2 * mu["sd"]
    separate_terms = " + ".join(f"x1_r{g}" for g in range(len(SIZES)))
    separate = _fit(df, W, f"y ~ {separate_terms} + x2", draws=2000).summary().set_index("term")
    spread = separate.loc[[f"x1_r{g}" for g in range(len(SIZES))], "mean"].to_numpy() - slope
    assert np.sum((beta["mean"].to_numpy() - slope) ** 2) < np.sum(spread**2)

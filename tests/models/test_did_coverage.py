"""Coverage of the imputation DID against simulated truth (slow).

Design where static TWFE is biased: staggered cohorts, effects growing with time since
adoption and larger for the early cohort, a covariate trending with eventual treatment
(`bayespatial.data.simulate_did`). The truth of an ATT is the mean true effect of its
cells (the sample ATT, what ``uncertainty="predictive"`` is the posterior of).

Tolerance: with R replications the empirical coverage of 90% intervals has sd
sqrt(0.09 / R) (0.015 at R = 400); the band [0.85, 0.95] is +-3.3 sd, so a correct
interval fails one check with probability 1e-3.
"""

import warnings

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data.simulate_did import simulate_staggered

pytestmark = pytest.mark.slow
KW = {"unit": "unit", "time": "time", "treat": "adopt", "progress": False, "ci": 0.9}
R = 400


def _truth(df, by, key):
    cells = df[df.treated == 1]
    if by == "overall":
        return cells.tau.mean()
    if by == "cohort":
        return cells[cells.adopt == key].tau.mean()
    return cells[cells.time - cells.adopt == key].tau.mean()


def _covered(table, df, by):
    return {
        (by, k): lo <= _truth(df, by, k) <= hi
        for k, lo, hi in zip(table["key"], table["lower"], table["upper"], strict=True)
    }


def test_imputation_covers_where_twfe_does_not():
    hits, twfe_hits, twfe_bias = {}, [], []
    for r in range(R):
        df = simulate_staggered(n_units=150, n_periods=12, confound=0.15, seed=1000 + r).frame
        fit = bsp.fit("did", "y ~ x1", df, None, draws=250, seed=r, **KW)
        for by in ("overall", "cohort", "event"):
            table = fit.att(by=by)
            if by == "event":
                table = table[table["key"] >= 0]
            for k, v in _covered(table, df, by).items():
                hits.setdefault(k, []).append(v)
        tw = bsp.fit("did", "y ~ x1", df, None, estimator="twfe", draws=250, seed=r, **KW).att()
        truth = _truth(df, "overall", None)
        twfe_hits.append(tw["lower"][0] <= truth <= tw["upper"][0])
        twfe_bias.append(tw["mean"][0] - truth)
    rates = {k: np.mean(v) for k, v in hits.items() if len(v) == R}
    assert len(rates) >= 9  # overall, 2 cohorts, event times 0..5 at least
    bad = {k: r for k, r in rates.items() if not 0.85 <= r <= 0.95}
    assert not bad, (bad, rates)
    # static TWFE averages the effects with weights that favour short exposure (and uses
    # already-treated controls): biased downward here, its intervals miss
    assert np.mean(twfe_hits) < 0.5, np.mean(twfe_hits)
    assert np.mean(twfe_bias) < -5 * np.std(twfe_bias) / np.sqrt(R)


def test_spillover_imputation_covers_and_the_naive_estimate_is_biased():
    W = bsp.weights.lattice(14, 14, kind="queen")
    direct, spill, naive = [], [], []
    for r in range(300):
        df = simulate_staggered(
            n_units=196, n_periods=10, cohorts={4: 0.1, 7: 0.1}, W=W, spill=0.8, seed=5000 + r
        ).frame
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # late periods can lack unexposed controls
            fit = bsp.fit("did", "y ~ x1", df, W, spillover=True, draws=250, seed=r, **KW)
            plain = bsp.fit("did", "y ~ x1", df, W, draws=250, seed=r, **KW)
        table = fit.att().set_index("effect")
        identified = fit.cell_effects()
        keys = set(zip(identified["unit"], identified["time"], strict=True))
        sub = df[[(u, t) in keys for u, t in zip(df.unit, df.time, strict=True)]]
        t_direct = sub[sub.treated == 1].tau.mean()
        t_spill = sub[sub.treated == 0].tau.mean()
        direct.append(table.loc["direct", "lower"] <= t_direct <= table.loc["direct", "upper"])
        spill.append(table.loc["spillover", "lower"] <= t_spill <= table.loc["spillover", "upper"])
        naive.append(plain.att()["mean"][0] - df[df.treated == 1].tau.mean())
    assert 0.85 <= np.mean(direct) <= 0.95, np.mean(direct)
    assert 0.85 <= np.mean(spill) <= 0.95, np.mean(spill)
    # exposed controls carry the spillover (+0.8 on exposed untreated cells): the naive
    # counterfactual is too high and the direct effect too low
    assert np.mean(naive) < -5 * np.std(naive) / np.sqrt(len(naive)), np.mean(naive)


def test_pooled_group_atts_cover():
    """Eight groups whose effects are scaled by 1 + N(0, 0.3^2): the pooled group ATTs'
    90% intervals cover the groups' true ATTs (all groups pooled: 8 R intervals)."""
    hits = []
    for r in range(150):
        df = simulate_staggered(
            n_units=240, n_periods=10, n_groups=8, group_sd=0.3, seed=9000 + r
        ).frame
        fit = bsp.fit("did", "y ~ x1", df, None, varying={"att": "group"}, draws=250, seed=r, **KW)
        table = fit.att("group").set_index("key")
        truth = df[df.treated == 1].groupby("group").tau.mean()
        for g, value in truth.items():
            hits.append(table.loc[g, "lower"] <= value <= table.loc[g, "upper"])
    assert 0.86 <= np.mean(hits) <= 0.94, np.mean(hits)

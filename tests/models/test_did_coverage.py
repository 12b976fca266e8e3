"""Coverage of the imputation DID against simulated truth (slow).

Design where static TWFE is biased: staggered cohorts, effects growing with time since
adoption and larger for the early cohort, a covariate trending with eventual treatment
(`bayespatial.data.simulate_did`). The truth of an ATT is the mean true effect of its
cells (the sample ATT, what ``uncertainty="predictive"`` is the posterior of). The
replications are `bayespatial.experiments.did_recovery`'s, whose table is in BENCHMARKS.md.

Tolerance: with R replications the empirical coverage of 90% intervals has sd
sqrt(0.09 / R) (0.015 at R = 400); the band [0.85, 0.95] is +-3.3 sd, so a correct
interval fails one check with probability 1e-3.
"""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data.simulate_did import simulate_staggered
from bayespatial.experiments.did_recovery import spillover, staggered, summarise

pytestmark = pytest.mark.slow
KW = {"unit": "unit", "time": "time", "treat": "adopt", "progress": False, "ci": 0.9}
R = 400


def test_imputation_covers_where_twfe_does_not():
    table = summarise(staggered(R)).set_index(["estimator", "quantity"])
    imp = table.loc["imputation"]
    assert len(imp) >= 9  # overall, 2 cohorts, event times 0..5 at least
    assert (imp["reps"] == R).all()
    bad = imp[(imp["coverage_90"] < 0.85) | (imp["coverage_90"] > 0.95)]
    assert bad.empty, imp
    # static TWFE averages the effects with weights that favour short exposure (and uses
    # already-treated controls): biased downward here, its intervals miss
    tw = table.loc[("TWFE (static)", "overall")]
    assert tw["coverage_90"] < 0.5, tw
    assert tw["bias"] < -5 * tw["bias_se"], tw


def test_spillover_imputation_covers_and_the_naive_estimate_is_biased():
    table = summarise(spillover(300)).set_index(["estimator", "quantity"])
    for effect in ("direct", "spillover"):
        row = table.loc[("imputation, spillover=True", effect)]
        assert 0.85 <= row["coverage_90"] <= 0.95, row
    # exposed controls carry the spillover (+0.8 on exposed untreated cells): the naive
    # counterfactual is too high and the direct effect too low
    naive = table.loc[("imputation, naive (exposed cells as controls)", "direct")]
    assert naive["bias"] < -5 * naive["bias_se"], naive


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

"""Posterior means from ``bsp.fit`` against spreg maximum likelihood (frozen references).

NAT (3,085 counties x 4 decades, unit and two-way FE): N ~ 9,000 effective
observations, so the posterior mean and the MLE differ by the posterior's
skewness, O(sd / sqrt(N)) ~ 0.01 sd; the default g-prior (g = N) moves beta by
beta_hat / (N + 1), under 0.002 sd here; the Monte Carlo error of a mean of
8,000 independent draws is sd / 89, so 4 MC se is 0.045 sd. spreg's two-way
reference is Elhorst's (2003) direct approach, whose log-likelihood differs from
Lee & Yu's (2010) by O(1/n) terms; measured, that moves rho by 0.05 sd. The
tolerance is 0.15 posterior sd for every coefficient and the spatial parameter.

spreg's sigma^2 is e'e / (nT); the Lee-Yu posterior's is e'e / N_eff, so the
reference is rescaled by nT / N_eff before the same comparison.

Columbus (N = 49, cross-section): skewness is larger, O(sd / 7) ~ 0.15 sd, and the
g-prior shrinks the slopes by 1/50 (0.05 sd), so 0.35 sd there; the ML sigma^2
= e'e / N is biased down by the k = 4 fitted parameters, so the reference is
rescaled by N / (N - k).
"""

import json
from pathlib import Path

import numpy as np
import pytest

import bayespatial as bsp

REF = Path(__file__).parents[1] / "reference"
NAT = json.loads((REF / "spreg_nat.json").read_text())
COLUMBUS = json.loads((REF / "spreg_columbus.json").read_text())
FORMULA = "HR ~ RD + PS + UE + DV + MA"


@pytest.fixture(scope="module")
def nat():
    data = bsp.load_nat()
    return data.frame, data.W.row_standardize()


def _check(fit, ref, spatial, tol, sigma2_scale):
    post = fit.summary().set_index("term")
    betas = post[post["parameter"] == "beta"]
    for (term, row), want in zip(betas.iterrows(), ref["beta"][-len(betas) :], strict=True):
        assert abs(row["mean"] - want) < tol * row["sd"], (term, row["mean"], want)
    row = post.loc[spatial]
    assert abs(row["mean"] - ref[spatial]) < tol * row["sd"], (spatial, row["mean"])
    sigma = fit.draws("sigma")
    want = np.sqrt(ref["sigma2"] * sigma2_scale)
    assert abs(sigma.mean() - want) < tol * sigma.std(), (sigma.mean(), want)


@pytest.mark.parametrize("fe", ["unit", "twoway"])
@pytest.mark.parametrize(
    ("model", "key", "spatial"), [("sar", "Panel_FE_Lag", "rho"), ("sem", "Panel_FE_Error", "lam")]
)
def test_nat_panel_matches_spreg(nat, fe, model, key, spatial):
    df, W = nat
    fit = bsp.fit(model, FORMULA, df, W, unit="fips", time="year", fe=fe, draws=2000, seed=7)
    n, T = NAT["n"], NAT["T"]
    n_eff = n * (T - 1) if fe == "unit" else (n - 1) * (T - 1)
    assert fit.attrs["nobs"] == n_eff
    _check(fit, NAT[fe][key], spatial, 0.15, n * T / n_eff)


@pytest.mark.parametrize(
    ("model", "key", "spatial"), [("sar", "ML_Lag", "rho"), ("sem", "ML_Error", "lam")]
)
def test_columbus_cross_section_matches_spreg(model, key, spatial):
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    fit = bsp.fit(model, "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=5000, seed=2)
    _check(fit, COLUMBUS[key], spatial, 0.35, 49 / (49 - 4))

"""Calibration: 90% credible intervals cover the simulated truth 90% of the time (slow).

For each model, 100 panels (15 x 15 lattice, T = 5, two-way effects drawn
N(0, 1) and absorbed by the fit) and 100 cross-sections (20 x 20 lattice with an
intercept) are simulated by `bayespatial.data.simulate` (numpy/scipy, no JAX)
and fitted with the defaults (exact sampler). If the posterior is right and
the priors are weak, each parameter's 90% interval covers its truth a
Binomial(100, 0.9) number of times: mean 90, sd 3; we require 78 to 98
(4 sd below, and not the overconfident-looking 99-100 of intervals that are too
wide), so a correct sampler fails one of the ~40 checks with probability ~0.5%.
"""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate

REPS = 100
TRUTH = {"beta": [1.0, -0.5], "theta": [0.4, 0.3], "rho": 0.4, "lam": 0.5, "sigma": 0.8}


def _covered(fit, model, truth, level=0.9):
    s = fit.summary(ci=level).set_index("term")
    want = {"x1": truth["beta"][0], "x2": truth["beta"][1], "sigma": truth["sigma"]}
    if model in ("slx", "sdm", "sdem"):
        want.update({"W_x1": truth["theta"][0], "W_x2": truth["theta"][1]})
    if model in ("sar", "sdm"):
        want["rho"] = truth["rho"]
    if model in ("sem", "sdem"):
        want["lam"] = truth["lam"]
    if "Intercept" in s.index:
        want["Intercept"] = truth["intercept"]
    return {k: bool(s.loc[k, "lower"] <= v <= s.loc[k, "upper"]) for k, v in want.items()}


@pytest.mark.slow
@pytest.mark.parametrize("design", ["panel", "cross_section"])
@pytest.mark.parametrize("model", ["ols", "slx", "sar", "sem", "sdm", "sdem"])
def test_interval_coverage(model, design):
    if design == "panel":
        W, T, fe, formula = weights.lattice(15, 15).row_standardize(), 5, "twoway", "y ~ x1 + x2"
    else:
        W, T, fe, formula = weights.lattice(20, 20).row_standardize(), 1, "none", "y ~ x1 + x2"
    hits = {}
    for rep in range(REPS):
        sim = simulate(model, W, T=T, fe=fe, intercept=1.0, seed=1000 + rep, **TRUTH)
        fit = bsp.fit(
            model,
            formula,
            sim.frame,
            W,
            unit="unit",
            time="time" if T > 1 else None,
            fe=fe,
            chains=1,
            draws=2000,
            seed=rep,
        )
        for k, v in _covered(fit, model, sim.truth).items():
            hits[k] = hits.get(k, 0) + v
    bad = {k: v for k, v in hits.items() if not 78 <= v <= 98}
    assert not bad, (hits, bad)
    assert np.mean(list(hits.values())) > 80

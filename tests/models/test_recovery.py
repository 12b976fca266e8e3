"""End to end on one simulated two-way FE panel with known truth (data.simulate is numpy-only).

Simulator -> formula design (Durbin terms) -> Lee-Yu sufficient statistics ->
exact conjugate sampler -> LeSage-Pace effects. With n = 400 units and T = 8 the
posterior is close to normal, so each posterior mean lies within 4 posterior sd
of the truth with probability 0.9999 if the posterior is right; the true
effects come from a dense (I - rho W)^-1 computation.
"""

import numpy as np
import pytest

from bayespatial.data import weights
from bayespatial.data.panel import Panel
from bayespatial.data.simulate import simulate
from bayespatial.engine import logdet
from bayespatial.engine.conjugate import sample
from bayespatial.engine.crossprod import cross_products
from bayespatial.engine.effects import apply_effects, init_quadrature
from bayespatial.models.design import build_design
from bayespatial.priors.spec import defaults


@pytest.mark.parametrize(("model", "kind"), [("sdm", "lag"), ("sdem", "error")])
def test_recovers_truth_and_effects(model, kind):
    W = weights.lattice(20, 20).row_standardize()
    truth = {"beta": [1.0, -0.5], "theta": [0.4, 0.3], "rho": 0.45, "lam": 0.45, "sigma": 0.8}
    sim = simulate(model, W, T=8, fe="twoway", seed=4, **truth)
    panel = Panel.from_frame(sim.frame, "unit", "time", ["y", "x1", "x2"], W=W)
    design = build_design("y ~ x1 + x2", panel, W, durbin=True, fe="twoway")
    Z = np.concatenate([design.X, design.WX], axis=2)
    cp = cross_products(design.y, Z, W, "twoway")
    priors = defaults(model)
    nig = priors.to_nig(cp.gram[2 : 2 + cp.p, 2 : 2 + cp.p], cp.nobs, float(np.var(design.y)))
    state = logdet.init(W, "eigen")
    bounds = W.rho_bounds()
    out = sample(
        cp,
        nig,
        bounds,
        lambda r: np.asarray(logdet.apply(state, r)),
        lambda r: priors.spatial.log_density(r, bounds),
        4000,
        np.random.default_rng(0),
        kind=kind,
    )
    assert cp.p == 4  # x1, x2, W x1, W x2
    params = np.column_stack([out.beta, out.spatial, out.sigma])
    want = np.array(
        [
            *truth["beta"],
            *truth["theta"],
            truth[{"lag": "rho", "error": "lam"}[kind]],
            truth["sigma"],
        ]
    )
    z = np.abs(params.mean(0) - want) / params.std(0)
    assert np.all(z < 4), z
    if kind == "lag":
        eff = apply_effects(init_quadrature(W), out.spatial, out.beta[:, :2], out.beta[:, 2:])
        A = W.sparse.toarray()
        S = np.linalg.inv(np.eye(W.n) - truth["rho"] * A)
        for k in range(2):
            Sk = S @ (truth["beta"][k] * np.eye(W.n) + truth["theta"][k] * A)
            direct, total = np.trace(Sk) / W.n, Sk.sum() / W.n
            for draws, value in ((eff.direct[:, k], direct), (eff.total[:, k], total)):
                assert abs(np.mean(draws) - value) < 4 * np.std(draws)

"""Coverage of the mediation quantities against simulated truth (slow).

Suppression design (a b > 0 > c'): M = a x + g c + e_M, Y = c' x + b M + g c + e_Y with
two-way effects, and its spatial version (both equations SDM on a queen lattice).
Tolerance: R = 400 replications, so the coverage of a 90% interval has sd 0.015 and the
band [0.85, 0.95] is +-3.3 sd (a correct interval fails a check with probability 1e-3).
"""

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp

pytestmark = pytest.mark.slow
R = 400
A, B, C = 0.5, 0.3, -0.4
KW = {"unit": "id", "time": "t", "fe": "twoway", "progress": False, "draws": 250, "ci": 0.9}


def _panel(rng, n, T, W=None, rho=(0.0, 0.0), theta=(0.0, 0.0, 0.0)):
    """Long panel of x, c, m, y; with W the SDM equations with (rho_M, rho_Y) and
    theta = (theta_a, theta_b, theta_c) on W x, W m and W x."""
    rows = []
    Wd = None if W is None else W.row_standardize().sparse.toarray()
    unit_m, unit_y = rng.normal(size=n), rng.normal(size=n)
    for t in range(T):
        x, c = rng.normal(size=n), rng.normal(size=n)
        lag = (lambda v: Wd @ v) if Wd is not None else (lambda v: 0 * v)
        m = A * x + theta[0] * lag(x) + 0.3 * c + unit_m + 0.2 * t + rng.normal(size=n)
        if Wd is not None:
            m = np.linalg.solve(np.eye(n) - rho[0] * Wd, m)
        y = C * x + theta[2] * lag(x) + B * m + theta[1] * lag(m) + 0.2 * c + unit_y
        y = y - 0.1 * t + rng.normal(size=n)
        if Wd is not None:
            y = np.linalg.solve(np.eye(n) - rho[1] * Wd, y)
        rows.append(pd.DataFrame({"id": np.arange(n), "t": t, "x": x, "c": c, "m": m, "y": y}))
    return pd.concat(rows, ignore_index=True)


def _covered(med, truth: dict) -> dict:
    table = med.effects()
    if "impact" not in table:
        table = table.assign(impact="effect")
    table = table.set_index(["quantity", "mediator", "impact"])
    return {k: table.loc[k, "lower"] <= v <= table.loc[k, "upper"] for k, v in truth.items()}


def test_ols_mediation_covers_a_suppression_design():
    rng = np.random.default_rng(1)
    truth = {("nie", "all", "effect"): A * B, ("nde", "all", "effect"): C,
             ("te", "all", "effect"): C + A * B}  # fmt: skip
    hits = {k: [] for k in truth}
    for r in range(R):
        df = _panel(rng, 60, 4)
        med = bsp.mediation(df, None, treatment="x", mediator="m", outcome="y",
                            controls=["c"], seed=r, **KW)  # fmt: skip
        for k, v in _covered(med, truth).items():
            hits[k].append(v)
    rates = {k: np.mean(v) for k, v in hits.items()}
    assert all(0.85 <= r <= 0.95 for r in rates.values()), rates


def test_spatial_mediation_covers_the_composed_impacts():
    W = bsp.weights.lattice(7, 7, kind="queen")
    n = 49
    rho, theta = (0.3, 0.4), (0.2, 0.1, -0.2)
    Wd = W.row_standardize().sparse.toarray()
    eye = np.eye(n)
    Sm = np.linalg.solve(eye - rho[0] * Wd, A * eye + theta[0] * Wd)
    Sy = np.linalg.inv(eye - rho[1] * Wd)
    nie = Sy @ (B * eye + theta[1] * Wd) @ Sm
    nde = Sy @ (C * eye + theta[2] * Wd)
    truth = {}
    for name, M in (("nie", nie), ("nde", nde), ("te", nie + nde)):
        direct, total = np.trace(M) / n, M.sum() / n
        truth[(name, "all", "direct")] = direct
        truth[(name, "all", "indirect")] = total - direct
        truth[(name, "all", "total")] = total
    hits = {k: [] for k in truth}
    rng = np.random.default_rng(2)
    for r in range(R):
        df = _panel(rng, n, 5, W, rho, theta)
        med = bsp.mediation(df, W, treatment="x", mediator="m", outcome="y", controls=["c"],
                            model="sdm", seed=r, **KW)  # fmt: skip
        for k, v in _covered(med, truth).items():
            hits[k].append(v)
    rates = {k: np.mean(v) for k, v in hits.items()}
    assert all(0.85 <= r <= 0.95 for r in rates.values()), rates

"""Exact LOO split into blocks of observations on threads gives the one-block values."""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.engine import loo_exact

ORIGINAL = loo_exact.pointwise


def _inputs(monkeypatch, model, sim, W, **kw):
    """The arguments a fit passes to `loo_exact.pointwise` (captured, then computed again)."""
    seen = {}

    def spy(*args, **kwargs):
        seen["args"] = args
        return ORIGINAL(*args, **kwargs)

    monkeypatch.setattr(loo_exact, "pointwise", spy)
    bsp.fit(model, "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", draws=200, **kw)
    return seen["args"]


@pytest.mark.parametrize("model", ["sar", "sem"])
def test_blocks_on_threads_equal_one_block(model, monkeypatch):
    """The single-block values are checked against dense oracles in tests/models/test_loo.py;
    blocks of 7 observations on 3 threads must reproduce them to rounding."""
    W = weights.lattice(6, 6).row_standardize()
    args = _inputs(monkeypatch, model, simulate(model, W, T=3, rho=0.4, lam=0.4, seed=4), W)
    whole = ORIGINAL(*args)
    monkeypatch.setattr(loo_exact, "BLOCK", 7)
    split = ORIGINAL(*args, workers=3)
    np.testing.assert_allclose(split, whole, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("model", ["sar", "sdm"])
def test_lag_closed_form_equals_the_general_path(model, monkeypatch):
    """The lag model's per-observation quadratics in r give the values of the general
    path (a P_n^-1 product per grid point) to rounding."""
    W = weights.lattice(7, 6).row_standardize()
    sim = simulate("sdm", W, T=4, rho=0.5, theta=[0.4, -0.2], seed=8)
    args = _inputs(monkeypatch, model, sim, W, fe="unit")
    assert args[2] == "lag"
    used = []
    polynomials = loo_exact._lag_polynomials
    monkeypatch.setattr(
        loo_exact, "_lag_polynomials", lambda *a: used.append(polynomials(*a)) or used[-1]
    )
    closed = ORIGINAL(*args)
    assert len(used) == 1
    assert used[0] is not None  # P_n constant and m_n linear: the closed form ran
    general = ORIGINAL(*args, closed_form=False)
    np.testing.assert_allclose(closed, general, rtol=1e-10, atol=1e-10)


def test_nested_grids_stop_early_and_equal_the_full_grid(monkeypatch):
    """On a 40 x 40 panel the posterior of r is concentrated: the sum stops at a coarser
    nested grid, whose values equal the full grid's (REFINE_TOL < 0 forces it) to 1e-10."""
    W = weights.lattice(40, 40).row_standardize()
    sim = simulate("sar", W, T=3, rho=0.4, fe="twoway", seed=5)
    args = _inputs(monkeypatch, "sar", sim, W, fe="twoway")
    levels = loo_exact._nested_levels(args[3])
    assert np.bincount(levels).tolist() == [33, 32, 64, 128]  # the 257-point grid
    ran = []
    original_log1p = np.log1p
    monkeypatch.setattr(loo_exact.np, "log1p", lambda x: ran.append(x.size) or original_log1p(x))
    adaptive = ORIGINAL(*args)
    assert len(ran) < 257  # fewer grid points than the full grid
    monkeypatch.setattr(loo_exact, "REFINE_TOL", -1.0)
    ran.clear()
    full = ORIGINAL(*args)
    assert len(ran) == 257
    np.testing.assert_allclose(adaptive, full, rtol=0, atol=1e-10)


def test_nested_levels_need_a_uniform_power_of_two_grid():
    assert np.bincount(loo_exact._nested_levels(np.linspace(0, 1, 65))).tolist() == [33, 32]
    assert loo_exact._nested_levels(np.linspace(0, 1, 100)).max() == 0  # 99 intervals
    assert loo_exact._nested_levels(np.geomspace(1, 2, 129)).max() == 0  # not uniform

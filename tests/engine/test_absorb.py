"""Fixed effects on arbitrary cells against dummy-variable least squares (the oracle)."""

import numpy as np
import pytest

from bayespatial.engine import absorb
from bayespatial.engine.crossprod import demean


def _dummy_residuals(unit, time, v, fe):
    """v minus its least-squares fit on the unit and/or period dummies (numpy lstsq)."""
    cols = []
    if fe in ("unit", "twoway"):
        cols.append((unit[:, None] == np.unique(unit)[None]).astype(float))
    if fe in ("time", "twoway"):
        cols.append((time[:, None] == np.unique(time)[None]).astype(float))
    D = np.hstack(cols)
    coef = np.linalg.lstsq(D, v, rcond=None)[0]
    return v - D @ coef, np.linalg.matrix_rank(D)


def _unbalanced(rng, n_units=40, n_periods=9, keep=0.6):
    cells = [(u, t) for u in range(n_units) for t in range(n_periods) if rng.random() < keep]
    unit, time = map(np.array, zip(*cells, strict=True))
    return unit, time


@pytest.mark.parametrize("fe", ["unit", "time", "twoway"])
@pytest.mark.parametrize("direct_max", [absorb.DIRECT_MAX, 0])  # dense solve, then CG
def test_unbalanced_panel_equals_dummy_least_squares(fe, direct_max):
    rng = np.random.default_rng(1)
    unit, time = _unbalanced(rng)
    v = rng.normal(size=(unit.size, 3)) + 5 * unit[:, None] - 2 * time[:, None]
    state = absorb.init(unit, time, fe, direct_max=direct_max)
    want, rank = _dummy_residuals(unit, time, v, fe)
    np.testing.assert_allclose(state.annihilate(v), want, atol=1e-8 * np.abs(v).max())
    assert state.dof == rank
    assert state.components == 1


@pytest.mark.parametrize("direct_max", [absorb.DIRECT_MAX, 0])
def test_disconnected_design_loses_one_degree_of_freedom_per_component(direct_max):
    """Units 0-9 observed in periods 0-3 only and units 10-19 in periods 4-7 only (with
    gaps): two components, so the two-way dummies have rank n_u + n_t - 2."""
    rng = np.random.default_rng(2)
    cells = [
        (u, t)
        for u in range(20)
        for t in (range(4) if u < 10 else range(4, 8))
        if rng.random() < 0.8 or t in (0, 4)
    ]
    unit, time = map(np.array, zip(*cells, strict=True))
    unit, time = unit * 7 + 3, 2000 + time  # ids and periods need not be codes
    v = rng.normal(size=unit.size)
    state = absorb.init(unit, time, "twoway", direct_max=direct_max)
    want, rank = _dummy_residuals(unit, time, v, "twoway")
    assert state.components == 2
    assert state.dof == rank == 20 + 8 - 2
    np.testing.assert_allclose(state.annihilate(v), want, atol=1e-10)


def test_more_periods_than_units_and_a_unit_seen_once():
    """The factor with fewer levels goes through S whichever it is; a singleton cell's
    residual is zero."""
    rng = np.random.default_rng(3)
    unit, time = _unbalanced(rng, n_units=6, n_periods=50, keep=0.7)
    unit, time = np.append(unit, 99), np.append(time, 0)  # unit 99: one cell
    v = rng.normal(size=unit.size)
    state = absorb.init(unit, time, "twoway")
    want, rank = _dummy_residuals(unit, time, v, "twoway")
    np.testing.assert_allclose(state.annihilate(v), want, atol=1e-10)
    assert abs(state.annihilate(v)[-1]) < 1e-10
    assert state.dof == rank


@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
def test_balanced_panel_equals_the_balanced_transformation(fe):
    rng = np.random.default_rng(4)
    T, n = 5, 12
    v = rng.normal(size=(T, n, 2))
    time, unit = np.divmod(np.arange(T * n), n)  # period-major cells
    state = absorb.init(unit, time, fe)
    got = state.annihilate(v.reshape(T * n, 2)).reshape(T, n, 2)
    np.testing.assert_allclose(got, demean(v, fe), atol=1e-12)


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="one length"):
        absorb.init(np.arange(3), np.arange(4), "unit")
    with pytest.raises(ValueError, match="fe must be one of"):
        absorb.init(np.arange(3), np.arange(3), "firm")
    with pytest.raises(ValueError, match="the cells are 3"):
        absorb.init(np.arange(3), np.arange(3), "unit").annihilate(np.ones(4))


@pytest.mark.parametrize("direct_max", [absorb.DIRECT_MAX, 0])
def test_disconnected_with_units_the_smaller_factor_and_a_single_period(direct_max):
    rng = np.random.default_rng(5)
    cells = [(u, t) for u in range(4) for t in (range(15) if u < 2 else range(15, 30))]
    unit, time = map(np.array, zip(*cells, strict=True))
    v = rng.normal(size=(unit.size, 2))
    state = absorb.init(unit, time, "twoway", direct_max=direct_max)
    want, rank = _dummy_residuals(unit, time, v, "twoway")
    assert (state.components, state.dof) == (2, rank)
    np.testing.assert_allclose(state.annihilate(v), want, atol=1e-10)
    # one period: its effect is the constant the unit effects already hold
    unit1, time1 = np.arange(9), np.zeros(9, dtype=int)
    v1 = rng.normal(size=9)
    one = absorb.init(unit1, time1, "twoway", direct_max=direct_max)
    want1, rank1 = _dummy_residuals(unit1, time1, v1, "twoway")
    assert one.dof == rank1 == 9
    np.testing.assert_allclose(one.annihilate(v1), want1, atol=1e-12)


def _dummy_annihilator(unit, time, fe):
    """I - D D^+ of the unit and/or period dummies (dense numpy pseudo-inverse)."""
    cols = [np.zeros((unit.size, 0))]
    if fe in ("unit", "twoway"):
        cols.append((unit[:, None] == np.unique(unit)[None]).astype(float))
    if fe in ("time", "twoway"):
        cols.append((time[:, None] == np.unique(time)[None]).astype(float))
    D = np.hstack(cols)
    return np.eye(unit.size) - D @ np.linalg.pinv(D)


@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
def test_diagonal_equals_the_dummy_annihilator(fe):
    rng = np.random.default_rng(6)
    unit, time = _unbalanced(rng)
    unit, time = np.append(unit, 99), np.append(time, 3)  # a unit seen once: M_ii = 0
    state = absorb.init(unit, time, fe)
    want = np.diag(_dummy_annihilator(unit, time, fe))
    np.testing.assert_allclose(state.diagonal(block=370), want, atol=1e-10)
    if fe in ("unit", "twoway"):
        assert abs(state.diagonal()[-1]) < 1e-10


def test_diagonal_of_a_disconnected_design_and_the_cg_path_refuses():
    rng = np.random.default_rng(7)
    cells = [(u, t) for u in range(12) for t in (range(5) if u < 6 else range(5, 9))]
    cells = [c for c in cells if rng.random() < 0.85]
    unit, time = map(np.array, zip(*cells, strict=True))
    state = absorb.init(unit, time, "twoway")
    assert state.components == 2
    np.testing.assert_allclose(
        state.diagonal(), np.diag(_dummy_annihilator(unit, time, "twoway")), atol=1e-10
    )
    with pytest.raises(ValueError, match="one sparse solve per cell"):
        absorb.init(unit, time, "twoway", direct_max=0).diagonal()


@pytest.mark.parametrize("fe", ["unit", "twoway"])
def test_cell_cross_products_are_those_of_the_dummy_residuals(fe):
    rng = np.random.default_rng(8)
    unit, time = _unbalanced(rng)
    y, Z = rng.normal(size=unit.size), rng.normal(size=(unit.size, 2))
    state = absorb.init(unit, time, fe)
    cp = absorb.cross_products(y, Z, state)
    ry, rank = _dummy_residuals(unit, time, y, fe)
    rz, _ = _dummy_residuals(unit, time, Z, fe)
    np.testing.assert_allclose(cp.gram[0, 0], ry @ ry, rtol=1e-10)
    np.testing.assert_allclose(cp.gram[2:4, 0], rz.T @ ry, rtol=1e-10)
    np.testing.assert_allclose(cp.gram[2:4, 2:4], rz.T @ rz, rtol=1e-10)
    assert cp.nobs == unit.size - rank
    assert cp.p == 2
    assert not cp.gram[1].any()  # no W blocks on cells
    assert not cp.gram[4:].any()

import numpy as np
import pandas as pd
import pytest

from bayespatial.data import weights
from bayespatial.data.errors import PanelError
from bayespatial.data.panel import Panel
from bayespatial.models.design import build_design


@pytest.fixture
def panel_and_w():
    rng = np.random.default_rng(2)
    W = weights.lattice(3, 4).row_standardize()
    T = 5
    df = pd.DataFrame(
        {"unit": np.tile(W.ids, T), "year": np.repeat(np.arange(2001, 2001 + T), W.n)}
    )
    df["x"] = rng.uniform(1, 2, len(df))
    df["z"] = rng.normal(size=len(df))
    df["y"] = rng.normal(size=len(df))
    df["region_const"] = np.tile(rng.normal(size=W.n), T)
    return Panel.from_frame(df.sample(frac=1, random_state=1), "unit", "year", W=W), W


def test_transforms_lags_and_durbin_terms(panel_and_w):
    panel, W = panel_and_w
    d = build_design(
        "y ~ x + I(x**2) + np.log(x) + lag(z, 2)",
        panel,
        W,
        durbin=["x"],
        fe="twoway",
        drop_initial=2,
    )
    assert d.names == ("x", "I(x ** 2)", "np.log(x)", "lag(z, 2)")
    assert d.X.shape == (3, W.n, 4)
    assert d.periods == (2003, 2004, 2005)
    f = panel.frame
    z = f["z"].to_numpy().reshape(5, W.n)
    np.testing.assert_allclose(d.X[:, :, 3], z[:3])  # z two periods earlier, same unit
    x = f["x"].to_numpy().reshape(5, W.n)[2:]
    np.testing.assert_allclose(d.X[:, :, 1], x**2)
    np.testing.assert_allclose(d.WX[:, :, 0], (W.sparse @ x.T).T)
    assert "Intercept absorbed" in d.notes[0]
    assert "24 rows" in d.notes[1]


def test_lag_without_drop_says_how_many_periods(panel_and_w):
    panel, W = panel_and_w
    with pytest.raises(PanelError, match=r"lag\(z, 2\).*drop_initial"):
        build_design("y ~ x + lag(z, 2)", panel, W, drop_initial=1)


def test_time_invariant_regressor_under_unit_effects(panel_and_w):
    panel, W = panel_and_w
    with pytest.raises(PanelError, match=r"region_const.*constant within units"):
        build_design("y ~ x + region_const", panel, W, fe="unit")
    d = build_design("y ~ x + region_const", panel, W, fe="time")
    assert "region_const" in d.names


def test_collinear_terms_named(panel_and_w):
    panel, W = panel_and_w
    frame = panel.frame.assign(x2=lambda f: 2 * f["x"] + f["z"])
    p2 = Panel(frame, panel.unit, panel.time, panel.units, panel.periods)
    with pytest.raises(PanelError, match=r"rank-deficient.*'x'.*'x2'"):
        build_design("y ~ x + z + x2", p2, W)


def test_bad_formula_and_durbin_names(panel_and_w):
    panel, W = panel_and_w
    with pytest.raises(PanelError, match="cannot evaluate formula"):
        build_design("y ~ nope", panel, W)
    with pytest.raises(PanelError, match="durbin terms"):
        build_design("y ~ x", panel, W, durbin=["z"])

import numpy as np
import pandas as pd
import pytest

from bayespatial.data.errors import PanelError, WeightsError
from bayespatial.data.panel import Panel
from bayespatial.data.weights import from_sparse, lattice


@pytest.fixture
def long_frame():
    rng = np.random.default_rng(1)
    units, years = ["a", "b", "c", "d"], [2001, 2002, 2003]
    df = pd.DataFrame([(u, t) for u in units for t in years], columns=["region", "year"])
    df["y"] = rng.standard_normal(len(df))
    df["x"] = np.arange(len(df), dtype=float)
    return df.sample(frac=1.0, random_state=0)  # shuffled on purpose


@pytest.fixture
def W4():
    return from_sparse(lattice(2, 2).sparse, ids=["a", "b", "c", "d"])


def test_sorted_period_major_in_w_order(long_frame, W4):
    W = W4.align(["d", "c", "b", "a"])
    p = Panel.from_frame(long_frame, "region", "year", ["y", "x"], W=W)
    assert p.units == ("d", "c", "b", "a")
    assert p.frame["region"].tolist()[:4] == ["d", "c", "b", "a"]
    assert p.frame["year"].tolist() == [2001] * 4 + [2002] * 4 + [2003] * 4
    # x was numbered unit-major (a..d) x year before the shuffle: x = 3 * unit + year index
    expected = np.array([[3 * u + t for u in (3, 2, 1, 0)] for t in range(3)], dtype=float)
    np.testing.assert_array_equal(p.values("x"), expected)


def test_missing_column_named(long_frame):
    with pytest.raises(PanelError, match="'z'"):
        Panel.from_frame(long_frame, "region", "year", ["z"])


def test_nan_names_column_unit_and_period(long_frame):
    df = long_frame.copy()
    df.loc[(df.region == "c") & (df.year == 2002), "y"] = np.nan
    with pytest.raises(PanelError, match=r"'y' is missing.*\(region=c, year=2002\)"):
        Panel.from_frame(df, "region", "year", ["y"])


def test_infinite_value_rejected(long_frame):
    df = long_frame.copy()
    df.loc[df.index[0], "x"] = np.inf
    with pytest.raises(PanelError, match="'x' is missing or infinite"):
        Panel.from_frame(df, "region", "year", ["x"])


def test_duplicates_named(long_frame):
    df = pd.concat([long_frame, long_frame.iloc[[0]]])
    u, _t = long_frame.iloc[0][["region", "year"]]
    with pytest.raises(PanelError, match=rf"share a \(region, year\).*{u}"):
        Panel.from_frame(df, "region", "year")


def test_unbalanced_lists_missing_unit_periods(long_frame):
    df = long_frame[~((long_frame.region == "b") & (long_frame.year == 2003))]
    with pytest.raises(PanelError, match=r"unbalanced.*\('b', 2003\)"):
        Panel.from_frame(df, "region", "year")


def test_units_must_match_w_both_ways(long_frame, W4):
    with pytest.raises(WeightsError, match="not in the data: 'd'"):
        Panel.from_frame(long_frame[long_frame.region != "d"], "region", "year", W=W4)
    W3 = from_sparse(lattice(1, 3).sparse, ids=["a", "b", "c"])
    with pytest.raises(WeightsError, match="not in W: 'd'"):
        Panel.from_frame(long_frame, "region", "year", W=W3)


def test_lags_stay_within_units_and_drops_are_counted(long_frame):
    p = Panel.from_frame(long_frame, "region", "year", ["x"]).with_lags({"x": [1, 2]})
    f = p.frame
    for u in "abcd":
        sub = f[f.region == u].sort_values("year")
        assert np.isnan(sub["x_lag1"].iloc[0])
        assert sub["x_lag1"].iloc[1:].tolist() == sub["x"].iloc[:-1].tolist()
        assert sub["x_lag2"].iloc[2] == sub["x"].iloc[0]
    with pytest.raises(PanelError, match=r"x_lag1.*drop_initial"):
        p.check_finite(["x_lag1"])
    q = p.drop_initial(2)
    assert q.T == 1
    assert q.periods == (2003,)
    assert "8 rows" in q.notes[-1]
    q.check_finite(["x_lag1", "x_lag2"])


def test_require_periods(long_frame):
    p = Panel.from_frame(long_frame, "region", "year")
    with pytest.raises(PanelError, match="at least 5 periods"):
        p.require_periods(5, "unit fixed effects")


def test_cross_section(long_frame):
    cs = long_frame[long_frame.year == 2001]
    p = Panel.from_frame(cs, "region", None, ["y"])
    assert p.T == 1
    assert p.n == 4


def test_unbalanced_panel_when_asked_cells_and_lags_across_a_gap(long_frame):
    """balanced=False keeps an unbalanced panel; a lag reads the period before by
    position, so the row after a unit's gap has no lag (NaN), never the row before it."""
    df = long_frame[~((long_frame.region == "b") & (long_frame.year == 2002))]
    p = Panel.from_frame(df, "region", "year", ["x"], balanced=False)
    assert not p.balanced
    assert len(p.frame) == 11
    t, u = p.cells()
    assert (p.frame["year"].to_numpy() == np.asarray(p.periods)[t]).all()
    assert (p.frame["region"].to_numpy() == np.asarray(p.units)[u]).all()
    lag = p.lag(p.frame["x"], 1)
    b = p.frame["region"].to_numpy() == "b"
    assert np.isnan(lag[b]).all()  # 2001 has no earlier period, 2003's earlier one is absent
    a = p.frame[p.frame.region == "a"].sort_values("year")
    assert lag[a.index[2]] == a["x"].iloc[1]
    with pytest.raises(PanelError, match="needs a balanced panel"):
        p.values("x")
    full = Panel.from_frame(long_frame, "region", "year", ["x"])
    for k in (2, 1, -1, 5):  # as pandas' shift within units: lags, a lead, beyond the panel
        want = full.frame.groupby("region")["x"].shift(k).to_numpy()
        np.testing.assert_array_equal(full.lag(full.frame["x"], k), want)

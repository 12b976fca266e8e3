"""Bad input met by a newcomer: each error names the real cause and the fix.

Each case was once reported as a symptom far from its cause (a rank-deficient
dummy coding, "regressors vanish", "duplicates", "units of W are not in the
data", a TypeError on advice the message itself gave).
"""

import numpy as np
import pandas as pd
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate


@pytest.fixture(scope="module")
def sim():
    W = weights.lattice(5, 6).row_standardize()
    out = simulate("sar", W, T=5, beta=[1.0, -0.5], rho=0.4, fe="none", seed=1)
    df = out.frame.assign(year=lambda d: d["time"] + 2000).drop(columns="time")
    return df, W


KW = {"unit": "unit", "time": "year", "draws": 50}


def test_island_advice_works_in_fit(sim):
    """The island error's advice (islands='keep') is an argument of fit, and fitting with
    it equals fitting on the W row-standardised with islands kept (same seed)."""
    df, W = sim
    a = weights.lattice(5, 6).sparse.tolil()
    a[0, :] = 0
    a[:, 0] = 0
    raw = weights.from_sparse(a.tocsr(), W.ids, islands="keep")
    with pytest.raises(bsp.WeightsError, match=r"island.*islands='keep'.*bsp\.fit"):
        bsp.fit("sar", "y ~ x1 + x2", df, raw, fe="unit", **KW)
    kept = bsp.fit("sar", "y ~ x1 + x2", df, raw, fe="unit", islands="keep", **KW)
    by_hand = bsp.fit(
        "sar", "y ~ x1 + x2", df, raw.row_standardize(islands="keep"), fe="unit", **KW
    )
    np.testing.assert_array_equal(kept.draws("rho"), by_hand.draws("rho"))
    with pytest.raises(bsp.ModelError, match="islands"):
        bsp.fit("sar", "y ~ x1", df, raw, islands="drop", **KW)


def test_numeric_column_with_a_stray_string_is_named(sim):
    df, W = sim
    bad = df.copy()
    bad["x1"] = bad["x1"].astype(object)
    row = bad.index[(bad["unit"] == 3) & (bad["year"] == 2002)][0]
    bad.loc[row, "x1"] = "n/a"
    with pytest.raises(
        bsp.PanelError, match=r"column 'x1' is text.*'n/a'.*unit=3, year=2002.*pd\.to_numeric"
    ):
        bsp.fit("sar", "y ~ x1 + x2", bad, W, **KW)


def test_a_real_text_category_is_still_dummy_coded(sim):
    df, W = sim
    cat = df.assign(zone=np.where(df["unit"].astype(int) < 15, "north", "south"))
    fit = bsp.fit("sar", "y ~ x1 + C(zone)", cat, W, **KW)
    assert any("zone" in t for t in fit.summary()["term"])


@pytest.mark.parametrize("fe", ["unit", "twoway"])
def test_unit_effects_on_one_period_say_so(sim, fe):
    df, W = sim
    one = df[df["year"] == 2003]
    with pytest.raises(
        bsp.PanelError, match=rf"fe='{fe}' needs at least 2 periods.*have 1 \(2003\)"
    ):
        bsp.fit("sar", "y ~ x1 + x2", one, W, fe=fe, **KW)


def test_a_panel_without_time_is_recognised(sim):
    df, W = sim
    with pytest.raises(bsp.PanelError, match=r"each unit appears 5 times.*time=.*'year'"):
        bsp.fit("sar", "y ~ x1 + x2", df, W, unit="unit", draws=50)


def test_an_empty_frame_says_it_is_empty(sim):
    df, W = sim
    with pytest.raises(bsp.PanelError, match="empty"):
        bsp.fit("sar", "y ~ x1 + x2", df.iloc[:0], W, **KW)


def test_lag_errors_print_ids_and_periods_as_in_the_data(sim):
    """Rows of mixed dtypes once became floats ("0.0 in 2000.0") in the message."""
    df, W = sim
    ints = df.assign(unit=df["unit"].astype(int))
    Wi = weights.from_sparse(W.sparse, [int(u) for u in W.ids])
    with pytest.raises(bsp.PanelError, match=r"lag\(x2, 1\).*\(unit=0, year=2000\)") as err:
        bsp.fit("sar", "y ~ x1 + lag(x2, 1)", ints, Wi, **KW)
    assert ".0" not in str(err.value)


@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")  # Pareto k
def test_compare_takes_a_list_named_by_model(sim):
    df, W = sim
    fits = [bsp.fit(m, "y ~ x1 + x2", df, W, **KW) for m in ("sar", "sem", "sar")]
    table = bsp.compare(fits, progress=False)
    assert set(table.index) == {"sar", "sem", "sar_2"}
    with pytest.raises(ValueError, match="at least two"):
        bsp.compare(fits[:1])


def test_slm_is_the_spatial_lag_model(sim):
    df, W = sim
    slm = bsp.fit("SLM", "y ~ x1 + x2", df, W, **KW)
    sar = bsp.fit("sar", "y ~ x1 + x2", df, W, **KW)
    assert slm.model == "sar"
    np.testing.assert_array_equal(slm.draws("rho"), sar.draws("rho"))
    with pytest.raises(bsp.ModelError, match="slm=sar"):
        bsp.fit("spatial lag", "y ~ x1", df, W, **KW)


def test_frames_that_are_not_frames(sim):
    _, W = sim
    with pytest.raises(bsp.PanelError, match="DataFrame"):
        bsp.fit("sar", "y ~ x1", pd.Series([1.0]), W, **KW)

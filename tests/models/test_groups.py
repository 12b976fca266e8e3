"""Groupings of units and the columns of group-varying terms."""

import numpy as np
import pandas as pd
import pytest

from bayespatial.data import weights
from bayespatial.data.errors import PanelError
from bayespatial.data.panel import Panel
from bayespatial.models.groups import grouping, varying_columns


@pytest.fixture
def panel_and_W():
    W = weights.lattice(3, 3).row_standardize()
    rng = np.random.default_rng(0)
    rows = [(u, t) for t in (2001, 2002) for u in W.ids]
    df = pd.DataFrame(rows, columns=["unit", "year"])
    df["x1"], df["x2"] = rng.normal(size=len(df)), rng.normal(size=len(df))
    df["region"] = df["unit"].map(lambda u: "east" if W.ids.index(u) < 4 else "west")
    return Panel.from_frame(df, "unit", "year", W=W), W


def test_grouping_follows_the_units(panel_and_W):
    panel, _ = panel_and_W
    g = grouping(panel, "region")
    assert g.labels == ("east", "west")
    assert g.of_unit.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert g.sizes.tolist() == [4, 5]


def test_grouping_errors_name_the_cause(panel_and_W):
    panel, W = panel_and_W
    df = panel.frame.copy()
    df.loc[(df["unit"] == W.ids[2]) & (df["year"] == 2002), "region"] = "west"
    with pytest.raises(PanelError, match=rf"1 unit\(s\) change group over time: {W.ids[2]}"):
        grouping(Panel.from_frame(df, "unit", "year", W=W), "region")
    df = panel.frame.assign(region=np.where(panel.frame.index == 3, None, panel.frame["region"]))
    with pytest.raises(PanelError, match="is missing for 1 row"):
        grouping(Panel.from_frame(df, "unit", "year", W=W), "region")
    with pytest.raises(PanelError, match="one group"):
        grouping(Panel.from_frame(panel.frame.assign(region="all"), "unit", "year", W=W), "region")
    with pytest.raises(PanelError, match="not in the data"):
        grouping(panel, "province")


def test_varying_columns_split_x_and_w_x_by_group(panel_and_W):
    """Group columns add up to the pooled ones; W (x * 1[g]) is W applied to the masked x
    (dense numpy per period), so spillovers carry the source unit's group."""
    panel, W = panel_and_W
    g = grouping(panel, "region")
    x1, x2 = panel.values("x1"), panel.values("x2")
    dense = W.sparse.toarray()
    Wx1 = x1 @ dense.T
    Z = np.stack([x1, x2, Wx1], axis=2)
    names, Zg, layout, owners = varying_columns(Z, ("x1", "x2", "W_x1"), {"x1": g}, W)
    assert names == ("x2", "x1[east]", "x1[west]", "W_x1[east]", "W_x1[west]")
    assert layout.p == 5
    assert layout.blocks == ((1, 2), (3, 2))
    assert owners == (("x1", "region"), ("W_x1", "region"))
    np.testing.assert_array_equal(Zg[..., 0], x2)
    np.testing.assert_allclose(Zg[..., 1] + Zg[..., 2], x1, atol=1e-14)
    np.testing.assert_allclose(Zg[..., 3] + Zg[..., 4], Wx1, atol=1e-14)
    east = (g.of_unit == 0).astype(float)
    np.testing.assert_allclose(Zg[..., 3], (x1 * east) @ dense.T, atol=1e-14)
    assert np.all(Zg[..., 1][:, g.of_unit == 1] == 0)
    with pytest.raises(PanelError, match=r"varying terms \['x3'\]"):
        varying_columns(Z, ("x1", "x2", "W_x1"), {"x3": g}, W)

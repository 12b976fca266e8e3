import numpy as np

import bayespatial as bsp
from bayespatial.data.panel import Panel


def test_nat_panel_loads_offline_and_matches_w():
    d = bsp.load_nat()
    assert d.frame.shape[0] == 3085 * 4
    assert set(d.frame["year"]) == {1960, 1970, 1980, 1990}
    assert d.W.n == 3085
    assert not d.W.islands
    cols = ["HR", "RD", "PS", "UE", "DV", "MA"]
    p = Panel.from_frame(d.frame, d.unit, d.time, cols, W=d.W)
    assert (p.n, p.T) == (3085, 4)
    # HR90 of Lake of the Woods county (FIPS 27077) in the original dbf
    row = d.frame[(d.frame.fips == 27077) & (d.frame.year == 1990)]
    assert np.isclose(row["HR"].iloc[0], 0.0)


def test_columbus_and_baltim():
    c = bsp.load_columbus()
    assert c.frame.shape[0] == 49
    assert c.W.n == 49
    # the summaries spreg's documentation prints for Columbus (OLS of HOVAL, GM of CRIME):
    # mean and S.D. of the dependent variable, 4 decimals
    for col, mean, sd in (("CRIME", 35.1288, 16.7321), ("HOVAL", 38.4362, 18.4661)):
        assert round(c.frame[col].mean(), 4) == mean, col
        assert round(c.frame[col].std(), 4) == sd, col
    Panel.from_frame(c.frame, c.unit, None, ["CRIME", "INC", "HOVAL"], W=c.W)
    b = bsp.load_baltim()
    assert b.frame.shape[0] == 211
    assert b.W.n == 211
    Panel.from_frame(b.frame, b.unit, None, ["PRICE"], W=b.W)


def test_china_provinces_contiguity():
    """30 provinces without Tibet; symmetric land borders; Hainan linked only to Guangdong;
    the study's regions 12/9/9, each a connected sub-graph (no islands when subset)."""
    from bayespatial.data.datasets import load_china_provinces

    table, W = load_china_provinces()
    assert W.n == 30
    assert "Tibet" not in W.ids
    m = W.sparse
    assert (m != m.T).nnz == 0
    assert W.nnz == 2 * 65
    row = dict(zip(W.ids, m.toarray(), strict=True))
    assert [W.ids[j] for j in np.flatnonzero(row["Hainan"])] == ["Guangdong"]
    assert {W.ids[j] for j in np.flatnonzero(row["Shanghai"])} == {"Jiangsu", "Zhejiang"}
    assert table.region.value_counts().to_dict() == {"east": 12, "central": 9, "west": 9}
    assert table.set_index("province").loc["Shaanxi", "region"] == "west"
    for region in ("east", "central", "west"):
        sub = W.subset(list(table.province[table.region == region]))
        assert sub.islands == ()

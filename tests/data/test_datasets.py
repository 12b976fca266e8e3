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
    Panel.from_frame(c.frame, c.unit, None, ["CRIME", "INC", "HOVAL"], W=c.W)
    b = bsp.load_baltim()
    assert b.frame.shape[0] == 211
    assert b.W.n == 211
    Panel.from_frame(b.frame, b.unit, None, ["PRICE"], W=b.W)

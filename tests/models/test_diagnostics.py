"""Moran's I per period against esda (an independent implementation)."""

import esda
import libpysal
import numpy as np
import pytest

import bayespatial as bsp


def _esda(x, W):
    w = libpysal.weights.WSP(W.sparse, id_order=list(W.ids)).to_W(silence_warnings=True)
    w.transform = "r"
    return esda.Moran(x, w, two_tailed=True, permutations=0)


def test_columbus_cross_section_matches_esda():
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    got = bsp.moran(df, data.W, "CRIME", unit="id").iloc[0]
    ref = _esda(df["CRIME"].to_numpy(), data.W)
    for ours, theirs in [
        ("I", "I"),
        ("expected", "EI"),
        ("z_norm", "z_norm"),
        ("p_norm", "p_norm"),
        ("z_rand", "z_rand"),
        ("p_rand", "p_rand"),
    ]:
        assert got[ours] == pytest.approx(getattr(ref, theirs), rel=1e-10), ours


def test_nat_per_decade_matches_esda():
    nat = bsp.load_nat()
    table = bsp.moran(nat.frame, nat.W, "HR", unit="fips", time="year")
    assert list(table["time"]) == [1960, 1970, 1980, 1990]
    frame = nat.frame.set_index(["year", "fips"])
    for _, row in table.iterrows():
        x = frame.loc[row["time"]].reindex(list(nat.W.ids))["HR"].to_numpy()
        ref = _esda(x, nat.W)
        assert row["I"] == pytest.approx(ref.I, rel=1e-10)
        assert row["z_rand"] == pytest.approx(ref.z_rand, rel=1e-9)
        assert np.isfinite(row["p_norm"])

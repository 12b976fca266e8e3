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
        assert row["p_norm"] == pytest.approx(ref.p_norm, rel=1e-9, abs=1e-300)


# --------------------------------------------------------------------- LM tests


def test_lm_tests_cross_section_match_spreg():
    """Columbus OLS: every LM statistic and p-value equals spreg's spatial diagnostics."""
    spreg = pytest.importorskip("spreg")
    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    table = bsp.lm_tests(df, data.W, "CRIME ~ INC + HOVAL", unit="id").set_index("test")
    w = libpysal.weights.WSP(data.W.sparse, id_order=list(data.W.ids)).to_W(silence_warnings=True)
    w.transform = "r"
    ols = spreg.OLS(df[["CRIME"]].to_numpy(), df[["INC", "HOVAL"]].to_numpy(), w=w, spat_diag=True)
    pairs = {
        "LM lag": ols.lm_lag,
        "Robust LM lag": ols.rlm_lag,
        "LM error": ols.lm_error,
        "Robust LM error": ols.rlm_error,
        "LM SARMA": ols.lm_sarma,
    }
    for name, (stat, p) in pairs.items():
        assert table.loc[name, "statistic"] == pytest.approx(stat, rel=1e-10), name
        assert table.loc[name, "p_value"] == pytest.approx(p, rel=1e-8), name


def _orthonormal_complement(m):
    """m x (m - 1) matrix F with F'F = I and F'1 = 0 (Lee & Yu's F_{m,m-1})."""
    import scipy.linalg

    return scipy.linalg.null_space(np.ones((1, m)))


def _dense_lm(y, X, Wd):
    """Anselin et al. (1996) with dense matrices: the oracle for the panel tests."""
    N = y.size
    M = np.eye(N) - X @ np.linalg.solve(X.T @ X, X.T)
    e = M @ y
    s2 = e @ e / N
    tw = np.trace(Wd.T @ Wd + Wd @ Wd)
    wxb = Wd @ (y - e)
    nj = (wxb @ M @ wxb + tw * s2) / s2
    a, c = e @ Wd @ y / s2, e @ Wd @ e / s2
    return {
        "LM lag": a**2 / nj,
        "Robust LM lag": (a - c) ** 2 / (nj - tw),
        "LM error": c**2 / tw,
        "Robust LM error": (c - tw / nj * a) ** 2 / (tw * (1 - tw / nj)),
    }


@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
def test_lm_tests_panel_match_dense_lee_yu_transform(fe):
    """Panels: the O(nnz) statistics equal the cross-section tests on the explicitly
    transformed panel (F_T' and/or F_n' applied, weights I ⊗ F_n'W F_n)."""
    from bayespatial.data.simulate import simulate

    W = bsp.weights.lattice(5, 6).row_standardize()
    sim = simulate("sar", W, T=4, beta=(1.0, -0.5), rho=0.3, fe="twoway", seed=3)
    table = bsp.lm_tests(sim.frame, W, "y ~ x1 + x2", unit="unit", time="time", fe=fe)
    table = table.set_index("test")
    n, T = W.n, 4
    Wn = W.sparse.toarray()
    y = sim.frame["y"].to_numpy()
    X = sim.frame[["x1", "x2"]].to_numpy()
    Ft = _orthonormal_complement(T).T if fe in ("unit", "twoway") else np.eye(T)
    Fn = _orthonormal_complement(n).T if fe in ("time", "twoway") else np.eye(n)
    if fe == "none":
        X = np.column_stack([np.ones(n * T), X])
    P = np.kron(Ft, Fn)
    Wd = np.kron(np.eye(Ft.shape[0]), Fn @ Wn @ Fn.T)
    ref = _dense_lm(P @ y, P @ X, Wd)
    assert table.attrs["nobs"] == P.shape[0]
    for name, value in ref.items():
        assert table.loc[name, "statistic"] == pytest.approx(value, rel=1e-9), (fe, name)


def test_lm_tests_size_under_no_spatial_dependence():
    """Two-way FE panel with rho = lam = 0: each test rejects at 5% about 5% of the time.

    400 replications: the rejection rate's Monte Carlo sd is 1.1 points, so
    [2%, 9%] is about +-3.5 sd around 5%.
    """
    from bayespatial.data.simulate import simulate
    from bayespatial.engine.lmtests import TESTS
    from bayespatial.engine.lmtests import lm_tests as lm_stats

    W = bsp.weights.lattice(7, 7).row_standardize()
    reject = np.zeros(4)
    reps = 400
    for r in range(reps):
        sim = simulate("ols", W, T=5, beta=(1.0, -0.5), fe="twoway", seed=100 + r)
        y = sim.frame["y"].to_numpy().reshape(5, W.n)
        Z = sim.frame[["x1", "x2"]].to_numpy().reshape(5, W.n, 2)
        out = lm_stats(y, Z, W.sparse, "twoway")
        reject += [out[k][2] < 0.05 for k in TESTS[:4]]
    rate = reject / reps
    assert np.all((rate > 0.02) & (rate < 0.09)), rate


def test_lm_tests_detect_a_spatial_lag():
    """A SAR panel with rho = 0.4 gives a large LM lag and a larger robust lag than robust error."""
    from bayespatial.data.simulate import simulate

    W = bsp.weights.lattice(8, 8).row_standardize()
    sim = simulate("sar", W, T=6, beta=(1.0, -0.5), rho=0.4, fe="twoway", seed=5)
    table = bsp.lm_tests(sim.frame, W, "y ~ x1 + x2", unit="unit", time="time", fe="twoway")
    stat = table.set_index("test")["statistic"]
    assert stat["LM lag"] > 30
    assert stat["Robust LM lag"] > stat["Robust LM error"]


def test_moran_scatter_slope_is_morans_i():
    from bayespatial.models.plots import moran_scatter

    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    moran_i = bsp.moran(df, data.W, "CRIME", unit="id")["I"].iloc[0]
    fig = moran_scatter({"columbus": df["CRIME"].to_numpy()}, data.W)
    ax = fig.axes[0]
    assert f"I = {moran_i:.3f}" in ax.get_title()
    x = df["CRIME"].to_numpy()
    z = (x - x.mean()) / x.std()
    Wd = data.W.row_standardize().sparse.toarray()
    np.testing.assert_allclose(ax.collections[0].get_offsets(), np.c_[z, Wd @ z], rtol=1e-12)
    line = ax.lines[0]
    slope = np.diff(line.get_ydata()) / np.diff(line.get_xdata())
    np.testing.assert_allclose(slope, moran_i, rtol=1e-10)  # the fitted line is Moran's I

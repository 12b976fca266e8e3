"""Split-panel jackknife: halves, the shift it applies, where it is allowed, what it achieves."""

import json

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.models.nickell import halves


def test_halves_overlap_by_one_when_T_is_odd():
    assert halves(tuple(range(6))) == ((0, 1, 2), (3, 4, 5))
    assert halves(tuple(range(7))) == ((0, 1, 2, 3), (3, 4, 5, 6))


@pytest.fixture(scope="module")
def panel():
    W = weights.lattice(6, 6).row_standardize()
    sim = simulate(
        "dsdm",
        W,
        T=12,
        beta=[1.0, -0.5],
        theta=[0.3, 0.2],
        tau=0.5,
        rho=0.2,
        eta=0.1,
        fe="twoway",
        seed=4,
    )
    return sim.frame, W


def test_jackknife_shift_is_two_full_minus_mean_of_halves(panel):
    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 500, "seed": 3}
    plain = bsp.fit("dsdm", "y ~ x1 + x2", df, W, bias_correction="none", **kw)
    jack = bsp.fit("dsdm", "y ~ x1 + x2", df, W, bias_correction="jackknife", **kw)
    h1 = bsp.fit("dsdm", "y ~ x1 + x2", df[df.time < 6], W, bias_correction="none", **kw)
    h2 = bsp.fit("dsdm", "y ~ x1 + x2", df[df.time >= 6], W, bias_correction="none", **kw)
    want = 2 * plain.draws("tau").mean() - 0.5 * (h1.draws("tau").mean() + h2.draws("tau").mean())
    assert jack.draws("tau").mean() == pytest.approx(want, rel=1e-12)
    shift = json.loads(jack.attrs["jackknife_shift"])["tau"][0]
    np.testing.assert_allclose(jack.draws("tau") - plain.draws("tau"), shift, atol=1e-6)
    assert jack.draws("tau").std() == pytest.approx(plain.draws("tau").std())  # spread kept


def test_jackknife_only_where_the_bias_arises(panel):
    df, W = panel
    with pytest.raises(bsp.ModelError, match="dsdm"):
        bsp.fit(
            "sdm",
            "y ~ x1 + x2",
            df,
            W,
            unit="unit",
            time="time",
            fe="twoway",
            bias_correction="jackknife",
        )
    with pytest.raises(bsp.ModelError, match="unit"):
        bsp.fit(
            "dsdm",
            "y ~ x1 + x2",
            df,
            W,
            unit="unit",
            time="time",
            fe="time",
            bias_correction="jackknife",
        )


@pytest.mark.slow
def test_jackknife_removes_most_of_the_bias_on_the_study_design(tmp_path):
    """60 replications of the 34-city design: |bias| of tau falls and coverage rises.

    Measured over 200 replications in BENCHMARKS.md; here 60 keep it short. The
    plain posterior's bias (about -0.045 at T = 20) is ~9 Monte Carlo se away
    from zero over 60 replications, so these inequalities are not luck.
    """
    from bayespatial.experiments import nickell_bias

    table = nickell_bias.main(
        nickell_bias.parse_args(["--out", str(tmp_path), "--reps", "60"])
    ).set_index(["parameter", "correction"])
    plain, jack = table.loc[("tau", "none")], table.loc[("tau", "jackknife")]
    assert plain["bias"] < -0.02
    assert abs(jack["bias"]) < abs(plain["bias"]) / 2
    assert jack["coverage"] > plain["coverage"]


def test_analytic_shift_equals_the_formula_on_dense_kronecker_matrices(panel):
    """Yu, de Jong & Lee (2008): theta_c = theta_hat + (Sigma / (n_eff T))^-1 b / T, with
    Sigma built here from explicit nT x nT Kronecker products of the demeaned design
    read off the data frame (not the package's design code), b from dense traces."""
    from bayespatial.engine.crossprod import demean

    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 500, "seed": 3}
    plain = bsp.fit("dsdm", "y ~ x1 + x2", df, W, bias_correction="none", **kw)
    fixed = bsp.fit("dsdm", "y ~ x1 + x2", df, W, **kw)  # the default for dsdm with unit effects
    assert plain.attrs["bias_correction"].startswith("none")
    assert "bias_correction='analytic (Yu" in repr(fixed)
    n, Wd = W.n, W.sparse.toarray()
    y = df["y"].to_numpy().reshape(12, n)
    X = df[["x1", "x2"]].to_numpy().reshape(12, n, 2)[1:]
    T = 11
    cols = [X, np.einsum("ij,tjk->tik", Wd, X), y[:-1, :, None], (y[:-1] @ Wd.T)[..., None]]
    Z = demean(np.concatenate(cols, axis=2), "twoway").reshape(T * n, 6)
    m = {k: plain.draws(k).mean(0) for k in ("beta", "theta", "tau", "eta", "rho")}
    coef = np.r_[m["beta"], m["theta"], m["tau"], m["eta"]]
    s2 = np.mean(plain.draws("sigma") ** 2)
    rho, tau, eta = m["rho"], m["tau"], m["eta"]
    eye = np.eye(n)
    S_inv = np.linalg.inv(eye - rho * Wd)
    G = Wd @ S_inv
    A = S_inv @ (tau * eye + eta * Wd)
    M = np.linalg.inv(eye - A) @ S_inv
    b = np.zeros(8)
    b[4], b[5] = np.trace(M) / n, np.trace(Wd @ M) / n
    b[6] = (tau * np.trace(G @ M) + eta * np.trace(G @ Wd @ M) + np.trace(G)) / n
    b[7] = 1 / (2 * s2)
    Gnt = np.kron(np.eye(T), G)
    GZb = Gnt @ Z @ coef
    info = np.zeros((8, 8))
    info[:6, :6] = Z.T @ Z / s2
    info[:6, 6] = info[6, :6] = Z.T @ GZb / s2
    info[6, 6] = GZb @ GZb / s2 + np.trace(Gnt @ Gnt + Gnt @ Gnt.T)
    info[7, 7] = n * T / (2 * s2**2)
    info[6, 7] = info[7, 6] = np.trace(Gnt) / s2
    shift = np.linalg.solve(info / ((n - 1) * T), b) / T
    got = {k: fixed.draws(k).mean(0) - m[k] for k in ("beta", "theta", "tau", "eta", "rho")}
    np.testing.assert_allclose(got["beta"], shift[:2], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(got["theta"], shift[2:4], rtol=1e-8, atol=1e-12)
    for k, j in (("tau", 4), ("eta", 5), ("rho", 6)):
        assert got[k] == pytest.approx(shift[j], rel=1e-8), k
    assert "Yu, de Jong & Lee" in fixed.attrs["bias_correction"]
    assert fixed.draws("tau").std() == pytest.approx(plain.draws("tau").std())  # spread kept
    np.testing.assert_array_equal(fixed.draws("sigma"), plain.draws("sigma"))  # not moved

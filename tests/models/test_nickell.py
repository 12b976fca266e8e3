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


@pytest.mark.slow
def test_analytic_correction_is_calibrated_at_T_10(tmp_path):
    """60 replications of the 34-city design at T = 10 (200 in BENCHMARKS.md: tau's bias
    -0.005, every interval 93-98.5%). With 60 replications a 95% coverage has se 0.028,
    so 0.85 is 3.5 se below it; tau's estimate has sd about 0.05, so its mean error is
    within 0.02 (3 se) of zero. The plain posterior misses (35% at 200)."""
    from bayespatial.experiments import nickell_bias

    argv = ["--out", str(tmp_path), "--reps", "60", "--T", "10"]
    table = nickell_bias.main(nickell_bias.parse_args(argv)).set_index(["parameter", "correction"])
    analytic = table.xs("analytic", level="correction")
    assert (analytic["coverage"] >= 0.85).all(), analytic
    assert abs(analytic.loc["tau", "bias"]) < 0.02
    assert table.loc[("tau", "none"), "coverage"] < 0.6


def test_lagged_error_moment_matches_simulation():
    """E[sum_t y~_{t-1} e~_t'] = -sigma^2 P over T periods, by simulation of the process
    itself (40,000 panels); the large-T limit (I - A)^-1 S^-1 is rejected by the same
    simulation, so the finite-T term is what the data show."""
    from bayespatial.models.nickell import lagged_error_moment

    Wd = weights.lattice(3, 3).row_standardize().sparse.toarray()
    n, T, R = 9, 5, 40_000
    tau, rho, eta = 0.5, 0.2, 0.15
    eye = np.eye(n)
    Sni = np.linalg.inv(eye - rho * Wd)
    A = Sni @ (tau * eye + eta * Wd)
    rng = np.random.default_rng(0)
    e = rng.standard_normal((R, T, n))
    y = np.zeros((R, T + 1, n))
    y[:, 0] = rng.standard_normal(n)  # y_0 given, independent of e
    for t in range(1, T + 1):
        y[:, t] = y[:, t - 1] @ A.T + e[:, t - 1] @ Sni.T
    ylag = y[:, :-1] - y[:, :-1].mean(axis=1, keepdims=True)
    ed = e - e.mean(axis=1, keepdims=True)
    per_panel = np.einsum("rti,rtj->rij", ylag, ed)
    mean, se = per_panel.mean(axis=0), per_panel.std(axis=0) / np.sqrt(R)
    P = lagged_error_moment(A, Sni, T)
    assert np.all(np.abs(mean + P) < 5 * se)
    tr_se = np.trace(per_panel, axis1=1, axis2=2).std() / np.sqrt(R)
    large_T = np.linalg.inv(eye - A) @ Sni
    assert abs(np.trace(mean) + np.trace(large_T)) > 10 * tr_se


def test_analytic_correction_equals_the_formula_on_dense_kronecker_matrices(panel):
    """theta_c = theta_bar + s(theta_c), s = (Sigma / (n* T))^-1 b / T (Yu, de Jong & Lee
    2008, with the finite-T P), and every draw mapped by theta_c + K (theta_d - theta_bar),
    K = (I - ds/dtheta)^-1. Sigma is built here from explicit Kronecker products of the
    demeaned design read off the data frame (not the package's design code), b from dense
    traces; with two-way effects on Lee & Yu's (2010) transformed panel W* = F' W F,
    (I_T x F') Z, n* = n - 1, where F is any orthonormal basis orthogonal to the constant
    (here from an eigendecomposition, not the package's Helmert rows: the result must not
    depend on it)."""
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
    values, vectors = np.linalg.eigh(np.eye(n) - np.ones((n, n)) / n)
    F = vectors[:, values > 0.5]  # n x (n - 1), orthonormal, F' 1 = 0
    Z = np.kron(np.eye(T), F.T) @ Z
    Wd, n = F.T @ Wd @ F, n - 1
    eye = np.eye(n)

    def s_of(th):  # th = (beta, theta, tau, eta, rho, sigma^2)
        coef, rho, s2 = th[:6], th[6], th[7]
        tau, eta = coef[4], coef[5]
        S_inv = np.linalg.inv(eye - rho * Wd)
        G = Wd @ S_inv
        A = S_inv @ (tau * eye + eta * Wd)
        IA = np.linalg.inv(eye - A)
        M = IA @ (eye - IA @ (eye - np.linalg.matrix_power(A, T)) / T) @ S_inv
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
        out = np.linalg.solve(info / (n * T), b) / T
        out[7] = 0.0  # sigma is not moved
        return out

    names = ("beta", "theta", "tau", "eta", "rho")
    d = {k: plain.draws(k) for k in names}
    draws = np.column_stack([d["beta"], d["theta"], d["tau"], d["eta"], d["rho"]])
    draws = np.column_stack([draws, plain.draws("sigma") ** 2])
    bar = draws.mean(axis=0)
    centre = bar + s_of(bar)
    for _ in range(200):
        centre = bar + s_of(centre)
    assert np.max(np.abs(bar + s_of(centre) - centre)) < 1e-12  # a fixed point
    jac = np.column_stack([(s_of(centre + h) - s_of(centre - h)) / 2e-6 for h in np.eye(8) * 1e-6])
    want = centre + (draws - bar) @ np.linalg.inv(np.eye(8) - jac).T
    got = np.column_stack([fixed.draws(k) for k in names])
    np.testing.assert_allclose(got, want[:, :7], rtol=1e-6, atol=1e-8)
    assert "Yu, de Jong & Lee" in fixed.attrs["bias_correction"]
    assert fixed.draws("tau").std() > plain.draws("tau").std()  # the delta method widens
    np.testing.assert_array_equal(fixed.draws("sigma"), plain.draws("sigma"))  # not moved


def test_analytic_correction_near_the_unit_root_warns_and_degrades(panel, monkeypatch):
    """Where the fixed point cannot be found (|ds/dtheta| >= 1) the one-step shift moves
    the location and the spread is left alone; where the bias cannot be evaluated at
    the posterior mean the posterior is left uncorrected. Both warn and say so."""
    from bayespatial.models import nickell

    df, W = panel
    kw = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 200, "seed": 3}
    plain = bsp.fit("dsdm", "y ~ x1 + x2", df, W, bias_correction="none", **kw)

    def doubling(Wd, Zd, th, eta):  # s(theta) = 2 theta: theta_c = theta_bar + 2 theta_c diverges
        return 2 * th

    monkeypatch.setattr(nickell, "yu_de_jong_lee_shift", doubling)
    with pytest.warns(bsp.StationarityWarning, match="did not converge"):
        one_step = nickell.analytic_correction(plain)
    assert "one step, spread not widened" in one_step.attrs["bias_correction"]
    np.testing.assert_allclose(one_step.draws("tau").std(), plain.draws("tau").std())

    def singular(*args):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(nickell, "yu_de_jong_lee_shift", singular)
    with pytest.warns(bsp.StationarityWarning, match="left uncorrected"):
        left = nickell.analytic_correction(plain)
    assert left.attrs["bias_correction"].startswith("none (posterior mean on the unit root)")
    np.testing.assert_array_equal(left.draws("tau"), plain.draws("tau"))

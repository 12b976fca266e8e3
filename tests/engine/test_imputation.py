"""The two-way regression on a set of cells and its functionals, against dense oracles.

Oracle: least squares on explicit unit and period dummies (numpy lstsq), the
functionals' covariance from the pseudo-inverse of the dummy design; the draws'
moments against those values with tolerances from their Monte Carlo error.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from bayespatial.engine import bacon, imputation


def _panel(seed, n=30, T=8, swap=False, drop=0):
    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(T), n)
    X = rng.normal(size=(n * T, 2))
    y = rng.normal(size=n)[u] + rng.normal(size=T)[t] + X @ [1.0, -0.5] + rng.normal(size=n * T)
    adopt = rng.choice([3, 5, 99], size=n)
    treated = t >= adopt[u]
    y = y + 2.0 * treated
    keep = np.ones(n * T, dtype=bool)
    keep[rng.choice(n * T, size=drop, replace=False)] = False
    if swap:  # more periods than units: the periods are the factor swept by means
        u, t, n, T = t, u, T, n
    return y[keep], X[keep], u[keep], t[keep], treated[keep], n, T


def _dense(y, X, u, t, n, T):
    return np.column_stack([np.eye(n)[u], np.eye(T)[t][:, 1:], X])


@pytest.mark.parametrize(("swap", "drop"), [(False, 0), (True, 0), (False, 25)])
def test_regression_and_functionals_match_dummy_least_squares(swap, drop):
    y, X, u, t, treated, n, T = _panel(1, swap=swap, drop=drop)
    om = ~treated
    reg = imputation.fit(y[om], X[om], u[om], t[om], n, T)
    D = _dense(y, X, u, t, n, T)
    b, *_ = np.linalg.lstsq(D[om], y[om], rcond=None)
    resid = y[om] - D[om] @ b
    rank = np.linalg.matrix_rank(D[om])
    assert reg.rank == rank
    assert reg.dof == om.sum() - rank
    np.testing.assert_allclose(reg.ssr, resid @ resid, rtol=1e-10)
    np.testing.assert_allclose(reg.beta_hat, b[-2:], atol=1e-10)
    ok = imputation.identified(reg, u[~om], t[~om])
    assert ok.all()
    mu = D[~om] @ b
    np.testing.assert_allclose(imputation.cell_means(reg, X[~om], u[~om], t[~om]), mu, atol=1e-10)
    n1 = (~om).sum()
    w = np.vstack([np.full(n1, 1 / n1), (t[~om] == t[~om].max()) / (t[~om] == t[~om].max()).sum()])
    f = imputation.functionals(reg, sp.csr_matrix(w), y[~om], X[~om], u[~om], t[~om])
    np.testing.assert_allclose(f.mean(reg), w @ (y[~om] - mu), atol=1e-10)
    V = (w @ D[~om]) @ np.linalg.pinv(D[om].T @ D[om]) @ (w @ D[~om]).T
    np.testing.assert_allclose(f.H @ reg.cov_unit @ f.H.T + f.cov_alpha, V, atol=1e-12)
    np.testing.assert_allclose(f.cov_predictive, w @ w.T, atol=1e-14)


def test_draws_have_the_t_posterior_moments():
    y, X, u, t, treated, n, T = _panel(2)
    om = ~treated
    reg = imputation.fit(y[om], X[om], u[om], t[om], n, T)
    n1 = (~om).sum()
    w = sp.csr_matrix(np.full((1, n1), 1 / n1))
    f = imputation.functionals(reg, w, y[~om], X[~om], u[~om], t[~om])
    S = 40_000
    d = imputation.draw(reg, f, S, np.random.default_rng(0))
    s2 = reg.ssr / reg.dof * reg.dof / (reg.dof - 2)  # E sigma^2 of SSR / chi2_dof
    var_mean = s2 * (f.H @ reg.cov_unit @ f.H.T + f.cov_alpha)[0, 0]
    var_pred = var_mean + s2 * f.cov_predictive[0, 0]
    for values, var in ((d.mean[:, 0], var_mean), (d.predictive[:, 0], var_pred)):
        # mean within 5 Monte Carlo se; variance within 5 se of a sample variance
        # (t with dof > 100: kurtosis ~ 3, se of var ~ var sqrt(2 / S))
        assert abs(values.mean() - f.mean(reg)[0]) < 5 * np.sqrt(var / S)
        assert abs(values.var() / var - 1) < 5 * np.sqrt(2.2 / S)
    np.testing.assert_allclose(np.mean(d.sigma**2), s2, rtol=5 * np.sqrt(2 / (reg.dof - 4) / S))


def test_unidentified_cells_are_flagged():
    y, X, u, t, treated, n, T = _panel(3)
    om = ~treated & (u != 0) & (t != T - 1)  # unit 0 and the last period have no control cell
    reg = imputation.fit(y[om], X[om], u[om], t[om], n, T)
    ok = imputation.identified(reg, u[~om], t[~om])
    assert not ok[(u[~om] == 0) | (t[~om] == T - 1)].any()
    assert ok[(u[~om] != 0) & (t[~om] != T - 1)].all()


def test_joint_tests_equal_the_classical_f_and_a_cluster_sandwich():
    y, X, u, t, treated, n, T = _panel(4)
    om = ~treated
    reg = imputation.fit(y[om], X[om], u[om], t[om], n, T)
    D = _dense(y, X, u, t, n, T)[om]
    b, *_ = np.linalg.lstsq(D, y[om], rcond=None)
    resid = y[om] - D @ b
    s2 = resid @ resid / reg.dof
    inv = np.linalg.pinv(D.T @ D)
    idx = [D.shape[1] - 2, D.shape[1] - 1]
    Fc = b[idx] @ np.linalg.solve(s2 * inv[np.ix_(idx, idx)], b[idx]) / 2
    tail = imputation.posterior_tail(reg, [0, 1])
    np.testing.assert_allclose(tail.statistic, Fc, rtol=1e-9)
    np.testing.assert_allclose(tail.p_value, stats.f.sf(Fc, 2, reg.dof), rtol=1e-9)
    # cluster-robust by unit with the reghdfe small-sample factor (unit effects nested)
    scores = np.zeros((n, D.shape[1]))
    np.add.at(scores, u[om], D * resid[:, None])
    k_free = reg.rank - n
    c = n / (n - 1) * (om.sum() - 1) / (om.sum() - k_free)
    V = c * inv @ scores.T @ scores @ inv
    Fw = b[idx] @ np.linalg.solve(V[np.ix_(idx, idx)], b[idx]) / 2
    wald = imputation.cluster_wald(reg, y[om], X[om], u[om], t[om], [0, 1])
    np.testing.assert_allclose(wald.statistic, Fw, rtol=1e-8)
    assert (wald.df1, wald.df2) == (2, n - 1)


def test_goodman_bacon_weights_sum_to_the_twfe_coefficient():
    rng = np.random.default_rng(5)
    n, T = 40, 10
    adopt = rng.choice([-1, 3, 5, 8], size=n)
    t = np.arange(T)[:, None]
    D = (adopt >= 0) & (t >= np.where(adopt >= 0, adopt, T))
    Y = (
        rng.normal(size=n)
        + rng.normal(size=(T, 1))
        + D * (1 + 0.4 * (t - adopt))
        + rng.normal(size=(T, n))
    )
    table = bacon.decompose(Y, adopt)
    u = np.tile(np.arange(n), T)
    tt = np.repeat(np.arange(T), n)
    Xd = np.column_stack([np.eye(n)[u], np.eye(T)[tt][:, 1:], D.ravel()])
    twfe = np.linalg.lstsq(Xd, Y.ravel(), rcond=None)[0][-1]
    np.testing.assert_allclose(table["weight"].sum(), 1.0)
    np.testing.assert_allclose((table["weight"] * table["estimate"]).sum(), twfe, rtol=1e-10)
    assert set(table["type"]) == {"treated_vs_never", "earlier_vs_later", "later_vs_earlier"}


def test_pooled_means_match_quadrature():
    """`pooling.normal_means` against a quadrature over (omega, mu) of the same model."""
    from bayespatial.engine.pooling import normal_means

    m = np.array([1.0, 2.5, 0.2])
    V = np.array([[0.3, 0.05, 0.0], [0.05, 0.4, 0.0], [0.0, 0.0, 0.2]])
    S = 100_000
    d = normal_means(m, V, 2.0, S, np.random.default_rng(0))
    om, mu = np.linspace(1e-4, 16, 1600), np.linspace(-10, 12, 900)
    lp = np.empty((om.size, mu.size))
    post_theta = np.empty((om.size, mu.size, 3))
    for i, w in enumerate(om):
        sig = V + w**2 * np.eye(3)
        inv = np.linalg.inv(sig)
        r = m[None] - mu[:, None]
        lp[i] = -0.5 * (w / 2) ** 2 - 0.5 * np.linalg.slogdet(sig)[1]
        lp[i] -= 0.5 * np.einsum("gi,ij,gj->g", r, inv, r)
        post_theta[i] = mu[:, None] + w**2 * r @ inv.T
    p = np.exp(lp - lp.max())
    p /= p.sum()
    expect = {
        "omega": (p.sum(1) * om).sum(),
        "mu": (p.sum(0) * mu).sum(),
        "theta": np.einsum("ij,ijk->k", p, post_theta),
    }
    for name, draws in (("omega", d.omega), ("mu", d.mu)):
        assert abs(draws.mean() - expect[name]) < 5 * draws.std() / np.sqrt(S), name
    gap = np.abs(d.theta.mean(0) - expect["theta"])
    assert np.all(gap < 5 * d.theta.std(0) / np.sqrt(S)), gap

"""Exact conjugate sampler: closed-form marginal against dense algebra, draws against the grid."""

import numpy as np
import pytest
from scipy.special import gammaln

from bayespatial.data import weights
from bayespatial.engine.conjugate import NIGPrior, log_density, sample, sample_regression
from bayespatial.engine.crossprod import cross_products


def _dense_log_marginal(y, Z, A, rho, prior, kind):
    """Log p(y | rho), beta and sigma^2 integrated out, by dense regression (fe='none')."""
    T, n = y.shape
    B = np.eye(n) - rho * A
    yr = np.concatenate([B @ y[t] for t in range(T)])
    if kind == "lag":
        Zr = np.concatenate([Z[t] for t in range(T)])
    else:
        Zr = np.concatenate([B @ Z[t] for t in range(T)])
    N = yr.size
    P0, m0 = prior.precision, prior.mean
    Pn = P0 + Zr.T @ Zr
    mn = np.linalg.solve(Pn, P0 @ m0 + Zr.T @ yr)
    an = prior.a0 + N / 2
    bn = prior.b0 + 0.5 * (yr @ yr + m0 @ P0 @ m0 - mn @ Pn @ mn)
    return (
        T * np.linalg.slogdet(B)[1]
        - N / 2 * np.log(2 * np.pi)
        + 0.5 * np.linalg.slogdet(P0)[1]
        - 0.5 * np.linalg.slogdet(Pn)[1]
        + prior.a0 * np.log(prior.b0)
        - an * np.log(bn)
        + gammaln(an)
        - gammaln(prior.a0)
    )


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    W = weights.lattice(6, 7).row_standardize()
    A = W.sparse.toarray()
    T, n, p = 3, W.n, 3
    Z = np.concatenate([np.ones((T, n, 1)), rng.standard_normal((T, n, p - 1))], axis=2)
    y = np.stack(
        [
            np.linalg.solve(np.eye(n) - 0.5 * A, Z[t] @ [1.0, 2.0, -1.0] + rng.standard_normal(n))
            for t in range(T)
        ]
    )
    prior = NIGPrior(np.zeros(p), np.eye(p) * 0.01, 2.0, 1.0)
    lam = np.linalg.eigvals(A).real

    def logdet(r):
        return np.array([np.sum(np.log(np.abs(1 - x * lam))) for x in np.atleast_1d(r)])

    return W, A, y, Z, prior, logdet, (1 / lam.min(), 1 / lam.max())


@pytest.mark.parametrize("kind", ["lag", "error"])
def test_log_density_equals_dense_marginal_up_to_a_constant(problem, kind):
    W, A, y, Z, prior, logdet, _ = problem
    cp = cross_products(y, Z, W, "none")
    rhos = np.array([-0.5, 0.0, 0.4, 0.8])
    got = log_density(cp, prior, rhos, logdet, lambda r: np.zeros_like(r), kind)
    want = np.array([_dense_log_marginal(y, Z, A, r, prior, kind) for r in rhos])
    np.testing.assert_allclose(got - got[0], want - want[0], rtol=0, atol=1e-8)


def test_draws_follow_the_grid_posterior(problem):
    """Quantiles of 20,000 draws within 4 Monte Carlo standard errors of the grid quantiles."""
    W, _A, y, Z, prior, logdet, bounds = problem
    cp = cross_products(y, Z, W, "none")
    out = sample(
        cp, prior, bounds, logdet, lambda r: np.zeros_like(r), 20000, np.random.default_rng(0)
    )
    dens = np.exp(out.log_density - out.log_density.max())
    cdf = np.cumsum(dens)
    cdf /= cdf[-1]
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        xq = np.interp(q, cdf, out.grid)
        f = np.interp(xq, out.grid, dens) / np.trapezoid(dens, out.grid)
        se = np.sqrt(q * (1 - q) / 20000) / f
        assert abs(np.quantile(out.spatial, q) - xq) < 4 * se + 1e-4
    # given each drawn rho, beta and sigma^2 follow the dense NIG conditionals:
    # beta - m_n(rho) has mean 0, and b_n(rho) / (a_n sigma^2) (a Gamma(a_n, a_n)
    # variable) has mean 1; both checked to 4 Monte Carlo standard errors
    T, n = y.shape
    A = W.sparse.toarray()
    Zs = Z.reshape(T * n, -1)
    ys, Wys = y.ravel(), np.concatenate([A @ y[t] for t in range(T)])
    P0, m0 = prior.precision, prior.mean
    Pn = P0 + Zs.T @ Zs
    an = prior.a0 + ys.size / 2
    resid, scaled = [], []
    for r, b, s in zip(out.spatial, out.beta, out.sigma, strict=True):
        yr = ys - r * Wys
        mn = np.linalg.solve(Pn, P0 @ m0 + Zs.T @ yr)
        bn = prior.b0 + 0.5 * (yr @ yr + m0 @ P0 @ m0 - mn @ Pn @ mn)
        resid.append(b - mn)
        scaled.append(bn / (an * s**2))
    resid, scaled = np.array(resid), np.array(scaled)
    N = len(resid)
    assert np.all(np.abs(resid.mean(0)) < 4 * resid.std(0) / np.sqrt(N))
    z2 = (resid / out.sigma[:, None]) ** 2 / np.diag(np.linalg.inv(Pn))  # chi^2_1 each
    assert np.all(np.abs(z2.mean(0) - 1) < 4 * z2.std(0) / np.sqrt(N))
    assert abs(scaled.mean() - 1) < 4 * scaled.std() / np.sqrt(N)


def test_regression_without_spatial_parameter_matches_ols_and_t_marginal():
    """Vague NIG prior: mean = OLS; Var(beta) = b_n/(a_n - 1) P_n^-1 (the Student-t marginal)."""
    rng = np.random.default_rng(8)
    W = weights.lattice(8, 8).row_standardize()
    T, n = 2, W.n
    Z = np.concatenate([np.ones((T, n, 1)), rng.standard_normal((T, n, 2))], axis=2)
    y = Z @ np.array([0.5, 1.0, -2.0]) + rng.standard_normal((T, n))
    cp = cross_products(y, Z, W, "none")
    prior = NIGPrior(np.zeros(3), np.eye(3) * 1e-10, 1e-6, 1e-6)
    out = sample_regression(cp, prior, 100_000, np.random.default_rng(1))
    flat_z, flat_y = Z.reshape(-1, 3), y.ravel()
    ols = np.linalg.lstsq(flat_z, flat_y, rcond=None)[0]
    rss = np.sum((flat_y - flat_z @ ols) ** 2)
    an, bn = 1e-6 + flat_y.size / 2, 1e-6 + rss / 2
    cov = bn / (an - 1) * np.linalg.inv(flat_z.T @ flat_z)
    se_mean = np.sqrt(np.diag(cov) / out.beta.shape[0])
    assert np.all(np.abs(out.beta.mean(0) - ols) < 4 * se_mean)
    # sd of a sample variance of m draws: about var * sqrt(2 / m) (heavier for t; 6 se)
    np.testing.assert_allclose(out.beta.var(0), np.diag(cov), rtol=6 * np.sqrt(2 / 100_000))

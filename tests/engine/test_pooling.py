"""Partially pooled coefficients integrated out: against dense Gaussian oracles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from bayespatial.engine import pooling
from bayespatial.engine.precision import float64

LAYOUT = pooling.Layout(p=11, blocks=((2, 5), (7, 4)))  # 2 flat, groups of 5 and 4 levels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    N = 60
    Z = rng.normal(size=(N, LAYOUT.p))
    theta = rng.normal(size=LAYOUT.p)
    y = Z @ theta + rng.normal(scale=0.7, size=N)
    return y, Z


def _stats(y, Z):
    return y @ y, Z.T @ y, Z.T @ Z


def _flat_projection():
    """Projection onto the directions with a flat prior: the flat coefficients and the
    mean direction of each group block."""
    basis = [np.eye(LAYOUT.p)[j] for j in range(2)]
    for start, size in LAYOUT.blocks:
        v = np.zeros(LAYOUT.p)
        v[start : start + size] = 1 / np.sqrt(size)
        basis.append(v)
    B = np.array(basis)
    return B.T @ B, len(basis)


@pytest.mark.parametrize(("sigma2", "omega"), [(0.5, (0.3, 2.0)), (2.0, (1.0, 0.05))])
def test_marginal_and_mean_equal_a_proper_prior_in_the_flat_limit(data, sigma2, omega):
    """With precision 1/v on the flat directions the marginal is a dense normal density;
    plus d/2 log v it tends to ours as v grows (the gap falls like 1/v: 1e-4 at v = 1e7)."""
    y, Z = data
    omega = np.asarray(omega)
    ours = pooling.conditional(LAYOUT, *_stats(y, Z), len(y), sigma2, omega)
    flat, d = _flat_projection()
    lam = pooling.prior_precision(LAYOUT, omega)
    for v in (1e6, 1e7):
        cov_theta = np.linalg.inv(lam + flat / v)
        cov_y = sigma2 * np.eye(len(y)) + Z @ cov_theta @ Z.T
        oracle = multivariate_normal(np.zeros(len(y)), cov_y).logpdf(y) + 0.5 * d * np.log(v)
        assert abs(oracle - ours.log_marginal) < 30 / v
        mean = np.linalg.solve(Z.T @ Z / sigma2 + lam + flat / v, Z.T @ y / sigma2)
        np.testing.assert_allclose(ours.mean, mean, rtol=0, atol=30 / v)


def test_pooling_limits_are_the_pooled_and_the_separate_least_squares(data):
    """omega -> 0: each block's coefficients equal one common slope (least squares with
    the block's columns summed); omega -> infinity: least squares on every column. At
    omega = 1e-4 the spread left is O(omega^2 Z'Z) ~ 1e-6 relative (and 1e-7 would leave
    a precision of 1e14 next to Z'Z ~ 60, at the end of float64's digits)."""
    y, Z = data
    stats = _stats(y, Z)
    tight = pooling.conditional(LAYOUT, *stats, len(y), 1.0, np.array([1e-4, 1e-4]))
    Zc = np.column_stack([Z[:, :2], Z[:, 2:7].sum(1), Z[:, 7:].sum(1)])
    pooled = np.linalg.lstsq(Zc, y, rcond=None)[0]
    np.testing.assert_allclose(tight.mean[:2], pooled[:2], rtol=1e-5)
    np.testing.assert_allclose(tight.mean[2:7], pooled[2], rtol=1e-5)
    np.testing.assert_allclose(tight.mean[7:], pooled[3], rtol=1e-5)
    loose = pooling.conditional(LAYOUT, *stats, len(y), 1.0, np.array([1e7, 1e7]))
    np.testing.assert_allclose(loose.mean, np.linalg.lstsq(Z, y, rcond=None)[0], rtol=1e-6)


def test_draws_have_the_posterior_covariance(data):
    """m + L^-T e with e the identity's rows: the spread is exactly P^-1."""
    y, Z = data
    cond = pooling.conditional(LAYOUT, *_stats(y, Z), len(y), 0.8, np.array([0.5, 0.5]))
    d = pooling.draw(cond, np.eye(LAYOUT.p)) - cond.mean
    prec = Z.T @ Z / 0.8 + pooling.prior_precision(LAYOUT, np.array([0.5, 0.5]))
    np.testing.assert_allclose(d.T @ d, np.linalg.inv(prec), rtol=1e-10, atol=1e-12)


@float64
def test_jax_equals_numpy_and_has_gradients(data):
    y, Z = data
    stats = _stats(y, Z)
    omega = np.array([0.4, 1.5])
    want = pooling.conditional(LAYOUT, *stats, len(y), 0.9, omega).log_marginal

    def f(log_sigma2, log_omega):
        args = (jnp.asarray(s) for s in stats)
        cond = pooling.conditional(
            LAYOUT, *args, len(y), jnp.exp(log_sigma2), jnp.exp(log_omega), jnp
        )
        return cond.log_marginal

    got = f(jnp.log(0.9), jnp.log(jnp.asarray(omega)))
    np.testing.assert_allclose(float(got), want, rtol=1e-12)
    g = jax.grad(f, argnums=(0, 1))(jnp.log(0.9), jnp.log(jnp.asarray(omega)))
    eps = 1e-6  # central differences of the numpy version
    num = (
        pooling.conditional(LAYOUT, *stats, len(y), 0.9 * np.exp(eps), omega).log_marginal
        - pooling.conditional(LAYOUT, *stats, len(y), 0.9 * np.exp(-eps), omega).log_marginal
    ) / (2 * eps)
    np.testing.assert_allclose(float(g[0]), num, rtol=1e-5)
    assert np.all(np.isfinite(np.asarray(g[1])))


def test_collapsed_is_the_conditional_integrated_over_sigma2(data):
    """With omega = sigma tau, integrating exp(log_marginal) x IG(a0, b0) over sigma^2 by
    quadrature gives `collapsed` up to a constant that depends on neither tau nor the data
    (the Gamma functions and powers of 2 pi and b0): at two tau and two data sets the
    constants agree to quadrature accuracy."""
    from scipy.integrate import quad
    from scipy.stats import invgamma

    y, Z = data
    a0, b0 = 2.0, 1.5

    def integrated(yv, tau):
        tau = np.asarray(tau)
        stats = _stats(yv, Z)

        def integrand(log_s2):
            s2 = np.exp(log_s2)
            cond = pooling.conditional(LAYOUT, *stats, len(yv), s2, np.sqrt(s2) * tau)
            return np.exp(cond.log_marginal + invgamma(a0, scale=b0).logpdf(s2) + log_s2 + 60)

        value = quad(integrand, -8, 6, limit=400, epsabs=0, epsrel=1e-11)[0]
        ours = pooling.collapsed(LAYOUT, *stats, len(yv), a0, b0, tau).log_density
        return np.log(value) - 60 - ours

    rng = np.random.default_rng(5)
    other = y + rng.normal(scale=0.3, size=y.size)
    gaps = [integrated(y, (0.3, 2.0)), integrated(y, (1.5, 0.05)), integrated(other, (0.3, 2.0))]
    assert np.ptp(gaps) < 1e-8


def test_collapsed_draws_are_normal_inverse_gamma(data):
    """(m_n, P_n, a_n, b_n) equal the conjugate engine's normal-inverse-gamma posterior with
    P0 = Lambda(tau) and f flat directions (`bayespatial.engine.conjugate.posterior_terms`),
    written separately."""
    from types import SimpleNamespace

    from bayespatial.engine.conjugate import NIGPrior, posterior_terms

    y, Z = data
    tau = np.array([0.7, 0.2])
    post = pooling.collapsed(LAYOUT, *_stats(y, Z), len(y), 2.0, 1.5, tau)
    lam = pooling.prior_precision(LAYOUT, tau)
    gram = np.zeros((2 + 2 * LAYOUT.p,) * 2)
    cols = np.column_stack([y, np.zeros_like(y), Z, np.zeros_like(Z)])
    gram[:] = cols.T @ cols
    cp = SimpleNamespace(gram=gram, p=LAYOUT.p, nobs=len(y))
    f = pooling.flat_directions(LAYOUT)
    assert f == 4  # two fixed coefficients and two block means
    pn, mn, an, bn = posterior_terms(
        cp, NIGPrior(np.zeros(LAYOUT.p), lam, 2.0, 1.5, f), np.zeros(1), "lag"
    )
    np.testing.assert_allclose(post.mean, mn[0], rtol=1e-10)
    np.testing.assert_allclose(post.chol @ post.chol.T, pn[0], rtol=1e-12)
    assert post.shape == pytest.approx(an)
    assert post.rate == pytest.approx(bn[0], rel=1e-10)

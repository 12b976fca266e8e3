"""Exact LOO conditional densities against brute force from the dense joint Gaussian."""

import numpy as np
import pytest
from scipy import stats

from bayespatial.data import weights
from bayespatial.engine import sparse
from bayespatial.engine.loo import pointwise, pointwise_draws


def _dense_conditionals(y, mean, Q):
    """Log p(y_i | y_-i), y ~ N(mean, Q^-1): mean_i - Q_i,-i (y - mean)_-i / Q_ii, var 1/Q_ii."""
    out = np.empty_like(y)
    d = y - mean
    for i in range(len(y)):
        cond_mean = mean[i] - (Q[i] @ d - Q[i, i] * d[i]) / Q[i, i]
        out[i] = stats.norm(cond_mean, 1 / np.sqrt(Q[i, i])).logpdf(y[i])
    return out


@pytest.mark.parametrize("kind", ["lag", "error"])
@pytest.mark.parametrize("standardise", [True, False])
def test_matches_dense_conditionals(kind, standardise):
    W = weights.lattice(6, 5)
    W = W.row_standardize() if standardise else W
    Wd = W.sparse.toarray()
    rng = np.random.default_rng(1)
    T, n, p = 3, W.n, 2
    Z = rng.normal(size=(T, n, p))
    beta, r, sigma = np.array([0.7, -1.2]), 0.45 if standardise else 0.1, 0.8
    A = np.eye(n) - r * Wd
    Q = A.T @ A / sigma**2
    y = rng.normal(size=(T, n))
    got = np.asarray(pointwise(y, Z, sparse.init(W), r, beta, sigma, kind))
    for t in range(T):
        mean = np.linalg.solve(A, Z[t] @ beta) if kind == "lag" else Z[t] @ beta
        want = _dense_conditionals(y[t], mean, Q)
        np.testing.assert_allclose(got[t], want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["lag", "error"])
@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
def test_fixed_effects_integrated_out_match_the_dense_formula(kind, fe, dense_fe_conditionals):
    """Every fe kind, lag and error, several draws, through the precomputed basis too."""
    W = weights.lattice(5, 4).row_standardize()
    Wd = W.sparse.toarray()
    rng = np.random.default_rng(7)
    T = 4
    y, Z = rng.normal(size=(T, W.n)) + 3.0, rng.normal(size=(T, W.n, 2))
    r, beta, sigma = rng.uniform(-0.6, 0.9, 4), rng.normal(size=(4, 2)), rng.uniform(0.5, 2, 4)
    op = sparse.init(W)
    streamed = pointwise_draws(y, Z, op, r, beta, sigma, kind, chunk=3, fe=fe)
    for d in range(4):
        want = dense_fe_conditionals(y, Z, Wd, r[d], beta[d], sigma[d], kind, fe)
        direct = np.asarray(pointwise(y, Z, op, r[d], beta[d], sigma[d], kind, fe))
        np.testing.assert_allclose(direct, want, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(streamed[d], want, rtol=1e-9, atol=1e-10)


def test_observation_blocks_equal_draw_blocks():
    from bayespatial.engine.loo import init_basis, observation_blocks

    W = weights.lattice(6, 5).row_standardize()
    rng = np.random.default_rng(3)
    y, Z = rng.normal(size=(3, W.n)), rng.normal(size=(3, W.n, 2))
    r, beta, sigma = rng.uniform(-0.5, 0.8, 7), rng.normal(size=(7, 2)), rng.uniform(0.5, 2, 7)
    op = sparse.init(W)
    want = pointwise_draws(y, Z, op, r, beta, sigma, "error", fe="twoway").reshape(7, -1)
    basis = init_basis(y, Z, op, "error", "twoway")
    got = np.zeros_like(want)
    for start, values in observation_blocks(basis, r, beta, sigma, "error", block=13):
        got[:, start : start + values.shape[0]] = values.T
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("kind", ["lag", "error"])
def test_precomputed_basis_equals_direct_formula(kind):
    W = weights.lattice(7, 4).row_standardize()
    rng = np.random.default_rng(2)
    y, Z = rng.normal(size=(3, W.n)), rng.normal(size=(3, W.n, 2))
    r, beta, sigma = rng.uniform(-0.5, 0.8, 5), rng.normal(size=(5, 2)), rng.uniform(0.5, 2, 5)
    op = sparse.init(W)
    got = pointwise_draws(y, Z, op, r, beta, sigma, kind, chunk=2)
    for d in range(5):
        want = np.asarray(pointwise(y, Z, op, r[d], beta[d], sigma[d], kind))
        np.testing.assert_allclose(got[d], want, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------ Student-t errors


def _t_logjoint(yt, Zt, A, beta, sigma, nu, kind):
    """Dense log |A|-free joint: sum_j log f(e_j), e from A and the model kind."""
    e = A @ yt - Zt @ beta if kind == "lag" else A @ (yt - Zt @ beta)
    return stats.t.logpdf(e, nu, scale=sigma).sum()


@pytest.mark.parametrize("kind", ["lag", "error"])
@pytest.mark.parametrize(("r", "sigma", "nu"), [(0.6, 0.7, 3.5), (-0.8, 1.3, 1.2), (0.95, 0.5, 30)])
def test_student_t_conditionals_equal_brute_force_integration(kind, r, sigma, nu):
    """log p(y_i | y_-i) with independent sigma t_nu errors against adaptive quadrature
    (scipy.integrate.quad) of the dense joint density |A| prod f(e_j) over y_i."""
    from scipy import integrate

    from bayespatial.engine import loo_student
    from bayespatial.engine.sparse import as_csr

    W = weights.lattice(3, 4).row_standardize()
    n, T = W.n, 2
    rng = np.random.default_rng(0)
    y, Z = rng.normal(size=(T, n)), rng.normal(size=(T, n, 2))
    beta = np.array([0.5, -1.0])
    draw = (np.array([r]), beta[None], np.array([sigma]), np.array([nu]))
    got = loo_student.pointwise_draws(y, Z, sparse.init(W.sparse), *draw, kind)[0]
    A = np.eye(n) - r * as_csr(W.sparse).toarray()
    for t in range(T):
        base = _t_logjoint(y[t], Z[t], A, beta, sigma, nu, kind)
        for i in range(n):

            def density(v, t=t, i=i, base=base):
                yy = y[t].copy()
                yy[i] = v
                return np.exp(_t_logjoint(yy, Z[t], A, beta, sigma, nu, kind) - base)

            mass, _ = integrate.quad(density, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=400)
            assert got[t, i] == pytest.approx(-np.log(mass), abs=1e-9), (t, i)


def test_student_t_conditionals_tend_to_gaussian():
    """nu -> infinity: the t conditionals approach the Gaussian ones (difference O(1/nu))."""
    from bayespatial.engine import loo_student, sparse

    W = weights.lattice(4, 5).row_standardize()
    rng = np.random.default_rng(1)
    y, Z = rng.normal(size=(3, W.n)), rng.normal(size=(3, W.n, 2))
    args = (y, Z, sparse.init(W.sparse), np.array([0.5]), np.array([[0.5, -1.0]]), np.array([0.9]))
    gauss = pointwise_draws(*args, "lag")
    t_far = loo_student.pointwise_draws(*args, np.array([1e10]), "lag")
    np.testing.assert_allclose(t_far, gauss, atol=1e-6)

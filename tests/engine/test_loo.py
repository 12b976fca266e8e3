"""Exact LOO conditional densities against brute force from the dense joint Gaussian."""

import numpy as np
import pytest
from scipy import stats

from bayespatial.data import weights
from bayespatial.engine import sparse
from bayespatial.engine.loo import pointwise


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
def test_precomputed_basis_equals_direct_formula(kind):
    from bayespatial.engine.loo import pointwise_draws

    W = weights.lattice(7, 4).row_standardize()
    rng = np.random.default_rng(2)
    y, Z = rng.normal(size=(3, W.n)), rng.normal(size=(3, W.n, 2))
    r, beta, sigma = rng.uniform(-0.5, 0.8, 5), rng.normal(size=(5, 2)), rng.uniform(0.5, 2, 5)
    op = sparse.init(W)
    got = pointwise_draws(y, Z, op, r, beta, sigma, kind, chunk=2)
    for d in range(5):
        want = np.asarray(pointwise(y, Z, op, r[d], beta[d], sigma[d], kind))
        np.testing.assert_allclose(got[d], want, rtol=1e-10, atol=1e-12)

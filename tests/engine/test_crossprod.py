"""Lee-Yu bookkeeping: sufficient statistics equal the explicitly transformed likelihood."""

import numpy as np
import pytest
from scipy.linalg import null_space

from bayespatial.data import weights
from bayespatial.engine.crossprod import cross_products, gaussian_loglik


def _orthonormal_complement(m):
    return null_space(np.ones((1, m)))  # m x (m - 1), F'F = I, F'1 = 0


def _dense_loglik(y, Z, A_dense, fe, rho, beta, sigma, kind):
    """Log-likelihood of the explicitly transformed panel (Lee & Yu 2010)."""
    T, n = y.shape
    FT = _orthonormal_complement(T) if fe in ("unit", "twoway") else np.eye(T)
    Fn = _orthonormal_complement(n) if fe in ("time", "twoway") else np.eye(n)
    ys = np.einsum("ts,tn->sn", FT, y) @ Fn  # (T*, n*)
    Zs = np.einsum("ts,tnk->snk", FT, Z)
    Zs = np.einsum("snk,nm->smk", Zs, Fn)
    Ws = Fn.T @ A_dense @ Fn
    A = np.eye(Ws.shape[0]) - rho * Ws
    ll = 0.0
    for s in range(ys.shape[0]):
        e = A @ ys[s] - Zs[s] @ beta if kind == "lag" else A @ (ys[s] - Zs[s] @ beta)
        ll += np.linalg.slogdet(A)[1] - 0.5 * e.size * np.log(2 * np.pi * sigma**2)
        ll -= e @ e / (2 * sigma**2)
    return ll


@pytest.mark.parametrize("kind", ["lag", "error"])
@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
def test_transformed_likelihood_matches_sufficient_statistics(fe, kind):
    rng = np.random.default_rng(5)
    W = weights.lattice(4, 5, kind="queen").row_standardize()
    T, n, p = 5, W.n, 3
    y = rng.standard_normal((T, n)) + rng.standard_normal(n)[None] + rng.standard_normal(T)[:, None]
    Z = rng.standard_normal((T, n, p))
    cp = cross_products(y, Z, W, fe)
    A = W.sparse.toarray()
    for rho in (-0.4, 0.3, 0.8):
        beta = rng.standard_normal(p)
        want = _dense_loglik(y, Z, A, fe, rho, beta, 0.7, kind)
        ld = np.linalg.slogdet(np.eye(n) - rho * A)[1]
        got = gaussian_loglik(cp, rho, beta, 0.7**2, ld, kind)
        np.testing.assert_allclose(got, want, rtol=1e-10)

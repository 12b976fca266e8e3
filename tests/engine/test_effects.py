"""Effects from the spectral quadrature against dense (I - rho W)^-1 computations."""

import numpy as np
import pytest

from bayespatial.data import weights
from bayespatial.engine.effects import apply_effects, apply_long_run, init_quadrature
from bayespatial.engine.logdet_stochastic import target_bound


def _dense(A, rho, beta, theta):
    n = A.shape[0]
    out = []
    for b, t in zip(beta, theta, strict=True):
        S = np.linalg.solve(np.eye(n) - rho * A, b * np.eye(n) + t * A)
        direct = np.trace(S) / n
        total = S.sum() / n
        out.append((direct, total - direct, total))
    return np.array(out)  # (k, 3)


@pytest.fixture(scope="module")
def draws():
    rng = np.random.default_rng(3)
    return rng.uniform(-0.6, 0.9, 6), rng.normal(size=(6, 2)), rng.normal(size=(6, 2))


@pytest.mark.parametrize("kind", ["lattice", "knn"])
def test_exact_quadrature_matches_dense_to_1e8(draws, kind):
    rng = np.random.default_rng(0)
    W = (
        weights.lattice(7, 8).row_standardize()
        if kind == "lattice"
        else weights.knn(rng.uniform(size=(60, 2)), k=4).row_standardize()  # complex spectrum
    )
    A = W.sparse.toarray()
    q = init_quadrature(W)
    rho, beta, theta = draws
    eff = apply_effects(q, rho, beta, theta)
    for d in range(len(rho)):
        want = _dense(A, rho[d], beta[d], theta[d])
        got = np.column_stack([eff.direct[d], eff.indirect[d], eff.total[d]])
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_long_run_matches_dense(draws):
    W = weights.lattice(6, 6).row_standardize()
    A = W.sparse.toarray()
    n = W.n
    rho, beta, theta = draws
    tau = np.full(6, 0.3)
    eta = np.full(6, -0.05)
    rho = rho * 0.6
    eff = apply_long_run(init_quadrature(W), rho, tau, eta, beta, theta)
    for d in range(6):
        for k in range(2):
            S = np.linalg.solve(
                (1 - tau[d]) * np.eye(n) - (rho[d] + eta[d]) * A,
                beta[d, k] * np.eye(n) + theta[d, k] * A,
            )
            np.testing.assert_allclose(eff.direct[d, k], np.trace(S) / n, rtol=1e-8)
            np.testing.assert_allclose(eff.total[d, k], S.sum() / n, rtol=1e-8)


def test_chebyshev_quadrature_close_to_exact(draws):
    """Probed Chebyshev quadrature: direct effects within the log-det target of the exact ones."""
    W = weights.lattice(40, 40).row_standardize()
    rho, beta, theta = draws
    exact = apply_effects(init_quadrature(W, "eigen"), rho, beta, theta)
    approx = apply_effects(init_quadrature(W, "chebyshev"), rho, beta, theta)
    scale = np.abs(beta).max() + np.abs(theta).max()
    assert np.abs(approx.direct - exact.direct).max() <= scale * target_bound(W.n)


def test_requires_row_standardised_w():
    with pytest.raises(ValueError, match="row_standardize"):
        init_quadrature(weights.lattice(4, 4))

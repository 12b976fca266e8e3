"""Every log-determinant method against exact values, its bound, finite differences, jit/vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from bayespatial.data import weights
from bayespatial.engine import logdet
from bayespatial.engine.logdet_stochastic import target_bound

RHOS = np.array([-0.9, -0.5, 0.0, 0.3, 0.5, 0.7, 0.9, 0.95])


def _exact(W, rhos):
    lam = np.linalg.eigvals(W.sparse.toarray())
    return np.array([np.sum(np.log(np.abs(1 - r * lam))) for r in rhos])


@pytest.fixture(scope="module")
def cases():
    rng = np.random.default_rng(0)
    xy = rng.uniform(size=(150, 2))
    return {
        "lattice": weights.lattice(12, 15).row_standardize(),
        "torus": weights.lattice(10, 10, torus=True).row_standardize(),
        "knn": weights.knn(xy, k=5).row_standardize(),  # not symmetric: complex eigenvalues
    }


@pytest.mark.parametrize("name", ["lattice", "torus", "knn"])
def test_exact_methods(cases, name):
    W = cases[name]
    ref = _exact(W, RHOS)
    for method in ("eigen", "lu_grid"):
        st = logdet.init(W, method)
        got = np.asarray(logdet.apply(st, RHOS))
        np.testing.assert_allclose(got, ref, rtol=1e-8, atol=1e-10 * W.n, err_msg=method)


@pytest.mark.parametrize("method", ["chebyshev", "taylor", "slq"])
@pytest.mark.parametrize("name", ["lattice", "torus", "knn"])
def test_approximate_methods_within_their_bound(cases, name, method):
    W = cases[name]
    if method == "slq" and name == "knn":
        with pytest.raises(ValueError, match="symmetric"):
            logdet.init(W, method)
        return
    st = logdet.init(W, method)
    assert st.method == method
    err = np.abs(np.asarray(logdet.apply(st, RHOS)) - _exact(W, RHOS)) / W.n
    if W.symmetric_scale() is None and method == "chebyshev":
        assert st.bound is None  # complex spectrum: measured, not bounded
        assert err.max() <= target_bound(W.n)
    else:
        assert err.max() <= st.bound, (err.max(), st.bound)


def test_bound_is_not_vacuous():
    """A truncated Taylor series with few terms must exceed the target and say so."""
    W = weights.lattice(10, 10, torus=True).row_standardize()
    st = logdet.init(W, "taylor", order=6, probes=64)
    err = np.abs(np.asarray(logdet.apply(st, 0.95)) - _exact(W, [0.95])[0]) / W.n
    assert err > 1e-3
    assert st.bound >= err


@pytest.mark.parametrize("method", ["eigen", "lu_grid", "chebyshev", "taylor", "slq"])
def test_gradient_matches_finite_differences(cases, method):
    W = cases["lattice"]
    st = logdet.init(W, method)
    f = jax.jit(lambda r: logdet.apply(st, r))
    g = jax.jit(jax.grad(lambda r: logdet.apply(st, r)))
    h = 1e-6
    for r in (-0.6, 0.2, 0.8):
        fd = (f(r + h) - f(r - h)) / (2 * h)
        np.testing.assert_allclose(g(r), fd, rtol=1e-6, atol=1e-6)


def test_gradient_of_exact_matches_trace_formula(cases):
    """d/drho log|I - rho W| = -tr(W (I - rho W)^-1), by a dense solve."""
    W = cases["torus"]
    A = W.sparse.toarray()
    st = logdet.init(W, "eigen")
    for r in (-0.5, 0.7):
        want = -np.trace(np.linalg.solve(np.eye(W.n) - r * A, A))
        np.testing.assert_allclose(jax.grad(lambda x: logdet.apply(st, x))(r), want, rtol=1e-10)


@pytest.mark.parametrize("method", ["eigen", "lu_grid", "chebyshev", "taylor", "slq"])
def test_vmap_matches_array_apply(cases, method):
    st = logdet.init(cases["torus"], method)
    rhos = jnp.asarray(RHOS)
    batched = jax.vmap(lambda r: logdet.apply(st, r))(rhos)
    np.testing.assert_allclose(batched, logdet.apply(st, rhos), rtol=1e-12)
    assert logdet.apply(st, rhos).shape == rhos.shape


@pytest.mark.parametrize("method", ["eigen", "lu_grid", "chebyshev", "taylor", "slq"])
def test_state_is_a_pytree_for_jit(cases, method):
    st = logdet.init(cases["torus"], method)
    f = jax.jit(logdet.apply)
    np.testing.assert_allclose(f(st, 0.4), logdet.apply(st, 0.4), rtol=1e-12)


def test_probes_fixed_at_init(cases):
    W = cases["lattice"]
    a = logdet.init(W, "chebyshev", seed=3)
    b = logdet.init(W, "chebyshev", seed=3)
    assert float(logdet.apply(a, 0.7)) == float(logdet.apply(b, 0.7))


def test_auto_picks_by_size_and_says_which(cases):
    st = logdet.init(cases["torus"], "auto")
    assert st.method == "eigen"
    assert "auto: n = 100 -> eigen" in st.describe()["auto"]
    assert logdet.choose(logdet.AUTO_EIGEN_MAX_N) == "eigen"
    assert logdet.choose(logdet.AUTO_EIGEN_MAX_N + 1) == "chebyshev"  # NAT: 3,085 counties
    assert logdet.choose(10**4) == "chebyshev"
    assert logdet.choose(10**6) == "chebyshev"


def test_accepts_scipy_matrix(cases):
    m = sp.csr_matrix(cases["lattice"].sparse)
    st = logdet.init(m, "eigen")
    np.testing.assert_allclose(
        logdet.apply(st, 0.3), _exact(cases["lattice"], [0.3])[0], rtol=1e-10
    )


def test_unknown_method():
    with pytest.raises(ValueError, match="one of"):
        logdet.init(weights.lattice(3, 3).row_standardize(), "magic")

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from bayespatial.data import weights
from bayespatial.engine import sparse


def test_matvec_batched_over_periods_and_transpose():
    rng = np.random.default_rng(0)
    W = weights.knn(rng.uniform(size=(40, 2)), k=3).row_standardize()
    op = sparse.init(W)
    Y = rng.standard_normal((5, 40))
    np.testing.assert_allclose(
        sparse.matvec(op, jnp.asarray(Y)), Y @ W.sparse.T.toarray(), rtol=1e-12
    )
    np.testing.assert_allclose(
        sparse.rmatvec(op, jnp.asarray(Y)), Y @ W.sparse.toarray(), rtol=1e-12
    )
    f = jax.jit(jax.vmap(lambda y: sparse.matvec(op, y)))
    np.testing.assert_allclose(f(jnp.asarray(Y)), Y @ W.sparse.T.toarray(), rtol=1e-12)
    bc = sparse.to_bcoo(W)
    np.testing.assert_allclose(bc @ jnp.asarray(Y.T), W.sparse @ Y.T, rtol=1e-12)


def _unsorted(n: int = 30, seed: int = 0) -> sp.csr_matrix:
    """A CSR matrix whose rows list their columns in reverse order (valid, not canonical)."""
    a = sp.random(n, n, density=0.2, random_state=seed, format="csr")
    a.setdiag(0)
    a.eliminate_zeros()
    indices, data = a.indices.copy(), a.data.copy()
    for i in range(n):
        lo, hi = a.indptr[i], a.indptr[i + 1]
        indices[lo:hi], data[lo:hi] = indices[lo:hi][::-1].copy(), data[lo:hi][::-1].copy()
    m = sp.csr_matrix((data, indices, a.indptr.copy()), shape=a.shape)
    assert not m.has_sorted_indices
    return m


def test_the_engine_never_rewrites_the_callers_matrix_in_place():
    """scipy sorts a non-canonical matrix in place, under views that share its arrays; a
    thread reading them meanwhile corrupts memory (seen once in a Chebyshev init). The
    engine works on canonical copies, so the caller's arrays stay as they were, and
    `Weights` holds its matrix canonical, so scipy never rewrites it."""
    from bayespatial.data.wmatrix import Weights
    from bayespatial.engine import logdet
    from bayespatial.engine.traces import forms_by_probe, make_design

    m = _unsorted()
    before = (m.indices.copy(), m.data.copy())
    sparse.init(m)
    forms_by_probe(m, make_design(m, 4), m.shape[0], 6, "chebyshev", False)
    logdet.init(m, "chebyshev")
    np.testing.assert_array_equal(m.indices, before[0])
    np.testing.assert_array_equal(m.data, before[1])
    W = Weights(_unsorted(seed=1), tuple(range(30)))
    assert W.sparse.has_canonical_format
    assert W.row_standardize().sparse.has_canonical_format
    np.testing.assert_allclose(W.sparse.toarray(), _unsorted(seed=1).toarray())

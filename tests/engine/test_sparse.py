import jax
import jax.numpy as jnp
import numpy as np

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

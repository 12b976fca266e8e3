"""Large-W accuracy of the default approximate log-determinant (slow)."""

import jax
import numpy as np
import pytest

from bayespatial.data import weights
from bayespatial.engine import logdet
from bayespatial.engine.logdet_stochastic import target_bound

pytestmark = pytest.mark.slow


def test_chebyshev_meets_target_on_a_torus_of_ten_thousand_cells():
    side = 100
    W = weights.lattice(side, side, torus=True).row_standardize()
    lam = weights.torus_eigenvalues(side, side)
    st = logdet.init(W, "auto")
    assert st.method == "chebyshev"
    rhos = np.array([-0.9, -0.5, 0.3, 0.7, 0.9, 0.95])
    val = np.asarray(logdet.apply(st, rhos))
    der = np.asarray(jax.vmap(jax.grad(lambda r: logdet.apply(st, r)))(rhos))
    want_v = np.array([np.sum(np.log1p(-r * lam)) for r in rhos])
    want_d = np.array([np.sum(-lam / (1 - r * lam)) for r in rhos])
    assert np.abs(val - want_v).max() / W.n <= min(st.bound, target_bound(W.n))
    assert np.abs(der - want_d).max() / W.n <= target_bound(W.n)

import numpy as np
import pytest

from bayespatial.data import weights
from bayespatial.engine.traces import init_traces


@pytest.mark.parametrize("torus", [False, True])
def test_traces_exact_low_orders_and_mc_high_orders(torus):
    W = weights.lattice(9, 11, torus=torus).row_standardize()
    A = W.sparse.toarray()
    tr = init_traces(W, order=12, probes=400, seed=1)
    want = np.array([np.trace(np.linalg.matrix_power(A, k)) / W.n for k in range(13)])
    np.testing.assert_allclose(tr.moments[:5], want[:5], rtol=0, atol=1e-13)
    assert np.all(tr.se[:5] == 0)
    z = np.abs(tr.moments[5:] - want[5:]) / np.maximum(tr.se[5:], 1e-15)
    assert np.all(z < 5), z

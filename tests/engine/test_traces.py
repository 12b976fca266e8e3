import numpy as np
import pytest

from bayespatial.data import weights
from bayespatial.engine.traces import init_traces


def _dense(W, order):
    A = W.sparse.toarray()
    return np.array([np.trace(np.linalg.matrix_power(A, k)) / W.n for k in range(order + 1)])


@pytest.mark.parametrize("torus", [False, True])
def test_rademacher_traces_within_monte_carlo_error(torus):
    W = weights.lattice(9, 11, torus=torus).row_standardize()
    want = _dense(W, 12)
    tr = init_traces(W, order=12, distance=0, probes=400, seed=1)
    np.testing.assert_allclose(tr.moments[:5], want[:5], rtol=0, atol=1e-13)
    assert np.all(tr.se[:5] == 0)
    z = np.abs(tr.moments[5:] - want[5:]) / tr.se[5:]
    assert np.all(z < 5), z


def test_probing_is_exact_up_to_its_distance_and_close_beyond():
    W = weights.lattice(30, 30).row_standardize()
    want = _dense(W, 30)
    tr = init_traces(W, order=30, distance=8, seed=2)
    np.testing.assert_allclose(tr.moments[:9], want[:9], rtol=0, atol=1e-13)
    z = np.abs(tr.moments[9:] - want[9:]) / np.maximum(tr.se[9:], 1e-15)
    assert np.all(z < 5), z


def test_nonsymmetric_w_uses_plain_recurrence():
    rng = np.random.default_rng(0)
    W = weights.knn(rng.uniform(size=(80, 2)), k=4).row_standardize()
    assert W.symmetric_scale() is None
    want = _dense(W, 10)
    tr = init_traces(W, order=10, distance=12)  # every unit its own colour at this size?
    np.testing.assert_allclose(tr.moments[:5], want[:5], atol=1e-13)
    z = np.abs(tr.moments - want) / np.maximum(tr.se, 1e-15)
    assert np.all((z < 5) | (np.abs(tr.moments - want) < 1e-12))

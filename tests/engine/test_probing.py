import numpy as np
import pytest
import scipy.sparse.csgraph as cg

from bayespatial.data import weights
from bayespatial.engine.probing import colouring, probe_block


@pytest.mark.parametrize("distance", [2, 5, 8])
def test_same_colour_units_are_farther_apart_than_distance(distance):
    W = weights.lattice(25, 31, kind="queen").row_standardize()
    col = colouring(W, distance, seed=3)
    assert col.distance >= distance
    dist = cg.shortest_path(W.sparse, unweighted=True, directed=False)
    same = col.colours[:, None] == col.colours[None, :]
    np.fill_diagonal(same, False)
    assert dist[same].min() > col.distance
    assert col.n_colours == col.colours.max() + 1


def test_probe_columns_partition_the_units():
    W = weights.lattice(10, 10)
    col = colouring(W, 4)
    signs = np.where(np.arange(100) % 2, 1.0, -1.0)
    z = probe_block(col, np.arange(col.n_colours), signs)
    np.testing.assert_array_equal(np.abs(z).sum(1), 1.0)
    np.testing.assert_array_equal(z.sum(1), signs)

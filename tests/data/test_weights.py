import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.errors import WeightsError


@pytest.fixture(scope="module")
def columbus():
    return bsp.load_columbus()


def test_row_standardize_and_symmetric_similarity(columbus):
    W = columbus.W.row_standardize()
    np.testing.assert_allclose(np.asarray(W.sparse.sum(1)).ravel(), 1.0)
    d = W.symmetric_scale()
    assert d is not None
    s = sp.diags(d) @ W.sparse
    assert abs(s - s.T).max() < 1e-14


def test_rho_bounds_match_dense_eigenvalues(columbus):
    W = columbus.W.row_standardize()
    ev = np.linalg.eigvals(W.sparse.toarray()).real
    lo, hi = W.rho_bounds()
    np.testing.assert_allclose([lo, hi], [1 / ev.min(), 1 / ev.max()], rtol=1e-10)
    with pytest.raises(WeightsError, match=r"outside the valid interval"):
        W.check_rho(1.01)


@pytest.mark.parametrize("kind", ["rook", "queen"])  # bipartite shortcut, and ARPACK
def test_rho_bounds_sparse_path_matches_dense(kind):
    W = weights.lattice(50, 50, kind=kind).row_standardize()  # n = 2500 > dense limit
    ev = np.linalg.eigvals(W.sparse.toarray()).real
    np.testing.assert_allclose(W.rho_bounds(), [1 / ev.min(), 1 / ev.max()], rtol=1e-8)


def test_islands_error_by_default_and_keep():
    m = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], float))
    with pytest.raises(WeightsError, match=r"1 island.*'c'.*islands='keep'"):
        weights.from_sparse(m, ids=["a", "b", "c"])
    W = weights.from_sparse(m, ids=["a", "b", "c"], islands="keep").row_standardize(islands="keep")
    assert W.islands == ("c",)
    np.testing.assert_allclose(W.sparse.toarray()[2], 0.0)


def test_malformed_matrices_rejected():
    with pytest.raises(WeightsError, match="square"):
        weights.from_sparse(np.ones((2, 3)))
    with pytest.raises(WeightsError, match="diagonal"):
        weights.from_sparse(np.ones((2, 2)))
    with pytest.raises(WeightsError, match="non-finite"):
        weights.from_sparse(np.array([[0, np.nan], [1, 0]]))
    with pytest.raises(WeightsError, match="unique"):
        weights.from_sparse(np.array([[0, 1], [1, 0]]), ids=["a", "a"])


def test_align_reorders_and_checks(columbus):
    W = columbus.W
    order = list(reversed(W.ids))
    Wr = W.align(order)
    i, j = 3, 7
    assert Wr.sparse[len(order) - 1 - i, len(order) - 1 - j] == W.sparse[i, j]
    with pytest.raises(WeightsError, match="not in W"):
        W.align([*order[:-1], 999])


def test_from_libpysal_roundtrip(columbus):
    import libpysal

    w = libpysal.weights.lat2W(4, 5)
    W = weights.from_libpysal(w)
    np.testing.assert_array_equal(W.sparse.toarray(), w.full()[0])
    assert W.ids == tuple(w.id_order)


def test_contiguity_from_shapefile_matches_gal(columbus):
    import libpysal

    W = weights.contiguity(libpysal.examples.get_path("columbus.shp"), ids="POLYID", kind="queen")
    ref = columbus.W.align(W.ids)
    assert (W.sparse != ref.sparse).nnz == 0
    rook = weights.contiguity(libpysal.examples.get_path("columbus.shp"), ids="POLYID", kind="rook")
    assert rook.nnz <= W.nnz


def test_contiguity_from_geojson_and_geodataframe(columbus):
    import geopandas as gpd
    import libpysal

    path = libpysal.examples.get_path("columbus.json")
    from_json = weights.contiguity(path, ids="POLYID")
    gdf = gpd.read_file(path)
    from_frame = weights.contiguity(gdf, ids="POLYID")
    assert from_json == from_frame
    assert (from_json.sparse != columbus.W.align(from_json.ids).sparse).nnz == 0
    with pytest.raises(WeightsError, match="'FIPS' not found"):
        weights.contiguity(gdf, ids="FIPS")


def test_knn_and_distance_band_against_brute_force():
    rng = np.random.default_rng(0)
    xy = rng.uniform(size=(60, 2))
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    W = weights.knn(xy, k=4)
    want = np.zeros_like(d)
    np.put_along_axis(want, np.argsort(d, 1)[:, :4], 1.0, 1)
    np.testing.assert_array_equal(W.sparse.toarray(), want)
    band = weights.distance_band(xy, 0.3, islands="keep")
    np.testing.assert_array_equal(band.sparse.toarray(), (d <= 0.3).astype(float))
    inv = weights.inverse_distance(xy, cutoff=0.3, islands="keep")
    np.testing.assert_allclose(inv.sparse.toarray(), np.where(d <= 0.3, 1 / d, 0.0))
    full = weights.inverse_distance(xy, power=2)
    np.testing.assert_allclose(full.sparse.toarray(), np.where(np.isinf(d), 0, d**-2.0))


def test_haversine_knn_uses_great_circles():
    lonlat = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.5], [179.5, 0.0], [-179.5, 0.0]])
    W = weights.knn(lonlat, k=1, metric="haversine")
    nb = W.sparse.indices
    assert nb[3] == 4
    assert nb[4] == 3


def test_from_edges(tmp_path):
    edges = pd.DataFrame(
        {"source": ["a", "b", "c"], "target": ["b", "c", "a"], "w": [1.0, 2.0, 3.0]}
    )
    W = weights.from_edges(edges, weight="w")
    assert W.ids == ("a", "b", "c")
    assert W.sparse[1, 2] == 2.0
    assert W.sparse[2, 1] == 0.0
    Ws = weights.from_edges(edges, weight="w", symmetric=True)
    assert Ws.sparse[2, 1] == 2.0
    path = tmp_path / "e.csv"
    edges.rename(columns={"source": "from"}).to_csv(path, index=False)
    with pytest.raises(WeightsError, match=r"lacks column\(s\) \['source'\]"):
        weights.from_edges(path)
    W2 = weights.from_edges(path, source="from", weight="w")
    assert W2 == W
    with pytest.raises(WeightsError, match="island"):
        weights.from_edges(edges, ids=["a", "b", "c", "d"])


def test_economic_geographic_formulas():
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    e = np.array([1.0, 2.0, 4.0])
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    gap = np.abs(e[:, None] - e[None])
    off = ~np.eye(3, dtype=bool)
    nested = weights.economic_geographic(xy, e, kind="nested", metric="euclidean")
    np.testing.assert_allclose(nested.sparse.toarray()[off], 1 / d[off] / gap[off])
    convex = weights.economic_geographic(
        xy, e, kind="convex", phi=0.3, metric="euclidean"
    ).sparse.toarray()
    wd = np.where(off, 1 / np.where(off, d, 1), 0)
    we = np.where(off, 1 / np.where(off, gap, 1), 0)
    want = 0.3 * wd / wd.sum(1, keepdims=True) + 0.7 * we / we.sum(1, keepdims=True)
    np.testing.assert_allclose(convex, want)
    with pytest.raises(WeightsError, match="economic gap"):
        weights.economic_geographic(xy, [1.0, 1.0, 2.0], metric="euclidean")


def test_torus_eigenvalues_closed_form():
    for kind in ("rook", "queen"):
        W = weights.lattice(6, 8, kind=kind, torus=True).row_standardize()
        dense = np.sort(np.linalg.eigvals(W.sparse.toarray()).real)
        np.testing.assert_allclose(
            np.sort(weights.torus_eigenvalues(6, 8, kind)), dense, atol=1e-12
        )


def test_subset_restricts_links_and_checks():
    W = weights.lattice(3, 3)  # ids 0..8, rook
    sub = W.subset([4, 1, 0])
    assert sub.ids == (4, 1, 0)
    np.testing.assert_array_equal(sub.sparse.toarray(), [[0, 1, 0], [1, 0, 1], [0, 1, 0]])
    with pytest.raises(WeightsError, match="not in W"):
        W.subset([0, 99])
    with pytest.raises(WeightsError, match="unstandardised"):
        W.row_standardize().subset([0, 1])
    with pytest.raises(WeightsError, match="island"):
        W.subset([0, 4])
    assert W.subset([0, 4], islands="keep").islands == (0, 4)


def test_weights_arrays_are_read_only_and_the_callers_stay_writeable():
    """What a fit caches on W (its context) cannot go stale: W's arrays refuse edits,
    while the matrix the caller passed in stays theirs to change."""
    from bayespatial.data.wmatrix import Weights

    given = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    W = Weights.from_sparse(given)
    with pytest.raises(ValueError, match="read-only"):
        W.sparse.data[0] = 5.0
    given.data[0] = 2.0  # the caller's copy is untouched by the freeze
    assert W.sparse.data[0] == 1.0
    again = Weights.from_sparse(W.sparse)  # building from a frozen W works
    assert again == W


def test_symmetrising_scale_is_read_off_a_weighted_w():
    """A weighted symmetric W row-standardised, its row sums forgotten (as a fit stores
    it): the scale comes back from the edges; k nearest neighbours have none."""
    from bayespatial.data.wmatrix import Weights, symmetrising_scale

    rng = np.random.default_rng(3)
    xy = rng.uniform(size=(50, 2))
    W = weights.economic_geographic(xy, rng.normal(size=50), metric="euclidean")
    bare = W.row_standardize().sparse
    d = Weights(bare, tuple(range(50)), "row", None).symmetric_scale()
    assert d is not None
    s = sp.diags(d) @ bare
    assert abs(s - s.T).max() < 1e-12 * abs(s).max()
    ev = np.sort(np.linalg.eigvals(bare.toarray()).real)
    sym = np.sqrt(d)[:, None] * bare.toarray() / np.sqrt(d)[None]
    np.testing.assert_allclose(np.linalg.eigvalsh((sym + sym.T) / 2), ev, atol=1e-10)
    knn = weights.knn(xy, k=4).row_standardize().sparse
    assert symmetrising_scale(knn) is None
    # a deep forest: a weighted path of 30 units and a separate 4-cycle, row-standardised
    a = np.zeros((34, 34))
    for i in range(29):
        a[i, i + 1] = a[i + 1, i] = rng.uniform(0.5, 2.0)
    for i in range(4):
        a[30 + i, 30 + (i + 1) % 4] = a[30 + (i + 1) % 4, 30 + i] = rng.uniform(0.5, 2.0)
    rows = a.sum(axis=1)
    d = symmetrising_scale(sp.csr_matrix(a / rows[:, None]))
    np.testing.assert_allclose(d[:30] / d[0], rows[:30] / rows[0], rtol=1e-12)
    np.testing.assert_allclose(d[30:] / d[30], rows[30:] / rows[30], rtol=1e-12)
    signed = a / rows[:, None]
    signed[3, 4] = -signed[3, 4]  # no positive scale: None, not a hang
    assert symmetrising_scale(sp.csr_matrix(signed)) is None

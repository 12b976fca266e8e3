"""Constructors of spatial weights (the public ``bayespatial.weights`` namespace).

Every constructor returns an unstandardised `Weights`; call
``.row_standardize()`` (what ``fit`` does by default) to get W = D^-1 A.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree

from bayespatial.data.errors import WeightsError
from bayespatial.data.wmatrix import Weights

__all__ = [
    "Weights",
    "contiguity",
    "distance_band",
    "economic_geographic",
    "from_edges",
    "from_libpysal",
    "from_sparse",
    "inverse_distance",
    "knn",
    "lattice",
]

EARTH_RADIUS_KM = 6371.0088
DENSE_MAX_N = 5000


def from_sparse(matrix, ids: Sequence | None = None, *, islands: str = "raise") -> Weights:
    """Wrap a scipy.sparse (or dense) matrix; see `Weights.from_sparse`."""
    return Weights.from_sparse(matrix, ids, islands=islands)


def from_libpysal(w, *, islands: str = "raise") -> Weights:
    """Convert a libpysal ``W`` or ``Graph``, keeping its ids and its weights as they are."""
    if hasattr(w, "unique_ids"):  # libpysal.graph.Graph
        m = w.sparse.tocsr()
        ids = list(w.unique_ids)
    elif hasattr(w, "id_order"):
        m = w.sparse.tocsr()
        ids = list(w.id_order)
    else:
        raise WeightsError(
            f"from_libpysal expects a libpysal W or Graph, got {type(w).__name__}; use "
            "bayespatial.weights.from_sparse for a matrix."
        )
    m = m.copy()
    m.setdiag(0)
    return Weights.from_sparse(m, ids, islands=islands)


def _coords(coords, ids, metric):
    xy = np.asarray(coords, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise WeightsError(f"coords must be an (n, 2) array of x, y; got shape {xy.shape}.")
    bad = ~np.all(np.isfinite(xy), axis=1)
    ids = tuple(range(len(xy))) if ids is None else tuple(ids)
    if bad.any():
        raise WeightsError(
            "coords are missing or non-finite for units "
            f"{[ids[i] for i in np.flatnonzero(bad)][:5]}."
        )
    if len(ids) != len(xy):
        raise WeightsError(f"{len(xy)} coordinate rows but {len(ids)} ids.")
    if metric == "haversine":
        lon, lat = np.radians(xy[:, 0]), np.radians(xy[:, 1])
        if np.any(np.abs(xy[:, 1]) > 90):
            raise WeightsError(
                "haversine needs (longitude, latitude) in degrees; |lat| > 90 found."
            )
        # chord coordinates on the unit sphere: KD-tree search in 3-d is exact for ranking
        return np.column_stack(
            [np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]
        ), ids
    if metric != "euclidean":
        raise WeightsError(f"metric must be 'euclidean' or 'haversine', not {metric!r}.")
    return xy, ids


def _to_distance(chord, metric):
    if metric == "haversine":
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.clip(chord / 2, 0, 1))
    return chord


def _to_chord(dist, metric):
    if metric == "haversine":
        return 2 * np.sin(min(dist / (2 * EARTH_RADIUS_KM), np.pi / 2))
    return dist


def knn(coords, k: int = 6, ids: Sequence | None = None, *, metric: str = "euclidean") -> Weights:
    """Binary k-nearest-neighbour weights (not symmetric in general).

    ``metric="haversine"`` takes (longitude, latitude) in degrees.
    """
    pts, ids = _coords(coords, ids, metric)
    n = len(pts)
    if not 1 <= k < n:
        raise WeightsError(f"k must be between 1 and n - 1 = {n - 1}; got {k}.")
    _, nb = cKDTree(pts).query(pts, k=k + 1)
    rows = np.repeat(np.arange(n), k + 1)
    m = sp.csr_matrix((np.ones(n * (k + 1)), (rows, nb.ravel())), shape=(n, n))
    m.setdiag(0)
    m.eliminate_zeros()
    if (m.getnnz(axis=1) != k).any():  # ties at distance 0 can put a point before itself
        raise WeightsError("knn found duplicate coordinates; jitter or deduplicate the points.")
    return Weights.from_sparse(m, ids)


def distance_band(
    coords,
    threshold: float,
    ids: Sequence | None = None,
    *,
    binary: bool = True,
    metric: str = "euclidean",
    islands: str = "raise",
) -> Weights:
    """Weights for pairs closer than ``threshold`` (binary, or 1/d if ``binary=False``)."""
    pts, ids = _coords(coords, ids, metric)
    tree = cKDTree(pts)
    d = tree.sparse_distance_matrix(tree, _to_chord(threshold, metric), output_type="coo_matrix")
    keep = d.row != d.col
    r, c, dist = d.row[keep], d.col[keep], _to_distance(d.data[keep], metric)
    vals = np.ones_like(dist) if binary else 1.0 / dist
    m = sp.csr_matrix((vals, (r, c)), shape=(len(pts),) * 2)
    return Weights.from_sparse(m, ids, islands=islands)


def inverse_distance(
    coords,
    cutoff: float | None = None,
    ids: Sequence | None = None,
    *,
    power: float = 1.0,
    metric: str = "euclidean",
    islands: str = "raise",
) -> Weights:
    """Inverse-distance weights w_ij = d_ij^-power for d_ij <= cutoff (all pairs if None).

    Without a cutoff W is dense, which is allowed up to n = 5,000 units.
    """
    pts, ids = _coords(coords, ids, metric)
    n = len(pts)
    if cutoff is None:
        if n > DENSE_MAX_N:
            raise WeightsError(
                f"inverse_distance without a cutoff builds a dense {n} x {n} W; pass cutoff= "
                f"(n > {DENSE_MAX_N})."
            )
        cutoff = np.inf
    tree = cKDTree(pts)
    if np.isinf(cutoff):
        diff = pts[:, None, :] - pts[None, :, :]
        dist = _to_distance(np.sqrt((diff**2).sum(-1)), metric)
        np.fill_diagonal(dist, np.inf)
        if np.any(dist == 0):
            raise WeightsError("inverse_distance found duplicate coordinates (distance 0).")
        return Weights.from_sparse(sp.csr_matrix(dist**-power), ids, islands=islands)
    d = tree.sparse_distance_matrix(tree, _to_chord(cutoff, metric), output_type="coo_matrix")
    keep = d.row != d.col
    dist = _to_distance(d.data[keep], metric)
    m = sp.csr_matrix((dist**-power, (d.row[keep], d.col[keep])), shape=(n, n))
    return Weights.from_sparse(m, ids, islands=islands)


def from_edges(
    edges,
    *,
    source: str = "source",
    target: str = "target",
    weight: str | None = None,
    ids: Sequence | None = None,
    symmetric: bool = False,
    islands: str = "raise",
) -> Weights:
    """Weights from an edge list (a CSV path or a DataFrame with one row per link).

    Parameters
    ----------
    edges : str, path or pandas.DataFrame
        Columns ``source`` and ``target`` (unit ids) and optionally ``weight``.
    ids : sequence, optional
        Full unit order (units without links become islands); default: the
        sorted union of ids in the list.
    symmetric : bool
        Add the reverse of every link (a link listed both ways keeps one weight).
    """
    frame = pd.read_csv(edges) if isinstance(edges, str | os.PathLike) else pd.DataFrame(edges)
    need = [c for c in (source, target, weight) if c is not None and c not in frame.columns]
    if need:
        raise WeightsError(
            f"edge list lacks column(s) {need}; it has {list(frame.columns)}. Pass "
            "source=, target= (and weight=) naming its columns."
        )
    if frame[[source, target]].isna().any().any():
        bad = frame.index[frame[[source, target]].isna().any(axis=1)].tolist()
        raise WeightsError(f"edge list has missing ids in rows {bad[:5]}.")
    w = np.ones(len(frame)) if weight is None else frame[weight].to_numpy(float)
    if not np.all(np.isfinite(w)):
        raise WeightsError(f"edge list column {weight!r} has missing or non-finite weights.")
    if ids is None:
        ids = sorted(set(frame[source]).union(frame[target]))
    pos = {u: i for i, u in enumerate(ids)}
    unknown = sorted(
        {u for u in pd.concat([frame[source], frame[target]]) if u not in pos}, key=str
    )
    if unknown:
        raise WeightsError(f"edge list names units not in ids: {unknown[:5]}.")
    r = frame[source].map(pos).to_numpy()
    c = frame[target].map(pos).to_numpy()
    if np.any(r == c):
        raise WeightsError(
            f"edge list links units to themselves: {list(frame[source][r == c])[:5]}."
        )
    m = sp.coo_matrix((w, (r, c)), shape=(len(ids),) * 2).tocsr()
    if (m != m.T).nnz and symmetric:
        m = m.maximum(m.T)
    return Weights.from_sparse(m, ids, islands=islands)


def contiguity(
    geo, ids: str | None = None, kind: str = "queen", *, islands: str = "raise"
) -> Weights:
    """Queen or rook contiguity from polygons (shapefile, GeoJSON or GeoDataFrame).

    Parameters
    ----------
    geo : str, path or geopandas.GeoDataFrame
        Polygons; a path is read with geopandas.
    ids : str, optional
        Column holding unit ids (default: the frame's index).
    kind : {"queen", "rook"}
        Queen shares a vertex, rook an edge.
    """
    if kind not in ("queen", "rook"):
        raise WeightsError(f"kind must be 'queen' or 'rook', not {kind!r}.")
    try:
        import geopandas as gpd
        from libpysal.graph import Graph
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "contiguity weights need geopandas: pip install 'bayespatial[geo]'"
        ) from err
    gdf = gpd.read_file(geo) if isinstance(geo, str | os.PathLike) else geo
    if ids is not None:
        if ids not in gdf.columns:
            raise WeightsError(f"id column {ids!r} not found; columns are {list(gdf.columns)}.")
        gdf = gdf.set_index(ids)
    if not gdf.index.is_unique:
        raise WeightsError("unit ids of the polygons are not unique; choose another ids column.")
    g = Graph.build_contiguity(gdf.geometry, rook=kind == "rook")
    m = g.sparse.tocsr()
    m.setdiag(0)
    return Weights.from_sparse(m, list(g.unique_ids), islands=islands)


def lattice(nrows: int, ncols: int, *, kind: str = "rook", torus: bool = False) -> Weights:
    """Binary contiguity on a regular nrows x ncols grid, ids 0..n-1 in row-major order.

    With ``torus=True`` the grid wraps around, so every cell has the same number
    of neighbours and the eigenvalues are known in closed form (`torus_eigenvalues`).
    """
    if kind not in ("queen", "rook"):
        raise WeightsError(f"kind must be 'queen' or 'rook', not {kind!r}.")
    offsets = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if kind == "queen":
        offsets += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    r, c = np.divmod(np.arange(nrows * ncols), ncols)
    rows, cols = [], []
    for dr, dc in offsets:
        rr, cc = r + dr, c + dc
        if torus:
            rr, cc = rr % nrows, cc % ncols
            ok = np.ones_like(rr, dtype=bool)
        else:
            ok = (rr >= 0) & (rr < nrows) & (cc >= 0) & (cc < ncols)
        rows.append(np.flatnonzero(ok))
        cols.append(rr[ok] * ncols + cc[ok])
    i, j = np.concatenate(rows), np.concatenate(cols)
    n = nrows * ncols
    m = sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    m.data[:] = 1.0  # tiny tori can list a neighbour twice
    return Weights.from_sparse(m)


def torus_eigenvalues(nrows: int, ncols: int, kind: str = "rook") -> np.ndarray:
    """Closed-form eigenvalues of the row-standardised torus lattice.

    The torus W is a circulant on Z_nrows x Z_ncols; its eigenvalues are the
    Fourier symbols, e.g. (cos a + cos b) / 2 for rook with a = 2 pi j / nrows,
    b = 2 pi k / ncols (Whittle 1954; Ord 1975).
    """
    a = 2 * np.pi * np.arange(nrows) / nrows
    b = 2 * np.pi * np.arange(ncols) / ncols
    ca, cb = np.cos(a)[:, None], np.cos(b)[None, :]
    if kind == "rook":
        return ((ca + cb) / 2).ravel()
    return ((2 * ca + 2 * cb + 4 * ca * cb) / 8).ravel()


def economic_geographic(
    coords,
    econ,
    ids: Sequence | None = None,
    *,
    kind: str = "nested",
    phi: float = 0.5,
    metric: str = "haversine",
) -> Weights:
    """Economic-geographic weights from locations and an economic variable.

    With d_ij the distance between units i and j and E_i the sample mean of an
    economic variable of unit i (per-capita GDP in the regional literature):

    - ``kind="nested"`` (default): geographic weights scaled by economic
      similarity, w_ij = (1 / d_ij) * (1 / |E_i - E_j|); the "economic-geographic
      nested matrix" of Chinese regional-economics work such as the
      north-east co-agglomeration study (Han et al. 2026), where units that are
      close *and* alike interact most.
    - ``kind="convex"``: phi W_d + (1 - phi) W_e with W_d = 1/d and
      W_e = 1/|E_i - E_j|, each row-standardised first: a weighted mix of the
      geographic and the economic matrix, the other construction that
      literature uses (e.g. for robustness checks).

    The result is not row-standardised; ``fit`` does that. Units with the same
    E would get an infinite weight and raise.
    """
    pts, ids = _coords(coords, ids, metric)
    e = np.asarray(econ, dtype=float).ravel()
    if e.shape[0] != len(pts):
        raise WeightsError(f"econ has {e.shape[0]} values but there are {len(pts)} units.")
    if not np.all(np.isfinite(e)):
        raise WeightsError("econ has missing or non-finite values; pass the per-unit sample means.")
    if len(pts) > DENSE_MAX_N:
        raise WeightsError(f"economic_geographic builds a dense W; n = {len(pts)} > {DENSE_MAX_N}.")
    diff = pts[:, None, :] - pts[None, :, :]
    dist = _to_distance(np.sqrt((diff**2).sum(-1)), metric)
    gap = np.abs(e[:, None] - e[None, :])
    off = ~np.eye(len(e), dtype=bool)
    for name, mat in (("distance", dist), ("economic gap |E_i - E_j|", gap)):
        if np.any(mat[off] == 0):
            i, j = np.argwhere((mat == 0) & off)[0]
            raise WeightsError(
                f"units {ids[i]!r} and {ids[j]!r} have {name} 0, so 1/0 weights; remove the "
                "duplicate or perturb the value."
            )
    np.fill_diagonal(dist, np.inf)
    np.fill_diagonal(gap, np.inf)
    wd, we = 1.0 / dist, 1.0 / gap
    if kind == "nested":
        m = wd * we
    elif kind == "convex":
        if not 0 <= phi <= 1:
            raise WeightsError(f"phi must lie in [0, 1]; got {phi}.")
        m = phi * wd / wd.sum(1, keepdims=True) + (1 - phi) * we / we.sum(1, keepdims=True)
    else:
        raise WeightsError(f"kind must be 'nested' or 'convex', not {kind!r}.")
    return Weights.from_sparse(sp.csr_matrix(m), ids)

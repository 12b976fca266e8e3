"""Effects by group with unit-specific coefficients against the dense impact matrix.

Oracle: S = (I - rho W)^-1 (diag(beta_i) + W diag(theta_i)) formed densely with
numpy's inverse; a group's direct effect is the mean of S_ii over its units and its
total effect the mean over its units of the column sums of S. Deterministic linear
algebra: tolerances are floating-point ones.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from bayespatial.data import weights
from bayespatial.engine.group_effects import (
    GroupInterpolant,
    GroupQuadrature,
    group_averages,
    group_effects,
    group_quadrature,
)


def _dense(W, of_unit, rho, beta, theta):
    n = W.shape[0]
    G = beta.shape[1]
    out = {k: np.empty((len(rho), G)) for k in ("direct", "indirect", "total")}
    for d, r in enumerate(rho):
        S = np.linalg.inv(np.eye(n) - r * W) @ (
            np.diag(beta[d, of_unit]) + W @ np.diag(theta[d, of_unit])
        )
        for g in range(G):
            own = of_unit == g
            out["direct"][d, g] = np.diag(S)[own].mean()
            out["total"][d, g] = S.sum(axis=0)[own].mean()
    out["indirect"] = out["total"] - out["direct"]
    return out


@pytest.mark.parametrize("kind", ["lattice", "knn", "weighted", "asymmetric_near_one"])
def test_group_effects_match_dense_impacts(kind):
    """``weighted``: a symmetric weighted W row-standardised, its scale read off the edges
    (eigenvector path); ``asymmetric_near_one``: rho up to 0.9995, as long-run effects of
    a persistent dsdm reach (rho_L = (rho + eta) / (1 - tau)): the interpolant takes out
    the pole at 1."""
    rng = np.random.default_rng(0)
    if kind == "lattice":  # symmetric after scaling: the eigh path
        W = weights.lattice(7, 6, kind="queen").row_standardize()
    elif kind == "knn":  # k-nearest neighbours: not similar to a symmetric matrix, the eig path
        W = weights.knn(rng.uniform(size=(40, 2)), k=4).row_standardize()
    else:  # economic-geographic, as in the north-east study
        xy = rng.uniform(size=(40, 2))
        W = weights.economic_geographic(xy, rng.normal(size=40), metric="euclidean")
        if kind == "asymmetric_near_one":  # weights made asymmetric: interpolated
            a = W.sparse.toarray() * rng.uniform(0.5, 1.5, size=(40, 40))
            W = weights.from_sparse(sp.csr_matrix(a), list(W.ids))
        W = W.row_standardize()
    m = W.sparse.toarray()
    n = m.shape[0]
    of_unit = rng.integers(0, 3, size=n)
    rho = np.array(
        [0.6, 0.95, 0.999, 0.9995] if kind == "asymmetric_near_one" else [-0.3, 0.0, 0.45, 0.9]
    )
    beta, theta = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    lo, hi = (0.55, 0.9996) if kind == "asymmetric_near_one" else (rho.min(), rho.max())
    q = group_averages(W, of_unit, 3, lo, hi)  # every rho inside the nodes' interval
    exact = kind in ("lattice", "weighted")
    assert isinstance(q, GroupQuadrature if exact else GroupInterpolant)
    got = group_effects(q, rho, beta, theta)
    want = _dense(m, of_unit, rho, beta, theta)
    for key in want:
        rtol = 1e-8 if kind == "asymmetric_near_one" else 1e-9  # effects ~ 1 / (1 - rho)
        np.testing.assert_allclose(got[key], want[key], rtol=rtol, atol=1e-9)


def test_unit_weighted_groups_give_lesage_pace_averages():
    """With the same coefficients everywhere, groups average back to tr(S)/n and 1'S1/n."""
    W = weights.lattice(6, 6).row_standardize()
    of_unit = np.arange(36) % 4
    rho, beta, theta = np.array([0.6]), np.full((1, 4), 1.5), np.full((1, 4), -0.4)
    eff = group_effects(group_quadrature(W.sparse, of_unit, 4), rho, beta, theta)
    share = np.bincount(of_unit) / 36
    m = W.sparse.toarray()
    S = np.linalg.inv(np.eye(36) - 0.6 * m) @ (1.5 * np.eye(36) - 0.4 * m)
    assert eff["direct"] @ share == pytest.approx(np.trace(S) / 36, rel=1e-10)
    assert eff["total"] @ share == pytest.approx(S.sum() / 36, rel=1e-10)
    assert eff["total"] @ share == pytest.approx((1.5 - 0.4) / (1 - 0.6), rel=1e-10)


def test_probed_averages_of_a_large_w_match_dense_impacts(monkeypatch):
    """Above DENSE_MAX (lowered here to 100) the averages come from sparse LU and probing:
    column sums exactly, diagonals to the probing error, of order |rho|^(d + 1) per unit
    (d = 12: 0.5^13 ~ 1e-4) and smaller after averaging over a group's units."""
    import bayespatial.engine.group_effects as ge

    monkeypatch.setattr(ge, "DENSE_MAX", 100)
    W = weights.lattice(20, 20, kind="queen").row_standardize()
    m = W.sparse.toarray()
    rng = np.random.default_rng(4)
    of_unit = rng.integers(0, 3, size=W.n)
    rho = np.array([0.1, 0.3, 0.5])
    beta, theta = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    q = ge.group_averages(W.sparse, of_unit, 3, rho.min(), rho.max())
    assert isinstance(q, GroupInterpolant)
    got = group_effects(q, rho, beta, theta)
    want = _dense(m, of_unit, rho, beta, theta)
    np.testing.assert_allclose(got["total"], want["total"], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(got["direct"], want["direct"], rtol=0, atol=1e-4)
    assert np.abs(got["direct"] - want["direct"]).max() > 0  # probed, not exact

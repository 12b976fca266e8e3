"""The streaming (per-observation) likelihood against the sufficient-statistics one and scipy."""

import numpy as np
import pytest
from scipy import stats

from bayespatial.data import weights
from bayespatial.engine import logdet
from bayespatial.engine.crossprod import cross_products, gaussian_loglik
from bayespatial.engine.streaming import helmert, loglik, transform_columns


@pytest.mark.parametrize("L", [2, 3, 7])
def test_helmert_is_an_orthonormal_complement_of_the_constant(L):
    H = helmert(np.eye(L), 0)
    assert H.shape == (L - 1, L)
    np.testing.assert_allclose(H @ H.T, np.eye(L - 1), atol=1e-14)
    np.testing.assert_allclose(H @ np.ones(L), 0.0, atol=1e-14)


@pytest.fixture(scope="module")
def panel():
    rng = np.random.default_rng(5)
    W = weights.lattice(6, 5).row_standardize()
    T, n, p = 4, W.n, 3
    y = rng.normal(size=(T, n)) + rng.normal(size=n)
    Z = rng.normal(size=(T, n, p))
    state = logdet.init(W, "eigen")
    return W, y, Z, state


@pytest.mark.parametrize("fe", ["none", "unit", "time", "twoway"])
@pytest.mark.parametrize("kind", ["lag", "error"])
def test_gaussian_streaming_equals_sufficient_statistics(panel, fe, kind):
    """Both paths give the same Gaussian log density (rtol 1e-10), any fixed effects."""
    W, y, Z, state = panel
    cp = cross_products(y, Z, W, fe)
    cols = transform_columns(y, Z, W, fe)
    assert cols.shape[0] == cp.nobs
    for r, beta, s2 in [(0.3, np.array([0.5, -1.0, 2.0]), 1.7), (-0.6, np.ones(3), 0.4)]:
        ld = float(logdet.apply(state, r))
        want = gaussian_loglik(cp, r, beta, s2, ld, kind)
        got = loglik(cols, cp.p, r, beta, s2, ld, cp.logdet_mult, cp.drop_unit_root, kind)
        assert float(got) == pytest.approx(float(want), rel=1e-10)


def test_student_t_density_matches_scipy_and_tends_to_gaussian(panel):
    W, y, Z, state = panel
    cols = transform_columns(y, Z, W, "none")
    r, beta, s2 = 0.2, np.array([0.3, 0.1, -0.2]), 0.9
    ld = float(logdet.apply(state, r))
    e = y.ravel() - r * (W.sparse @ y.T).T.ravel() - Z.reshape(-1, 3) @ beta
    want = y.shape[0] * ld + stats.t(df=4.5, scale=np.sqrt(s2)).logpdf(e).sum()
    got = loglik(cols, 3, r, beta, s2, ld, y.shape[0], False, "lag", nu=4.5)
    assert float(got) == pytest.approx(want, rel=1e-10)
    gauss = loglik(cols, 3, r, beta, s2, ld, y.shape[0], False, "lag")
    assert float(loglik(cols, 3, r, beta, s2, ld, y.shape[0], False, "lag", nu=1e9)) == (
        pytest.approx(float(gauss), rel=1e-6)
    )

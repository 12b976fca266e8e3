"""The W context: what depends on W alone is built once per W object and reused."""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.engine import logdet
from bayespatial.models.context import context

KW = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 200, "progress": False}


@pytest.fixture
def counted(monkeypatch):
    """Count the log-determinant initialisations (by method) while a test runs."""
    calls = []
    original = logdet.init

    def init(W, method="auto", **options):
        calls.append(method)
        return original(W, method, **options)

    monkeypatch.setattr(logdet, "init", init)
    return calls


@pytest.fixture(scope="module")
def panel():
    W = weights.lattice(6, 7)
    sim = simulate("sdm", W.row_standardize(), T=4, beta=[1.0, -0.5], theta=[0.5, 0.2], rho=0.3)
    return sim.frame, W


def test_later_fits_on_one_w_initialise_nothing_again(panel, counted):
    df, W = panel
    raw = weights.from_sparse(W.sparse, W.ids)  # nothing computed on it yet
    for model in ("sar", "sem", "sdm", "sar"):
        bsp.fit(model, "y ~ x1 + x2", df, raw, **KW)
    assert counted == ["eigen"]  # "auto" resolved once, shared by every fit and the effects
    assert context(raw.row_standardize()) is context(raw.row_standardize())


def test_auto_and_the_method_it_picks_are_one_state(panel, counted):
    _, W = panel
    ctx = context(weights.from_sparse(W.sparse, W.ids).row_standardize())
    auto = ctx.logdet("auto")
    explicit = ctx.logdet("eigen")
    assert counted == ["eigen"]
    assert explicit.params is auto.params
    assert dict(auto.info)["auto"] == "auto: n = 42 -> eigen"
    assert "auto" not in dict(explicit.info)


def test_other_methods_take_the_effects_quadrature_of_the_auto_state(panel, counted):
    """A lu_grid fit's effects come from the quadrature the auto method holds (eigen here:
    W's eigenvalues, each weighing 1/n), with no third initialisation for them."""
    df, W = panel
    raw = weights.from_sparse(W.sparse, W.ids)
    fit = bsp.fit("sdm", "y ~ x1 + x2", df, raw, logdet="lu_grid", **KW)
    assert counted == ["lu_grid", "eigen"]
    bsp.fit("sar", "y ~ x1 + x2", df, raw, logdet="lu_grid", **KW)
    assert counted == ["lu_grid", "eigen"]
    dense = raw.row_standardize().sparse.toarray()  # the oracle: numpy on the dense matrix
    want = np.sort(np.linalg.eigvals(dense).real)
    cd = fit.idata.constant_data
    np.testing.assert_allclose(np.sort(cd["spectrum_re"].values), want, atol=1e-12)
    np.testing.assert_allclose(cd["spectrum_weight"].values, 1 / 42)


def test_one_dense_eigen_solve_serves_every_use(panel):
    """W's dense eigenvalues (a fit's interval, the eigen log-determinant) are one solve,
    equal to numpy's eigenvalues of the dense matrix."""
    _, W = panel
    Wr = weights.from_sparse(W.sparse, W.ids).row_standardize()
    lo, hi = Wr.extreme_eigenvalues()
    ev = Wr.known_eigenvalues()
    assert ev is not None
    want = np.sort(np.linalg.eigvals(Wr.sparse.toarray()).real)
    np.testing.assert_allclose(np.sort(ev), want, atol=1e-12)
    assert (lo, hi) == (ev.min(), ev.max())
    state = logdet.init_eigen(Wr)
    assert np.array_equal(np.sort(np.asarray(state.params["re"])), np.sort(ev))

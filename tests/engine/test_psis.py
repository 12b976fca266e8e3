"""Vectorised PSIS-LOO against ArviZ's one-observation-at-a-time implementation."""

import warnings

import arviz as az
import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.engine import psis
from bayespatial.models.arviz_io import relative_ess


def _arviz(idata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.loo(idata, pointwise=True)


def test_equals_arviz_on_a_real_fit():
    """NAT 1980 cross-section (3,085 counties), SDM, 2 chains x 500 exact draws: every
    k-hat, loo_i, elpd and p_loo equal ArviZ's to 1e-8 (same r_eff from the posterior)."""
    nat = bsp.load_nat()
    df = nat.frame[nat.frame["year"] == 1980]
    fit = bsp.fit("sdm", "HR ~ RD + PS + UE", df, nat.W, unit="fips", chains=2, draws=500)
    ref = _arviz(fit.idata)
    got = fit.loo()
    np.testing.assert_allclose(got.pareto_k.values, ref.pareto_k.values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(got.loo_i.values, ref.loo_i.values, rtol=0, atol=1e-8)
    assert got.elpd_loo == pytest.approx(ref.elpd_loo, abs=1e-8)
    assert got.p_loo == pytest.approx(ref.p_loo, abs=1e-8)
    assert got.se == pytest.approx(ref.se, abs=1e-8)
    assert relative_ess(fit.idata) > 0.5


def test_ties_and_heavy_tails_take_the_one_row_path_and_still_agree():
    """Rows with ties at the cut-off, weights far below exp(-708) and k > 1."""
    rng = np.random.default_rng(0)
    S, B = 1000, 300
    ll = -0.5 * (rng.standard_t(3, size=(B, S)) * rng.uniform(0.2, 3, size=(B, 1))) ** 2
    ll[0, :300] = ll[0, 300]  # ties at the cut-off
    ll[1] = ll[1] * 2000  # most ratios underflow
    got = psis.smooth(ll, reff=0.9)
    idata = az.from_dict(posterior={"a": rng.normal(size=(1, S))}, log_likelihood={"y": ll.T[None]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.loo(idata, pointwise=True, reff=0.9)
    k_ref = ref.pareto_k.values
    assert (k_ref > 1).any()
    finite = np.isfinite(k_ref)
    np.testing.assert_allclose(got.pareto_k[finite], k_ref[finite], rtol=0, atol=1e-8)
    np.testing.assert_array_equal(np.isfinite(got.pareto_k), finite)
    np.testing.assert_allclose(got.loo_i, ref.loo_i.values, rtol=0, atol=1e-8)

import numpy as np
import pytest
from scipy import integrate, stats

from bayespatial.priors.spec import (
    BetaInterval,
    Flat,
    InverseGamma,
    Normal,
    Priors,
    Uniform,
    ZellnerG,
    defaults,
)


def test_defaults_are_flat_conjugate_and_scaled_to_the_data():
    pri = defaults("sar")
    assert pri.coef == Flat()
    assert pri.is_conjugate()
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    nig = pri.to_nig(Z.T @ Z, 50, var_y=4.0)
    np.testing.assert_allclose(nig.precision, 0.0)
    assert nig.flat == 3
    np.testing.assert_allclose(nig.mean, 0.0)
    assert nig.a0 == 0.01
    assert nig.b0 == pytest.approx(0.04)


def test_zellner_g_is_the_unit_information_prior_on_centred_slopes():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 3)) * [1.0, 10.0, 0.1]
    nig = Priors(coef=ZellnerG()).to_nig(Z.T @ Z, 50, var_y=4.0)
    np.testing.assert_allclose(nig.precision, Z.T @ Z / 50)  # g = N
    assert nig.flat == 0
    Zi = np.column_stack([np.ones(50), Z])
    nig = Priors(coef=ZellnerG()).to_nig(Zi.T @ Zi, 50, 4.0, names=["Intercept", "a", "b", "c"])
    Zc = Z - Z.mean(axis=0)
    np.testing.assert_allclose(nig.precision[1:, 1:], Zc.T @ Zc / 50)
    assert nig.flat == 1


def test_per_term_normals_leave_the_other_terms_flat():
    coef = Priors(coef={"b": Normal(0.0, 2.0)}).coef_prior(["a", "b"], np.eye(2), 10)
    np.testing.assert_array_equal(coef.flat_mask, [1.0, 0.0])
    np.testing.assert_array_equal(coef.nig_mask, [0.0, 0.0])
    assert coef.normal_sd[1] == 2.0


def test_non_conjugate_override_is_reported():
    pri = Priors(coef=Normal(0.0, 5.0))
    assert not pri.is_conjugate()
    with pytest.raises(ValueError, match="not conjugate"):
        pri.to_nig(np.eye(2), 10, 1.0)


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Normal(sd=-1.0),
        lambda: InverseGamma(shape=0.0),
        lambda: ZellnerG(g=np.nan),
        lambda: BetaInterval(a=-2.0),
    ],
)
def test_invalid_specs_raise(bad):
    with pytest.raises(ValueError, match="positive"):
        bad()


def test_uniform_support_must_lie_in_valid_interval():
    assert Uniform().interval((-1.5, 1.0)) == (-1.5, 1.0)
    with pytest.raises(ValueError, match="valid interval"):
        Uniform(low=-2.0).interval((-1.5, 1.0))


def test_beta_interval_density_matches_scipy_and_integrates_to_one():
    spec, bounds = BetaInterval(2.0, 3.0), (-1.3, 1.0)
    r = np.linspace(-1.2, 0.9, 7)
    want = stats.beta(2.0, 3.0, loc=-1.3, scale=2.3).logpdf(r)
    np.testing.assert_allclose(spec.log_density(r, bounds), want, rtol=1e-12)
    total, _ = integrate.quad(lambda x: np.exp(spec.log_density(x, bounds)), *bounds)
    assert total == pytest.approx(1.0, abs=1e-10)
    assert np.isneginf(spec.log_density(1.5, bounds))


def test_unknown_model():
    with pytest.raises(ValueError, match="no default priors"):
        defaults("gmm")

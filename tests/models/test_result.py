"""The generic fit result: any kind registers, loads back as itself, and has LOO and summary."""

from dataclasses import dataclass

import arviz as az
import numpy as np
import pytest
from scipy.stats import norm

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.models.arviz_io import to_idata, with_attrs
from bayespatial.models.result import RESULTS, FitResult, register


@register("toy_normal")
@dataclass(frozen=True, eq=False)
class ToyNormal(FitResult):
    """A normal mean with known sd: the simplest result another family could be."""


def _toy(seed=0, shift=0.0, n=40, chains=4, draws=500):
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0 + shift, 1.0, n)
    mu = rng.normal(y.mean(), 1 / np.sqrt(n), (chains, draws))  # exact posterior, flat prior
    ll = norm.logpdf(y[None, None, :], mu[..., None], 1.0)
    idata = to_idata(
        {"mu": mu},
        observed_data={"y": y},
        attrs={"result": "toy_normal", "model": "toy", "ci": 0.9, "notes": "[]"},
    )
    idata.add_groups(log_likelihood={"y": ll}, dims={"y": ["obs"]})
    return ToyNormal(idata)


def test_a_registered_kind_has_summary_loo_and_loads_as_itself(tmp_path):
    toy = _toy()
    assert RESULTS["toy_normal"] is ToyNormal
    table = toy.summary()
    mu = toy.draws("mu")
    assert table.loc[0, "parameter"] == "mu"
    assert table.loc[0, "mean"] == pytest.approx(mu.mean(), rel=1e-12)
    assert table.loc[0, "lower"] == pytest.approx(np.quantile(mu, 0.05), rel=1e-12)
    ours = toy.loo()
    theirs = az.loo(toy.idata, pointwise=True)
    assert ours.elpd_loo == pytest.approx(theirs.elpd_loo, rel=1e-10)
    np.testing.assert_allclose(ours.pareto_k, theirs.pareto_k, rtol=1e-8, atol=1e-10)
    back = bsp.load(toy.to_netcdf(tmp_path / "toy.nc"))
    assert type(back) is ToyNormal
    assert back == toy
    assert toy.diagnostics().empty  # none recorded, no sampler statistics: independent draws
    mcmc = toy.idata.copy()
    mcmc.add_groups(sample_stats={"diverging": np.zeros((4, 500), dtype=bool)})
    diag = ToyNormal(mcmc).diagnostics()  # recomputed from the draws
    rhat = diag[diag["check"] == "r_hat"]["value"].item()
    assert rhat == pytest.approx(float(az.rhat(toy.idata.posterior["mu"].values)), rel=1e-12)
    assert diag[diag["check"] == "divergences"]["value"].item() == 0


def test_compare_ranks_results_of_any_kind_on_one_outcome():
    good, worse = _toy(seed=1), _toy(seed=1)
    shifted = worse.idata.copy()
    shifted.log_likelihood["y"] = shifted.log_likelihood["y"] - 0.1  # a worse fit, same y
    table = bsp.compare({"good": good, "worse": ToyNormal(shifted)})
    assert list(table.index) == ["good", "worse"]
    assert table.loc["worse", "elpd_diff"] == pytest.approx(0.1 * 40, rel=1e-6)


def test_unknown_kind_and_old_spatial_files(tmp_path):
    W = weights.lattice(5, 5).row_standardize()
    sim = simulate("sar", W, T=3, rho=0.3, seed=3)
    fit = bsp.fit("sar", "y ~ x1 + x2", sim.frame, W, unit="unit", time="time", draws=100)
    assert fit.attrs["result"] == "spatial"
    old = with_attrs(fit.idata, {})
    for group in old.groups():
        old[group].attrs.pop("result", None)
    assert type(bsp.load(bsp.SpatialFit(old).to_netcdf(tmp_path / "old.nc"))) is bsp.SpatialFit
    odd = with_attrs(fit.idata, {"result": "mediation_v9"})
    with pytest.raises(ValueError, match="'mediation_v9' result"):
        bsp.load(bsp.SpatialFit(odd).to_netcdf(tmp_path / "odd.nc"))
    with pytest.raises(ValueError, match=r"one of \['psis'\]"):
        _toy().loo(method="exact")

"""Sampling diagnostics are recorded in the fit and checked against independent computations."""

import warnings

import arviz as az
import numpy as np
import pytest
from scipy.stats import norm

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.models import convergence


@pytest.fixture(scope="module")
def sar_panel():
    W = weights.lattice(8, 8).row_standardize()
    sim = simulate("sar", W, T=5, beta=[1.0, -0.5], rho=0.4, fe="twoway", seed=1)
    return sim.frame, W


KW = {"unit": "unit", "time": "time", "fe": "twoway", "progress": False}


def test_nuts_diagnostics_are_arviz_values_and_survive_netcdf(sar_panel, tmp_path):
    df, W = sar_panel
    fit = bsp.fit("sar", "y ~ x1 + x2", df, W, sampler="nuts", draws=500, warmup=500, **KW)
    table = fit.diagnostics()
    post = fit.idata.posterior
    rhat = table[(table["check"] == "r_hat")].set_index("target")["value"]
    ess = table[(table["check"] == "ess_bulk")].set_index("target")["value"]
    for j, term in enumerate(["x1", "x2"]):
        draws = post["beta"].values[..., j]
        assert rhat[term] == pytest.approx(float(az.rhat(draws)), rel=1e-12)
        assert ess[term] == pytest.approx(float(az.ess(draws, method="bulk")), rel=1e-12)
    assert rhat["rho"] == pytest.approx(float(az.rhat(post["rho"].values)), rel=1e-12)
    divergences = table[table["check"] == "divergences"]["value"].item()
    assert divergences == int(fit.idata.sample_stats["diverging"].values.sum())
    assert table["ok"].dtype == bool
    fit.to_netcdf(tmp_path / "f.nc")
    back = bsp.load(tmp_path / "f.nc").diagnostics()
    assert back.equals(table)


def test_exact_grid_error_estimate_tracks_the_true_trapezoid_error():
    """Richardson's estimate of the trapezoid CDF error against the exact normal CDF,
    on grids coarse enough that the error is far above rounding."""
    for points in (41, 81, 161):
        grid = np.linspace(-7.0, 7.0, points)
        logd = norm.logpdf(grid)
        (row,) = convergence.grid_checks(logd, "rho", draws=4000)  # uniform grid: du ~ dx
        F = convergence.trapezoid_cdf(grid, logd)
        true = np.max(np.abs(F - norm.cdf(grid) / norm.cdf(7.0)))
        assert 0.5 * true < row["value"] < 2.0 * true, (points, row["value"], true)
    assert not row["ok"]  # 161 points over 14 sd: error ~1e-4, above 0.01 MC se
    (fine,) = convergence.grid_checks(norm.logpdf(np.linspace(-7, 7, 2049)), "rho", 4000)
    assert fine["ok"]


def test_exact_fit_records_its_grid_check(sar_panel):
    df, W = sar_panel
    table = bsp.fit("sar", "y ~ x1 + x2", df, W, draws=250, **KW).diagnostics()
    assert list(table["check"]) == ["grid_cdf_error"]
    assert table["target"].item() == "rho"
    assert table["ok"].item()
    assert table["threshold"].item() == pytest.approx(0.01 * 0.5 / np.sqrt(1000))


def test_failed_checks_warn_with_the_recorded_rows():
    rows = [
        convergence._row("r_hat", "x1", 1.05, 1.01, False),
        convergence._row("ess_bulk", "x1", 120, 400, False),
        convergence._row("divergences", "all chains", 3, 0, False),
    ]
    with pytest.warns(bsp.SamplingWarning) as rec:
        convergence.warn(rows)
    message = str(rec[0].message)
    assert "3 divergent transition(s)" in message
    assert "r_hat > 1.01 for x1 (1.050)" in message
    assert "bulk ESS < 400 for x1 (120)" in message


def _sem_at_the_end(monkeypatch, gap):
    """SEM with an intercept on a 5 x 5 cross-section, whose lam posterior holds mass up
    to the end of its interval; returns the fit and the sampler's grid, log density and
    arguments."""
    from bayespatial.engine import conjugate

    monkeypatch.setattr(conjugate, "END_GAP", gap)
    W = weights.lattice(5, 5).row_standardize()
    sim = simulate("sar", W, beta=(1.0, -0.5), rho=0.5, fe="none", intercept=1.0, seed=2)
    seen = {}
    original = conjugate.posterior_grid

    def spy(*args, **kwargs):
        seen["args"], seen["out"] = args, original(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(conjugate, "posterior_grid", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bsp.SamplingWarning)
        fit = bsp.fit("sem", "y ~ x1 + x2", sim.frame, W, unit="unit", draws=200, progress=False)
    return fit, *seen["out"], seen["args"]


def test_grid_stops_short_of_where_the_density_is_rounding_noise(monkeypatch):
    """At lam -> 1, (I - lam W) 1 -> 0 and P_n(lam) loses its precision: 1e-9 of the
    interval from the end its log-determinant is rounding noise, a spike that put 1e-2
    into the CDF. The check catches that grid; the default grid (END_GAP) agrees with a
    400,001-point reference over its span to 1e-5 and passes."""
    from bayespatial.engine import conjugate

    bad, *_ = _sem_at_the_end(monkeypatch, 1e-9)
    assert not bad.diagnostics()["ok"].all()
    fit, grid, logd, args = _sem_at_the_end(monkeypatch, 1e-6)
    cp, prior, (lo, hi), logdet, log_prior, kind = args[:6]
    assert grid[-1] == pytest.approx(hi - 1e-6 * (hi - lo))  # the mass reaches the end
    ref = np.linspace(grid[0], grid[-1], 400_001)
    ref_logd = conjugate.log_density(cp, prior, ref, logdet, log_prior, kind)
    assert np.abs(np.diff(ref_logd)).max() < 2.0  # smooth up to the last node: no spike
    ref_cdf = convergence.trapezoid_cdf(ref, ref_logd)
    cdf = convergence.trapezoid_cdf(grid, logd)
    assert np.max(np.abs(cdf - np.interp(grid, ref, ref_cdf))) < 1e-5
    assert fit.diagnostics()["ok"].all()

"""Sampling diagnostics are recorded in the fit and checked against independent computations."""

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


def test_grid_graded_towards_an_end_holding_mass_matches_a_fine_reference(monkeypatch):
    """SEM on a 5 x 5 cross-section: the posterior of lam rises to the end of its interval.
    A uniform grid's CDF was 1e-2 off there; the graded grid's CDF must agree with a
    reference on 240,000 points (geometric towards both ends) to 1e-4, and the
    recorded check must say so."""
    from bayespatial.engine import conjugate

    W = weights.lattice(5, 5).row_standardize()
    sim = simulate("sar", W, beta=(1.0, -0.5), rho=0.5, fe="none", intercept=1.0, seed=2)
    seen = {}
    original = conjugate.posterior_grid

    def spy(*args, **kwargs):
        seen["args"], seen["out"] = args, original(*args, **kwargs)
        return seen["out"]

    monkeypatch.setattr(conjugate, "posterior_grid", spy)
    fit = bsp.fit("sem", "y ~ x1 + x2", sim.frame, W, unit="unit", draws=200, progress=False)
    grid, logd, log_jac = seen["out"]
    cp, prior, (lo, hi), logdet, log_prior, kind = seen["args"][:6]
    assert grid[-1] > hi - 1e-6  # the mass reaches the upper end
    span = hi - lo
    ends = np.geomspace(1e-12, 1e-3, 20000) * span
    ref = np.concatenate([lo + ends, np.linspace(lo + 1e-3 * span, hi - 1e-3 * span, 200000)])
    ref = np.concatenate([ref, (hi - ends)[::-1]])
    ref_cdf = convergence.trapezoid_cdf(
        ref, conjugate.log_density(cp, prior, ref, logdet, log_prior, kind)
    )
    cdf = convergence.trapezoid_cdf(np.arange(grid.size, dtype=float), logd + log_jac)
    assert np.max(np.abs(cdf - np.interp(grid, ref, ref_cdf))) < 1e-4
    assert fit.diagnostics()["ok"].all()

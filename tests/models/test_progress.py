"""Progress: what a watching user sees, and nothing where no one watches."""

import numpy as np
import pytest

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.data.simulate import simulate
from bayespatial.models import progress
from bayespatial.models.results import SpatialFit


@pytest.fixture(scope="module")
def sim():
    W = weights.lattice(6, 6).row_standardize()
    out = simulate("sar", W, T=4, beta=[1.0, -0.5], rho=0.4, fe="none", seed=3)
    return out.frame, W


KW = {"unit": "unit", "time": "time", "fe": "twoway", "draws": 100}


def test_fit_shows_its_steps_when_asked(sim, capsys):
    df, W = sim
    bsp.fit("sar", "y ~ x1 + x2", df, W, progress=True, **KW)
    err = capsys.readouterr().err
    for step in ("log-determinant", "exact sampler", "pointwise log-likelihood"):
        assert step in err


QUIET_PSIS = pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")
"""Pareto-k warnings depend on the draws; they are not what these tests check."""


@QUIET_PSIS
def test_nothing_is_printed_when_no_one_watches(sim, capsys):
    """Under pytest stderr is not a terminal and there is no notebook kernel."""
    df, W = sim
    assert not progress.wanted(None)
    fit = bsp.fit("sar", "y ~ x1 + x2", df, W, **KW)
    other = bsp.fit("sem", "y ~ x1 + x2", df, W, **KW)
    bsp.compare([fit, other])
    assert capsys.readouterr().err == ""


@QUIET_PSIS
def test_loo_progress_and_reuse(sim, capsys, monkeypatch):
    """compare shows one bar over the fits, and reuses a LOO a fit already has: PSIS runs
    once per fit, whatever the number of calls."""
    df, W = sim
    fits = [bsp.fit(m, "y ~ x1 + x2", df, W, **KW) for m in ("sar", "sem")]
    calls = []
    original = SpatialFit._psis

    def counted(self, *args, **kwargs):
        calls.append(self.model)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SpatialFit, "_psis", counted)
    first = fits[0].loo()
    assert fits[0].loo() is first
    table = bsp.compare(fits, progress=True)
    assert calls == ["sar", "sem"]
    assert "LOO of the fits" in capsys.readouterr().err
    assert table.loc["sar", "elpd_loo"] == pytest.approx(first.elpd_loo)


def test_streamed_log_likelihood_reports_draws(sim, capsys):
    df, W = sim
    fit = bsp.fit("sar", "y ~ x1 + x2", df, W, **KW)
    bare = SpatialFit(fit.idata.copy())
    del bare.idata.log_likelihood
    ll = bare.log_likelihood(progress=True, chunk=50)
    assert "pointwise log-likelihood" in capsys.readouterr().err
    np.testing.assert_allclose(ll, fit.log_likelihood(), rtol=1e-10)


def test_a_jupyter_kernel_counts_as_watching(monkeypatch):
    """In a notebook stderr is not a terminal; the kernel's shell is what says so."""
    import sys
    import types

    class Shell:
        kernel = object()

    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: Shell()
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert progress.in_notebook()
    assert progress.wanted(None)
    assert not progress.wanted(False)
    fake.get_ipython = lambda: None  # IPython imported, but no kernel (a plain script)
    assert not progress.in_notebook()


@QUIET_PSIS
def test_progress_false_silences_a_terminal(sim, capsys, monkeypatch):
    """At a terminal progress shows by default; progress=False silences every step."""
    import sys

    df, W = sim
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert progress.wanted(None)
    fit = bsp.fit("sar", "y ~ x1 + x2", df, W, progress=False, **KW)
    other = bsp.fit("sem", "y ~ x1 + x2", df, W, progress=False, **KW)
    fit.log_likelihood(progress=False)
    bsp.compare([fit, other], progress=False)
    assert capsys.readouterr().err == ""


def test_a_long_step_shows_time_passing(capsys, monkeypatch):
    """The stage bar redraws on a timer, so one long step does not look frozen."""
    import time

    monkeypatch.setattr(progress, "TICK_SECONDS", 0.05)
    with progress.stages("task", True) as s:
        s.step("long step")
        before = capsys.readouterr().err.count("long step")
        time.sleep(0.5)
    after = capsys.readouterr().err.count("long step")
    assert after >= 3  # redrawn about ten times; at least three on a loaded machine
    assert before <= 2

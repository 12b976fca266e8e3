import numpy as np
from typer.testing import CliRunner

from bayespatial.cli import app
from bayespatial.experiments import REGISTRY


def test_list_names_every_experiment():
    result = CliRunner().invoke(app, ["list"])
    assert result.exit_code == 0
    for name in REGISTRY:
        assert name in result.output


def test_run_rejects_unknown_experiment():
    result = CliRunner().invoke(app, ["run", "no_such_study"])
    assert result.exit_code != 0


def test_report_writes_tables_and_plot(tmp_path):
    import bayespatial as bsp

    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    fit = bsp.fit("sar", "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=200)
    path = fit.to_netcdf(tmp_path / "sar.nc")
    result = CliRunner().invoke(app, ["report", str(path)])
    assert result.exit_code == 0, result.output
    for name in ("sar_summary.csv", "sar_summary.md", "sar_effects.csv", "sar_effects.png"):
        assert (tmp_path / name).exists(), name
    assert "indirect" in result.output
    import pandas as pd

    summary = pd.read_csv(tmp_path / "sar_summary.csv")  # the tables of the saved fit
    pd.testing.assert_frame_equal(summary, fit.summary(), check_dtype=False, rtol=1e-12)
    effects = pd.read_csv(tmp_path / "sar_effects.csv", keep_default_na=False)
    want = fit.effects()
    np.testing.assert_allclose(effects["mean"], want["mean"], rtol=1e-12)


def test_every_experiment_explains_its_options(monkeypatch):
    """`bayespatial run NAME --help` prints the experiment's usage, and every option of
    every experiment has a help text."""
    import argparse
    import importlib

    for name, (module, _) in REGISTRY.items():
        result = CliRunner().invoke(app, ["run", name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert f"usage: bayespatial run {name}" in result.output
        assert "--out" in result.output
        seen = {}
        original = argparse.ArgumentParser.parse_args

        def grab(self, args=None, namespace=None, _seen=seen, _original=original):
            _seen["parser"] = self
            return _original(self, args, namespace)

        monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
        importlib.import_module(module).parse_args([])
        monkeypatch.undo()
        silent = [
            a.dest for a in seen["parser"]._actions if not a.help and a.help != argparse.SUPPRESS
        ]
        assert not silent, (name, silent)


def test_run_without_an_experiment_names_them():
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code != 0
    assert "us_counties" in result.output


def test_report_on_a_dynamic_fit_keeps_both_horizons(tmp_path):
    """A dsdm fit has short- and long-run effects: both go to the table, the plot shows
    the short run (a forest plot of both horizons would mix scales)."""
    import pandas as pd

    import bayespatial as bsp
    from bayespatial.data import weights
    from bayespatial.data.simulate import simulate

    W = weights.lattice(8, 7).row_standardize()
    # tau + rho + eta = 0.5: posterior sd of the sum about 0.09, the bound 1 over 5 sd away
    sim = simulate("dsdm", W, T=10, beta=[1.0], theta=[0.3], tau=0.3, rho=0.2, eta=0.0, seed=2)
    fit = bsp.fit("dsdm", "y ~ x1", sim.frame, W, unit="unit", time="time", fe="twoway", draws=200)
    path = fit.to_netcdf(tmp_path / "dsdm.nc")
    result = CliRunner().invoke(app, ["report", str(path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dsdm_effects.png").exists()
    effects = pd.read_csv(tmp_path / "dsdm_effects.csv")
    assert set(effects["horizon"]) == {"short", "long"}
    want = fit.effects(structural_zeros=False)
    np.testing.assert_allclose(effects["mean"], want["mean"], rtol=1e-12)

"""README's code runs as written: the NAT example, "Your own data" on a shapefile-like
GeoJSON and CSV made here, and the R snippet that reads the netCDF (where R is)."""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_example_runs_and_its_tables_match_the_fit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks("python") if "load_nat" in b)
    scope: dict = {}
    exec(compile(code, "README example", "exec"), scope)
    fit = scope["fit"]
    out = capsys.readouterr().out
    assert "W_RD" in out
    assert "indirect" in out
    import bayespatial as bsp

    assert bsp.load(tmp_path / "sdm.nc") == fit
    draws = fit.posterior_draws()
    assert len(draws) == 4000
    np.testing.assert_array_equal(draws["W_RD"], fit.draws("theta")[:, 0])
    np.testing.assert_array_equal(draws["rho"], fit.draws("rho"))


def test_heterogeneity_example_runs_and_prints_its_rows(capsys):
    code = next(b for b in _blocks("python") if "varying=" in b)
    scope: dict = {}
    exec(compile(code, "README heterogeneity", "exec"), scope)
    out = capsys.readouterr().out
    fit, effects = scope["fit"], scope["effects"]
    for word in ("Louisiana", "omega_prior", "p_greater"):
        assert word in out
    assert fit.idata.posterior["group"].size == 49  # 48 states and DC
    assert set(effects["effect"]) == {"direct", "indirect", "total"}
    assert effects["group"].nunique() == 49


def test_your_own_data_section_runs_on_polygons_and_a_csv(tmp_path, monkeypatch):
    gpd = pytest.importorskip("geopandas")
    import libpysal

    from bayespatial.data import weights
    from bayespatial.data.simulate import simulate

    polygons = gpd.read_file(libpysal.examples.get_path("columbus.shp"))
    polygons["region"] = polygons["POLYID"].astype(int)
    polygons = polygons.set_crs("EPSG:4326", allow_override=True)  # the file has none
    polygons[["region", "geometry"]].to_file(tmp_path / "regions.geojson", driver="GeoJSON")
    W = weights.contiguity(tmp_path / "regions.geojson", ids="region").row_standardize()
    sim = simulate("sdm", W, T=4, beta=[1.0, -0.5], theta=[0.3, 0.0], rho=0.4, fe="twoway")
    panel = sim.frame.rename(columns={"unit": "region", "time": "year"})
    panel = panel.assign(year=panel["year"] + 2001).sample(frac=1.0, random_state=0)
    panel.to_csv(tmp_path / "panel.csv", index=False)
    monkeypatch.chdir(tmp_path)
    code = next(b for b in _blocks("python") if "panel.csv" in b)
    scope: dict = {}
    exec(compile(code, "README own data", "exec"), scope)
    effects = pd.read_csv(tmp_path / "sdm_effects.csv")
    assert set(effects["effect"]) == {"direct", "indirect", "total"}
    assert (tmp_path / "sdm_effects.png").stat().st_size > 0
    fit = scope["fit"]
    s = fit.summary().set_index("term")
    # 49 x 3 transformed observations: the truth within 4 posterior sd
    for term, value in {"x1": 1.0, "x2": -0.5, "W_x1": 0.3, "rho": 0.4}.items():
        assert abs(s.loc[term, "mean"] - value) < 4 * s.loc[term, "sd"], term


def test_r_snippet_reads_the_netcdf(tmp_path, monkeypatch):
    if shutil.which("Rscript") is None:
        pytest.skip("R is not installed")
    has = subprocess.run(
        ["Rscript", "-e", "library(ncdf4)"], capture_output=True, check=False
    ).returncode
    if has != 0:
        pytest.skip("R package ncdf4 is not installed")
    import bayespatial as bsp

    data = bsp.load_columbus()
    df = data.frame.assign(id=list(data.W.ids))
    fit = bsp.fit("sdm", "CRIME ~ INC + HOVAL", df, data.W, unit="id", draws=200)
    fit.to_netcdf(tmp_path / "sdm.nc")
    code = _blocks("r")[0] + '\ncat(sprintf("%.10f\\n", c(mean(rho), rowMeans(beta))))\n'
    monkeypatch.chdir(tmp_path)
    run = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True, check=True)
    values = [float(v) for v in run.stdout.split()[-4:]]
    expect = [fit.draws("rho").mean(), *fit.draws("beta").mean(axis=0)]
    np.testing.assert_allclose(values, expect, rtol=1e-8)


def test_did_example_runs_and_prints_its_rows(capsys):
    code = next(b for b in _blocks("python") if '"did"' in b)
    scope: dict = {}
    exec(compile(code, "README DID", "exec"), scope)
    out = capsys.readouterr().out
    for word in ("cohort", "wald_cluster", "spillover", "indirect"):
        assert word in out
    fit, panel = scope["fit"], scope["panel"]
    att = fit.att().iloc[0]
    truth = panel.loc[panel.treated == 1, "tau"].mean()
    assert att["lower"] <= truth <= att["upper"]


def test_mediation_example_runs_and_prints_its_rows(capsys):
    code = next(b for b in _blocks("python") if "bsp.mediation(" in b)
    scope: dict = {}
    exec(compile(code, "README mediation", "exec"), scope)
    out = capsys.readouterr().out
    for word in ("nie", "p_opposite", "indirect"):
        assert word in out
    table = scope["effects"].set_index(["quantity", "mediator", "impact"])
    row = table.loc[("nie", "all", "direct")]
    assert row["lower"] <= 0.5 * 0.3 <= row["upper"]

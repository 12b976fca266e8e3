"""The provincial agglomeration study: embedded simulated data, user data, recovery."""

import numpy as np
import pandas as pd
import pytest

from bayespatial.data.errors import PanelError, WeightsError
from bayespatial.experiments import provinces_agglomeration as pa


def test_simulated_panel_follows_the_design():
    frame, W, _table = pa.simulate_study(7)
    assert W.n == 30
    assert len(frame) == 30 * 19
    assert frame["year"].min() == 2000
    assert frame["year"].max() == 2018
    for v in ("lnOA", "lnTA", "lnEE", "lnIS"):  # Table 2 mean and sd, loosely (30 units)
        mean, sd = pa.TABLE2[v]
        assert abs(frame[v].mean() - mean) < 0.6 * sd
        assert 0.5 * sd < frame[v].std() < 1.5 * sd
    assert {f"lnCO2_{m}" for m in pa.MEASURES} <= set(frame.columns)


def test_smoke_embedded_data_then_user_data(tmp_path):
    args = ["--draws", "200", "--measures", "lnOA"]
    out = pa.main(pa.parse_args(["--out", str(tmp_path / "a"), *args]))
    for name in (
        "moran_by_year.csv",
        "lm_tests.md",
        "table3_national_slm.csv",
        "effects_national_slm.csv",
        "table4_regional_lnOA.md",
        "loo_slm_sem_sdm.csv",
        "truth_check.csv",
        "summary.md",
        "fits/lnOA_SLM.nc",
        "fits/lnOA_SLM_west.nc",
        "moran_scatter.png",
    ):
        assert (tmp_path / "a" / name).exists(), name
    assert sorted(out["moran"]["time"]) == list(range(2002, 2019))
    t3 = out["table3"].set_index("term")
    assert list(t3.index[:3]) == ["lnOA", "lnOA_-1", "lnOA_-2"]
    assert {"lnEE", "lnGDP", "lnFDI", "lnIS", "rho", "sigma"} <= set(t3.index)
    assert list(out["regional"]["lnOA"].columns) == ["term", "east (12)", "central (9)", "west (9)"]
    loo = out["loo"]
    assert set(loo["model"]) == {"SLM", "SEM", "SDM"}
    assert (loo["verdict"] == "best").sum() == 1
    assert len(out["lm_tests"]) == 2 * 5
    # one replication: most 95% intervals of the national SLM cover Table 3's truth
    national = out["truth_check"][out["truth_check"]["fit"] == "national SLM"]
    assert national["covered"].sum() >= 7
    assert len(national) == 9
    # the written panel as user data: one outcome column, no region column, embedded W
    data = pd.read_csv(tmp_path / "a" / "data.csv")
    user_csv = tmp_path / "user.csv"
    data.rename(columns={"lnCO2_lnOA": "lnCO2"}).drop(columns="region").to_csv(user_csv)
    user = pa.main(pa.parse_args(["--out", str(tmp_path / "b"), *args, "--data", str(user_csv)]))
    np.testing.assert_allclose(
        user["fits"]["lnOA"]["SLM"].draws("rho"), out["fits"]["lnOA"]["SLM"].draws("rho")
    )
    assert "east (12)" in user["regional"]["lnOA"].columns
    assert len(user["truth_check"]) == 0


def test_user_data_without_weights_needs_province_units(tmp_path):
    frame = pd.DataFrame({"province": ["a", "b"], "year": [2000, 2000], "lnCO2": [1.0, 2.0]})
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(WeightsError, match="--weights"):
        pa.main(pa.parse_args(["--out", str(tmp_path / "o"), "--data", str(path)]))


@pytest.mark.slow
def test_recovery_coverage_and_loo_verdicts(tmp_path):
    """20 replications: every Table 3 parameter's 95% interval covers the truth in at
    least 14 of 20 (binomial(20, 0.95) gives >= 15 with probability 0.997). LOO: SLM
    beats SEM by > 2 dse in about 81% of replications for OA (rho = 0.256) and 21% for
    TA (rho = -0.007), measured over 100 (BENCHMARKS.md); at 20 replications, >= 10 of
    20 for OA and <= 10 of 20 for TA each fail with probability < 0.001."""
    out = pa.main(pa.parse_args(["--out", str(tmp_path), "--recovery", "20", "--draws", "300"]))
    assert (out["coverage"]["coverage"] >= 0.7).all(), out["coverage"]
    assert out["loo"].loc["lnOA", "slm_clearly_over_sem"] >= 0.5
    assert out["loo"].loc["lnTA", "slm_clearly_over_sem"] <= 0.5


def test_user_regions_any_labels_and_small_ones_reported(tmp_path):
    frame, _, table = pa.simulate_study(3)
    labels = ["north"] * 15 + ["south"] * 12 + ["tiny"] * 3
    frame["zone"] = frame["province"].map(dict(zip(table.province, labels, strict=True)))
    path = tmp_path / "user.csv"
    frame.rename(columns={"lnCO2_lnOA": "lnCO2"}).to_csv(path, index=False)
    argv = ["--out", str(tmp_path / "o"), "--data", str(path), "--region", "zone"]
    out = pa.main(pa.parse_args([*argv, "--measures", "lnOA", "--draws", "100"]))
    assert list(out["regional"]["lnOA"].columns) == ["term", "north (15)", "south (12)"]
    assert "tiny (3 unit(s)" in (tmp_path / "o" / "summary.md").read_text()


def test_user_region_must_be_constant_within_units(tmp_path):
    frame, _, _ = pa.simulate_study(3)
    frame.loc[frame.index[-1], "region"] = "east" if frame["region"].iloc[-1] != "east" else "west"
    path = tmp_path / "user.csv"
    frame.rename(columns={"lnCO2_lnOA": "lnCO2"}).to_csv(path, index=False)
    with pytest.raises(PanelError, match="more than one region"):
        pa.main(pa.parse_args(["--out", str(tmp_path / "o"), "--data", str(path)]))

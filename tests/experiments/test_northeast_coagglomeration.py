import pandas as pd
import pytest

from bayespatial.experiments import northeast_coagglomeration as ne


# 100 draws: the heterogeneity fit's NUTS diagnostics (bulk ESS < 400) warn by construction
@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")
def test_smoke_embedded_data_then_user_data(tmp_path):
    out = ne.main(ne.parse_args(["--out", str(tmp_path / "a"), "--draws", "100"]))
    for name in (
        "heterogeneity_data.csv",
        "heterogeneity_coefficients.csv",
        "heterogeneity_pooling.csv",
        "heterogeneity_contrasts.csv",
        "heterogeneity_effects.csv",
        "heterogeneity_turning_points.csv",
        "fits/model2_by_resource.nc",
        "table4_coefficients.csv",
        "table5_effects.md",
        "table6_robustness.csv",
        "turning_point.csv",
        "turning_point.png",
        "summary.md",
        "fits/model2_dsdm.nc",
    ):
        assert (tmp_path / "a" / name).exists(), name
    t4 = out["table4"].set_index("term")
    assert {"tau", "eta", "rho"} <= set(t4.index)
    # the Model 2 column is the saved fit's summary: "mean [lower, upper]"
    import bayespatial as bsp

    m2 = bsp.load(tmp_path / "a" / "fits" / "model2_dsdm.nc").summary().set_index("term")
    for term in ("tau", "rho", "eta"):
        r = m2.loc[term]
        assert t4.loc[term, "Model 2 (DSDM)"] == (
            f"{r['mean']:.3f} [{r['lower']:.3f}, {r['upper']:.3f}]"
        )
    assert set(out["turning_point"]["basis"]) == {"coef", "direct", "total"}
    het = out["heterogeneity"]
    coef = het["coefficients"]
    assert len(coef) == 4  # Coagg and its square, by two city types
    assert set(coef["truth"]) == {v for pair in ne.TABLE7.values() for v in pair}
    assert het["fit"].attrs["bias_correction"] == "split-panel jackknife"
    assert set(het["effects"]["horizon"]) == {"short", "long"}
    tp = het["turning_points"]
    assert set(tp["approach"]) == {"partially pooled", "separate fit"}
    labels = pd.read_csv(tmp_path / "a" / "heterogeneity_data.csv").groupby("city")["resource"]
    assert (labels.nunique() == 1).all()
    assert (labels.first() == "resource-based").sum() == ne.RESOURCE_CITIES
    # the simulated panel written out, read back as user data with coordinates
    data = tmp_path / "a" / "data.csv"
    cities = ne.simulate_study(2025)[2].rename(columns={"city": "city"})
    coords = tmp_path / "coords.csv"
    cities[["city", "lon", "lat"]].to_csv(coords, index=False)
    user = ne.main(
        ne.parse_args(
            [
                "--out",
                str(tmp_path / "b"),
                "--draws",
                "100",
                "--data",
                str(data),
                "--weights",
                str(coords),
            ]
        )
    )
    pd.testing.assert_frame_equal(
        user["table4"][["term", "Model 2 (DSDM)"]], out["table4"][["term", "Model 2 (DSDM)"]]
    )
    assert user["heterogeneity"] == {}  # data.csv has no city-type column
    assert (
        "Skipped: the data have no 'resource' column" in (tmp_path / "b" / "summary.md").read_text()
    )

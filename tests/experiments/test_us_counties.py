import pandas as pd

import bayespatial as bsp
from bayespatial.experiments import us_counties


def test_smoke_quick_sar_and_resume(tmp_path):
    argv = ["--out", str(tmp_path), "--quick", "--models", "sar,sem", "--draws", "100"]
    tables = us_counties.main(us_counties.parse_args(argv))
    for name in (
        "coefficients.csv",
        "coefficients.md",
        "effects.csv",
        "effects_forest.png",
        "rd_by_state.csv",
        "rd_effects_by_state.csv",
        "rd_by_state_forest.png",
    ):
        assert (tmp_path / name).exists(), name
    coef = pd.read_csv(tmp_path / "coefficients.csv")
    assert set(coef["model"]) == {"sar", "sem", "sar_rd_by_state"}  # RD's slope by state
    by_state = pd.read_csv(tmp_path / "rd_by_state.csv")
    assert by_state.loc[by_state["parameter"] == "beta", "group"].nunique() == 49
    assert "Heterogeneity" in (tmp_path / "summary.md").read_text()
    assert {"mean", "sd", "lower", "upper"} <= set(coef.columns)
    eff = tables["effects"]
    assert set(eff["effect"]) == {"direct", "indirect", "total"}  # sar's
    fit = bsp.load(tmp_path / "fits" / "sar.nc")
    assert fit.attrs["fe"] == "twoway"
    again = us_counties.main(us_counties.parse_args(argv))  # resumes: same fits reused
    assert again["runs"]["reused"].all()
    assert not tables["runs"]["reused"].any()
    # a reused fit reports the time it took when it was made, not 0
    assert (again["runs"]["seconds"] == tables["runs"]["seconds"]).all()
    assert (again["runs"]["seconds"] > 0).all()
    assert "nan" not in (tmp_path / "summary.md").read_text()
    assert "indirect" not in set(eff.loc[eff["model"] == "sem", "effect"])
    pd.testing.assert_frame_equal(again["effects"], eff)

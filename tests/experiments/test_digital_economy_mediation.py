import pandas as pd
import pytest

from bayespatial.experiments import digital_economy_mediation as dem


def test_simulated_design_has_the_headline_numbers():
    frame, cities = dem.simulate_study(1)
    assert len(cities) == dem.N_CITIES
    assert frame["year"].nunique() == 10
    a_bar, b, c = cities["a_true"].mean(), dem.TRUTH["b"], dem.TRUTH["c"]
    assert abs(a_bar * b / abs(c) - 0.06) < 1e-3  # ~6% of the direct effect suppressed
    assert abs(a_bar * b + c + 0.001) < 1e-5  # a one-point rise: -0.1% in total


# quick draws: the by-group outcome equation (NUTS over two groups' spreads) may warn
@pytest.mark.filterwarnings("ignore::bayespatial.data.errors.SamplingWarning")
def test_smoke_embedded_then_user_data(tmp_path):
    out = dem.main(dem.parse_args(["--out", str(tmp_path / "a"), "--quick"]))
    for name in ("data.csv", "cities.csv", "effects.csv", "suppression.csv", "by_group.csv",
                 "summary.md"):  # fmt: skip
        assert (tmp_path / "a" / name).exists(), name
    eff = out["effects"]
    assert set(eff["model"]) == {"ols", "sdm"}
    ols = eff[(eff.model == "ols") & (eff.mediator == "all") & eff.truth.notna()]
    # the 95% intervals of nie, nde and te cover the documented truth (a fixed simulation:
    # allow one miss of three)
    assert ((ols.lower <= ols.truth) & (ols.truth <= ols.upper)).sum() >= 2, ols
    assert set(out["by_group"]["grouping"]) == {"size", "region"}
    data = pd.read_csv(tmp_path / "a" / "data.csv")
    data.drop(columns="region").to_csv(tmp_path / "user.csv", index=False)
    user = dem.main(dem.parse_args(["--out", str(tmp_path / "b"), "--quick", "--data",
                                    str(tmp_path / "user.csv")]))  # fmt: skip
    assert set(user["effects"]["model"]) == {"ols"}  # no --weights: no spatial version
    assert set(user["by_group"]["grouping"]) == {"size"}

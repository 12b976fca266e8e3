import pandas as pd

from bayespatial.experiments import nickell_bias


def test_smoke_two_replications_and_resume(tmp_path):
    md = tmp_path / "B.md"
    argv = ["--out", str(tmp_path), "--reps", "2", "--draws", "200", "--markdown", str(md)]
    table = nickell_bias.main(nickell_bias.parse_args(argv))
    assert set(table["correction"]) == {"none", "jackknife", "analytic"}
    assert {"tau", "rho", "eta", "beta x1", "theta x1", "x1 long indirect"} <= set(
        table["parameter"]
    )
    assert (table["reps"] == 2).all()
    assert "non-stationary" in md.read_text()  # the study's values, refused with a reason
    raw = pd.read_csv(tmp_path / "raw_northeast_T20.csv")
    again = nickell_bias.main(nickell_bias.parse_args(argv))  # resumes: nothing refitted
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "raw_northeast_T20.csv"), raw)
    pd.testing.assert_frame_equal(again, table)


def test_saved_rows_of_a_commit_with_digits_only_are_resumed(tmp_path):
    from bayespatial.priors.spec import Priors

    path = tmp_path / "raw.csv"
    rows = pd.DataFrame(
        {"rep": [0, 1], "code": ["3315476", "abc1234"], "priors": [repr(Priors())] * 2}
    )
    rows.to_csv(path, index=False)
    kept = nickell_bias.saved_replications(path, "3315476", log=lambda _: None)
    assert list(kept["rep"]) == [0]
    assert nickell_bias.saved_replications(tmp_path / "none.csv", "x").empty

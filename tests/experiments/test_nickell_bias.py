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

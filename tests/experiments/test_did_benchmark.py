import numpy as np

from bayespatial.experiments import did_benchmark, did_recovery


def test_quick_benchmark_writes_rows_a_ratio_and_agrees_with_diff_diff(tmp_path):
    argv = ["--out", str(tmp_path), "--quick", "--markdown", str(tmp_path / "B.md")]
    table = did_benchmark.main(did_benchmark.parse_args(argv))
    assert len(table) == 3
    ours = table.iloc[0]
    assert np.isfinite(ours["ratio"])
    # the same estimate: the posterior mean within a few Monte Carlo se of diff-diff's
    assert ours["agree"] < 5
    text = (tmp_path / "B.md").read_text()
    assert did_benchmark.HEADING in text
    assert "target" in text
    assert (tmp_path / "did_benchmark.csv").exists()


def test_recovery_writes_replications_and_a_summary(tmp_path):
    argv = ["--out", str(tmp_path), "--reps", "3", "--markdown", str(tmp_path / "B.md")]
    table = did_recovery.main(did_recovery.parse_args(argv))
    assert set(table["design"]) == {"staggered", "spillover"}
    assert (table["reps"] == 3).all()
    assert {"bias", "bias_se", "coverage_90"} <= set(table.columns)
    assert did_recovery.HEADING in (tmp_path / "B.md").read_text()
    assert (tmp_path / "replications.csv").exists()

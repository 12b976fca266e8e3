import numpy as np

from bayespatial.experiments import pooled_benchmark


def test_quick_run_writes_both_rows_and_a_ratio(tmp_path):
    argv = [
        "--out",
        str(tmp_path),
        "--quick",
        "--designs",
        "sim",
        "--markdown",
        str(tmp_path / "B.md"),
    ]
    table = pooled_benchmark.main(pooled_benchmark.parse_args(argv))
    assert len(table) == 2
    ours, base = table.iloc[0], table.iloc[1]
    assert ours["sampler"].startswith("bayespatial")
    assert base["sampler"].startswith("NumPyro")
    assert np.isfinite(ours["ratio"])
    assert base["ratio"] == 1
    # both sample the same posterior: rho, sigma and omega agree within a few MC se
    assert ours["agree"] < 5
    text = (tmp_path / "B.md").read_text()
    assert pooled_benchmark.HEADING in text
    assert "ESS/s ratio" in text
    assert (tmp_path / "pooled_benchmark.csv").exists()

import pandas as pd

from bayespatial.experiments import logdet_benchmark


def test_smoke_tiny_torus(tmp_path):
    md = tmp_path / "BENCH.md"
    md.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    args = logdet_benchmark.parse_args(
        ["--out", str(tmp_path), "--sizes", "torus1e2", "--markdown", str(md)]
    )
    table = logdet_benchmark.main(args)
    methods = {"eigen", "lu_grid", "chebyshev", "taylor", "slq", "chebyshev (baseline)"}
    assert set(table["method"]) == methods
    assert (table.loc[table.method == "eigen", "err"] < 1e-12).all()
    assert pd.read_csv(tmp_path / "logdet.csv").shape[0] == len(table)
    text = md.read_text()
    assert "## Log-determinants" in text
    assert "## Other" in text
    assert "kept" in text
    assert "Rademacher" in text  # the same-run baseline ratios

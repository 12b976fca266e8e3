import pandas as pd

from bayespatial.experiments import gpu_benchmark


def test_quick_run_on_the_cpu_writes_every_case(tmp_path):
    md = tmp_path / "BENCH.md"
    args = gpu_benchmark.parse_args(["--out", str(tmp_path), "--quick", "--markdown", str(md)])
    table = gpu_benchmark.main(args)
    cpu = table[table["platform"] == "cpu"]
    assert list(cpu["case"]) == list(gpu_benchmark.CASES)
    assert (cpu["dtype"] == "float64").all()
    assert (cpu["cpu_over_this"] == 1.0).all()  # the CPU row is its own baseline
    assert (table["obs"] == 400 * 10).all()
    assert (table["seconds"] > 0).all()
    assert len(pd.read_csv(tmp_path / "gpu_benchmark.csv")) == len(table)
    assert gpu_benchmark.HEADING in md.read_text()

import pandas as pd

from bayespatial.experiments import many_fits


def test_quick_run_writes_the_table_and_section(tmp_path):
    md = tmp_path / "BENCH.md"
    md.write_text("# Benchmarks\n")
    args = many_fits.parse_args(
        [
            *("--out", str(tmp_path / "out"), "--quick", "--draws", "50", "--repeats", "2"),
            *("--markdown", str(md)),
        ]
    )
    table = many_fits.main(args)
    same = table[table["case"] == "same W"]
    assert list(same["model"]) == list(many_fits.LATTICE_SEQUENCE)
    assert set(table[table["case"] == "new W"]["model"]) == set(many_fits.LATTICE_SEQUENCE)
    assert (table["obs"] == (5 - 1) * (400 - 1)).all()  # effective N after two-way effects
    assert same["vs_first"].iloc[0] == 1.0
    # medians of 2 repetitions; each fit's parts never exceed its wall time
    parts = table[list(many_fits.PARTS)].sum(axis=1)
    assert (parts <= table["seconds"] + 4 * 5e-4).all()  # each part rounded to 1 ms
    written = pd.read_csv(tmp_path / "out" / "many_fits.csv")
    assert len(written) == len(table)
    text = md.read_text()
    assert many_fits.HEADING in text
    assert "vs_new_W" in text

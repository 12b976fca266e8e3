"""Smoke test of the NAT speed benchmark with tiny arguments."""

import shutil

from bayespatial.experiments import nat_speed


def test_runs_and_writes_the_section(tmp_path):
    md = tmp_path / "B.md"
    args = nat_speed.parse_args(
        [
            "--out",
            str(tmp_path),
            "--draws",
            "400",
            "--reps",
            "1",
            "--no-cold",
            "--markdown",
            str(md),
        ]
    )
    table = nat_speed.main(args)
    ours = table[table["package"] == "bayespatial"]
    assert set(ours["case"]) == {"new W", "same W"}
    assert (ours["logdet"] == "chebyshev").all()  # n = 3,085: no dense eigensolve
    assert ours["mean"].between(0.1, 0.6).all()  # rho and lam of HR90 (spreg ML: 0.26 / 0.30)
    text = md.read_text()
    assert nat_speed.HEADING in text
    if shutil.which("Rscript") is None:
        assert "R rows skipped" in text

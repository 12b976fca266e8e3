import numpy as np
import pandas as pd

from bayespatial.experiments import static_benchmark


def test_smoke_tiny_panel_cases_and_table():
    rows = [static_benchmark.run_case(c, side=6) for c in ("big_sar_exact", "big_sar_baseline")]
    table = pd.DataFrame(rows)
    assert (table["obs"] == 36 * static_benchmark.BIG_T).all()
    assert table.loc[0, "path"] == "exact"
    assert table.loc[1, "leapfrog_per_draw"] > 1
    # same posterior, two likelihood paths: rho means agree to 4 Monte Carlo se
    se = table["rho_sd"] / np.sqrt(table["ess_rho"])
    assert abs(table.loc[0, "rho_mean"] - table.loc[1, "rho_mean"]) < 4 * np.hypot(*se)
    text = static_benchmark.to_markdown(table, "cmd")
    assert "big_sar_exact: rho" in text
    assert "meets time and memory" in text

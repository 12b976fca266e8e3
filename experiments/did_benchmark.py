"""Staggered DID: speed of the Bayesian imputation estimator against diff-diff's ImputationDiD.

Both estimators on the same simulated staggered panels (`bayespatial.data.simulate_did`:
cohorts adopting in three waves, effects growing with exposure, a covariate x1):

- ``cities``: 274 units x 18 periods (the city-cluster study's size), k = 6 nearest
  neighbours on a synthetic layout for the spillover fit;
- ``large``: 10^5 units x 20 periods (2 x 10^6 cells).

bayespatial: the whole ``bsp.fit("did", ...)`` call (4 x 1,000 independent draws of every
ATT: overall, by cohort, event time and period, the leads and their tests). The baseline,
timed in the same run: diff-diff's ``ImputationDiD(pretrends=True).fit`` with the same
covariate (point estimates, the conservative BJS variance and the lead regression) and
the cohort and event-study aggregations. ``ratio``: baseline seconds over bayespatial's.
``agree``: |posterior mean - diff-diff estimate| of the overall ATT in Monte Carlo se of
the posterior mean (they estimate the same number: a few units at most).

    python -m bayespatial.experiments.did_benchmark --out out/did_benchmark \
        [--markdown BENCHMARKS.md] [--skip-large-baseline]

The baseline needs the dev extras (``pip install -e ".[dev]"``: diff-diff).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayespatial.experiments.outputs import (
    markdown,
    parser,
    rerun_command,
    source_revision,
    update_section,
    write_table,
)

HEADING = "## Staggered DID: the imputation estimator against diff-diff"
TARGETS = {"cities": 10.0, "large": 120.0}
"""Seconds the issue asks for: 274 x 18 under 10 s, 10^5 x 20 under 2 minutes."""


def _panel(n: int, T: int, seed: int) -> pd.DataFrame:
    from bayespatial.data.simulate_did import simulate_staggered

    cohorts = {T // 3: 0.2, T // 2: 0.2, 2 * T // 3: 0.2}
    return simulate_staggered(
        n_units=n, n_periods=T, cohorts=cohorts, confound=0.1, seed=seed
    ).frame


def _weights(n: int, seed: int):
    import bayespatial as bsp

    xy = np.random.default_rng(seed).uniform(size=(n, 2))
    return bsp.weights.knn(xy, k=6, ids=list(range(n)))


def _ours(df, W, spillover) -> tuple[float, object]:
    import bayespatial as bsp

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # late periods may lack unexposed controls
        fit = bsp.fit(
            "did", "y ~ x1", df, W, unit="unit", time="time", treat="adopt",
            spillover=spillover, progress=False,
        )  # fmt: skip
    return time.perf_counter() - start, fit


def _baseline(df) -> tuple[float, float]:
    from diff_diff import ImputationDiD

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ImputationDiD(pretrends=True).fit(
            df, outcome="y", unit="unit", time="time", first_treat="adopt", covariates=["x1"]
        )
        res.aggregate("group")
        res.aggregate("event_study")
    return time.perf_counter() - start, float(res.overall_att)


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run the designs, write the table (and the BENCHMARKS.md section)."""
    designs = [("cities", 274, 18)]
    if not args.quick:
        designs.append(("large", 100_000, 20))
    rows = []
    for name, n, T in designs:
        df = _panel(n, T, seed=1)
        base_s, base_att = (np.nan, np.nan)
        if not (name == "large" and args.skip_large_baseline):
            base_s, base_att = _baseline(df)
        fits = [("imputation", None, False)]
        if name == "cities":
            fits.append(("imputation, spillover (knn 6)", _weights(n, 1), True))
        for label, W, spill in fits:
            seconds, fit = _ours(df, W, spill)
            att = fit.att().iloc[0]
            mcse = att["sd"] / np.sqrt(fit.idata.posterior.sizes["draw"] * 4)
            compare = not spill and np.isfinite(base_att)
            rows.append(
                {
                    "design": f"{n:,} units x {T} periods",
                    "cells": len(df),
                    "estimator": f"bayespatial {label}",
                    "seconds": round(seconds, 2),
                    "target_s": TARGETS[name],
                    "ratio": round(base_s / seconds, 2) if compare else np.nan,
                    "att_mean": att["mean"],
                    "att_sd": att["sd"],
                    "agree": abs(att["mean"] - base_att) / mcse if compare else np.nan,
                }
            )
        rows.append(
            {
                "design": f"{n:,} units x {T} periods",
                "cells": len(df),
                "estimator": "diff-diff ImputationDiD (pretrends, aggregations)",
                "seconds": round(base_s, 2),
                "target_s": np.nan,
                "ratio": 1.0 if np.isfinite(base_s) else np.nan,
                "att_mean": base_att,
                "att_sd": np.nan,
                "agree": np.nan,
            }
        )
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out / "did_benchmark.csv")
    print(markdown(table))
    if args.markdown is not None:
        update_section(args.markdown, HEADING, _section(table, args))
    return table


def _section(table: pd.DataFrame, args) -> str:
    command = rerun_command(
        "did_benchmark",
        str(args.out),
        "--skip-large-baseline" if args.skip_large_baseline else "",
        quick=args.quick,
        markdown=args.markdown,
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        HEADING,
        "",
        f"Command: `{command}`. Commit: {source_revision()}. Machine: {machine}. Both "
        "estimators in one process on the same simulated panel. seconds: the whole "
        "`bsp.fit('did', ...)` call (4 x 1,000 independent draws of every ATT, the leads and "
        "the pre-trend tests) or diff-diff's `ImputationDiD(pretrends=True).fit` with its "
        "cohort and event-study aggregations; ratio: diff-diff's seconds over bayespatial's; "
        "agree: |difference of the overall ATTs| in Monte Carlo se of the posterior mean.",
        "",
        markdown(table),
        "",
    ]
    for _, row in table.dropna(subset=["target_s"]).iterrows():
        verdict = "meets" if row["seconds"] < row["target_s"] else "misses"
        lines.append(
            f"- {row['design']}, {row['estimator']}: {row['seconds']:.1f} s ({verdict} the "
            f"{row['target_s']:.0f} s target)."
        )
    return "\n".join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/did_benchmark"), help="output folder")
    p.add_argument("--quick", action="store_true", help="the 274 x 18 design only")
    p.add_argument("--markdown", type=Path, default=None, help="update this Markdown file")
    p.add_argument(
        "--skip-large-baseline", action="store_true", help="do not time diff-diff at 10^5 x 20"
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())

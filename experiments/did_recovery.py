"""Staggered DID against simulated truth: bias and coverage of imputation, TWFE and naive fits.

Two designs (`bayespatial.data.simulate_did.simulate_staggered`), R replications each:

- ``staggered``: 150 units x 12 periods, cohorts adopting in periods 4 and 7 (30% each,
  40% never treated), effects 1 + 0.3 e, 1.5x in the early cohort, a covariate trending
  with eventual treatment (parallel trends given x1 only). Estimators: the imputation
  ATT (overall, by cohort, by event time 0..5) and the static TWFE coefficient, both with
  x1. TWFE is biased here: it weights short exposures up and compares late adopters with
  already-treated early ones (Goodman-Bacon 2021).
- ``spillover``: a 14 x 14 queen lattice, 10 periods, 10% of units adopting in each of
  periods 4 and 7, a spillover of +0.8 on untreated cells with a treated neighbour.
  Estimators: the imputation with ``spillover=True`` (direct and spillover ATTs; the
  truth over the cells it identifies) and the naive imputation, whose controls include
  the exposed cells (its counterfactual is pushed up by the spillover).

The truth of an ATT is the mean true effect of its cells (the sample ATT). Columns:
design, estimator, quantity, reps, bias (mean of estimate - truth), its Monte Carlo se,
rmse, coverage of the 90% intervals and its binomial se.

    python -m bayespatial.experiments.did_recovery --out out/did_recovery --reps 400 \
        [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
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

HEADING = "## Staggered DID: bias and coverage against simulated truth"
KW = {"unit": "unit", "time": "time", "treat": "adopt", "progress": False, "ci": 0.9}


def _truth(cells: pd.DataFrame, by: str, key) -> float:
    if by == "overall":
        return float(cells.tau.mean())
    if by == "cohort":
        return float(cells[cells.adopt == key].tau.mean())
    return float(cells[cells.time - cells.adopt == key].tau.mean())


def _rows(design, rep, estimator, table) -> list[dict]:
    """Rows of (quantity, att row, truth) triples."""
    return [
        {
            "design": design,
            "rep": rep,
            "estimator": estimator,
            "quantity": quantity,
            "mean": r["mean"],
            "lower": r["lower"],
            "upper": r["upper"],
            "truth": truth,
        }
        for quantity, r, truth in table
    ]


def staggered(reps: int, seed: int = 1000, draws: int = 250) -> pd.DataFrame:
    """Per replication and quantity: estimate, 90% interval and truth (``staggered`` design)."""
    import bayespatial as bsp
    from bayespatial.data.simulate_did import simulate_staggered

    out = []
    for r in range(reps):
        df = simulate_staggered(n_units=150, n_periods=12, confound=0.15, seed=seed + r).frame
        cells = df[df.treated == 1]
        fit = bsp.fit("did", "y ~ x1", df, None, draws=draws, seed=r, **KW)
        overall = _truth(cells, "overall", None)
        table = [("overall", fit.att().iloc[0], overall)]
        for by in ("cohort", "event"):
            for k, row in fit.att(by).set_index("key").iterrows():
                if k >= 0:  # the leads' truth is zero by design; they are placebo rows
                    table.append((f"{by} {k}", row, _truth(cells, by, k)))
        out += _rows("staggered", r, "imputation", table)
        tw = bsp.fit("did", "y ~ x1", df, None, estimator="twfe", draws=draws, seed=r, **KW)
        out += _rows("staggered", r, "TWFE (static)", [("overall", tw.att().iloc[0], overall)])
    return pd.DataFrame(out)


def spillover(reps: int, seed: int = 5000, draws: int = 250) -> pd.DataFrame:
    """Per replication: direct and spillover ATTs with exposure modelled, and the naive ATT."""
    import bayespatial as bsp
    from bayespatial.data.simulate_did import simulate_staggered

    W = bsp.weights.lattice(14, 14, kind="queen")
    out = []
    for r in range(reps):
        df = simulate_staggered(
            n_units=196, n_periods=10, cohorts={4: 0.1, 7: 0.1}, W=W, spill=0.8, seed=seed + r
        ).frame
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # late periods can lack unexposed controls
            fit = bsp.fit("did", "y ~ x1", df, W, spillover=True, draws=draws, seed=r, **KW)
            naive = bsp.fit("did", "y ~ x1", df, W, draws=draws, seed=r, **KW)
        kept = fit.cell_effects()[["unit", "time"]].merge(df, on=["unit", "time"])
        truth = {
            "direct": kept[kept.treated == 1].tau.mean(),
            "spillover": kept[kept.treated == 0].tau.mean(),
        }
        table = [(row["effect"], row, truth[row["effect"]]) for _, row in fit.att().iterrows()]
        out += _rows("spillover", r, "imputation, spillover=True", table)
        plain = [("direct", naive.att().iloc[0], df[df.treated == 1].tau.mean())]
        out += _rows("spillover", r, "imputation, naive (exposed cells as controls)", plain)
    return pd.DataFrame(out)


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Bias, its Monte Carlo se, rmse and 90% coverage per design, estimator and quantity."""
    err = results["mean"] - results["truth"]
    hit = (results["lower"] <= results["truth"]) & (results["truth"] <= results["upper"])
    frame = results.assign(error=err, hit=hit)
    rows = []
    for (design, estimator, quantity), g in frame.groupby(
        ["design", "estimator", "quantity"], sort=False
    ):
        n = len(g)
        cover = g["hit"].mean()
        rows.append(
            {
                "design": design,
                "estimator": estimator,
                "quantity": quantity,
                "reps": n,
                "bias": g["error"].mean(),
                "bias_se": g["error"].std(ddof=1) / np.sqrt(n),
                "rmse": float(np.sqrt(np.mean(g["error"] ** 2))),
                "coverage_90": cover,
                "coverage_se": float(np.sqrt(cover * (1 - cover) / n)),
            }
        )
    return pd.DataFrame(rows)


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run both designs, write the per-replication results and the summary table."""
    reps = 20 if args.quick else args.reps
    results = pd.concat([staggered(reps), spillover(reps)], ignore_index=True)
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(results, args.out / "replications.csv")
    table = summarise(results)
    write_table(table, args.out / "summary.csv")
    print(markdown(table))
    if args.markdown is not None:
        update_section(args.markdown, HEADING, _section(table, args, reps))
    return table


def _section(table: pd.DataFrame, args, reps: int) -> str:
    command = rerun_command(
        "did_recovery", str(args.out), f"--reps {args.reps}", quick=args.quick,
        markdown=args.markdown,
    )  # fmt: skip
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `{command}`. Commit: {source_revision()}. Machine: {machine}. "
            f"{reps} replications per design (`bayespatial.experiments.did_recovery` says "
            "what each is); 4 x 250 exact draws per fit; truth: the mean true effect of "
            "the ATT's cells. coverage_90: share of 90% intervals holding the truth "
            "(binomial se beside it).",
            "",
            markdown(table),
            "",
        ]
    )


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/did_recovery"), help="output folder")
    p.add_argument("--reps", type=int, default=400, help="replications per design")
    p.add_argument("--quick", action="store_true", help="20 replications")
    p.add_argument("--markdown", type=Path, default=None, help="update this Markdown file")
    return p.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())

"""NAT 1990 cross-section: bayespatial's default sampler against R spatialreg's spBreg_lag/err.

The speed mark of the exact sampler on a real W (3,085 US counties, queen
contiguity, row-standardised): HR90 on RD, PS, UE, DV, MA, 5,000 posterior draws.
R spatialreg's ``spBreg_lag`` and ``spBreg_err`` (the LeSage griddy-Gibbs design;
Bivand, Millo & Piras 2021) run in the same session on the same data and W, and
the table gives ESS(rho or lam) per second and the ratio. bayespatial's times
include everything a fit does (W's log-determinant state, the sampler, the
pointwise log-likelihood, exact LOO, the InferenceData); they are taken after one
warm-up fit per model on another freshly loaded copy of W (JAX compiles once per
process and array shape), so that the one-off compilation is reported separately
(``cold``, a first fit in a fresh process). ``new W``: the first fit on a
freshly loaded W; ``same W``: the next fits on it, which reuse what depends on W
alone. R's time is that of the sampler call (the package is compiled code). ESS:
ArviZ's bulk ESS for bayespatial (the exact sampler's draws are independent),
coda's ``effectiveSize`` for R.

R and spatialreg come from Debian's packages (``apt-get install r-base-core
r-cran-spatialreg``); ``--install-r`` runs that, otherwise the R rows are
skipped with a note saying what is missing.

    python -m bayespatial.experiments.nat_speed --out out/nat_speed [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bayespatial.experiments.outputs import (
    markdown,
    parser,
    rerun_command,
    source_revision,
    update_section,
    write_atomic,
)

HEADING = "## NAT 1990 cross-section: against R spatialreg"
FORMULA = "HR ~ RD + PS + UE + DV + MA"
NOMIT = 500

R_SCRIPT = r"""
suppressMessages({library(spatialreg); library(spdep); library(coda)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); e <- read.csv(args[2]); draws <- as.integer(args[3])
sn <- data.frame(from = e$i, to = e$j, weights = e$w)
attr(sn, "n") <- nrow(d)
attr(sn, "region.id") <- as.character(seq_len(nrow(d)))
class(sn) <- c("spatial.neighbour", "data.frame")
lw <- sn2listw(sn)
ctl <- list(ndraw = draws + as.integer(args[4]), nomit = as.integer(args[4]))
for (model in c("sar", "sem")) {
  set.seed(1)
  t0 <- proc.time()[["elapsed"]]
  fit <- if (model == "sar") {
    spBreg_lag(HR ~ RD + PS + UE + DV + MA, data = d, listw = lw, control = ctl)
  } else {
    spBreg_err(HR ~ RD + PS + UE + DV + MA, data = d, listw = lw, control = ctl)
  }
  el <- proc.time()[["elapsed"]] - t0
  name <- if (model == "sar") "rho" else "lambda"
  r <- as.numeric(fit[, name])
  cat(sprintf('{"model": "%s", "seconds": %.4f, "ess": %.2f, "mean": %.6f, "draws": %d}\n',
              model, el, effectiveSize(r), mean(r), length(r)))
}
"""


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/nat_speed"), help="folder for the tables")
    p.add_argument("--draws", type=int, default=5000, help="posterior draws (after burn-in)")
    p.add_argument("--reps", type=int, default=3, help="timed repetitions (median reported)")
    p.add_argument("--markdown", type=Path, default=None, help="BENCHMARKS.md to update")
    p.add_argument("--install-r", action="store_true", help="apt-get install R + spatialreg")
    p.add_argument(
        "--cold",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time the first fit in a fresh process (compilation included)",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def nat_1990():
    """The 1990 cross-section in W's unit order, and W row-standardised."""
    import bayespatial as bsp

    nat = bsp.load_nat()
    W = nat.W.row_standardize()
    frame = nat.frame[nat.frame["year"] == 1990].set_index("fips").loc[list(W.ids)]
    cols = ["HR", "RD", "PS", "UE", "DV", "MA"]
    return frame.reset_index()[["fips", *cols]], W


def _fit(model: str, df, W, draws: int):
    import bayespatial as bsp

    t0 = time.perf_counter()
    fit = bsp.fit(model, FORMULA, df, W, unit="fips", chains=4, draws=draws // 4, progress=False)
    seconds = time.perf_counter() - t0
    post = fit.idata.posterior
    name = "rho" if model == "sar" else "lam"
    from bayespatial.models.arviz_io import ess_rhat

    return {
        "seconds": seconds,
        "ess": ess_rhat(post[name].values)[0],
        "mean": float(post[name].mean()),
        "draws": draws,
        "logdet": fit.attrs["logdet_method"],
    }


def python_rows(draws: int, reps: int) -> list[dict]:
    """bayespatial: a warm-up fit per model, then new-W and same-W fits (median of reps)."""
    for model in ("sar", "sem"):  # JAX compiles once per process and array shape:
        df, W = nat_1990()  # a W of its own, discarded (its set-up is not reused)
        _fit(model, df, W, draws)
    rows = []
    for model in ("sar", "sem"):
        new_w, same_w = [], []
        for _ in range(reps):
            df, W = nat_1990()  # a freshly loaded W: nothing computed on it yet
            new_w.append(_fit(model, df, W, draws))
            same_w.append(_fit(model, df, W, draws))
        for label, runs in (("new W", new_w), ("same W", same_w)):
            med = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            rows.append({"package": "bayespatial", "model": model, "case": label, **med})
    return rows


def cold_row(draws: int) -> dict:
    """A first fit in a fresh process (JAX compilation included)."""
    out = subprocess.run(
        [sys.executable, "-m", "bayespatial.experiments.nat_speed", "--child"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NAT_SPEED_DRAWS": str(draws)},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def r_rows(draws: int, install: bool) -> tuple[list[dict], str]:
    """spBreg_lag and spBreg_err on the same data and W, or no rows and why not."""
    if install and shutil.which("Rscript") is None:
        subprocess.run(
            ["apt-get", "install", "-y", "r-base-core", "r-cran-spatialreg"], check=False
        )
    if shutil.which("Rscript") is None:
        return [], "R is not installed (apt-get install r-base-core r-cran-spatialreg)"
    probe = subprocess.run(
        ["Rscript", "-e", "library(spatialreg); library(coda)"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return [], "R package spatialreg (or coda) is missing (apt-get install r-cran-spatialreg)"
    df, W = nat_1990()
    with tempfile.TemporaryDirectory() as tmp:
        data, edges, script = (Path(tmp) / f for f in ("d.csv", "e.csv", "run.R"))
        df.drop(columns="fips").to_csv(data, index=False)
        c = W.sparse.tocoo()
        pd.DataFrame({"i": c.row + 1, "j": c.col + 1, "w": c.data}).to_csv(edges, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", str(script), str(data), str(edges), str(draws), str(NOMIT)],
            capture_output=True,
            text=True,
            check=True,
        )
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    version = subprocess.run(
        ["Rscript", "-e", 'cat(as.character(packageVersion("spatialreg")))'],
        capture_output=True,
        text=True,
    ).stdout.strip()
    for r in rows:
        r.update({"package": f"spatialreg {version}", "case": f"burn-in {NOMIT}"})
    return rows, ""


def to_markdown(table: pd.DataFrame, command: str, note: str) -> str:
    """The BENCHMARKS.md section with same-run ratios against spatialreg."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    table = table.assign(ess_per_s=table["ess"] / table["seconds"])
    lines = [
        HEADING,
        "",
        f"Command: `{command}`. Commit: {source_revision() or 'unknown'}. Machine: {machine}. "
        f"{FORMULA} on the 1990 cross-section (3,085 counties, queen W row-standardised), "
        "5,000 draws. bayespatial: the default (exact) sampler, 4 chains, median of the "
        "repetitions; `new W` is the first fit on a freshly loaded W, `same W` a second fit "
        "on it; `cold` a first fit in a fresh process (JAX compilation included). "
        "spatialreg: spBreg_lag / spBreg_err with their defaults and 500 burn-in draws, "
        "timed around the sampler call.",
        "",
        markdown(
            table[["package", "model", "case", "seconds", "ess", "ess_per_s", "mean", "logdet"]], 3
        ),
        "",
    ]
    for model in ("sar", "sem"):
        base = table[(table["model"] == model) & table["package"].str.startswith("spatialreg")]
        if base.empty:
            continue
        b = base.iloc[0]["ess_per_s"]
        for _, r in table[
            (table["model"] == model) & (table["package"] == "bayespatial")
        ].iterrows():
            lines.append(
                f"- {model}, {r['case']}: {r['ess_per_s'] / b:.1f}x spatialreg's ESS per second "
                "(target 10x)"
            )
    if note:
        lines += ["", f"R rows skipped: {note}."]
    return "\n".join(lines) + "\n"


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run the cases and write the table (and the BENCHMARKS.md section)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    if args.child:
        draws = int(os.environ.get("NAT_SPEED_DRAWS", "5000"))
        df, W = nat_1990()
        row = {
            "package": "bayespatial",
            "model": "sar",
            "case": "cold",
            **_fit("sar", df, W, draws),
        }
        print(json.dumps(row))
        return pd.DataFrame([row])
    rows = python_rows(args.draws, args.reps)
    if args.cold:
        rows.append(cold_row(args.draws))
    r, note = r_rows(args.draws, args.install_r)
    table = pd.DataFrame(rows + r)
    table["ess"] = table["ess"].astype(float)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "nat_speed.csv", table.to_csv(index=False))
    command = rerun_command("nat_speed", "out/nat_speed", markdown=args.markdown)
    section = to_markdown(table, command, note)
    write_atomic(args.out / "nat_speed.md", section)
    if args.markdown is not None:
        update_section(args.markdown, HEADING, section)
    print(section)
    return table


if __name__ == "__main__":
    main(parse_args())

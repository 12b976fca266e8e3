"""US county homicides (NAT panel): SAR, SEM and SDM with two-way fixed effects.

HR, homicides per 100,000, on RD (resource deprivation), PS (population
structure), UE (unemployment), DV (divorce rate) and MA (median age) for 3,085
US counties x 4 decades (1960-1990), queen contiguity row-standardised (Baller
et al. 2001, *Criminology* 39, 561-590; data from the PySAL NAT example).
Unit and period effects are integrated out (Lee & Yu 2010); the default
conjugate priors give independent exact draws. The full run adds a Student-t
SAR (NUTS on the streaming likelihood) as a robustness check, since homicide
rates are heavy-tailed. Heterogeneity: a SAR whose RD slope varies by state, partially
pooled across the 48 states and DC (``varying={"RD": "state"}``; Baller et al. split
South and non-South), with the direct, indirect and total effects of RD in each state.

Writes to --out: ``coefficients.csv/.md`` (posterior mean, sd, 95% interval,
ESS, r_hat), ``effects.csv/.md`` (direct/indirect/total), ``fits/<model>.nc``
(ArviZ netCDF; `bayespatial.load` reads them back), ``effects_forest.png``,
``rd_by_state.csv/.md`` (the state coefficients of RD, their mean mu and spread
omega), ``rd_effects_by_state.csv/.md`` and ``rd_by_state_forest.png`` (RD's effects
per state), and ``summary.md``. Fits already in ``fits/`` with the same settings are reused,
so an interrupted run resumes where it stopped.

    bayespatial run us_counties --quick --out out/us_counties
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from bayespatial.experiments.outputs import markdown, parser, save_figure, write_atomic, write_table
from bayespatial.models.plots import effects_forest

FORMULA = "HR ~ RD + PS + UE + DV + MA"
VARYING = {"RD": "state"}
"""The partially pooled slope of the heterogeneity fit."""


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument(
        "--out", type=Path, default=Path("out/us_counties"), help="folder for tables, fits and plot"
    )
    p.add_argument("--quick", action="store_true", help="fewer draws, no Student-t fit")
    p.add_argument("--models", default="sar,sem,sdm", help="comma-separated models to fit")
    p.add_argument(
        "--fe", default="twoway", choices=["none", "unit", "time", "twoway"], help="fixed effects"
    )
    p.add_argument(
        "--chains", type=int, default=4, help="chains (independent draws for the exact sampler)"
    )
    p.add_argument(
        "--draws",
        type=int,
        default=None,
        help="draws per chain (default: 1000 with --quick, else 5000)",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--overwrite", action="store_true", help="refit even if fits/ has the fit")
    return p.parse_args(argv)


def _specs(args) -> list[dict]:
    draws = args.draws or (1000 if args.quick else 5000)
    specs = [
        {"name": m, "model": m, "errors": "gaussian", "draws": draws}
        for m in args.models.split(",")
    ]
    if not args.quick and "sar" in args.models.split(","):
        specs.append({"name": "sar_t", "model": "sar", "errors": "student_t", "draws": 1000})
    if "sar" in args.models.split(","):
        specs.append(
            {
                "name": "sar_rd_by_state",
                "model": "sar",
                "errors": "gaussian",
                "draws": draws,
                "varying": VARYING,
            }
        )
    return specs


def _matches(fit, spec, args) -> bool:
    from bayespatial.priors.spec import Priors

    a = fit.attrs
    return (
        a.get("priors") == repr(Priors())  # the defaults of this version
        and a["model"] == spec["model"]
        and a["errors"] == spec["errors"]
        and a["formula"] == FORMULA
        and a["fe"] == args.fe
        and int(a["draws"]) == spec["draws"]
        and int(a["chains"]) == args.chains
        and int(a["seed"]) == args.seed
        and json.loads(a.get("varying", "{}")).get("terms", []) == list(spec.get("varying", {}))
    )


def fit_or_resume(spec: dict, args, df, W, console):
    """Load ``fits/<name>.nc`` when it holds this very fit, else fit and save it."""
    import bayespatial as bsp

    path = args.out / "fits" / f"{spec['name']}.nc"
    if path.exists() and not args.overwrite:
        fit = bsp.load(path)
        if _matches(fit, spec, args):
            console.log(f"{spec['name']}: reusing {path}")
            return fit, None
    console.log(f"{spec['name']}: fitting ({spec['errors']} errors)")
    t0 = time.perf_counter()
    fit = bsp.fit(
        spec["model"],
        FORMULA,
        df,
        W,
        unit="fips",
        time="year",
        fe=args.fe,
        errors=spec["errors"],
        chains=args.chains,
        draws=spec["draws"],
        warmup=1000,
        seed=args.seed,
        varying=spec.get("varying"),
    )
    seconds: float | None = time.perf_counter() - t0
    # draws x 12,340 log-likelihood values (395 MB at 4,000 draws) stay out of the file;
    # a loaded fit recomputes them when LOO asks
    fit.to_netcdf(path, log_likelihood=False)
    return fit, seconds


def _heterogeneity(fit, out: Path, console) -> str:
    """Tables and forest plot of RD by state; the summary's section on them."""
    from bayespatial.models.plots import group_forest

    column = VARYING["RD"]
    console.log(f"effects of RD by {column} (eigenvectors of W, once)")
    coefficients = fit.varying()
    by_group = fit.effects(by=column)
    rd = by_group[by_group["term"] == "RD"].reset_index(drop=True)
    write_table(coefficients, out / "rd_by_state.csv")
    write_table(rd, out / "rd_effects_by_state.csv")
    overall = fit.effects()
    title = f"RD's effects on HR by {column}, partially pooled (SAR, two-way FE)"
    save_figure(group_forest(by_group, "RD", overall, title), out / "rd_by_state_forest.png")
    rows = coefficients[coefficients["parameter"].isin(["mu", "omega", "omega_prior"])]
    beta = coefficients[coefficients["parameter"] == "beta"]
    return (
        f"\n## Heterogeneity: RD's slope by {column}, partially pooled\n\n"
        f"{len(beta)} groups; the slope's common mean mu and between-group sd omega "
        "(with omega's prior beside its posterior):\n\n"
        + markdown(rows.drop(columns=["group"]), 4)
        + f"\n\nLargest and smallest direct effects of RD (of {len(beta)}; all in "
        "rd_effects_by_state.md):\n\n"
        + markdown(
            pd.concat(
                [
                    rd[rd["effect"] == "direct"].nlargest(5, "mean"),
                    rd[rd["effect"] == "direct"].nsmallest(5, "mean"),
                ]
            ),
            4,
        )
        + "\n"
    )


def _seconds(value) -> float | str:
    """Seconds rounded for the tables; "" where unknown (a reused fit of an older version)."""
    return "" if value is None else round(float(value), 2)


def main(args: argparse.Namespace) -> dict:
    """Fit the models, write tables, fits, plot and summary; return the tables."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from rich.console import Console

    import bayespatial as bsp

    console = Console()
    args.out.mkdir(parents=True, exist_ok=True)
    nat = bsp.load_nat()
    df, W = nat.frame, nat.W.row_standardize()
    coefs, effects, runs = [], [], []
    heterogeneity = None
    for spec in _specs(args):
        fit, seconds = fit_or_resume(spec, args, df, W, console)
        if spec.get("varying"):
            heterogeneity = _heterogeneity(fit, args.out, console)
        coefs.append(fit.summary().assign(model=spec["name"]))
        effects.append(fit.effects(structural_zeros=False).assign(model=spec["name"]))
        a = fit.attrs
        runs.append(
            {
                "model": spec["name"],
                "errors": a["errors"],
                "sampler": a["sampler"],
                "logdet": a["logdet_method"],
                "draws": int(a["chains"]) * int(a["draws"]),
                # the time the fit took when it was made, also for a fit reused from fits/
                "seconds": _seconds(a.get("seconds_total", seconds)),
                "reused": seconds is None,
                "leapfrog_per_draw": a.get("leapfrog_per_draw", ""),
            }
        )
    first = ["model", "parameter", "term"]
    coef_table = pd.concat(coefs, ignore_index=True)
    coef_table = coef_table[first + [c for c in coef_table.columns if c not in first]]
    eff_table = pd.concat(effects, ignore_index=True)
    eff_table = eff_table[["model"] + [c for c in eff_table.columns if c != "model"]]
    write_table(coef_table, args.out / "coefficients.csv")
    write_table(eff_table, args.out / "effects.csv")
    title = "NAT homicide rates, two-way FE: effects with 95% credible intervals"
    save_figure(effects_forest(eff_table, title), args.out / "effects_forest.png")
    run_table = pd.DataFrame(runs)
    summary = (
        "# NAT homicide panel: spatial models with two-way fixed effects\n\n"
        f"Formula `{FORMULA}`, fe = {args.fe}, {W.n} counties x 4 decades; "
        "95% equal-tailed credible intervals. In an SEM x enters no neighbour's outcome, so "
        "its indirect effects are zero by construction and not listed.\n\n"
        + markdown(run_table, 2)
        + "\n\n## Coefficients\n\n"
        + markdown(coef_table, 4)
        + "\n\n## Effects\n\n"
        + markdown(eff_table, 4)
        + "\n"
    )
    if heterogeneity is not None:
        summary += heterogeneity
    write_atomic(args.out / "summary.md", summary)
    write_atomic(args.out / "runs.json", json.dumps(runs, indent=2))
    console.print(run_table.to_string(index=False))
    console.print(eff_table.round(3).to_string(index=False))
    return {"coefficients": coef_table, "effects": eff_table, "runs": run_table}


if __name__ == "__main__":
    main(parse_args())

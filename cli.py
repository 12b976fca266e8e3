"""The ``bayespatial`` console script: list and run experiments."""

from __future__ import annotations

import importlib
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from bayespatial.experiments import REGISTRY

app = typer.Typer(add_completion=False, help="Bayesian spatial econometrics on JAX + NumPyro.")
console = Console()


@app.command("list")
def list_experiments() -> None:
    """List the experiments with a one-line description."""
    table = Table("experiment", "what it does")
    for name, (_, text) in REGISTRY.items():
        table.add_row(name, text)
    console.print(table)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(
    ctx: typer.Context,
    experiment: str = typer.Argument(None, help="name from `bayespatial list`"),
    quick: bool = typer.Option(False, "--quick", help="small sizes, finishes fast"),
    out: Path = typer.Option(Path("out"), "--out", help="folder for the outputs"),
) -> None:
    """Run EXPERIMENT; `bayespatial run EXPERIMENT --help` lists its own options."""
    wants_help = any(a in ("--help", "-h") for a in ctx.args)
    if experiment is None or experiment in ("--help", "-h"):
        console.print(ctx.get_help())
        console.print("\nexperiments: " + ", ".join(REGISTRY))
        raise typer.Exit(0 if experiment or wants_help else 2)
    if experiment not in REGISTRY:
        raise typer.BadParameter(
            f"unknown experiment {experiment!r}; `bayespatial list` shows them: "
            + ", ".join(REGISTRY)
            + "."
        )
    module = importlib.import_module(REGISTRY[experiment][0])
    if wants_help:
        module.parse_args(["--help"])  # prints the experiment's options and exits
    args = ["--out", str(out), *(["--quick"] if quick else []), *ctx.args]
    module.main(module.parse_args(args))


@app.command()
def report(
    path: Path = typer.Argument(..., help="a fit saved with fit.to_netcdf"),
    out: Path = typer.Option(None, "--out", help="folder for tables and plot (default: beside)"),
) -> None:
    """Tables (summary, effects) and an effects forest plot from a saved fit."""
    import bayespatial as bsp
    from bayespatial.experiments.outputs import markdown, save_figure, write_table
    from bayespatial.models.plots import effects_forest

    fit = bsp.load(path)
    folder = out or path.parent
    stem = path.stem
    summary, effects = fit.summary(), fit.effects(structural_zeros=False)
    plotted = effects
    if "horizon" in effects:  # dynamic fits: the forest plot shows the short run
        plotted = effects[effects["horizon"] == "short"].drop(columns="horizon")
    write_table(summary, folder / f"{stem}_summary.csv")
    write_table(effects, folder / f"{stem}_effects.csv")
    save_figure(effects_forest(plotted, f"{fit!r}"[:90]), folder / f"{stem}_effects.png")
    console.print(repr(fit))
    for title, table in (("summary", summary), ("effects", effects)):
        console.print(f"\n[bold]{title}[/bold]")
        console.print(markdown(table))


if __name__ == "__main__":  # pragma: no cover
    app()

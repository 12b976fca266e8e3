"""Partially pooled coefficients: the collapsed sampler against a plain NumPyro hierarchical SAR.

``bsp.fit(..., varying={"x": "group"})`` runs NUTS on (rho, sigma^2, omega) with
the coefficients integrated out from the cross-products (`bayespatial.models.pooled`),
then draws the coefficients exactly. The baseline is what a NumPyro user writes: the
non-centred hierarchical SAR beta_g = mu + omega z_g, z_g ~ N(0, 1), with a
per-observation Gaussian likelihood on the same transformed rows (Lee & Yu's
fixed-effect transformation, `bayespatial.engine.streaming.transform_columns`), the
same priors (flat mu and fixed coefficients, the fit's inverse-gamma sigma^2,
half-normal tau = omega / sigma, uniform rho), the same log-determinant function, and
NumPyro's default NUTS (diagonal mass matrix), 4 vectorised chains. bayespatial draws
independently from a grid over (rho, log tau) for one varying term
(`bayespatial.engine.pooled_grid`).

Designs:

- ``nat``: the NAT county panel (3,085 counties x 4 decades, queen W), SAR with
  two-way effects, HR ~ RD + PS + UE + DV + MA with the RD slope varying by state
  (48 states and DC);
- ``sim``: a simulated SAR panel of ``--side``^2 units x ``--periods`` periods
  (10^6 observations by default) with unit effects, y ~ x1 + x2 and the x1 slope
  varying over 30 groups of unequal size (vertical strips of the lattice).

Columns: seconds (the whole ``bsp.fit`` call for bayespatial, compilation included;
the ``mcmc.run`` call for the baseline, compilation included), sampling seconds,
the smallest bulk ESS over rho, sigma, omega and every coefficient (and which
parameter it is), ESS per sampling second, and the ratio of bayespatial's ESS/s to
the baseline's. ``agree``: the largest |difference of posterior means| of rho,
sigma and omega between the two, in Monte Carlo standard errors of the difference
(both sample the same posterior, so this stays within a few units). On the 10^6
design the baseline runs one chain of ``--baseline-draws`` warm-up and draws (noted
in the table; four chains of 1,000 + 1,000 would take hours): ESS per second is its
rate, which longer runs do not improve.

    python -m bayespatial.experiments.pooled_benchmark --out out/pooled_benchmark \
        [--markdown BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from bayespatial.engine.precision import float64
from bayespatial.experiments.outputs import (
    markdown,
    parser,
    rerun_command,
    source_revision,
    update_section,
    write_table,
)

HEADING = "## Partially pooled coefficients: against a plain NumPyro hierarchical SAR"
NAT_FORMULA = "HR ~ RD + PS + UE + DV + MA"
GROUPS = 30


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/pooled_benchmark"), help="output folder")
    p.add_argument("--designs", default="nat,sim", help="comma-separated: nat, sim")
    p.add_argument("--side", type=int, default=250, help="simulated lattice side")
    p.add_argument("--periods", type=int, default=16, help="simulated periods")
    p.add_argument("--draws", type=int, default=1000, help="draws per chain (both samplers)")
    p.add_argument("--warmup", type=int, default=1000, help="warm-up per chain (both)")
    p.add_argument(
        "--baseline-draws",
        type=int,
        default=150,
        help="draws and warm-up of the baseline's one chain on the simulated design",
    )
    p.add_argument("--markdown", type=Path, default=None, help="update this Markdown file")
    p.add_argument("--quick", action="store_true", help="a small lattice and few draws (tests)")
    return p.parse_args(argv)


def simulate(side: int, periods: int, seed: int = 0):
    """SAR panel on a rook lattice with unit effects and the x1 slope varying by strip."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from bayespatial.data import weights

    W = weights.lattice(side, side).row_standardize()
    n = W.n
    rng = np.random.default_rng(seed)
    column = np.arange(n) % side
    strip = np.minimum((GROUPS * (column / side) ** 1.5).astype(int), GROUPS - 1)
    slopes = 1.0 + 0.4 * rng.standard_normal(GROUPS)
    lu = spla.splu(sp.csc_matrix(sp.identity(n) - 0.4 * W.sparse))
    alpha = rng.standard_normal(n)
    frames = []
    for t in range(periods):
        x1, x2 = rng.standard_normal(n), rng.standard_normal(n)
        y = lu.solve(alpha + slopes[strip] * x1 - 0.5 * x2 + rng.standard_normal(n))
        frames.append(
            pd.DataFrame({"unit": list(W.ids), "t": t, "y": y, "x1": x1, "x2": x2, "group": strip})
        )
    return pd.concat(frames, ignore_index=True), W


@float64
def baseline(config, df, W, chains: int, draws: int, warmup: int, seed: int = 1):
    """The non-centred per-observation hierarchical SAR on the fit's own rows and priors."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    from numpyro.infer import MCMC, NUTS

    from bayespatial.engine import logdet as logdet_engine
    from bayespatial.engine.crossprod import log_jacobian
    from bayespatial.engine.streaming import transform_columns
    from bayespatial.models.context import context
    from bayespatial.models.fit import prepare
    from bayespatial.models.pooled import tau_scales
    from bayespatial.models.sampling import sigma2_prior, var_y

    W, _, _, design, _, Z, cp, varying = prepare(config, df, W)
    ctx = context(W)
    state = ctx.logdet(config.logdet)
    lo, hi = ctx.rho_bounds()
    rows = jnp.asarray(transform_columns(design.y, Z, W, config.fe)[:, : 2 + cp.p])
    shape, scale = sigma2_prior(config, cp, design)
    scales = jnp.asarray(
        tau_scales(config, cp, Z, varying.layout, np.sqrt(var_y(cp, design, config.fe)))
    )
    n_fixed = varying.layout.blocks[0][0]
    sizes = [size for _, size in varying.layout.blocks]
    logdet = partial(logdet_engine.apply, state)

    def model():
        rho = numpyro.sample("rho", dist.Uniform(lo, hi))
        sigma2 = numpyro.sample("sigma2", dist.InverseGamma(shape, scale))
        tau = numpyro.sample("tau", dist.HalfNormal(scales).to_event(1))
        omega = numpyro.deterministic("omega", jnp.sqrt(sigma2) * tau)
        mu = numpyro.sample("mu", dist.ImproperUniform(constraints.real_vector, (), (len(sizes),)))
        fixed = numpyro.sample(
            "fixed", dist.ImproperUniform(constraints.real_vector, (), (n_fixed,))
        )
        blocks = []
        for k, size in enumerate(sizes):
            z = numpyro.sample(f"z{k}", dist.Normal(jnp.zeros(size), 1.0).to_event(1))
            blocks.append(mu[k] + omega[k] * z)
        group = jnp.concatenate(blocks)
        numpyro.deterministic("beta_group", group)
        beta = jnp.concatenate([fixed, group])
        mean = rows[:, 2:] @ beta
        numpyro.factor("jacobian", log_jacobian(cp, rho, logdet(rho), jnp))
        numpyro.sample("y", dist.Normal(mean, jnp.sqrt(sigma2)), obs=rows[:, 0] - rho * rows[:, 1])

    mcmc = MCMC(
        NUTS(model),
        num_warmup=warmup,
        num_samples=draws,
        num_chains=chains,
        chain_method="vectorized",
        progress_bar=False,
    )
    started = time.perf_counter()
    with numpyro.validation_enabled(False):
        mcmc.run(jax.random.PRNGKey(seed))
    seconds = time.perf_counter() - started
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    samples["sigma"] = np.sqrt(samples["sigma2"])
    return samples, seconds, [name for name, _ in varying.owners]


def _min_ess(columns: dict) -> tuple[float, str]:
    from bayespatial.models.arviz_io import ess_rhat

    worst = (np.inf, "")
    for name, values in columns.items():
        flat = values.reshape(*values.shape[:2], -1)
        for j in range(flat.shape[2]):
            ess = ess_rhat(flat[..., j])[0]
            if ess < worst[0]:
                label = name if flat.shape[2] == 1 else f"{name}[{j}]"
                worst = (float(ess), label)
    return worst


def _agree(ours: dict, base: dict) -> float:
    """Largest |difference of means| of rho, sigma, omega in Monte Carlo se of the difference."""
    from bayespatial.models.arviz_io import ess_rhat

    worst = 0.0
    for name in ("rho", "sigma", "omega"):
        a, b = ours[name], base[name]
        a, b = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1)
        for j in range(a.shape[2]):
            se2 = sum(
                v[..., j].var() / ess_rhat(v[..., j])[0] for v in (a, b)
            )  # var / ESS of each mean
            worst = max(worst, abs(a[..., j].mean() - b[..., j].mean()) / np.sqrt(se2))
    return float(worst)


def run_design(
    rows: list, name: str, df, W, fit_kwargs: dict, args, base_draws: int, base_chains: int = 4
) -> None:
    """Both samplers on one design: two rows appended to ``rows``.

    The table is written after each row, so a baseline that runs for hours leaves
    bayespatial's row behind.
    """
    import bayespatial as bsp
    from bayespatial.models.config import FitConfig

    started = time.perf_counter()
    fit = bsp.fit(
        "sar",
        fit_kwargs["formula"],
        df,
        W,
        unit=fit_kwargs["unit"],
        time=fit_kwargs["time"],
        fe=fit_kwargs["fe"],
        varying=fit_kwargs["varying"],
        draws=args.draws,
        warmup=args.warmup,
        progress=False,
    )
    seconds = time.perf_counter() - started
    post = fit.idata.posterior
    ours = {k: post[k].values for k in ("rho", "sigma", "omega", "beta_group", "beta")}
    ess, worst = _min_ess(ours)
    sample_s = float(fit.attrs["seconds_sample"])
    obs = int(fit.attrs["nobs"])
    common = {"design": name, "obs": obs, "groups": len(post["group"])}
    rows.append(
        {
            **common,
            "sampler": "bayespatial (grid over (rho, log tau), exact draws)",
            "draws": f"4 x {args.draws}",
            "seconds": seconds,
            "sample_s": sample_s,
            "min_ess_bulk": ess,
            "slowest": worst,
            "ess_per_s": ess / sample_s,
            "ratio": np.nan,
            "agree": np.nan,
        }
    )
    _write(rows, args)
    config = FitConfig.build(
        "sar",
        fit_kwargs["formula"],
        unit=fit_kwargs["unit"],
        time=fit_kwargs["time"],
        fe=fit_kwargs["fe"],
        durbin=None,
        priors=None,
        varying=fit_kwargs["varying"],
        progress=False,
    )
    base_warmup = args.warmup if base_draws == args.draws else base_draws
    samples, base_s, _ = baseline(config, df, W, base_chains, base_draws, base_warmup)
    base = {k: samples[k] for k in ("rho", "sigma", "omega", "beta_group", "fixed")}
    base_ess, base_worst = _min_ess(base)
    agree = _agree(ours, samples)
    rows[-1]["agree"] = agree
    rows.append(
        {
            **common,
            "sampler": "NumPyro non-centred, per-observation likelihood",
            "draws": f"{base_chains} x {base_draws}",
            "seconds": base_s,
            "sample_s": base_s,
            "min_ess_bulk": base_ess,
            "slowest": base_worst,
            "ess_per_s": base_ess / base_s,
            "ratio": np.nan,
            "agree": agree,
        }
    )
    _write(rows, args)


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run the designs, write the table, update the Markdown section."""
    import bayespatial as bsp

    warnings.simplefilter("ignore", FutureWarning)
    if args.quick:
        args.side, args.periods, args.draws, args.warmup, args.baseline_draws = 20, 4, 200, 200, 200
    rows = []
    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    if "nat" in designs:
        nat = bsp.load_nat()
        kwargs = {
            "formula": NAT_FORMULA,
            "unit": "fips",
            "time": "year",
            "fe": "twoway",
            "varying": {"RD": "state"},
        }
        run_design(
            rows,
            "NAT counties x 4 decades, RD by state",
            nat.frame,
            nat.W,
            kwargs,
            args,
            args.draws,
        )
    if "sim" in designs:
        df, W = simulate(args.side, args.periods)
        kwargs = {
            "formula": "y ~ x1 + x2",
            "unit": "unit",
            "time": "t",
            "fe": "unit",
            "varying": {"x1": "group"},
        }
        name = f"{args.side}^2 lattice x {args.periods} periods, x1 by {GROUPS} strips"
        run_design(rows, name, df, W, kwargs, args, args.baseline_draws, base_chains=1)
    return _write(rows, args)


def _write(rows: list[dict], args) -> pd.DataFrame:
    """The table so far (written after each design: a long run keeps what it finished)."""
    table = pd.DataFrame(rows)
    for design in table["design"].unique():
        at = table["design"] == design
        if at.sum() == 2:  # bayespatial's row, then the baseline's
            table.loc[at, "ratio"] = (
                table.loc[at, "ess_per_s"] / table.loc[at, "ess_per_s"].iloc[-1]
            )
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(table, args.out / "pooled_benchmark.csv")
    if args.markdown is not None:
        update_section(args.markdown, HEADING, _section(table, args))
    return table


def _section(table: pd.DataFrame, args) -> str:
    options = []
    if args.designs != "nat,sim":
        options.append(f"--designs {args.designs}")
    command = rerun_command(
        "pooled_benchmark", str(args.out), *options, quick=args.quick, markdown=args.markdown
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        HEADING,
        "",
        f"Command: `{command}`. Commit: {source_revision()}. Machine: {machine}. "
        "Both samplers in one process (bayespatial: independent draws from its grid over "
        "(rho, log tau); the baseline: NUTS, 4 vectorised chains), compilation included in "
        "each time. ratio: bayespatial's bulk ESS per sampling second of its slowest "
        "parameter over the baseline's (targets: at least 10; the 10^6-observation fit "
        "under 3 minutes). agree: largest |difference of posterior means| of rho, sigma "
        "and omega between the two samplers in Monte Carlo se of the difference.",
        "",
        markdown(table, 3),
        "",
    ]
    for design in table["design"].unique():
        t = table[table["design"] == design]
        ours = t.iloc[0]
        verdict = (
            "baseline not finished"
            if np.isnan(ours["ratio"])
            else f"{ours['ratio']:.1f} ({'meets' if ours['ratio'] >= 10 else 'misses'} the 10x "
            "target)"
        )
        lines.append(
            f"- {design}: ESS/s ratio {verdict}; bayespatial's "
            f"whole fit {ours['seconds']:.0f} s"
            + (
                f" ({'meets' if ours['seconds'] < 180 else 'misses'} the 3-minute target)"
                if ours["obs"] >= 900_000
                else ""
            )
            + "."
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main(parse_args())

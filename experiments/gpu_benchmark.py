"""The same fits on the CPU and on whatever accelerator JAX sees, with same-run ratios.

Cases, on the simulated 10^6-observation two-way fixed-effects panel of
`bayespatial.experiments.static_benchmark` (a 316 x 316 rook lattice, 99,856 units x
10 periods; ``--quick``: 20 x 20 x 10 with 100 draws, for the tests):

- ``logdet_init``: the Chebyshev log-determinant set-up at 10^5 units (the W context's
  costliest part), timed alone on a fresh W;
- ``sar_exact``, ``sdm_exact``: the default exact sampler, 4 x 1,000 draws;
- ``sar_nuts``, ``sdm_nuts``: NUTS on the sufficient statistics, 4 x (1,000 + 1,000);
- ``loo``: ``fit.loo()`` (PSIS, the pointwise log-likelihood of 4,000 draws x 10^6
  observations streamed by blocks of observations) after the SAR exact fit.

Each platform runs all cases in one child process (``JAX_PLATFORMS=cpu``, then the
default platform when it is not the CPU), so the ratios compare the same code in the
same run. Each row gives the device, the dtype the numerics ran in (float64 always,
`bayespatial.engine.precision`), wall seconds including set-up and compilation, peak
memory (the device allocator's peak where JAX reports one, else the process's
resident set), and ``cpu_over_this``: the CPU row's seconds over this row's.

What stays on the host whatever the device (numpy/scipy, so it neither waits for nor
blocks the device, and it is where a device run spends its set-up): the design and
the cross-products with fixed effects removed (O(N p) once per fit), the
log-determinant set-up (sparse products with probe vectors), the exact sampler's
one-dimensional grid (O(grid p^3)) and the exact LOO (O(N) or O(N p^2) per point of its
nested grids, numpy threads),
and Pareto smoothing. On the device: the W operator and the LOO basis (the W context
keeps one device copy per W), NUTS, the pointwise log-likelihood, effects.

    python -m bayespatial.experiments.gpu_benchmark --out out/gpu [--quick] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
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
    write_table,
)

HEADING = "## CPU and accelerator: the same fits"
CASES = ("logdet_init", "sar_exact", "sdm_exact", "sar_nuts", "sdm_nuts", "loo")
FULL = {"side": 316, "periods": 10, "draws": 1000}
QUICK = {"side": 20, "periods": 10, "draws": 100}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/gpu"), help="folder for the table")
    p.add_argument("--quick", action="store_true", help="a 20 x 20 lattice, 100 draws")
    p.add_argument("--markdown", type=Path, default=None, help="BENCHMARKS.md to update")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)  # platform of a child run
    return p.parse_args(argv)


def _peak_gb(device) -> tuple[float, str]:
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 1024**3, "device"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, "process RSS"


def run_cases(size: dict) -> list[dict]:
    """Every case on the platform this process sees (one JAX start for all)."""
    import jax
    import jax.numpy as jnp

    import bayespatial as bsp
    from bayespatial.data import weights
    from bayespatial.data.simulate import simulate
    from bayespatial.engine import logdet

    jax.config.update("jax_enable_x64", True)
    device = jax.devices()[0]
    W = weights.lattice(size["side"], size["side"]).row_standardize()
    sim = simulate("sdm", W, T=size["periods"], beta=[1.0, -0.5], theta=[0.5, 0.3], rho=0.4, seed=1)
    common = {"unit": "unit", "time": "time", "fe": "twoway", "progress": False}
    common["draws"] = common["warmup"] = size["draws"]
    rows, sar = [], None
    for case in CASES:
        t0 = time.perf_counter()
        if case == "logdet_init":
            fresh = weights.lattice(size["side"], size["side"]).row_standardize()
            jax.block_until_ready(logdet.init(fresh, "chebyshev").params)
        elif case == "loo":
            sar.loo()
        else:
            model, sampler = case.split("_")
            fit = bsp.fit(model, "y ~ x1 + x2", sim.frame, W, sampler=sampler, **common)
            sar = fit if case == "sar_exact" else sar
        seconds = time.perf_counter() - t0
        peak, peak_of = _peak_gb(device)
        rows.append(
            {
                "case": case,
                "platform": device.platform,
                "device": getattr(device, "device_kind", str(device)),
                "dtype": str(jnp.zeros(()).dtype),
                "obs": len(sim.frame),
                "seconds": seconds,
                "peak_gb": peak,
                "peak_of": peak_of,
            }
        )
    return rows


def _platforms() -> list[str]:
    """The CPU, and the default platform when it is another (a GPU or TPU)."""
    probe = [sys.executable, "-c", "import jax; print(jax.default_backend())"]
    env = {k: v for k, v in os.environ.items() if k != "JAX_PLATFORMS"}
    found = subprocess.run(probe, capture_output=True, text=True, env=env).stdout.strip()
    return ["cpu"] + ([found] if found and found != "cpu" else [])


def measure(args, log=print) -> pd.DataFrame:
    """Run the cases once per platform, each platform in its own child process."""
    rows = []
    for plat in _platforms():
        out = args.out / f"rows_{plat}.json"
        cmd = [sys.executable, "-m", __name__, "--out", str(args.out), "--child", plat]
        cmd += ["--quick"] if args.quick else []
        env = dict(os.environ)
        if plat == "cpu":
            env["JAX_PLATFORMS"] = "cpu"
        else:
            env.pop("JAX_PLATFORMS", None)
        log(f"running the cases on {plat}")
        subprocess.run(cmd, check=True, env=env)
        rows += json.loads(out.read_text())
    table = pd.DataFrame(rows)
    cpu = table[table["platform"] == "cpu"].set_index("case")["seconds"]
    table["cpu_over_this"] = table["case"].map(cpu) / table["seconds"]
    return table


def to_markdown(table: pd.DataFrame, command: str, quick: bool) -> str:
    """The BENCHMARKS.md section."""
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    size = QUICK if quick else FULL
    pairs = zip(table["platform"], table["device"], strict=True)
    devices = ", ".join(dict.fromkeys(f"{p}: {d}" for p, d in pairs))
    return "\n".join(
        [
            HEADING,
            "",
            f"Command: `{command}`. Commit: {source_revision() or 'unknown'}. Machine: {machine}; "
            f"devices: {devices}. Two-way fixed effects on a {size['side']} x {size['side']} rook "
            f"lattice x {size['periods']} periods, 4 chains x {size['draws']} draws. seconds: "
            "wall time including set-up and compilation; peak_gb: the device allocator's peak "
            "(peak_of says when it is the process's resident set instead); cpu_over_this: "
            "the CPU row's seconds over this row's, same run.",
            "",
            markdown(table, 3),
            "",
        ]
    )


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run the cases on each platform and write the table (and the BENCHMARKS.md section)."""
    size = QUICK if args.quick else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child is not None:
        rows = run_cases(size)
        write_atomic(args.out / f"rows_{args.child}.json", json.dumps(rows, indent=2))
        return pd.DataFrame(rows)
    from rich.console import Console

    console = Console()
    table = measure(args, console.log)
    write_table(table, args.out / "gpu_benchmark.csv", digits=3)
    command = rerun_command("gpu_benchmark", "out/gpu", quick=args.quick, markdown=args.markdown)
    section = to_markdown(table, command, args.quick)
    if args.markdown is not None:
        update_section(args.markdown, HEADING, section)
    console.print(section)
    return table


if __name__ == "__main__":
    main(parse_args())

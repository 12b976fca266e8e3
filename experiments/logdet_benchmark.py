"""Accuracy and speed of the log-determinant methods (writes a table to BENCHMARKS.md).

For each weights matrix and method: the largest |approx - exact| / n of
log|I - rho W| and of its derivative over rho in {-0.9, -0.5, 0, 0.3, 0.5, 0.7,
0.9, 0.95} and, separately, at 0.99; init time; time per jitted apply and per
jitted gradient. Exact values: eigenvalues for NAT (dense) and the tori
(closed form, `torus_eigenvalues`); sparse LU with central differences for the
non-periodic lattice. Target per unit: 0.02 / sqrt(10 n).

    python -m bayespatial.experiments.logdet_benchmark --out out/logdet [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bayespatial.experiments.outputs import (
    markdown,
    parser,
    rerun_command,
    source_revision,
    update_section,
    write_atomic,
)

RHOS = np.array([-0.9, -0.5, 0.0, 0.3, 0.5, 0.7, 0.9, 0.95])
RHO_EDGE = 0.99
BASELINE = ("chebyshev", {"distance": 0, "probes": 1024})
"""Same-run baseline: Chebyshev with Hutchinson's Rademacher probes (Barry-Pace style)."""
BASELINE_MAX_N = 100_000


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/logdet"), help="folder for the tables")
    p.add_argument("--quick", action="store_true", help="NAT and a 10^4 torus only")
    p.add_argument(
        "--sizes",
        default="nat,lattice100,torus1e4,torus1e5,torus1e6",
        help="comma-separated W sizes: nat, lattice100, torus1e4, torus1e5, torus1e6",
    )
    p.add_argument(
        "--methods",
        default="eigen,lu_grid,chebyshev,taylor,slq",
        help="comma-separated log-determinant methods",
    )
    p.add_argument("--markdown", type=Path, default=None, help="BENCHMARKS.md to update")
    return p.parse_args(argv)


def _cases(names):
    from bayespatial.data.datasets import load_nat
    from bayespatial.data.weights import lattice, torus_eigenvalues

    for name in names:
        if name == "nat":
            yield name, "NAT queen (3,085 US counties)", load_nat().W.row_standardize(), None
        elif name == "lattice100":
            yield name, "100 x 100 rook lattice", lattice(100, 100).row_standardize(), None
        elif name.startswith("torus"):
            side = round(np.sqrt(float(name[5:])))
            W = lattice(side, side, torus=True).row_standardize()
            yield name, f"{side} x {side} rook torus", W, torus_eigenvalues(side, side)


def _exact(W, eig, rhos):
    """Exact value and derivative at rhos: closed-form/dense eigenvalues or sparse LU."""
    from bayespatial.engine.logdet import init_eigen, lu_logdet

    if eig is None and W.n <= 5000:
        st = init_eigen(W)
        eig = np.asarray(st.params["re"]) + 1j * np.asarray(st.params["im"])
    if eig is not None:
        lam = np.asarray(eig)
        val = np.array([np.sum(np.log(np.abs(1 - r * lam))) for r in rhos])
        der = np.array([np.sum(np.real(-lam / (1 - r * lam))) for r in rhos])
        return val, der
    h = 1e-5
    val = np.array([lu_logdet(W.sparse, r) for r in rhos])
    der = np.array(
        [(lu_logdet(W.sparse, r + h) - lu_logdet(W.sparse, r - h)) / (2 * h) for r in rhos]
    )
    return val, der


def _time(fn, *args, reps=50):
    fn(*args).block_until_ready()
    t0 = time.perf_counter()
    for _ in range(reps):
        out = fn(*args)
    out.block_until_ready()
    return (time.perf_counter() - t0) / reps


def measure(name, label, W, eig, method, options=None):
    """One row of the table (``options`` go to `logdet.init`)."""
    import jax

    from bayespatial.engine import logdet
    from bayespatial.engine.logdet_stochastic import target_bound

    rhos = np.append(RHOS, RHO_EDGE)
    t0 = time.perf_counter()
    state = logdet.init(W, method, **(options or {}))
    init_s = time.perf_counter() - t0
    f = jax.jit(lambda r: logdet.apply(state, r))
    g = jax.jit(jax.grad(lambda r: logdet.apply(state, r)))
    val = np.array([float(f(r)) for r in rhos])
    der = np.array([float(g(r)) for r in rhos])
    ex_v, ex_d = _exact(W, eig, rhos)
    err_v, err_d = np.abs(val - ex_v) / W.n, np.abs(der - ex_d) / W.n
    rel = np.abs(val - ex_v) / np.maximum(np.abs(ex_v), 1e-300)
    rel[rhos == 0] = 0.0
    target = target_bound(W.n)
    info = state.describe()
    settings = "; ".join(
        f"{k}={info[k]}" for k in ("order", "steps", "points", "probing") if k in info
    )
    return {
        "W": label,
        "n": W.n,
        "method": method + (" (baseline)" if options else ""),
        "settings": settings,
        "target": target,
        "err": err_v[:-1].max(),
        "err_grad": err_d[:-1].max(),
        "err_099": err_v[-1],
        "err_grad_099": err_d[-1],
        "max_rel_err": rel[:-1].max(),
        "bound": np.nan if state.bound is None else state.bound,
        "bound_grad": info.get("bound_grad", np.nan),
        "meets": bool(err_v[:-1].max() <= target and err_d[:-1].max() <= target),
        "init_s": init_s,
        "apply_ms": 1e3 * _time(f, 0.5),
        "grad_ms": 1e3 * _time(g, 0.5),
    }


def _applicable(method, n):
    from bayespatial.engine.logdet import EIGEN_MAX_N

    if method == "eigen":
        return n <= EIGEN_MAX_N
    if method == "lu_grid":
        return n <= 10_000  # 320 sparse LUs: minutes at n = 10^5
    return True


def to_markdown(table: pd.DataFrame, command: str) -> str:
    """The BENCHMARKS.md section."""
    cols = [
        "W",
        "n",
        "method",
        "settings",
        "err",
        "err_grad",
        "target",
        "meets",
        "err_099",
        "err_grad_099",
        "max_rel_err",
        "bound",
        "bound_grad",
        "init_s",
        "apply_ms",
        "grad_ms",
    ]
    t = table[cols].copy()
    for c in (
        "err",
        "err_grad",
        "target",
        "err_099",
        "err_grad_099",
        "max_rel_err",
        "bound",
        "bound_grad",
    ):
        t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.2g}")
    for c in ("init_s", "apply_ms", "grad_ms"):
        t[c] = t[c].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    rows = markdown(t) + "\n"
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    ratios = []
    for w, grp in table.groupby("W", sort=False):
        base = grp[grp.method == f"{BASELINE[0]} (baseline)"]
        main = grp[grp.method == BASELINE[0]]
        if len(base) and len(main):
            b, m = base.iloc[0], main.iloc[0]
            ratios.append(
                f"| {w} | {b.err / m.err:.3g} | {b.err_grad / m.err_grad:.3g} | "
                f"{b.err_grad_099 / m.err_grad_099:.3g} | {m.init_s / b.init_s:.3g} |\n"
            )
    big = table[(table.n >= 1_000_000) & ~table.method.str.contains("baseline")]
    init_line = "".join(
        f"- {r.method}: {r.init_s:.0f} s ({'meets' if r.init_s < 60 else 'misses'} 60 s)\n"
        for r in big.itertuples()
    )
    accuracy = (
        "all" if table.loc[~table.method.str.contains("baseline"), "meets"].all() else "not all"
    )
    summary = (
        f"Targets: {accuracy} default-setting rows meet the accuracy target (value and "
        "derivative, |rho| <= 0.95). Init at 10^6 cells (target under 60 s):\n\n"
        + (init_line or "- (no 10^6 rows in this run)\n")
        + "\nlu_grid runs up to 10^4 cells here (it needs 320 sparse LUs).\n\n"
    )
    ratio_table = (
        "\nColouring probes against the same-run baseline (Chebyshev with 1,024 "
        "Rademacher probes, the Barry-Pace design): how many times larger the baseline's "
        "errors are, and the ratio of init times (colouring / baseline).\n\n"
        "| W | err ratio | err_grad ratio | err_grad_099 ratio | init time ratio |\n"
        "|---|---|---|---|---|\n" + "".join(ratios)
        if ratios
        else ""
    )
    return (
        "## Log-determinants\n\n"
        f"Command: `{command}`  \nMachine: {machine}, CPU, float64. "
        f"Commit: {source_revision() or 'unknown'}.\n\n"
        "err / err_grad: max over rho in {-0.9, -0.5, 0, 0.3, 0.5, 0.7, 0.9, 0.95} of "
        "|approx - exact| / n for the value / the derivative in rho; err_099: the same at "
        "rho = 0.99; target = 0.02 / sqrt(10 n); meets: both err and err_grad <= target; "
        "max_rel_err: largest relative error of the value (rho != 0); bound / bound_grad: "
        "the error bound each method reports at init for |rho| <= 0.95 (value / derivative; "
        "empty: exact, or no bound); init_s: set-up "
        "seconds; apply_ms / grad_ms: one jitted evaluation of the value / the gradient.\n\n"
        + summary
        + rows
        + ratio_table
    )


def main(args: argparse.Namespace) -> pd.DataFrame:
    """Run the benchmark, write ``logdet.csv`` (and BENCHMARKS.md if asked)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    from rich.console import Console

    console = Console()
    sizes = ["nat", "torus1e4"] if args.quick else args.sizes.split(",")
    rows = []
    args.out.mkdir(parents=True, exist_ok=True)
    for name, label, W, eig in _cases(sizes):
        for method in args.methods.split(","):
            if not _applicable(method, W.n):
                continue
            console.log(f"{label}: {method}")
            rows.append(measure(name, label, W, eig, method))
            if method == BASELINE[0] and W.n <= BASELINE_MAX_N:
                console.log(f"{label}: {method} baseline {BASELINE[1]}")
                rows.append(measure(name, label, W, eig, *BASELINE))
            table = pd.DataFrame(rows)
            table.to_csv(args.out / "logdet.csv.tmp", index=False)
            os.replace(args.out / "logdet.csv.tmp", args.out / "logdet.csv")  # partial results kept
    table = pd.DataFrame(rows)
    command = rerun_command(
        "logdet_benchmark", "out/logdet", quick=args.quick, markdown=args.markdown
    )
    section = to_markdown(table, command)
    write_atomic(args.out / "logdet.md", section)
    if args.markdown is not None:
        update_section(args.markdown, "## Log-determinants", section)
    console.print(section)
    return table


if __name__ == "__main__":
    main(parse_args())

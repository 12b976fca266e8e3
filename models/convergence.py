"""Sampling diagnostics of a fit, as rows kept in its result (and warnings built from them).

Each check is a row ``check, target, value, threshold, ok``:

- NUTS: ``r_hat`` (rank-normalised split r_hat, at most 1.01) and ``ess_bulk`` (at
  least 400) of every sampled column (Vehtari, Gelman, Simpson, Carpenter & Bürkner
  2021, *Bayesian Analysis* 16, 667-718), and the number of ``divergences`` (none).
- Exact sampler: the draws are independent, so chains cannot disagree; what can be
  wrong is the grid over the spatial parameter. ``grid_cdf_error`` is the Richardson
  estimate of the trapezoid CDF's largest error on that grid: F on every second
  node differs from F on all nodes by about three times the error of the latter
  (the trapezoid rule's error is O(h^2) for a smooth density). It must stay below
  a hundredth of the Monte Carlo standard error of a CDF value, 0.5 / sqrt(S) for S
  draws, so the grid adds nothing visible to the draws' noise.

The rows are stored as JSON in the fit's attrs (``diagnostics``), so a fit run in a
worker process, saved and loaded keeps them; `SpatialFit.diagnostics` shows them.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd

from bayespatial.data.errors import SamplingWarning, user_stacklevel
from bayespatial.engine.conjugate import trapezoid_cdf
from bayespatial.models.arviz_io import ess_rhat

RHAT_MAX = 1.01
ESS_MIN = 400
GRID_SHARE_OF_MC = 0.01
"""Largest grid CDF error as a share of the Monte Carlo standard error of a CDF value."""
COLUMNS = ["check", "target", "value", "threshold", "ok"]


def _row(check: str, target: str, value: float, threshold: float, ok: bool) -> dict:
    return {
        "check": check,
        "target": target,
        "value": float(value),
        "threshold": float(threshold),
        "ok": bool(ok),
    }


def nuts_checks(draws: dict, stats: dict, labels: dict | None = None) -> list[dict]:
    """r_hat and bulk ESS of every column of ``draws`` (chain, draw, ...) and divergences.

    ``labels`` maps a variable to the names of its columns (e.g. the terms of
    ``coef``); otherwise columns are ``name[j]`` (``name`` when there is one).
    """
    rows = []
    for name, values in draws.items():
        cols = np.asarray(values).reshape(*np.shape(values)[:2], -1)
        names = (labels or {}).get(name)
        for j in range(cols.shape[2]):
            ess, rhat = ess_rhat(cols[..., j])
            if names is not None and j < len(names):
                label = str(names[j])
            else:
                label = name if cols.shape[2] == 1 else f"{name}[{j}]"
            if np.isfinite(rhat):
                rows.append(_row("r_hat", label, rhat, RHAT_MAX, rhat <= RHAT_MAX))
            if np.isfinite(ess):
                rows.append(_row("ess_bulk", label, ess, ESS_MIN, ess >= ESS_MIN))
    n_div = int(np.sum(stats.get("diverging", 0)))
    rows.append(_row("divergences", "all chains", n_div, 0, n_div == 0))
    return rows


def grid_checks(log_density: np.ndarray, target: str, draws: int) -> list[dict]:
    """``grid_cdf_error`` of the exact sampler's grid (module docstring); [] without a grid.

    ``log_density``: the unnormalised log posterior on the sampler's equally spaced
    grid (`bayespatial.engine.conjugate.posterior_grid`); -inf where it is zero.
    """
    log_density = np.asarray(log_density, dtype=float)
    if log_density.size < 5 or np.isnan(log_density).any() or np.isposinf(log_density).any():
        return []
    nodes = np.arange(log_density.size, dtype=float)  # equal spacing: dx cancels
    fine = trapezoid_cdf(nodes, log_density)[::2]
    coarse = trapezoid_cdf(nodes[::2], log_density[::2])
    error = float(np.max(np.abs(fine - coarse)) / 3.0)
    limit = GRID_SHARE_OF_MC * 0.5 / np.sqrt(draws)
    return [_row("grid_cdf_error", target, error, limit, error <= limit)]


def warn(rows: list[dict]) -> None:
    """One `SamplingWarning` saying what failed and what to do (nothing when all pass)."""
    failed = [r for r in rows if not r["ok"]]
    problems = []
    div = [r for r in failed if r["check"] == "divergences"]
    if div:
        problems.append(
            f"{int(div[0]['value'])} divergent transition(s): raise warmup, or "
            "reparameterise/tighten priors"
        )
    rhat = [f"{r['target']} ({r['value']:.3f})" for r in failed if r["check"] == "r_hat"]
    if rhat:
        problems.append(
            f"r_hat > {RHAT_MAX} for {', '.join(rhat)}: chains disagree; run more "
            "warmup and draws, and check the model is identified"
        )
    ess = [f"{r['target']} ({r['value']:.0f})" for r in failed if r["check"] == "ess_bulk"]
    if ess:
        problems.append(
            f"bulk ESS < {ESS_MIN} for {', '.join(ess)}: intervals are noisy; "
            "run more draws or chains"
        )
    grid = [r for r in failed if r["check"] == "grid_cdf_error"]
    if grid:
        problems.append(
            f"the exact sampler's grid over {grid[0]['target']} has a CDF error of about "
            f"{grid[0]['value']:.1e} (above {grid[0]['threshold']:.1e}): the posterior is "
            "too narrow for the grid; report this with the data"
        )
    if problems:
        warnings.warn("; ".join(problems) + ".", SamplingWarning, stacklevel=user_stacklevel())


def to_attr(rows: list[dict]) -> str:
    """The rows as a JSON string (netCDF attributes hold strings and numbers)."""
    return json.dumps(rows)


def to_table(attr: str) -> pd.DataFrame:
    """The rows stored by `to_attr` as a table with `COLUMNS`."""
    return pd.DataFrame(json.loads(attr), columns=COLUMNS)

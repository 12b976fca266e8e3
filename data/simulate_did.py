"""Simulate staggered-adoption panels with known cell effects (numpy only: an oracle).

Outcome of unit i in period t (t = 1..T), with adoption period g_i (0: never)::

    y_it = a_i + l_t + beta x_it + tau_it D_it + s_it (1 - D_it) + e_it,   e ~ N(0, sigma^2)

- x_it = 0.5 a_i + 0.3 m_t + c 1[g_i > 0] t + N(0, 1): with c > 0 the covariate trends
  with eventual treatment, so parallel trends hold only given x;
- tau_it = (tau0 + growth e) (1 + cohort_gap 1[g_i = first cohort]) (1 + group_gap
  1[group_i = 1]), e = t - g_i: effects that grow with exposure, larger for the early
  adopters, the design where static TWFE is biased (Goodman-Bacon 2021; Borusyak,
  Jaravel & Spiess 2024); with ``group_sd`` the group factor is 1 + N(0, group_sd^2)
  per group instead (``n_groups`` groups);
- s_it = spill x exposure_it: a spillover on untreated cells whose neighbours under W
  are treated (exposure "any" 0/1 or "share"), zero without W.

The frame holds the true cell effects (column ``tau``: tau_it on treated cells, s_it on
exposed untreated ones), so any ATT's truth is an average of that column.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from bayespatial.data.did import exposure


class DIDSimulation(NamedTuple):
    """A simulated staggered panel."""

    frame: pd.DataFrame
    """Columns unit, time, y, x1, adopt (0 = never), group (0/1), treated, exposure, tau."""
    truth: dict
    """The parameters used."""


def simulate_staggered(
    n_units: int = 120,
    n_periods: int = 12,
    cohorts: dict | None = None,
    *,
    tau0: float = 1.0,
    growth: float = 0.3,
    cohort_gap: float = 0.5,
    group_gap: float = 0.0,
    n_groups: int = 2,
    group_sd: float | None = None,
    beta: float = 1.0,
    confound: float = 0.0,
    sigma: float = 1.0,
    W=None,
    spill: float = 0.0,
    exposure_kind="any",
    seed: int = 0,
) -> DIDSimulation:
    """A balanced staggered panel (module docstring).

    ``cohorts`` maps adoption period (1-based) to the share of units adopting then; the
    rest are never treated (default {4: 0.3, 7: 0.3}: 40% never treated). Units are
    assigned to cohorts and to the ``n_groups`` groups at random. ``W`` (Weights or
    sparse n x n) with ``spill`` != 0 adds the spillover on exposed untreated cells.
    """
    rng = np.random.default_rng(seed)
    cohorts = {4: 0.3, 7: 0.3} if cohorts is None else dict(cohorts)
    n, T = n_units, n_periods
    counts = np.floor(np.array(list(cohorts.values())) * n).astype(int)
    adopt = np.zeros(n, dtype=int)
    order = rng.permutation(n)
    start = 0
    for g, c in zip(cohorts, counts, strict=True):
        adopt[order[start : start + c]] = g
        start += c
    group = rng.integers(0, n_groups, size=n)
    if group_sd is None:  # two kinds of unit, e.g. hub and non-hub
        scale_g = 1 + group_gap * np.arange(n_groups)
    else:  # group multipliers drawn around one: partially pooled truth
        scale_g = 1 + group_sd * rng.normal(size=n_groups)
    a = rng.normal(size=n)
    lam = np.cumsum(rng.normal(0.2, 0.3, size=T))
    m = rng.normal(size=T)
    t = np.arange(1, T + 1)[:, None]  # (T, 1)
    ever = adopt > 0
    x = 0.5 * a + 0.3 * m[:, None] + confound * ever * t + rng.normal(size=(T, n))
    D = ever & (t >= np.where(ever, adopt, T + 1))
    e = t - adopt
    first = min(cohorts) if cohorts else 0
    tau = (tau0 + growth * e) * (1 + cohort_gap * (adopt == first)) * scale_g[group]
    tau = np.where(D, tau, 0.0)
    S = np.zeros((T, n))
    if W is not None and spill != 0:
        matrix = W.sparse if hasattr(W, "sparse") else W
        S = exposure(matrix, D, True if exposure_kind == "any" else "share")
    s = spill * S * ~D
    y = a + lam[:, None] + beta * x + tau + s + sigma * rng.normal(size=(T, n))
    frame = pd.DataFrame(
        {
            "unit": np.tile(np.arange(n), T),
            "time": np.repeat(np.arange(1, T + 1), n),
            "y": y.ravel(),
            "x1": x.ravel(),
            "adopt": np.tile(adopt, T),
            "group": np.tile(group, T),
            "treated": D.ravel().astype(int),
            "exposure": S.ravel(),
            "tau": (tau + s).ravel(),
        }
    )
    truth = {
        "tau0": tau0, "growth": growth, "cohort_gap": cohort_gap, "group_gap": group_gap,
        "beta": beta, "confound": confound, "sigma": sigma, "spill": spill,
        "group_factor": scale_g,
    }  # fmt: skip
    return DIDSimulation(frame, truth)

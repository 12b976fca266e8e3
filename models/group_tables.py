"""Tables of a fit with partially pooled (group-varying) coefficients, from its InferenceData.

The posterior holds ``beta_group`` (varying, group): the group coefficients of each
varying term (``x``) and of its Durbin term (``W_x``); ``mu`` and ``omega``
(varying): their common mean and between-group sd; ``group_of_unit`` in
``constant_data`` says which group each unit is in (`bayespatial.models.results`).
Terms that do not vary have one coefficient, shared by every group.
"""

from __future__ import annotations

import json
from itertools import combinations
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import halfnorm

from bayespatial.engine.group_effects import group_averages, group_effects
from bayespatial.engine.turning import summarise
from bayespatial.models.design import lagged_name
from bayespatial.models.groups import Grouping
from bayespatial.models.result import equal_tailed


class Groups(NamedTuple):
    """The grouping of a varying fit and its varying coefficients."""

    grouping: Grouping
    """Which group each unit belongs to (`bayespatial.models.groups.Grouping`)."""
    terms: list
    """Varying coefficients: ``x`` and, for Durbin terms, ``W_x``."""
    absorbed: list
    """Varying terms whose mean the fixed effects absorb (group intercepts under time
    effects): their coefficients are deviations from it and mu is not a parameter."""

    @property
    def column(self) -> str:
        """The grouping column."""
        return self.grouping.column

    @property
    def labels(self) -> tuple:
        """Group labels as in the data."""
        return self.grouping.labels

    @property
    def of_unit(self) -> np.ndarray:
        """(n,) group index of each unit."""
        return self.grouping.of_unit

    @property
    def sizes(self) -> np.ndarray:
        """Units per group."""
        return self.grouping.sizes


def groups(fit) -> Groups | None:
    """The grouping of ``fit`` (None when no coefficient varies)."""
    if "varying" not in fit.attrs:
        return None
    meta = json.loads(fit.attrs["varying"])
    post = fit.idata.posterior
    labels = tuple(v.item() if hasattr(v, "item") else v for v in post["group"].values)
    of_unit = fit.idata.constant_data["group_of_unit"].values.astype(np.int64)
    grouping = Grouping(meta["column"], labels, of_unit)
    return Groups(grouping, meta["terms"], meta.get("absorbed_mean", []))


def require(fit, by: str | None = None) -> Groups:
    """The grouping, or a ValueError saying that the fit has none (or another one)."""
    g = groups(fit)
    if g is None:
        raise ValueError(
            "this fit has no group-varying coefficients; refit with varying={'x': 'column'}."
        )
    if by is not None and by != g.column:
        raise ValueError(
            f"by={by!r}: this fit's coefficients vary by {g.column!r}; by= takes that column."
        )
    return g


def coefficient(fit, g: Groups, name: str) -> np.ndarray:
    """Draws (draws, G) of coefficient ``name`` (``x`` or ``W_x``) in each group."""
    if name in g.terms:
        return fit.draws("beta_group")[:, g.terms.index(name), :]
    post = fit.idata.posterior
    terms = [str(t) for t in post["term"].values]
    if name.startswith("W_") and name[2:] in terms:  # theta (zero for terms not W-lagged)
        shared = fit.draws("theta")[:, terms.index(name[2:])]
    else:
        shared = fit.draws("beta")[:, terms.index(name)]
    return np.repeat(shared[:, None], len(g.labels), axis=1)


def table(fit, ci: float) -> pd.DataFrame:
    """Tidy table of the group coefficients, their means and between-group sds.

    Columns: term, parameter ("beta" a group's coefficient, "mu" the common mean (not
    for group intercepts under time effects, deviations from the period effects),
    "omega" the between-group sd, "omega_prior" its prior at sigma's posterior mean,
    half-normal with scale sigma times tau's prior scale, for comparison), group
    (empty for mu and omega), n_units, mean, sd, lower, upper.
    """
    g = require(fit)
    beta = fit.draws("beta_group")
    rows = []

    def row(term, parameter, group, n_units, v):
        lo, hi = equal_tailed(v, ci)
        rows.append(
            {
                "term": term,
                "parameter": parameter,
                "group": group,
                "n_units": n_units,
                "mean": float(np.mean(v)),
                "sd": float(np.std(v, ddof=1)),
                "lower": lo,
                "upper": hi,
            }
        )

    scales = json.loads(fit.attrs["tau_prior_scale"])
    sigma = float(fit.draws("sigma").mean())
    n_all = int(g.sizes.sum())
    for k, term in enumerate(g.terms):
        for j, label in enumerate(g.labels):
            row(term, "beta", label, int(g.sizes[j]), beta[:, k, j])
        if term not in g.absorbed:
            row(term, "mu", "", n_all, fit.draws("mu")[:, k])
        row(term, "omega", "", n_all, fit.draws("omega")[:, k])
        prior = halfnorm(scale=sigma * scales[k])  # omega = sigma tau at sigma's mean
        lo, hi = prior.ppf([(1 - ci) / 2, (1 + ci) / 2])
        rows.append(
            {
                "term": term,
                "parameter": "omega_prior",
                "group": "",
                "n_units": n_all,
                "mean": float(prior.mean()),
                "sd": float(prior.std()),
                "lower": float(lo),
                "upper": float(hi),
            }
        )
    return pd.DataFrame(rows)


def contrasts(fit, term: str | None, ci: float) -> pd.DataFrame:
    """Pairwise group differences of the varying coefficients.

    Columns: term, group_a, group_b, mean, sd, lower, upper of beta_a - beta_b, and
    p_greater = P(beta_a > beta_b | y) (the share of draws).
    """
    g = require(fit)
    terms = g.terms if term is None else [term]
    unknown = [t for t in terms if t not in g.terms]
    if unknown:
        raise ValueError(f"term {unknown[0]!r} does not vary by group; varying terms: {g.terms}.")
    rows = []
    for t in terms:
        b = coefficient(fit, g, t)
        for a, c in combinations(range(len(g.labels)), 2):
            diff = b[:, a] - b[:, c]
            lo, hi = equal_tailed(diff, ci)
            rows.append(
                {
                    "term": t,
                    "group_a": g.labels[a],
                    "group_b": g.labels[c],
                    "mean": float(diff.mean()),
                    "sd": float(diff.std(ddof=1)),
                    "lower": lo,
                    "upper": hi,
                    "p_greater": float(np.mean(diff > 0)),
                }
            )
    return pd.DataFrame(rows)


_QUADRATURES: dict = {}
"""Group averages by (W fingerprint, grouping, rho's range): one dense solve per W."""


def averages(fit, g: Groups, rho: np.ndarray):
    """`bayespatial.engine.group_effects.group_averages` of the fit (kept for the process)."""
    lo, hi = float(rho.min()), float(rho.max())
    key = (fit.attrs["W_fingerprint"], g.of_unit.tobytes(), lo, hi)
    if key not in _QUADRATURES:
        if len(_QUADRATURES) >= 4:
            _QUADRATURES.pop(next(iter(_QUADRATURES)))
        _QUADRATURES[key] = group_averages(fit._weights(), g.of_unit, len(g.labels), lo, hi)
    return _QUADRATURES[key]


def effect_draws(fit, g: Groups, horizon: str = "short") -> dict:
    """Draws of the effects by group: effect -> {term: (draws, G)}, intercept left out.

    Definitions in `bayespatial.engine.group_effects`.
    Models without a spatial lag of y (rho = 0): direct_g = beta_g + theta_g mean W_ii
    and total_g = beta_g + theta_g (mean over the group of W's column sums), no
    eigendecomposition needed.

    dsdm long run (``horizon="long"``): ((1 - tau) I - (rho + eta) W)^-1 (diag(beta_i) +
    W diag(theta_i)) = (I - rho_L W)^-1 (diag(beta_i) + W diag(theta_i)) / (1 - tau) with
    rho_L = (rho + eta) / (1 - tau) (Elhorst 2014, sec. 4.3, with unit-specific
    coefficients): the short-run machinery at rho_L with the coefficients over 1 - tau.
    Draws outside the stable region have no long-run effect: NaN (the tables count them).
    """
    post = fit.idata.posterior
    terms = [str(t) for t in post["term"].values if str(t) != "Intercept"]
    lagged = set(fit.durbin_terms)
    out = {"direct": {}, "indirect": {}, "total": {}}
    scale, stable = None, None
    if horizon == "long":
        tau = fit.draws("tau")
        eta = fit.draws("eta") if "eta" in post else np.zeros_like(tau)
        stable = fit.stationary_draws()
        scale = np.where(stable, 1.0 / (1.0 - tau), np.nan)[:, None]
        rho = np.where(stable, (fit.draws("rho") + eta) / (1.0 - tau), np.nan)
        q = averages(fit, g, rho[stable]) if stable.any() else None
    elif "rho" in post:
        rho = fit.draws("rho")
        q = averages(fit, g, rho)
    else:
        W = fit._weights().sparse
        count = g.sizes.astype(float)
        diag = np.bincount(g.of_unit, W.diagonal(), len(g.labels)) / count
        colsum = np.bincount(g.of_unit, np.asarray(W.sum(axis=0)).ravel(), len(g.labels)) / count
    for term in terms:
        beta = coefficient(fit, g, term)
        theta = coefficient(fit, g, lagged_name(term)) if term in lagged else np.zeros_like(beta)
        if stable is not None:  # long run: the stable draws, NaN for the others
            eff = {k: np.full_like(beta, np.nan) for k in out}
            if q is not None:
                b, t = beta[stable] * scale[stable], theta[stable] * scale[stable]
                for k, v in group_effects(q, rho[stable], b, t).items():
                    eff[k][stable] = v
        elif "rho" in post:
            eff = group_effects(q, rho, beta, theta)
        else:
            direct, total = beta + theta * diag, beta + theta * colsum
            eff = {"direct": direct, "indirect": total - direct, "total": total}
        for k, v in eff.items():
            out[k][term] = v
    return out


def average(draws_by_group: dict, g: Groups) -> dict:
    """Unit-weighted averages over groups: effect -> DataFrame (draws, terms)."""
    w = g.sizes / g.sizes.sum()
    return {k: pd.DataFrame({t: v @ w for t, v in f.items()}) for k, f in draws_by_group.items()}


def horizons(fit) -> tuple:
    """("short", "long") for dsdm, ("short",) otherwise."""
    return ("short", "long") if "tau" in fit.idata.posterior else ("short",)


def effects(fit, by: str, ci: float) -> pd.DataFrame:
    """Tidy table of effects by group: term, group, n_units, effect, mean, sd, lower, upper.

    dsdm adds ``horizon`` (short, long) and ``note``: the long run summarises the draws in
    the stable region (after a bias correction some may lie outside; the note says how
    many), where `SpatialFit.effects` would count them as diverging.
    """
    g = require(fit, by)
    rows = []
    dynamic = len(horizons(fit)) > 1
    for horizon in horizons(fit):
        draws = effect_draws(fit, g, horizon)
        for term in draws["direct"]:
            for j, label in enumerate(g.labels):
                for effect, frames in draws.items():
                    v = frames[term][:, j]
                    kept = v[np.isfinite(v)]
                    if kept.size < 2:
                        continue
                    lo, hi = equal_tailed(kept, ci)
                    row = {"term": term, "group": label, "n_units": int(g.sizes[j])}
                    if dynamic:
                        row["horizon"] = horizon
                    row.update(
                        {
                            "effect": effect,
                            "mean": float(kept.mean()),
                            "sd": float(kept.std(ddof=1)),
                            "lower": lo,
                            "upper": hi,
                        }
                    )
                    if dynamic:
                        share = 1 - kept.size / v.size
                        left_out = f"{share:.1%} of draws outside the stable region left out"
                        row["note"] = left_out if share else ""
                    rows.append(row)
    return pd.DataFrame(rows)


def turning_points(fit, lin: str, quad: str, by: str, ci: float) -> pd.DataFrame:
    """Turning points by group, bases coef, direct and total (`SpatialFit.turning_point`).

    The observed range of x is that of the group's units.
    """
    g = require(fit, by)
    terms = [str(t) for t in fit.idata.posterior["term"].values]
    xs = fit.idata.constant_data["X"].values[..., terms.index(lin)]  # (T, n) or (n,)
    xs = xs.reshape(-1, len(g.of_unit))
    dynamic = len(horizons(fit)) > 1  # long run: unstable draws are left out (note)
    bases = {("coef", "both"): (coefficient(fit, g, lin), coefficient(fit, g, quad))}
    for horizon in horizons(fit):
        effects_by_group = effect_draws(fit, g, horizon)
        for basis in ("direct", "total"):
            pair = (effects_by_group[basis][lin], effects_by_group[basis][quad])
            bases[(basis, horizon if dynamic else "")] = pair
    rows = []
    for j, label in enumerate(g.labels):
        own = xs[:, g.of_unit == j]
        for (basis, horizon), (b1, b2) in bases.items():
            keep = np.isfinite(b1[:, j]) & np.isfinite(b2[:, j])  # long run: stable draws
            summary = summarise(b1[keep, j], b2[keep, j], float(own.min()), float(own.max()), ci)
            row = {"basis": basis, "group": label, "n_units": int(g.sizes[j])}
            if dynamic:
                row["horizon"] = horizon
            row = {**row, **summary}
            if dynamic:
                share = 1 - keep.mean()
                left_out = f"{share:.1%} of draws outside the stable region left out"
                row["note"] = left_out if share else ""
            rows.append(row)
    return pd.DataFrame(rows)

"""Staggered difference-in-differences: the Bayesian imputation estimator and TWFE.

``bsp.fit("did", "y ~ x1", df, W, unit=, time=, treat=)`` arrives here
(`bayespatial.models.fit.fit` dispatches). Pipeline:

1. the panel (unbalanced allowed) and the formula's covariates (`build_design`);
2. each unit's adoption (`bayespatial.data.did.timing`) and, with ``spillover``, each
   cell's exposure to treated neighbours under W (`bayespatial.data.did.exposure`);
3. ``estimator="imputation"`` (Borusyak, Jaravel & Spiess 2024): the untreated-outcome
   model y = alpha_i + gamma_t + x'beta + e on the control cells (untreated, and not
   exposed when spillovers are modelled), the effect of each target cell
   tau_it = y_it - Y_it(0), averaged into ATTs by cohort, event time, period and
   overall, with exact posterior draws (`bayespatial.engine.imputation`); the leads
   (pre-trend placebo) from the same model with lead dummies (BJS "Test 1");
   ``estimator="twfe"``: the static and event-study two-way regressions applied
   papers run, with the Goodman-Bacon (2021) decomposition of the static one.

With spillovers, a treated cell that is also exposed counts in the direct effect (its
effect includes whatever its treated neighbours add: a separate spillover on the treated
is not identified without more structure, e.g. Butts 2023's parametric exposure).

Which uncertainty: ``fit.att()`` reports by default the posterior of the ATT of the
treated cells, mean_c (y_c - Y_c(0)), with each Y_c(0) drawn from the posterior
predictive (``uncertainty="predictive"``): the sample ATT, what a simulation's mean true
effect is and what BJS's variance (which includes the treated cells' noise) targets.
``uncertainty="mean"`` replaces Y_c(0) by its posterior mean alpha_i + gamma_t +
x'beta: the ATT relative to the expected counterfactual, narrower by the treated
cells' own noise (sigma^2 / n for n cells).
"""

from __future__ import annotations

import json
import time as clock
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bayespatial.data.did import NEVER, SPILLOVERS, exposure, ring_exposure, timing
from bayespatial.data.errors import DIDWarning, ModelError, PanelError, listing, user_stacklevel
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights
from bayespatial.engine import absorb, bacon, imputation, pooling
from bayespatial.models.arviz_io import to_idata
from bayespatial.models.design import build_design, check_rank
from bayespatial.models.did_results import DIDFit
from bayespatial.models.groups import grouping
from bayespatial.models.progress import stages
from bayespatial.models.results import coord_values, package_versions

ESTIMATORS = ("imputation", "twfe")
"""``estimator=`` of the DID family."""
EFFECTS = ("direct", "spillover")
"""Effects of a DID with spillovers: on treated cells, on exposed untreated cells."""


def fit_did(
    formula: str,
    data: pd.DataFrame,
    W: Weights | None,
    *,
    unit: str | None,
    time: str | None,
    treat: str | None,
    treat_kind: str = "first",
    estimator: str = "imputation",
    spillover=False,
    exposure_weights: Weights | list | None = None,
    leads: int | None = None,
    group: str | None = None,
    fe: str | None = None,
    chains: int = 4,
    draws: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    progress: bool | None = None,
) -> DIDFit:
    """The DID fit of `bayespatial.fit` (``model="did"``; its docstring lists the options)."""
    started = clock.perf_counter()
    _check_options(formula, unit, time, treat, estimator, spillover, fe, leads, chains, draws, ci)
    exposure_w = exposure_weights if exposure_weights is not None else W
    if spillover is not False and exposure_w is None:
        raise ModelError(
            f"spillover={spillover!r} needs spatial weights: pass W (or exposure=Weights) whose "
            "neighbours define exposure."
        )
    rings = isinstance(exposure_weights, list | tuple)
    given = list(exposure_weights) if rings else [exposure_weights]
    for name, w in (("W", W), *(("exposure", w) for w in given)):
        if w is not None and not isinstance(w, Weights):
            raise ModelError(
                f"{name} must be bayespatial Weights (or None for a DID without spillovers); "
                f"got {type(w).__name__}."
            )
    if group is not None and estimator != "imputation":
        raise ModelError(
            "partially pooled group ATTs (varying={'att': column}) come from the imputation "
            "estimator; TWFE has one coefficient (add D x group interactions to compare)."
        )
    if rings and (spillover is not True or not given):
        raise ModelError(
            "a list of exposure weights defines rings (nested distance bands, innermost first) "
            f"with spillover=True; got spillover={spillover!r} and {len(given)} weights."
        )
    with stages("bayespatial did fit", progress) as stage:
        stage.step("panel, covariates and adoption")
        cells = _cells(formula, data, W, exposure_w, unit, time, treat, treat_kind, spillover)
        cells.grouping = None if group is None else grouping(cells.panel, group)
        stage.step(f"{estimator} estimator")
        if estimator == "imputation":
            out = _imputation(cells, leads, chains * draws, np.random.default_rng(seed))
        else:
            out = _twfe(cells, chains * draws, np.random.default_rng(seed))
    attrs = {
        "result": DIDFit.RESULT,
        "model": "did",
        "estimator": estimator,
        "formula": formula,
        "fe": "twoway",
        "unit_column": unit,
        "time_column": time,
        "treat_column": treat,
        "treat_kind": treat_kind,
        "spillover": str(spillover),
        "rings": len(given) if rings else 0,
        "group_column": group or "",
        "sampler": "exact",
        "chains": chains,
        "draws": draws,
        "warmup": 0,
        "seed": seed,
        "ci": ci,
        "nobs": int(cells.y.size),
        "notes": json.dumps(list(cells.notes) + out.pop("notes")),
        "priors": "reference: flat on unit and period effects and coefficients, "
        "p(sigma^2) proportional to 1/sigma^2",
        "versions": package_versions(),
        "seconds_total": round(clock.perf_counter() - started, 3),
        **out.pop("attrs"),
    }
    return DIDFit(_idata(out, cells, chains, draws, attrs))


def _check_options(formula, unit, time, treat, estimator, spillover, fe, leads, chains, draws, ci):
    if not isinstance(formula, str) or "~" not in formula:
        raise ModelError(f"formula must be a string 'y ~ x1 + x2' (or 'y ~ 1'), got {formula!r}.")
    for name, value in (("unit", unit), ("time", time), ("treat", treat)):
        if value is None:
            what = {
                "unit": "the unit ids",
                "time": "the periods",
                "treat": "each unit's first treated period (0 or NaN: never treated), or a "
                "0/1 treatment with treat_kind='indicator'",
            }[name]
            raise ModelError(f"model 'did' needs {name}=: the column holding {what}.")
    if estimator not in ESTIMATORS:
        raise ModelError(f"estimator={estimator!r} is not one of {list(ESTIMATORS)}.")
    if not any(spillover is s for s in SPILLOVERS if isinstance(s, bool)) and spillover != "share":
        raise ModelError(f"spillover={spillover!r} is not one of {list(SPILLOVERS)}.")
    if fe not in (None, "twoway"):
        raise ModelError(
            f"model 'did' has unit and period effects (fe='twoway'); got fe={fe!r}. Period-"
            "specific shocks common to all units are what the comparison with controls removes."
        )
    if leads is not None and not (
        isinstance(leads, int | np.integer) and not isinstance(leads, bool) and leads >= 0
    ):
        raise ModelError(f"leads must be a non-negative integer or None (all); got {leads!r}.")
    if leads is not None and estimator != "imputation":
        raise ModelError(
            "leads= sets the pre-trend check of the imputation estimator; the TWFE event study "
            "has every relative period (e = -1 the reference)."
        )
    for name, value in (("chains", chains), ("draws", draws)):
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
            raise ModelError(f"{name} must be a positive integer; got {value!r}.")
    if not 0 < ci < 1:
        raise ModelError(f"ci must lie in (0, 1); got {ci!r}.")


class Cells:
    """Every observed cell of the panel with its outcome, covariates and treatment status."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _cells(formula, data, W, exposure_w, unit, time, treat, treat_kind, spillover) -> Cells:
    """Panel, covariates (FE-absorbed intercept dropped), adoption and exposure per cell.

    ``exposed``: 0 (not exposed), 1 (exposed; with "share" the share of treated
    neighbours) or, with a list of exposure weights, the ring 1..K.
    """
    rings = isinstance(exposure_w, list | tuple)
    first_w = exposure_w[0] if rings else exposure_w if exposure_w is not None else W
    # treat is read by `timing` (NaN there means never treated, not a missing value)
    panel = Panel.from_frame(data, unit, time, W=first_w, balanced=False)
    for w in exposure_w[1:] if rings else []:
        w.align(list(panel.units))
    if panel.T < 2:
        raise PanelError(f"a DID needs at least 2 periods; the data have {panel.T}.")
    design = build_design(formula, panel, None, durbin=False, fe="none")
    names = [n for n in design.names if n != "Intercept"]
    keep = [design.names.index(n) for n in names]
    if design.cells is None:  # balanced: period-major (T, n)
        t, u = (
            g.ravel() for g in np.meshgrid(np.arange(panel.T), np.arange(panel.n), indexing="ij")
        )
        y, X = design.y.ravel(), design.X.reshape(panel.T * panel.n, -1)[:, keep]
    else:
        t, u = design.cells
        y, X = design.y, design.X[:, keep]
    timing_ = timing(panel.frame, unit, time, treat, panel.units, panel.periods, treat_kind)
    D = timing_.treated(panel.T)
    S = np.zeros(D.shape)
    if rings:
        S = ring_exposure([w.align(list(panel.units)).sparse for w in exposure_w], D)
    elif spillover is not False:
        S = exposure(first_w.sparse, D, spillover)
    notes = [n for n in design.notes if not n.startswith("unbalanced panel")]
    notes += list(timing_.notes)
    if not np.any(timing_.adoption != NEVER):
        raise PanelError(
            f"no unit is treated within the observed periods according to column {treat!r}: "
            "there is no effect to estimate."
        )
    return Cells(
        panel=panel, y=y, X=X, names=names, t=t, u=u, timing=timing_,
        treated=D[t, u], exposed=S[t, u], spillover=spillover, notes=notes,
        rings=len(exposure_w) if rings else 0,
    )  # fmt: skip


# ---------------------------------------------------------------- the imputation estimator
def _imputation(cells: Cells, leads, total: int, rng) -> dict:
    c = cells
    control = ~c.treated & (c.exposed == 0)
    target = ~control
    _check_covariates(c, control)
    reg = _regression(c, control, c.X[control], "the untreated-outcome model")
    ok = imputation.identified(reg, c.u[target], c.t[target])
    idx = np.flatnonzero(target)[ok]
    notes = []
    if not ok.all():
        text = _unidentified(c, np.flatnonzero(target)[~ok])
        if idx.size == 0:
            raise ModelError(f"no treated cell has an identified counterfactual. {text}")
        warnings.warn(text, DIDWarning, stacklevel=user_stacklevel())
        notes.append(text)
    effect = np.where(c.treated[idx], "direct", "spillover")
    onset = _onset(c)
    estimands = _estimands(c, idx, effect, onset)
    funcs = imputation.functionals(
        reg, sp.vstack([e["weights"] for e in estimands]), c.y[idx], c.X[idx], c.u[idx], c.t[idx]
    )
    d = imputation.draw(reg, funcs, total, rng)
    pooled = _pooled(c, reg, funcs, estimands, total, rng) if c.grouping is not None else {}
    notes += pooled.pop("notes", [])
    tau_hat = c.y[idx] - imputation.cell_means(reg, c.X[idx], c.u[idx], c.t[idx])
    out = {
        "att": d.predictive,
        "att_imputed": d.mean,
        "beta": d.phi[:, reg.k :],
        "sigma": d.sigma,
        "estimands": estimands,
        "cells": {"idx": idx, "effect": effect, "tau_hat": tau_hat},
        "notes": notes,
        "attrs": {
            "n_control": int(control.sum()),
            "n_target": int(target.sum()),
            "uncertainty": "predictive",
            "dof_sigma": reg.dof,
            **pooled.pop("attrs", {}),
        },
        **pooled,
    }
    if leads != 0:
        lead = _leads(c, control, leads, total, rng)
        out["notes"] += lead.pop("notes", []) + lead.pop("lead_notes", [])
        out.update(lead)
    return out


def _identified_columns(c: Cells, rows: np.ndarray, extra: np.ndarray, X=None) -> np.ndarray:
    """Which columns of ``extra`` (in order) add rank to the effects and covariates on ``rows``.

    ``X``: the covariates of every cell (default ``c.X``); ``extra`` has the rows' cells.

    Greedy: a column is kept when its part orthogonal to the unit and period effects, the
    covariates and the columns kept before it is not (numerically) zero.
    """
    X = c.X if X is None else X
    eff = absorb.init(c.u[rows], c.t[rows], "twoway")
    basis = eff.annihilate(np.hstack([X[rows], extra]))
    p = X.shape[1]
    q, _ = np.linalg.qr(basis[:, :p]) if p else (np.zeros((basis.shape[0], 0)), None)
    keep = np.zeros(extra.shape[1], dtype=bool)
    for j in range(extra.shape[1]):
        v = basis[:, p + j]
        r = v - q @ (q.T @ v)
        r = r - q @ (q.T @ r)  # twice is enough (Giraud et al. 2005)
        norm = np.linalg.norm(r)
        if norm > 1e-8 * max(np.linalg.norm(extra[:, j]), 1.0):
            keep[j] = True
            q = np.column_stack([q, r / norm])
    return keep


def _pooled(c: Cells, reg, funcs, estimands: list[dict], total: int, rng) -> dict:
    """Group ATTs partially pooled towards their mean, per effect (``varying={"att": g}``).

    The separate group ATTs (rows by "group") have, given sigma^2, the normal posterior
    N(m, V) under the reference prior, V = sigma^2 (H cov H' + C diag(1/n) C' + W W') (the
    sample ATTs, `bayespatial.engine.imputation`); with sigma^2 at its posterior mean
    (N0 - rank is large) that is the likelihood of the group ATTs theta_g, which get
    theta_g ~ N(mu, omega^2), a flat mu and omega ~ half-normal with scale the sd of y on
    the control cells after the two-way effects (the untreated outcome's own variation: a
    spread of group ATTs that large is large for any policy), drawn exactly
    (`bayespatial.engine.pooling.normal_means`). The pooled draws are drawn after, and
    independently of, the other ATTs' draws: combine them with each other, not draw by
    draw with the overall ATT.
    """
    control = ~c.treated & (c.exposed == 0)
    sigma2 = reg.ssr / (reg.dof - 2) if reg.dof > 2 else reg.ssr / reg.dof
    cov = sigma2 * (funcs.H @ reg.cov_unit @ funcs.H.T + funcs.cov_alpha + funcs.cov_predictive)
    mean = funcs.mean(reg)
    swept = absorb.init(c.u[control], c.t[control], "twoway").annihilate(c.y[control])
    scale = float(np.std(swept))
    labels = c.grouping.labels
    pools, theta, mu, omega, notes = [], [], [], [], []
    direct = {e["key"] for e in estimands if e["by"] == "group" and e["effect"] == "direct"}
    empty = [g for g in labels if g not in direct]
    if empty:
        notes.append(
            f"group(s) {listing(empty)} of {c.grouping.column!r} have no treated cell with an "
            "identified counterfactual: no ATT for them"
        )
    families = sorted({(e["effect"], e["ring"]) for e in estimands}, key=lambda f: (f[0], f[1]))
    for eff, ring in families:
        rows = [
            j for j, e in enumerate(estimands)
            if e["by"] == "group" and e["effect"] == eff and e["ring"] == ring
        ]  # fmt: skip
        if len(rows) < 2:
            notes.append(
                f"{eff}{ring or ''} effect: {len(rows)} group(s) of {c.grouping.column!r} have "
                "its cells; no pooling (the separate group ATTs are in att(by='group', "
                "pooled=False))"
            )
            continue
        d = pooling.normal_means(mean[rows], cov[np.ix_(rows, rows)], scale, total, rng)
        full = np.full((total, len(labels)), np.nan)
        full[:, [labels.index(estimands[j]["key"]) for j in rows]] = d.theta
        pools.append(f"{eff}{ring or ''}")
        theta.append(full)
        mu.append(d.mu)
        omega.append(d.omega)
    if not pools:
        return {"notes": notes}
    return {
        "notes": notes,
        "att_group": np.stack(theta, axis=1),
        "group_mu": np.stack(mu, axis=1),
        "group_omega": np.stack(omega, axis=1),
        "pools": pools,
        "attrs": {"omega_prior_scale": scale},
    }


def _regression(c: Cells, rows: np.ndarray, X: np.ndarray, what: str):
    """`bayespatial.engine.imputation.fit` on ``rows``; its failures as `ModelError`."""
    try:
        return imputation.fit(c.y[rows], X, c.u[rows], c.t[rows], c.panel.n, c.panel.T)
    except np.linalg.LinAlgError:
        raise ModelError(
            f"{what} is rank-deficient on its {int(rows.sum())} cells: a covariate or dummy is "
            "(nearly) collinear with the unit and period effects; drop it (or fewer leads)."
        ) from None
    except ValueError as err:
        raise ModelError(f"{what}: {err}") from None


def _check_covariates(c: Cells, rows: np.ndarray, X=None, names=None) -> None:
    """Raise naming covariates collinear with the unit and period effects on ``rows``.

    ``X``, ``names``: the columns to check (default the formula's, ``c.X`` and ``c.names``).
    """
    X, names = (c.X, c.names) if X is None else (X, names)
    if not names:
        return
    eff = absorb.init(c.u[rows], c.t[rows], "twoway")
    check_rank(eff.annihilate(X[rows]), X[rows], tuple(names), "twoway")


def _onset(c: Cells) -> np.ndarray:
    """(n,) first period position of exposure without own treatment, or of treatment."""
    T, n = c.panel.T, c.panel.n
    onset = c.timing.adoption.copy()
    if c.spillover is not False:
        S = np.zeros((T, n))
        S[c.t, c.u] = c.exposed
        hit = (S > 0) & ~c.timing.treated(T)
        first = np.where(hit.any(axis=0), hit.argmax(axis=0), NEVER)
        onset = np.where(c.timing.adoption == NEVER, first, onset)
        # units exposed before their own adoption: the spillover cells count from exposure
        onset_sp = np.where(hit.any(axis=0), first, NEVER)
        return np.stack([onset, onset_sp])
    return np.stack([onset, onset])


def _estimands(c: Cells, idx, effect, onset) -> list[dict]:
    """Aggregates of target cells: overall, by cohort, event time and period, per effect.

    Equal weights over the cells of each aggregate; with ``spillover="share"`` the
    spillover aggregates are least-squares slopes of tau on the exposure share through
    the origin (weights s / sum s^2): the effect of full exposure (share 1). With rings
    each ring's exposed cells are a spillover effect of their own.
    """
    periods = c.panel.periods
    families = [("direct", 0, effect == "direct")]
    spill = effect == "spillover"
    if c.rings:
        families += [("spillover", k, spill & (c.exposed[idx] == k)) for k in range(1, c.rings + 1)]
    else:
        families.append(("spillover", 0, spill))
    out = []
    for eff, ring, sel in families:
        if not sel.any():
            continue
        start = onset[0 if eff == "direct" else 1][c.u[idx]]
        ev = c.t[idx] - start
        share = c.exposed[idx] if (eff == "spillover" and c.spillover == "share") else None
        groups = [("overall", "overall", sel)]
        groups += [("cohort", periods[g], sel & (start == g)) for g in np.unique(start[sel])]
        groups += [("event", int(e), sel & (ev == e)) for e in np.unique(ev[sel])]
        groups += [("period", periods[t], sel & (c.t[idx] == t)) for t in np.unique(c.t[idx][sel])]
        if c.grouping is not None:
            of_cell = c.grouping.of_unit[c.u[idx]]
            labels = c.grouping.labels
            groups += [("group", labels[g], sel & (of_cell == g)) for g in np.unique(of_cell[sel])]
        for by, key, m in groups:
            w = np.zeros(idx.size)
            if share is None:
                w[m] = 1.0 / m.sum()
            else:
                w[m] = share[m] / np.sum(share[m] ** 2)
            out.append(
                {"by": by, "key": key, "effect": eff, "ring": ring, "n": int(m.sum()),
                 "weights": sp.csr_matrix(w)}
            )  # fmt: skip
    return out


def _unidentified(c: Cells, bad: np.ndarray) -> str:
    """Why target cells have no identified Y(0): the units and periods without controls."""
    control_units = set(np.unique(c.u[~c.treated & (c.exposed == 0)]))
    no_unit = [c.panel.units[i] for i in np.unique(c.u[bad]) if i not in control_units]
    cohorts = sorted({c.panel.periods[c.timing.adoption[i]] for i in np.unique(c.u[bad])
                      if i not in control_units and c.timing.adoption[i] != NEVER})  # fmt: skip
    control_periods = set(np.unique(c.t[~c.treated & (c.exposed == 0)]))
    no_period = [c.panel.periods[t] for t in np.unique(c.t[bad]) if t not in control_periods]
    parts = []
    if no_unit:
        parts.append(
            f"{len(no_unit)} unit(s) have no untreated period ({listing(no_unit)}"
            + (f"; cohort(s) {listing(cohorts)} treated from the first period" if cohorts else "")
            + ")"
        )
    if no_period:
        parts.append(
            f"period(s) {listing(no_period)} have no control unit (untreated"
            + (" and unexposed" if c.spillover is not False else "")
            + "), as happens after the last cohort adopts when no unit is never treated"
            + (
                ", or when exposure reaches every untreated unit"
                if c.spillover is not False
                else ""
            )
        )
    if not parts:
        parts.append("their unit and period lie in different connected parts of the control cells")
    return (
        f"{bad.size} treated or exposed cell(s) have no identified counterfactual and are left "
        f"out of every ATT: {'; '.join(parts)}. Their effects cannot be told apart from the "
        "unit or period effects (Borusyak, Jaravel & Spiess 2024, sec. 4.1)."
    )


def _leads(c: Cells, control: np.ndarray, leads, total: int, rng) -> dict:
    """Pre-trend placebo: the untreated model with lead dummies e = -2, ..., -(L+1).

    e = -1 is the reference (BJS 2024 sec. 4.4 "Test 1"; diff-diff's
    ``ImputationDiD(pretrends=True)``).
    """
    ev = c.timing.event_time(c.t, c.u)
    ever = c.timing.adoption[c.u] != NEVER
    pre = control & ever & (ev <= -2)
    values = np.unique(ev[pre])[::-1]  # -2, -3, ...
    if leads is not None:
        values = values[:leads]
    dummies = (ev[control][:, None] == values[None, :]) & ever[control][:, None]
    keep = _identified_columns(c, control, dummies.astype(float))
    notes = []
    if not keep.all():
        # e.g. no never-treated unit: event time is period minus adoption, so the unit and
        # period effects absorb a linear trend in it (Borusyak, Jaravel & Spiess 2024,
        # sec. 3.2), and leads seen in one cohort only are confounded with its periods
        notes.append(
            f"leads e = {listing(values[~keep].tolist())} are not identified by the control "
            "cells (collinear with the unit and period effects and the nearer leads): left out"
        )
        values, dummies = values[keep], dummies[:, keep]
    if values.size == 0:
        return {
            "notes": [*notes, "no identified lead beside the reference e = -1: no pre-trend test"]
        }
    Xl = np.hstack([c.X[control], dummies.astype(float)])
    reg = _regression(c, control, Xl, "the untreated-outcome model with lead dummies")
    p = c.X.shape[1]
    cols = np.arange(p, p + values.size)
    d = imputation.draw(reg, None, total, rng)
    tail = imputation.posterior_tail(reg, cols)
    wald = imputation.cluster_wald(reg, c.y[control], Xl, c.u[control], c.t[control], cols)
    tests = [
        {"test": "posterior", **tail._asdict(),
         "what": "posterior mass outside the highest-density region of the leads through 0"},
        {"test": "wald_cluster", **wald._asdict(),
         "what": "Wald test of zero leads, clustered by unit, F(L, G - 1) (BJS Test 1)"},
    ]  # fmt: skip
    return {
        "lead": d.phi[:, reg.k + cols],
        "lead_event": values.astype(int),
        "lead_n": dummies.sum(axis=0).astype(int),
        "pretrend": tests,
        "lead_notes": notes,
    }


# ---------------------------------------------------------------- two-way fixed effects
def _twfe(cells: Cells, total: int, rng) -> dict:
    """Static TWFE (y on D [and exposure] with unit and period effects) and its event study."""
    c = cells
    everyone = np.ones(c.y.size, dtype=bool)
    static = [c.treated.astype(float)[:, None]]
    labels = [("direct", 0)]
    if c.rings:  # one dummy per ring (exposed untreated cells)
        for k in range(1, c.rings + 1):
            static.append(((c.exposed == k) & ~c.treated).astype(float)[:, None])
            labels.append(("spillover", k))
    elif c.spillover is not False:  # exposure 0/1, or the share of treated neighbours
        static.append((c.exposed * ~c.treated)[:, None])
        labels.append(("spillover", 0))
    Xs = np.hstack([*static, c.X])
    swept = absorb.init(c.u, c.t, "twoway").annihilate(c.treated.astype(float))
    if np.linalg.norm(swept) <= 1e-8 * np.sqrt(c.y.size):
        raise ModelError(
            "the treatment is collinear with the unit and period effects (one cohort and no "
            "never-treated unit, or every unit treated from the first period): no comparison "
            "identifies its effect."
        )
    names = [f"{e}{k or ''}" for e, k in labels]
    _check_covariates(c, everyone, Xs, [*names, *c.names])
    reg = _regression(c, everyone, Xs, "the static TWFE regression")
    d = imputation.draw(reg, None, total, rng)
    estimands = []
    att = []
    for j, (eff, ring) in enumerate(labels):
        n = int((static[j][:, 0] != 0).sum())
        estimands.append({"by": "overall", "key": "overall", "effect": eff, "ring": ring, "n": n})
        att.append(d.phi[:, reg.k + j])
    ev = c.timing.event_time(c.t, c.u)
    ever = c.timing.adoption[c.u] != NEVER
    values = np.unique(ev[ever])
    values = np.concatenate([values[values >= 0], values[values <= -2][::-1]])  # 0, 1, .., -2, -3
    dummies = ((ev[:, None] == values[None, :]) & ever[:, None]).astype(float)
    keep = _identified_columns(c, everyone, dummies, X=np.hstack([*static[1:], c.X]))
    # without never-treated units the effects absorb a linear trend in event time, so one
    # more relative period is a reference (Borusyak, Jaravel & Spiess 2024, sec. 3.2)
    reference = [-1, *sorted(values[~keep].tolist())]
    values, dummies = values[keep], dummies[:, keep]
    order = np.argsort(values)
    values, dummies = values[order], dummies[:, order]
    Xe = np.hstack([dummies, *static[1:], c.X])
    reg_e = _regression(c, everyone, Xe, "the event-study TWFE regression")
    d_e = imputation.draw(reg_e, None, total, rng)
    for j, e in enumerate(values):
        estimands.append(
            {"by": "event", "key": int(e), "effect": "direct", "n": int(dummies[:, j].sum())}
        )
        att.append(d_e.phi[:, reg_e.k + j])
    notes = [f"event-study TWFE: relative periods {reference} are the reference"]
    out = {
        "att": np.stack(att, axis=1),
        "beta": d.phi[:, reg.k + len(labels) :],
        "sigma": d.sigma,
        "estimands": estimands,
        "notes": notes,
        "attrs": {"uncertainty": "coefficient", "event_reference": json.dumps(reference)},
    }
    table = _bacon(c)
    if isinstance(table, str):
        out["notes"].append(table)
    else:
        out["attrs"]["bacon"] = table.to_json(orient="records", double_precision=15)
    return out


def _bacon(c: Cells):
    """The Goodman-Bacon decomposition of the static TWFE coefficient, or why not."""
    if c.spillover is not False or c.names:
        return (
            "Goodman-Bacon decomposition not computed: it decomposes TWFE without covariates "
            "or exposure"
        )
    if c.y.size != c.panel.n * c.panel.T:
        return "Goodman-Bacon decomposition not computed: it needs a balanced panel"
    Y = np.full((c.panel.T, c.panel.n), np.nan)
    Y[c.t, c.u] = c.y
    try:
        table = bacon.decompose(Y, c.timing.adoption)
    except ValueError as err:
        return f"Goodman-Bacon decomposition not computed: {err}"
    periods = c.panel.periods
    label = lambda g: "never" if g == NEVER else periods[g]  # noqa: E731
    table["treated"] = [label(g) for g in table["treated"]]
    table["control"] = [label(g) for g in table["control"]]
    return table


# ---------------------------------------------------------------- InferenceData
def _idata(out: dict, c: Cells, chains: int, draws: int, attrs: dict):
    est = out["estimands"]

    def shaped(a):
        a = np.asarray(a)
        return a.reshape(chains, draws, *a.shape[1:])

    labels = [
        f"{e['effect']}{e.get('ring') or ''}|{e['by']}|{e['key']}" for e in est
    ]  # e.g. "direct|cohort|2010", "spillover2|overall|overall" (ring 2)
    posterior = {"att": shaped(out["att"]), "sigma": shaped(out["sigma"])}
    dims = {"att": ["estimand"], "beta": ["term"]}
    coords = {"estimand": labels, "term": list(c.names)}
    if "att_imputed" in out:
        posterior["att_imputed"] = shaped(out["att_imputed"])
        dims["att_imputed"] = ["estimand"]
    if c.names:
        posterior["beta"] = shaped(out["beta"])
    constant = {
        "estimand_by": np.array([e["by"] for e in est]),
        "estimand_key": np.array([str(e["key"]) for e in est]),
        "estimand_effect": np.array([e["effect"] for e in est]),
        "estimand_n": np.array([e["n"] for e in est], dtype=np.int64),
        "estimand_ring": np.array([e.get("ring", 0) for e in est], dtype=np.int64),
        "cell_unit": c.u,
        "cell_time": c.t,
        "cell_treated": c.treated.astype(np.int8),
        "cell_exposure": c.exposed,
        "adoption": c.timing.adoption,
        "cells_per_period": np.bincount(c.t, minlength=c.panel.T),
    }
    dims.update({f"estimand_{k}": ["estimand"] for k in ("by", "key", "effect", "n", "ring")})
    dims.update({k: ["obs"] for k in ("cell_unit", "cell_time", "cell_treated", "cell_exposure")})
    dims.update({"adoption": ["unit"], "cells_per_period": ["time"], "y": ["obs"]})
    coords["unit"] = coord_values(c.panel.units)
    coords["time"] = coord_values(c.panel.periods)
    if "cells" in out:
        cl = out["cells"]
        constant.update(
            {"target_obs": cl["idx"], "target_effect": cl["effect"], "tau_hat": cl["tau_hat"]}
        )
        dims.update({k: ["target"] for k in ("target_obs", "target_effect", "tau_hat")})
    if "att_group" in out:
        posterior.update({k: shaped(out[k]) for k in ("att_group", "group_mu", "group_omega")})
        dims.update({"att_group": ["pool", "group"], "group_mu": ["pool"], "group_omega": ["pool"]})
        coords["pool"] = out["pools"]
    if c.grouping is not None:
        coords["group"] = coord_values(c.grouping.labels)
        constant["group_of_unit"] = c.grouping.of_unit
        constant["units_per_group"] = c.grouping.sizes
        dims.update({"group_of_unit": ["unit"], "units_per_group": ["group"]})
    if "lead" in out:
        posterior["lead"] = shaped(out["lead"])
        dims["lead"] = ["lead_event"]
        coords["lead_event"] = out["lead_event"]
        constant["lead_n"] = out["lead_n"]
        dims["lead_n"] = ["lead_event"]
        attrs["pretrend"] = json.dumps(out["pretrend"])
    return to_idata(
        posterior,
        dims=dims,
        coords=coords,
        attrs=attrs,
        observed_data={"y": c.y},
        constant_data=constant,
    )

"""The results object: an InferenceData plus tidy tables computed from it on demand.

Everything `SpatialFit` reports is derived from ``fit.idata``, so a fit saved
with ``to_netcdf`` and reloaded with `load` is equal to the original and gives
the same tables: the spectral quadrature the effects need is stored in
``constant_data`` beside the design.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from typing import ClassVar

import numpy as np
import pandas as pd

from bayespatial.data.errors import StationarityWarning, user_stacklevel
from bayespatial.data.families import SPATIAL_PARAMETER
from bayespatial.data.wmatrix import Weights
from bayespatial.engine.dynamic import diverges, stationary
from bayespatial.engine.effects import (
    Quadrature,
    apply_effects,
    apply_long_run,
)
from bayespatial.engine.precision import float64
from bayespatial.engine.turning import summarise
from bayespatial.models import group_tables
from bayespatial.models.arviz_io import (
    add_log_likelihood,
    elpd_data,
    exact_elpd,
    relative_ess,
    to_idata,
)
from bayespatial.models.context import context
from bayespatial.models.design import lagged_name, regression_columns
from bayespatial.models.groups import varying_columns
from bayespatial.models.progress import counter, note, track
from bayespatial.models.result import FitResult, equal_tailed, register

SCALARS = (*SPATIAL_PARAMETER.values(), "tau", "eta", "sigma", "nu")
"""Scalar posterior variables, in table order: the spatial parameter (`bayespatial.data.families`),
the dynamic terms, the error scale and Student-t degrees of freedom."""
LOG_LIK_MAX_VALUES = 10**8
"""Largest draws x observations kept in ``idata.log_likelihood`` (800 MB in float64);
above it LOO streams the pointwise log-likelihood by blocks of observations."""


@cache
def package_versions() -> str:
    """Versions of the packages a fit depends on (looked up once per process)."""
    names = ("bayespatial", "jax", "numpyro", "arviz", "numpy", "scipy")
    return json.dumps({n: version(n) for n in names})


def coord_values(values) -> np.ndarray:
    """Ids as netCDF-friendly values (numbers stay numbers, anything else a string).

    An array, not a list: ArviZ deep-copies coordinates once per variable.
    """
    values = list(values)
    if all(isinstance(v, int | np.integer) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, float | np.floating) for v in values):
        return np.asarray(values, dtype=float)
    return np.asarray([str(v) for v in values])


def assemble(
    config,
    panel,
    design,
    W,
    draws: dict,
    stats: dict,
    *,
    state,
    quadrature: Quadrature | None,
    nobs: int,
    sampler: str,
    sampler_reason: str,
    notes: tuple,
    timings: dict,
    extra_attrs: dict | None = None,
    exact_loo: np.ndarray | None = None,
    varying=None,
) -> SpatialFit:
    """Build the `SpatialFit` of one run (posterior on the user's scale, with names).

    ``varying`` (`bayespatial.models.pooled.Varying`): ``beta``/``theta`` of a varying
    term hold the common mean mu of its groups; the group coefficients are
    ``beta_group`` (varying, group), with ``mu`` and ``omega`` (varying).
    """
    terms = list(design.names)
    coef = draws["coef"]
    k = len(terms)
    group_vars = {}
    if varying is not None:
        coef, group_vars = _varying_posterior(draws, design, varying)
    posterior = {"beta": coef[..., :k]}
    if design.lagged or (config.family.durbin and not config.dynamic):
        theta = np.zeros_like(posterior["beta"])
        for j, name in enumerate(design.lagged):
            theta[..., terms.index(name)] = coef[..., k + j]
        posterior["theta"] = theta
    for name in SCALARS:
        if name in draws:
            posterior[name] = draws[name]
    posterior.update(group_vars)
    dims = {"beta": ["term"], "theta": ["term"]}
    cross_section = panel.time is None
    cells = design.cells is not None  # unbalanced: one "obs" per observed cell
    obs_dims = ["obs"] if cells else ["unit"] if cross_section else ["time", "unit"]
    coords = {"term": terms, "unit": coord_values(panel.units)}
    if not cross_section:
        coords["time"] = coord_values(design.periods)
    y = design.y[0] if cross_section else design.y
    X = design.X[0] if cross_section else design.X
    observed = {"y": y}
    constant = {"X": X}
    dims.update({"y": obs_dims, "X": [*obs_dims, "term"]})
    if cells:  # positions in the unit and time coordinates, and the cells of each
        t, u = design.cells
        constant.update(
            {
                "cell_time": t,
                "cell_unit": u,
                "cells_per_unit": np.bincount(u, minlength=len(panel.units)),
                "cells_per_period": np.bincount(t, minlength=len(design.periods)),
            }
        )
        dims.update(
            {
                "cell_time": ["obs"],
                "cell_unit": ["obs"],
                "cells_per_unit": ["unit"],
                "cells_per_period": ["time"],
            }
        )
        if design.lagged:  # W X from every observed cell, before exactly fitted ones went
            constant["WX"] = design.WX
            dims["WX"] = ["obs", "durbin"]
            coords["durbin"] = list(design.lagged)
    if varying is not None:
        g = varying.grouping
        coords.update(
            {"varying": [name for name, _ in varying.owners], "group": coord_values(g.labels)}
        )
        dims.update({"beta_group": ["varying", "group"], "mu": ["varying"], "omega": ["varying"]})
        constant["group_of_unit"] = g.of_unit
        dims["group_of_unit"] = ["unit"]
    coo = W.sparse.tocoo()
    constant.update({"W_row": coo.row, "W_col": coo.col, "W_val": coo.data})
    dims.update({k: ["nnz"] for k in ("W_row", "W_col", "W_val")})
    if design.ylag is not None:
        constant["y_lag"] = design.ylag
        dims["y_lag"] = obs_dims
    if exact_loo is not None:  # exact log p(y_it | y_-it), `bayespatial.engine.loo_exact`
        constant["loo_exact"] = exact_loo[0] if cross_section or cells else exact_loo
        dims["loo_exact"] = obs_dims
    if quadrature is not None:
        nodes = np.asarray(quadrature.nodes)
        constant.update(
            {
                "spectrum_re": np.real(nodes),
                "spectrum_im": np.imag(nodes),
                "spectrum_weight": np.asarray(quadrature.weights, dtype=float),
            }
        )
        dims.update({k: ["node"] for k in ("spectrum_re", "spectrum_im", "spectrum_weight")})
        constant["total_moments"] = context(W).total_moments()
        dims["total_moments"] = ["moment"]
    attrs = {
        "result": SpatialFit.RESULT,
        "model": config.model,
        "formula": config.formula,
        "fe": config.fe,
        "kind": config.kind,
        "errors": config.errors,
        "unit_column": config.unit,
        "time_column": config.time or "",
        "durbin_terms": json.dumps(list(design.lagged)),
        "W_fingerprint": W.fingerprint,
        "W_n": W.n,
        "logdet_method": "" if state is None else state.method,
        "logdet_bound": "" if state is None or state.bound is None else float(state.bound),
        "logdet_info": "" if state is None else json.dumps(state.describe(), default=str),
        "sampler": sampler,
        "sampler_reason": sampler_reason,
        "chains": config.chains,
        "draws": config.draws,
        "warmup": config.warmup if sampler == "nuts" else 0,
        "seed": config.seed,
        "ci": config.ci,
        "nobs": nobs,
        "notes": json.dumps(list(notes)),
        "priors": repr(config.priors),
        "versions": package_versions(),
        **{k: round(v, 3) for k, v in timings.items()},
        **(extra_attrs or {}),
    }
    if varying is not None:
        layout = varying.layout
        absorbed = [
            name
            for k, (name, _) in enumerate(varying.owners)
            if layout.zero_mean and layout.zero_mean[k]
        ]
        attrs["varying"] = json.dumps(
            {
                "column": varying.grouping.column,
                "terms": [name for name, _ in varying.owners],
                "absorbed_mean": absorbed,  # group intercepts under time effects: mu = 0
            }
        )
        attrs["omega_prior"] = repr(config.priors.omega)
    if config.dynamic:
        attrs.update({"eta_term": int(config.eta), "stationarity": config.stationarity})
    if stats:
        attrs["leapfrog_per_draw"] = float(np.mean(stats["n_steps"]))
    idata = to_idata(
        posterior,
        dims=dims,
        coords=coords,
        attrs=attrs,
        sample_stats=stats or None,
        observed_data=observed,
        constant_data=constant,
    )
    return SpatialFit(idata)


def _varying_posterior(draws: dict, design, varying) -> tuple[np.ndarray, dict]:
    """The coefficients in the standard column order (mu for varying ones) and group draws.

    The varying fit's columns are the fixed columns in their standard order, then one
    block per varying coefficient (`bayespatial.models.groups.varying_columns`); dsdm's
    tau and eta, which sat between them, are already out of ``coef``.
    """
    standard = [*design.names, *map(lagged_name, design.lagged)]
    owners = [name for name, _ in varying.owners]
    fixed = [name for name in standard if name not in owners]
    coef, mu = draws["coef"], draws["mu"]
    shift = varying.layout.p - coef.shape[-1]  # tau and eta, taken out
    out = np.empty((*coef.shape[:2], len(standard)))
    for j, name in enumerate(standard):
        pooled = name in owners
        out[..., j] = mu[..., owners.index(name)] if pooled else coef[..., fixed.index(name)]
    blocks = [coef[..., s - shift : s - shift + size] for s, size in varying.layout.blocks]
    return out, {"beta_group": np.stack(blocks, axis=2), "mu": mu, "omega": draws["omega"]}


@register("spatial")
@dataclass(frozen=True, eq=False)
class SpatialFit(FitResult):
    """A fitted spatial model (any family of `bayespatial.data.families`), a `FitResult`.

    LOO: ``method="psis"`` streams the pointwise log-likelihood by blocks of
    observations when it is not stored; ``method="exact"`` gives exact leave-one-out
    predictive densities without refits (`bayespatial.engine.loo_exact`), stored at
    fit time for Gaussian fits on the exact sampler without dynamic terms. For
    dynamic fits each term conditions on the lags: y_it also enters period t + 1 as a
    regressor, so this is leave-one-out of the conditional likelihood given the lags,
    not of the joint model of all periods. Observations are labelled (unit, period).
    """

    LOO_METHODS: ClassVar[tuple] = ("psis", "exact")
    OBS_LABEL: ClassVar[str] = "(unit, period)"

    @property
    def durbin_terms(self) -> list:
        """Terms that enter as W x (theta is zero, by constraint, for the others)."""
        return json.loads(self.attrs["durbin_terms"])

    def __repr__(self):
        a = self.attrs
        post = self.idata.posterior
        correction = f", bias_correction={a['bias_correction']!r}" if "bias_correction" in a else ""
        return (
            f"SpatialFit({a['model']}, {a['formula']!r}, fe={a['fe']!r}, "
            f"sampler={a['sampler']!r}, chains={post.sizes['chain']}, draws={post.sizes['draw']}"
            f"{correction})"
        )

    def _rows(self):
        """Coefficients by term, W-lagged terms as ``W_x``, then the scalars and sigma2."""
        post = self.idata.posterior
        terms = [str(t) for t in post["term"].values]
        lagged = set(self.durbin_terms)
        g = group_tables.groups(self)
        pooled = [] if g is None else g.terms  # their beta/theta hold mu
        for j, term in enumerate(terms):
            yield "mu" if term in pooled else "beta", term, post["beta"].values[..., j]
        if "theta" in post:
            for j, term in enumerate(terms):
                if term in lagged:
                    name = lagged_name(term)
                    yield "mu" if name in pooled else "theta", name, post["theta"].values[..., j]
        for k, name in enumerate(pooled):
            for j, label in enumerate(g.labels):
                parameter = "theta" if name.startswith("W_") else "beta"
                yield parameter, f"{name}[{label}]", post["beta_group"].values[..., k, j]
            yield "omega", name, post["omega"].values[..., k]
        for name in SCALARS:
            if name in post:
                yield name, name, post[name].values
            if name == "sigma":
                yield "sigma2", "sigma2", post[name].values ** 2

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """`FitResult.summary` by term (`_rows`), with sigma2 in its own row.

        sigma2 = sigma^2, as the peers report it; dynamic fits record their
        Nickell-bias treatment in the table's attrs.
        """
        table = super().summary(ci)
        if "bias_correction" in self.attrs:  # dynamic fits: which Nickell-bias treatment
            table.attrs["bias_correction"] = self.attrs["bias_correction"]
        return table

    @float64
    def effect_draws(self, horizon: str = "short") -> dict:
        """Draws of the direct, indirect and total effects: name -> (draws, terms) frames.

        Lag models (SAR, SDM, DSDM short run): LeSage-Pace averages of
        (I - rho W)^-1 (beta_k I + theta_k W) from the stored spectral
        quadrature. DSDM long run (``horizon="long"``): ((1 - tau) I - (rho +
        eta) W)^-1 (beta_k I + theta_k W) (Elhorst 2014, sec. 4.3; Debarsy,
        Ertur & LeSage 2012). Outside the stable region the long-run effect is not a
        number: draws with a unit or explosive root hold its limit, +-inf (the
        cumulative response diverges; `_diverging` says which sign), draws unstable
        only through oscillation are NaN.
        Models without a spatial multiplier (OLS, SLX, SEM, SDEM): direct =
        beta_k, indirect = theta_k, total = beta_k + theta_k (LeSage & Pace
        2009, sec. 2.7). The intercept has no effect and is left out.
        """
        post = self.idata.posterior
        if horizon not in ("short", "long"):
            raise ValueError(f"horizon must be 'short' or 'long', not {horizon!r}.")
        if horizon == "long" and "tau" not in post:
            raise ValueError("long-run effects need a dynamic model (dsdm).")
        g = group_tables.groups(self)
        if g is not None:  # unit-specific coefficients: the groups' effects, unit-weighted
            return group_tables.average(group_tables.effect_draws(self, g, horizon), g)
        terms = [str(t) for t in post["term"].values]
        keep = [j for j, t in enumerate(terms) if t != "Intercept"]
        beta = self.draws("beta")[:, keep]
        theta = self.draws("theta")[:, keep] if "theta" in post else np.zeros_like(beta)
        if "rho" in post:
            q, c = self.spectral_terms()
            rho = self.draws("rho")
            if horizon == "short":
                eff = apply_effects(q, rho, beta, theta, c)
            else:
                tau = self.draws("tau")
                eta = self.draws("eta") if "eta" in post else np.zeros_like(tau)
                eff = apply_long_run(q, rho, tau, eta, beta, theta, c)
            out = {k: np.asarray(getattr(eff, k)) for k in ("direct", "indirect", "total")}
            if horizon == "long":
                out = self._diverging(out, tau, rho, eta, beta, theta)
        else:
            out = {"direct": beta, "indirect": theta, "total": beta + theta}
        names = [terms[j] for j in keep]
        return {k: pd.DataFrame(v, columns=names) for k, v in out.items()}

    def _diverging(self, out: dict, tau, rho, eta, beta, theta) -> dict:
        """Long-run effects of draws outside the stable region: their limits, or NaN.

        A root f(w_max) >= 1 (`bayespatial.engine.dynamic.diverges`) drives every
        effect to sign(beta_k + theta_k w_max) inf. A root f(w_min) >= 1 alone (possible
        when f decreases in w) drives the direct effect to sign(beta_k + theta_k w_min)
        inf and the indirect effect to the opposite, while the total, carried by the
        stable w_max direction, stays finite. Roots <= -1 oscillate: NaN.
        """
        a = self.attrs
        bad = ~self.stationary_draws()[:, None]
        at_max = diverges(tau, rho, eta, a["w_max"])[:, None]
        at_min = diverges(tau, rho, eta, a["w_min"])[:, None] & ~at_max
        s_max = np.sign(beta + theta * a["w_max"]) * np.inf
        s_min = np.sign(beta + theta * a["w_min"]) * np.inf
        limits = {"direct": s_min, "indirect": -s_min, "total": out["total"]}
        return {
            k: np.where(at_max, s_max, np.where(at_min, limits[k], np.where(bad, np.nan, v)))
            for k, v in out.items()
        }

    def _effect_note(self, term: str, effect: str) -> str:
        """Why an indirect effect is zero by construction, where it is."""
        if effect != "indirect" or "rho" in self.idata.posterior or term in self.durbin_terms:
            return ""
        return (
            f"no spillover of {term} in {self.model}: W {term} does not enter and there "
            "is no spatial lag of y (fit sdem, slx or sdm to estimate one)"
        )

    def stationary_draws(self) -> np.ndarray:
        """Per draw, whether (tau, rho, eta) is in the stable region (dsdm only)."""
        a = self.attrs
        tau = self.draws("tau")
        eta = self.draws("eta") if "eta" in self.idata.posterior else np.zeros_like(tau)
        return stationary(tau, self.draws("rho"), eta, a["w_min"], a["w_max"])

    def effects(
        self, ci: float | None = None, structural_zeros: bool = True, by: str | None = None
    ) -> pd.DataFrame:
        """Tidy table: term, effect in {direct, indirect, total}, mean, sd, lower, upper, note.

        ``by`` (the grouping column of a ``varying=`` fit): one row per term, group and
        effect, with columns term, group, n_units, effect, mean, sd, lower, upper
        (`bayespatial.engine.group_effects` defines a group's direct effect, the mean
        of S_ii over its units, and its total, the mean over its units of the column
        sums of S). Without ``by`` a varying fit reports their unit-weighted average,
        LeSage and Pace's tr(S)/n and 1'S1/n with unit-specific coefficients.

        ``note`` says where an indirect effect is zero by construction (SEM, OLS, and
        terms left out of ``durbin``): the error models spread shocks, not x;
        ``structural_zeros=False`` leaves those rows out (tables for readers). Dynamic
        fits add ``horizon`` in {short, long}. Long run, where some draws lie outside
        the stable region (a `StationarityWarning` says how many): the interval counts
        the draws whose effect diverges as +-inf (so an upper limit is inf when the
        posterior puts more than (1 - ci) / 2 on a unit or explosive root: the data
        do not bound the effect), mean and sd use the stable draws, and ``note`` says so.
        """
        ci = self.attrs["ci"] if ci is None else ci
        if by is not None:
            return group_tables.effects(self, by, ci)
        horizons = group_tables.horizons(self)
        rows = []
        for horizon in horizons:
            frames = self.effect_draws(horizon)
            for term in frames["direct"].columns:
                for effect, frame in frames.items():
                    v = frame[term].to_numpy()
                    v = v[~np.isnan(v)]  # NaN: no limit (oscillating); +-inf: diverges
                    finite = v[np.isfinite(v)]
                    if v.size == 0:
                        continue
                    note = self._effect_note(term, effect)
                    if note and not structural_zeros:
                        continue
                    lo, hi = equal_tailed(v, ci)
                    if finite.size < frame.shape[0]:
                        share = 1 - finite.size / frame.shape[0]
                        note = (
                            f"{share:.1%} of draws outside the stable region: counted as "
                            "+-inf (diverging) in the interval; mean and sd over stable draws"
                            if finite.size < v.size
                            else f"{share:.1%} of draws outside the stable region left out"
                        )
                    row = {"term": term, "effect": effect}
                    if len(horizons) > 1:
                        row["horizon"] = horizon
                    row.update(
                        {
                            "mean": float(finite.mean()) if finite.size else np.nan,
                            "sd": float(finite.std(ddof=1)) if finite.size > 1 else np.nan,
                            "lower": lo,
                            "upper": hi,
                            "note": note,
                        }
                    )
                    rows.append(row)
        if len(horizons) > 1:
            dropped = int((~self.stationary_draws()).sum())
            if dropped:
                warnings.warn(
                    f"{dropped} of {self.draws('tau').size} draws lie outside the stable region; "
                    "long-run effects diverge there (see the effects table's note).",
                    StationarityWarning,
                    stacklevel=user_stacklevel(),
                )
        return pd.DataFrame(rows)

    def spectral_terms(self) -> tuple[Quadrature, np.ndarray | None] | None:
        """The stored quadrature over W's spectrum and W's `total_moments`, or None.

        Models without rho keep no spectrum (None); the effects read these.
        """
        cd = self.idata.constant_data
        if "spectrum_re" not in cd:
            return None
        q = Quadrature(
            cd["spectrum_re"].values + 1j * cd["spectrum_im"].values,
            cd["spectrum_weight"].values,
        )
        return q, (cd["total_moments"].values if "total_moments" in cd else None)

    def marginal_effect(self, x: str, at: dict, ci: float | None = None) -> pd.DataFrame:
        """dy/dx over a moderator: <moderator>, effect, mean, sd, lower, upper.

        ``at={"z": values}`` with an interaction term x:z in the formula: beta_x +
        beta_xz z per draw, as LeSage-Pace direct, indirect and total impacts in a spatial
        lag model (short run for dsdm); `bayespatial.models.moderation`.
        """
        from bayespatial.models.moderation import marginal_effect

        return marginal_effect(self, x, at, self.attrs.get("ci", 0.95) if ci is None else ci)

    def varying(self, ci: float | None = None) -> pd.DataFrame:
        """Group coefficients of a ``varying=`` fit, their mean mu and spread omega.

        Tidy table: term, parameter ("beta" per group, "mu", "omega", and
        "omega_prior" for the prior of omega beside its posterior), group (labels as in
        the data; empty for mu and omega), n_units, mean, sd, lower, upper.
        """
        return group_tables.table(self, self.attrs["ci"] if ci is None else ci)

    def contrasts(self, term: str | None = None, ci: float | None = None) -> pd.DataFrame:
        """Posterior of every pairwise group difference of the varying coefficients.

        Tidy table: term, group_a, group_b, mean, sd, lower, upper of
        beta_a - beta_b, and p_greater = P(beta_a > beta_b | y).
        """
        return group_tables.contrasts(self, term, self.attrs["ci"] if ci is None else ci)

    def quadratic_terms(self, x: str, quadratic: str | None = None) -> tuple[str, str]:
        """Names of the linear and quadratic terms of ``x`` (e.g. ``x`` and ``I(x ** 2)``)."""
        terms = [str(t) for t in self.idata.posterior["term"].values]
        if x not in terms:
            raise ValueError(f"term {x!r} is not in the model; terms are {terms}.")
        if quadratic is None:
            spaced = {f"I({x} ** 2)", f"I({x}**2)", f"np.power({x}, 2)", f"{x}_sq", f"{x}2"}
            found = [t for t in terms if t.replace(" ", "") in {c.replace(" ", "") for c in spaced}]
            if not found:
                raise ValueError(
                    f"no quadratic term of {x!r} found (looked for I({x} ** 2)); add it to the "
                    "formula or name it with quadratic=."
                )
            quadratic = found[0]
        elif quadratic not in terms:
            raise ValueError(f"term {quadratic!r} is not in the model; terms are {terms}.")
        return x, quadratic

    def turning_point(
        self, x: str, quadratic: str | None = None, ci: float | None = None, by: str | None = None
    ) -> pd.DataFrame:
        """Turning point of an inverted U (or U) in ``x``, one row per basis.

        Bases: ``coef`` (b1, b2), and the ``direct`` and ``total`` effects of x
        and x^2 (short and long run for dsdm, column ``horizon``); see
        `bayespatial.engine.turning`. The observed range of x is taken from the
        data the model was fitted on. Columns: basis, [horizon], shape, median,
        lower, upper, p_concave, p_in_range, p_lind_mehlum, x_min, x_max.

        ``by`` (the grouping column of a ``varying=`` fit): one row per basis and
        group (columns group, n_units added), from the group's coefficients and its
        effects (`effects` with ``by``), over the range of x among the group's units.
        """
        ci = self.attrs["ci"] if ci is None else ci
        lin, quad = self.quadratic_terms(x, quadratic)
        if by is not None:
            return group_tables.turning_points(self, lin, quad, by, ci)
        terms = [str(t) for t in self.idata.posterior["term"].values]
        xs = self.idata.constant_data["X"].values[..., terms.index(lin)]
        x_min, x_max = float(xs.min()), float(xs.max())
        beta = self.draws("beta")
        rows = [
            {
                "basis": "coef",
                **summarise(
                    beta[:, terms.index(lin)], beta[:, terms.index(quad)], x_min, x_max, ci
                ),
            }
        ]
        dynamic = len(group_tables.horizons(self)) > 1
        for horizon in group_tables.horizons(self):
            frames = self.effect_draws(horizon)
            for basis in ("direct", "total"):
                f = frames[basis]
                ok = np.isfinite(f[lin].to_numpy()) & np.isfinite(f[quad].to_numpy())
                row = {"basis": basis}
                if dynamic:
                    row["horizon"] = horizon
                row.update(
                    summarise(f[lin].to_numpy()[ok], f[quad].to_numpy()[ok], x_min, x_max, ci)
                )
                rows.append(row)
        table = pd.DataFrame(rows)
        if dynamic:
            table["horizon"] = table["horizon"].fillna("both")
            table = table[
                ["basis", "horizon", *[c for c in table if c not in ("basis", "horizon")]]
            ]
        return table

    def _weights(self) -> Weights:
        """The row-standardised W the fit used, rebuilt from ``constant_data``.

        As `Weights`, which find a weighted W's symmetrising scale
        (`bayespatial.data.wmatrix.symmetrising_scale`) that a bare matrix does not show.
        """
        import scipy.sparse as sp

        cd, n = self.idata.constant_data, int(self.attrs["W_n"])
        m = sp.csr_matrix((cd["W_val"].values, (cd["W_row"].values, cd["W_col"].values)), (n, n))
        return Weights(m, tuple(range(n)), "row", None)

    def _loo_inputs(self) -> dict:
        """Data, W operator and draws that the pointwise log-likelihood needs."""
        from bayespatial.engine import sparse

        post, cd, a = self.idata.posterior, self.idata.constant_data, self.attrs
        cells = self.cells()
        y = self.idata.observed_data["y"].values
        X = cd["X"].values
        if cells is None:
            y = np.atleast_2d(y)
            X = X[None] if X.ndim == 2 else X
        Wm = self._weights().sparse
        terms = tuple(str(t) for t in post["term"].values)
        lagged = tuple(self.durbin_terms)
        ylag = cd["y_lag"].values if "tau" in post else None
        WX = cd["WX"].values if "WX" in cd else None  # the design's own W X, on cells
        names, Z = regression_columns(
            X, terms, Wm, lagged, ylag, eta="eta" in post, WX=WX, cells=cells
        )
        coef = [self.draws("beta")]
        if lagged:
            coef.append(self.draws("theta")[:, [terms.index(t) for t in lagged]])
        g = group_tables.groups(self)
        if g is not None:  # the group columns, as the fit built them; y_{t-1} (W y_{t-1}) last
            varying = {t: g.grouping for t in g.terms if not t.startswith("W_")}
            split, Z, _, _ = varying_columns(Z, names, varying, Wm, a["fe"])
            dynamic = [j for j, name in enumerate(split) if name in ("y_lag", "W_y_lag")]
            Z = np.concatenate([np.delete(Z, dynamic, axis=-1), Z[..., dynamic]], axis=-1)
            standard = [*terms, *map(lagged_name, lagged)]
            keep = [j for j, name in enumerate(standard) if name not in g.terms]
            beta_group = self.draws("beta_group")
            coef = [np.concatenate(coef, axis=1)[:, keep], beta_group.reshape(len(beta_group), -1)]
        if "tau" in post:
            coef.append(self.draws("tau")[:, None])
            if "eta" in post:
                coef.append(self.draws("eta")[:, None])
        kind = a["kind"]
        spatial = SPATIAL_PARAMETER.get(kind)
        return {
            "y": y,
            "Z": Z,
            "op": sparse.init(Wm),
            "r": self.draws(spatial) if spatial else np.zeros(len(coef[0])),
            "beta": np.concatenate(coef, axis=1),
            "sigma": self.draws("sigma"),
            "kind": kind,
            "fe": a["fe"],
            "nnz": Wm.nnz,
            "W": Wm,
            "cells": cells,
        }

    def cells(self) -> np.ndarray | None:
        """(2, N) period and unit positions of the observed cells of an unbalanced panel.

        None for a balanced panel or a cross-section, whose observations are every
        (unit, period) of the ``time`` x ``unit`` coordinates.
        """
        cd = self.idata.constant_data
        if "cell_time" not in cd:
            return None
        return np.stack([cd["cell_time"].values, cd["cell_unit"].values]).astype(np.int64)

    def _basis(self, d: dict):
        """The `bayespatial.engine.loo.LooBasis` of this fit's data (`_loo_inputs`)."""
        from bayespatial.engine import absorb
        from bayespatial.engine import loo as loo_engine

        if d["cells"] is not None:
            t, u = d["cells"]
            return loo_engine.cell_basis(d["y"], d["Z"], absorb.init(u, t, d["fe"]))
        return loo_engine.init_basis(d["y"], d["Z"], d["op"], d["kind"], d["fe"])

    def _check_student_fe(self) -> None:
        if "nu" in self.idata.posterior and self.attrs["fe"] != "none":
            raise ValueError(
                "LOO is not available for Student-t fits with fixed effects: their likelihood "
                "is a quasi-likelihood of the transformed rows, whose terms are not "
                "leave-one-out densities of y_it, and with t errors the effects cannot be "
                "integrated out in closed form. Compare Gaussian fits (whose effects are "
                "integrated out exactly), or fit the Student-t model with fe='none' and the "
                "effects as dummies in the formula (e.g. '+ C(region)')."
            )

    @float64
    def log_likelihood(
        self, chunk: int | None = None, reduce=None, progress: bool | None = None
    ) -> np.ndarray:
        """Exact pointwise log p(y_it | y_-it, theta) per draw, shape (chain, draw, obs).

        `bayespatial.engine.loo`: each observation is one unit in one period given
        every other unit-period, with the fixed effects integrated out under their
        flat priors (Q = B'M B / sigma^2), so y_it does not help estimate its own
        unit or period effect; dynamic fits condition on the lags. Observations are
        the n T observed unit-periods, ordered period-major (``obs = t * n + i``), or on
        an unbalanced panel the observed cells in the fit's order (`cells`), as
        `obs_labels` names them. The values stored in ``idata.log_likelihood`` are
        returned when the fit has them. ``reduce`` (applied to each (chunk, T, n)
        block) streams instead of storing draws x N values, for panels where that
        matrix does not fit; ``chunk`` (draws per block) defaults to about
        4 x 10^7 values per block.

        Student-t fits (fe="none" only) use `bayespatial.engine.loo_student` (the
        same leave-one-out, independent t errors, the normalising integral by
        quadrature: O(nnz Q) per draw and period). ``progress``: as in `fit`.
        """
        from bayespatial.engine import loo_student
        from bayespatial.engine.loo import basis_draws

        post = self.idata.posterior
        if reduce is None and "log_likelihood" in self.idata.groups():
            return self.idata.log_likelihood["y"].values
        self._check_student_fe()
        d = self._loo_inputs()
        args = (d["y"], d["Z"], d["op"], d["r"], d["beta"], d["sigma"])
        S = len(d["r"])
        with counter("pointwise log-likelihood", S, progress, unit="draw") as bar:
            tick = None if bar is None else bar.update
            if "nu" in post:  # independent t errors: one-dimensional quadrature per observation
                chunk = chunk or max(
                    1, min(64, 25_000_000 // (150 * max(d["nnz"], d["y"].shape[1])))
                )
                values = loo_student.pointwise_draws(
                    *args, self.draws("nu"), d["kind"], chunk, reduce, on_block=tick
                )
            else:  # Gaussian: the basis of the panel or of its observed cells (`_basis`)
                chunk = chunk or max(1, min(4096, 40_000_000 // d["y"].size))
                values = basis_draws(
                    self._basis(d), *args[3:], d["kind"], chunk, reduce, on_block=tick
                )
        if reduce is not None:
            return values
        return values.reshape(post.sizes["chain"], post.sizes["draw"], -1)

    def obs_labels(self) -> list:
        """(unit, period) of each observation of `log_likelihood` (period None: cross-section)."""
        od = self.idata.observed_data
        coord = self.idata.constant_data if "unit" not in od.coords else od
        units = [u.item() if hasattr(u, "item") else u for u in coord["unit"].values]
        periods = (
            [t.item() if hasattr(t, "item") else t for t in coord["time"].values]
            if "time" in coord.coords
            else [None]
        )
        cells = self.cells()
        if cells is not None:  # unbalanced: the observed cells, in the fit's order
            return [(units[u], periods[t]) for t, u in cells.T]
        return [(u, t) for t in periods for u in units]

    def with_log_likelihood(self, progress: bool | None = None) -> SpatialFit:
        """A copy of the fit with the exact pointwise log-likelihood in ``log_likelihood``."""
        if "log_likelihood" in self.idata.groups():
            return self
        return SpatialFit(add_log_likelihood(self.idata, self.log_likelihood(progress=progress)))

    def stores_log_likelihood(self) -> bool:
        """Whether the draws x observations matrix is small enough to keep in ``idata``."""
        post, y = self.idata.posterior, self.idata.observed_data["y"]
        if "nu" in post and self.attrs["fe"] != "none":
            return False
        if self.attrs.get("loo_unavailable"):
            return False
        return post.sizes["chain"] * post.sizes["draw"] * y.size <= LOG_LIK_MAX_VALUES

    def _psis(self, progress: bool | None = None):
        """PSIS-LOO terms (loo_i, pareto_k, lppd_i) of every observation."""
        from bayespatial.engine import loo as loo_engine
        from bayespatial.engine.psis import smooth

        reff = relative_ess(self.idata)
        post = self.idata.posterior
        S = post.sizes["chain"] * post.sizes["draw"]
        if "nu" in post and not self.stores_log_likelihood():
            N = self.idata.observed_data["y"].size
            raise ValueError(
                f"PSIS-LOO of a Student-t fit needs the whole draws x observations matrix "
                f"({S:,} x {N:,} = {S * N * 8 / 1e9:.0f} GB in float64), above the "
                f"{LOG_LIK_MAX_VALUES:.0e} values kept in memory: refit with fewer draws "
                "(LOO needs a few thousand at most) or compare Gaussian fits, whose LOO streams."
            )
        if "log_likelihood" in self.idata.groups() or "nu" in post:
            ll = self.log_likelihood(progress=progress).reshape(S, -1)
            block = max(1, 20_000_000 // S)
            starts = range(0, ll.shape[1], block)
            parts = [
                smooth(np.ascontiguousarray(ll[:, i : i + block].T), reff)
                for i in track(starts, "Pareto smoothing (blocks of observations)", progress)
            ]
        else:  # streamed by observations: the draws x N matrix never exists whole
            d = self._loo_inputs()
            basis = self._basis(d)
            N = d["y"].size
            block = max(1, 20_000_000 // S)
            why = (
                "this fit was saved without it (to_netcdf(log_likelihood=False))"
                if self.stores_log_likelihood()
                else f"more than {LOG_LIK_MAX_VALUES:.0e} values, so it is not kept in fit.idata"
            )
            note(
                f"PSIS-LOO streamed over {N:,} observations x {S:,} draws, the pointwise "
                f"log-likelihood computed block by block ({why})",
                progress,
            )
            parts = []
            with counter("PSIS-LOO", N, progress, unit="obs") as bar:
                for _, values in loo_engine.observation_blocks(
                    basis, d["r"], d["beta"], d["sigma"], d["kind"], block
                ):
                    parts.append(smooth(values, reff))
                    if bar is not None:
                        bar.update(values.shape[0])
        return tuple(np.concatenate([getattr(p, f) for p in parts]) for f in parts[0]._fields)

    def _pareto_advice(self) -> str:
        """Outliers point to Student-t errors; exact LOO where the fit stores it."""
        return " (often outliers: compare with errors='student_t'); " + (
            "fit.loo(method='exact') computes every term exactly for this fit."
            if "loo_exact" in self.idata.constant_data
            else "check them by K-fold cross-validation before trusting a close comparison."
        )

    def _compute_loo(self, method: str, progress: bool | None):
        self._check_student_fe()
        post = self.idata.posterior
        S = post.sizes["chain"] * post.sizes["draw"]
        if method == "exact" and "log_likelihood" in self.idata.groups():
            ll = self.log_likelihood().reshape(S, -1)  # lppd for p_loo: no smoothing needed
            top = ll.max(axis=0)
            lppd_i = np.log(np.exp(ll - top).sum(axis=0)) + top - np.log(S)
            loo_i, k = np.zeros_like(lppd_i), np.zeros_like(lppd_i)  # replaced below
        else:
            loo_i, k, lppd_i = self._psis(progress)
        result = elpd_data(loo_i, k, lppd_i, S)
        if method == "exact":
            if "loo_exact" not in self.idata.constant_data:
                raise ValueError(
                    "exact LOO is computed for Gaussian fits on the exact sampler without "
                    "dynamic terms; this fit has "
                    f"sampler={self.attrs['sampler']!r}, model={self.model!r}. "
                    "Use method='psis'."
                )
            exact = self.idata.constant_data["loo_exact"].values
            return exact_elpd(result, exact)
        return result

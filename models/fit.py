"""``fit``: formula and data in, a `SpatialFit` with the posterior out.

Pipeline (each step validates its input and says what is wrong and how to fix it):
W row-standardised -> `Panel.from_frame` (W's unit order) -> `build_design`
(formula, within-unit lags, Durbin terms) -> transformed cross-products
(`bayespatial.engine.crossprod`, fixed effects integrated out) -> priors as
numbers -> the exact sampler (Gaussian errors with the conjugate prior) or
NUTS -> `SpatialFit`.
"""

from __future__ import annotations

import time as clock
import warnings
from collections.abc import Sequence
from functools import partial
from typing import NamedTuple

import numpy as np
import numpyro
import pandas as pd
import scipy.sparse as sp

from bayespatial.data.errors import (
    ModelError,
    SamplerChoiceWarning,
    WeightsError,
    user_stacklevel,
)
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights
from bayespatial.engine import absorb, loo_exact
from bayespatial.engine import logdet as logdet_engine
from bayespatial.engine.conjugate import NIGPrior, posterior_terms, sample, sample_regression
from bayespatial.engine.crossprod import cross_products
from bayespatial.engine.dynamic import stationary
from bayespatial.engine.loo import cell_basis, init_basis
from bayespatial.engine.precision import float64
from bayespatial.models import convergence, pooled, student
from bayespatial.models.arviz_io import with_attrs
from bayespatial.models.config import FitConfig
from bayespatial.models.context import context
from bayespatial.models.design import build_design, design_columns
from bayespatial.models.did import fit_did
from bayespatial.models.did_results import DIDFit
from bayespatial.models.gaussian import ModelData, gaussian_model
from bayespatial.models.nickell import analytic_correction, split_panel_jackknife
from bayespatial.models.progress import NO_STAGES, stages
from bayespatial.models.results import SpatialFit, assemble
from bayespatial.models.sampling import (
    grid_terms,
    nuts_run,
    reject_unstable,
    sigma2_prior,
    spatial_distribution,
    zz,
)
from bayespatial.priors.spec import Priors, Uniform

EXACT_LOO_MAX_OBS = 200_000
"""Largest N for which exact LOO is computed at fit time (its cost is O(G N p^2), G <= 257)."""
EXACT_LOO_GRID = 256
"""Grid intervals of the exact-LOO quadrature over r (the sampler's grid, thinned). For an
influential observation p(r | y_-i) sits off p(r | y), so the integrand is less smooth
than the posterior: 65 points missed the dense oracle of `tests/models/test_loo.py` by
1e-4 on small two-way panels, 257 meet it. Where fewer points suffice (large panels:
p(r | y) is concentrated) `bayespatial.engine.loo_exact.pointwise` stops at a nested
65- or 129-point subgrid that agrees with the next coarser one to 1e-11."""


@float64
def fit(
    model: str,
    formula: str,
    data: pd.DataFrame,
    W: Weights,
    *,
    unit: str | None = None,
    time: str | None = None,
    fe: str | None = None,
    priors: Priors | None = None,
    durbin: bool | Sequence[str] | None = None,
    chains: int = 4,
    draws: int = 1000,
    warmup: int = 1000,
    seed: int = 0,
    logdet: str = "auto",
    sampler: str = "auto",
    errors: str = "gaussian",
    drop_initial: int = 0,
    ci: float = 0.95,
    progress: bool | None = None,
    eta: bool = True,
    stationarity: str = "enforce",
    bias_correction: str = "auto",
    islands: str = "raise",
    varying: dict | None = None,
    treat: str | None = None,
    treat_kind: str = "first",
    estimator: str = "imputation",
    spillover: bool | str = False,
    exposure: Weights | list | None = None,
    leads: int | None = None,
) -> SpatialFit | DIDFit:
    """Fit a spatial model and return its posterior.

    Parameters
    ----------
    model : {"ols", "slx", "sar", "sem", "sdm", "sdem", "dsdm", "did"}
        SAR: y = rho W y + X beta + e; SEM: y = X beta + u, u = lam W u + e;
        SDM/SDEM/SLX add W X theta for the ``durbin`` terms (LeSage & Pace
        2009, ch. 2; Elhorst 2014, ch. 2). DSDM adds tau y_{t-1} and
        eta W y_{t-1}, conditioning on the first period (Elhorst 2014, ch. 4).
    formula : str
        formulaic formula, e.g. ``"y ~ x1 + I(x1**2) + np.log(x2) + lag(x1, 1)"``.
    data : pandas.DataFrame
        Long panel (one row per unit and period) or a cross-section.
    W : Weights or None
        Spatial weights whose ids match the ``unit`` column; row-standardised
        here when it is not already (islands raise). None for "ols" (and "did"
        without spillovers): no spatial term reads it.
    unit, time : str
        Unit and period columns (omit ``time`` for a cross-section).
    fe : {"none", "unit", "time", "twoway"}
        Fixed effects, integrated out under flat priors (Lee & Yu 2010); None: "none"
        ("twoway" for did).
    priors : Priors, optional
        None gives the documented defaults (`bayespatial.priors.spec`).
    durbin : bool or list of str, optional
        Terms that also enter as W x (slx/sdm/sdem; default all but the intercept).
    chains, draws, warmup, seed : int
        Draws per chain after warm-up; ``seed`` makes the draws reproducible.
    logdet : str
        Log-determinant method (`bayespatial.engine.logdet`); "auto" picks by n.
    sampler : {"auto", "exact", "nuts"}
        "auto" uses the exact sampler where it applies (Gaussian errors and the
        conjugate prior), NUTS otherwise, and says why in ``fit.attrs``.
    errors : {"gaussian", "student_t"}
        Student-t errors (heteroskedasticity-robust, LeSage's sar_g) take the
        streaming likelihood and NUTS.
    drop_initial : int
        Periods dropped at the start (needed when the formula has ``lag(x, k)``).
    ci : float
        Default credible mass of the intervals in tables.
    progress : bool, optional
        Show the current step and NUTS's bar; None shows them in a terminal or a
        Jupyter notebook (`bayespatial.models.progress`), False silences them.
    eta : bool
        dsdm only: include W y_{t-1} (False gives the dynamic SAR/SDM without it).
    stationarity : {"enforce", "report"}
        dsdm only: restrict the prior to the stable region
        (`bayespatial.engine.dynamic`), or only report its posterior probability.
    bias_correction : {"auto", "analytic", "jackknife", "none"}
        dsdm with unit effects: move the posterior to the sampling distribution of
        the Nickell-bias-corrected estimator (Yu, de Jong & Lee 2008 with the exact
        T-period lagged-outcome term, solved at the corrected value, delta-method
        spread; "auto" does this for dsdm with unit or two-way effects, nothing
        elsewhere), shift it by the split-panel jackknife estimate, or leave it
        ("none": the plain posterior, whose tau is biased by O(1/T));
        `bayespatial.models.nickell.analytic_correction`, bias and coverage of each
        in BENCHMARKS.md; with ``varying=``, "auto" takes the jackknife.
        ``fit.attrs["bias_correction"]`` says which.
    islands : {"raise", "keep"}
        Units of W without neighbours raise by default; "keep" keeps them as zero
        rows of the row-standardised W (their W y and W x are 0). Not with time
        effects, whose transformation needs every row to sum to one.
    varying : dict, optional
        Partially pooled coefficients, e.g. ``{"x1": "region"}``: each named term gets
        one coefficient per group of the column (constant within unit), drawn from
        N(mu, omega^2) with omega estimated; a Durbin term's W x varies with it
        (`bayespatial.models.groups`). ``"Intercept"`` gives group intercepts where no
        unit effects absorb them (fe="none"; under fe="time" as deviations from the
        period effects). With omega = sigma tau the coefficients and sigma^2 integrate
        out: one varying coefficient is drawn exactly from a grid over (rho, log tau)
        (``sampler="exact"``, the default), several by NUTS on (rho, tau)
        (`bayespatial.models.pooled`); the default prior of tau is in
        `bayespatial.priors.spec`. dsdm: tau and eta stay common to all groups; the
        stable region is enforced by rejecting the grid's draws, or by mapping (tau, eta)
        onto it under NUTS (`bayespatial.models.pooled.Explicit`); the Nickell bias is
        corrected by the split-panel jackknife (the analytic correction is the QML
        estimator's). Tables:
        ``fit.varying()``, ``fit.contrasts()``, ``fit.effects(by=...)`` (short and long
        run for dsdm), ``fit.turning_point(x, by=...)``.

    treat : str, optional
        ``model="did"`` (staggered difference-in-differences, `bayespatial.models.did`):
        the column holding each unit's first treated period (0 or NaN: never treated;
        constant within unit), or with ``treat_kind="indicator"`` a 0/1 absorbing
        treatment. W may be None unless ``spillover`` needs it; ``fe`` is two-way.
    treat_kind : {"first", "indicator"}
        How ``treat`` codes the adoption.
    estimator : {"imputation", "twfe"}
        did: the Bayesian imputation estimator (Borusyak, Jaravel & Spiess 2024): the
        untreated-outcome model on never- and not-yet-treated cells, each treated cell's
        Y(0) imputed per draw, ATTs as posterior averages, leads as placebo; or the
        static and event-study two-way fixed-effects regressions (with the
        Goodman-Bacon decomposition) for comparison.
    spillover : {False, True, "share"}
        did: cells whose neighbours under W (or ``exposure``) are treated in the period
        are exposed (True: any neighbour; "share": the share of treated neighbours) and
        leave the controls; their effect is the "spillover" rows of ``fit.att()``.
    exposure : Weights or list of Weights, optional
        did: the weights that define exposure, when not W; a list of nested neighbour
        sets (distance bands of increasing threshold, `bsp.weights.distance_band`) gives
        rings: each exposed cell belongs to the innermost band holding a treated unit,
        and each ring has its own spillover effect (Butts 2023).
    leads : int, optional
        did, imputation: how many leads e = -2, -3, ..., -(L+1) enter the pre-trend check
        (None: all the controls identify; 0: none); e = -1 and the leads beyond L are the
        reference.

    Returns
    -------
    SpatialFit or DIDFit
        Its ``attrs`` record how it ran: ``seconds_prepare`` (W, data, log-determinant),
        ``seconds_sample``, ``seconds_exact_loo``, ``seconds_log_likelihood`` (the
        pointwise log-likelihood stored for LOO) and ``seconds_total`` (the full-panel
        run's parts under the jackknife); ``logdet_reused`` (1 when the log-determinant
        state came from an earlier fit on this W, whose ``init_s`` it reports);
        ``diagnostics`` (`SpatialFit.diagnostics`).

    Raises
    ------
    BayespatialError
        Bad input: unknown model or option, data not matching W, missing or
        non-finite values, rank-deficient designs, priors outside W's interval.
    """
    if isinstance(model, str) and model.lower() == "did":
        spatial = {
            "priors": (priors, None),
            "sampler": (sampler, "auto"),
            "errors": (errors, "gaussian"),
            "durbin": (durbin, None),
            "logdet": (logdet, "auto"),
            "drop_initial": (drop_initial, 0),
            "eta": (eta, True),
            "stationarity": (stationarity, "enforce"),
            "bias_correction": (bias_correction, "auto"),
            "islands": (islands, "raise"),
        }
        ignored = [k for k, (v, default) in spatial.items() if v != default]
        if ignored:
            raise ModelError(
                f"{ignored} are not options of model 'did' (the reference prior, exact draws, "
                "no spatial lag of y); the spatial DID with a 0/1 treatment in a spatial "
                "model is bsp.fit('sdm', 'y ~ D + x', ...)."
            )
        if varying is not None and (
            not isinstance(varying, dict)
            or set(varying) != {"att"}
            or not isinstance(varying["att"], str)
        ):
            raise ModelError(
                "model 'did' pools its ATTs by one grouping column: varying={'att': 'hub'}; "
                f"got varying={varying!r}."
            )
        return fit_did(
            formula, data, W, unit=unit, time=time, treat=treat, treat_kind=treat_kind,
            estimator=estimator, spillover=spillover, exposure_weights=exposure, leads=leads,
            fe=fe, chains=chains, draws=draws, seed=seed, ci=ci, progress=progress,
            group=None if varying is None else varying["att"],
        )  # fmt: skip
    did_only = {"treat": treat, "exposure": exposure, "leads": leads}
    given = [k for k, v in did_only.items() if v is not None]
    defaults = (("treat_kind", treat_kind, "first"), ("estimator", estimator, "imputation"))
    given += [k for k, v, d in defaults if v != d] + (["spillover"] if spillover else [])
    if given:
        raise ModelError(
            f"{given} are options of model 'did' (staggered difference-in-differences); "
            f"model {model!r} does not take them."
        )
    config = FitConfig.build(
        model,
        formula,
        unit=unit,
        time=time,
        fe="none" if fe is None else fe,
        durbin=durbin,
        priors=priors,
        chains=chains,
        draws=draws,
        warmup=warmup,
        seed=seed,
        logdet=logdet,
        sampler=sampler,
        errors=errors,
        drop_initial=drop_initial,
        ci=ci,
        progress=progress,
        eta=eta,
        stationarity=stationarity,
        bias_correction=bias_correction,
        islands=islands,
        varying=varying,
    )
    started = clock.perf_counter()
    with stages(f"bayespatial {config.model} fit", config.progress) as stage:
        full = run(config, data, W, stage)
        if config.bias_correction == "jackknife":
            stage.step("split-panel jackknife (two half-panel fits)")
            full = split_panel_jackknife(run, config, data, W, full)
        elif config.bias_correction == "analytic":
            stage.step("Nickell-bias correction")
            full = analytic_correction(full)
        elif config.dynamic and config.fe in ("unit", "twoway"):
            full = SpatialFit(
                with_attrs(full.idata, {"bias_correction": "none (Nickell bias not corrected)"})
            )
        log_lik_started = clock.perf_counter()
        if full.stores_log_likelihood():
            stage.step("pointwise log-likelihood (for LOO)")
            full = full.with_log_likelihood(progress=config.progress)
    finished = clock.perf_counter()
    seconds = {
        "seconds_log_likelihood": round(finished - log_lik_started, 3),
        "seconds_total": round(finished - started, 3),
    }
    for group in full.idata.groups():  # this fit's own idata: set in place, no copy
        full.idata[group].attrs.update(seconds)
    return full


def prepare_weights(W, islands: str = "raise") -> tuple[Weights, tuple]:
    """W as row-standardised `Weights` (the default of every fit), with a note if changed."""
    if not isinstance(W, Weights):
        raise WeightsError(
            f"W must be bayespatial Weights, not {type(W).__name__}; build it with "
            "bsp.weights.from_libpysal(w), from_sparse(matrix, ids) or contiguity(...)."
        )
    if W.transform == "row":  # standardised by the caller, islands already decided
        return W, ()
    if W.rows_sum_to_one():
        return W.row_standardize(islands=islands), ()
    return W.row_standardize(islands=islands), ("W row-standardised (rows sum to one)",)


def no_weights(config: FitConfig, data: pd.DataFrame) -> Weights:
    """An empty W (no unit has neighbours) for a model that has no spatial term.

    ``W=None`` is accepted for "ols": its likelihood and tables never read W, and the
    panel then takes the data's sorted unit ids as its order.
    """
    if config.kind != "none" or config.family.durbin or config.dynamic:
        raise WeightsError(
            f"model {config.model!r} has spatial terms and needs W (bayespatial Weights); "
            "W=None is for the non-spatial 'ols'."
        )
    if not isinstance(data, pd.DataFrame) or config.unit not in data.columns:
        return prepare_weights(None)[0]  # raises the usual message
    ids = Panel.from_frame(data, config.unit, config.time, balanced=False).units
    return Weights(sp.csr_matrix((len(ids), len(ids))), ids, "row")


def prepare(config: FitConfig, data: pd.DataFrame, W):
    """W, notes, panel, design, coefficient names, columns Z, their cross-products, `Varying`.

    The last is None unless ``config.varying`` splits terms by group
    (`bayespatial.models.pooled.split`).
    """
    if W is None:
        W, notes = no_weights(config, data), ("no spatial weights (W=None)",)
    else:
        W, notes = prepare_weights(W, config.islands)
    if config.fe in ("time", "twoway") and W.islands and W.sparse.nnz:
        isl = ", ".join(map(str, W.islands[:5])) + (" ..." if len(W.islands) > 5 else "")
        raise WeightsError(
            f"fe={config.fe!r} with islands (units without neighbours: {isl}): removing period "
            "effects by the Lee-Yu transformation needs every row of W to sum to one (W 1 = 1), "
            "which zero rows break, and the likelihood and LOO would be wrong. Drop the islands "
            "(W.subset and the matching rows), link them to their nearest unit, or use "
            "fe='unit' with the periods as dummies in the formula (+ C(year))."
        )
    panel = Panel.from_frame(data, config.unit, config.time, W=W, balanced=config.kind != "none")
    if not panel.balanced and config.errors != "gaussian":
        raise ModelError(
            f"errors={config.errors!r} needs a balanced panel (its likelihood is built on the "
            f"transformed (period, unit) array); this panel has {len(panel.frame)} of the "
            f"{panel.n * panel.T} unit-periods. Use Gaussian errors or a balanced window."
        )
    design = build_design(
        config.formula,
        panel,
        W,
        durbin=config.durbin,
        fe=config.fe,
        drop_initial=config.drop_initial,
        dynamic=config.dynamic,
    )
    names, Z = design_columns(design, W, config.eta)
    varying = None
    if config.varying:
        names, Z, varying = pooled.split(config, panel, design, W, names, Z)
    if design.cells is not None:  # unbalanced: the effects projected out on the cells
        cp = absorb.cross_products(design.y, Z, design.effects)
    else:
        cp = cross_products(design.y, Z, W, config.fe)
    return W, notes, panel, design, names, Z, cp, varying


def run(config: FitConfig, data: pd.DataFrame, W, stage=NO_STAGES) -> SpatialFit:
    """Run a validated configuration on data and W (``stage`` shows the current step)."""
    started = clock.perf_counter()
    stage.step("data, design and cross-products")
    W, notes, panel, design, names, Z, cp, varying = prepare(config, data, W)
    kind = config.kind
    state, interval = None, None
    ctx = context(W)
    if kind != "none":
        bounds = ctx.rho_bounds()
        spatial = config.priors.spatial
        interval = spatial.interval(bounds) if isinstance(spatial, Uniform) else bounds
        stage.step(f"log-determinant ({config.logdet}, n = {W.n:,})")
        reused = ctx.has_logdet(config.logdet)  # its info's init_s was paid by an earlier fit
        state = ctx.logdet(config.logdet)
    coef = config.priors.coef_prior(names, zz(cp), cp.nobs)  # raises on unknown terms
    if varying is None:
        sampler, reason = choose_sampler(config)
    else:
        sampler, reason = pooled.choose_sampler(config, varying)
        notes = (*notes, *pooled.few_groups_note(varying))
    stable = None
    if config.dynamic:
        w_min, w_max = ctx.extremes()
        stable = StabilityCheck(names.index("y_lag"), _index(names, "W_y_lag"), w_min, w_max)
    prepared = clock.perf_counter()
    grid = None
    stage.step(f"{sampler} sampler, {config.chains} x {config.draws} draws")
    pooled_checks = None
    if sampler == "exact" and varying is None:
        draws, stats, extra, grid = _run_exact(config, design, cp, coef, state, interval, stable)
    elif varying is not None:
        draws, stats, extra, pooled_checks = pooled.sample(
            config, design, Z, cp, varying, state, interval, stable
        )
    else:
        draws, stats, extra = _run_nuts(config, design, W, Z, cp, coef, state, interval, stable)
    exact_loo = None
    loo_started = clock.perf_counter()
    no_loo = _loo_unavailable(design)
    if no_loo:
        notes = (*notes, f"LOO not available: {no_loo}")
        extra = {**extra, "loo_unavailable": no_loo}
    elif sampler == "exact" and not config.dynamic and varying is None:
        if cp.nobs <= EXACT_LOO_MAX_OBS:
            stage.step("exact leave-one-out")
            try:
                exact_loo = _exact_loo(config, design, ctx, Z, cp, coef, *grid)
            except FloatingPointError as err:
                notes = (*notes, f"exact LOO not stored: {err}")
        else:
            notes = (*notes, f"exact LOO not stored (N > {EXACT_LOO_MAX_OBS:,}): use PSIS")
    sampled = clock.perf_counter()
    if config.dynamic:
        draws = _split_dynamic(draws, stable)
        extra = {**extra, "w_min": float(stable.w_min), "w_max": float(stable.w_max)}
    quadrature = None
    if kind == "lag":
        stage.step("effects quadrature")
        quadrature = ctx.quadrature(state)
    if pooled_checks is not None:
        checks = pooled_checks
    elif stats:
        owners = [] if varying is None else [name for name, _ in varying.owners]
        labels = [n for n in names if n not in ("y_lag", "W_y_lag")]  # tau, eta moved out
        checks = _warn_diagnostics(draws, stats, {"coef": labels, "omega": owners, "mu": owners})
    elif kind != "none":
        checks = convergence.grid_checks(grid[1], config.family.spatial, draws["sigma"].size)
        convergence.warn(checks)
    else:
        checks = []
    extra = {**extra, "diagnostics": convergence.to_attr(checks)}
    if state is not None:
        extra["logdet_reused"] = int(reused)
    timings = {
        "seconds_prepare": prepared - started,
        "seconds_sample": loo_started - prepared,
        "seconds_exact_loo": sampled - loo_started,
    }
    return assemble(
        config,
        panel,
        design,
        W,
        draws,
        stats,
        state=state,
        quadrature=quadrature,
        nobs=cp.nobs,
        sampler=sampler,
        sampler_reason=reason,
        notes=(*notes, *panel.notes, *design.notes),
        timings=timings,
        extra_attrs=extra,
        exact_loo=exact_loo,
        varying=varying,
    )


def _loo_unavailable(design) -> str:
    """Why no leave-one-out density exists for this design ("" when it does)."""
    if design.effects is None or design.effects.direct:
        return ""
    return (
        f"the leverage of each of the {design.effects.n_cells:,} cells under two-way effects "
        f"with both factors above {absorb.DIRECT_MAX:,} levels ({design.effects.levels}) "
        "would take one sparse solve per cell"
    )


class StabilityCheck(NamedTuple):
    """Where tau and eta sit among the coefficients, and W's spectrum interval."""

    tau: int
    """Column of y_{t-1}."""
    eta: int | None
    """Column of W y_{t-1} (None when the model has no eta)."""
    w_min: float
    """Smallest eigenvalue of W."""
    w_max: float
    """Largest eigenvalue of W (1 when row-standardised)."""

    def __call__(self, coef, rho, xp=np):
        """Whether each draw is stable (`bayespatial.engine.dynamic.stationary`)."""
        eta = 0.0 if self.eta is None else coef[..., self.eta]
        return stationary(coef[..., self.tau], rho, eta, self.w_min, self.w_max, xp)


def _index(names, name):
    return names.index(name) if name in names else None


def _split_dynamic(draws: dict, stable: StabilityCheck) -> dict:
    """Move tau and eta out of the coefficient draws into their own variables.

    They follow the other fixed columns; a varying fit's group blocks come after them
    (`bayespatial.models.groups.varying_columns`) and move left.
    """
    coef = draws["coef"]
    out = dict(draws)
    out["tau"] = coef[..., stable.tau]
    columns = [stable.tau]
    if stable.eta is not None:
        out["eta"] = coef[..., stable.eta]
        columns.append(stable.eta)
    out["coef"] = np.delete(coef, columns, axis=-1)
    return out


def choose_sampler(config: FitConfig) -> tuple[str, str]:
    """The sampler to use and why ("exact" needs Gaussian errors and the conjugate prior)."""
    conjugate = config.priors.is_conjugate()
    gaussian = config.errors == "gaussian"
    if config.sampler == "exact":
        if not conjugate:
            raise ModelError(
                "sampler='exact' needs a conjugate coefficient prior (Flat or ZellnerG); the "
                "priors given are not conjugate: use sampler='nuts' or the default."
            )
        return "exact", "requested"
    if config.sampler == "nuts":
        return "nuts", "requested"
    if not gaussian:
        return "nuts", "Student-t errors have no conjugate posterior"
    if not conjugate:
        warnings.warn(
            "the coefficient priors given are not conjugate (normal-inverse-gamma), so the "
            "exact sampler does not apply; sampling with NUTS instead. Pass sampler='nuts' "
            "to silence this.",
            SamplerChoiceWarning,
            stacklevel=user_stacklevel(),
        )
        return "nuts", "non-conjugate coefficient prior"
    return "exact", "Gaussian errors with the conjugate prior: independent draws"


def _run_exact(config, design, cp, coef, state, interval, stable=None):
    """Exact draws; for dsdm, non-stationary draws are rejected when stationarity is enforced.

    Rejection is exact: the posterior under the prior restricted to the stable
    region is the unrestricted posterior restricted to it. The acceptance rate
    estimates the posterior probability of the stable region (reported).
    """
    total = config.chains * config.draws
    rng = np.random.default_rng(config.seed)
    out = _exact_batch(config, design, cp, coef, state, interval, total, rng)
    grid = (out.grid, out.log_density)  # the posterior of r the draws came from
    if stable is None:
        return _shape_exact(config, out), {}, {}, grid
    ok = np.asarray(stable(out.beta, out.spatial))
    if config.stationarity == "report":
        return (
            _shape_exact(config, out),
            {},
            {"p_stationary": float(ok.mean()), "p_stationary_draws": total},
            grid,
        )
    out, extra = reject_unstable(
        out,
        lambda size: _exact_batch(config, design, cp, coef, state, interval, size, rng),
        lambda o: np.asarray(stable(o.beta, o.spatial)),
        total,
        ("spatial", "sigma", "beta"),
    )
    return _shape_exact(config, out), {}, extra, grid


def _shape_exact(config, out) -> dict:
    shape = (config.chains, config.draws)
    draws = {"coef": out.beta.reshape(*shape, -1), "sigma": out.sigma.reshape(shape)}
    if config.kind != "none":
        draws[config.family.spatial] = out.spatial.reshape(shape)
    return draws


def _exact_batch(config, design, cp, coef, state, interval, total, rng):
    """``total`` independent draws from the unrestricted conjugate posterior."""
    nig = _nig(config, cp, design, coef)
    if config.kind == "none":
        return sample_regression(cp, nig, total, rng)
    return sample(cp, nig, interval, *grid_terms(config, state, interval), total, rng, config.kind)


def _nig(config, cp, design, coef) -> NIGPrior:
    """The conjugate prior as numbers on this data."""
    return NIGPrior(
        coef.nig_mean,
        coef.nig_precision,
        *sigma2_prior(config, cp, design),
        int(coef.flat_mask.sum()),
    )


def _exact_loo(config, design, ctx, Z, cp, coef, grid, log_density) -> np.ndarray:
    """Exact log p(y_it | y_-it) (T, n) by `bayespatial.engine.loo_exact` (no refits).

    Exact where the likelihood factors as p(y_-i | theta) p(y_i | y_-i, theta):
    Gaussian errors, the conjugate prior and no dynamic terms (fixed effects
    integrated out as in `bayespatial.engine.loo`). Dynamic fits are left out:
    y_it is also a regressor of period t + 1, so deleting its factor is not
    leave-one-out, and stationarity rejection changes the posterior of r.
    The quadrature over r reuses the exact sampler's grid, thinned to at most
    `EXACT_LOO_GRID` + 1 points.
    """
    kind = "lag" if config.kind == "none" else config.kind
    if grid.size == 1:  # no spatial parameter: r = 0
        log_w = np.zeros(1)
    else:
        stride = max(1, (grid.size - 1) // EXACT_LOO_GRID)
        grid, log_density = grid[::stride], log_density[::stride]
        log_w = loo_exact.trapezoid_log_weights(grid, log_density)
    if design.cells is not None:
        basis = cell_basis(design.y, Z, design.effects)
    else:
        basis = init_basis(design.y, Z, ctx.operator(), kind, config.fe)
    post = posterior_terms(cp, _nig(config, cp, design, coef), grid, kind)
    return loo_exact.pointwise(
        np.asarray(basis.arrays), np.asarray(basis.qpoly), kind, grid, log_w, post
    )


def _run_nuts(config, design, W, Z, cp, coef, state, interval, stable=None):
    """NUTS on the Gaussian (sufficient statistics) or Student-t (streaming) model."""
    model, rows = gaussian_model, None
    if config.errors == "student_t":
        model, rows = student.student_model, student.transformed_rows(design.y, Z, W, config.fe)
    enforce = stable is not None and config.stationarity == "enforce"
    data = ModelData(
        cp=cp,
        coef=coef,
        sigma2_prior=sigma2_prior(config, cp, design),
        kind=config.kind,
        spatial_prior=None
        if config.kind == "none"
        else spatial_distribution(config.priors.spatial, interval),
        logdet=None if state is None else partial(logdet_engine.apply, state),
        constraint=stable if enforce else None,
        rows=rows,
    )
    with numpyro.validation_enabled(False):
        samples, stats = nuts_run(model, config, data)
    names = ["coef", "sigma", "nu"]
    if config.kind != "none":
        names.append(config.family.spatial)
    draws = {k: samples[k] for k in names if k in samples}
    extra_attrs = {}
    if stable is not None and not enforce:
        ok = np.asarray(stable(draws["coef"], draws[config.family.spatial]))
        extra_attrs = {"p_stationary": float(ok.mean()), "p_stationary_draws": ok.size}
    elif enforce and config.errors == "gaussian" and config.priors.is_conjugate():
        # P(stable | y) of the unrestricted posterior, from independent exact draws
        rng = np.random.default_rng(config.seed)
        out = _exact_batch(config, design, cp, coef, state, interval, 4000, rng)
        ok = np.asarray(stable(out.beta, out.spatial))
        extra_attrs = {"p_stationary": float(ok.mean()), "p_stationary_draws": ok.size}
    elif enforce:
        extra_attrs = {"p_stationary": "not estimated (non-conjugate model under the constraint)"}
    return draws, stats, extra_attrs


def _warn_diagnostics(draws: dict, stats: dict, labels: dict | None = None) -> list[dict]:
    """NUTS checks (`bayespatial.models.convergence`): warn saying what to do, return the rows."""
    rows = convergence.nuts_checks(draws, stats, labels)
    convergence.warn(rows)
    return rows

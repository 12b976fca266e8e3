"""Mediation with spatial spillovers: ``bsp.mediation(...)`` and its `Mediation` result.

Equations (one per mediator M_k, and the outcome; any family of `bayespatial.fit`
without dynamics, the same for all of them)::

    M_k = a_k X + controls [+ theta_ak W X + rho_Mk W M_k | lam W u ...] + e_Mk
    Y   = c' X + sum_k b_k M_k + controls [+ W-lagged terms, rho_Y W Y ...] + e_Y

The errors of the equations are assumed independent (sequential ignorability with
no common unobserved cause of M and Y beyond the regressors; Imai, Keele & Tingley
2010, *Psychological Methods* 15, 309-334): the equations share no parameter, so the
joint posterior is the product of the equations' posteriors, and each is
`bayespatial.fit`'s (exact independent draws under its default priors), paired draw by
draw.

Causal-mediation quantities per draw (Imai, Keele & Tingley 2010; Stata's ``mediate``):
``nie`` (natural indirect effect a_k b_k, summed over mediators in the ``all`` rows),
``nde`` (natural direct effect c'), ``te`` = nie + nde and ``pm`` = nie / te. With a
spatial model each is a LeSage-Pace impact of X on Y: the mediator's multiplier and
the outcome's compose per draw,

    NIE = (I - rho_Y W)^-1 (b I + theta_b W) (I - rho_M W)^-1 (a I + theta_a W),
    NDE = (I - rho_Y W)^-1 (c' I + theta_c W),

all functions of W, so the direct impact is the spectral average (1/n) sum_i f(lambda_i)
of f(lambda) = (b + theta_b lambda)(a + theta_a lambda) / ((1 - rho_Y lambda)(1 - rho_M
lambda)) over W's eigenvalues (or the probed quadrature of large W;
`bayespatial.engine.effects`), the total impact f(1) (rows of W sum to one), the
indirect impact their difference. Error models (SEM, SDEM) have no multiplier (rho = 0).

Suppression (MacKinnon, Krull & Lockwood 2000, *Prevention Science* 1, 173-181): the
indirect and direct effects have opposite signs. `Mediation.suppression` reports
P(sign(nie) != sign(nde)) and the suppressed share |nie| / |nde| over the draws where
they do (how much of the direct effect the mediator offsets; the study's ~6%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayespatial.data.errors import ModelError
from bayespatial.data.families import FAMILIES
from bayespatial.engine.effects import check_row_stochastic, init_quadrature
from bayespatial.models.result import equal_tailed

MEDIATION_FAMILIES = ("ols", "slx", "sar", "sdm", "sem", "sdem")
"""Families of the equations (the dynamic SDM's long-run composition is not done)."""
QUANTITIES = ("nie", "nde", "te", "pm")


def mediation(
    data: pd.DataFrame,
    W,
    *,
    treatment: str,
    mediator: str | Sequence[str],
    outcome: str,
    controls: Sequence[str] = (),
    model: str = "ols",
    unit: str | None = None,
    time: str | None = None,
    fe: str = "none",
    chains: int = 4,
    draws: int = 1000,
    seed: int = 0,
    ci: float = 0.95,
    progress: bool | None = None,
    varying: str | None = None,
) -> Mediation:
    """Fit the mediator and outcome equations and return their mediation posterior.

    ``model``: one of `MEDIATION_FAMILIES` for every equation (W may be None for
    "ols"); ``mediator`` one column or several; ``fe``, ``unit``, ``time`` as in
    `bayespatial.fit`. The equations' errors are independent (module docstring).
    ``varying``: a grouping column (constant within unit, e.g. city size or east/west):
    a, b and c' vary by its groups, partially pooled (`bayespatial.fit`'s ``varying=``),
    and `Mediation.effects_by_group` gives each group's quantities (model "ols").
    """
    from bayespatial.models.fit import fit

    model = str(model).lower()
    if model not in MEDIATION_FAMILIES:
        raise ModelError(f"model={model!r}: mediation is available for {list(MEDIATION_FAMILIES)}.")
    mediators = [mediator] if isinstance(mediator, str) else list(mediator)
    controls = list(controls)
    named = [treatment, *mediators, outcome, *controls]
    columns = [part for c in named for part in c.split(":")]  # interactions x:z of columns
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ModelError(f"column(s) {absent} not in the data; available: {list(data.columns)}.")
    if len(set(named)) < len(named):
        raise ModelError(
            f"treatment, mediators, outcome and controls must be distinct columns; got {named}."
        )
    if varying is not None and model != "ols":
        raise ModelError(
            "mediation by group (varying=) composes group coefficients for model='ols'; the "
            "spatial families' group impacts are not composed yet."
        )
    if W is None and model != "ols":
        raise ModelError(f"model={model!r} has spatial terms: it needs the spatial weights W.")
    common = {"unit": unit, "time": time, "fe": fe, "chains": chains, "draws": draws,
              "ci": ci, "progress": progress}  # fmt: skip
    rhs = " + ".join([treatment, *controls])
    fits = {}
    for j, m in enumerate(mediators):
        by = {"varying": {treatment: varying}} if varying else {}
        fits[m] = fit(model, f"{m} ~ {rhs}", data, W, seed=seed + 1 + j, **common, **by)
    out_rhs = " + ".join([treatment, *mediators, *controls])
    by = {"varying": {t: varying for t in (treatment, *mediators)}} if varying else {}
    fits[outcome] = fit(model, f"{outcome} ~ {out_rhs}", data, W, seed=seed, **common, **by)
    return Mediation(fits, treatment, tuple(mediators), outcome, model, ci, W, varying)


@dataclass(frozen=True, eq=False)
class Mediation:
    """The equations' fits and the mediation quantities computed from their draws."""

    fits: dict
    """Fits by the column they explain: each mediator, then the outcome."""
    treatment: str
    mediators: tuple
    outcome: str
    model: str
    ci: float
    W: object = None
    varying: str | None = None
    """The grouping column of group-varying a, b and c' (None: common coefficients)."""
    _memo: dict = field(default_factory=dict, repr=False, compare=False)
    """What is computed once per result (W's spectral quadrature)."""

    def _coef(self, fit, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Draws of (beta, theta) of ``term`` (theta 0 without a W-lag)."""
        terms = [str(t) for t in fit.idata.posterior["term"].values]
        j = terms.index(term)
        beta = fit.draws("beta")[:, j]
        theta = fit.draws("theta")[:, j] if "theta" in fit.idata.posterior else np.zeros_like(beta)
        return beta, theta

    def _rho(self, fit) -> np.ndarray:
        post = fit.idata.posterior
        return fit.draws("rho") if "rho" in post else np.zeros(fit.draws("beta").shape[0])

    def _spectrum(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and weights of W's spectral quadrature, once per result.

        A fit's stored one where kept (lag models), else computed from W.
        """
        if "spectrum" not in self._memo:
            stored = [f.spectral_terms() for f in self.fits.values()]
            stored = [s for s in stored if s is not None]
            W = self.W.row_standardize()
            check_row_stochastic(W.sparse)
            q = stored[0][0] if stored else init_quadrature(W)
            self._memo["spectrum"] = (np.asarray(q.nodes), np.asarray(q.weights))
        return self._memo["spectrum"]

    def draws(self) -> dict:
        """Draws of each quantity: {(quantity, mediator, impact): array (S,)}.

        ``mediator`` is a mediator's name or "all" (nie summed over mediators); ``impact``
        "direct", "indirect", "total" for spatial models, "effect" otherwise. With
        ``varying``: the unit-weighted average of the groups' quantities (pm the ratio of
        the averages).
        """
        if self.varying is not None:  # the units' average of the groups' quantities
            _, sizes, series = self._group_series()
            w = sizes / sizes.sum()
            out = {(q, m, "effect"): v @ w for (q, m), v in series.items() if q != "pm"}
            nie, te = out[("nie", "all", "effect")], out[("te", "all", "effect")]
            out[("pm", "all", "effect")] = nie / te
            return out
        y = self.fits[self.outcome]
        c, theta_c = self._coef(y, self.treatment)
        rho_y = self._rho(y)
        spatial = FAMILIES[self.model].kind != "none" or FAMILIES[self.model].durbin
        if spatial:
            nodes, weights = self._spectrum()

        def impacts(f_of):
            if not spatial:
                return {"effect": f_of(0.0, only_direct=True)}
            direct = np.real(np.sum(weights * f_of(nodes[None, :]), axis=-1))
            total = np.real(f_of(np.ones((1, 1))))[:, 0]
            return {"direct": direct, "indirect": total - direct, "total": total}

        def nde_f(lam, only_direct=False):
            if only_direct:
                return c
            return (c[:, None] + theta_c[:, None] * lam) / (1 - rho_y[:, None] * lam)

        out = {}
        nie_all = None
        for m in self.mediators:
            a, theta_a = self._coef(self.fits[m], self.treatment)
            b, theta_b = self._coef(y, m)
            rho_m = self._rho(self.fits[m])

            def nie_f(lam, only_direct=False, a=a, b=b, ta=theta_a, tb=theta_b, rm=rho_m):
                if only_direct:
                    return a * b
                outer = (b[:, None] + tb[:, None] * lam) / (1 - rho_y[:, None] * lam)
                inner = (a[:, None] + ta[:, None] * lam) / (1 - rm[:, None] * lam)
                return outer * inner

            nie = impacts(nie_f)
            for impact, v in nie.items():
                out[("nie", m, impact)] = v
            nie_all = nie if nie_all is None else {k: nie_all[k] + nie[k] for k in nie}
        nde = impacts(nde_f)
        for impact in nde:
            out[("nie", "all", impact)] = nie_all[impact]
            out[("nde", "all", impact)] = nde[impact]
            out[("te", "all", impact)] = nie_all[impact] + nde[impact]
            out[("pm", "all", impact)] = nie_all[impact] / (nie_all[impact] + nde[impact])
        return out

    def effects(self, ci: float | None = None) -> pd.DataFrame:
        """Tidy: quantity (nie, nde, te, pm), mediator, [impact], mean, sd, lower, upper.

        ``pm`` = nie / te is a ratio: its draws have heavy tails where te is near 0, so
        read its interval (and median) rather than its mean there.
        """
        ci = self.ci if ci is None else ci
        rows = []
        for (quantity, mediator, impact), v in self.draws().items():
            lo, hi = equal_tailed(v, ci)
            rows.append(
                {"quantity": quantity, "mediator": mediator, "impact": impact,
                 "mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)), "lower": lo,
                 "upper": hi}
            )  # fmt: skip
        table = pd.DataFrame(rows)
        table["order"] = table["quantity"].map({q: i for i, q in enumerate(QUANTITIES)})
        table = table.sort_values(["order", "mediator"], kind="stable").drop(columns="order")
        if set(table["impact"]) == {"effect"}:
            table = table.drop(columns="impact")
        return table.reset_index(drop=True)

    def effects_by_group(self, ci: float | None = None) -> pd.DataFrame:
        """Each group's nie (a_g b_g, per mediator and summed), nde (c'_g), te and pm.

        Tidy: quantity, mediator, group, mean, sd, lower, upper (a fit with ``varying=``).
        The group coefficients are partially pooled in each equation; their draws pair by
        draw as the equations' errors are independent.
        """
        ci = self.ci if ci is None else ci
        labels, _, series = self._group_series()
        rows = []
        for (quantity, mediator), v in series.items():
            for g, label in enumerate(labels):
                lo, hi = equal_tailed(v[:, g], ci)
                rows.append(
                    {"quantity": quantity, "mediator": mediator, "group": label,
                     "mean": float(v[:, g].mean()), "sd": float(v[:, g].std(ddof=1)),
                     "lower": lo, "upper": hi}
                )  # fmt: skip
        return pd.DataFrame(rows)

    def _group_series(self):
        """(group labels, units per group, {(quantity, mediator): draws (S, G)})."""
        if self.varying is None:
            raise ModelError("effects by group need bsp.mediation(..., varying='column').")
        y = self.fits[self.outcome]

        def group_draws(fit, term):
            post = fit.idata.posterior
            names = [str(v) for v in post["varying"].values]
            return fit.draws("beta_group")[:, names.index(term), :]

        labels = list(y.idata.posterior["group"].values)
        c = group_draws(y, self.treatment)
        series = {}
        nie_all = 0.0
        for m in self.mediators:
            nie = group_draws(self.fits[m], self.treatment) * group_draws(y, m)
            series[("nie", m)] = nie
            nie_all = nie_all + nie
        series[("nie", "all")] = nie_all
        series[("nde", "all")] = c
        series[("te", "all")] = nie_all + c
        series[("pm", "all")] = nie_all / (nie_all + c)
        sizes = np.bincount(
            y.idata.constant_data["group_of_unit"].values, minlength=len(labels)
        ).astype(float)
        return labels, sizes, series

    def moderated(self, moderator: str, at=(), ci: float | None = None) -> pd.DataFrame:
        """Moderated mediation: the first stage moderated by z, a(z) = a1 + a3 z.

        Hayes (2015, *Multivariate Behavioral Research* 50, 1-22), with x:z among the
        controls (``controls=["z", "x:z"]``).

        Rows: ``index`` (a3 b: the index of moderated mediation, per mediator; zero means
        the indirect effect does not depend on z) and ``conditional`` (a(z) b at each value
        of ``at``). Columns quantity, mediator, z, mean, sd, lower, upper, p_positive.
        Non-spatial models (the spatial composition at given z is not done).
        """
        from bayespatial.models.moderation import interaction_terms

        if FAMILIES[self.model].kind != "none" or FAMILIES[self.model].durbin:
            raise ModelError("moderated mediation is composed for model='ols'.")
        ci = self.ci if ci is None else ci
        y = self.fits[self.outcome]
        rows = []

        def row(quantity, mediator, z, v):
            lo, hi = equal_tailed(v, ci)
            return {"quantity": quantity, "mediator": mediator, moderator: z,
                    "mean": float(v.mean()), "sd": float(v.std(ddof=1)), "lower": lo,
                    "upper": hi, "p_positive": float(np.mean(v > 0))}  # fmt: skip

        for m in self.mediators:
            fm = self.fits[m]
            terms = [str(t) for t in fm.idata.posterior["term"].values]
            inter = interaction_terms(terms, self.treatment, moderator)
            if not inter:
                raise ModelError(
                    f"the {m!r} equation has no {self.treatment}:{moderator} term: pass "
                    f"controls=[{moderator!r}, '{self.treatment}:{moderator}', ...]."
                )
            a1, _ = self._coef(fm, self.treatment)
            a3, _ = self._coef(fm, inter[0])
            b, _ = self._coef(y, m)
            rows.append(row("index", m, np.nan, a3 * b))
            rows += [row("conditional", m, float(z), (a1 + a3 * z) * b) for z in at]
        return pd.DataFrame(rows)

    def suppression(self, ci: float | None = None) -> pd.DataFrame:
        """P(nie and nde of opposite signs) and the suppressed share |nie| / |nde|.

        Columns [impact], p_opposite, share_median, share_lower, share_upper: the share's
        posterior over the draws with opposite signs (MacKinnon, Krull & Lockwood 2000;
        NaN where no draw has them).
        """
        ci = self.ci if ci is None else ci
        d = self.draws()
        rows = []
        impacts = [k[2] for k in d if k[0] == "nde"]
        for impact in impacts:
            nie, nde = d[("nie", "all", impact)], d[("nde", "all", impact)]
            opposite = np.sign(nie) != np.sign(nde)
            share = np.abs(nie[opposite]) / np.abs(nde[opposite])
            lo, hi = equal_tailed(share, ci) if share.size > 1 else (np.nan, np.nan)
            rows.append(
                {"impact": impact, "p_opposite": float(opposite.mean()),
                 "share_median": float(np.median(share)) if share.size else np.nan,
                 "share_lower": lo, "share_upper": hi}
            )  # fmt: skip
        table = pd.DataFrame(rows)
        return table.drop(columns="impact") if impacts == ["effect"] else table

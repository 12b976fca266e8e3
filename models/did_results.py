"""`DIDFit`: the posterior of a staggered DID (`bayespatial.models.did`) and its tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from bayespatial.data.errors import ModelError
from bayespatial.models.result import FitResult, equal_tailed, register

BY = ("overall", "cohort", "event", "period", "group")
"""Aggregations of `DIDFit.att`."""
UNCERTAINTY = ("predictive", "mean")
"""Y(0) drawn from the posterior predictive (default), or at its posterior mean."""


@register("did")
@dataclass(frozen=True, eq=False)
class DIDFit(FitResult):
    """A DID fit: ``att(by=...)``, ``pretrend()``, ``bacon()`` (TWFE), ``cell_effects()``."""

    OBS_LABEL = "(cell)"

    @property
    def estimator(self) -> str:
        """The estimator: "imputation" or "twfe"."""
        return self.attrs["estimator"]

    def _estimands(self) -> pd.DataFrame:
        cd = self.idata.constant_data
        table = pd.DataFrame(
            {
                "by": cd["estimand_by"].values.astype(str),
                "key": cd["estimand_key"].values.astype(str),
                "effect": cd["estimand_effect"].values.astype(str),
                "n": cd["estimand_n"].values.astype(int),
                "ring": cd["estimand_ring"].values.astype(int),
            }
        )
        periods = {str(p): p for p in cd["time"].values.tolist()}
        groups = {str(g): g for g in cd["group"].values.tolist()} if "group" in cd.coords else {}
        table["key"] = [
            "overall"
            if by == "overall"
            else int(k)
            if by == "event"
            else groups.get(k, k)
            if by == "group"
            else periods.get(k, k)
            for by, k in zip(table["by"], table["key"], strict=True)
        ]
        return table

    def att(
        self,
        by: str = "overall",
        ci: float | None = None,
        uncertainty: str = "predictive",
        pooled: bool = True,
    ) -> pd.DataFrame:
        """Average treatment effects on the treated: by, key, [effect], mean, sd, lower, upper, n.

        ``by``: "overall" (one row per effect; ``key`` "overall"), "cohort" (``key`` the
        first treated period), "event" (``key`` e = periods since adoption; the imputation
        estimator adds the leads e <= -2 from the untreated model with lead dummies, e = -1
        their reference, as placebo estimates), "period" (calendar period). Equal weight
        per treated cell (``n`` cells); the spillover rows average the exposed untreated
        cells (with ``spillover="share"``: the effect of full exposure, a slope through the
        origin), counting cohorts and event time from the first exposure (to any ring).

        ``uncertainty``: "predictive" (default) draws each treated cell's Y(0) from the
        posterior predictive, the posterior of the sample ATT mean(Y(1) - Y(0)); "mean"
        takes Y(0) at its posterior mean (narrower: the treated cells' own noise left out;
        `bayespatial.models.did` says why the default). ``effect`` is a column when
        spillovers are modelled, ``ring`` (1 = innermost) when exposure comes in rings.
        ``ci``: credible mass (default the fit's).

        ``by="group"`` (a fit with ``varying={"att": column}``): the group ATTs partially
        pooled towards their common mean (`bayespatial.models.did`), then the rows ``key``
        "mu" (the pooled mean) and "omega" (the between-group sd); ``pooled=False`` gives
        the separate (unpooled) group ATTs instead. `contrasts` compares the groups.
        """
        if by not in BY:
            raise ModelError(f"by={by!r} is not one of {list(BY)}.")
        if uncertainty not in UNCERTAINTY:
            raise ModelError(f"uncertainty={uncertainty!r} is not one of {list(UNCERTAINTY)}.")
        ci = self.attrs.get("ci", 0.95) if ci is None else ci
        name = "att" if uncertainty == "predictive" else "att_imputed"
        if name not in self.idata.posterior:
            raise ModelError(
                f"uncertainty='mean' applies to the imputation estimator; the {self.estimator} "
                "fit has one posterior of its coefficients (uncertainty='predictive')."
            )
        if by == "group" and pooled and "att_group" in self.idata.posterior:
            return self._pooled_groups(ci)
        est = self._estimands()
        rows = np.flatnonzero(est["by"] == by)
        if rows.size == 0:
            have = sorted(set(est["by"]))
            raise ModelError(
                f"this {self.estimator} fit has no ATT by {by!r}; it has {have}"
                + (
                    " (the static TWFE coefficient is one overall number; its event study the "
                    "event rows: fit estimator='imputation' for cohorts and periods)"
                    if self.estimator == "twfe"
                    else ""
                )
                + "."
            )
        draws = self.draws(name)
        out = [
            _row(by, est["key"][j], est["effect"][j], draws[:, j], est["n"][j], ci, est["ring"][j])
            for j in rows
        ]
        if by == "event" and "lead" in self.idata.posterior:
            leads = self.draws("lead")
            events = self.idata.posterior["lead_event"].values
            counts = self.idata.constant_data["lead_n"].values
            out += [
                _row("event", int(e), "direct", leads[:, j], int(counts[j]), ci, 0)
                for j, e in enumerate(events)
            ]
        table = pd.DataFrame(out)
        if by == "event":
            order = np.lexsort(
                (table["key"].to_numpy(dtype=int), table["ring"], table["effect"].to_numpy())
            )
            table = table.iloc[order].reset_index(drop=True)
        return self._tidy(table)

    def _pools(self):
        """(pool labels, effect and ring of each pool, group labels, draws (S, pool, group))."""
        post = self.idata.posterior
        pools = [str(p) for p in post["pool"].values]
        digits = "0123456789"
        split = [(p.rstrip(digits), int(p[len(p.rstrip(digits)) :] or 0)) for p in pools]
        return pools, split, post["group"].values.tolist(), self.draws("att_group")

    def _pooled_groups(self, ci: float) -> pd.DataFrame:
        _, split, labels, draws = self._pools()
        est = self._estimands().query("by == 'group'")
        mu, omega = self.draws("group_mu"), self.draws("group_omega")
        out = []
        for j, (eff, ring) in enumerate(split):
            mine = est[(est["effect"] == eff) & (est["ring"] == ring)].set_index("key")
            for g, label in enumerate(labels):
                if label in mine.index:
                    n = mine.loc[label, "n"]
                    out.append(_row("group", label, eff, draws[:, j, g], n, ci, ring))
            total = int(mine["n"].sum())
            out.append(_row("group", "mu", eff, mu[:, j], total, ci, ring))
            out.append(_row("group", "omega", eff, omega[:, j], total, ci, ring))
        return self._tidy(pd.DataFrame(out))

    def _tidy(self, table: pd.DataFrame) -> pd.DataFrame:
        """Drop the ring and effect columns where the fit has no rings or no spillovers."""
        if not self.attrs.get("rings", 0):
            table = table.drop(columns="ring")
        if self.attrs.get("spillover", "False") == "False":
            table = table.drop(columns="effect")
        return table

    def contrasts(self, ci: float | None = None) -> pd.DataFrame:
        """Pairwise differences of the pooled group ATTs.

        Columns [effect], group_a, group_b, mean, sd, lower, upper of ATT_a - ATT_b, and
        p_greater = P(ATT_a > ATT_b | data) (the share of draws).
        """
        if "att_group" not in self.idata.posterior:
            raise ModelError(
                "group contrasts need partially pooled group ATTs: fit with varying={'att': "
                "column}."
            )
        ci = self.attrs.get("ci", 0.95) if ci is None else ci
        _, split, labels, draws = self._pools()
        rows = []
        for j, (eff, ring) in enumerate(split):
            for a, b in combinations(range(len(labels)), 2):
                diff = draws[:, j, a] - draws[:, j, b]
                if not np.isfinite(diff).all():
                    continue
                lo, hi = equal_tailed(diff, ci)
                rows.append(
                    {"effect": eff, "ring": ring, "group_a": labels[a], "group_b": labels[b],
                     "mean": float(diff.mean()), "sd": float(diff.std(ddof=1)), "lower": lo,
                     "upper": hi, "p_greater": float(np.mean(diff > 0))}
                )  # fmt: skip
        return self._tidy(pd.DataFrame(rows))

    def pretrend(self) -> pd.DataFrame:
        """Joint checks that the leads are zero: test, statistic, df1, df2, p_value, what.

        ``posterior``: the posterior mass outside the smallest highest-density region of
        the lead coefficients that contains zero (exact: under the reference prior their
        posterior is multivariate t, and this mass equals the homoskedastic F test's
        p-value); ``wald_cluster``: the Wald test clustered by unit as Borusyak, Jaravel &
        Spiess (2024) run their Test 1 (and diff-diff's ``pretrend_test``), F(L, G - 1).
        Small values speak against parallel pre-trends. The lead estimates are the rows
        e <= -2 of ``att(by="event")``.
        """
        if "pretrend" not in self.attrs:
            raise ModelError(
                "this fit has no leads: pre-trends are checked by the imputation estimator "
                "with leads (leads=None or a positive number, and periods before e = -1)."
            )
        return pd.DataFrame(json.loads(self.attrs["pretrend"]))

    def bacon(self) -> pd.DataFrame:
        """Goodman-Bacon (2021) decomposition of the static TWFE coefficient (TWFE fits).

        Columns type (treated_vs_never, earlier_vs_later, later_vs_earlier: the last the
        forbidden comparisons with already-treated controls), treated and control (the
        cohorts' first treated periods, "never"), estimate, weight; sum(weight *
        estimate) is the static TWFE coefficient (`bayespatial.engine.bacon`).
        """
        if "bacon" not in self.attrs:
            why = [n for n in self.notes if "Goodman-Bacon" in n]
            raise ModelError(
                "no Goodman-Bacon decomposition on this fit: "
                + (why[0] if why else "it is computed for estimator='twfe'")
                + "."
            )
        return pd.DataFrame(json.loads(self.attrs["bacon"]))

    def cell_effects(self) -> pd.DataFrame:
        """Posterior mean effect of every treated (and exposed) cell: unit, time, effect, tau.

        tau = y - E[Y(0) | data], the imputation estimator's cell effect (BJS 2024, eq. 5).
        """
        if "tau_hat" not in self.idata.constant_data:
            raise ModelError("cell effects come from the imputation estimator.")
        cd = self.idata.constant_data
        obs = cd["target_obs"].values
        units = self.idata.constant_data["unit"].values
        periods = self.idata.constant_data["time"].values
        return pd.DataFrame(
            {
                self.attrs["unit_column"]: units[cd["cell_unit"].values[obs]],
                self.attrs["time_column"]: periods[cd["cell_time"].values[obs]],
                "effect": cd["target_effect"].values.astype(str),
                "tau": cd["tau_hat"].values,
            }
        )

    def loo(self, *_, **__):
        """Not defined for a DID: its estimands are averages of effects, not a predictive fit."""
        raise ModelError(
            "LOO compares predictive models of one outcome; a DID fit holds the posterior of "
            "treatment effects. Compare spatial specifications of the outcome with bsp.fit "
            "and fit.loo() instead."
        )


def _row(by, key, effect, values, n, ci, ring) -> dict:
    lo, hi = equal_tailed(values, ci)
    return {
        "by": by,
        "key": key,
        "effect": effect,
        "ring": int(ring),
        "mean": float(values.mean()),
        "sd": float(values.std(ddof=1)),
        "lower": lo,
        "upper": hi,
        "n": int(n),
    }

"""Moderation: the marginal effect of x over a moderator z, from interaction terms.

With y = ... + beta_x x + beta_xz x z + beta_z z (+ W-lagged terms theta) the marginal
effect of x at z is dy/dx = beta_x + beta_xz z (Brambor, Clark & Golder 2006, *Political
Analysis* 14, 63-82: read it over z's range, with its interval, not from beta_x alone).
In a spatial lag model the effect of x at a given z is the LeSage-Pace impact of
(I - rho W)^-1 ((beta_x + beta_xz z) I + (theta_x + theta_xz z) W): direct, indirect
and total per draw (`bayespatial.engine.effects`), for z held at that value in every
unit; without a spatial multiplier direct = beta, indirect = theta.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayespatial.models.result import equal_tailed


def interaction_terms(terms: list[str], x: str, z: str) -> list[str]:
    """Terms of the fit that are the product of x and z ("x:z" or "z:x")."""
    return [t for t in terms if ":" in t and sorted(t.split(":")) == sorted([x, z])]


def marginal_effect(fit, x: str, at: dict, ci: float) -> pd.DataFrame:
    """Tidy: <moderator>, effect (direct, indirect, total), mean, sd, lower, upper.

    ``at``: one moderator and its values, e.g. ``{"z": [0, 1, 2]}``.
    """
    from bayespatial.engine.effects import apply_effects

    if not isinstance(at, dict) or len(at) != 1:
        raise ValueError(
            f"at must name one moderator and its values, e.g. {{'z': [0, 1]}}; got {at!r}."
        )
    ((z, values),) = at.items()
    values = np.atleast_1d(np.asarray(values, dtype=float))
    post = fit.idata.posterior
    terms = [str(t) for t in post["term"].values]
    if x not in terms:
        raise ValueError(f"{x!r} is not a term of the fit; terms: {terms}.")
    inter = interaction_terms(terms, x, z)
    if not inter:
        raise ValueError(
            f"the fit has no interaction of {x!r} and {z!r} (a term '{x}:{z}'): fit a formula "
            f"with '{x} * {z}' or '{x} + {x}:{z}' to let {z} moderate {x}'s effect."
        )
    beta = fit.draws("beta")
    theta = fit.draws("theta") if "theta" in post else np.zeros_like(beta)
    jx, jxz = terms.index(x), terms.index(inter[0])
    b = beta[:, jx, None] + beta[:, jxz, None] * values  # (draws, values)
    t = theta[:, jx, None] + theta[:, jxz, None] * values
    if "rho" in post:
        q, c = fit.spectral_terms()
        eff = apply_effects(q, fit.draws("rho"), b, t, c)
        out = {k: np.asarray(getattr(eff, k)) for k in ("direct", "indirect", "total")}
    else:
        out = {"direct": b, "indirect": t, "total": b + t}
    rows = []
    for k, value in enumerate(values):
        for effect, draws in out.items():
            lo, hi = equal_tailed(draws[:, k], ci)
            rows.append(
                {z: value, "effect": effect, "mean": float(draws[:, k].mean()),
                 "sd": float(draws[:, k].std(ddof=1)), "lower": lo, "upper": hi}
            )  # fmt: skip
    return pd.DataFrame(rows)

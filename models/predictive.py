"""Prior predictive draws: what data look like under the priors, before seeing y.

Parameters are drawn from the priors (`bayespatial.priors.spec`) given the
design, and y is simulated from the model on the original scale,

    lag:   y_t = (I - rho W)^-1 (Z_t beta + e_t),
    error: y_t = Z_t beta + (I - lam W)^-1 e_t,     e_t ~ N(0, sigma^2 I),

one sparse LU per draw. Coefficients need a proper prior (``ZellnerG`` or
``Normal``; the flat default has no prior predictive, and asking for one
with it raises). Two things have no proper prior and are held fixed, as
stated in ``notes``: fixed effects (flat priors; set to zero, so draws are
net of the effects) and the intercept under the g-prior (set to the mean of
y). Comparing the spread of the draws with the data's (``scale_ratio``)
shows how much the priors allow (Gabry et al. 2019, *JRSS A* 182, 389-402).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from bayespatial.engine.precision import float64
from bayespatial.models.config import FitConfig
from bayespatial.models.fit import prepare
from bayespatial.models.sampling import sigma2_prior, zz
from bayespatial.priors.spec import BetaInterval, Uniform


class PriorPredictive(NamedTuple):
    """Prior draws of the parameters and of y."""

    params: dict
    """Parameter draws: "coef" (draws, p) over ``names``, "sigma", and "rho" or "lam"."""
    names: tuple
    """Names of the coefficients (``W_x`` for W-lagged regressors)."""
    y: np.ndarray
    """Simulated outcomes (draws, T, n), net of fixed effects ((draws, N) on the N observed
    cells of an unbalanced panel)."""
    observed: np.ndarray
    """The observed y (T, n), or (N,)."""
    notes: tuple
    """What was held fixed."""

    def scale_ratio(self) -> pd.Series:
        """Quantiles of sd(y draw) / sd(y observed): near 1 means the priors match the data."""
        flat = self.y.reshape(len(self.y), -1)
        top = np.abs(flat).max(axis=1, keepdims=True)  # rescale: vague priors give huge draws
        top = np.where(top > 0, top, 1.0)
        ratio = (flat / top).std(axis=1) * top[:, 0] / self.observed.std()
        q = [0.05, 0.25, 0.5, 0.75, 0.95]
        return pd.Series(np.quantile(ratio, q), index=[f"q{int(100 * x)}" for x in q])


@float64
def prior_predictive(
    model: str,
    formula: str,
    data: pd.DataFrame,
    W,
    *,
    unit: str | None = None,
    time: str | None = None,
    fe: str = "none",
    priors=None,
    durbin=None,
    draws: int = 200,
    seed: int = 0,
    drop_initial: int = 0,
) -> PriorPredictive:
    """Draw parameters from the priors of ``model`` and simulate y (see the module docstring)."""
    config = FitConfig.build(
        model,
        formula,
        unit=unit,
        time=time,
        fe=fe,
        durbin=durbin,
        priors=priors,
        draws=draws,
        seed=seed,
        drop_initial=drop_initial,
    )
    W, _, _, design, names, Z, cp, _ = prepare(config, data, W)
    coef = config.priors.coef_prior(names, zz(cp), cp.nobs)
    improper = [n for n, f in zip(names, coef.flat_mask, strict=True) if f and n != "Intercept"]
    if improper:
        raise ValueError(
            f"the prior predictive needs proper coefficient priors; {improper} have the flat "
            "default. Pass priors=bsp.priors.Priors(coef=bsp.priors.ZellnerG()) or Normal(...)."
        )
    a0, b0 = sigma2_prior(config, cp, design)
    rng = np.random.default_rng(seed)
    sigma2 = b0 / rng.gamma(a0, size=draws)
    block = coef.nig_mask.astype(bool)
    beta = rng.normal(coef.normal_mean, coef.normal_sd, size=(draws, len(names)))
    if block.any():
        cov = np.linalg.inv(coef.nig_precision[np.ix_(block, block)])
        std = rng.multivariate_normal(np.zeros(block.sum()), cov, size=draws)
        beta[:, block] = coef.nig_mean[block] + np.sqrt(sigma2)[:, None] * std
    notes = ["fixed effects set to zero (flat priors)"] if fe != "none" else []
    flat = coef.flat_mask.astype(bool)
    if flat.any():
        beta[:, flat] = design.y.mean()
        notes.append("intercept set to the mean of y (flat prior)")
    params = {"coef": beta, "sigma": np.sqrt(sigma2)}
    kind = config.kind
    r = np.zeros(draws)
    if kind != "none":
        lo, hi = W.rho_bounds()
        spec = config.priors.spatial
        if isinstance(spec, Uniform):
            lo, hi = spec.interval((lo, hi))
            r = rng.uniform(lo, hi, size=draws)
        elif isinstance(spec, BetaInterval):
            r = lo + (hi - lo) * rng.beta(spec.a, spec.b, size=draws)
        params[config.family.spatial] = r
    eye = sp.identity(W.n, format="csc")
    A = W.sparse.tocsc()
    y = np.empty((draws, *design.y.shape))  # (T, n), or (N,) on an unbalanced panel's cells
    for d in range(draws):
        mean = Z @ beta[d]
        e = np.sqrt(sigma2[d]) * rng.standard_normal(design.y.shape)
        solve = spla.splu((eye - r[d] * A).tocsc()).solve if kind != "none" else None
        if kind == "lag":
            y[d] = solve((mean + e).T).T
        elif kind == "error":
            y[d] = mean + solve(e.T).T
        else:
            y[d] = mean + e
    return PriorPredictive(params, names, y, design.y, tuple(notes))

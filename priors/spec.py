"""Declarative prior specifications (frozen, validated data; no NumPyro here).

Defaults, for every Gaussian model (conjugate, so the exact sampler applies):

- coefficients: flat (improper uniform) on every coefficient, the reference
  prior of the linear part (Jeffreys' independence prior with the one below;
  LeSage & Pace 2009, *Introduction to Spatial Econometrics*, sec. 5.1, use
  diffuse normals to the same effect). The posterior of (beta, sigma^2) given
  rho is then the classical normal-inverse-gamma one, centred on the GLS
  estimates with sigma^2 on N - p degrees of freedom, so intervals match the
  likelihood whatever the signal-to-noise ratio. Zellner's g-prior with
  g = N (``ZellnerG()``; Liang et al. 2008) was the default before: its
  penalty beta'Z'Z beta / (g + 1) adds about var(Z beta) to the residual sum
  of squares per N, which on the provincial study's design (within R^2 ~ 0.98,
  N = 448) moved sigma up by 5% for the lnLA outcome and covered it in 74%
  of 95% intervals (91-94% for the other three measures; BENCHMARKS.md),
  against 93-95% under the flat prior;
- sigma^2 ~ InverseGamma(0.01, 0.01 var(y)): vague and invariant to the scale
  of y;
- omega, the between-group sd of a partially pooled (``varying=``) coefficient, in
  units of the error sd: tau = omega / sigma ~ half-normal with scale
  sd(y) / (sd(x) sigma_hat) on the data after the fixed effects (``HalfNormal()``;
  x the term's column, or W x for its Durbin term; sigma_hat the residual sd of
  least squares with one coefficient per term, r = 0). At sigma = sigma_hat this is
  omega ~ half-normal with scale sd(y) / sd(x): a spread of one sd of y per sd of x
  between groups is large for any regression, so the prior only rules out absurd
  heterogeneity (Gelman 2006, *Bayesian Analysis* 1, 515-534, on half-normal priors
  for group-level scales). Scaling omega by sigma keeps the model
  normal-inverse-gamma given (r, tau), so sigma^2 and every coefficient integrate
  out (`bayespatial.engine.pooling.collapsed`), as Zellner's g-prior scales with
  sigma. ``HalfNormal(scale)`` fixes tau's scale. With fewer than five groups the
  data say little about omega and the fit reports its prior beside its posterior;
- the spatial parameter (rho or lam): uniform on the valid interval
  (1/lambda_min, 1/lambda_max) of W; ``BetaInterval`` gives LeSage's
  Beta(a, a) on that interval instead (LeSage & Pace 2009, sec. 5.3).

``ZellnerG(g)``: beta_S | sigma^2 ~ N(0, g sigma^2 (Z_S'M Z_S)^-1) on the
slopes (M the centring matrix) with a flat intercept (Liang, Paulo, Molina,
Clyde & Berger 2008, *JASA* 103, 410-423); g = None means g = N, the
unit-information prior (Kass & Wasserman 1995). It is proper on the slopes,
which `bsp.prior_predictive` needs. Any term can be overridden:
``Priors(coef=Normal(0, 10))`` for all coefficients, or
``Priors(coef={"x1": Normal(0, 1)})`` for one term (the other terms keep the
flat default). A ``Normal`` with a fixed scale is not conjugate, and
`is_conjugate` says so, which sends ``fit`` to NUTS.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.special import betaln

from bayespatial.data.families import family
from bayespatial.engine.conjugate import NIGPrior


def _positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")


@dataclass(frozen=True)
class Flat:
    """Improper uniform prior on the coefficients (the default)."""


@dataclass(frozen=True)
class ZellnerG:
    """Beta | sigma^2 ~ N(0, g sigma^2 (Z'Z)^-1); g = None means g = N (unit information)."""

    g: float | None = None

    def __post_init__(self):
        if self.g is not None:
            _positive("ZellnerG.g", self.g)


@dataclass(frozen=True)
class Normal:
    """Beta_j ~ N(mean, sd^2) independently, not scaled by sigma (so not conjugate)."""

    mean: float = 0.0
    sd: float = 10.0

    def __post_init__(self):
        _positive("Normal.sd", self.sd)


@dataclass(frozen=True)
class InverseGamma:
    """Sigma^2 ~ IG(shape, scale_factor * var(y))."""

    shape: float = 0.01
    scale_factor: float = 0.01

    def __post_init__(self):
        _positive("InverseGamma.shape", self.shape)
        _positive("InverseGamma.scale_factor", self.scale_factor)


@dataclass(frozen=True)
class HalfNormal:
    """Tau = omega / sigma ~ |N(0, scale^2)|; None: sd(y) / (sd(x) sigma_hat) (module doc)."""

    scale: float | None = None

    def __post_init__(self):
        if self.scale is not None:
            _positive("HalfNormal.scale", self.scale)

    def scales(self, ratio: float, sd_x: np.ndarray) -> np.ndarray:
        """Tau's scale per varying coefficient: ``scale``, or ``ratio`` / sd(x) per column."""
        sd_x = np.asarray(sd_x, dtype=float)
        if self.scale is not None:
            return np.full(sd_x.shape, float(self.scale))
        return ratio / sd_x


@dataclass(frozen=True)
class Uniform:
    """Uniform on [low, high]; None takes the end of W's valid interval."""

    low: float | None = None
    high: float | None = None

    def interval(self, bounds: tuple[float, float]) -> tuple[float, float]:
        """The prior's support inside the valid interval ``bounds`` (raises if outside)."""
        lo = bounds[0] if self.low is None else self.low
        hi = bounds[1] if self.high is None else self.high
        if not bounds[0] <= lo < hi <= bounds[1]:
            raise ValueError(
                f"the spatial prior's support [{lo}, {hi}] must lie inside W's valid interval "
                f"({bounds[0]:.4f}, {bounds[1]:.4f}) with low < high."
            )
        return lo, hi

    def log_density(self, r: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
        """Log density at r (-inf outside the support)."""
        lo, hi = self.interval(bounds)
        r = np.asarray(r, dtype=float)
        return np.where((r > lo) & (r < hi), -np.log(hi - lo), -np.inf)


@dataclass(frozen=True)
class BetaInterval:
    """LeSage's prior: (r - low)/(high - low) ~ Beta(a, b) on the valid interval."""

    a: float = 1.01
    b: float = 1.01

    def __post_init__(self):
        _positive("BetaInterval.a", self.a)
        _positive("BetaInterval.b", self.b)

    def log_density(self, r: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
        """Log density at r (-inf outside the valid interval)."""
        lo, hi = bounds
        r = np.asarray(r, dtype=float)
        u = np.clip((r - lo) / (hi - lo), 1e-300, 1 - 1e-16)
        dens = (self.a - 1) * np.log(u) + (self.b - 1) * np.log1p(-u) - betaln(self.a, self.b)
        return np.where((r > lo) & (r < hi), dens - np.log(hi - lo), -np.inf)


class CoefPrior(NamedTuple):
    """Coefficient prior as numbers: a conjugate (Zellner) block plus independent normals."""

    nig_mean: np.ndarray
    """m0 of the conjugate block (zeros outside it)."""
    nig_precision: np.ndarray
    """P0 in units of 1/sigma^2 (zero rows and columns outside the block)."""
    nig_mask: np.ndarray
    """1.0 for coefficients in the conjugate block, else 0.0."""
    normal_mean: np.ndarray
    """Means of the independent normal priors (used where nig_mask is 0)."""
    normal_sd: np.ndarray
    """Standard deviations of the independent normal priors."""
    flat_mask: np.ndarray
    """1.0 for coefficients with a flat prior (all by default; the intercept under ZellnerG)."""


@dataclass(frozen=True)
class Priors:
    """Priors of one model; every field has the documented default.

    ``coef`` is one spec for every coefficient (`Flat`, `ZellnerG` or `Normal`)
    or a mapping from term name (``"x1"``, or ``"W_x1"`` for a W-lagged
    regressor) to a `Normal`; terms not in the mapping keep the flat default.
    """

    coef: Flat | ZellnerG | Normal | Mapping = field(default_factory=Flat)
    sigma2: InverseGamma = field(default_factory=InverseGamma)
    spatial: Uniform | BetaInterval = field(default_factory=Uniform)
    omega: HalfNormal = field(default_factory=HalfNormal, repr=False)
    """Prior of the between-group sd of ``varying=`` terms (kept out of repr: fits without
    varying terms do not use it; varying fits record it in ``attrs["omega_prior"]``)."""

    def __post_init__(self):
        if isinstance(self.coef, Mapping):
            bad = {k: v for k, v in self.coef.items() if not isinstance(v, Normal)}
            if bad:
                raise ValueError(
                    f"per-term coefficient priors must be Normal(mean, sd); got {bad}."
                )
        elif not isinstance(self.coef, Flat | ZellnerG | Normal):
            raise ValueError(
                f"coef prior must be Flat, ZellnerG, Normal or a dict of Normal, not {self.coef!r}."
            )
        if not isinstance(self.sigma2, InverseGamma):
            raise ValueError(f"sigma2 prior must be InverseGamma, not {self.sigma2!r}.")
        if not isinstance(self.omega, HalfNormal):
            raise ValueError(f"omega prior must be HalfNormal(scale), not {self.omega!r}.")
        if not isinstance(self.spatial, Uniform | BetaInterval):
            raise ValueError(
                f"spatial prior must be Uniform or BetaInterval, not {self.spatial!r}."
            )

    def is_conjugate(self) -> bool:
        """Whether (coef, sigma2) is normal-inverse-gamma, which the exact sampler needs."""
        return isinstance(self.coef, Flat | ZellnerG) or (
            isinstance(self.coef, Mapping) and not self.coef
        )

    def coef_prior(self, names: Sequence[str], zz: np.ndarray, nobs: int) -> CoefPrior:
        """Numbers of the coefficient prior for terms ``names`` given Z'Z and N.

        Raises ``ValueError`` naming per-term priors for terms not in the model.
        """
        p = len(names)
        if isinstance(self.coef, Normal):
            normal = {n: self.coef for n in names}
        elif isinstance(self.coef, Mapping):
            unknown = [k for k in self.coef if k not in names]
            if unknown:
                raise ValueError(
                    f"priors given for term(s) {unknown} that are not in the model; "
                    f"terms are {list(names)}."
                )
            normal = dict(self.coef)
        else:
            normal = {}
        if isinstance(self.coef, ZellnerG):
            flat = np.array([1.0 if n == "Intercept" else 0.0 for n in names])
        else:  # Flat, or the terms a mapping of Normals leaves out
            flat = np.array([0.0 if n in normal else 1.0 for n in names])
        mask = np.array([0.0 if n in normal else 1.0 for n in names]) * (1.0 - flat)
        custom_g = isinstance(self.coef, ZellnerG) and self.coef.g is not None
        g = float(self.coef.g if custom_g else nobs)
        zz = np.asarray(zz, dtype=float)
        if "Intercept" in names:  # centre: Z'MZ = Z'Z - Z'1 1'Z / N, with 1 the intercept column
            one = zz[:, list(names).index("Intercept")]
            zz = zz - np.outer(one, one) / one[list(names).index("Intercept")]
        return CoefPrior(
            np.zeros(p),
            zz * np.outer(mask, mask) / g,
            mask,
            np.array([normal[n].mean if n in normal else 0.0 for n in names]),
            np.array([normal[n].sd if n in normal else 1.0 for n in names]),
            flat,
        )

    def to_nig(
        self, zz: np.ndarray, nobs: int, var_y: float, names: Sequence[str] | None = None
    ) -> NIGPrior:
        """The conjugate prior as numbers, given Z'Z, N and var(y) of the transformed data.

        ``names`` (default: no intercept) says which column, if any, is the intercept.
        """
        if not self.is_conjugate():
            raise ValueError(
                "coef prior Normal(...) is not conjugate; the exact sampler needs Flat or "
                "ZellnerG (use sampler='nuts' for other priors)."
            )
        _positive("var(y)", var_y)
        names = [f"x{j}" for j in range(zz.shape[0])] if names is None else list(names)
        coef = self.coef_prior(names, zz, nobs)
        return NIGPrior(
            coef.nig_mean,
            coef.nig_precision,
            self.sigma2.shape,
            self.sigma2.scale_factor * var_y,
            int(coef.flat_mask.sum()),
        )


def defaults(model: str) -> Priors:
    """Documented default priors of ``model`` (the same for every Gaussian family member)."""
    try:
        family(model)
    except ValueError as err:
        raise ValueError(f"no default priors: {err}") from None
    return Priors()

"""Declarative prior specifications (frozen, validated data; no NumPyro here).

Defaults, for every Gaussian model (conjugate, so the exact sampler applies):

- coefficients: Zellner's g-prior beta | sigma^2 ~ N(0, g sigma^2 (Z'Z)^-1)
  with g = N, the unit-information prior (Zellner 1986; Kass & Wasserman
  1995, *JASA* 90, 928-934): normal given sigma and scaled to the data, worth
  one observation;
- sigma^2 ~ InverseGamma(0.01, 0.01 var(y)): vague and invariant to the scale
  of y;
- the spatial parameter (rho or lam): uniform on the valid interval
  (1/lambda_min, 1/lambda_max) of W; ``BetaInterval`` gives LeSage's
  Beta(a, a) on that interval instead (LeSage & Pace 2009, sec. 5.3).

Any term can be overridden (``Priors(coef=Normal(0, 10))``); a ``Normal`` with a
fixed scale is not conjugate, and `is_conjugate` says so, which sends ``fit``
to NUTS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import betaln

from bayespatial.engine.conjugate import NIGPrior


def _positive(name: str, value: float) -> None:
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")


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


@dataclass(frozen=True)
class Priors:
    """Priors of one model; every field has the documented default."""

    coef: ZellnerG | Normal = field(default_factory=ZellnerG)
    sigma2: InverseGamma = field(default_factory=InverseGamma)
    spatial: Uniform | BetaInterval = field(default_factory=Uniform)

    def is_conjugate(self) -> bool:
        """Whether (coef, sigma2) is normal-inverse-gamma, which the exact sampler needs."""
        return isinstance(self.coef, ZellnerG)

    def to_nig(self, zz: np.ndarray, nobs: int, var_y: float) -> NIGPrior:
        """The conjugate prior as numbers, given Z'Z, N and var(y) of the transformed data."""
        if not self.is_conjugate():
            raise ValueError(
                "coef prior Normal(...) is not conjugate; the exact sampler needs ZellnerG "
                "(use sampler='nuts' for other priors)."
            )
        _positive("var(y)", var_y)
        g = float(nobs if self.coef.g is None else self.coef.g)
        p = zz.shape[0]
        return NIGPrior(
            np.zeros(p),
            np.asarray(zz, dtype=float) / g,
            self.sigma2.shape,
            self.sigma2.scale_factor * var_y,
        )


def defaults(model: str) -> Priors:
    """Documented default priors of ``model`` (the same for every Gaussian family member)."""
    known = ("ols", "slx", "sar", "sem", "sdm", "sdem", "dsdm")
    if model not in known:
        raise ValueError(f"no default priors for model {model!r}; known: {known}.")
    return Priors()

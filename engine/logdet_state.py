"""The state shared by all log-determinant methods, and the rho grid their bounds cover."""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import numpy as np

from bayespatial.engine.spectrum import Spectrum


@dataclass(frozen=True)
class LogDetState:
    """Everything ``apply`` needs; arrays in ``params``, the rest static (a JAX pytree)."""

    method: str
    """Name of the method."""
    n: int
    """Number of units."""
    bound: float | None
    """Bound on |approx - exact| / n for |rho| <= 0.95 (None: exact to rounding)."""
    params: dict = field(default_factory=dict)
    """Device arrays used by ``apply`` (eigenvalues, spline coefficients, nodes, ...)."""
    info: tuple = ()
    """(key, value) pairs: settings, init seconds, bound of the derivative, ..."""

    def describe(self) -> dict:
        """Settings and diagnostics of the method as a dict."""
        return dict(self.info)


jax.tree_util.register_dataclass(
    LogDetState, data_fields=["params"], meta_fields=["method", "n", "bound", "info"]
)


def rho_interval(spec: Spectrum) -> tuple[float, float]:
    """Valid interval (1/lambda_min, 1/lambda_max) of rho."""
    return 1.0 / spec.lmin, 1.0 / spec.lmax


def rho_check_grid(spec: Spectrum, rho_max: float = 0.95, points: int = 41) -> np.ndarray:
    """Grid of rho with |rho| <= rho_max inside the valid interval, where bounds are computed."""
    lo, hi = rho_interval(spec)
    return np.linspace(max(-rho_max, 0.999 * lo), min(rho_max, 0.999 * hi), points)

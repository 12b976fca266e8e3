"""What depends on W alone, built once per W and shared by every fit, LOO and effect on it.

A study fits many models on one W (the provincial study: 4 measures x 3 lags x
SLM/SEM/SDM; the split-panel jackknife refits twice). W's extreme eigenvalues
(rho's interval, dynamic stability), the log-determinant state of each method,
the spectral quadrature of the effects, the total-effect moments c_j = 1'W^j 1/n
and the device copy of W depend on W only; `context` builds each lazily, the
first time a fit asks, and keeps it on the `Weights` object (`Weights.memo`), so a
second fit on the same object pays only for its data and its sampler. Passing the
unstandardised W works as well: its row-standardised form is itself kept on it.

Measured in BENCHMARKS.md ("Many fits on one W").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from bayespatial.data.wmatrix import Weights
from bayespatial.engine import logdet as logdet_engine
from bayespatial.engine import sparse as sparse_engine
from bayespatial.engine.effects import (
    QUADRATURE_METHODS,
    Quadrature,
    check_row_stochastic,
    quadrature_from_state,
    total_moments,
)
from bayespatial.engine.logdet import LogDetState


@dataclass(frozen=True, eq=False)
class WContext:
    """Lazily built, cached facts of one (row-standardised) W; see the module docstring."""

    W: Weights
    """The weights every fit uses (row-standardised unless the caller standardised it)."""
    _cache: dict = field(default_factory=dict, repr=False)

    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def _get(self, key, make):
        if key not in self._cache:
            with self._lock:  # fits in threads on one W build each entry once
                if key not in self._cache:
                    self._cache[key] = make()
        return self._cache[key]

    def has_logdet(self, method: str) -> bool:
        """Whether the state ``method`` ("auto" resolved) is already built (no work)."""
        return ("logdet", logdet_engine.resolve(method, self.n)[0]) in self._cache

    @property
    def n(self) -> int:
        """Number of units."""
        return self.W.n

    def extremes(self) -> tuple[float, float]:
        """Smallest and largest real eigenvalue of W (`Weights.extreme_eigenvalues`)."""
        return self.W.extreme_eigenvalues()

    def rho_bounds(self) -> tuple[float, float]:
        """Valid interval (1/lambda_min, 1/lambda_max) of rho or lam."""
        return self.W.rho_bounds()

    def logdet(self, method: str = "auto") -> LogDetState:
        """The log-determinant state of ``method`` ("auto" resolved by n, then shared).

        "auto" and the method it picks are one state: asking for "chebyshev" after
        "auto" picked it (or the other way round) does no new work.
        """
        picked, why = logdet_engine.resolve(method, self.n)
        state = self._get(("logdet", picked), lambda: logdet_engine.init(self.W, picked))
        return logdet_engine.with_reason(state, why)

    def quadrature(self, state: LogDetState | None = None) -> Quadrature:
        """Spectral quadrature of the effects (`bayespatial.engine.effects`).

        Held by an eigen or chebyshev state (``state``, the fit's own, costs nothing);
        for other methods, that of the method "auto" picks, shared with fits using it.
        """
        if state is None or state.method not in QUADRATURE_METHODS:
            check_row_stochastic(self.W)
            state = self.logdet("auto")
        return quadrature_from_state(state)

    def total_moments(self) -> np.ndarray:
        """c_j = 1'W^j 1 / n until it settles (`bayespatial.engine.effects.total_moments`)."""
        return self._get(("total_moments",), lambda: total_moments(self.W))

    def operator(self) -> sparse_engine.SparseW:
        """W on the device (`bayespatial.engine.sparse`), for LOO and streaming likelihoods."""
        return self._get(("operator",), lambda: sparse_engine.init(self.W))


def context(W: Weights) -> WContext:
    """The `WContext` of W, built on first use and kept on the W object."""
    return W.memo(("context",), lambda: WContext(W))

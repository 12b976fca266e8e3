"""LeSage-Pace direct, indirect and total effects, vectorised over posterior draws.

For a spatial lag or Durbin model the partial derivatives of E[y] with respect
to regressor k are S_k = (I - rho W)^-1 (beta_k I + theta_k W); the average
direct effect is tr(S_k)/n, the average total effect 1'S_k 1/n, and the
indirect effect their difference (LeSage & Pace 2009, *Introduction to
Spatial Econometrics*, sec. 2.7). The total effect is the series

    1'S_k 1/n = sum_j rho^j (beta_k c_j + theta_k c_{j+1}),   c_j = 1'W^j 1 / n,

which is (beta_k + theta_k) / (1 - rho) when every row of W sums to one
(c_j = 1) and not otherwise: with islands (zero rows) c_j falls to the share
of units that have neighbours. c_j is non-increasing for a row-standardised W
and is computed once per W until it settles (`total_moments`); the rest of
the series is summed in closed form. The direct effect is the spectral average

    tr(S_k)/n = (1/n) sum_i (beta_k + theta_k lambda_i) / (1 - rho lambda_i),

evaluated with a quadrature over the spectrum computed once per W: the exact
eigenvalues (n <= 5,000) or the probed Chebyshev nodes and weights of
`bayespatial.engine.logdet_stochastic.init_chebyshev`, the same traces the
log-determinant uses. Dynamic models' long-run effects use
((1 - tau) I - (rho + eta) W)^-1 = (1 - tau)^-1 (I - rho_L W)^-1 with
rho_L = (rho + eta) / (1 - tau) (Elhorst 2014, *Spatial Econometrics*, sec. 4.3).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np

from bayespatial.engine import logdet
from bayespatial.engine.sparse import as_csr


class Quadrature(NamedTuple):
    """Nodes and weights with (1/n) tr f(W) ~ sum_k weights_k f(nodes_k)."""

    nodes: jnp.ndarray
    """Eigenvalues (possibly complex) or Chebyshev nodes on the spectrum interval."""
    weights: jnp.ndarray
    """1/n for eigenvalues, probed Chebyshev weights otherwise."""


class Effects(NamedTuple):
    """Average effects per draw and regressor, each of shape (draws, k)."""

    direct: jnp.ndarray
    """tr(S_k)/n: the effect of a unit's own regressor on its own outcome."""
    indirect: jnp.ndarray
    """Total minus direct: the spillover to (and feedback from) other units."""
    total: jnp.ndarray
    """1'S_k 1/n: the effect of raising the regressor everywhere."""


def check_row_stochastic(W) -> None:
    """Raise unless every row of W sums to one (zero rows of islands allowed)."""
    rows = np.asarray(as_csr(W).sum(axis=1)).ravel()
    if not np.allclose(rows[rows != 0], 1.0):
        raise ValueError(
            "effects need a row-standardised W (rows summing to one); call W.row_standardize()."
        )


def init_quadrature(W, method: str = "auto") -> Quadrature:
    """Spectral quadrature for W from the eigen or chebyshev log-determinant state.

    ``method`` "auto" picks as `bayespatial.engine.logdet.choose` does.

    W must be row-stochastic (rows sum to one), as ``fit`` makes it by default.
    Fits share it through `bayespatial.models.context.WContext.quadrature`.
    """
    check_row_stochastic(W)
    return quadrature_from_state(logdet.init(W, method))


QUADRATURE_METHODS = ("eigen", "chebyshev")
"""Log-determinant methods whose state holds a spectral quadrature."""


def quadrature_from_state(state) -> Quadrature:
    """The quadrature held by an eigen or chebyshev log-determinant state (no new work)."""
    if state.method == "eigen":
        nodes = state.params["re"] + 1j * state.params["im"]
        return Quadrature(nodes, jnp.full(nodes.shape, 1.0 / state.n))
    if state.method == "chebyshev":
        return Quadrature(state.params["nodes"], state.params["weights"])
    raise ValueError(f"effects need method 'eigen' or 'chebyshev', not {state.method!r}.")


def total_moments(W, tol: float = 1e-15, max_terms: int = 100_000) -> np.ndarray:
    """c_j = 1'W^j 1 / n for j = 0..K, the last one the limit the sequence settled at.

    (1,) when every row sums to one (c_j = 1 for all j): the closed form. The
    iteration stops when c_j changes by less than ``tol`` (relative), W^j 1 being
    non-increasing for a row-standardised W.
    """
    m = as_csr(W)
    n = m.shape[0]
    v = np.ones(n)
    c = [1.0]
    for _ in range(max_terms):
        v = m @ v
        c.append(float(v.sum() / n))
        if abs(c[-1] - c[-2]) <= tol * max(abs(c[-2]), 1e-300):
            c.pop()
            break
    return np.asarray(c)


def apply_effects(q: Quadrature, rho, beta, theta=None, moments=None) -> Effects:
    """Direct, indirect and total effects for draws of rho (draws,) and beta, theta (draws, k).

    ``moments``: `total_moments` of W (None: rows sum to one, c_j = 1).
    """
    rho = jnp.asarray(rho)[:, None, None]
    beta = jnp.atleast_2d(jnp.asarray(beta))[:, :, None]
    theta = (
        jnp.zeros_like(beta) if theta is None else jnp.atleast_2d(jnp.asarray(theta))[:, :, None]
    )
    spectral = (beta + theta * q.nodes) / (1.0 - rho * q.nodes)
    direct = jnp.real(jnp.sum(q.weights * spectral, axis=-1))
    c = jnp.ones(1) if moments is None else jnp.asarray(moments)
    K = c.shape[0] - 1
    r = rho[..., 0]
    total = c[K] * (r**K) * (beta + theta)[..., 0] / (1.0 - r)
    if K:
        powers = r ** jnp.arange(K)  # (draws, K)
        series = beta[..., 0, None] * c[:K] + theta[..., 0, None] * c[1:]  # (draws, k, K)
        total = total + jnp.sum(powers[:, None, :] * series, axis=-1)
    return Effects(direct, total - direct, total)


def apply_long_run(q: Quadrature, rho, tau, eta, beta, theta=None, moments=None) -> Effects:
    """Long-run effects ((1 - tau) I - (rho + eta) W)^-1 (beta I + theta W) of a dynamic model."""
    tau = jnp.asarray(tau)
    scale = (1.0 / (1.0 - tau))[:, None]
    theta = None if theta is None else jnp.asarray(theta) * scale
    return apply_effects(
        q,
        (jnp.asarray(rho) + jnp.asarray(eta)) / (1.0 - tau),
        jnp.asarray(beta) * scale,
        theta,
        moments,
    )

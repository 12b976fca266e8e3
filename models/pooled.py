"""NumPyro model of partially pooled coefficients, collapsed over the coefficients.

NUTS moves on (r, sigma^2, omega_1..K) only: the coefficients (the flat ones and the
group blocks of `bayespatial.models.groups.varying_columns`) are integrated out in
closed form (`bayespatial.engine.pooling`), so a gradient costs O(p^3) whatever N and
the sampler never meets the funnel between omega and the group coefficients that a
centred or non-centred parametrisation has to work around (Betancourt & Girolami
2015, "Hamiltonian Monte Carlo for hierarchical models"). The coefficients are then
drawn exactly given each posterior draw of (r, sigma^2, omega) (`coefficient_draws`),
and each block's common mean mu_k given the block and omega_k:
mu_k | theta, omega ~ N(mean of the block, omega_k^2 / G_k) under its flat prior.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from bayespatial.data.families import SPATIAL_PARAMETER
from bayespatial.engine import pooling
from bayespatial.engine.crossprod import CrossProducts, log_jacobian, quadratic_forms


class PooledData(NamedTuple):
    """What `pooled_model` reads, by name."""

    cp: CrossProducts
    """Transformed cross-products of [y, Wy, Z, WZ], Z with the group columns."""
    layout: pooling.Layout
    """Where the group blocks sit among Z's columns."""
    sigma2_prior: tuple[float, float]
    """(shape, scale) of the inverse-gamma prior of sigma^2."""
    omega_scale: np.ndarray
    """(K,) scales of the half-normal priors of the omegas."""
    kind: str = "none"
    """"lag" (rho), "error" (lam) or "none"."""
    spatial_prior: dist.Distribution | None = None
    """Prior of rho/lam on its interval (None for ``kind="none"``)."""
    logdet: Callable | None = None
    """r -> log|I - r W| (jnp)."""


def _forms(cp, r, kind, xp):
    return quadratic_forms(cp, r, "lag" if kind == "none" else kind, xp)


def pooled_model(data: PooledData) -> None:
    """The collapsed posterior of (r, sigma^2, omega) (module docstring)."""
    if data.kind == "none":
        r, ld = jnp.zeros(()), jnp.zeros(())
    else:
        r = numpyro.sample(SPATIAL_PARAMETER[data.kind], data.spatial_prior)
        ld = data.logdet(r)
    sigma2 = numpyro.sample("sigma2", dist.InverseGamma(*data.sigma2_prior))
    numpyro.deterministic("sigma", jnp.sqrt(sigma2))
    omega = numpyro.sample("omega", dist.HalfNormal(jnp.asarray(data.omega_scale)).to_event(1))
    yy, zy, zz = _forms(data.cp, r, data.kind, jnp)
    cond = pooling.conditional(data.layout, yy, zy, zz, data.cp.nobs, sigma2, omega, jnp)
    numpyro.factor("loglik", cond.log_marginal + log_jacobian(data.cp, r, ld, jnp))


def coefficient_draws(
    data: PooledData, r: np.ndarray, sigma2: np.ndarray, omega: np.ndarray, rng
) -> tuple[np.ndarray, np.ndarray]:
    """Exact draws of the coefficients (D, p) and of the blocks' means mu (D, K).

    One Gaussian draw per posterior draw of (r, sigma^2, omega) (flattened to D),
    on the host: D Cholesky factors of p x p.
    """
    r, sigma2, omega = (np.asarray(a, dtype=float) for a in (r, sigma2, omega))
    D, K = sigma2.size, len(data.layout.blocks)
    r, sigma2, omega = r.reshape(D), sigma2.reshape(D), omega.reshape(D, K)
    theta = np.empty((D, data.layout.p))
    for d in range(D):
        cond = pooling.conditional(
            data.layout, *_forms(data.cp, r[d], data.kind, np), data.cp.nobs, sigma2[d], omega[d]
        )
        theta[d] = pooling.draw(cond, rng.standard_normal(data.layout.p))
    mu = np.empty((D, K))
    for k, (start, size) in enumerate(data.layout.blocks):
        block = theta[:, start : start + size]
        mu[:, k] = block.mean(axis=1) + omega[:, k] / np.sqrt(size) * rng.standard_normal(D)
    return theta, mu

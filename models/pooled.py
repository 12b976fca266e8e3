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

import json
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from bayespatial.data.errors import ModelError
from bayespatial.data.families import SPATIAL_PARAMETER
from bayespatial.engine import pooling
from bayespatial.engine.crossprod import CrossProducts, log_jacobian, quadratic_forms
from bayespatial.models.groups import Grouping, grouping, varying_columns
from bayespatial.models.sampling import nuts_run, sigma2_prior, spatial_distribution, var_y

FEW_GROUPS = 5
"""Below this many groups the data say little about omega: the fit says so in a note."""


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
    theta = pooling.centre(data.layout, theta)
    mu = np.empty((D, K))
    for k, (start, size) in enumerate(data.layout.blocks):
        block = theta[:, start : start + size]
        mu[:, k] = block.mean(axis=1) + omega[:, k] / np.sqrt(size) * rng.standard_normal(D)
        if data.layout.zero_mean and data.layout.zero_mean[k]:
            mu[:, k] = 0.0  # absorbed by the period effects
    return theta, mu


class Varying(NamedTuple):
    """The partially pooled terms of one fit."""

    grouping: Grouping
    """Which group each unit belongs to."""
    layout: pooling.Layout
    """Where the group blocks sit among the columns."""
    owners: tuple
    """Per block, (coefficient name, grouping column): ``x`` or ``W_x``."""


def split(config, panel, design, W, names: tuple, Z: np.ndarray):
    """Names, Z and `Varying` with the ``config.varying`` terms split by group.

    Raises
    ------
    ModelError
        The panel is unbalanced (the split of W x needs every unit in every period).
    """
    if design.cells is not None:
        raise ModelError(
            "varying= needs a balanced panel (W (x * 1[g]) takes every unit's x in each "
            "period); fit a balanced window, or without varying=."
        )
    g = grouping(panel, config.varying[0][1])
    terms = {term: g for term, _ in config.varying}
    names, Z, layout, owners = varying_columns(Z, names, terms, W, config.fe)
    return names, Z, Varying(g, layout, owners)


def omega_scales(config, cp: CrossProducts, Z: np.ndarray, layout, sd_y: float) -> np.ndarray:
    """Scales of omega's half-normal priors (`bayespatial.priors.spec.HalfNormal`).

    sd(x) of each block's pooled column (the sum of its group columns, i.e. the term
    or its W lag before the split) on the data after the fixed effects: from the
    transformed cross-products, whose columns have mean zero under any fixed effect,
    and less the squared mean without fixed effects. A constant column (the
    intercept) takes its root mean square, and one removed by the period effects (group
    intercepts under time effects) that of its column of ones, 1.
    """
    gram = cp.gram[2 : 2 + cp.p, 2 : 2 + cp.p]
    sd_x = []
    for start, size in layout.blocks:
        ms = gram[start : start + size, start : start + size].sum() / cp.nobs
        mean = Z[..., start : start + size].sum(-1).mean() if config.fe == "none" else 0.0
        var = ms - mean**2
        sd_x.append(np.sqrt(var if var > 1e-10 * ms else ms) if ms > 1e-12 else 1.0)
    return config.priors.omega.scales(sd_y, np.array(sd_x))


def few_groups_note(varying: Varying) -> tuple:
    """The note of a fit with fewer than `FEW_GROUPS` groups."""
    G = len(varying.grouping.labels)
    if G >= FEW_GROUPS:
        return ()
    return (
        f"only {G} groups of {varying.grouping.column!r}: the data say little about the "
        "between-group sd omega, whose posterior stays close to its prior; compare them in "
        "fit.varying() (rows 'omega' and 'omega_prior') before reading the partial pooling",
    )


def sample(config, design, Z, cp: CrossProducts, varying: Varying, logdet, interval):
    """NUTS on the collapsed posterior, then the coefficients and means drawn exactly.

    Returns (draws, stats, extra attrs) as the fit's other samplers do: ``coef``
    (chain, draw, p) in the columns' order, the spatial parameter, ``sigma``,
    ``omega`` and ``mu`` (chain, draw, K).
    """
    shape, scale = sigma2_prior(config, cp, design)
    scales = omega_scales(config, cp, Z, varying.layout, np.sqrt(var_y(cp, design, config.fe)))
    data = PooledData(
        cp=cp,
        layout=varying.layout,
        sigma2_prior=(shape, scale),
        omega_scale=scales,
        kind=config.kind,
        spatial_prior=None
        if config.kind == "none"
        else spatial_distribution(config.priors.spatial, interval),
        logdet=logdet,
    )
    with numpyro.validation_enabled(False):
        samples, stats = nuts_run(pooled_model, config, data)
    spatial = SPATIAL_PARAMETER.get(config.kind)
    r = samples[spatial] if spatial else np.zeros_like(samples["sigma2"])
    coef, mu = coefficient_draws(
        data, r, samples["sigma2"], samples["omega"], np.random.default_rng(config.seed)
    )
    chains, draws = samples["sigma2"].shape
    out = {
        "coef": coef.reshape(chains, draws, -1),
        "sigma": samples["sigma"],
        "omega": samples["omega"],
        "mu": mu.reshape(chains, draws, -1),
    }
    if spatial:
        out[spatial] = samples[spatial]
    extra = {"omega_prior_scale": json.dumps([float(s) for s in scales])}
    return out, stats, extra

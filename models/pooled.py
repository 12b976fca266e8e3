"""Partially pooled coefficients: the samplers of a ``varying=`` fit.

The group coefficients of a varying term are beta_g = mu + omega z_g with
omega = sigma tau, so that given (r, tau) the model is normal-inverse-gamma and the
coefficients and sigma^2 integrate out in closed form
(`bayespatial.engine.pooling.collapsed`); a sampler only has to move on (r, tau).
Chosen by measurement (BENCHMARKS.md, "Partially pooled coefficients"):

- one varying term: (r, log tau) has two dimensions, evaluated on a grid at O(p) per
  point and drawn exactly (`bayespatial.engine.pooled_grid`): independent draws in
  about a second, where NUTS on the same collapsed posterior spends some ten seconds
  compiling before its first draw;
- several varying terms: NUTS on (r, tau_1..K) (`pooled_model`), a gradient costing
  O(p^3) whatever N, with no funnel between tau and the group coefficients, which
  are integrated out (the geometry a centred or non-centred parametrisation has to
  work around; Betancourt & Girolami 2015, "Hamiltonian Monte Carlo for hierarchical
  models"); then sigma^2 and the coefficients are drawn exactly given each draw
  (`coefficient_draws`).

Each block's common mean mu_k is drawn given the block and omega_k:
mu_k | theta, omega ~ N(mean of the block, omega_k^2 / G_k) under its flat prior.

dsdm: y_{t-1} and W y_{t-1} are fixed (common) columns. Under the stationarity
restriction the grid's independent draws outside the stable region are rejected
(`bayespatial.models.sampling.reject_unstable`), and NUTS samples (tau, eta) mapped
smoothly onto the stable region with the rest still integrated out (`Explicit`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from numpyro.distributions import constraints
from scipy.stats import halfnorm

from bayespatial.data.errors import ModelError
from bayespatial.data.families import SPATIAL_PARAMETER
from bayespatial.engine import logdet as logdet_engine
from bayespatial.engine import pooled_grid, pooling
from bayespatial.engine.crossprod import CrossProducts, log_jacobian, quadratic_forms
from bayespatial.models import convergence
from bayespatial.models.groups import Grouping, grouping, varying_columns
from bayespatial.models.sampling import (
    grid_terms,
    nuts_run,
    reject_unstable,
    sigma2_prior,
    spatial_distribution,
    var_y,
)

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
    tau_scale: np.ndarray
    """(K,) scales of the half-normal priors of tau = omega / sigma."""
    kind: str = "none"
    """"lag" (rho), "error" (lam) or "none"."""
    spatial_prior: dist.Distribution | None = None
    """Prior of rho/lam on its interval (None for ``kind="none"``)."""
    logdet: Callable | None = None
    """r -> log|I - r W| (jnp)."""
    explicit: Explicit | None = None
    """Coefficients sampled by NUTS instead of integrated out, with a constraint on them
    (dsdm's tau and eta under enforced stationarity); None: all integrated out."""


class Explicit(NamedTuple):
    """dsdm's tau (and eta) kept out of the collapsed posterior, inside the stable region.

    Under ``stationarity="enforce"`` the prior of (tau, eta) is flat on the stable
    region, which the collapsed posterior (the coefficients integrated out) cannot see.
    Given (tau, eta) the rest is still normal-inverse-gamma with y_r - Z_d b in place of
    y_r (`given`), so NUTS moves on (r, tau_1..K, z) with (tau, eta) a smooth map of z
    onto the stable region (`coefficients`): a wall at the boundary, measured, gave
    NUTS divergences even with the posterior far from it.
    """

    columns: tuple
    """Columns of y_{t-1} (and W y_{t-1}) in Z, before the group blocks."""
    w_min: float
    """Smallest eigenvalue of W."""
    w_max: float
    """Largest eigenvalue of W."""

    def coefficients(self, z, r, xp=np):
        """(tau[, eta]) and log |d(tau, eta)/dz| for unconstrained ``z`` at rho = ``r``.

        The stable region (`bayespatial.engine.dynamic`) is |f(w_max)| < 1 and
        |f(w_min)| < 1 with f(w) = (tau + eta w) / (1 - rho w), linear in (tau, eta) given
        rho: u = tanh(z) in (-1, 1)^2 sets f at both ends, so
        eta = (u_1 a - u_2 c) / (w_max - w_min), tau = u_1 a - eta w_max, with
        a = 1 - rho w_max, c = 1 - rho w_min (both positive on rho's interval);
        Jacobian a c / (w_max - w_min) prod(1 - u^2). Without eta, tau = u min(a, c).
        """
        u = xp.clip(xp.tanh(z), -1.0 + 1e-15, 1.0 - 1e-15)  # tanh rounds to 1 for z > 19
        # log(1 - tanh^2 z), stable for large |z|
        log_jac = xp.sum(2.0 * (np.log(2.0) - xp.abs(z) - xp.log1p(xp.exp(-2.0 * xp.abs(z)))))
        a, c = 1.0 - r * self.w_max, 1.0 - r * self.w_min
        if len(self.columns) == 1:
            m = xp.minimum(a, c)
            return xp.stack([u[0] * m]), log_jac + xp.log(m)
        eta = (u[0] * a - u[1] * c) / (self.w_max - self.w_min)
        tau = u[0] * a - eta * self.w_max
        return xp.stack([tau, eta]), log_jac + xp.log(a * c / (self.w_max - self.w_min))


def _forms(cp, r, kind, xp):
    return quadratic_forms(cp, r, "lag" if kind == "none" else kind, xp)


def given(explicit: Explicit, layout: pooling.Layout, yy, zy, zz, b, xp=np):
    """The forms and layout of the other coefficients given the explicit ones ``b``.

    y* = y_r - Z_d b: y*'y* = y'y - 2 b'Z_d'y + b'Z_d'Z_d b, Z_a'y* = Z_a'y - Z_a'Z_d b.
    The explicit columns sit before the blocks, which move left by their number.
    """
    d = np.array(explicit.columns)
    a = np.setdiff1d(np.arange(layout.p), d)
    yy_b = yy - 2 * b @ zy[d] + b @ zz[np.ix_(d, d)] @ b
    zy_b = zy[a] - zz[np.ix_(a, d)] @ b
    shift = len(d)
    blocks = tuple((start - shift, size) for start, size in layout.blocks)
    return yy_b, zy_b, zz[np.ix_(a, a)], layout._replace(p=layout.p - shift, blocks=blocks)


def pooled_model(data: PooledData) -> None:
    """The collapsed posterior of (r, tau) (`bayespatial.engine.pooling.collapsed`)."""
    if data.kind == "none":
        r, ld = jnp.zeros(()), jnp.zeros(())
    else:
        r = numpyro.sample(SPATIAL_PARAMETER[data.kind], data.spatial_prior)
        ld = data.logdet(r)
    tau = numpyro.sample("tau", dist.HalfNormal(jnp.asarray(data.tau_scale)).to_event(1))
    yy, zy, zz = _forms(data.cp, r, data.kind, jnp)
    layout = data.layout
    if data.explicit is not None:  # flat prior on the stable region of (tau, eta)
        ex = data.explicit
        z = numpyro.sample(
            "z_explicit",
            dist.ImproperUniform(constraints.real_vector, (), event_shape=(len(ex.columns),)),
        )
        b, log_jac = ex.coefficients(z, r, jnp)
        numpyro.deterministic("explicit", b)
        numpyro.factor("explicit_jacobian", log_jac)
        yy, zy, zz, layout = given(ex, layout, yy, zy, zz, b, jnp)
    post = pooling.collapsed(layout, yy, zy, zz, data.cp.nobs, *data.sigma2_prior, tau, jnp)
    numpyro.factor("loglik", post.log_density + log_jacobian(data.cp, r, ld, jnp))


def coefficient_draws(
    data: PooledData, r: np.ndarray, tau: np.ndarray, rng, explicit: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact draws of sigma^2 (D,) and the coefficients (D, p) given draws of (r, tau).

    One normal-inverse-gamma draw per draw of (r, tau) (flattened to D), on the host:
    D Cholesky factors of p x p. ``explicit`` (D, d): NUTS's draws of the explicit
    coefficients (`Explicit`), which are kept; the others are drawn given them.
    """
    r, tau = np.asarray(r, dtype=float), np.asarray(tau, dtype=float)
    D, K = r.size, len(data.layout.blocks)
    r, tau = r.reshape(D), tau.reshape(D, K)
    theta, sigma2 = np.empty((D, data.layout.p)), np.empty(D)
    ex = data.explicit
    if ex is not None:
        others = np.setdiff1d(np.arange(data.layout.p), ex.columns)
        explicit = np.asarray(explicit, dtype=float).reshape(D, len(ex.columns))
    for d in range(D):
        yy, zy, zz = _forms(data.cp, r[d], data.kind, np)
        layout = data.layout
        if ex is not None:
            yy, zy, zz, layout = given(ex, layout, yy, zy, zz, explicit[d])
        post = pooling.collapsed(layout, yy, zy, zz, data.cp.nobs, *data.sigma2_prior, tau[d])
        sigma2[d] = post.rate / rng.gamma(post.shape)
        draw = pooling.draw(post, np.sqrt(sigma2[d]) * rng.standard_normal(layout.p))
        if ex is None:
            theta[d] = draw
        else:
            theta[d, others], theta[d, list(ex.columns)] = draw, explicit[d]
    return sigma2, pooling.centre(data.layout, theta)


def block_means(layout: pooling.Layout, theta: np.ndarray, omega: np.ndarray, rng) -> np.ndarray:
    """Draws (D, K) of each block's common mean mu_k (module docstring; 0 for zero-mean)."""
    D = theta.shape[0]
    mu = np.zeros((D, len(layout.blocks)))
    for k, (start, size) in enumerate(layout.blocks):
        if layout.zero_mean and layout.zero_mean[k]:
            continue  # absorbed by the period effects
        block = theta[:, start : start + size]
        mu[:, k] = block.mean(axis=1) + omega[:, k] / np.sqrt(size) * rng.standard_normal(D)
    return mu


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
            "varying= needs a balanced panel for now (the group columns are built on the "
            "period x unit array); fit a balanced window, or without varying=."
        )
    g = grouping(panel, config.varying[0][1])
    terms = {term: g for term, _ in config.varying}
    names, Z, layout, owners = varying_columns(Z, names, terms, W, config.fe)
    return names, Z, Varying(g, layout, owners)


def choose_sampler(config, varying: Varying) -> tuple[str, str]:
    """The grid ("exact") for one varying coefficient unless NUTS is asked for; else NUTS.

    Raises
    ------
    ModelError
        ``sampler="exact"`` with several varying coefficients (a Durbin term's W x
        counts as one), whose posterior of (r, tau) has too many dimensions for a grid.
    """
    K = len(varying.layout.blocks)
    if K == 1 and config.sampler != "nuts":
        return "exact", "one varying coefficient: independent draws from a grid over (r, log tau)"
    if config.sampler == "exact":
        names = [name for name, _ in varying.owners]
        raise ModelError(
            f"sampler='exact' draws from a grid for one varying coefficient; this fit has {K} "
            f"({names}): use sampler='auto' (NUTS on rho and the tau's)."
        )
    why = "requested" if K == 1 else f"{K} varying coefficients"
    return "nuts", f"{why}: NUTS on (r, tau), the rest integrated out"


def tau_scales(config, cp: CrossProducts, Z: np.ndarray, layout, sd_y: float) -> np.ndarray:
    """Scales of tau's half-normal priors (`bayespatial.priors.spec.HalfNormal`).

    sd(y) / (sd(x) sigma_hat): sd(x) of each block's pooled column (the sum of its
    group columns, i.e. the term or its W lag before the split) on the data after the
    fixed effects (from the transformed cross-products, whose columns have mean zero
    under any fixed effect, less the squared mean without them; a constant column
    takes its root mean square, and one the period effects remove, 1), and sigma_hat
    the residual sd of least squares on the pooled columns at r = 0. At sigma =
    sigma_hat the prior of omega = sigma tau is half-normal with scale sd(y) / sd(x).
    """
    gram = cp.gram[2 : 2 + cp.p, 2 : 2 + cp.p]
    fixed = layout.blocks[0][0]
    # the pooled design: fixed columns and one summed column per block
    S = np.zeros((cp.p, fixed + len(layout.blocks)))
    S[:fixed, :fixed] = np.eye(fixed)
    sd_x = []
    for k, (start, size) in enumerate(layout.blocks):
        S[start : start + size, fixed + k] = 1.0
        ms = gram[start : start + size, start : start + size].sum() / cp.nobs
        mean = Z[..., start : start + size].sum(-1).mean() if config.fe == "none" else 0.0
        var = ms - mean**2
        sd_x.append(np.sqrt(var if var > 1e-10 * ms else ms) if ms > 1e-12 else 1.0)
    zz, zy = S.T @ gram @ S, S.T @ cp.gram[2 : 2 + cp.p, 0]
    keep = np.abs(np.diag(zz)) > 1e-12 * max(np.abs(np.diag(zz)).max(), 1e-300)
    coef = np.linalg.lstsq(zz[np.ix_(keep, keep)], zy[keep], rcond=None)[0]
    rss = cp.gram[0, 0] - coef @ zy[keep]
    sigma_hat = np.sqrt(max(rss, 1e-300) / max(cp.nobs - int(keep.sum()), 1))
    return config.priors.omega.scales(sd_y / sigma_hat, np.array(sd_x))


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


def sample(config, design, Z, cp: CrossProducts, varying: Varying, state, interval, stable=None):
    """Draws of a varying fit: the grid for one varying term, NUTS for several.

    Returns (draws, stats, extra attrs, checks): ``coef`` (chain, draw, p) in the
    columns' order, the spatial parameter, ``sigma``, ``omega`` (= sigma tau) and
    ``mu`` (chain, draw, K); ``state`` is the log-determinant state (None without r);
    NUTS's stats (empty for the grid); the grid's diagnostics
    rows (None after NUTS: the fit checks NUTS's draws with its own rows).
    ``config.sampler="nuts"`` takes NUTS for one varying term too.

    ``stable`` (dsdm, `bayespatial.models.fit.StabilityCheck`): under
    ``stationarity="enforce"`` the grid's independent draws outside the stable region
    are rejected and replaced (exact: the restricted posterior is the unrestricted one
    restricted), and NUTS samples tau and eta mapped smoothly onto it (`Explicit`);
    the attrs report P(stable | y) where it is estimated.
    """
    shape, scale = sigma2_prior(config, cp, design)
    scales = tau_scales(config, cp, Z, varying.layout, np.sqrt(var_y(cp, design, config.fe)))
    data = PooledData(
        cp=cp,
        layout=varying.layout,
        sigma2_prior=(shape, scale),
        tau_scale=scales,
        kind=config.kind,
        spatial_prior=None
        if config.kind == "none"
        else spatial_distribution(config.priors.spatial, interval),
        logdet=None if state is None else partial(logdet_engine.apply, state),
    )
    enforce = stable is not None and config.stationarity == "enforce"
    spatial = SPATIAL_PARAMETER.get(config.kind)
    chains, draws = config.chains, config.draws
    rng = np.random.default_rng(config.seed)
    if len(varying.layout.blocks) == 1 and config.sampler != "nuts":
        host_logdet, log_prior_r = (None, None)
        if state is not None:
            host_logdet, log_prior_r = grid_terms(config, state, interval)
        out = pooled_grid.sample(
            cp,
            varying.layout,
            shape,
            scale,
            lambda t: halfnorm(scale=scales[0]).logpdf(t),
            float(scales[0]),
            chains * draws,
            rng,
            kind=config.kind,
            bounds=interval,
            logdet=host_logdet,
            log_prior_r=log_prior_r,
        )
        r_marginal, u_marginal = out.marginals()  # of the unrestricted posterior
        if stable is not None:
            out, stationarity = _stable_grid_draws(out, stable, chains * draws, enforce, rng)
        r, tau, sigma2, theta, stats = out.r, out.tau[:, None], out.sigma2, out.theta, {}
        checks = convergence.grid_checks(u_marginal, "log tau", r.size)
        if spatial:
            checks = convergence.grid_checks(r_marginal, spatial, r.size) + checks
        convergence.warn(checks)
    else:
        if enforce:
            columns = (stable.tau,) if stable.eta is None else (stable.tau, stable.eta)
            data = data._replace(explicit=Explicit(columns, stable.w_min, stable.w_max))
        with numpyro.validation_enabled(False):
            samples, stats = nuts_run(pooled_model, config, data)
        r = samples[spatial].reshape(-1) if spatial else np.zeros(chains * draws)
        tau = samples["tau"].reshape(chains * draws, -1)
        sigma2, theta = coefficient_draws(data, r, tau, rng, samples.get("explicit"))
        checks = None  # the fit checks NUTS's draws with the others
        if stable is not None:
            ok = np.asarray(stable(theta, r))
            stationarity = (
                {"p_stationary": "not estimated (NUTS under the constraint)"}
                if enforce
                else {"p_stationary": float(ok.mean()), "p_stationary_draws": int(ok.size)}
            )
    omega = np.sqrt(sigma2)[:, None] * tau
    mu = block_means(varying.layout, theta, omega, rng)
    shaped = {
        "coef": theta.reshape(chains, draws, -1),
        "sigma": np.sqrt(sigma2).reshape(chains, draws),
        "omega": omega.reshape(chains, draws, -1),
        "mu": mu.reshape(chains, draws, -1),
    }
    if spatial:
        shaped[spatial] = np.asarray(r).reshape(chains, draws)
    extra = {"tau_prior_scale": json.dumps([float(s) for s in scales])}
    if stable is not None:
        extra.update(stationarity)
    return shaped, stats, extra, checks


def _stable_grid_draws(out, stable, total: int, enforce: bool, rng):
    """The grid's draws with P(stable | y), restricted to the stable region if ``enforce``."""

    def ok(o):
        return np.asarray(stable(o.theta, o.r))

    if not enforce:
        flags = ok(out)
        return out, {"p_stationary": float(flags.mean()), "p_stationary_draws": int(flags.size)}
    return reject_unstable(
        out, lambda size: out.more(size, rng), ok, total, ("r", "tau", "sigma2", "theta")
    )

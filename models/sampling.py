"""Shared sampling glue: spatial-parameter priors, the data-scaled sigma^2 prior, NUTS."""

from __future__ import annotations

import jax
import numpy as np
import numpyro.distributions as dist
from numpyro.infer import MCMC, NUTS

from bayespatial.data.errors import ModelError
from bayespatial.engine.crossprod import CrossProducts
from bayespatial.models.config import FitConfig
from bayespatial.models.design import Design
from bayespatial.models.progress import wanted
from bayespatial.priors.spec import BetaInterval, Uniform

MIN_STATIONARY = 0.01
"""Below this posterior probability of the stable region, rejection gives up and says why."""


def var_y(cp: CrossProducts, design: Design, fe: str) -> float:
    """Variance of y after the fixed-effect transformation (the scale of the sigma^2 prior)."""
    return float(np.var(design.y)) if fe == "none" else float(cp.gram[0, 0] / cp.nobs)


def sigma2_prior(config: FitConfig, cp: CrossProducts, design: Design) -> tuple[float, float]:
    """(shape, scale) of the inverse-gamma prior of sigma^2 on this data."""
    s = config.priors.sigma2
    return s.shape, s.scale_factor * var_y(cp, design, config.fe)


def zz(cp: CrossProducts) -> np.ndarray:
    """Z'Z of the transformed regressors."""
    return cp.gram[2 : 2 + cp.p, 2 : 2 + cp.p]


def spatial_distribution(spec: Uniform | BetaInterval, interval: tuple[float, float]):
    """NumPyro distribution of a spatial-parameter prior on ``interval``."""
    lo, hi = interval
    if isinstance(spec, Uniform):
        return dist.Uniform(lo, hi)
    return dist.TransformedDistribution(
        dist.Beta(spec.a, spec.b), dist.transforms.AffineTransform(lo, hi - lo)
    )


def grid_terms(config: FitConfig, state, interval: tuple[float, float]):
    """Host functions of r for the grid samplers: log|I - r W| and the spatial log prior."""
    from functools import partial

    from bayespatial.engine import logdet as logdet_engine

    spatial = config.priors.spatial
    return partial(logdet_engine.apply_host, state), lambda r: spatial.log_density(r, interval)


def nuts_run(model, config: FitConfig, *args) -> tuple[dict, dict]:
    """Run NUTS on ``model(*args)``: chains vectorised (or parallel across devices)."""
    chain_method = "parallel" if jax.local_device_count() >= config.chains else "vectorized"
    progress = wanted(config.progress)
    mcmc = MCMC(
        NUTS(model, dense_mass=True, target_accept_prob=0.85),
        num_warmup=config.warmup,
        num_samples=config.draws,
        num_chains=config.chains,
        chain_method=chain_method if config.chains > 1 else "sequential",
        progress_bar=bool(progress),
    )
    mcmc.run(
        jax.random.PRNGKey(config.seed),
        *args,
        extra_fields=("num_steps", "diverging", "energy", "adapt_state.step_size"),
    )
    samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "n_steps": np.asarray(extra["num_steps"]),
        "diverging": np.asarray(extra["diverging"]),
        "energy": np.asarray(extra["energy"]),
        "step_size": np.asarray(extra["adapt_state.step_size"]),
    }
    return samples, stats


def reject_unstable(out, more, ok, total: int, fields: tuple):
    """``total`` independent draws restricted to dsdm's stable region, by rejection.

    Exact: the posterior under the prior restricted to the stable region is the
    unrestricted posterior restricted to it. ``out`` is a NamedTuple of draws whose
    ``fields`` are arrays with draws first; ``more(size)`` draws ``size`` more of the
    same kind and ``ok(out)`` flags the stable ones. Returns the draws and attrs with the
    acceptance rate, which estimates P(stable | y) of the unrestricted posterior.

    Raises
    ------
    ModelError
        Fewer than `MIN_STATIONARY` of the draws are stable.
    """
    flags = ok(out)
    tried, accepted = total, int(flags.sum())
    batches = [(out, flags)]
    while accepted < total:
        if accepted / tried < MIN_STATIONARY:
            raise ModelError(
                f"only {accepted} of {tried} posterior draws are stationary (tau, rho, eta "
                f"inside the stable region; P ~ {accepted / tried:.4f}): the data point to an "
                "explosive or unit-root process under this W. Use stationarity='report' to see "
                "the unrestricted posterior, or reconsider W or the model (e.g. difference y)."
            )
        size = int(min(20 * total, (total - accepted) / (accepted / tried) * 1.2 + 100))
        out = more(size)
        flags = ok(out)
        batches.append((out, flags))
        tried, accepted = tried + size, accepted + int(flags.sum())
    out = out._replace(
        **{k: np.concatenate([getattr(b, k)[m] for b, m in batches])[:total] for k in fields}
    )
    return out, {"p_stationary": accepted / tried, "p_stationary_draws": tried}

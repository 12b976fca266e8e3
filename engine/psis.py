"""Pareto-smoothed importance sampling LOO, vectorised over observations.

The same estimator as ArviZ's ``loo``/``psislw`` (Vehtari, Gelman & Gabry 2017,
*Statistics and Computing* 27, 1413-1432; Vehtari, Simpson, Gelman, Yao & Gabry
2024, *JMLR* 25(72)): for each observation the raw importance ratios are
1 / p(y_i | theta_s); the largest M = ceil(min(S / 5, 3 sqrt(S / r_eff))) are
replaced by the expected order statistics of a generalised Pareto distribution
fitted by Zhang & Stephens' (2009, *Technometrics* 51, 316-325) empirical Bayes
method with a weak prior on k, truncated at the largest raw weight, and

    elpd_i = log sum_s w_is p(y_i | theta_s) / sum_s w_is.

ArviZ runs this one observation at a time (0.3 ms each, about 5 minutes at
10^6 observations, in BENCHMARKS.md's LOO section); here every step is an
array operation over a block of observations, and only the top M + 1 draws of
each are sorted (a partition finds them). Rows whose tail has ties at the
cut-off (so that fewer than M draws exceed it) take ArviZ's one-row path,
written out in `_smooth_row`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

PRIOR_BS = 3
"""Zhang-Stephens: the grid of b scales with 1 / (PRIOR_BS x first quartile)."""
PRIOR_K = 10
"""Weakly informative prior on k: PRIOR_K pseudo-observations at k = 1/2."""
CUTOFF_MIN = float(np.log(np.finfo(float).tiny))
"""Log weights below this are never in the tail."""
CANCEL_MAX = 1e4
"""Largest raw-tail to denominator ratio computed by subtraction (error <= 3e-11)."""


class PsisBlock(NamedTuple):
    """PSIS-LOO terms of a block of observations."""

    loo_i: np.ndarray
    """log p(y_i | y_-i) estimates (B,)."""
    pareto_k: np.ndarray
    """Estimated generalised Pareto shape of each observation's importance ratios (B,)."""
    lppd_i: np.ndarray
    """log of the posterior mean of p(y_i | theta) (B,), for p_loo."""


def tail_length(n_samples: int, reff: float = 1.0) -> int:
    """M = ceil(min(S / 5, 3 sqrt(S / r_eff))), the number of draws in the smoothed tail."""
    return int(np.ceil(min(n_samples / 5.0, 3 * (n_samples / reff) ** 0.5)))


def gpd_fit(tail, xp=np):
    """Zhang-Stephens estimates (k, sigma) of each row of sorted exceedances (B, M).

    ``xp`` is numpy or jax.numpy (the same arithmetic either way).
    """
    n = tail.shape[1]
    m_est = 30 + int(n**0.5)
    b = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b = b / (PRIOR_BS * tail[:, int(n / 4 + 0.5) - 1])[:, None] + 1 / tail[:, -1][:, None]
    k_grid = xp.log1p(-b[:, :, None] * tail[:, None, :]).mean(axis=2)
    profile = n * (xp.log(-(b / k_grid)) - k_grid - 1)
    w = 1 / xp.exp(profile[:, None, :] - profile[:, :, None]).sum(axis=2)
    w = xp.where(w >= 10 * np.finfo(float).eps, w, 0.0)
    w_sum = w.sum(axis=1, keepdims=True)
    w = w / xp.where(w_sum > 0, w_sum, 1.0)  # none kept: b = 0, as ArviZ's empty sum
    b_post = xp.where(w > 0, b * w, 0.0).sum(axis=1)
    k = xp.log1p(-b_post[:, None] * tail).mean(axis=1)
    sigma = -k / b_post
    return (n * k + PRIOR_K * 0.5) / (n + PRIOR_K), sigma


def gpd_quantiles(probs, k, sigma, xp=np):
    """Generalised Pareto quantiles at ``probs`` (M,) for each row's (k, sigma) -> (B, M)."""
    k1, s1 = k[:, None], sigma[:, None]
    tiny = xp.abs(k1) < np.finfo(float).eps
    q = xp.where(tiny, -xp.log1p(-probs), xp.expm1(-k1 * xp.log1p(-probs)) / k1)
    return xp.where(s1 > 0, q * s1, np.nan)


@jax.jit
def smooth_core(log_lik, tail_ll, cut_ll):
    """PSIS-LOO of rows of ``log_lik`` (B, S) whose M largest ratios exceed the cut-off.

    ``tail_ll`` (B, M) holds each row's M smallest log-likelihoods (the largest
    ratios) in descending order and ``cut_ll`` (B,) the (M + 1)-th: a partition on
    the host (`lowest_values`; XLA's top_k and sort are far slower on CPU).
    Returns loo_i, k, lppd_i and ``regular`` (B,): rows where it is False (ties
    at the cut-off, or a cut-off below `CUTOFF_MIN`) must be redone one by one.
    Outside the tail the weighted terms x_s + log p_s equal -max(x) for every
    draw, so the numerator needs only their count; the denominator's sum over the
    rest is the sum over all draws less the M tail terms (known exactly), so the
    (B, S) array is read in two plain passes with no masks (a masked pass costs
    four times as much on XLA's CPU backend). x <= 0 everywhere and the smoothed
    tail is >= the cut-off >= log(tiny), so no shift is needed. The subtraction
    loses about 12 eps x (raw tail mass / denominator) relative: rows where that
    ratio exceeds `CANCEL_MAX` (smoothing shrank a huge raw weight, k well above
    1) are marked irregular and redone exactly on the host.
    """
    S = log_lik.shape[1]
    M = tail_ll.shape[1]
    mx = -tail_ll[:, -1]
    cut = jnp.maximum(-cut_ll - mx, CUTOFF_MIN)
    tail = -tail_ll - mx[:, None]  # ascending
    regular = tail[:, 0] > cut
    exp_cut = jnp.exp(cut)[:, None]
    k, sigma = gpd_fit(jnp.exp(tail) - exp_cut, jnp)
    probs = jnp.arange(0.5, M) / M
    smoothed = jnp.minimum(jnp.log(gpd_quantiles(probs, k, sigma, jnp) + exp_cut), 0.0)
    smoothed = jnp.where(jnp.isfinite(k)[:, None], smoothed, tail)
    total = jnp.exp(-log_lik - mx[:, None]).sum(axis=1)
    raw_tail = jnp.exp(tail).sum(axis=1)
    den = jnp.maximum(total - raw_tail, 0.0) + jnp.exp(smoothed).sum(axis=1)
    regular = regular & (raw_tail <= CANCEL_MAX * den)
    log_den = jnp.log(den)
    terms = smoothed + tail_ll
    top2 = jnp.maximum(terms.max(axis=1), -mx)
    num = (S - M) * jnp.exp(-mx - top2) + jnp.exp(terms - top2[:, None]).sum(axis=1)
    loo_i = jnp.log(num) + top2 - log_den
    ll_max = log_lik.max(axis=1)
    lppd_i = jnp.log(jnp.exp(log_lik - ll_max[:, None]).sum(axis=1)) + ll_max - jnp.log(S)
    return loo_i, k, lppd_i, regular


_POOL = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)))


def lowest_values(a: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's (m - 1) smallest values in descending order, and its m-th smallest.

    `numpy.partition` then a sort of the m - 1, on slices of rows in a thread
    pool (numpy releases the GIL): the largest cost of PSIS at 4,000 draws.
    """

    def part(rows):
        p = np.partition(a[rows], m - 1, axis=1)
        return np.sort(p[:, : m - 1], axis=1)[:, ::-1], p[:, m - 1]

    chunks = np.array_split(np.arange(a.shape[0]), _POOL._max_workers)
    done = [w.result() for w in [_POOL.submit(part, r) for r in chunks]]
    return np.concatenate([d[0] for d in done]), np.concatenate([d[1] for d in done])


def smooth(log_lik, reff: float = 1.0) -> PsisBlock:
    """PSIS-LOO of each row of ``log_lik`` (B, S): log p(y_i | theta_s) over S draws.

    ``log_lik``: a numpy array or a float64 jax array (used in place).
    """
    host = np.asarray(log_lik, dtype=float)  # no copy of a float64 CPU jax array
    S = host.shape[1]
    M = tail_length(S, reff)
    tail_ll, cut_ll = lowest_values(host, M + 1)
    on_device = log_lik if isinstance(log_lik, jax.Array) else host
    out = smooth_core(on_device, tail_ll, cut_ll)
    loo_i, k, lppd_i, regular = (np.array(a) for a in out)
    redo = np.flatnonzero(~regular | (M <= 4))
    for i in redo:
        row = host[i]
        with np.errstate(all="ignore"):  # as in ArviZ: degenerate tails give inf/NaN k
            x, k[i] = _smooth_row(-row, -(M + 1))
        x = x - logsumexp(x[None])[0]
        loo_i[i] = logsumexp((x + row)[None])[0]
    return PsisBlock(loo_i, k, lppd_i)


def logsumexp(a: np.ndarray, axis: int = 1, keepdims: bool = False) -> np.ndarray:
    """Log sum exp along ``axis``, shifted by the maximum (NaN in, NaN out)."""
    m = a.max(axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    out = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else out.squeeze(axis)


def _put(x: np.ndarray, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    np.put_along_axis(x, idx, values, axis=1)
    return x


def _smooth_row(log_ratios: np.ndarray, cutoff_ind: int) -> tuple[np.ndarray, float]:
    """One row as ArviZ's ``_psislw`` does it (ties at the cut-off, or a tail of <= 4)."""
    x = log_ratios - log_ratios.max()
    xcut = max(np.sort(x)[cutoff_ind], CUTOFF_MIN)
    (tail_pos,) = np.nonzero(x > xcut)
    if tail_pos.size <= 4:
        return x, np.inf
    order = np.argsort(x[tail_pos])
    tail = np.exp(x[tail_pos[order]]) - np.exp(xcut)
    k, sigma = gpd_fit(tail[None, :])
    if np.isfinite(k[0]):
        probs = np.arange(0.5, tail.size) / tail.size
        q = gpd_quantiles(probs, k, sigma)[0]
        x[tail_pos[order]] = np.log(q + np.exp(xcut))
        x[x > 0] = 0
    return x, float(k[0])

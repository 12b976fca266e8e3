"""Exact leave-one-out predictive densities of Gaussian SAR/SEM-type models under the NIG prior.

For the conjugate models of `bayespatial.engine.conjugate` (one spatial
parameter r on a grid, (beta, sigma^2) normal-inverse-gamma given r) the
leave-one-out predictive density needs neither refits nor importance sampling.
Given r, the conditional of one observation (`bayespatial.engine.loo`, fixed
effects integrated out: B = I_T (x) A, M their annihilator) is, after
whitening by Q_ii = [B'M B]_ii (sigma^2 = 1; 1 + r^2 sum_k W_ki^2 without effects),

    p(y_i | y_-i, beta, sigma^2, r) = sqrt(Q_ii) N(z_i; x_i'beta, sigma^2),
    z_i = (B'M B y)_i / sqrt(Q_ii),
    x_i = (B'M Z)_i / sqrt(Q_ii) (lag)   or   (B'M B Z)_i / sqrt(Q_ii) (error),

a linear-model factor of the likelihood. With fixed effects the NIG posterior
at r is that of the Lee-Yu transformed likelihood (`bayespatial.engine.crossprod`),
whose quadratic form is (B y - Z beta)' M (B y - Z beta): the same factorisation
holds, so the algebra below is unchanged. Removing it from the NIG posterior
(m, P, a, b) at r is the deletion algebra of least squares: with
h = x'P^-1 x and e = z - x'm, the posterior without y_i has a - 1/2 and
b - e^2 / (2 (1 - h)), and

    p(y_i | y_-i, r) = sqrt(Q_ii) t_{2a-1}(e / (1 - h); 0, s^2),
    s^2 = (b - e^2 / (2 (1 - h))) / ((a - 1/2) (1 - h)).

Over r, p(r | y_-i) is proportional to p(r | y) / p(y_i | y_-i, r), so

    1 / p(y_i | y_-i) = sum_g w_g / p(y_i | y_-i, r_g)

with w the normalised posterior of r on the grid (quadrature weights
included). This is exact LOO up to the one-dimensional quadrature. It is
the identity PSIS estimates by Monte Carlo, and where PSIS's Pareto k is large
it still holds. Cost O(G N p^2) for G grid points.

Nested grids. On a uniform grid of G = 2^m intervals the sum runs first on the
coarsest nested grid (every G/32-th point), then on the grids with twice as many
points, each reusing the points before; it stops at the first grid whose values all
differ from the coarser grid's by less than `REFINE_TOL` (checked over all
observations, so the result does not depend on how they are split into blocks), or
at the full grid. For smooth integrands the trapezoid rule's error falls
geometrically with the number of points (Trefethen & Weideman 2014, *SIAM Review*
56, 385-458), so the accepted grid's error is far below that difference. With
many observations the posterior of r is concentrated, the integrand varies little
over it, and the 65-point grid already agrees with the 33-point one to rounding.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import logsumexp, poch

LEVERAGE_GAP = 1e-8
"""Leverage h_i above 1 - this: y_i alone determines a coefficient direction."""
LEVERAGE_ONE = (
    "an observation has leverage 1 (e.g. a dummy that is non-zero for one unit-period "
    "only), so the posterior without it is improper and its leave-one-out density "
    "undefined; use PSIS, which flags it, or drop that regressor"
)
BLOCK = 32768
"""Observations per block of `pointwise` (a unit of work for one thread)."""
NEGLIGIBLE = 50.0
"""Grid points whose posterior weight is below e^-50 of the largest are skipped (near
the ends of the interval A is nearly singular and they carry no mass)."""
COARSEST = 32
"""Intervals of the coarsest nested grid that `pointwise` tries first."""
REFINE_TOL = 1e-11
"""A nested grid is accepted when every log density it gives differs from the next
coarser grid's by less than this (module docstring, "Nested grids")."""


def pointwise(
    basis: np.ndarray,
    qpoly: np.ndarray,
    kind: str,
    grid,
    log_weights,
    post,
    workers=None,
    closed_form: bool = True,
):
    """Exact log p(y_it | y_-it) (T, n) for a Gaussian lag/error model.

    ``basis`` (K, T, n) and ``qpoly`` (3, n) are `bayespatial.engine.loo.LooBasis`
    for ``kind`` and the fit's fixed effects;
    ``post`` = (P, m, a, b) of the NIG posterior at each grid point (G, p, p),
    (G, p), scalar, (G,) (`bayespatial.engine.conjugate.posterior_terms`);
    ``log_weights`` (G,) the unnormalised log posterior of r times the
    quadrature weight.

    Per grid point, in unwhitened terms (x~ = sqrt(Q_ii) x, e~ = sqrt(Q_ii) e):
    v = Q_ii - x~'P^-1 x~ = Q_ii (1 - h) and c = e~^2 / (2 v) = e^2 / (2 (1 - h)),
    so b - c is the deleted b and the Student-t density of the module docstring
    reduces to

        log p(y_i | y_-i, r) = K(a, b) + 1/2 log v + (a - 1/2) log(b - c),
        K(a, b) = lgamma(a) - lgamma(a - 1/2) - 1/2 log(2 pi) - a log b,

    evaluated as K + (a - 1/2) log b = lgamma(a) - lgamma(a - 1/2) - 1/2 log(2 pi b)
    plus (a - 1/2) log1p(-c / b): a log b is of order N log N, and forming it
    and cancelling it would leave rounding errors of order 1e-16 N log N in the result.
    That is two logarithms per observation and grid point (one BLAS product for x~'P^-1 and
    x~'m), and a log-add that accumulates the sum over the grid in place, so memory
    stays O(N). Observations are processed in blocks of `BLOCK` on ``workers``
    threads (numpy releases the GIL in its loops; default: the CPUs this process may
    use). For the lag model each grid point costs O(N) (`_lag_polynomials`;
    ``closed_form=False`` takes the general O(N p^2) path, as the error model does).
    """
    pn, mn, an, bn = post
    basis = np.asarray(basis, dtype=float)
    p = mn.shape[1]
    T, n = basis.shape[1:]
    N = T * n
    parts = 2 if kind == "lag" else 3
    if basis.shape[0] - 3 != parts * p:
        raise ValueError(f"basis does not match kind={kind!r}: build it with init_basis(kind).")
    y_part = basis[:3].reshape(3, N)
    # (parts, N, p): contiguous rows per observation for one BLAS product per grid point
    z_part = np.ascontiguousarray(np.moveaxis(basis[3:].reshape(parts, p, N), 1, 2))
    q_part = np.tile(np.asarray(qpoly, dtype=float), (1, T))  # (3, N), Q_ii per observation
    log_w = np.asarray(log_weights, dtype=float) - logsumexp(log_weights)
    keep = np.flatnonzero(log_w > log_w.max() - NEGLIGIBLE)
    a_del = float(an) - 0.5
    # log Gamma(a) - log Gamma(a - 1/2) as one ratio: the difference of the two cancels
    # terms of order a log a (2e-10 at N = 2e5)
    const = np.log(poch(a_del, 0.5)) - 0.5 * np.log(2 * np.pi)
    r_all = np.asarray(grid, dtype=float)
    levels = _nested_levels(r_all)  # level of each grid point: 0 the coarsest grid
    points = [
        (
            r_all[g],
            np.column_stack([np.linalg.inv(pn[g]), mn[g]]),  # (p, p + 1)
            bn[g],
            log_w[g] - const + 0.5 * np.log(bn[g]),
            levels[g],
        )
        for g in keep
    ]

    def general_block(lo: int, hi: int, level: int) -> np.ndarray:
        acc = np.full(hi - lo, -np.inf)
        for r, proj_m, b, shift, at in points:
            if at != level:
                continue
            q = q_part[0, lo:hi] + r * q_part[1, lo:hi] + r**2 * q_part[2, lo:hi]
            y_t = y_part[0, lo:hi] - r * y_part[1, lo:hi] + r**2 * y_part[2, lo:hi]
            x_t = z_part[0, lo:hi] - r * z_part[1, lo:hi]
            if parts == 3:
                x_t += r**2 * z_part[2, lo:hi]
            proj = x_t @ proj_m  # (B, p + 1): x~'P^-1 and x~'m
            v = q - np.einsum("ij,ij->i", proj[:, :p], x_t)
            if np.any(v <= LEVERAGE_GAP * q):  # leverage h = 1 - v / Q_ii near 1
                raise FloatingPointError(LEVERAGE_ONE)
            resid = y_t - proj[:, p]
            term = shift - 0.5 * np.log(v) - a_del * np.log1p(-(resid**2) / (2.0 * v * b))
            np.logaddexp(acc, term, out=acc)
        return acc

    poly = None
    if kind == "lag" and closed_form:  # O(N) per grid point (`_lag_polynomials`)
        poly = _lag_polynomials(y_part, z_part, q_part, pn, mn, r_all, keep)
    if poly is not None:

        def poly_block(lo: int, hi: int, level: int) -> np.ndarray:
            (v0, v1, v2), (e0, e1, e2), (q0, q1, q2) = (c[:, lo:hi] for c in poly)
            acc = np.full(hi - lo, -np.inf)
            for r, _, b, shift, at in points:
                if at != level:
                    continue
                v = v0 + r * (v1 + r * v2)
                if np.any(v <= LEVERAGE_GAP * (q0 + r * (q1 + r * q2))):
                    raise FloatingPointError(LEVERAGE_ONE)
                resid = e0 + r * (e1 + r * e2)
                term = shift - 0.5 * np.log(v) - a_del * np.log1p(-(resid**2) / (2.0 * v * b))
                np.logaddexp(acc, term, out=acc)
            return acc

    block = general_block if poly is None else poly_block
    starts = range(0, N, BLOCK)

    def level_sum(level: int) -> np.ndarray:
        """Log sum over the grid points of ``level`` of w_g / p(y_i | y_-i, r_g), (N,)."""
        if len(starts) == 1:
            return block(0, N, level)
        with ThreadPoolExecutor(max_workers=min(workers or _cpus(), len(starts))) as pool:
            return np.concatenate(
                list(pool.map(lambda lo: block(lo, min(lo + BLOCK, N), level), starts))
            )

    acc, previous = None, None
    for level in range(int(levels.max()) + 1):
        part = level_sum(level)
        acc = part if acc is None else np.logaddexp(acc, part)
        current = acc - logsumexp(log_w[levels <= level])  # normalised on this grid
        if previous is not None and np.all(np.abs(current - previous) < REFINE_TOL):
            break
        previous = current
    out = -current.reshape(T, n)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(LEVERAGE_ONE)
    return out


def _nested_levels(grid: np.ndarray) -> np.ndarray:
    """Per grid point, the first nested grid that holds it (0: every G/`COARSEST`-th point).

    Nested grids need a uniform grid of G = 2^m >= 2 `COARSEST` intervals; any other grid
    is one level (all points at once).
    """
    G = grid.size - 1
    steps = np.diff(grid)
    uniform = G > 0 and np.allclose(steps, steps[0], rtol=1e-9, atol=0.0)
    if not uniform or G < 2 * COARSEST or G & (G - 1):
        return np.zeros(grid.size, dtype=np.int64)
    index = np.arange(grid.size)
    level = np.full(grid.size, -1, dtype=np.int64)
    k, stride = 0, G // COARSEST
    while stride >= 1:
        level[(index % stride == 0) & (level < 0)] = k
        k, stride = k + 1, stride // 2
    return level


def _lag_polynomials(y_part, z_part, q_part, pn, mn, grid, keep):
    """For the lag model, v(r) and the residual as quadratics in r per observation, or None.

    With B = I - r W acting on y only, P_n = P0 + Z'M Z does not depend on r and
    m_n(r) = m_a - r m_b is linear in r (`bayespatial.engine.conjugate.posterior_terms`).
    With x~ = a - r b and A = P_n^-1,

        v(r) = Q_ii(r) - x~'A x~ = (q0 - a'Aa) + r (q1 + 2 a'Ab) + r^2 (q2 - b'Ab),
        e(r) = y~(r) - x~'m_n(r) = (y0 - a'm_a) + r (a'm_b + b'm_a - y1) + r^2 (y2 - b'm_b),

    so each grid point costs O(N) instead of O(N p^2). None when P_n varies or m_n is
    not linear over the grid (then the general path runs).
    """
    g0, gm, g1 = keep[0], keep[len(keep) // 2], keep[-1]
    scale = np.abs(pn[g0]).max()
    if not all(np.allclose(pn[g], pn[g0], rtol=1e-10, atol=1e-12 * scale) for g in (gm, g1)):
        return None
    r0, r1 = grid[g0], grid[g1]
    m_b = (mn[g0] - mn[g1]) / (r1 - r0) if g1 != g0 else np.zeros_like(mn[g0])
    m_a = mn[g0] + r0 * m_b
    if not np.allclose(mn[gm], m_a - grid[gm] * m_b, rtol=1e-9, atol=1e-12):
        return None
    A = np.linalg.inv(pn[g0])
    a, b = z_part[0], z_part[1]
    aA, bA = a @ A, b @ A
    c0, c1, c2 = (np.einsum("ij,ij->i", u, w) for u, w in ((aA, a), (aA, b), (bA, b)))
    v = np.stack([q_part[0] - c0, q_part[1] + 2 * c1, q_part[2] - c2])
    e = np.stack([y_part[0] - a @ m_a, a @ m_b + b @ m_a - y_part[1], y_part[2] - b @ m_b])
    return v, e, q_part


def _cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def trapezoid_log_weights(grid: np.ndarray, log_density: np.ndarray) -> np.ndarray:
    """log(density x trapezoid weight) on a sorted grid."""
    grid = np.asarray(grid, dtype=float)
    step = np.diff(grid)
    w = np.zeros_like(grid)
    w[:-1] += step / 2
    w[1:] += step / 2
    return np.asarray(log_density, dtype=float) + np.log(w)

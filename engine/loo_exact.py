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
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, logsumexp

LEVERAGE_GAP = 1e-8
"""Leverage h_i above 1 - this: y_i alone determines a coefficient direction."""
LEVERAGE_ONE = (
    "an observation has leverage 1 (e.g. a dummy that is non-zero for one unit-period "
    "only), so the posterior without it is improper and its leave-one-out density "
    "undefined; use PSIS, which flags it, or drop that regressor"
)
NEGLIGIBLE = 50.0
"""Grid points whose posterior weight is below e^-50 of the largest are skipped (near
the ends of the interval A is nearly singular and they carry no mass)."""


def pointwise(basis: np.ndarray, qpoly: np.ndarray, kind: str, grid, log_weights, post):
    """Exact log p(y_it | y_-it) (T, n) for a Gaussian lag/error model.

    ``basis`` (K, T, n) and ``qpoly`` (3, n) are `bayespatial.engine.loo.LooBasis`
    for ``kind`` and the fit's fixed effects;
    ``post`` = (P, m, a, b) of the NIG posterior at each grid point (G, p, p),
    (G, p), scalar, (G,) (`bayespatial.engine.conjugate.posterior_terms`);
    ``log_weights`` (G,) the unnormalised log posterior of r times the
    quadrature weight.
    """
    pn, mn, an, bn = post
    basis = np.asarray(basis, dtype=float)
    p = mn.shape[1]
    y_part, z_part = basis[:3], basis[3:].reshape(-1, p, *basis.shape[1:])
    if z_part.shape[0] != (2 if kind == "lag" else 3):
        raise ValueError(f"basis does not match kind={kind!r}: build it with init_basis(kind).")
    log_w = np.asarray(log_weights, dtype=float) - logsumexp(log_weights)
    keep = np.flatnonzero(log_w > log_w.max() - NEGLIGIBLE)
    acc = []
    for g, r in zip(keep, np.asarray(grid, dtype=float)[keep], strict=True):
        q = qpoly[0] + r * qpoly[1] + r**2 * qpoly[2]  # (n,)
        root = np.sqrt(q)
        z = (y_part[0] - r * y_part[1] + r**2 * y_part[2]) / root
        if kind == "lag":
            x = z_part[0] - r * z_part[1]
        else:
            x = z_part[0] - r * z_part[1] + r**2 * z_part[2]
        x = np.moveaxis(x, 0, -1) / root[:, None]  # (T, n, p)
        pinv = np.linalg.inv(pn[g])
        h = np.einsum("tnp,pq,tnq->tn", x, pinv, x)
        if h.max() > 1 - LEVERAGE_GAP:
            raise FloatingPointError(LEVERAGE_ONE)
        e = z - x @ mn[g]
        one_h = 1.0 - h
        a_del = an - 0.5
        b_del = bn[g] - 0.5 * e**2 / one_h
        s2 = b_del / (a_del * one_h)
        nu = 2.0 * a_del
        u = e / one_h
        log_t = (
            gammaln((nu + 1) / 2)
            - gammaln(nu / 2)
            - 0.5 * np.log(nu * np.pi * s2)
            - (nu + 1) / 2 * np.log1p(u**2 / (nu * s2))
        )
        acc.append(log_w[g] - (0.5 * np.log(q) + log_t))
    out = -logsumexp(np.stack(acc), axis=0)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(LEVERAGE_ONE)
    return out


def trapezoid_log_weights(grid: np.ndarray, log_density: np.ndarray) -> np.ndarray:
    """log(density x trapezoid weight) on a sorted grid."""
    grid = np.asarray(grid, dtype=float)
    step = np.diff(grid)
    w = np.zeros_like(grid)
    w[:-1] += step / 2
    w[1:] += step / 2
    return np.asarray(log_density, dtype=float) + np.log(w)

"""The grid sampler of one varying term against brute-force quadrature.

The oracle evaluates `bayespatial.engine.pooling.collapsed` (Cholesky of P_n at every
point, no simultaneous diagonalisation) on its own grid over (r, log tau) with the
log-determinant by dense eigenvalues, and integrates the moments of r, tau, sigma^2
and the coefficients (E[sigma^2 | r, tau] = b_n / (a_n - 1)). The sampler's draws are
independent, so its Monte Carlo standard error is sd / sqrt(draws); tolerance 4 se.
"""

import numpy as np
import pytest
from scipy.stats import halfnorm

from bayespatial.data import weights
from bayespatial.engine import pooled_grid, pooling
from bayespatial.engine.crossprod import cross_products, quadratic_forms

T, G = 3, 4
DRAWS = 4000


def _problem(kind, zero_mean, seed=2, empty_group=False):
    W = weights.lattice(6, 5).row_standardize()
    n = W.n
    m = W.sparse.toarray()
    rng = np.random.default_rng(seed)
    group = rng.integers(0, G, size=n)
    member = (group[:, None] == np.arange(G)[None]).astype(float)
    x1, x2 = rng.normal(size=(T, n)), rng.normal(size=(T, n))
    if empty_group:  # x1 is zero in group 0: its column of Z is zero, Z'Z singular
        x1[:, group == 0] = 0.0
    slopes = np.array([0.4, 1.0, 1.3, 0.8])
    e = rng.normal(size=(T, n))
    A = np.linalg.inv(np.eye(n) - 0.5 * m)
    if kind == "lag":
        y = np.einsum("ij,tj->ti", A, slopes[group] * x1 + 0.5 * x2 + e)
    else:
        y = slopes[group] * x1 + 0.5 * x2 + np.einsum("ij,tj->ti", A, e)
    if zero_mean:  # group intercepts under time effects
        y = y + np.array([0.5, -0.2, 0.1, 0.3])[group]
        Z = np.concatenate([x1[..., None], x2[..., None], np.broadcast_to(member, (T, n, G))], -1)
        fe = "time"
    else:
        Z = np.concatenate([x2[..., None], x1[..., None] * member[None]], axis=-1)
        fe = "unit"
    cp = cross_products(y, Z, W, fe)
    start = Z.shape[-1] - G
    layout = pooling.Layout(Z.shape[-1], ((start, G),), (True,) if zero_mean else ())
    lam = np.linalg.eigvals(m).real
    return cp, layout, lam


def _oracle(cp, layout, lam, kind, a0, b0, scale, r_range):
    """Moments on a 161 x 401 grid: batched Cholesky of P_n = Z_r'Z_r + Lambda(tau) per point."""
    rs = np.linspace(*r_range, 161)
    us = np.linspace(np.log(1e-6 * scale), np.log(20 * scale), 401)
    taus = np.exp(us)
    lams = np.stack([pooling.prior_precision(layout, np.array([t])) for t in taus])
    f = pooling.flat_directions(layout)
    a_n = a0 + 0.5 * (cp.nobs - f)
    G = layout.blocks[0][1]
    logp = np.empty((rs.size, us.size))
    s2 = np.empty_like(logp)
    means = np.empty((*logp.shape, layout.p))
    for i, r in enumerate(rs):
        yy, zy, zz = (v[0] for v in quadratic_forms(cp, np.array([r]), kind))
        P = zz[None] + lams
        L = np.linalg.cholesky(P)
        m = np.linalg.solve(P, np.broadcast_to(zy, (us.size, layout.p))[..., None])[..., 0]
        b_n = b0 + 0.5 * (yy - m @ zy)
        ld = np.log(1 - r * lam).sum() - (np.log1p(-r) if cp.drop_unit_root else 0.0)
        logp[i] = (
            -np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
            - a_n * np.log(b_n)
            - (G - 1) * us
            + cp.logdet_mult * ld
            + halfnorm(scale=scale).logpdf(taus)
            + us
        )
        s2[i] = b_n / (a_n - 1)  # E[sigma^2 | r, tau]
        means[i] = m
    w = np.exp(logp - logp.max())
    w /= w.sum()
    assert w[[0, -1]].sum() + w[:, -1].sum() < 1e-6
    return {
        "r": w.sum(1) @ rs,
        "tau": w.sum(0) @ taus,
        "sigma2": (w * s2).sum(),
        "theta": np.einsum("ij,ijk->k", w, means),
    }


@pytest.mark.parametrize(
    ("kind", "zero_mean", "empty_group"),
    [("lag", False, False), ("error", False, False), ("lag", True, False), ("lag", False, True)],
)
def test_grid_draws_match_brute_force_quadrature(kind, zero_mean, empty_group):
    """The last case has a group whose x is zero: its coefficient is identified by the prior
    alone (mu + omega z), and Z'Z is singular, which the factorisation must not need."""
    cp, layout, lam = _problem(kind, zero_mean, empty_group=empty_group)
    a0, b0, scale = 1.0, 0.5, 1.2
    bounds = (1 / lam.min() + 1e-6, 1 - 1e-6)
    out = pooled_grid.sample(
        cp,
        layout,
        a0,
        b0,
        lambda t: halfnorm(scale=scale).logpdf(t),
        scale,
        DRAWS,
        np.random.default_rng(7),
        kind=kind,
        bounds=bounds,
        logdet=lambda r: np.log(1 - np.multiply.outer(np.atleast_1d(r), lam)).sum(-1),
        log_prior_r=lambda r: np.zeros_like(r),
    )
    spread = out.r.std()
    lo, hi = max(bounds[0], out.r.min() - 3 * spread), min(bounds[1], out.r.max() + 3 * spread)
    want = _oracle(cp, layout, lam, kind, a0, b0, scale, (lo, hi))

    def close(draws, target):
        se = draws.std(0) / np.sqrt(DRAWS)
        assert np.all(np.abs(draws.mean(0) - target) < 4 * se + 1e-12)

    close(out.r, want["r"])
    close(out.tau, want["tau"])
    close(out.sigma2, want["sigma2"])
    theta = out.theta
    if zero_mean:  # the draws are centred: compare deviations from the block mean
        start, size = layout.blocks[0]
        block = want["theta"][start : start + size]
        want["theta"][start : start + size] = block - block.mean()
        assert np.allclose(theta[:, start : start + size].mean(1), 0)
    close(theta, want["theta"])

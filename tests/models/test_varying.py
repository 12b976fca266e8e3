"""``fit(..., varying=)``: the partially pooled posterior against a dense grid oracle.

The oracle is built from first principles, apart from the fit's code: the group
columns are formed by loops over units, unit effects are removed by demeaning (Lee &
Yu's transformation gives the same inner products, with (T - 1) log|I - rho W|), the
group coefficients get the explicit proper prior beta_g = mu + omega z_g with
mu ~ N(0, 10^6) and the fixed coefficients N(0, 10^6) (the flat limit),
omega | sigma half-normal with scale sigma * TAU_SCALE (the fit's tau = omega / sigma
prior), and the
marginal likelihood is the Gaussian N(0, sigma^2 I + X Sigma0 X') by the Woodbury
identity. Its moments over a grid of (rho, log sigma^2, log omega_1, ...) are the
reference. NUTS moments agree within 4 Monte Carlo standard errors
(posterior sd / sqrt(bulk ESS)); the grid's own error is far below that (its edges
hold less than 1e-6 of the mass, checked).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import halfnorm, invgamma

import bayespatial as bsp
from bayespatial.data import weights
from bayespatial.models.arviz_io import ess_rhat
from bayespatial.priors.spec import HalfNormal, Priors

SIDE, T = 8, 4
SIZES = (5, 8, 12, 17, 22)  # units per region, the smallest with 5
SLOPES = (0.2, 0.9, 1.1, 1.3, 0.6)
BIG = 1e3  # sd of the oracle's proper priors on mu and the fixed coefficients
TAU_SCALE = 1.5


def _panel(rho: float, theta: float, seed: int):
    W = weights.lattice(SIDE, SIDE, kind="queen").row_standardize()
    n = W.n
    rng = np.random.default_rng(seed)
    region = np.repeat(np.arange(len(SIZES)), SIZES)
    rng.shuffle(region)
    m = W.sparse.toarray()
    A = np.linalg.inv(np.eye(n) - rho * m)
    rows = []
    for t in range(T):
        x1, x2 = rng.normal(size=n), rng.normal(size=n)
        slope = np.asarray(SLOPES)[region]
        mean = slope * x1 + 0.5 * x2 + theta * m @ (slope * x1) + 0.3
        y = A @ (mean + 0.7 * rng.normal(size=n))
        rows.append(
            pd.DataFrame(
                {
                    "id": list(W.ids),
                    "t": t,
                    "y": y,
                    "x1": x1,
                    "x2": x2,
                    "region": [f"r{g}" for g in region],
                }
            )
        )
    return W, pd.concat(rows, ignore_index=True), region


def _oracle(W, df, region, model: str, fe: str, fit):
    """Posterior means and sds of rho, sigma, omega and the group slopes on a dense grid."""
    n, G = W.n, len(SIZES)
    m = W.sparse.toarray()
    ids = list(W.ids)
    frame = df.set_index(["t", "id"]).sort_index()
    y = np.stack([frame.loc[t].loc[ids, "y"].to_numpy() for t in range(T)])
    x1 = np.stack([frame.loc[t].loc[ids, "x1"].to_numpy() for t in range(T)])
    x2 = np.stack([frame.loc[t].loc[ids, "x2"].to_numpy() for t in range(T)])
    # columns: fixed first, then one block per varying coefficient
    split = np.zeros((T, n, G))
    for i in range(n):
        split[:, i, region[i]] = x1[:, i]
    fixed = [x2]
    blocks = [split]
    if model == "slx":
        fixed.append(np.einsum("ij,tj->ti", m, x2))
        blocks.append(np.einsum("ij,tjg->tig", m, split))
    if fe == "none":
        fixed.insert(0, np.ones((T, n)))
    X = np.concatenate([np.stack(fixed, axis=-1), *blocks], axis=-1)
    Wy = np.einsum("ij,tj->ti", m, y)

    def within(a):
        return a - a.mean(axis=0, keepdims=True) if fe == "unit" else a

    X, y, Wy = within(X).reshape(T * n, -1), within(y).ravel(), within(Wy).ravel()
    N = T * n - (n if fe == "unit" else 0)
    c = T - 1 if fe == "unit" else T
    p, K = X.shape[1], len(blocks)
    XX = X.T @ X
    post = fit.idata.posterior
    var_y = y @ y / N if fe == "unit" else np.var(df["y"])
    lam = np.linalg.eigvals(m).real
    if model == "sar":
        r_mean, r_sd = float(post["rho"].mean()), float(post["rho"].std())
        rhos = np.linspace(r_mean - 7 * r_sd, r_mean + 7 * r_sd, 41)
    else:
        rhos = np.zeros(1)
    s_draws = np.log(post["sigma"].values ** 2)
    log_s2 = np.linspace(s_draws.mean() - 7 * s_draws.std(), s_draws.mean() + 7 * s_draws.std(), 41)
    o_hi = np.log(float(post["omega"].max()) * 3)
    log_om = np.linspace(np.log(1e-4), o_hi, 61 if K == 2 else 81)
    grids = np.meshgrid(log_s2, *([log_om] * K), indexing="ij")
    s2 = np.exp(grids[0]).ravel()
    om = np.stack([np.exp(g).ravel() for g in grids[1:]], axis=1)  # (M, K)
    M = s2.size
    # prior precision and log-determinant of Sigma0 per omega
    prec0 = np.zeros((M, p, p))
    logdet0 = np.zeros(M)
    nf = p - G * K
    prec0[:, np.arange(nf), np.arange(nf)] = 1 / BIG**2
    logdet0 += nf * np.log(BIG**2)
    for k in range(K):
        cov = om[:, k, None, None] ** 2 * np.eye(G) + BIG**2 * np.ones((G, G))
        sl = slice(nf + k * G, nf + (k + 1) * G)
        prec0[:, sl, sl] = np.linalg.inv(cov)
        logdet0 += np.linalg.slogdet(cov)[1]
    out = []
    for r in rhos:
        yr = y - r * Wy
        Xy = X.T @ yr
        P = prec0 + XX / s2[:, None, None]
        L = np.linalg.cholesky(P)
        b = Xy / s2[:, None]
        mean = np.linalg.solve(P, b[..., None])[..., 0]
        logp = -0.5 * (
            N * np.log(s2)
            + logdet0
            + 2 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
            + yr @ yr / s2
            - np.einsum("mi,mi->m", b, mean)
        )
        logp += c * np.sum(np.log(1 - r * lam))
        logp += invgamma(0.01, scale=0.01 * var_y).logpdf(s2) + np.log(s2)
        tau_prior = halfnorm(scale=np.sqrt(s2)[:, None] * TAU_SCALE).logpdf(om)
        logp += (tau_prior + np.log(om)).sum(1)
        var = np.linalg.inv(P)
        out.append((logp, mean, var))
    logp = np.stack([o[0] for o in out])  # (R, M)
    w = np.exp(logp - logp.max())
    w /= w.sum()
    shaped = w.reshape(len(rhos), *[g.shape[0] for g in [log_s2, *([log_om] * K)]])
    edge = shaped[:, [0, -1]].sum()
    for k in range(K):
        edge += np.take(shaped, -1, axis=2 + k).sum()
    if model == "sar":
        edge += shaped[[0, -1]].sum()
    assert edge < 1e-6, edge  # the grid holds the posterior
    means = np.stack([o[1] for o in out])  # (R, M, p)
    second = np.stack([o[2] for o in out]) + means[..., :, None] * means[..., None, :]
    coef_mean = np.einsum("rm,rmp->p", w, means)
    coef_second = np.einsum("rm,rmp->p", w, np.diagonal(second, axis1=2, axis2=3))
    coef_sd = np.sqrt(coef_second - coef_mean**2)

    def moment(v):
        v = np.broadcast_to(v, w.shape)
        mu = (w * v).sum()
        return mu, np.sqrt((w * (v - mu) ** 2).sum())

    ref = {
        "sigma": moment(np.sqrt(s2)[None]),
        "omega": [moment(om[:, k][None]) for k in range(K)],
        "group": (coef_mean[nf:].reshape(K, G), coef_sd[nf:].reshape(K, G)),
    }
    if model == "sar":
        ref["rho"] = moment(rhos[:, None])
    return ref


def _close(draws, want_mean, want_sd, what):
    draws = np.asarray(draws)
    ess, rhat = ess_rhat(draws)
    assert rhat < 1.01, what
    se = draws.std() / np.sqrt(ess)
    assert abs(draws.mean() - want_mean) < 4 * se, (what, draws.mean(), want_mean, se)
    assert abs(draws.std() - want_sd) < 4 * draws.std() / np.sqrt(2 * ess) + 0.01 * want_sd, what


@pytest.mark.parametrize(("model", "fe"), [("sar", "unit"), ("slx", "none")])  # grid, NUTS
def test_partially_pooled_posterior_matches_dense_grid(model, fe):
    W, df, region = _panel(rho=0.35 if model == "sar" else 0.0, theta=0.4, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        fit = bsp.fit(
            model,
            "y ~ x1 + x2",
            df,
            W,
            unit="id",
            time="t",
            fe=fe,
            varying={"x1": "region"},
            priors=Priors(omega=HalfNormal(TAU_SCALE)),
            seed=3,
            progress=False,
        )
    ref = _oracle(W, df, region, model, fe, fit)
    post = fit.idata.posterior
    _close(post["sigma"].values, *ref["sigma"], "sigma")
    if model == "sar":
        _close(post["rho"].values, *ref["rho"], "rho")
    terms = list(post["varying"].values)
    assert terms == (["x1", "W_x1"] if model == "slx" else ["x1"])
    for k in range(len(terms)):
        _close(post["omega"].values[..., k], *ref["omega"][k], f"omega {terms[k]}")
        for g in range(len(SIZES)):
            _close(
                post["beta_group"].values[..., k, g],
                ref["group"][0][k, g],
                ref["group"][1][k, g],
                f"{terms[k]}[{g}]",
            )

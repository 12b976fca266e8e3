"""Probed-trace log-determinants: Chebyshev, Taylor and Lanczos quadrature.

All three write (1/n) log|I - rho W| = (1/n) tr f(W), f(x) = log(1 - rho x),
approximate f by a polynomial (or a Gauss quadrature) in W, and estimate the
traces of its high-order terms with probe vectors fixed at init: by default
a distance-16 colouring of the graph with random signs, exact for every
polynomial of degree <= 16 and nearly exact above, because the entries of
f(W) between units more than 16 steps apart are tiny
(`bayespatial.engine.probing`); Rademacher probes with ``distance=0``. The
exact traces of W..W^4 replace their probed counterparts. ``apply`` then
reduces to a weighted sum of log(1 - rho x_k) over fixed nodes x_k, cheap and
differentiable in rho.

Error = deterministic part (interpolation / truncation / quadrature, computed
from the spectrum interval at init) + Monte Carlo part (3 standard errors,
from the deviation matrix of the probed traces); both are stored in ``info``
for the value and the derivative, and their sum for the value is
``state.bound``. Bounds cover |rho| <= ``rho_max`` (0.95) inside the valid
interval.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import jax.numpy as jnp
import numpy as np
from numpy.polynomial import chebyshev as npcheb
from scipy.linalg import eigh_tridiagonal
from scipy.special import comb

from bayespatial.engine.logdet_state import LogDetState, rho_check_grid
from bayespatial.engine.sparse import as_csr
from bayespatial.engine.spectrum import spectrum
from bayespatial.engine.traces import (
    EXACT_ORDER,
    combine,
    exact_power_traces,
    forms_by_probe,
    init_traces,
    make_design,
    probe_blocks,
    spmm_into,
)

PROBING_DISTANCE = 16
"""Default colouring distance: same-colour units are more than 16 steps apart."""


def target_bound(n: int) -> float:
    """Per-unit accuracy the defaults aim at: 0.02 / sqrt(10 n).

    Under this error a 10-period panel's posterior of rho moves by a few
    hundredths of its posterior sd.
    """
    return 0.02 / np.sqrt(10 * n)


def _bound(symmetric: bool, value: float) -> float | None:
    """The bound holds for a real spectrum; W not similar to a symmetric matrix gets None.

    Its eigenvalues may be complex, where the interpolation error on the real
    interval says nothing; the error is then measured, not bounded (see
    BENCHMARKS.md).
    """
    return value if symmetric else None


def _f(rho, x):
    return np.log1p(-np.multiply.outer(rho, x))


def _df(rho, x):
    return -x / (1.0 - np.multiply.outer(rho, x))


def _spectrum_and_design(W, distance, probes, check, seed, then=None):
    """Spectrum interval and probe design, the colouring computed on a second thread.

    ``then(spec)``, if given, also runs on this thread while the colouring runs; its
    result is returned third. Both threads read a canonical matrix
    (`bayespatial.engine.sparse.as_csr`): scipy would otherwise sort its shared arrays
    in place while the other thread reads them (a heap corruption seen once on a
    freshly row-standardised W).
    """
    m = as_csr(W)
    with ThreadPoolExecutor(max_workers=1) as pool:
        design = pool.submit(make_design, m, distance, probes, check, seed)
        spec = spectrum(W)
        extra = then(spec) if then is not None else None
        return spec, design.result(), extra


def _three_se(per_piece: np.ndarray) -> float:
    """3 x the largest (over rho) standard error, from deviations of shape (rho, pieces)."""
    return float(3.0 * np.sqrt((per_piece**2).sum(axis=1)).max())


# --------------------------------------------------------------- chebyshev
def _chebyshev_exact_moments(pow_tr: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """tr(T_j(B))/n for j <= 4 with B = alpha W + beta I, from exact tr(W^i)/n."""
    k = len(pow_tr) - 1
    b_pow = np.array(
        [
            sum(comb(q, i) * alpha**i * beta ** (q - i) * pow_tr[i] for i in range(q + 1))
            for q in range(k + 1)
        ]
    )
    return np.array([npcheb.cheb2poly(np.eye(k + 1)[j]) @ b_pow[: j + 1] for j in range(k + 1)])


def _interp_error(a, b, rhos, order, grid=4001):
    """Max over rho and x in [a, b] of the interpolation error of f and of df/drho."""
    x = np.linspace(a, b, grid)
    xs = (2 * x - (a + b)) / (b - a)
    nodes = np.cos(np.pi * (np.arange(order + 1) + 0.5) / (order + 1))
    lam = (b - a) / 2 * nodes + (a + b) / 2
    to_coef = 2.0 / (order + 1) * npcheb.chebvander(nodes, order).T  # interpolation by the
    to_coef[0] *= 0.5  # discrete orthogonality of T_j at the order + 1 Chebyshev nodes
    at_x = npcheb.chebvander(xs, order)
    errs = []
    for fun in (_f, _df):
        coef = to_coef @ fun(rhos, lam).T
        errs.append(float(np.abs(at_x @ coef - fun(rhos, x).T).max()))
    return errs[0], errs[1]


ORDERS = (*range(10, 100, 2), *range(100, 401, 10))
"""Candidate Chebyshev orders, smallest first."""


def _chebyshev_order(a, b, rhos, tol):
    """Smallest candidate order whose interpolation error is below ``tol``.

    The error of interpolating log(1 - rho x) falls geometrically with the order,
    so the smallest passing order is found by bisection over `ORDERS`.
    """
    lo, hi = 0, len(ORDERS) - 1
    if max(_interp_error(a, b, rhos, ORDERS[hi], grid=801)) >= tol:
        return ORDERS[hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if max(_interp_error(a, b, rhos, ORDERS[mid], grid=801)) < tol:
            hi = mid
        else:
            lo = mid + 1
    return ORDERS[lo]


def init_chebyshev(
    W,
    order: int | None = None,
    distance: int = PROBING_DISTANCE,
    probes: int = 64,
    check: int = 16,
    seed: int = 0,
    rho_max: float = 0.95,
) -> LogDetState:
    """Chebyshev approximation (Pace & LeSage 2004, *CSDA* 45, 179-196).

    The spectrum interval [lambda_min, lambda_max] maps to [-1, 1] by
    B = (2 W - (lambda_max + lambda_min) I) / (lambda_max - lambda_min); f is
    interpolated at the order + 1 Chebyshev nodes x_k, and
    (1/n) log|I - rho W| ~ sum_k w_k log(1 - rho lambda_k) with
    w_k = 2/(m+1) sum_j' mu_j T_j(x_k), mu_j = tr(T_j(B))/n (exact for j <= 4,
    probed above). With a real spectrum the interpolation error per unit is
    at most max over [lambda_min, lambda_max] of |f - p_m|, computed at init on
    a fine grid. ``order`` defaults to the smallest that makes this error
    (value and derivative) a tenth of 0.02 / sqrt(10 n).
    """
    t0 = time.perf_counter()

    def meanwhile(spec):  # what needs only the spectrum, while the colouring runs
        rhos = rho_check_grid(spec, rho_max)
        m = spec.symmetric() if spec.scale is not None else spec.matrix
        picked = order or _chebyshev_order(spec.lmin, spec.lmax, rhos, target_bound(spec.n) / 10)
        exact = exact_power_traces(m)
        return rhos, m, picked, exact, _interp_error(spec.lmin, spec.lmax, rhos, picked)

    spec, design, (rhos, m, order, exact, trunc) = _spectrum_and_design(
        W, distance, probes, check, seed, meanwhile
    )
    n = spec.n
    a, b = spec.lmin, spec.lmax
    alpha, beta = 2.0 / (b - a), -(a + b) / (b - a)
    symmetric = spec.scale is not None
    op = alpha * m + beta * spec.identity()
    mu, dev = combine(*forms_by_probe(op, design, n, order, "chebyshev", symmetric), design)
    mu, dev = mu / n, dev / n
    mu[: EXACT_ORDER + 1] = _chebyshev_exact_moments(exact, alpha, beta)
    dev[: EXACT_ORDER + 1] = 0.0
    xk = np.cos(np.pi * (np.arange(order + 1) + 0.5) / (order + 1))
    lam_k = (b - a) / 2 * xk + (a + b) / 2
    to_weights = 2.0 / (order + 1) * npcheb.chebvander(xk, order)  # (nodes, j)
    to_weights[:, 0] *= 0.5
    weights = to_weights @ mu
    dev_w = to_weights @ dev  # (nodes, pieces)
    trunc_v, trunc_d = trunc
    mc_v = _three_se(_f(rhos, lam_k) @ dev_w)
    mc_d = _three_se(_df(rhos, lam_k) @ dev_w)
    params = {"nodes": jnp.asarray(lam_k), "weights": jnp.asarray(weights)}
    info = (
        ("order", order),
        ("probing", design.label),
        ("seed", seed),
        ("interval", (a, b)),
        ("bound_interp", trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("chebyshev", n, _bound(symmetric, trunc_v + mc_v), params, info)


def apply_chebyshev(state: LogDetState, rho, xp=jnp):
    """N sum_k w_k log(1 - rho lambda_k)."""
    r = xp.asarray(rho)[..., None]
    w, x = xp.asarray(state.params["weights"]), xp.asarray(state.params["nodes"])
    return state.n * xp.sum(w * xp.log1p(-r * x), axis=-1)


# ------------------------------------------------------------------ taylor
def init_taylor(
    W,
    order: int | None = None,
    distance: int = PROBING_DISTANCE,
    probes: int = 64,
    check: int = 16,
    seed: int = 0,
    rho_max: float = 0.95,
) -> LogDetState:
    """Taylor series with probed traces (Barry & Pace 1999, *LAA* 289, 41-54).

    (1/n) log|I - rho W| = -sum_{k=1}^m rho^k tr(W^k)/(k n) - R_m with
    |R_m| <= (r |rho|)^{m+1} / ((m+1)(1 - r |rho|)) and the derivative's
    remainder at most r (r |rho|)^m / (1 - r |rho|), r the spectral radius
    (Barry & Pace 1999, eq. 9). tr(W^k) exact for k <= 4, probed above
    (`init_traces`, kept in ``info`` for effects). ``order`` defaults to the
    smallest that makes both remainders a tenth of 0.02 / sqrt(10 n).
    """
    t0 = time.perf_counter()
    spec = spectrum(W)
    n = spec.n
    if spec.scale is not None:
        r = max(abs(spec.lmin), abs(spec.lmax))  # spectral radius
    else:  # complex spectrum: Gershgorin's bound on the spectral radius
        r = float(np.abs(spec.matrix).sum(axis=1).max())
    rhos = rho_check_grid(spec, rho_max)
    x = r * float(np.abs(rhos).max())

    def remainders(m):
        return x ** (m + 1) / ((m + 1) * (1 - x)), r * x**m / (1 - x)

    tol = target_bound(n) / 10
    if order is None:
        order = 5
        while order < 2000 and max(remainders(order)) > tol:
            order += 5
    tr = init_traces(W, order, distance, probes, check, seed)
    k = np.arange(1, order + 1)
    trunc_v, trunc_d = remainders(order)
    powers = rhos[:, None] ** k[None, :]
    mc_v = _three_se(powers @ (tr.dev[1:] / k[:, None]))
    mc_d = _three_se((k * rhos[:, None] ** (k - 1)[None, :]) @ (tr.dev[1:] / k[:, None]))
    params = {"coef": jnp.asarray(tr.moments[1:] / k), "traces": jnp.asarray(tr.moments)}
    info = (
        ("order", order),
        ("probing", tr.probing),
        ("seed", seed),
        ("bound_trunc", trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("taylor", n, trunc_v + mc_v, params, info)


def apply_taylor(state: LogDetState, rho, xp=jnp):
    """-n sum_k rho^k tr(W^k)/(k n), by Horner's rule."""
    r = xp.asarray(rho)
    acc = xp.zeros_like(r)
    for c in xp.asarray(state.params["coef"])[::-1]:
        acc = (acc + c) * r
    return -state.n * acc


# --------------------------------------------------------------------- slq
def _lanczos(op, z, steps):
    """Lanczos on each column of z (n, b) with the symmetric ``op`` (CSR).

    Returns alpha (b, steps) and beta (b, steps - 1); vectors are kept as
    columns, scipy's fastest sparse-times-dense layout.
    """
    q = z / np.linalg.norm(z, axis=0)
    q_prev, w, tmp = np.zeros_like(q), np.empty_like(q), np.empty_like(q)
    alphas, betas = [], []
    beta = np.zeros(q.shape[1])
    for j in range(steps):
        spmm_into(op, q, w)
        w -= np.multiply(q_prev, beta, out=tmp)
        alpha = np.einsum("ij,ij->j", q, w)
        w -= np.multiply(q, alpha, out=tmp)
        alphas.append(alpha)
        if j == steps - 1:
            break
        beta = np.sqrt(np.einsum("ij,ij->j", w, w))
        ok = beta > 1e-10
        beta = np.where(ok, beta, 0.0)
        w *= np.where(ok, 1.0 / np.where(ok, beta, 1.0), 0.0)
        q_prev, q, w = q, w, q_prev
        betas.append(beta)
    return np.array(alphas).T, np.array(betas).T.reshape(z.shape[1], -1)


def init_slq(
    W,
    steps: int | None = None,
    distance: int = PROBING_DISTANCE,
    probes: int = 64,
    check: int = 16,
    seed: int = 0,
    rho_max: float = 0.95,
) -> LogDetState:
    """Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017, *SIMAX* 38, 1075-1099).

    Needs a W similar to a symmetric S = D^1/2 W D^-1/2. For each probe z,
    ``steps`` Lanczos steps give Ritz values theta_j and weights tau_j^2 with
    z'f(S)z ~ |z|^2 sum_j tau_j^2 f(theta_j), exact for polynomials of degree
    < 2 * steps. The exact traces of W..W^4 enter as control variates: the
    probes estimate only tr(f(S) - p_4(S)), p_4 the degree-4 Taylor part. The
    quadrature error is bounded by twice the degree-(2 steps - 1) Chebyshev
    interpolation error of f on the spectrum interval.
    """
    t0 = time.perf_counter()
    spec, design, _ = _spectrum_and_design(W, distance, probes, check, seed)
    if spec.scale is None:
        raise ValueError(
            "method='slq' needs W similar to a symmetric matrix (W = D^-1 A, A = A'); "
            "this W is not: use 'chebyshev' or 'taylor'."
        )
    n = spec.n
    s = spec.symmetric()
    rhos = rho_check_grid(spec, rho_max)
    if steps is None:
        steps = (_chebyshev_order(spec.lmin, spec.lmax, rhos, target_bound(n) / 20) + 2) // 2

    def quadrature(block):
        """Ritz values and weights |z|^2 tau_j^2 / n of each probe row of a block."""
        z = block[0]
        alpha, beta = _lanczos(s, z, steps)
        sq = (z * z).sum(axis=0) / n
        out = []
        for p in range(z.shape[1]):
            if steps > 1:
                theta, vec = eigh_tridiagonal(alpha[p], beta[p])
            else:
                theta, vec = alpha[p], np.ones((1, 1))
            out.append((theta, vec[0] ** 2 * sq[p]))
        return out

    blocks = list(probe_blocks(design, n))
    with ThreadPoolExecutor(max_workers=min(len(blocks), os.cpu_count() or 1)) as pool:
        rules = [rule for block in pool.map(quadrature, blocks) for rule in block]
    nodes = [theta for theta, _ in rules]
    wts = [w for _, w in rules]
    kinds = [np.full(b[0].shape[1], b[1]) for b in blocks]
    labels = [b[2] for b in blocks]
    nodes, wts = np.array(nodes), np.array(wts)  # (vectors, steps)
    kinds, labels = np.concatenate(kinds), np.concatenate(labels)
    pow_tr = exact_power_traces(spec.matrix)
    k = np.arange(1, EXACT_ORDER + 1)

    def deviations(fun):
        """Deviation matrix (rho, pieces) of the probed remainder at each rho."""
        per_vector = np.stack([(wts * fun(r)).sum(axis=1) for r in rhos])
        return combine(per_vector, kinds, labels, design)[1]

    def f_rem(r):
        return np.log1p(-r * nodes) + sum((r * nodes) ** j / j for j in k)

    def df_rem(r):
        return -nodes / (1 - r * nodes) + sum(r ** (j - 1) * nodes**j for j in k)

    trunc_v, trunc_d = _interp_error(spec.lmin, spec.lmax, rhos, 2 * steps - 1)
    mc_v = _three_se(deviations(f_rem))
    mc_d = _three_se(deviations(df_rem))
    first = kinds == 0
    scale = 1.0 / first.sum() if design.colouring is None else 1.0
    params = {
        "nodes": jnp.asarray(nodes[first].ravel()),
        "weights": jnp.asarray(wts[first].ravel() * scale),
        "pow_coef": jnp.asarray(pow_tr[1:] / k),
    }
    info = (
        ("steps", steps),
        ("probing", design.label),
        ("seed", seed),
        ("bound_quad", 2 * trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", 2 * trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("slq", n, 2 * trunc_v + mc_v, params, info)


def apply_slq(state: LogDetState, rho, xp=jnp):
    """N [sum_k w_k (log(1 - rho theta_k) + p4(rho theta_k)) - sum_{j<=4} rho^j tr(W^j)/(j n)]."""
    p = {k: xp.asarray(v) for k, v in state.params.items()}
    r = xp.asarray(rho)
    x = r[..., None] * p["nodes"]
    p4 = x + x**2 / 2 + x**3 / 3 + x**4 / 4
    rem = xp.sum(p["weights"] * (xp.log1p(-x) + p4), axis=-1)
    low = sum(p["pow_coef"][j - 1] * r**j for j in range(1, EXACT_ORDER + 1))
    return state.n * (rem - low)

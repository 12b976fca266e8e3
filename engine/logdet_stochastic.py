"""Stochastic-trace log-determinants: Chebyshev, Taylor and Lanczos quadrature.

All three write (1/n) log|I - rho W| = (1/n) tr f(W), f(x) = log(1 - rho x),
approximate f by a polynomial (or a Gauss quadrature) in W, and estimate the
traces of its high-order terms with Rademacher probes fixed at init. The
exact traces of W..W^4 enter as control variates: they replace their
estimated counterparts and remove the correlated part of the higher orders.
``apply`` then reduces to a weighted sum of log(1 - rho x_k) over fixed nodes
x_k, cheap and differentiable in rho.

Error = deterministic part (interpolation / truncation / quadrature, computed
from the spectrum interval at init) + Monte Carlo part (3 standard errors from
the spread over probes); both are stored in ``info`` for the value and the
derivative, and their sum for the value is ``state.bound``.
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
from numpy.polynomial import chebyshev as npcheb
from scipy.linalg import eigh_tridiagonal
from scipy.special import comb

from bayespatial.engine.logdet_state import LogDetState, rho_check_grid
from bayespatial.engine.spectrum import spectrum
from bayespatial.engine.traces import (
    EXACT_ORDER,
    control_variate_mean,
    exact_power_traces,
    init_traces,
    probe_forms,
    rademacher,
)


def target_bound(n: int) -> float:
    """Per-unit accuracy the defaults aim at: 0.02 / sqrt(10 n).

    Under this error a 10-period panel's posterior of rho moves by a few
    hundredths of its posterior sd.
    """
    return 0.02 / np.sqrt(10 * n)


def default_probes(n: int) -> int:
    """Probes used by default: many for small n (cheap), fewer as n grows."""
    return int(np.clip(2e7 / n, 64, 4096))


def _f(rho, x):
    return np.log1p(-np.multiply.outer(rho, x))


def _df(rho, x):
    return -x / (1.0 - np.multiply.outer(rho, x))


def _mc_summary(per_probe: np.ndarray) -> float:
    """Largest (over rho) standard error of a per-probe estimate, shape (rho, probes)."""
    p = per_probe.shape[1]
    return float(per_probe.std(axis=1, ddof=1).max() / np.sqrt(p))


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
    out = np.empty(k + 1)
    for j in range(k + 1):
        c = npcheb.cheb2poly(np.eye(k + 1)[j])
        out[j] = c @ b_pow[: len(c)]
    return out


def init_chebyshev(
    W, order: int | None = None, probes: int | None = None, seed: int = 0, rho_max: float = 0.95
) -> LogDetState:
    """Chebyshev approximation (Pace & LeSage 2004, *CSDA* 45, 179-196).

    The spectrum interval [lambda_min, lambda_max] maps to [-1, 1] by
    B = (2 W - (lambda_max + lambda_min) I) / (lambda_max - lambda_min); f is
    interpolated at the order + 1 Chebyshev nodes x_k, and
    (1/n) log|I - rho W| ~ sum_k w_k log(1 - rho lambda_k) with
    w_k = 2/(m+1) sum_j' mu_j T_j(x_k), mu_j = tr(T_j(B))/n (exact for j <= 4,
    probes with control variates above). With a real spectrum the
    interpolation error per unit is at most max over [lambda_min,
    lambda_max] of |f - p_m|, computed at init on a fine grid.
    """
    t0 = time.perf_counter()
    spec = spectrum(W)
    n = spec.n
    a, b = spec.lmin, spec.lmax
    alpha, beta = 2.0 / (b - a), -(a + b) / (b - a)
    rhos = rho_check_grid(spec, rho_max)
    order = order or _chebyshev_order(a, b, rhos, target_bound(n) / 10)
    probes = probes or default_probes(n)
    m = spec.matrix
    xk = np.cos(np.pi * (np.arange(order + 1) + 0.5) / (order + 1))
    lam_k = (b - a) / 2 * xk + (a + b) / 2
    tk = npcheb.chebvander(xk, order)  # (nodes, j)
    exact = np.zeros(order + 1)
    exact[: EXACT_ORDER + 1] = _chebyshev_exact_moments(exact_power_traces(m), alpha, beta)
    if order > EXACT_ORDER:
        forms = (
            probe_forms(lambda v: alpha * (m @ v) + beta * v, n, order, probes, seed, "chebyshev")
            / n
        )
        mu, _, adjusted = control_variate_mean(forms, exact, EXACT_ORDER)
    else:
        mu, adjusted = exact, exact[:, None]
    half = np.ones(order + 1)
    half[0] = 0.5
    weights = 2.0 / (order + 1) * tk @ (half * mu)
    per_probe_w = 2.0 / (order + 1) * tk @ (half[:, None] * adjusted)  # (nodes, probes)
    trunc_v, trunc_d = _interp_error(a, b, rhos, order)
    mc_v = 3 * _mc_summary(_f(rhos, lam_k) @ per_probe_w)
    mc_d = 3 * _mc_summary(_df(rhos, lam_k) @ per_probe_w)
    params = {"nodes": jnp.asarray(lam_k), "weights": jnp.asarray(weights)}
    info = (
        ("order", order),
        ("probes", probes),
        ("seed", seed),
        ("interval", (a, b)),
        ("bound_interp", trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("chebyshev", n, trunc_v + mc_v, params, info)


def _interp_error(a, b, rhos, order, grid=4001):
    """Max over rho and x in [a, b] of the interpolation error of f and of df/drho."""
    x = np.linspace(a, b, grid)
    xs = (2 * x - (a + b)) / (b - a)
    nodes = np.cos(np.pi * (np.arange(order + 1) + 0.5) / (order + 1))
    lam = (b - a) / 2 * nodes + (a + b) / 2
    errs = []
    for fun in (_f, _df):
        coef = npcheb.chebfit(nodes, fun(rhos, lam).T, order)  # interpolation (order+1 nodes)
        approx = npcheb.chebval(xs, coef)  # (rho, x)
        errs.append(float(np.abs(approx - fun(rhos, x)).max()))
    return errs[0], errs[1]


def _chebyshev_order(a, b, rhos, tol, max_order=400):
    for order in (*range(10, 100, 10), *range(100, max_order + 1, 25)):
        ev, ed = _interp_error(a, b, rhos, order, grid=801)
        if max(ev, ed) < tol:
            return order
    return max_order


def apply_chebyshev(state: LogDetState, rho):
    """N * sum_k w_k log(1 - rho lambda_k)."""
    r = jnp.asarray(rho)[..., None]
    return state.n * jnp.sum(
        state.params["weights"] * jnp.log1p(-r * state.params["nodes"]), axis=-1
    )


# ------------------------------------------------------------------ taylor
def init_taylor(
    W, order: int | None = None, probes: int | None = None, seed: int = 0, rho_max: float = 0.95
) -> LogDetState:
    """Taylor series with Monte Carlo traces (Barry & Pace 1999, *LAA* 289, 41-54).

    (1/n) log|I - rho W| = -sum_{k=1}^m rho^k tr(W^k)/(k n) - R_m with
    |R_m| <= (r |rho|)^{m+1} / ((m+1)(1 - r |rho|)), r the spectral radius
    (Barry & Pace 1999, eq. 9). tr(W^k) exact for k <= 4, Hutchinson with
    control variates above (`init_traces`, reusable by effects).
    """
    t0 = time.perf_counter()
    spec = spectrum(W)
    n = spec.n
    r = max(abs(spec.lmin), abs(spec.lmax))
    rhos = rho_check_grid(spec, rho_max)
    x = r * float(np.abs(rhos).max())
    tol = target_bound(n) / 10
    if order is None:
        order = 5
        while order < 2000 and x ** (order + 1) / ((order + 1) * (1 - x)) > tol:
            order += 5
    probes = probes or default_probes(n)
    tr = init_traces(spec.matrix, order, probes, seed)
    k = np.arange(1, order + 1)
    coef = tr.moments[1:] / k
    trunc_v = x ** (order + 1) / ((order + 1) * (1 - x))
    trunc_d = r * x**order / (1 - x)
    powers = rhos[:, None] ** k[None, :]
    mc_v = 3 * _mc_summary(powers @ (tr.forms[1:] / k[:, None]))
    mc_d = 3 * _mc_summary((powers / rhos[:, None]) @ tr.forms[1:]) if np.all(rhos) else 0.0
    params = {"coef": jnp.asarray(coef)}
    info = (
        ("order", order),
        ("probes", probes),
        ("seed", seed),
        ("traces", tr),
        ("bound_trunc", trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("taylor", n, trunc_v + mc_v, params, info)


def apply_taylor(state: LogDetState, rho):
    """-n sum_k rho^k tr(W^k)/(k n), by Horner's rule."""
    r = jnp.asarray(rho)
    acc = jnp.zeros_like(r)
    for c in state.params["coef"][::-1]:
        acc = (acc + c) * r
    return -state.n * acc


# --------------------------------------------------------------------- slq
def _lanczos(matvec, z, steps):
    """Vectorised Lanczos on each column of z; returns alpha (steps, b), beta (steps-1, b)."""
    q = z / np.linalg.norm(z, axis=0)
    q_prev = np.zeros_like(q)
    alphas, betas = [], []
    beta = np.zeros(z.shape[1])
    for j in range(steps):
        w = matvec(q) - beta * q_prev
        alpha = np.einsum("ij,ij->j", q, w)
        w -= alpha * q
        alphas.append(alpha)
        if j == steps - 1:
            break
        beta = np.linalg.norm(w, axis=0)
        ok = beta > 1e-10
        q_prev, q = q, np.where(ok, w / np.where(ok, beta, 1.0), 0.0)
        beta = np.where(ok, beta, 0.0)
        betas.append(beta)
    return np.array(alphas), np.array(betas)


def init_slq(
    W, steps: int | None = None, probes: int | None = None, seed: int = 0, rho_max: float = 0.95
) -> LogDetState:
    """Stochastic Lanczos quadrature (Ubaru, Chen & Saad 2017, *SIMAX* 38, 1075-1099).

    Needs a W similar to a symmetric S = D^1/2 W D^-1/2. For each probe z,
    ``steps`` Lanczos steps give Ritz values theta_j and weights tau_j^2 with
    z'f(S)z ~ ||z||^2 sum_j tau_j^2 f(theta_j), exact for polynomials of degree
    < 2 * steps. The exact traces of W..W^4 enter as control variates: the
    probes estimate only tr(f(S) - p_4(S)), p_4 the degree-4 Taylor part. The
    quadrature error is bounded by twice the degree-(2 steps - 1) Chebyshev
    interpolation error of f on the spectrum interval.
    """
    t0 = time.perf_counter()
    spec = spectrum(W)
    if spec.scale is None:
        raise ValueError(
            "method='slq' needs W similar to a symmetric matrix (W = D^-1 A, A = A'); "
            "this W is not: use 'chebyshev' or 'taylor'."
        )
    n = spec.n
    s = spec.symmetric()
    rhos = rho_check_grid(spec, rho_max)
    tol = target_bound(n) / 10
    if steps is None:
        steps = (_chebyshev_order(spec.lmin, spec.lmax, rhos, tol / 2) + 2) // 2
    probes = probes or default_probes(n)
    z = rademacher(n, probes, seed)
    alpha, beta = _lanczos(lambda v: s @ v, z, steps)
    nodes = np.empty((probes, steps))
    wts = np.empty((probes, steps))
    for p in range(probes):
        theta, vec = (
            eigh_tridiagonal(alpha[:, p], beta[:, p])
            if steps > 1
            else (alpha[:, p], np.ones((1, 1)))
        )
        nodes[p], wts[p] = theta, vec[0] ** 2
    pow_tr = exact_power_traces(spec.matrix)
    k = np.arange(1, EXACT_ORDER + 1)

    # per-probe estimate of (1/n) tr(f - p4) at each rho of the check grid
    def remainder(fun_rho):
        return np.stack([(wts * fun_rho(r)).sum(1) for r in rhos])

    def f_rem(r):
        return np.log1p(-r * nodes) + sum((r * nodes) ** j / j for j in k)

    def df_rem(r):
        return -nodes / (1 - r * nodes) + sum(r ** (j - 1) * nodes**j for j in k)

    trunc_v, trunc_d = _interp_error(spec.lmin, spec.lmax, rhos, 2 * steps - 1)
    mc_v = 3 * _mc_summary(remainder(f_rem))
    mc_d = 3 * _mc_summary(remainder(df_rem))
    params = {
        "nodes": jnp.asarray(nodes.ravel()),
        "weights": jnp.asarray(wts.ravel() / probes),
        "pow_coef": jnp.asarray(pow_tr[1:] / k),
    }
    info = (
        ("steps", steps),
        ("probes", probes),
        ("seed", seed),
        ("bound_quad", 2 * trunc_v),
        ("bound_mc", mc_v),
        ("bound_grad", 2 * trunc_d + mc_d),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("slq", n, 2 * trunc_v + mc_v, params, info)


def apply_slq(state: LogDetState, rho):
    """N [sum_k w_k (log(1 - rho theta_k) + p4(rho theta_k)) - sum_{j<=4} rho^j tr(W^j)/(j n)]."""
    p = state.params
    r = jnp.asarray(rho)
    x = r[..., None] * p["nodes"]
    p4 = x + x**2 / 2 + x**3 / 3 + x**4 / 4
    rem = jnp.sum(p["weights"] * (jnp.log1p(-x) + p4), axis=-1)
    low = sum(p["pow_coef"][j - 1] * r**j for j in range(1, EXACT_ORDER + 1))
    return state.n * (rem - low)

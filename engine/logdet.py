"""Log-determinants log|I - rho W| as ``init`` (host, once) + ``apply`` (pure jnp).

Every method returns a `LogDetState`; ``apply(state, rho)`` is jit/grad/vmap-safe
and accepts a scalar or an array of rho. Methods (cost for n units, nnz non-zeros):

=========== ========================================= ================================
method      init cost                                 error
=========== ========================================= ================================
eigen       dense eigenvalues, O(n^3), n <= 5,000     exact (rounding)
lu_grid     one sparse LU per grid point (320;        exact at the nodes; cubic spline
            init_s in BENCHMARKS.md)                  between, measured at init
chebyshev   colouring + (colours + 32) x order / 2    interpolation bound + Monte
            sparse products, O(nnz) each              Carlo (3 se)
taylor      same with order ~ 300 at rho 0.95         truncation bound + Monte Carlo
slq         same with steps ~ order / 2 Lanczos steps quadrature bound + Monte Carlo
=========== ========================================= ================================

``state.bound`` is the documented bound on |approx - exact| / n for
|rho| <= 0.95 (within the valid interval): the deterministic part plus three
Monte Carlo standard errors for the stochastic methods (the derivative's is
``state.describe()["bound_grad"]``). It is None for the exact ``eigen`` and
for ``chebyshev`` on a W with a complex spectrum, where the error is measured
rather than bounded. Measured errors and times: BENCHMARKS.md.
"""

from __future__ import annotations

import time
from dataclasses import replace

import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.interpolate import CubicSpline

from bayespatial.engine.logdet_state import LogDetState, rho_check_grid, rho_interval
from bayespatial.engine.logdet_stochastic import (
    apply_chebyshev,
    apply_slq,
    apply_taylor,
    init_chebyshev,
    init_slq,
    init_taylor,
)
from bayespatial.engine.sparse import as_csr
from bayespatial.engine.spectrum import DENSE_N, Spectrum, dense_eigenvalues, symmetriser

__all__ = [
    "METHODS",
    "LogDetState",
    "apply",
    "apply_chebyshev",
    "apply_eigen",
    "apply_host",
    "apply_lu_grid",
    "apply_slq",
    "apply_taylor",
    "choose",
    "init",
    "init_chebyshev",
    "init_eigen",
    "init_lu_grid",
    "init_slq",
    "init_taylor",
    "resolve",
    "rho_check_grid",
    "rho_interval",
    "with_reason",
]

METHODS = ("eigen", "lu_grid", "chebyshev", "taylor", "slq")
EIGEN_MAX_N = 5000
AUTO_EIGEN_MAX_N = 1000
"""``auto`` takes exact eigenvalues up to here: above, a dense eigensolve dominates a
fit (NAT, 3,085 counties: init_s 1.9 s against Chebyshev's 0.6 s in BENCHMARKS.md's
log-determinant table, and 4 s within a whole fit under load)."""


# ------------------------------------------------------------------- eigen
def init_eigen(W) -> LogDetState:
    """Exact eigenvalues of W (of D^1/2 W D^-1/2 when W = D^-1 A with A symmetric).

    log|I - rho W| = sum_i log|1 - rho lambda_i| (Ord 1975, JASA 70, 120-126).
    """
    t0 = time.perf_counter()
    n = as_csr(W).shape[0]
    if n > EIGEN_MAX_N:
        raise ValueError(
            f"method='eigen' needs a dense {n} x {n} eigen-decomposition "
            f"(n > {EIGEN_MAX_N}); use 'lu_grid' or 'chebyshev'."
        )
    symmetric = symmetriser(W) is not None
    ev = np.asarray(dense_eigenvalues(W), dtype=complex)
    params = {"re": jnp.asarray(ev.real), "im": jnp.asarray(ev.imag)}
    info = (("symmetric", symmetric), ("init_s", time.perf_counter() - t0))
    return LogDetState("eigen", n, None, params, info)


def apply_eigen(state: LogDetState, rho, xp=jnp):
    """Sum of log|1 - rho lambda_i| over the stored (possibly complex) eigenvalues."""
    r = xp.asarray(rho)[..., None]
    re, im = xp.asarray(state.params["re"]), xp.asarray(state.params["im"])
    return 0.5 * xp.sum(xp.log((1.0 - r * re) ** 2 + (r * im) ** 2), axis=-1)


# ----------------------------------------------------------------- lu_grid
def lu_logdet(matrix: sp.spmatrix, rho: float) -> float:
    """log|det(I - rho W)| by sparse LU (SuperLU): sum of log|U_ii| (L has unit diagonal)."""
    a = (sp.identity(matrix.shape[0], format="csc") - rho * matrix).tocsc()
    lu = spla.splu(a)
    return float(np.sum(np.log(np.abs(lu.U.diagonal()))))


def _singular_part(rho, poles, xp=np):
    """sum_j log|1 - rho lambda_j| over extreme eigenvalues lambda_j, ``poles`` = (re, im)."""
    r = xp.asarray(rho)[..., None]
    re, im = poles
    return 0.5 * xp.sum(xp.log((1.0 - r * re) ** 2 + (r * im) ** 2), axis=-1)


def _poles(W, spec, per_end: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``per_end`` eigenvalues of largest and of smallest real part (ARPACK, tight).

    Dense (W's own eigenvalues, `dense_eigenvalues`) up to `DENSE_N` units.
    """
    if spec.n <= max(2 * per_end + 2, DENSE_N):
        ev = dense_eigenvalues(W)
        ev = ev[np.argsort(ev.real)]
        ev = np.concatenate([ev[:per_end], ev[-per_end:]]) if len(ev) > 2 * per_end else ev
        return np.real(ev), np.imag(ev)
    if spec.scale is not None:
        s = spec.symmetric()
        hi = spla.eigsh(s, k=per_end, which="LA", return_eigenvectors=False, tol=1e-12)
        lo = spla.eigsh(s, k=per_end, which="SA", return_eigenvectors=False, tol=1e-12)
        return np.concatenate([lo, hi]), np.zeros(2 * per_end)
    hi = spla.eigs(spec.matrix, k=per_end, which="LR", return_eigenvectors=False, tol=1e-12)
    lo = spla.eigs(spec.matrix, k=per_end, which="SR", return_eigenvectors=False, tol=1e-12)
    ev = np.concatenate([lo, hi])
    return ev.real, ev.imag


def init_lu_grid(
    W, points: int = 320, margin: float = 1e-3, checks: int = 12, poles: int = 6
) -> LogDetState:
    """Sparse LU on a rho grid + cubic spline (Pace & Barry 1997, *Geogr. Anal.* 29, 232-247).

    The grid spans the valid interval shrunk by ``margin`` at each end, with
    Chebyshev-Lobatto spacing so nodes cluster at the ends. The terms
    log|1 - rho lambda_j| of the ``poles`` eigenvalues of largest and of
    smallest real part (dense up to 2,000 units, else ARPACK), which make the
    log-determinant steep at the ends of the interval, are subtracted before
    the spline and added back exactly, so the spline models a smooth
    function; they also fix the interval. The spline error is measured at
    init by ``checks`` extra LU solves halfway between nodes.
    """
    t0 = time.perf_counter()
    # the poles fix the interval, so the Spectrum needs no extreme eigenvalues of its own
    spec = Spectrum(as_csr(W), symmetriser(W), np.nan, np.nan)
    ends = _poles(W, spec, poles)
    lo, hi = 1.0 / ends[0].min(), 1.0 / ends[0].max()
    a, b = lo * (1 - margin), hi * (1 - margin)
    k = np.arange(points)
    nodes = np.sort((a + b) / 2 + (b - a) / 2 * np.cos(np.pi * k / (points - 1)))
    vals = np.array([lu_logdet(spec.matrix, r) for r in nodes])
    g = vals - _singular_part(nodes, ends)
    spline = CubicSpline(nodes, g)
    mids = (nodes[:-1] + nodes[1:]) / 2
    pick = mids[np.linspace(0, len(mids) - 1, checks).round().astype(int)]
    pick = pick[np.abs(pick) <= 0.95 * max(abs(lo), abs(hi))]
    err = max(
        (abs(spline(r) + _singular_part(r, ends) - lu_logdet(spec.matrix, r)) for r in pick),
        default=0.0,
    )
    params = {
        "knots": jnp.asarray(nodes),
        "coef": jnp.asarray(spline.c),
        "poles": (jnp.asarray(ends[0]), jnp.asarray(ends[1])),
    }
    info = (
        ("points", points),
        ("grid", (float(a), float(b))),
        ("checked_max_abs_error", float(err)),
        ("init_s", time.perf_counter() - t0),
    )
    return LogDetState("lu_grid", spec.n, float(err) / spec.n, params, info)


def apply_lu_grid(state: LogDetState, rho, xp=jnp):
    """Evaluate the spline (piecewise cubic) plus the exact singular terms."""
    p = {k: xp.asarray(v) for k, v in state.params.items()}
    r = xp.asarray(rho)
    idx = xp.clip(xp.searchsorted(p["knots"], r) - 1, 0, p["knots"].shape[0] - 2)
    dx = r - p["knots"][idx]
    c = p["coef"][:, idx]
    g = ((c[0] * dx + c[1]) * dx + c[2]) * dx + c[3]
    return g + _singular_part(r, p["poles"], xp)


# ---------------------------------------------------------------- dispatch
def _registry():
    return {
        "eigen": (init_eigen, apply_eigen),
        "lu_grid": (init_lu_grid, apply_lu_grid),
        "chebyshev": (init_chebyshev, apply_chebyshev),
        "taylor": (init_taylor, apply_taylor),
        "slq": (init_slq, apply_slq),
    }


def choose(n: int) -> str:
    """The method ``auto`` picks for n units: exact eigenvalues up to 1,000, else chebyshev.

    Chebyshev with colouring probes meets 0.02 / sqrt(10 n) per unit for value and
    derivative on every W of BENCHMARKS.md at a fraction of lu_grid's cost, which
    stays available by name when exactness matters more than time ("eigen" too,
    up to 5,000 units).
    """
    return "eigen" if n <= AUTO_EIGEN_MAX_N else "chebyshev"


def resolve(method: str, n: int) -> tuple[str, str | None]:
    """The method ``init`` runs for ``method`` on n units, and why when ``auto`` picked it."""
    if method == "auto":
        picked = choose(n)
        return picked, f"auto: n = {n} -> {picked}"
    if method not in METHODS:
        raise ValueError(f"logdet method must be 'auto' or one of {METHODS}, not {method!r}.")
    return method, None


def with_reason(state: LogDetState, why: str | None) -> LogDetState:
    """The state with ``auto``'s choice recorded in its ``info`` (unchanged when None)."""
    return state if why is None else replace(state, info=(*state.info, ("auto", why)))


def init(W, method: str = "auto", **options) -> LogDetState:
    """Set up ``method`` for W (a `Weights` or scipy.sparse matrix); ``auto`` picks by n.

    The state's ``info`` records, for ``auto``, which method was picked and why.
    """
    picked, why = resolve(method, W.n if hasattr(W, "n") else W.shape[0])
    return with_reason(_registry()[picked][0](W, **options), why)


def apply(state: LogDetState, rho, xp=jnp):
    """log|I - rho W| for a scalar or array rho (pure jnp; jit/grad/vmap-safe).

    ``xp=numpy`` evaluates on the host (`apply_host`).
    """
    return _registry()[state.method][1](state, rho, xp)


def apply_host(state: LogDetState, rho) -> np.ndarray:
    """log|I - rho W| in numpy, for host-side grids such as the exact sampler's.

    The same formulas as `apply`; eager JAX would compile anew for every grid size.
    """
    return np.asarray(apply(state, np.asarray(rho, dtype=float), np), dtype=float)

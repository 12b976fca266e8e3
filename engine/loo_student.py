"""Exact pointwise conditional log-likelihood of spatial models with Student-t errors.

Model: A y = Z beta + e (lag) or A (y - Z beta) = e (error), A = I - r W with
W_ii = 0, and independent e_j ~ sigma t_nu. The joint density is
|A| prod_j f(e_j) with f the t_nu(0, sigma) density. Moving y_i by s moves
e by s A[:, i]: e_i by s and e_j by -r W_ji s for the units j that have i as a
neighbour, and nothing else. Hence (the t analogue of Bürkner, Gabry &
Vehtari 2021, whose closed form needs a multivariate t instead of independent
t errors)

    p(y_i | y_-i) = f(e_i) g(0) / ∫ f(e_i + s) g(s) ds,
    g(s) = prod_{j: W_ji != 0} f(e_j - r W_ji s),

|A| and every other factor cancel. The one-dimensional integral is a
trapezoid rule after the sinh substitution s = c_i + h_i sinh(t) (exponentially
convergent for integrands with algebraic (t) or Gaussian tails; Mori & Sugihara
2001, *J. Comput. Appl. Math.* 127, 287-296), centred and scaled by the Gaussian
conditional of the same draw (c_i = -g_i / qbar_i, h_i = qbar_i^-1/2, the
formulas of `bayespatial.engine.loo`). Cost O(nnz(W) Q) per draw and period for
Q nodes; no inverse, no log-determinant.
"""

from __future__ import annotations

from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln, logsumexp

from bayespatial.engine.loo import column_sumsq, stream_draws
from bayespatial.engine.sparse import SparseW, matvec, rmatvec

STEP = 0.1
"""Trapezoid step in t; with HALF_WIDTH, error < 1e-9 in the tests for nu >= 1."""
HALF_WIDTH = 7.0
"""Nodes t in [-7, 7]: sinh(7) = 548 conditional scales either side of the centre."""


def quadrature_nodes(step: float = STEP, half_width: float = HALF_WIDTH):
    """Z = sinh(t) on the trapezoid grid and log of its weights step cosh(t)."""
    t = np.arange(-half_width, half_width + step / 2, step)
    return np.sinh(t), np.log(step * np.cosh(t))


def _logf(z, sigma, nu):
    """Log density of sigma t_nu at z."""
    return (
        gammaln((nu + 1) / 2)
        - gammaln(nu / 2)
        - 0.5 * jnp.log(nu * jnp.pi)
        - jnp.log(sigma)
        - (nu + 1) / 2 * jnp.log1p((z / sigma) ** 2 / nu)
    )


def pointwise(y, Z, op: SparseW, r, beta, sigma, nu, kind: str = "lag"):
    """Log p(y_it | y_-it) for one draw: y (T, n), Z (T, n, p) -> (T, n) (pure jnp)."""
    n = op.diag.shape[0]
    if kind == "error":
        u = y - Z @ beta
        e = u - r * matvec(op, u)
    else:
        e = y - r * matvec(op, y) - Z @ beta
    z, logw = (jnp.asarray(a) for a in quadrature_nodes())
    unit_q = 1.0 + r**2 * column_sumsq(op)  # sigma^2 qbar_i

    def period(e_t):
        centre = -(e_t - r * rmatvec(op, e_t)) / unit_q
        scale = sigma / jnp.sqrt(unit_q)
        s = centre[:, None] + scale[:, None] * z[None, :]  # (n, Q): shifts of y_i
        moved = e_t[op.rows][:, None] - r * op.vals[:, None] * s[op.cols]  # (nnz, Q)
        log_g = jax.ops.segment_sum(_logf(moved, sigma, nu), op.cols, num_segments=n)
        log_g0 = jax.ops.segment_sum(_logf(e_t[op.rows], sigma, nu), op.cols, num_segments=n)
        log_int = logsumexp(_logf(e_t[:, None] + s, sigma, nu) + log_g + logw, axis=1)
        return _logf(e_t, sigma, nu) + log_g0 - log_int - jnp.log(scale)

    return jax.lax.map(period, e)


@lru_cache(maxsize=4)
def _draws(kind: str):
    """Pointwise vmapped over draws (r, beta, sigma, nu) and compiled, per model kind."""
    return jax.jit(jax.vmap(partial(pointwise, kind=kind), in_axes=(None, None, None, 0, 0, 0, 0)))


def pointwise_draws(
    y, Z, op, r, beta, sigma, nu, kind="lag", chunk: int = 16, reduce=None, on_block=None
):
    """Pointwise log-likelihood for many draws: r, sigma, nu (D,), beta (D, p) -> (D, T, n)."""
    y, Z = jnp.asarray(y), jnp.asarray(Z)
    apply = _draws("lag" if kind == "none" else kind)
    return stream_draws(
        lambda *d: apply(y, Z, op, *d), (r, beta, sigma, nu), chunk, reduce, on_block
    )

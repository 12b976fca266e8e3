"""Two-way fixed-effects regression on a set of cells, and exact draws of its functionals.

The numbers behind the imputation estimator of DID: linear functionals of the fitted
means of target cells, drawn exactly from their posterior.

Model on the cells Omega (N0 of them; in a DID the untreated cells):

    y_c = alpha_{a(c)} + gamma_{b(c)} + x_c'beta + e_c,   e_c ~ N(0, sigma^2),

with a flat prior on (alpha, gamma, beta) and p(sigma^2) proportional to 1/sigma^2 (the
reference prior, under which posterior means are the least-squares values and
intervals of linear functionals are the classical t intervals; Gelman et al. 2013,
*Bayesian Data Analysis*, sec. 14.2). A is the factor (units or periods) with more levels
among the cells, B the other; one B-level per connected component of the unit-period
graph is the reference (gamma = 0), as in `bayespatial.engine.absorb`, so that the
rank is n_A + n_B - components + p.

The posterior factorises (Frisch-Waugh-Lovell with A swept by means):

    sigma^2 | y          = SSR / chi2_{N0 - rank},
    phi = (gamma_r, beta) | sigma^2, y ~ N(phi_hat, sigma^2 (G'G)^-1),  G = M_A [D_Br, X],
    alpha_a | phi, sigma^2, y ~ N(ybar_a - dbar_a'gamma_r - xbar_a'beta, sigma^2 / n_a),

where ybar_a, xbar_a are means over level a's cells and dbar_a the shares of its cells in
each kept B-level. The fitted mean of a target cell c (any cell, e.g. a treated one) is
then mu_c = ybar_a + h_c'phi + sigma z_a / sqrt(n_a) with h_c = (e_{b(c)} - dbar_a,
x_c - xbar_a). A functional A_k = sum_c w_kc (y_c - mu_c) over target cells is therefore

    A_k = m_k - H_k'phi - sigma (C diag(n_a)^{-1/2} z)_k,   m = W (y - ybar_a), H = W h,
    C = W E_a  (E_a the A-dummies of the targets),

whose draws cost O(K (q + K)) each: no draw of the n_A unit effects is needed. The
posterior-predictive version replaces mu_c by Y_c(0) = mu_c + sigma eps_c, adding
-sigma (W eps)_k, covariance sigma^2 W W'. Borusyak, Jaravel & Spiess (2024, *Review of
Economic Studies* 91, 3253-3285) derive the same functionals (their imputation
estimator is m - H'phi_hat, the posterior mean here).

Host-side numpy/scipy: it runs once per fit and its draws are closed-form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy import stats
from scipy.sparse import csgraph

from bayespatial.engine.absorb import DIRECT_MAX, dummies


@dataclass(frozen=True, eq=False)
class CellRegression:
    """The posterior of the two-way regression on the cells Omega (`fit`)."""

    units_first: bool
    """Whether A (the factor swept by means) is the units."""
    count_a: np.ndarray
    """n_a: cells of each A-level (0 for a level absent from Omega)."""
    ybar_a: np.ndarray
    """Mean outcome of each A-level's cells."""
    xbar_a: np.ndarray
    """Mean regressors of each A-level's cells, (n_A, p)."""
    dbar_a: sp.csr_matrix
    """Share of each A-level's cells in each kept B-level, (n_A, k)."""
    b_column: np.ndarray
    """Column of each B-level among the k kept (-1: the reference of its component, or absent)."""
    label_a: np.ndarray
    """Connected component of each A-level (-1: absent)."""
    label_b: np.ndarray
    """Connected component of each B-level (-1: absent)."""
    phi_hat: np.ndarray
    """Posterior mean of (gamma_r, beta), (k + p,)."""
    cov_unit: np.ndarray
    """(G'G)^-1: the posterior covariance of phi per unit of sigma^2."""
    ssr: float
    """Residual sum of squares at the posterior mean."""
    dof: int
    """N0 - rank: the degrees of freedom of sigma^2."""
    p: int
    """Number of regressors x."""
    n_cells: int
    """N0."""
    rank: int
    """n_A + n_B - components + p: the parameters the cells identify."""

    @property
    def k(self) -> int:
        """Kept B-levels (columns of gamma_r)."""
        return self.phi_hat.size - self.p

    @property
    def beta_hat(self) -> np.ndarray:
        """Posterior mean of beta."""
        return self.phi_hat[self.k :]

    def codes(self, unit: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(A-codes, B-codes) of cells given by unit and period positions."""
        return (unit, period) if self.units_first else (period, unit)


class Functionals(NamedTuple):
    """The terms of K linear functionals of target cells (`functionals`)."""

    m: np.ndarray
    """W (y - ybar_a), (K,)."""
    H: np.ndarray
    """W h, (K, k + p)."""
    cov_alpha: np.ndarray
    """C diag(1 / n_a) C', (K, K): the unit-effect noise per unit of sigma^2."""
    cov_predictive: np.ndarray
    """W W', (K, K): the extra noise of Y(0) drawn from the posterior predictive."""

    def mean(self, reg: CellRegression) -> np.ndarray:
        """Posterior means m - H phi_hat (the imputation estimates)."""
        return self.m - self.H @ reg.phi_hat


def fit(
    y: np.ndarray,
    X: np.ndarray,
    unit: np.ndarray,
    period: np.ndarray,
    n_units: int,
    n_periods: int,
    direct_max: int = DIRECT_MAX,
) -> CellRegression:
    """The posterior of the two-way regression of y (N0,) on X (N0, p) with unit and period effects.

    ``unit`` and ``period`` are positions 0..n_units-1 and 0..n_periods-1.

    Raises ValueError when the smaller factor has more than ``direct_max`` kept levels,
    when no degree of freedom is left for sigma^2, or when the regressors are collinear
    with the effects (``np.linalg.LinAlgError``; check the terms first for a message that
    names them).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float).reshape(y.size, -1)
    n0, p = X.shape
    present_u = np.bincount(unit, minlength=n_units) > 0
    present_t = np.bincount(period, minlength=n_periods) > 0
    units_first = present_u.sum() >= present_t.sum()
    a, b = (unit, period) if units_first else (period, unit)
    n_a, n_b = (n_units, n_periods) if units_first else (n_periods, n_units)
    ea, eb = dummies(a, n_a), dummies(b, n_b)
    count_a = np.asarray(ea.sum(axis=0)).ravel()
    count_b = np.asarray(eb.sum(axis=0)).ravel()
    inv_a = np.divide(1.0, count_a, out=np.zeros(n_a), where=count_a > 0)
    graph = sp.bmat([[None, ea.T @ eb], [eb.T @ ea, None]], format="csr")
    _, labels = csgraph.connected_components(graph, directed=False)
    label_a = np.where(count_a > 0, labels[:n_a], -1)
    label_b = np.where(count_b > 0, labels[n_a:], -1)
    components = np.unique(label_a[label_a >= 0]).size
    b_column = np.full(n_b, -1)
    seen = set()
    kept = []
    for j in np.flatnonzero(count_b > 0):
        if label_b[j] in seen:
            kept.append(j)
        else:
            seen.add(label_b[j])  # the first B-level of each component: the reference
    kept = np.asarray(kept, dtype=int)
    b_column[kept] = np.arange(kept.size)
    k = kept.size
    if k > direct_max:
        raise ValueError(
            f"both factors have many levels ({int(count_a.astype(bool).sum())} and {k + 1}); "
            f"the two-way regression is solved densely up to {direct_max} levels of the "
            "smaller one."
        )
    c_ab = (ea.T @ eb[:, kept]).tocsr()  # (n_a, k) cell counts
    dbar = sp.diags(inv_a) @ c_ab
    ybar = inv_a * (ea.T @ y)
    xbar = inv_a[:, None] * (ea.T @ X)
    yt = y - ybar[a]
    xt = X - xbar[a]
    ebr = eb[:, kept]
    ggg = np.diag(count_b[kept]) - (c_ab.T @ sp.diags(inv_a) @ c_ab).toarray()
    ggb = np.asarray(ebr.T @ xt).reshape(k, p)
    gram = np.block([[ggg, ggb], [ggb.T, xt.T @ xt]])
    rhs = np.concatenate([ebr.T @ yt, xt.T @ yt])
    factor = sla.cho_factor(gram, lower=True)  # LinAlgError: collinear with the effects
    phi = sla.cho_solve(factor, rhs)
    cov = sla.cho_solve(factor, np.eye(k + p))
    resid = yt - _fitted(phi, k, b_column[b], dbar, a, xt)
    rank = int((count_a > 0).sum() + (count_b > 0).sum() - components + p)
    dof = n0 - rank
    if dof < 1:
        raise ValueError(
            f"the {n0} cells leave no degree of freedom for the error variance after "
            f"{rank} parameters (unit and period effects and {p} regressors)."
        )
    return CellRegression(
        bool(units_first), count_a, ybar, xbar, dbar.tocsr(), b_column, label_a, label_b,
        phi, 0.5 * (cov + cov.T), float(resid @ resid), int(dof), p, n0, rank,
    )  # fmt: skip


def _fitted(phi, k, col, dbar, a, xt) -> np.ndarray:
    """h_c'phi for cells with kept B-column ``col`` (-1: none), A-code ``a``, centred x ``xt``."""
    gamma = np.concatenate([phi[:k], [0.0]])  # index -1: the reference level
    return gamma[col] - (dbar @ phi[:k])[a] + xt @ phi[k:]


def identified(reg: CellRegression, unit: np.ndarray, period: np.ndarray) -> np.ndarray:
    """Whether alpha + gamma of each cell is identified by the regression's cells Omega.

    Both its unit and its period occur there, in the same connected component of the
    unit-period graph.
    """
    a, b = reg.codes(unit, period)
    la, lb = reg.label_a[a], reg.label_b[b]
    return (la >= 0) & (la == lb)


def cell_means(reg: CellRegression, X, unit, period) -> np.ndarray:
    """Posterior means of the fitted means mu_c of identified cells (the imputed Y(0))."""
    a, b = reg.codes(unit, period)
    X = np.asarray(X, dtype=float).reshape(a.size, reg.p)
    xt = X - reg.xbar_a[a]
    return reg.ybar_a[a] + _fitted(reg.phi_hat, reg.k, reg.b_column[b], reg.dbar_a, a, xt)


def functionals(reg: CellRegression, weights, y, X, unit, period) -> Functionals:
    """The terms of A = weights (y - mu) for identified target cells (module docstring).

    ``weights`` (K, N1) sparse or dense; y, X, unit, period of the N1 target cells.
    """
    w = sp.csr_matrix(weights)
    a, b = reg.codes(unit, period)
    X = np.asarray(X, dtype=float).reshape(a.size, reg.p)
    ea = dummies(a, reg.count_a.size)
    col = reg.b_column[b]
    on = col >= 0
    ebr = sp.csr_matrix((np.ones(on.sum()), (np.flatnonzero(on), col[on])), shape=(a.size, reg.k))
    c = (w @ ea).tocsr()
    hg = np.asarray((w @ ebr).todense()) - np.asarray((c @ reg.dbar_a).todense())
    hb = (np.asarray(w @ X) - c @ reg.xbar_a) if reg.p else np.zeros((w.shape[0], 0))
    m = w @ (np.asarray(y, dtype=float) - reg.ybar_a[a])
    inv = np.divide(1.0, reg.count_a, out=np.zeros(reg.count_a.size), where=reg.count_a > 0)
    cov_alpha = np.asarray((c @ sp.diags(inv) @ c.T).todense())
    cov_pred = np.asarray((w @ w.T).todense())
    return Functionals(np.asarray(m).ravel(), np.hstack([hg, hb]), cov_alpha, cov_pred)


def _root(cov: np.ndarray) -> np.ndarray:
    """R with R R' = cov for a positive semi-definite cov (eigenvalues below 0 set to 0)."""
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    return vecs * np.sqrt(np.clip(vals, 0.0, None))


class Draws(NamedTuple):
    """Independent posterior draws (`draw`)."""

    sigma: np.ndarray
    """(S,)."""
    phi: np.ndarray
    """(S, k + p): gamma_r then beta."""
    mean: np.ndarray
    """(S, K): the functionals with Y(0) at its posterior mean mu (imputed means)."""
    predictive: np.ndarray
    """(S, K): the functionals with Y(0) drawn from the posterior predictive."""


def draw(
    reg: CellRegression, funcs: Functionals | None, draws: int, rng: np.random.Generator
) -> Draws:
    """``draws`` independent joint draws of sigma, phi and the functionals."""
    sigma = np.sqrt(reg.ssr / rng.chisquare(reg.dof, size=draws))
    chol = np.linalg.cholesky(reg.cov_unit)
    phi = reg.phi_hat + sigma[:, None] * (rng.standard_normal((draws, reg.phi_hat.size)) @ chol.T)
    if funcs is None:
        empty = np.zeros((draws, 0))
        return Draws(sigma, phi, empty, empty)
    K = funcs.m.size
    mean = (
        funcs.m
        - phi @ funcs.H.T
        - sigma[:, None] * (rng.standard_normal((draws, K)) @ _root(funcs.cov_alpha).T)
    )
    pred = mean - sigma[:, None] * (rng.standard_normal((draws, K)) @ _root(funcs.cov_predictive).T)
    return Draws(sigma, phi, mean, pred)


class JointTest(NamedTuple):
    """A joint test that some coefficients are zero."""

    statistic: float
    """F statistic: the Wald chi-square over its degrees of freedom."""
    df1: int
    df2: int
    p_value: float


def posterior_tail(reg: CellRegression, columns) -> JointTest:
    """Posterior mass outside the smallest highest-density region of beta ``columns`` with 0.

    With the reference prior the marginal posterior of those coefficients is multivariate
    t with N0 - rank degrees of freedom, location beta_hat and scale s^2 V (s^2 = SSR /
    dof), so the region {d: (d - beta_hat)'V^-1(d - beta_hat) / (L s^2) <= f} has mass
    F_{L, dof}(f): the mass outside the region through 0 is the upper tail of F at
    beta_hat'V^-1 beta_hat / (L s^2) (Box & Tiao 1973, *Bayesian Inference in Statistical
    Analysis*, sec. 2.7), numerically the classical F test's p-value.
    """
    idx = reg.k + np.asarray(columns)
    d = reg.phi_hat[idx]
    v = reg.cov_unit[np.ix_(idx, idx)] * reg.ssr / reg.dof
    stat = float(d @ np.linalg.solve(v, d)) / idx.size
    return JointTest(stat, int(idx.size), reg.dof, float(stats.f.sf(stat, idx.size, reg.dof)))


def cluster_wald(reg: CellRegression, y, X, unit, period, columns) -> JointTest:
    """Wald test, clustered by unit, that the beta ``columns`` are zero, as F(L, G - 1).

    Sandwich V = c (G'G)^-1 (sum_g s_g s_g') (G'G)^-1 with scores s_g = sum_{c in g} G_c r_c
    and c = G/(G - 1) (N - 1)/(N - K), K the parameters not nested in the clusters (the
    unit effects are, under clustering by unit: Correia's reghdfe convention); the test
    of Borusyak, Jaravel & Spiess (2024, sec. 4.4, "Test 1") with Stata's F reference.
    """
    a, b = reg.codes(unit, period)
    X = np.asarray(X, dtype=float).reshape(a.size, reg.p)
    xt = X - reg.xbar_a[a]
    col = reg.b_column[b]
    resid = (np.asarray(y, dtype=float) - reg.ybar_a[a]) - _fitted(
        reg.phi_hat, reg.k, col, reg.dbar_a, a, xt
    )
    codes, n_cl = np.unique(unit, return_inverse=True)[1].ravel(), np.unique(unit).size
    cl = dummies(codes, n_cl)
    on = col >= 0
    ebr = sp.csr_matrix(
        (resid[on], (np.flatnonzero(on), col[on])), shape=(a.size, reg.k)
    )  # E_Br scaled by r
    ea_r = sp.csr_matrix((resid, (np.arange(a.size), a)), shape=(a.size, reg.count_a.size))
    sg = np.asarray((cl.T @ ebr).todense()) - np.asarray(((cl.T @ ea_r) @ reg.dbar_a).todense())
    sb = cl.T @ (xt * resid[:, None])
    scores = np.hstack([sg, sb])
    nested = int((reg.count_a > 0).sum() if reg.units_first else (reg.label_b >= 0).sum())
    k_free = max(reg.rank - nested, 1)
    scale = n_cl / (n_cl - 1) * (reg.n_cells - 1) / (reg.n_cells - k_free)
    v = scale * reg.cov_unit @ (scores.T @ scores) @ reg.cov_unit
    idx = reg.k + np.asarray(columns)
    d = reg.phi_hat[idx]
    stat = float(d @ np.linalg.solve(v[np.ix_(idx, idx)], d)) / idx.size
    return JointTest(stat, int(idx.size), n_cl - 1, float(stats.f.sf(stat, idx.size, n_cl - 1)))

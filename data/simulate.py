"""Simulate spatial panels with known truth (numpy/scipy only: an oracle independent of JAX).

The data-generating process, for periods t = 1..T with n units (Elhorst 2014,
*Spatial Econometrics*, eqs. 3.1 and 4.1)::

    y_t = rho W y_t + tau y_{t-1} + eta W y_{t-1} + X_t beta + W X_t theta
          + mu + alpha_t 1 + u_t,      u_t = lam W u_t + eps_t,  eps_t ~ N(0, sigma^2 I)

solved as y_t = (I - rho W)^-1 (...) with one sparse LU per model. Static
models set tau = eta = 0; dynamic ones start from y = 0 and discard ``burn``
periods so the kept periods are close to the stationary distribution.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from bayespatial.data.errors import WeightsError
from bayespatial.data.families import FAMILIES, family
from bayespatial.data.wmatrix import Weights

MODELS = tuple(FAMILIES)
"""Families the simulator knows (`bayespatial.data.families`)."""
FE_KINDS = ("none", "unit", "time", "twoway")
"""Effects the simulator can add: the kinds of `bayespatial.engine.crossprod.FE_KINDS`
(data/ does not import the engine; a test checks the two agree)."""


class Simulation(NamedTuple):
    """A simulated panel and the truth that generated it."""

    frame: pd.DataFrame
    """Long panel: columns unit, time, y, x1..xk (period-major, unit order of W)."""
    W: Weights
    """The weights used (as given)."""
    truth: dict
    """Parameters: beta, theta, rho, lam, tau, eta, sigma, mu (unit), alpha (time effects)."""


def check_stationary(W: Weights, tau: float, rho: float, eta: float) -> None:
    """Raise unless y_t = B y_{t-1} + ... with B = (I - rho W)^-1 (tau I + eta W) is stable.

    The eigenvalues of B are (tau + eta w) / (1 - rho w) over the eigenvalues w
    of W (Debarsy, Ertur & LeSage 2012); for W similar to a symmetric matrix the
    largest modulus is at w_min or w_max, so both ends are checked. This is
    written again here (data/ uses no JAX) as an independent check of
    `bayespatial.engine.dynamic`.
    """
    w_min, w_max = W.extreme_eigenvalues()
    moduli = [abs((tau + eta * w) / (1.0 - rho * w)) for w in (w_min, w_max)]
    if max(moduli) >= 1.0:
        raise WeightsError(
            f"tau = {tau}, rho = {rho}, eta = {eta} give a non-stationary process on this W: "
            f"the reduced-form spectral radius is {max(moduli):.3f} >= 1 (for a "
            f"row-standardised W this needs tau + rho + eta < 1; here it is "
            f"{tau + rho + eta:.3f}). Long-run effects do not exist; choose values inside "
            "the stable region."
        )


def simulate(
    model: str,
    W: Weights,
    *,
    T: int = 1,
    beta=(1.0, -0.5),
    theta=None,
    rho: float = 0.0,
    lam: float = 0.0,
    tau: float = 0.0,
    eta: float = 0.0,
    sigma: float = 1.0,
    fe: str = "twoway",
    intercept: float = 0.0,
    nu: float | None = None,
    burn: int = 50,
    seed: int | None = 0,
) -> Simulation:
    """Simulate one of ``MODELS`` on W; see the module docstring for the process.

    Parameters
    ----------
    model : str
        Which parameters are active: "sar" (rho), "sem" (lam), "sdm" (rho,
        theta), "sdem" (lam, theta), "slx" (theta), "dsdm" (tau, rho, eta,
        theta), "ols".
    W : Weights
        Spatial weights, used as given (row-standardise first if wanted).
    beta, theta : sequence of float
        Coefficients of X and W X (theta defaults to zeros).
    fe : {"none", "unit", "time", "twoway"}
        Which N(0, 1) effects are added (they are returned in the truth).
    nu : float, optional
        Student-t errors sigma * t_nu instead of Gaussian ones (heavy tails).
    """
    spec = family(model)  # case-insensitive, aliases ("slm"); ValueError naming the families
    if fe not in FE_KINDS:
        raise ValueError(f"fe must be 'none', 'unit', 'time' or 'twoway', not {fe!r}.")
    uses = {
        "rho": spec.kind == "lag",
        "lam": spec.kind == "error",
        "theta": spec.durbin,
        "dyn": spec.dynamic,
    }
    rng = np.random.default_rng(seed)
    A = W.sparse
    n = W.n
    beta = np.atleast_1d(np.asarray(beta, float))
    k = beta.size
    theta = np.zeros(k) if theta is None or not uses["theta"] else np.asarray(theta, float)
    rho = rho if uses["rho"] else 0.0
    lam = lam if uses["lam"] else 0.0
    tau, eta = (tau, eta) if uses["dyn"] else (0.0, 0.0)
    for name, val in (("rho", rho), ("lam", lam)):
        if val != 0.0:
            W.check_rho(val, name)
    if uses["dyn"]:
        check_stationary(W, tau, rho, eta)
    eye = sp.identity(n, format="csc")
    lu_rho = spla.splu((eye - rho * A).tocsc())
    lu_lam = spla.splu((eye - lam * A).tocsc())
    mu = rng.standard_normal(n) if fe in ("unit", "twoway") else np.zeros(n)
    total = T + (burn if uses["dyn"] else 0)
    alpha = rng.standard_normal(total) if fe in ("time", "twoway") else np.zeros(total)
    X = (
        rng.standard_normal((total, n, k)) + 0.5 * mu[None, :, None]
    )  # regressors correlated with mu
    y_prev = np.zeros(n)
    ys = np.empty((total, n))
    for t in range(total):
        shocks = rng.standard_normal(n) if nu is None else rng.standard_t(nu, n)
        u = lu_lam.solve(sigma * shocks)
        rhs = (
            X[t] @ beta
            + A @ (X[t] @ theta)
            + tau * y_prev
            + eta * (A @ y_prev)
            + intercept
            + mu
            + alpha[t]
            + u
        )
        ys[t] = lu_rho.solve(rhs)
        y_prev = ys[t]
    keep = slice(total - T, total)
    if not np.all(np.isfinite(ys[keep])):
        raise WeightsError(
            "the simulated panel diverged: the dynamic parameters are not stationary."
        )
    frame = pd.DataFrame(
        {
            "unit": np.tile(np.asarray(W.ids, dtype=object), T),
            "time": np.repeat(np.arange(T), n),
            "y": ys[keep].ravel(),
        }
    )
    for j in range(k):
        frame[f"x{j + 1}"] = X[keep, :, j].ravel()
    truth = {
        "beta": beta,
        "theta": theta,
        "rho": rho,
        "lam": lam,
        "tau": tau,
        "eta": eta,
        "sigma": sigma,
        "nu": nu,
        "intercept": intercept,
        "mu": mu,
        "alpha": alpha[keep],
    }
    return Simulation(frame, W, truth)


def simulate_sar(W: Weights, **kw) -> Simulation:
    """Spatial lag panel: y = rho W y + X beta + effects + eps."""
    return simulate("sar", W, **kw)


def simulate_sem(W: Weights, **kw) -> Simulation:
    """Spatial error panel: y = X beta + effects + u, u = lam W u + eps."""
    return simulate("sem", W, **kw)


def simulate_sdm(W: Weights, **kw) -> Simulation:
    """Spatial Durbin panel: y = rho W y + X beta + W X theta + effects + eps."""
    return simulate("sdm", W, **kw)


def simulate_dsdm(W: Weights, **kw) -> Simulation:
    """Dynamic spatial Durbin panel with y_{t-1} and W y_{t-1} (burn-in discarded)."""
    return simulate("dsdm", W, **kw)


def simulate_dsdm_given(
    W: Weights,
    X: np.ndarray,
    *,
    beta,
    theta,
    tau: float,
    rho: float,
    eta: float,
    sigma: float = 1.0,
    mu: np.ndarray | None = None,
    alpha: np.ndarray | None = None,
    burn: int = 50,
    seed: int | None = 0,
) -> np.ndarray:
    """Outcomes (T, n) of a dynamic SDM for given regressors X (T, n, k).

    y_t = (I - rho W)^-1 (tau y_{t-1} + eta W y_{t-1} + X_t beta + W X_t theta
    + mu + alpha_t + e_t), e_t ~ N(0, sigma^2 I); the first period starts from
    ``burn`` periods run with X_0, so y_0 is near the process's stationary
    level. Raises if (tau, rho, eta) is not stable on W (`check_stationary`).
    """
    check_stationary(W, tau, rho, eta)
    rng = np.random.default_rng(seed)
    A = W.sparse
    T, n, _ = X.shape
    beta, theta = np.asarray(beta, float), np.asarray(theta, float)
    mu = np.zeros(n) if mu is None else np.asarray(mu, float)
    alpha = np.zeros(T) if alpha is None else np.asarray(alpha, float)
    lu = spla.splu((sp.identity(n, format="csc") - rho * A).tocsc())
    y_prev = np.zeros(n)
    out = np.empty((T, n))
    for t in range(-burn, T):
        x = X[max(t, 0)]
        a = alpha[max(t, 0)]
        rhs = tau * y_prev + eta * (A @ y_prev) + x @ beta + A @ (x @ theta) + mu + a
        y_prev = lu.solve(rhs + sigma * rng.standard_normal(n))
        if t >= 0:
            out[t] = y_prev
    return out

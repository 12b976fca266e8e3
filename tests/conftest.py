import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax

jax.config.update("jax_enable_x64", True)


import arviz as az  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def _quantiles_agree(nuts, exact, label):
    """10/50/90% quantiles of NUTS draws (chain, draw) and independent draws agree.

    Tolerance: 4 combined Monte Carlo standard errors (ArviZ's quantile MCSE for
    NUTS; the binomial quantile se over a kernel density for the exact draws).
    """
    for q in (0.1, 0.5, 0.9):
        mcse = float(az.mcse(nuts, method="quantile", prob=q))
        x_q = np.quantile(exact, q)
        dens = np.mean(np.abs(exact - x_q) < 0.05 * exact.std()) / (0.1 * exact.std())
        se_exact = np.sqrt(q * (1 - q) / exact.size) / dens
        gap = abs(np.quantile(nuts, q) - x_q)
        assert gap < 4 * np.hypot(mcse, se_exact), (label, q, gap, mcse, se_exact)


@pytest.fixture
def quantiles_agree():
    """The quantile-agreement check between a NUTS run and exact draws."""
    return _quantiles_agree


def _dense_fe_conditionals(y, Z, Wd, r, beta, sigma, kind, fe):
    """Pointwise LOO with effects integrated out, by dense matrices.

    Q = B'M B / sigma^2, B = I_T (x) A, M = M_T (x) M_n the annihilator of the effect
    dummies, g = Q (y - m) with B m = Z beta (lag) or m = Z beta (error);
    log p = -1/2 log 2 pi + 1/2 log Q_ii - 1/2 g_i^2 / Q_ii over the stacked
    (period-major) y."""
    T, n = y.shape
    A = np.eye(n) - r * Wd
    B = np.kron(np.eye(T), A)
    MT = np.eye(T) - (np.ones((T, T)) / T if fe in ("unit", "twoway") else 0)
    Mn = np.eye(n) - (np.ones((n, n)) / n if fe in ("time", "twoway") else 0)
    Q = B.T @ np.kron(MT, Mn) @ B / sigma**2
    zb = (Z @ beta).ravel()
    m = np.linalg.solve(B, zb) if kind == "lag" else zb
    g = Q @ (y.ravel() - m)
    q = np.diag(Q)
    return (-0.5 * np.log(2 * np.pi) + 0.5 * np.log(q) - 0.5 * g**2 / q).reshape(T, n)


@pytest.fixture
def dense_fe_conditionals():
    """The dense oracle of the fixed-effects pointwise log-likelihood."""
    return _dense_fe_conditionals

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

"""bayespatial: Bayesian spatial econometrics on JAX + NumPyro.

Public facade only; see shared/API.md for the contract.
"""

from bayespatial.data import weights
from bayespatial.data.datasets import load_baltim, load_columbus, load_nat
from bayespatial.data.errors import BayespatialError, PanelError, WeightsError
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights

__version__ = "0.1.0"

__all__ = [
    "BayespatialError",
    "Panel",
    "PanelError",
    "Weights",
    "WeightsError",
    "__version__",
    "load_baltim",
    "load_columbus",
    "load_nat",
    "weights",
]

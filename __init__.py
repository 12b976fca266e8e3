"""bayespatial: Bayesian spatial econometrics on JAX + NumPyro.

Public facade only; see shared/API.md for the contract.
"""

from bayespatial.data import weights
from bayespatial.data.datasets import load_baltim, load_columbus, load_nat
from bayespatial.data.errors import (
    BayespatialError,
    ModelError,
    PanelError,
    SamplerChoiceWarning,
    SamplingWarning,
    StationarityWarning,
    WeightsError,
)
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights
from bayespatial.models.diagnostics import lm_tests, moran
from bayespatial.models.fit import fit
from bayespatial.models.predictive import prior_predictive
from bayespatial.models.results import SpatialFit, compare, load
from bayespatial.priors import spec as priors

__version__ = "0.1.0"

__all__ = [
    "BayespatialError",
    "ModelError",
    "Panel",
    "PanelError",
    "SamplerChoiceWarning",
    "SamplingWarning",
    "SpatialFit",
    "StationarityWarning",
    "Weights",
    "WeightsError",
    "__version__",
    "compare",
    "fit",
    "lm_tests",
    "load",
    "load_baltim",
    "load_columbus",
    "load_nat",
    "moran",
    "prior_predictive",
    "priors",
    "weights",
]

"""bayespatial: Bayesian spatial econometrics on JAX + NumPyro.

Spatial lag, error and Durbin models (SAR/SLM, SEM, SDM, SDEM, SLX) and the
dynamic spatial Durbin model on panels of regions with unit, time or two-way
fixed effects, with full posteriors of the coefficients and of the LeSage-Pace
direct, indirect and total effects.

Start here:

- ``bsp.weights``: spatial weights (``contiguity`` from polygons, ``knn``,
  ``distance_band``, ``inverse_distance``, ``from_edges``, ``from_libpysal``).
- ``bsp.fit(model, formula, data, W, unit=, time=, fe=)``: a `SpatialFit`
  with ``summary()``, ``effects()``, ``turning_point(x)``, ``loo()``,
  ``posterior_draws()``, ``to_netcdf(path)`` and ``idata`` (ArviZ).
- ``bsp.compare(fits)``: leave-one-out model comparison (PSIS-LOO by default;
  ``method="exact"``: exact leave-one-out for static Gaussian fits on the exact sampler).
- ``bsp.moran`` and ``bsp.lm_tests``: tests for spatial dependence.
- ``bsp.load_nat()``, ``load_columbus()``, ``load_baltim()``: example data.
- ``bsp.priors``: prior specifications; ``bsp.load(path)`` reads a saved fit.

``help(bsp.fit)`` documents every option. Errors raised on bad input derive
from `BayespatialError` and name the column, unit or period at fault.
"""

from bayespatial.data import weights
from bayespatial.data.datasets import load_baltim, load_columbus, load_nat
from bayespatial.data.errors import (
    BayespatialError,
    DIDWarning,
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
from bayespatial.models.did_results import DIDFit
from bayespatial.models.fit import fit
from bayespatial.models.mediation import Mediation, mediation
from bayespatial.models.predictive import prior_predictive
from bayespatial.models.result import FitResult, compare, load
from bayespatial.models.results import SpatialFit
from bayespatial.priors import spec as priors

__version__ = "0.1.0"

__all__ = [
    "BayespatialError",
    "DIDFit",
    "DIDWarning",
    "FitResult",
    "Mediation",
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
    "mediation",
    "moran",
    "prior_predictive",
    "priors",
    "weights",
]

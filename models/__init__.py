"""The fit pipeline, the NumPyro models and the results (numbers in `bayespatial.engine`).

- Configuring and preparing a fit: `config` (the validated options; families from
  `bayespatial.data.families`), `design` (formula to the regressors Z), `groups`
  (groupings of units and the columns of group-varying terms), `context` (what
  depends on W alone, built once per W).
- Sampling: `fit` (the pipeline), `gaussian` and `student` (NumPyro models on a named
  `ModelData`), `pooled` (partially pooled coefficients, collapsed), `sampling` (priors
  as distributions, NUTS), `nickell` (bias correction of the dynamic SDM),
  `convergence` (sampling diagnostics kept in the result).
- Results: `result` (`FitResult`, the base of every kind; `load`, `compare`), `results`
  (`SpatialFit`), `arviz_io` (the one module that touches ArviZ), `predictive` (prior
  predictive), `diagnostics` (Moran's I, LM tests), `plots`, `progress`.
"""

"""Numerics on arrays: no NumPyro sampling, no data frames, no imports from the other layers.

Modules by concern (the package stays flat, as DESIGN.md asks; the names group them):

- W and its spectrum: `sparse` (W on the device), `spectrum` (intervals, symmetriser,
  dense eigenvalues), `traces` and `probing` (tr(W^k) by colouring probes).
- Log-determinants: `logdet` (init + apply per method, ``auto``), `logdet_state`,
  `logdet_stochastic` (Chebyshev, Taylor, Lanczos quadrature).
- Fixed effects and likelihoods: `crossprod` (sufficient statistics after the balanced
  transformation), `absorb` (fixed effects on any set of cells), `streaming`
  (per-observation likelihood, Student-t).
- Exact sampling: `conjugate` (the grid over rho/lam and the NIG conditionals),
  `dynamic` (stability of the dynamic SDM); `pooling` (partially pooled group
  coefficients integrated out given their variances).
- LOO: `loo` (pointwise conditional log-likelihood), `loo_exact` (exact leave-one-out
  without refits), `loo_student`, `psis`.
- Post-processing and tests: `effects` (LeSage-Pace), `turning` (inverted-U turning
  points), `lmtests`, `moran`; `precision` (float64 whatever JAX's setting).
"""

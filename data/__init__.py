"""Panels, spatial weights, loaders and simulators (numpy/pandas/scipy/libpysal; no JAX)."""

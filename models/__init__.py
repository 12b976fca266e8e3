"""NumPyro model functions, the fit() pipeline and results objects (static models: issue 3)."""

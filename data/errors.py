"""Exceptions raised on bad input, each naming what is wrong, where, and the fix."""


class BayespatialError(ValueError):
    """Base class for input errors raised by bayespatial."""


class PanelError(BayespatialError):
    """A data frame cannot be used as a panel (missing, duplicate or unbalanced rows)."""


class WeightsError(BayespatialError):
    """A spatial weights matrix is malformed or does not match the data."""

"""Exceptions raised on bad input, each naming what is wrong, where, and the fix."""


class BayespatialError(ValueError):
    """Base class for input errors raised by bayespatial."""


class PanelError(BayespatialError):
    """A data frame cannot be used as a panel (missing, duplicate or unbalanced rows)."""


class WeightsError(BayespatialError):
    """A spatial weights matrix is malformed or does not match the data."""


def listing(items, k: int = 5, quote: bool = False) -> str:
    """The first ``k`` items joined by commas, with a count of the rest (for messages)."""
    items = list(items)
    more = f" (and {len(items) - k} more)" if len(items) > k else ""
    show = repr if quote else str
    return ", ".join(show(i) for i in items[:k]) + more


class ModelError(BayespatialError):
    """A model specification is invalid (unknown model, option or prior)."""


class SamplingWarning(UserWarning):
    """MCMC diagnostics suggest the draws may not represent the posterior."""


class SamplerChoiceWarning(UserWarning):
    """``sampler="auto"`` could not use the exact sampler and fell back to NUTS."""


class StationarityWarning(UserWarning):
    """Dynamic-model draws or values outside the stable region (long-run effects undefined)."""

"""Exceptions raised on bad input, each naming what is wrong, where, and the fix."""

from functools import cache


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


class DIDWarning(UserWarning):
    """Cells of a DID left out of its estimands (their counterfactual is not identified)."""


class StationarityWarning(UserWarning):
    """Dynamic-model draws or values outside the stable region (long-run effects undefined)."""


TOP_LEVEL_MODULES = ("__init__.py", "__main__.py", "cli.py")
"""The package's modules outside its subpackages (tests/test_packaging.py checks the list)."""


@cache
def _package_paths() -> tuple[str, ...]:
    """Path prefixes of the package's own code: its subpackages and top-level modules.

    Not the folder that holds them: in an editable install that folder is the git
    clone, where a user's own script may sit too.
    """
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subpackages = [
        os.path.join(root, d) + os.sep
        for d in sorted(os.listdir(root))
        if d != "tests" and os.path.isfile(os.path.join(root, d, "__init__.py"))
    ]
    return (*subpackages, *(os.path.join(root, f) for f in TOP_LEVEL_MODULES))


def user_stacklevel() -> int:
    """``stacklevel`` that makes a warning point at the first line outside bayespatial.

    Call it as ``warnings.warn(msg, Category, stacklevel=user_stacklevel())``:
    the warning then names the user's call (``fit(...)``, ``fit.loo()``), not a
    line inside the package, however deep the call chain (Python 3.12's
    ``skip_file_prefixes``, by hand for 3.11). The package's own tests, and a
    user's script inside a git clone of the package, count as users.
    """
    import sys

    own = _package_paths()
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(own):
        frame, level = frame.f_back, level + 1
    return level

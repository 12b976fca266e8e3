"""Plots refuse tables they would draw wrongly."""

import pandas as pd
import pytest

from bayespatial.models.plots import effects_forest


def _effects(**extra) -> pd.DataFrame:
    rows = [
        {"term": "x1", "effect": e, "mean": m, "sd": 0.1, "lower": m - 0.2, "upper": m + 0.2}
        for e, m in (("direct", 1.0), ("indirect", 0.5), ("total", 1.5))
    ]
    return pd.DataFrame(rows).assign(**extra)


def test_forest_refuses_short_and_long_run_rows_together():
    both = pd.concat([_effects(horizon="short"), _effects(horizon="long")])
    with pytest.raises(ValueError, match="one horizon"):
        effects_forest(both)


def test_forest_draws_one_horizon_a_panel_per_effect():
    fig = effects_forest(_effects(horizon="long"))
    assert len(fig.axes) == 3  # direct, indirect, total for the one term

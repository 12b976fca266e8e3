"""Frequentist spatial diagnostics that applied papers report, beside the Bayesian fits."""

from __future__ import annotations

import pandas as pd

from bayespatial.data.errors import WeightsError
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights
from bayespatial.engine.moran import moran as moran_stat


def moran(
    data: pd.DataFrame,
    W: Weights,
    column: str,
    *,
    unit: str,
    time: str | None = None,
    row_standardize: bool = True,
) -> pd.DataFrame:
    """Global Moran's I of ``column`` per period (one row for a cross-section).

    Columns: time, I, expected, z_norm, p_norm, z_rand, p_rand (two-sided;
    `bayespatial.engine.moran`). W is row-standardised first unless told not to,
    as esda does by default.
    """
    if not isinstance(W, Weights):
        raise WeightsError(f"W must be bayespatial Weights, not {type(W).__name__}.")
    Wm = (W.row_standardize() if row_standardize else W).sparse
    panel = Panel.from_frame(data, unit, time, [column], W=W)
    values = panel.frame[column].to_numpy().reshape(panel.T, panel.n)
    rows = [{"time": t, **moran_stat(values[i], Wm)} for i, t in enumerate(panel.periods)]
    return pd.DataFrame(rows)

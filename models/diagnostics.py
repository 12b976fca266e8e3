"""Frequentist spatial diagnostics that applied papers report, beside the Bayesian fits."""

from __future__ import annotations

import pandas as pd

from bayespatial.data.errors import WeightsError
from bayespatial.data.panel import Panel
from bayespatial.data.wmatrix import Weights
from bayespatial.engine.crossprod import fe_kind
from bayespatial.engine.lmtests import TESTS
from bayespatial.engine.lmtests import lm_tests as lm_stats
from bayespatial.engine.moran import moran as moran_stat
from bayespatial.models.design import build_design, design_columns


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


def lm_tests(
    data: pd.DataFrame,
    W: Weights,
    formula: str,
    *,
    unit: str,
    time: str | None = None,
    fe: str = "none",
    durbin: bool | list | tuple = False,
    drop_initial: int = 0,
) -> pd.DataFrame:
    """LM-lag, LM-error, their robust forms and SARMA on OLS residuals of ``formula``.

    Cross-sections follow Anselin et al. (1996); fixed-effects panels apply the
    same tests to the Lee-Yu transformed panel (Debarsy & Ertur 2010), see
    `bayespatial.engine.lmtests` for the formulas. W is row-standardised as in
    `bsp.fit`; ``durbin`` adds W X terms (tests on SLX residuals, Elhorst 2014).
    Columns: test, statistic, df, p_value; attrs hold nobs and s2.
    """
    if not isinstance(W, Weights):
        raise WeightsError(f"W must be bayespatial Weights, not {type(W).__name__}.")
    fe = fe_kind(fe)
    W = W if W.transform == "row" else W.row_standardize()
    panel = Panel.from_frame(data, unit, time, W=W)
    design = build_design(formula, panel, W, durbin=durbin, fe=fe, drop_initial=drop_initial)
    _, Z = design_columns(design, W)
    out = lm_stats(design.y, Z, W.sparse, fe)
    table = pd.DataFrame(
        [(name, *out[name]) for name in TESTS], columns=["test", "statistic", "df", "p_value"]
    )
    table.attrs.update(nobs=out["nobs"], s2=out["s2"], fe=fe, formula=formula)
    return table

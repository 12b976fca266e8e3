"""From a formula and a panel to the arrays a spatial model needs.

Formulas use formulaic's syntax (``y ~ x1 + I(x1**2) + np.log(x2)``) plus
``lag(x, k)``, the value of x in the same unit k periods earlier (as in the
provincial agglomeration study's t-1 and t-2 terms). A lag never crosses
units; its first k periods are missing, and they are dropped only when the
caller asks (``drop_initial``), with the count recorded. ``durbin`` picks the
regressors that also enter as W x (SDM, SDEM, SLX): all of them, none, or a
list of term names.
"""

from __future__ import annotations

from typing import NamedTuple

import formulaic
import numpy as np
import pandas as pd

from bayespatial.data.errors import PanelError, listing
from bayespatial.data.panel import Panel
from bayespatial.engine.crossprod import demean


class Design(NamedTuple):
    """Outcome, regressors and their spatial lags, period-major."""

    y: np.ndarray
    """Outcome, (T, n)."""
    X: np.ndarray
    """Regressors, (T, n, k)."""
    names: tuple
    """Term names of the columns of X (``Intercept`` for the constant)."""
    WX: np.ndarray
    """Spatial lags of the Durbin regressors, (T, n, m)."""
    lagged: tuple
    """Term names of the columns of WX (without the ``W_`` prefix)."""
    periods: tuple
    """Periods kept."""
    notes: tuple
    """What was done (intercept absorbed, periods dropped)."""
    ylag: np.ndarray | None = None
    """Outcome one period earlier in the same unit, (T, n), for dynamic models."""


DYNAMIC_TERMS = ("y_lag", "W_y_lag")
"""Column names of y_{t-1} (tau) and W y_{t-1} (eta) among the regressors Z."""


def spatial_lag(W, v: np.ndarray) -> np.ndarray:
    """W v in every period, for v of shape (T, n) or (T, n, k) (W a `Weights` or sparse matrix)."""
    m = W.sparse if hasattr(W, "sparse") else W
    return np.stack([np.asarray(m @ v[t]) for t in range(v.shape[0])]).reshape(v.shape)


def regression_columns(
    X: np.ndarray,
    names: tuple,
    W,
    lagged: tuple = (),
    ylag: np.ndarray | None = None,
    eta: bool = False,
    WX: np.ndarray | None = None,
) -> tuple[tuple, np.ndarray]:
    """The regressors Z = [X, W X_d, y_{t-1}, W y_{t-1}] (T, n, p) of every family, and their names.

    X (T, n, k) holds the terms ``names``; ``lagged`` the Durbin terms among them
    (W X_d, named ``W_term``); ``ylag`` (T, n) adds tau's column and, with ``eta``,
    W y_{t-1} (`DYNAMIC_TERMS`); ``WX``, when already computed (`Design.WX`), is
    used as W X_d. The one place where the columns are assembled: the fit (and its
    prior predictive), its LOO and the LM tests all read them from here.
    """
    if WX is None:
        idx = [names.index(t) for t in lagged]
        WX = spatial_lag(W, X[..., idx]) if idx else X[..., :0]
    cols = [X, WX]
    out = (*names, *map(lagged_name, lagged))
    if ylag is not None:
        cols.append(ylag[..., None])
        out = (*out, DYNAMIC_TERMS[0])
        if eta:
            cols.append(spatial_lag(W, ylag)[..., None])
            out = (*out, DYNAMIC_TERMS[1])
    return out, np.concatenate(cols, axis=2)


def design_columns(design: Design, W, eta: bool = False) -> tuple[tuple, np.ndarray]:
    """`regression_columns` of a `Design` (W y_{t-1} too when ``eta`` and the design is dynamic)."""
    return regression_columns(design.X, design.names, W, design.lagged, design.ylag, eta, design.WX)


def lagged_name(term: str) -> str:
    """Name of the W-lagged column of ``term`` in every table ("W_x"; theta's label)."""
    return f"W_{term}"


def _within_unit_lag(panel: Panel):
    units = panel.frame[panel.unit]

    def lag(series, k=1):
        """The value k periods earlier in the same unit (missing where there is none)."""
        if panel.time is None:
            raise PanelError("lag() needs a panel with a time column; this is a cross-section.")
        return (
            pd.Series(np.asarray(series, dtype=float), index=panel.frame.index)
            .groupby(units.to_numpy())
            .shift(int(k))
        )

    return lag


def build_design(
    formula: str,
    panel: Panel,
    W,
    *,
    durbin: bool | list | tuple = False,
    fe: str = "none",
    drop_initial: int = 0,
    dynamic: bool = False,
) -> Design:
    """Evaluate ``formula`` on the panel and build [y, X, W X] (and y_{t-1} if ``dynamic``).

    Dynamic models condition on the first period: at least one initial period
    is dropped, and ``ylag`` holds the (transformed) outcome of the period before.

    Raises
    ------
    PanelError
        Missing values (naming term, unit and period; for lags, how many initial
        periods to drop), unknown Durbin terms, or a rank-deficient design
        (naming the terms, e.g. a regressor that is constant within units
        under unit fixed effects).
    """
    frame = panel.frame
    check_text_numbers(formula, panel)
    try:
        mm = formulaic.model_matrix(
            formula, frame, na_action="ignore", context={"lag": _within_unit_lag(panel), "np": np}
        )
    except Exception as err:  # formulaic raises many types; name the formula in the message
        raise PanelError(f"cannot evaluate formula {formula!r}: {err}") from err
    lhs, rhs = mm.lhs, mm.rhs
    if lhs.shape[1] != 1:
        raise PanelError(f"formula {formula!r} must have exactly one outcome on the left of ~.")
    notes = []
    if fe != "none" and "Intercept" in rhs.columns:
        rhs = rhs.drop(columns="Intercept")
        notes.append(f"Intercept absorbed by the {fe} fixed effects")
    keep = np.ones(len(frame), dtype=bool)
    if dynamic:
        if panel.time is None:
            raise PanelError("a dynamic model needs a panel with a time column.")
        drop_initial = max(drop_initial, 1)
    if drop_initial:
        panel.require_periods(drop_initial + 1, f"drop_initial={drop_initial}")
        keep = frame[panel.time].isin(panel.periods[drop_initial:]).to_numpy()
        notes.append(f"dropped the first {drop_initial} period(s): {int((~keep).sum())} rows")
    values = pd.concat([lhs, rhs], axis=1)
    bad = ~np.isfinite(values.to_numpy(dtype=float)) & keep[:, None]
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        col, count = values.columns[j], int(bad[:, j].sum())
        where = panel.where(bad[:, j])
        hint = (
            " It is a lag: pass drop_initial=k to drop the first k periods."
            if "lag(" in str(col)
            else " Impute them deliberately or remove those rows."
        )
        raise PanelError(
            f"term {col!r} is missing or non-finite for {count} row(s), "
            f"e.g. {', '.join(where)}.{hint}"
        )
    periods = panel.periods[drop_initial:] if panel.time is not None else panel.periods
    if fe in ("unit", "twoway") and len(periods) < 2:
        after = f" after dropping the first {drop_initial}" if drop_initial else ""
        raise PanelError(
            f"fe={fe!r} needs at least 2 periods (in one period a unit's effect cannot be told "
            f"apart from its outcome); the data have {len(periods)}{after} "
            f"({listing(periods)}). Use more periods, or fe='none' for a cross-section."
        )
    T, n = len(periods), panel.n
    y = lhs.to_numpy(dtype=float)[keep].reshape(T, n)
    X = rhs.to_numpy(dtype=float)[keep].reshape(T, n, rhs.shape[1])
    names = tuple(str(c) for c in rhs.columns)
    if durbin is True:
        lagged = tuple(c for c in names if c != "Intercept")
    elif durbin is False:
        lagged = ()
    else:
        lagged = tuple(durbin)
        unknown = [c for c in lagged if c not in names]
        if unknown:
            raise PanelError(
                f"durbin terms {unknown} are not in the design; terms are {list(names)}."
            )
    m = W.sparse if hasattr(W, "sparse") else W
    idx = [names.index(c) for c in lagged]
    WX = spatial_lag(m, X[..., idx]) if idx else np.zeros((T, n, 0))
    _check_rank(np.concatenate([X, WX], axis=2), names + tuple(map(lagged_name, lagged)), fe)
    ylag = None
    if dynamic:
        y_all = lhs.to_numpy(dtype=float).reshape(panel.T, n)
        ylag = y_all[drop_initial - 1 : panel.T - 1]
        if not np.all(np.isfinite(ylag)):
            raise PanelError(
                "the lagged outcome is missing or non-finite in a period the model uses; "
                "drop more initial periods (drop_initial) or fix the outcome."
            )
        notes.append("conditioned on the first period (y_{t-1} from the period before)")
    return Design(y, X, names, WX, lagged, periods, tuple(notes), ylag)


def check_text_numbers(formula: str, panel: Panel) -> None:
    """Raise when a variable of the formula is text holding mostly numbers.

    formulaic would dummy-code such a column (one level per distinct value), which
    then fails as a rank-deficient design far from the cause: a stray "n/a" or
    "1,234" in a numeric column read from a spreadsheet.
    """
    try:
        needed = formulaic.Formula(formula).required_variables
    except Exception:  # an unparsable formula is reported by model_matrix below
        return
    for name in sorted(str(v) for v in needed):
        if name not in panel.frame.columns:
            continue
        col = panel.frame[name]
        if not (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)):
            continue
        numbers = pd.to_numeric(col, errors="coerce")
        text = col.notna() & numbers.isna()
        if text.any() and numbers.notna().sum() >= text.sum():
            examples = listing(col[text].unique(), 3, quote=True)
            raise PanelError(
                f"column {name!r} is text (dtype {col.dtype}) though most of its values are "
                f"numbers: {examples} for {int(text.sum())} row(s), e.g. "
                f"{listing(panel.where(text.to_numpy()), 3)}. Convert it with "
                f"df[{name!r}] = pd.to_numeric(df[{name!r}], errors='coerce') and decide what "
                "the missing values mean (the fit refuses missing values)."
            )


def _check_rank(Z: np.ndarray, names: tuple, fe: str) -> None:
    """Raise naming the terms that are collinear after the fixed-effect transformation."""
    T, n, p = Z.shape
    if p == 0:
        return
    flat = demean(Z, fe).reshape(T * n, p)
    scale = np.linalg.norm(flat, axis=0)
    dead = [names[j] for j in np.flatnonzero(scale <= 1e-10 * max(1.0, np.abs(Z).max()))]
    if dead:
        why = {"unit": "constant within units", "time": "constant within periods"}.get(
            fe, "constant across the panel's two dimensions"
        )
        raise PanelError(
            f"term(s) {dead} vanish after the {fe} fixed-effect transformation ({why}); "
            "remove them or use fewer fixed effects."
        )
    s = np.linalg.svd(flat / scale, compute_uv=False)
    if s[-1] < 1e-8 * s[0]:
        _, _, vt = np.linalg.svd(flat / scale)
        involved = [names[j] for j in np.flatnonzero(np.abs(vt[-1]) > 0.1)]
        raise PanelError(
            f"the design is rank-deficient: {involved} are (nearly) collinear; drop one of them."
        )

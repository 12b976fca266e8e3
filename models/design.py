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
from bayespatial.engine.absorb import CellEffects
from bayespatial.engine.absorb import init as init_effects
from bayespatial.engine.crossprod import demean
from bayespatial.engine.loo_exact import LEVERAGE_GAP


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
    cells: np.ndarray | None = None
    """Unbalanced panels: (2, N) period and unit positions of the N observed cells, and
    then y is (N,), X (N, k) and WX (N, m). None for a balanced panel."""
    effects: CellEffects | None = None
    """Unbalanced panels: the fixed-effects projection on the cells (`engine.absorb`)."""


DYNAMIC_TERMS = ("y_lag", "W_y_lag")
"""Column names of y_{t-1} (tau) and W y_{t-1} (eta) among the regressors Z."""


def spatial_lag(W, v: np.ndarray, cells: np.ndarray | None = None) -> np.ndarray:
    """W v in every period, for v of shape (T, n) or (T, n, k) (W a `Weights` or sparse matrix).

    With ``cells`` ((2, N) period and unit positions), v is (N,) or (N, k) on those
    cells: W v of a cell is NaN where a neighbour has no cell in that period.
    """
    m = W.sparse if hasattr(W, "sparse") else W
    if cells is not None:
        t, u = cells
        grid = np.zeros((int(t.max()) + 1 if t.size else 0, m.shape[0], *v.shape[1:]))
        absent = np.ones(grid.shape[:2])
        grid[t, u], absent[t, u] = v, 0.0
        out = spatial_lag(m, grid)[t, u]
        # a neighbour with a non-zero weight and no cell leaves W v undefined
        out[spatial_lag(abs(m), absent)[t, u] > 0] = np.nan
        return out
    return np.stack([np.asarray(m @ v[t]) for t in range(v.shape[0])]).reshape(v.shape)


def regression_columns(
    X: np.ndarray,
    names: tuple,
    W,
    lagged: tuple = (),
    ylag: np.ndarray | None = None,
    eta: bool = False,
    WX: np.ndarray | None = None,
    cells: np.ndarray | None = None,
) -> tuple[tuple, np.ndarray]:
    """The regressors Z = [X, W X_d, y_{t-1}, W y_{t-1}] (T, n, p) of every family, and their names.

    X (T, n, k) holds the terms ``names``; ``lagged`` the Durbin terms among them
    (W X_d, named ``W_term``); ``ylag`` (T, n) adds tau's column and, with ``eta``,
    W y_{t-1} (`DYNAMIC_TERMS`); ``WX``, when already computed (`Design.WX`), is
    used as W X_d. The one place where the columns are assembled: the fit (and its
    prior predictive), its LOO and the LM tests all read them from here. ``cells``:
    X is (N, k) on the cells of an unbalanced panel (`spatial_lag`), Z is (N, p).
    """
    if WX is None:
        idx = [names.index(t) for t in lagged]
        WX = spatial_lag(W, X[..., idx], cells) if idx else X[..., :0]
    cols = [X, WX]
    out = (*names, *map(lagged_name, lagged))
    if ylag is not None:
        cols.append(ylag[..., None])
        out = (*out, DYNAMIC_TERMS[0])
        if eta:
            cols.append(spatial_lag(W, ylag)[..., None])
            out = (*out, DYNAMIC_TERMS[1])
    return out, np.concatenate(cols, axis=-1)


def design_columns(design: Design, W, eta: bool = False) -> tuple[tuple, np.ndarray]:
    """`regression_columns` of a `Design` (W y_{t-1} too when ``eta`` and the design is dynamic)."""
    return regression_columns(
        design.X, design.names, W, design.lagged, design.ylag, eta, design.WX, design.cells
    )


def lagged_name(term: str) -> str:
    """Name of the W-lagged column of ``term`` in every table ("W_x"; theta's label)."""
    return f"W_{term}"


def _within_unit_lag(panel: Panel):
    def lag(series, k=1):
        """The value k periods earlier in the same unit (missing where there is none)."""
        return pd.Series(panel.lag(series, int(k)), index=panel.frame.index)

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
            " It is a lag: pass drop_initial=k to drop the first k periods"
            + (
                ""
                if panel.balanced
                else "; on an unbalanced panel a unit's first row after entering late or after "
                "a gap has no lag either: compute the lagged column before removing rows, or "
                "remove those rows"
            )
            + "."
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
    names = tuple(str(c) for c in rhs.columns)
    lagged = _durbin_terms(durbin, names)
    if not panel.balanced:
        return _cell_design(panel, W, lhs, rhs, keep, drop_initial, lagged, fe, tuple(notes))
    y = lhs.to_numpy(dtype=float)[keep].reshape(T, n)
    X = rhs.to_numpy(dtype=float)[keep].reshape(T, n, rhs.shape[1])
    m = W.sparse if hasattr(W, "sparse") else W
    idx = [names.index(c) for c in lagged]
    WX = spatial_lag(m, X[..., idx]) if idx else np.zeros((T, n, 0))
    Z = np.concatenate([X, WX], axis=2)
    check_rank(demean(Z, fe).reshape(T * n, -1), Z, names + tuple(map(lagged_name, lagged)), fe)
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


def _durbin_terms(durbin, names: tuple) -> tuple:
    """The terms that enter as W x: all but the intercept (True), none (False) or a list."""
    if durbin is True:
        return tuple(c for c in names if c != "Intercept")
    if durbin is False:
        return ()
    lagged = tuple(durbin)
    unknown = [c for c in lagged if c not in names]
    if unknown:
        raise PanelError(f"durbin terms {unknown} are not in the design; terms are {list(names)}.")
    return lagged


def _cell_design(panel, W, lhs, rhs, keep, drop_initial, lagged, fe, notes) -> Design:
    """The `Design` of an unbalanced panel: y, X and W X on the observed cells.

    W x of a cell needs x of each of its neighbours in that period; a cell where one
    is absent raises, naming the cells. Cells that their effects fit exactly
    (M_ii = 0: a unit or period seen once, or a cell whose removal splits the
    unit-period graph) carry no information on the coefficients and have no
    leave-one-out density; they are dropped, repeatedly until none is left, with a
    note (M_ii below `bayespatial.engine.loo_exact.LEVERAGE_GAP`), as reghdfe and fixest
    drop singletons (Correia 2015, "Singletons, cluster-robust
    standard errors and fixed effects"; Kline, Saggio & Solvsten 2020, *Econometrica*
    88, 1859-1898, on the leave-one-out connected set).
    """
    t, u = (c[keep] for c in panel.cells())
    cells = np.stack([t - drop_initial, u])
    y = lhs.to_numpy(dtype=float)[keep][:, 0]
    X = rhs.to_numpy(dtype=float)[keep]
    names = tuple(str(c) for c in rhs.columns)
    idx = [names.index(c) for c in lagged]
    WX = spatial_lag(W, X[:, idx], cells) if idx else np.zeros((y.size, 0))
    bad = ~np.isfinite(WX).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(keep)[bad]
        where = panel.where(np.isin(np.arange(len(panel.frame)), rows))
        raise PanelError(
            f"W x of the Durbin terms {list(lagged)} is undefined for {int(bad.sum())} "
            f"observed cell(s), e.g. {', '.join(where)}: "
            f"{_absent_neighbour(panel, W, cells, bad, drop_initial)}, and W x needs x of "
            "every neighbour. Add those rows, fit 'ols', or restrict the data to periods "
            "where the neighbours are observed."
        )
    dropped = 0
    while True:
        effects = init_effects(cells[1], cells[0], fe)
        if fe == "none" or not effects.direct:
            break
        exact = effects.diagonal() < LEVERAGE_GAP
        if not exact.any():
            break
        dropped += int(exact.sum())
        cells, y, X, WX = cells[:, ~exact], y[~exact], X[~exact], WX[~exact]
        if y.size == 0:
            raise PanelError(
                f"every observed cell is fitted exactly by the {fe} fixed effects (each unit "
                "or period seen once): nothing is left to estimate the coefficients from."
            )
    if dropped:
        notes = (
            *notes,
            f"dropped {dropped} cell(s) that the {fe} effects fit exactly (units or periods "
            "seen once, or cells linking otherwise unconnected parts of the panel): they "
            "carry no information on the coefficients",
        )
    Z = np.concatenate([X, WX], axis=1)
    check_rank(effects.annihilate(Z), Z, names + tuple(map(lagged_name, lagged)), fe)
    periods = panel.periods[drop_initial:]
    absorbed = (
        "no fixed effects"
        if fe == "none"
        else f"{fe} effects absorb {effects.dof} degrees of freedom ({effects.components} "
        "connected component(s) of the unit-period graph)"
    )
    notes = (
        *notes,
        f"unbalanced panel: {y.size} of the {panel.n * len(periods)} unit-periods observed; "
        f"{absorbed}",
    )
    return Design(y, X, names, WX, lagged, periods, notes, None, cells, effects)


def _absent_neighbour(panel, W, cells, bad, drop_initial) -> str:
    """Name a neighbour without a cell of the first cell whose W x is undefined."""
    m = (W.sparse if hasattr(W, "sparse") else W).tocsr()
    t, u = cells[:, np.flatnonzero(bad)[0]]
    present = set(cells[1, cells[0] == t].tolist())
    lo, hi = m.indptr[u], m.indptr[u + 1]
    weights = zip(m.indices[lo:hi], m.data[lo:hi], strict=True)
    absent = [j for j, w in weights if w and j not in present]
    if not absent:
        return "a neighbour under W has no row in that period"
    period = panel.periods[drop_initial + t]
    return f"its neighbour {panel.unit}={panel.units[absent[0]]} has no row in {period}"


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


def check_rank(flat: np.ndarray, Z: np.ndarray, names: tuple, fe: str) -> None:
    """Raise naming the terms of Z that are collinear after the fixed-effect transformation.

    ``flat`` (N, p): the columns of Z with the effects projected out.
    """
    p = flat.shape[1]
    if p == 0:
        return
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

"""Treatment timing of a staggered-adoption panel: adoption periods, event time, exposure.

Adoption is absorbing (once treated, a unit stays treated), the design of staggered DID
(Borusyak, Jaravel & Spiess 2024; Callaway & Sant'Anna 2021). Each unit's *adoption
position* is the position, among the panel's sorted periods, of its first treated
period; `NEVER` for units not treated within the observed periods. Event time is the
distance in positions, e = position(t) - adoption (0 = the first treated period), so it
counts observed periods, also when they are not consecutive integers.

Exposure to neighbours' treatment (spatial spillovers; Butts 2023, "Difference-in-
differences estimation with spatial spillovers", arXiv:2105.03737): with W the spatial
weights, "any" marks a cell exposed when some neighbour j (w_ij != 0) is treated in that
period, "share" gives sum_j w_ij D_jt over the row-standardised W (the share of treated
neighbours). Rings (`ring_exposure`) assign each cell the innermost of nested neighbour
sets (distance bands) that holds a treated unit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bayespatial.data.errors import PanelError, listing

NEVER = -1
"""Adoption position of a unit never treated within the observed periods."""
TREAT_KINDS = ("first", "indicator")
"""``treat`` holds the first treated period ("first") or a 0/1 absorbing treatment."""
SPILLOVERS = (False, True, "share")
"""Exposure kinds: none, any treated neighbour, the share of treated neighbours."""


class Timing(NamedTuple):
    """Adoption of each unit, in the panel's unit and period order."""

    adoption: np.ndarray
    """(n,) position of each unit's first treated period; `NEVER` if untreated in the window."""
    first: np.ndarray
    """(n,) the first treated period as given (NaN, 0 or empty for never treated)."""
    notes: tuple
    """What was read (adoption after the window, adoption between periods)."""

    def treated(self, T: int) -> np.ndarray:
        """D, (T, n) bool: unit treated in the period at that position."""
        a = self.adoption
        return (np.arange(T)[:, None] >= a[None, :]) & (a[None, :] != NEVER)

    def event_time(self, period: np.ndarray, unit: np.ndarray) -> np.ndarray:
        """E = period position - adoption position of cells (meaningless for never treated)."""
        return period - self.adoption[unit]


def timing(
    frame: pd.DataFrame,
    unit: str,
    time: str,
    treat: str,
    units: tuple,
    periods: tuple,
    kind: str = "first",
) -> Timing:
    """Read each unit's adoption from column ``treat`` of a long panel.

    ``kind="first"``: the column holds the first treated period, constant within unit;
    0 or NaN for never treated; with numeric periods an adoption between periods counts
    from the next period, one after the last as never treated; with labelled periods
    (strings, dates) it must be one of them. ``kind="indicator"``: a 0/1 treatment that
    must be absorbing (no unit returns to 0 after a 1); adoption is the first period with
    1, whatever the periods' type.

    Raises
    ------
    PanelError
        The column is absent or not numeric, varies within a unit (naming the units),
        an indicator is not 0/1 or switches off (naming unit and period).
    """
    if kind not in TREAT_KINDS:
        raise PanelError(f"treat_kind={kind!r} is not one of {list(TREAT_KINDS)}.")
    if treat not in frame.columns:
        raise PanelError(
            f"treat={treat!r} is not a column of the data; available: {listing(frame.columns, 12)}."
        )
    if kind == "indicator":
        values = _numeric(frame, treat, "0/1")
        position = {p: i for i, p in enumerate(periods)}
        first = _first_from_indicator(frame, unit, time, treat, values).reindex(list(units))
        adoption = np.array([NEVER if pd.isna(f) else position[f] for f in first])
        return Timing(adoption, first.to_numpy(dtype=object), ())
    numeric = pd.api.types.is_numeric_dtype(pd.Series(list(periods)))
    values = _numeric(frame, treat, "a period") if numeric else frame[treat]
    by_unit = values.groupby(frame[unit], sort=False)
    spread = by_unit.nunique(dropna=False)
    bad = spread.index[spread > 1].tolist()
    if bad:
        seen = by_unit.unique().loc[bad[:3]]
        shown = "; ".join(f"{u!r}: {sorted(set(v.tolist()), key=str)}" for u, v in seen.items())
        raise PanelError(
            f"column {treat!r} must hold one adoption period per unit (constant within "
            f"unit), but it varies within {len(bad)} unit(s): {shown}. Give each unit its "
            "first treated period (0 or NaN for never treated); for a 0/1 treatment "
            "column pass treat_kind='indicator'."
        )
    first = by_unit.first().reindex(list(units))
    never = first.isna() | first.isin([0, "", "0"])
    adoption = np.full(len(units), NEVER)
    given = np.flatnonzero(~never.to_numpy())
    notes = []
    if not numeric:  # labels (strings, dates): the adoption must be one of the periods
        position = {p: i for i, p in enumerate(periods)}
        unknown = [(units[i], first.iloc[i]) for i in given if first.iloc[i] not in position]
        if unknown:
            raise PanelError(
                f"column {treat!r} holds adoption periods that are not periods of column "
                f"{time!r}, e.g. (unit, adoption) {listing(unknown, 3)}; periods are "
                f"{listing(periods, 4)}. Use the period label of each unit's first treated "
                "period (empty or 0 for never treated)."
            )
        adoption[given] = [position[first.iloc[i]] for i in given]
        return Timing(adoption, first.to_numpy(dtype=object), ())
    period_values = np.asarray(periods, dtype=float)
    value = first.to_numpy(dtype=float)[given]
    pos = np.searchsorted(period_values, value, side="left")  # first period >= adoption
    after = pos >= len(periods)
    if after.any():
        names = [units[i] for i in given[after]]
        notes.append(
            f"{after.sum()} unit(s) adopt after the last period {periods[-1]} ({listing(names)}): "
            "untreated throughout the window, used as controls"
        )
    before = value < period_values[0]
    if before.any():
        names = [units[i] for i in given[before]]
        notes.append(
            f"{before.sum()} unit(s) adopt before the first period {periods[0]} "
            f"({listing(names)}): treated throughout the window, so no untreated period "
            "identifies their counterfactual (if the column is a 0/1 treatment, pass "
            "treat_kind='indicator')"
        )
    between = ~after & ~before & (period_values[np.minimum(pos, len(periods) - 1)] != value)
    if between.any():
        notes.append(
            f"{between.sum()} unit(s) adopt between observed periods: treated from the next "
            "observed period"
        )
    adoption[given[~after]] = pos[~after]
    return Timing(adoption, first.to_numpy(dtype=object), tuple(notes))


def _numeric(frame, treat, what) -> pd.Series:
    """Column ``treat`` as numbers; raises naming rows that hold text."""
    values = pd.to_numeric(frame[treat], errors="coerce")
    text = values.isna() & frame[treat].notna()
    if text.any():
        raise PanelError(
            f"column {treat!r} must be numeric ({what}); rows "
            f"{listing(frame.index[text].tolist())} hold "
            f"{listing(frame[treat][text].unique(), 3, quote=True)}."
        )
    return values


def _first_from_indicator(frame, unit, time, treat, values) -> pd.Series:
    """First period with treatment 1 per treated unit, checking 0/1 and absorbing."""
    odd = ~values.isin([0, 1])
    if odd.any():
        rows = frame.loc[odd, [unit, time, treat]].head(3).itertuples(index=False)
        raise PanelError(
            f"treat_kind='indicator' needs column {treat!r} to be 0/1; "
            f"(unit, period, value) {listing(tuple(r) for r in rows)} are not."
        )
    order = frame.assign(__d=values.to_numpy()).sort_values([unit, time], kind="stable")
    running = order.groupby(unit, sort=False)["__d"].cummax()
    off = (running == 1) & (order["__d"] == 0)
    if off.any():
        rows = order.loc[off, [unit, time]].head(3).itertuples(index=False)
        raise PanelError(
            f"the treatment in column {treat!r} must be absorbing (staggered adoption: once "
            f"1, always 1), but it returns to 0 at (unit, period) {listing(tuple(r) for r in rows)}"
            f"{' and more' if off.sum() > 3 else ''}. Recode switching treatments, or restrict "
            "the data to each unit's first treatment spell."
        )
    on = order[order["__d"] == 1]
    return on.groupby(unit, sort=False)[time].min()


def exposure(W, treated: np.ndarray, kind) -> np.ndarray:
    """Exposure of each cell (T, n) to neighbours treated in the same period.

    ``W`` (n, n) sparse, rows the exposed unit; ``kind`` True ("any": 1.0 where some
    neighbour is treated) or "share" (the row-standardised W-weighted share).
    """
    m = sp.csr_matrix(W, dtype=float)
    d = treated.astype(float)
    if kind == "share":
        rows = np.asarray(m.sum(axis=1)).ravel()
        m = sp.diags(np.divide(1.0, rows, out=np.zeros_like(rows), where=rows > 0)) @ m
        return (m @ d.T).T
    link = (m != 0).astype(float)
    return ((link @ d.T).T > 0).astype(float)


def ring_exposure(matrices, treated: np.ndarray) -> np.ndarray:
    """Innermost ring holding a unit treated in the same period, per cell (T, n); 0: none.

    ``matrices``: nested neighbour sets, e.g. distance bands of increasing threshold
    b_1 < b_2 < ... (`bayespatial.data.weights.distance_band`); ring k (1-based) holds
    the cells with a treated unit within b_k but none within b_{k-1}: the distance to the
    nearest treated unit falls in (b_{k-1}, b_k], Butts's (2023) rings (diff-diff's
    ``SpilloverDiD`` uses the same nearest-treated-unit rule).
    """
    out = np.zeros(treated.shape, dtype=int)
    for k, m in reversed(list(enumerate(matrices, start=1))):
        hit = exposure(m, treated, True) > 0
        out[hit] = k  # inner rings overwrite outer ones
    return out

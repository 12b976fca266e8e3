"""Balanced spatial panels from long data frames, validated at the edge.

A `Panel` holds one row per (unit, period), sorted period-major (all units of
the first period, then the second, ...) in the unit order of W, which is the
stacking that spatial panel likelihoods use (Elhorst 2014, *Spatial
Econometrics*, ch. 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayespatial.data.errors import PanelError, listing
from bayespatial.data.families import FAMILIES
from bayespatial.data.wmatrix import Weights


@dataclass(frozen=True, eq=False)
class Panel:
    """A validated balanced panel (or a cross-section when ``time`` is None).

    Attributes
    ----------
    frame : pandas.DataFrame
        Rows sorted by (period, unit) with a fresh RangeIndex.
    unit, time : str
        Names of the unit and period columns (``time`` None for a cross-section).
    units, periods : tuple
        Unit order (that of W when W was given) and sorted periods.
    notes : tuple of str
        What was done to the data (e.g. periods dropped after lagging).
    """

    frame: pd.DataFrame
    unit: str
    time: str | None
    units: tuple
    periods: tuple
    notes: tuple = field(default=())

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        unit: str,
        time: str | None = None,
        columns: Sequence[str] = (),
        W: Weights | None = None,
        balanced: bool = True,
    ) -> Panel:
        """Validate and sort a long data frame.

        Parameters
        ----------
        df : pandas.DataFrame
            One row per unit and period.
        unit, time : str
            Unit and period columns; omit ``time`` for a cross-section.
        columns : sequence of str
            Columns the model will use: they must exist and be finite.
        W : Weights, optional
            If given, the units must match W's ids exactly and take W's order.
        balanced : bool
            Whether every unit must have every period (spatial lag and error models:
            W y couples all units of a period). False accepts an unbalanced panel,
            whose observed cells `cells` gives (families without a spatial parameter).

        Raises
        ------
        PanelError
            Missing columns, missing or non-finite values, duplicate (unit, time)
            rows, unbalanced panels; `WeightsError` when units and W disagree.
        """
        if not isinstance(df, pd.DataFrame):
            raise PanelError(f"data must be a pandas DataFrame, got {type(df).__name__}.")
        if df.empty:
            raise PanelError(
                f"the data frame is empty ({len(df)} rows, columns {listing(df.columns, 12)}); "
                "check the file or the filter that produced it."
            )
        keys = [unit] if time is None else [unit, time]
        absent = [c for c in [*keys, *columns] if c not in df.columns]
        if absent:
            raise PanelError(
                f"column(s) {absent} not in the data; available: {listing(df.columns, 12)}."
            )
        for k in keys:
            if df[k].isna().any():
                rows = df.index[df[k].isna()].tolist()
                raise PanelError(
                    f"column {k!r} has missing values in rows {listing(rows)}; fill or drop them."
                )
        dup = df.duplicated(keys, keep=False)
        if dup.any() and time is None:
            raise PanelError(_repeated_units(df, unit))
        if dup.any():
            first = df.loc[dup, keys].drop_duplicates().head(5).itertuples(index=False)
            where = listing(tuple(r) if time else r[0] for r in first)
            raise PanelError(
                f"{int(dup.sum())} rows share a ({', '.join(keys)}) with another row, "
                f"e.g. {where}; each unit may appear once per period: aggregate or remove "
                "the duplicates."
            )
        units = tuple(W.ids) if W is not None else tuple(sorted(pd.unique(df[unit]), key=_sort_key))
        if W is not None:
            W.align(sorted(pd.unique(df[unit]), key=_sort_key))  # raises on mismatched ids
        periods = (None,) if time is None else tuple(sorted(pd.unique(df[time])))
        if time is not None:
            counts = df.groupby(unit, sort=False)[time].size()
            if balanced and (counts != len(periods)).any():
                full = pd.MultiIndex.from_product([units, periods], names=[unit, time])
                have = pd.MultiIndex.from_frame(df[[unit, time]])
                missing = full.difference(have)
                raise PanelError(
                    f"unbalanced panel: {len(missing)} unit-period(s) missing, e.g. "
                    f"{listing(tuple(m) for m in missing[:5])}; "
                    f"{int((counts != len(periods)).sum())} of {len(units)} units lack some "
                    f"of the {len(periods)} periods. Models with a spatial lag or error "
                    f"({listing(_SPATIAL, quote=True)}) need every unit in every period (W y "
                    "couples them); 'ols' and 'slx' accept unbalanced panels. Add the rows "
                    "(imputed values must be a choice you make) or restrict to a balanced window."
                )
        order = pd.Categorical(df[unit], categories=list(units), ordered=True)
        frame = df.assign(**{"__u": order.codes})
        sort_cols = ["__u"] if time is None else [time, "__u"]
        frame = (
            frame.sort_values(sort_cols, kind="stable").drop(columns="__u").reset_index(drop=True)
        )
        panel = cls(frame, unit, time, units, periods)
        panel.check_finite(columns)
        return panel

    # ------------------------------------------------------------------ shape
    @property
    def n(self) -> int:
        """Number of units."""
        return len(self.units)

    @property
    def T(self) -> int:
        """Number of periods (1 for a cross-section)."""
        return len(self.periods)

    @property
    def balanced(self) -> bool:
        """Whether every unit has a row in every period (always for a cross-section)."""
        return len(self.frame) == self.n * self.T

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(period position, unit position) of every row: 0..T-1 in `periods`, 0..n-1 in `units`."""
        unit = pd.Categorical(self.frame[self.unit], categories=list(self.units)).codes
        if self.time is None:
            return np.zeros(len(self.frame), dtype=np.int64), unit.astype(np.int64)
        period = pd.Categorical(self.frame[self.time], categories=list(self.periods)).codes
        return period.astype(np.int64), unit.astype(np.int64)

    def lag(self, values, k: int = 1) -> np.ndarray:
        """Per row, ``values`` of the same unit k periods earlier (NaN where that row is absent).

        Periods are counted by position in `periods`, the sorted periods present in the
        data: where a unit lacks a period that other units have, its next row has no
        lag (NaN) rather than the value before the gap; a period absent from the whole
        data is not known to exist and is not counted. k < 0 gives a lead.
        """
        if self.time is None:
            raise PanelError("lag() needs a panel with a time column; this is a cross-section.")
        t, u = self.cells()
        grid = np.full((self.T, self.n), np.nan)
        grid[t, u] = np.asarray(values, dtype=float)
        out = np.full(t.size, np.nan)
        ok = (t - int(k) >= 0) & (t - int(k) < self.T)
        out[ok] = grid[t[ok] - int(k), u[ok]]
        return out

    def require_periods(self, k: int, why: str) -> None:
        """Raise unless the panel has at least ``k`` periods."""
        if k > self.T:
            raise PanelError(
                f"{why} needs at least {k} periods; the panel has {self.T}. Use more periods "
                "or a model without that term."
            )

    def check_finite(self, columns: Iterable[str]) -> None:
        """Raise naming the column, units and periods where values are missing or infinite."""
        for c in columns:
            if c not in self.frame.columns:
                raise PanelError(
                    f"column {c!r} not in the panel; available: {listing(self.frame.columns, 12)}."
                )
            col = self.frame[c]
            if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
                if pd.api.types.is_bool_dtype(col):
                    continue
                raise PanelError(
                    f"column {c!r} is not numeric (dtype {col.dtype}); convert it, or use it as a "
                    "categorical term in the formula."
                )
            bad = ~np.isfinite(col.to_numpy(dtype=float, na_value=np.nan))
            if bad.any():
                where = self.where(bad)
                kind = "missing (NaN)" if col[bad].isna().all() else "missing or infinite"
                hint = (
                    " It is a lag: drop the first periods with panel.drop_initial(k)."
                    if "_lag" in c
                    else " Impute them deliberately or drop those units/periods from the data."
                )
                raise PanelError(
                    f"column {c!r} is {kind} for {int(bad.sum())} row(s): {listing(where)}.{hint}"
                )

    def where(self, mask: np.ndarray, k: int = 5) -> list[str]:
        """The first ``k`` rows of ``mask`` as "(unit=u, time=t)", ids as in the data."""
        keys = [self.unit] if self.time is None else [self.unit, self.time]
        rows = self.frame.loc[np.asarray(mask, dtype=bool), keys].head(k)
        return [
            "(" + ", ".join(f"{c}={v}" for c, v in zip(keys, r, strict=True)) + ")"
            for r in rows.itertuples(index=False)
        ]

    # ------------------------------------------------------------------- lags
    def with_lags(self, lags: dict[str, Iterable[int]]) -> Panel:
        """Add within-unit lags ``{col}_lag{k}``; a lag never crosses units.

        The first k periods of ``{col}_lag{k}`` are missing; remove them with
        `drop_initial` (nothing is dropped silently).
        """
        if self.time is None:
            raise PanelError("lags need a time column; this is a cross-section.")
        frame = self.frame.copy()
        for col, ks in lags.items():
            if col not in frame.columns:
                raise PanelError(f"cannot lag {col!r}: not a column of the panel.")
            for k in ks:
                if not 1 <= int(k) < self.T:
                    raise PanelError(
                        f"lag {k} of {col!r} must be between 1 and T - 1 = {self.T - 1}."
                    )
                frame[f"{col}_lag{k}"] = self.lag(frame[col], int(k))
        return Panel(frame, self.unit, self.time, self.units, self.periods, self.notes)

    def drop_initial(self, k: int) -> Panel:
        """Drop the first ``k`` periods (e.g. those without lags) and record how many rows went."""
        self.require_periods(k + 1, f"dropping {k} initial period(s)")
        keep = self.periods[k:]
        frame = self.frame[self.frame[self.time].isin(keep)].reset_index(drop=True)
        note = (
            f"dropped the first {k} period(s) ({listing(self.periods[:k])}): "
            f"{len(self.frame) - len(frame)} rows"
        )
        return Panel(frame, self.unit, self.time, self.units, keep, (*self.notes, note))

    def values(self, column: str) -> np.ndarray:
        """Column as a (T, n) float array, row t holding period t in unit order."""
        if not self.balanced:
            raise PanelError(
                f"column {column!r} as a (period, unit) array needs a balanced panel; this one "
                f"has {len(self.frame)} of the {self.n * self.T} unit-periods."
            )
        self.check_finite([column])
        return self.frame[column].to_numpy(dtype=float).reshape(self.T, self.n)


_SPATIAL = tuple(name for name, f in FAMILIES.items() if f.kind != "none")
"""Families with a spatial parameter: they need balanced panels."""


def _repeated_units(df: pd.DataFrame, unit: str) -> str:
    """Message for a cross-section whose units repeat: most likely a panel without ``time=``."""
    counts = df[unit].value_counts()
    top = counts.index[0]
    rows = df.index[df[unit] == top][:5].tolist()
    k = int(counts.max())
    candidates = [
        c
        for c in df.columns
        if c != unit and df[c].nunique() == k and not df.duplicated([unit, c]).any()
    ]
    how = f"each unit appears {k} times" if counts.min() == k else f"units appear up to {k} times"
    hint = (
        f" (the column {candidates[0]!r} looks like it)"
        if len(candidates) == 1
        else (f" (candidates: {listing(candidates, quote=True)})" if candidates else "")
    )
    return (
        f"{how} (e.g. unit {top} in rows {listing(rows)}) but no time= was given, so the "
        f"data were read as a cross-section with one row per unit. For a panel pass time= "
        f"the period column{hint}; for a cross-section keep one row per unit."
    )


def _sort_key(v):
    return (0, v, "") if isinstance(v, int | float | np.integer | np.floating) else (1, 0, str(v))

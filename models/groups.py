"""Groupings of units and the regressor columns of partially pooled (group-varying) terms.

A grouping is a column of the data constant within each unit (region, city type).
A term x that varies by it enters Z as G columns x * 1[g(i) = g], one per group, and,
when x is W-lagged, its W x column becomes the G columns W (x * 1[g(j) = g]): the
spillover of unit j's x then carries the coefficient of j's group, so the impact
matrix of x is (I - rho W)^-1 (diag(beta_g(i)) + W diag(theta_g(j))) (LeSage & Pace
2009, ch. 2; LeSage & Chih 2016, *Regional Science and Urban Economics* 61, 1-10, on
unit-specific coefficients). Each block of group coefficients is one
`bayespatial.engine.pooling.Layout` block, pooled by its own omega.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from bayespatial.data.errors import PanelError, listing
from bayespatial.engine.pooling import Layout
from bayespatial.models.design import lagged_name, spatial_lag


class Grouping(NamedTuple):
    """Which group each unit belongs to."""

    column: str
    """The data column that holds the groups."""
    labels: tuple
    """Group labels as in the data, sorted."""
    of_unit: np.ndarray
    """(n,) index into ``labels`` of each unit, in the panel's unit order."""

    @property
    def sizes(self) -> np.ndarray:
        """Units per group."""
        return np.bincount(self.of_unit, minlength=len(self.labels))


def grouping(panel, column: str) -> Grouping:
    """The grouping of the panel's units by ``column``; raises naming units that change group.

    Raises
    ------
    PanelError
        The column is missing or has missing values, holds one group only, or
        takes more than one value within some unit.
    """
    frame = panel.frame
    if column not in frame.columns:
        raise PanelError(
            f"grouping column {column!r} not in the data; available: {listing(frame.columns, 12)}."
        )
    values = frame[column]
    if values.isna().any():
        where = panel.where(values.isna().to_numpy())
        raise PanelError(
            f"grouping column {column!r} is missing for {int(values.isna().sum())} row(s), e.g. "
            f"{', '.join(where)}; every unit needs a group."
        )
    per_unit = frame.groupby(panel.unit, sort=False)[column].nunique()
    changing = per_unit.index[per_unit > 1].tolist()
    if changing:
        raise PanelError(
            f"grouping column {column!r} must be constant within each unit, but "
            f"{len(changing)} unit(s) change group over time: {listing(changing)}. Fix the "
            "labels, or group by the value in one period (e.g. the first)."
        )
    first = frame.groupby(panel.unit, sort=False)[column].first()
    labels = tuple(sorted(pd.unique(first), key=lambda v: (str(type(v)), v)))
    if len(labels) < 2:
        raise PanelError(
            f"grouping column {column!r} has one group ({labels[0]!r}); partial pooling needs "
            "at least two groups."
        )
    index = {v: i for i, v in enumerate(labels)}
    of_unit = np.array([index[first[u]] for u in panel.units], dtype=np.int64)
    return Grouping(column, labels, of_unit)


def varying_columns(
    Z: np.ndarray, names: tuple, varying: dict[str, Grouping], W, fe: str = "none"
) -> tuple[tuple, np.ndarray, Layout, tuple]:
    """Z (T, n, p) with each varying term's columns split by group, and the layout.

    ``names`` are Z's column names (``W_x`` for W-lagged terms); ``varying`` maps a
    term to its grouping. Returns the new names (``x[group]``, ``W_x[group]``), the new
    Z with the fixed (non-varying) columns first and then one block per varying
    coefficient, the `Layout` of those blocks, and per block (coefficient name,
    grouping column). Group intercepts (``"Intercept"``) under time effects, which
    absorb the intercept, get their own column of ones, and their block is marked
    `Layout.zero_mean` (the period effects hold their level).
    """
    if "Intercept" in varying and "Intercept" not in names and fe == "time":
        names, Z = ("Intercept", *names), np.concatenate([np.ones((*Z.shape[:-1], 1)), Z], -1)
    unknown = [t for t in varying if t not in names or t.startswith("W_")]
    if unknown:
        terms = [t for t in names if not t.startswith("W_")]
        absorbed = " (the intercept is absorbed by unit effects)" if "Intercept" in unknown else ""
        raise PanelError(
            f"varying terms {unknown} are not terms of the design{absorbed}; terms are {terms}."
        )
    coefficients = []
    for term, g in varying.items():
        coefficients.append((term, g))
        if lagged_name(term) in names:  # theta varies with beta
            coefficients.append((lagged_name(term), g))
    split = {name for name, _ in coefficients}
    keep = [j for j, name in enumerate(names) if name not in split]
    out_names = [names[j] for j in keep]
    cols = [Z[..., keep]]
    blocks, owners, start = [], [], len(keep)
    for name, g in coefficients:
        member = (g.of_unit[:, None] == np.arange(len(g.labels))[None]).astype(float)  # (n, G)
        if name.startswith("W_"):  # W (x * 1[g]) from the term's own column
            x = Z[..., names.index(name[2:])]
            block = spatial_lag(W, x[..., None] * member[None])
        else:
            block = Z[..., names.index(name)][..., None] * member[None]
        cols.append(block)
        out_names += [f"{name}[{label}]" for label in g.labels]
        blocks.append((start, len(g.labels)))
        owners.append((name, g.column))
        start += len(g.labels)
    zero_mean = tuple(fe == "time" and name == "Intercept" for name, _ in coefficients)
    layout = Layout(start, tuple(blocks), zero_mean if any(zero_mean) else ())
    return tuple(out_names), np.concatenate(cols, axis=-1), layout, tuple(owners)

"""Datasets that load offline: columbus and baltim (from libpysal) and the NAT county panel."""

from __future__ import annotations

from contextlib import closing
from importlib import resources
from typing import NamedTuple

import pandas as pd

from bayespatial.data.weights import from_libpysal
from bayespatial.data.wmatrix import Weights


class Dataset(NamedTuple):
    """A data frame with its spatial weights."""

    frame: pd.DataFrame
    """Long data: one row per unit (and period)."""
    W: Weights
    """Unstandardised contiguity weights whose ids match ``frame[unit]``."""
    unit: str
    """Unit id column."""
    time: str | None
    """Period column, None for a cross-section."""
    description: str
    """Source and variables, in a sentence."""


def _read_gal(path: str):
    import libpysal

    with closing(libpysal.io.open(path)) as f:
        return f.read()


def _libpysal_example(name: str, dbf: str, gal: str, unit: str) -> tuple[pd.DataFrame, Weights]:
    import libpysal

    table = libpysal.io.open(libpysal.examples.get_path(dbf))
    frame = pd.DataFrame({c: table.by_col(c) for c in table.header})
    table.close()
    W = from_libpysal(_read_gal(libpysal.examples.get_path(gal)))
    # GAL ids are strings; match the frame's id column type
    W = Weights.from_sparse(W.sparse, [type(frame[unit].iloc[0])(i) for i in W.ids])
    return frame, W


def load_columbus() -> Dataset:
    """Columbus, Ohio 1980 neighbourhood crime (Anselin 1988): 49 units, queen contiguity.

    Columns include CRIME, INC, HOVAL; unit id ``POLYID``.
    """
    frame, W = _libpysal_example("columbus", "columbus.dbf", "columbus.gal", "POLYID")
    return Dataset(frame, W, "POLYID", None, "Columbus 1980 crime (Anselin 1988), 49 units")


def load_baltim() -> Dataset:
    """Baltimore house sales 1978 (Dubin 1992): 211 points, contiguity from baltim_q.gal.

    Columns include PRICE, NROOM, AGE, SQFT, X, Y; unit id ``STATION``.
    """
    frame, W = _libpysal_example("baltim", "baltim.dbf", "baltim_q.gal", "STATION")
    return Dataset(frame, W, "STATION", None, "Baltimore 1978 house sales (Dubin 1992), 211 units")


def load_nat() -> Dataset:
    """US county homicides 1960-1990 (Baller et al. 2001): 3,085 counties x 4 decades.

    Long panel with unit ``fips`` and period ``year``; variables HR, RD, PS, UE,
    DV, MA; W is the queen contiguity shipped with the PySAL example (see
    data/NAT_README.md for source and licence).
    """
    pkg = resources.files("bayespatial.data")
    with resources.as_file(pkg / "nat_panel.csv.gz") as path:
        frame = pd.read_csv(path)
    with resources.as_file(pkg / "nat_queen.gal") as path:
        W = from_libpysal(_read_gal(str(path)))
    W = Weights.from_sparse(W.sparse, [int(i) for i in W.ids])
    return Dataset(frame, W, "fips", "year", "US county homicides (PySAL NAT), 3,085 x 4")


def load_northeast_cities() -> pd.DataFrame:
    """The 34 prefecture-level cities of Liaoning, Jilin and Heilongjiang (lat/lon, degrees).

    The design of the dynamic-SDM co-agglomeration study (Han et al. 2026)
    (Yanbian and Greater Khingan excluded). Coordinates are approximate city
    centres (public geographic facts, two decimals), enough for distance-based
    weights; see data/NORTHEAST_README.md.
    """
    pkg = resources.files("bayespatial.data")
    with resources.as_file(pkg / "northeast_cities.csv") as path:
        return pd.read_csv(path)


def load_china_provinces() -> tuple[pd.DataFrame, Weights]:
    """The 30 mainland provinces (Tibet excluded), their region and binary contiguity W.

    Land borders, with Hainan linked to Guangdong so that no province is an
    island (data/CHINA_PROVINCES_README.md). Returns the table (province,
    region, neighbours) and the unstandardised W in the table's order.
    """
    from bayespatial.data.weights import from_edges

    pkg = resources.files("bayespatial.data")
    with resources.as_file(pkg / "china_provinces.csv") as path:
        table = pd.read_csv(path)
    pairs = zip(table.province, table.neighbours, strict=True)
    edges = [(p, q) for p, ns in pairs for q in ns.split(";")]
    W = from_edges(pd.DataFrame(edges, columns=["source", "target"]), ids=list(table.province))
    return table, W

"""The Markdown tables people read: rounded, no "nan", rows that cannot split."""

import numpy as np
import pandas as pd

from bayespatial.experiments.outputs import markdown


def _cells(text: str) -> list[list[str]]:
    """Split Markdown table rows on unescaped pipes."""
    rows = []
    for line in text.splitlines()[2:]:
        parts = line.replace("\\|", "\x00").strip().strip("|").split("|")
        rows.append([p.strip().replace("\x00", "|") for p in parts])
    return rows


def test_missing_values_of_every_kind_are_empty_cells():
    table = pd.DataFrame(
        {
            "float": [np.nan, 1.5],
            "nullable": pd.array([pd.NA, 2], dtype="Int64"),
            "when": [pd.NaT, pd.Timestamp("2020-01-01")],
            "text": [None, "a"],
        }
    )
    text = markdown(table)
    for shown in ("nan", "<na>", "nat"):
        assert shown not in text.lower()
    first, second = _cells(text)
    assert first == ["", "", "", ""]
    assert second == ["1.5000", "2", "2020-01-01 00:00:00", "a"]


def test_pipes_inside_cells_and_headers_are_escaped():
    table = pd.DataFrame({"a|b": ["x | y", "z"], "n": [0.00012345, 12345.6]})
    text = markdown(table, digits=3)
    rows = _cells(text)
    assert all(len(r) == 2 for r in rows)  # no cell split the row
    assert rows[0] == ["x | y", "0.00012"]  # digits - 1 significant digits
    assert rows[1] == ["z", "12346"]
    assert "a\\|b" in text.splitlines()[0]


def test_index_keeps_its_name():
    table = pd.DataFrame({"v": [1.0]}, index=pd.Index(["r|1"], name="row"))
    header = markdown(table, index=True).splitlines()[0]
    assert "row" in header

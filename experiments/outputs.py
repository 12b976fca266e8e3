"""Atomic writers shared by the experiments (a crash never leaves a half-written file)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def write_atomic(path: Path, text: str) -> Path:
    """Write text to ``path`` via a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_table(table: pd.DataFrame, path: Path, digits: int = 4) -> Path:
    """Write ``path`` (.csv, full precision) and the same table as Markdown (.md)."""
    path = Path(path)
    write_atomic(path.with_suffix(".csv"), table.to_csv(index=False))
    write_atomic(path.with_suffix(".md"), table.round(digits).to_markdown(index=False) + "\n")
    return path.with_suffix(".csv")


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=150, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def update_section(path: Path, heading: str, section: str) -> None:
    """Replace (or append) the section starting with ``heading`` in a Markdown file."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_atomic(path, text)

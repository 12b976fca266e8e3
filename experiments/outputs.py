"""Atomic writers shared by the experiments (a crash never leaves a half-written file)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bayespatial.data.atomic import atomic_path


def write_atomic(path: Path, text: str) -> Path:
    """Write text to ``path`` atomically (`bayespatial.data.atomic`)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_table(table: pd.DataFrame, path: Path, digits: int = 4) -> Path:
    """Write ``path`` (.csv, full precision) and the same table as Markdown (.md)."""
    path = Path(path)
    write_atomic(path.with_suffix(".csv"), table.to_csv(index=False))
    write_atomic(path.with_suffix(".md"), table.round(digits).to_markdown(index=False) + "\n")
    return path.with_suffix(".csv")


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically (format from the suffix of ``path``)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format=Path(path).suffix.lstrip("."))
    return Path(path)


def source_revision() -> str:
    """The git commit the package runs from ("+ changes" when the tree is modified), or "".

    Changes to Markdown files (BENCHMARKS.md, which the experiments themselves update,
    and the docs) do not count: they do not change what runs.
    """
    import subprocess

    here = str(Path(__file__).resolve().parent.parent)

    def git(*args) -> str:
        run = subprocess.run(["git", "-C", here, *args], capture_output=True, text=True, check=True)
        return run.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)*.md")
    except (OSError, subprocess.CalledProcessError):
        return ""
    return head + (" + changes" if dirty else "")


def update_section(path: Path, heading: str, section: str) -> None:
    """Replace (or append) the section starting with ``heading`` in a Markdown file."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    start = text.find(heading + "\n")  # the whole heading line, not a prefix of another
    section = section.rstrip("\n") + "\n\n"  # one blank line before the next heading
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_atomic(path, text.rstrip("\n") + "\n")


def read_table(path: Path) -> pd.DataFrame:
    """A user's table: CSV, Parquet or Excel, by the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path)
    return pd.read_csv(path)

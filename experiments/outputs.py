"""What the experiments share: their command-line parser and atomic writers.

Tables, figures and text are written atomically: a crash never leaves a
half-written file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from bayespatial.data.atomic import atomic_path


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Option help with defaults (unless None), the module docstring kept as written."""

    def _get_help_string(self, action):
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)


def parser(module: str, doc: str) -> argparse.ArgumentParser:
    """The command-line parser of the experiment in ``module``.

    ``bayespatial run NAME --help`` prints its docstring ``doc`` (what it does
    and writes) and every option with its help and default.
    """
    name = module.rsplit(".", 1)[-1]
    return argparse.ArgumentParser(
        prog=f"bayespatial run {name}",
        description=doc,
        formatter_class=_HelpFormatter,
    )


def write_atomic(path: Path, text: str) -> Path:
    """Write text to ``path`` atomically (`bayespatial.data.atomic`)."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_table(table: pd.DataFrame, path: Path, digits: int = 4) -> Path:
    """Write ``path`` (.csv, full precision) and the same table as Markdown (.md)."""
    path = Path(path)
    write_atomic(path.with_suffix(".csv"), table.to_csv(index=False))
    write_atomic(path.with_suffix(".md"), markdown(table, digits) + "\n")
    return path.with_suffix(".csv")


def markdown(table: pd.DataFrame, digits: int = 4, index: bool = False) -> str:
    """``table`` as Markdown for people: every number rounded, no "nan" cells.

    Floats get ``digits`` decimals, whole numbers none, values below 10^-3
    ``digits - 1`` significant digits (never a bare 0.0000), values of 10^4 or more
    no decimals; missing values (NaN, None, pd.NA, NaT) are empty cells, infinities
    read "inf"/"-inf", and a "|" inside a cell is escaped so it cannot split the row.
    """
    cells = table.map(lambda v: _cell(v, digits))
    cells.columns = [_escape(str(c)) for c in cells.columns]
    if index:
        cells.index = pd.Index([_escape(str(i)) for i in cells.index], name=cells.index.name)
    return cells.to_markdown(index=index, disable_numparse=True)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _cell(value, digits: int) -> str:
    if isinstance(value, bool | np.bool_):
        return str(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        v = float(value)
        if np.isnan(v):
            return ""
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if v == round(v) and abs(v) < 1e15:
            return str(int(v))
        if abs(v) >= 1e4:
            return f"{v:.0f}"
        if abs(v) < 1e-3:
            return f"{v:.{digits - 1}g}"
        return f"{v:.{digits}f}"
    if isinstance(value, pd.Timestamp | np.datetime64) and pd.isna(value):
        return ""
    return _escape(str(value))


def save_figure(fig, path: Path) -> Path:
    """Save a matplotlib figure atomically (format from the suffix of ``path``), then close it.

    Closed so that a run that draws many figures does not keep them all open.
    """
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format=Path(path).suffix.lstrip("."))
    plt.close(fig)
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


def rerun_command(
    name: str, out: str, *options: str, quick: bool = False, markdown: Path | None = None
) -> str:
    """The command that reruns experiment ``name``, as its BENCHMARKS.md section quotes it.

    ``options`` (e.g. "--reps 200") come after ``--out`` and ``--quick``; ``--markdown``
    names the file only, as the section lives in it.
    """
    parts = [f"python -m bayespatial.experiments.{name} --out {out}"]
    parts += ["--quick"] if quick else []
    parts += [o for o in options if o]
    parts += [f"--markdown {Path(markdown).name}"] if markdown is not None else []
    return " ".join(parts)


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


def read_weights(path: Path, unit: str, k: int = 6):
    """A user's W: a GAL file, coordinates or an edge list.

    A table with ``unit``, lon and lat gives the k nearest neighbours; otherwise the
    table is an edge list (focal, neighbor[, weight]).
    """
    from bayespatial.data import weights

    if Path(path).suffix.lower() == ".gal":
        import libpysal

        return weights.from_libpysal(libpysal.io.open(str(path)).read())
    table = read_table(path)
    if {"lon", "lat"} <= set(table.columns):
        return weights.knn(table[["lon", "lat"]].to_numpy(), k=k, ids=list(table[unit]))
    return weights.from_edges(table)


def read_table(path: Path) -> pd.DataFrame:
    """A user's table: CSV, Parquet or Excel, by the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in (".xlsx", ".xls"):
        return pd.read_excel(path)
    return pd.read_csv(path)

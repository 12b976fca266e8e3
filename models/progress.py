"""Progress of steps that take more than a few seconds, in a terminal and in Jupyter.

``tqdm.auto`` draws a widget in a notebook (a text bar on stderr where ipywidgets
is missing) and a text bar on stderr elsewhere. Every public entry point that can
take long (``fit``, ``SpatialFit.loo``/``log_likelihood``, ``compare``) takes
``progress``: None (the default) shows progress when someone is watching (stderr
is a terminal, or the code runs in a Jupyter kernel), False silences it, True
forces it (e.g. into a log). Bars are transient (``leave=False``): they show what
is running and vanish when it is done; the fit's repr and ``attrs`` keep the record.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tqdm.auto import tqdm


def in_notebook() -> bool:
    """Whether the code runs in a Jupyter (ZMQ) kernel, whose stderr is not a terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def wanted(progress: bool | None) -> bool:
    """Resolve ``progress``: None shows it in a terminal or a notebook, not in a pipe or a test."""
    if progress is not None:
        return bool(progress)
    return sys.stderr.isatty() or in_notebook()


class Stages:
    """A named sequence of steps: "sar fit: log-determinant (chebyshev) | 00:03"."""

    def __init__(self, bar: tqdm | None, desc: str = ""):
        self._bar, self._desc = bar, desc

    def step(self, name: str) -> None:
        """Mark the start of step ``name`` (the previous one is done)."""
        if self._bar is not None:
            self._bar.set_description_str(f"{self._desc}: {name}", refresh=True)
            self._bar.update(1)


NO_STAGES = Stages(None)
"""Stages that show nothing (progress off, or a caller that keeps its own bar)."""


@contextmanager
def stages(desc: str, progress: bool | None) -> Iterator[Stages]:
    """Context of a multi-step task shown as its current step and elapsed time."""
    if not wanted(progress):
        yield NO_STAGES
        return
    bar = tqdm(
        total=None,
        desc=desc,
        bar_format="{desc} | {elapsed}",
        leave=False,
        file=sys.stderr,
        mininterval=0.5,
    )
    try:
        yield Stages(bar, desc)
    finally:
        bar.close()


def track(items: Iterable, desc: str, progress: bool | None, total: int | None = None):
    """``items`` with a bar (count, rate, time left) when progress is wanted."""
    if not wanted(progress):
        return items
    return tqdm(items, desc=desc, total=total, leave=False, file=sys.stderr, mininterval=0.5)


@contextmanager
def counter(desc: str, total: int, progress: bool | None, unit: str = "it"):
    """A bar advanced by hand (``bar.update(k)``), or None when progress is off."""
    if not wanted(progress):
        yield None
        return
    bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=sys.stderr, mininterval=0.5)
    try:
        yield bar
    finally:
        bar.close()

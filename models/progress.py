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
import threading
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


TICK_SECONDS = 1.0
"""How often a stage bar redraws its elapsed time while one long step runs."""


@contextmanager
def stages(desc: str, progress: bool | None) -> Iterator[Stages]:
    """Context of a multi-step task shown as its current step and elapsed time.

    A bar only redraws when it is updated, so a single long step (an exact
    sampler's grid, a log-determinant set-up at 10^6 cells) would show a frozen
    clock; a daemon thread redraws it every ``TICK_SECONDS`` until the task ends.
    """
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
    done = threading.Event()

    def tick() -> None:
        while not done.wait(TICK_SECONDS):
            bar.refresh()

    ticker = threading.Thread(target=tick, name="bayespatial-progress", daemon=True)
    ticker.start()
    try:
        yield Stages(bar, desc)
    finally:
        done.set()
        ticker.join()
        bar.close()


def note(text: str, progress: bool | None) -> None:
    """A one-line message on the work in progress (why a step is slow), if progress is wanted.

    ``tqdm.write`` keeps it from tearing a bar that is being drawn.
    """
    if wanted(progress):
        tqdm.write(f"bayespatial: {text}", file=sys.stderr)


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

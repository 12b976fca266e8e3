"""Plots of fitted models (matplotlib, headless backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def effects_forest(effects: pd.DataFrame, title: str = "Effects with credible intervals"):
    """Direct, indirect and total effects with their intervals, one panel per effect.

    ``effects`` is a `SpatialFit.effects` table, optionally with a ``model``
    column to compare fits side by side.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = ["direct", "indirect", "total"]
    if "model" not in effects:
        effects = effects.assign(model="fit")
    models = list(dict.fromkeys(effects["model"]))
    terms = list(dict.fromkeys(effects["term"]))
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.55 * len(terms) * len(models) / 2 + 2))
    step = 0.8 / max(len(models), 1)
    for ax, kind in zip(axes, kinds, strict=True):
        for m, model in enumerate(models):
            sub = effects[(effects["effect"] == kind) & (effects["model"] == model)]
            ypos = np.arange(len(terms)) + m * step
            sub = sub.set_index("term").reindex(terms)
            ax.errorbar(
                sub["mean"],
                ypos,
                xerr=[sub["mean"] - sub["lower"], sub["upper"] - sub["mean"]],
                fmt="o",
                ms=4,
                capsize=2,
                label=model,
            )
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(np.arange(len(terms)) + step * (len(models) - 1) / 2, terms)
        ax.invert_yaxis()
        ax.set_title(f"{kind} effect")
    axes[0].legend(fontsize=8, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig

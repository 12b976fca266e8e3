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


def turning_point_plot(fit, x: str, quadratic: str | None = None, basis: str = "coef"):
    """Posterior of the turning point over the histogram of x, with the share past it.

    ``basis`` is "coef", "direct" or "total" (short run); the posterior is
    shown as a histogram of the draws inside the plotted range, the median as a
    line, the 95% interval shaded.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bayespatial.engine.turning import turning_points

    lin, quad = fit.quadratic_terms(x, quadratic)
    terms = [str(t) for t in fit.idata.posterior["term"].values]
    xs = fit.idata.constant_data["X"].values[..., terms.index(lin)].ravel()
    if basis == "coef":
        beta = fit.draws("beta")
        b1, b2 = beta[:, terms.index(lin)], beta[:, terms.index(quad)]
    else:
        frame = fit.effect_draws("short")[basis]
        b1, b2 = frame[lin].to_numpy(), frame[quad].to_numpy()
    tp = turning_points(b1, b2)
    lo, med, hi = np.quantile(tp, [0.025, 0.5, 0.975], method="inverted_cdf")  # as the table
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(xs, bins=40, color="0.8", label=f"observed {lin}")
    ax.set_xlabel(lin)
    ax.set_ylabel("observations")
    ax2 = ax.twinx()
    span = (xs.min() - 0.5 * np.ptp(xs), xs.max() + 0.5 * np.ptp(xs))
    inside = tp[(tp > span[0]) & (tp < span[1])]
    ax2.hist(inside, bins=60, density=True, alpha=0.5, color="C0", label="turning point")
    ax2.set_ylabel("posterior density")
    ax.axvspan(max(lo, span[0]), min(hi, span[1]), color="C0", alpha=0.12)
    ax.axvline(med, color="C0", lw=2)
    past = float(np.mean(xs > med))
    ax.set_title(
        f"turning point ({basis} basis): median {med:.3g}, 95% [{lo:.3g}, {hi:.3g}]; "
        f"{100 * past:.0f}% of observations past it",
        fontsize=9,
    )
    return fig


def moran_scatter(panels: dict, W, title: str = "Moran scatter plots"):
    """Moran scatter plots (Anselin 1996): standardised z against its spatial lag W z.

    ``panels`` maps a label (e.g. a year) to the values of one variable in W's
    unit order; W is row-standardised first. The fitted line's slope is Moran's
    I; the title of each panel gives I and the share of units in the high-high
    and low-low quadrants (positive association).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    Wm = (W if W.transform == "row" else W.row_standardize()).sparse
    cols = min(len(panels), 2)
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4.5 * rows), squeeze=False)
    for ax, (label, values) in zip(axes.ravel(), panels.items(), strict=False):
        x = np.asarray(values, dtype=float)
        z = (x - x.mean()) / x.std()
        wz = Wm @ z
        slope = float(z @ wz / (z @ z))
        share = float(np.mean(z * wz > 0))
        ax.scatter(z, wz, s=14, alpha=0.8)
        grid = np.linspace(z.min(), z.max(), 2)
        ax.plot(grid, slope * grid, color="C3", lw=1.2)
        ax.axhline(0, color="grey", lw=0.6)
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_title(f"{label}: I = {slope:.3f}, HH + LL = {share:.0%}")
        ax.set_xlabel("z")
        ax.set_ylabel("W z")
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig

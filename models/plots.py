"""Plots of fitted models (matplotlib, headless backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def effects_forest(
    effects: pd.DataFrame, title: str = "Effects with credible intervals", ci: float = 0.95
):
    """Direct, indirect and total effects with their intervals, a row of panels per term.

    A column per effect; each row has its own scale (terms' effects may differ by
    orders of magnitude, as long-run effects do).

    ``effects`` is a `SpatialFit.effects` table, optionally with a ``model``
    column to compare fits side by side (then a legend names them). Effects that
    are zero by construction (the indirect effect of an SEM or OLS; mean and sd
    0) are left out, with a line saying so. ``ci`` labels the axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if "horizon" in effects and effects["horizon"].nunique() > 1:
        raise ValueError(
            "the effects table has short- and long-run rows (a dsdm fit): plot one horizon, "
            "e.g. effects[effects['horizon'] == 'long'].drop(columns='horizon')."
        )
    if "model" not in effects:
        effects = effects.assign(model="fit")
    structural = (effects["mean"] == 0) & (effects["sd"] == 0)
    shown = effects[~structural]
    kinds = [k for k in ("direct", "indirect", "total") if k in set(shown["effect"])]
    models = list(dict.fromkeys(effects["model"]))
    terms = list(dict.fromkeys(shown["term"]))
    if not terms:
        raise ValueError("no effect to plot: every effect in the table is zero by construction.")
    fig, axes = plt.subplots(
        len(terms),
        len(kinds),
        figsize=(3.6 * len(kinds), 1.0 + (0.35 + 0.22 * len(models)) * len(terms)),
        sharex="row",
        squeeze=False,
    )
    for i, term in enumerate(terms):
        for j, kind in enumerate(kinds):
            ax = axes[i, j]
            for m, model in enumerate(models):
                row = shown[
                    (shown["term"] == term) & (shown["effect"] == kind) & (shown["model"] == model)
                ]
                if row.empty:
                    continue
                r = row.iloc[0]
                lo, hi = _finite_whisker(r)
                ax.errorbar(
                    [r["mean"]],
                    [-m],
                    xerr=[[r["mean"] - lo], [hi - r["mean"]]],
                    fmt="o",
                    ms=4,
                    capsize=2,
                    color=f"C{m}",
                    label=model if (i, j) == (0, 0) else None,
                )
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_yticks([])
            ax.set_ylim(-len(models) + 0.4, 0.6)
            ax.tick_params(axis="x", labelsize=7)
            if j == 0:
                ax.set_ylabel(term, rotation=0, ha="right", va="center", fontsize=8)
            if i == 0:
                ax.set_title(f"{kind} effect", fontsize=9)
            if i == len(terms) - 1:
                ax.set_xlabel(f"posterior mean, {ci:.0%} interval", fontsize=8)
    if len(models) > 1:
        fig.legend(loc="upper right", fontsize=8, frameon=False)
    dropped = sorted(set(effects.loc[structural, "effect"]))
    if dropped:
        fig.text(
            0.01,
            0.0,
            f"not shown: {', '.join(dropped)} effects that are zero by construction "
            f"({', '.join(dict.fromkeys(effects.loc[structural, 'model']))})",
            fontsize=7,
            va="bottom",
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03 if dropped else 0, 1, 1))
    return fig


def _finite_whisker(row) -> tuple[float, float]:
    """Interval ends to draw, infinite limits clipped to 3 x the finite span.

    An infinite limit is a long-run effect whose draws reach the unit root; the
    whisker then runs well past the rest of the row.
    """
    lo, hi, mean = float(row["lower"]), float(row["upper"]), float(row["mean"])
    span = (
        max(abs(v - mean) for v in (lo, hi) if np.isfinite(v))
        if np.isfinite([lo, hi]).any()
        else 1.0
    )
    lo = lo if np.isfinite(lo) else mean - 3 * span
    hi = hi if np.isfinite(hi) else mean + 3 * span
    return lo, hi


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
    if lo <= span[0] and hi >= span[1]:  # the shading fills the plot: say why
        concave = float(np.mean(b2 < 0))
        ax.text(
            0.02,
            0.97,
            f"the 95% interval runs past both ends of the plot: the curvature is weakly\n"
            f"identified (P(b2 < 0) = {concave:.2f}; {tp.size - inside.size} of {tp.size} "
            "draws outside the range shown),\nso the data do not locate a turning point",
            transform=ax.transAxes,
            va="top",
            fontsize=7,
            bbox={"facecolor": "white", "alpha": 0.8, "lw": 0},
        )
    handles = [h for a in (ax, ax2) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles=handles, fontsize=7, loc="upper right", frameon=False)
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


def group_forest(
    by_group: pd.DataFrame,
    term: str,
    overall: pd.DataFrame | None = None,
    title: str | None = None,
    ci: float = 0.95,
):
    """Effects of one term by group (`SpatialFit.effects` with ``by``), a row per group.

    A panel per effect (direct, indirect, total), groups sorted by their direct effect
    and labelled with their number of units; ``overall`` (the fit's `effects` table)
    draws the unit-weighted average effect as a vertical line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = by_group[by_group["term"] == term]
    if rows.empty:
        raise ValueError(f"no rows for term {term!r}; terms: {sorted(set(by_group['term']))}.")
    kinds = [k for k in ("direct", "indirect", "total") if k in set(rows["effect"])]
    order = rows[rows["effect"] == kinds[0]].sort_values("mean")["group"].tolist()
    fig, axes = plt.subplots(
        1, len(kinds), figsize=(3.4 * len(kinds), 1.2 + 0.18 * len(order)), sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, kind in zip(axes, kinds, strict=True):
        part = rows[rows["effect"] == kind].set_index("group").loc[order]
        y = np.arange(len(order))
        ax.errorbar(
            part["mean"],
            y,
            xerr=[part["mean"] - part["lower"], part["upper"] - part["mean"]],
            fmt="o",
            ms=3,
            capsize=1.5,
            lw=0.8,
        )
        if overall is not None:
            avg = overall[(overall["term"] == term) & (overall["effect"] == kind)]
            if not avg.empty:
                ax.axvline(avg["mean"].iloc[0], color="C1", lw=1, label="average over units")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(f"{kind} effect of {term}", fontsize=9)
        ax.set_xlabel(f"posterior mean, {ci:.0%} interval", fontsize=8)
        ax.tick_params(labelsize=7)
    labels = [
        f"{g} ({int(n)})"
        for g, n in rows.drop_duplicates("group").set_index("group").loc[order, "n_units"].items()
    ]
    axes[0].set_yticks(np.arange(len(order)), labels)
    if overall is not None:
        axes[0].legend(fontsize=7, frameon=False, loc="lower right")
    fig.suptitle(title or f"Effects of {term} by group (units in brackets)", fontsize=10)
    fig.tight_layout()
    return fig


def event_study_plot(tables: dict, title: str = "Event study", ci: float = 0.95):
    """ATT by event time with credible intervals, one series per estimator.

    ``tables``: name -> a `DIDFit.att(by="event")` table (e.g. {"imputation": ...,
    "TWFE": ...}); leads (e < 0) are drawn hollow, the reference e = -1 at zero, and
    the adoption marked by a dashed line between e = -1 and e = 0.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    offsets = np.linspace(-0.15, 0.15, len(tables)) if len(tables) > 1 else [0.0]
    for (name, table), dx in zip(tables.items(), offsets, strict=True):
        if "effect" in table:
            table = table[table["effect"] == "direct"]
        e = table["key"].to_numpy(dtype=float)
        mean = table["mean"].to_numpy()
        err = np.vstack([mean - table["lower"].to_numpy(), table["upper"].to_numpy() - mean])
        line = ax.errorbar(e + dx, mean, yerr=err, fmt="o", ms=4, capsize=2, label=name)
        lead = e < 0
        ax.plot(e[lead] + dx, mean[lead], "o", ms=4, mfc="white", color=line[0].get_color())
        ax.plot([-1 + dx], [0.0], "s", ms=4, color=line[0].get_color())
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("periods since adoption (e; e = -1 the reference, hollow: leads)")
    ax.set_ylabel(f"ATT ({ci:.0%} interval)")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def marginal_effect_plot(table: pd.DataFrame, x: str, ci: float = 0.95):
    """Marginal effect of ``x`` over its moderator with its band, a panel per effect.

    ``table``: `SpatialFit.marginal_effect`'s (its first column is the moderator).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    z = table.columns[0]
    effects = list(dict.fromkeys(table["effect"]))
    fig, axes = plt.subplots(1, len(effects), figsize=(3.6 * len(effects), 3.2), squeeze=False)
    for ax, effect in zip(axes[0], effects, strict=True):
        rows = table[table["effect"] == effect]
        ax.fill_between(rows[z], rows["lower"], rows["upper"], alpha=0.3)
        ax.plot(rows[z], rows["mean"])
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_title(effect)
        ax.set_xlabel(z)
    axes[0, 0].set_ylabel(f"d y / d {x} ({ci:.0%} interval)")
    fig.tight_layout()
    return fig

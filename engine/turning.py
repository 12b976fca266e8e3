"""Turning points of quadratic relationships, per posterior draw.

For y = ... + b1 x + b2 x^2 the slope is b1 + 2 b2 x and the turning point is
x* = -b1 / (2 b2), a maximum when b2 < 0 (inverted U). In spatial models the
same holds on the basis of effects: with D1, D2 the direct (or total) effects
of x and x^2, x* = -D1 / (2 D2) (the effects operator is linear in the
coefficients; for SAR the bases coincide).

x* is a ratio, so its posterior has no moments when b2 can be near 0 (like a
ratio of normals, Cauchy tails): summaries are the median and equal-tailed
quantiles, which exist whatever the tails; draws with b2 = 0 exactly give
x* = -sign(b1) inf and stay in the ranking. The Bayesian counterpart of the
Lind & Mehlum (2010, *Oxford Bull. Econ. Stat.* 72, 109-118) test is the
posterior probability that the slope has the expected sign at both ends of the
observed range: P(b1 + 2 b2 x_min > 0 and b1 + 2 b2 x_max < 0) for an inverted
U (signs reversed for a U); the shape is the one b2's posterior favours.
"""

from __future__ import annotations

import numpy as np


def turning_points(b1: np.ndarray, b2: np.ndarray) -> np.ndarray:
    """x* = -b1 / (2 b2) per draw (+-inf where b2 = 0)."""
    b1, b2 = np.asarray(b1, float), np.asarray(b2, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = -b1 / (2.0 * b2)
    return np.where(b2 == 0, -np.sign(b1) * np.inf, tp)


def summarise(b1, b2, x_min: float, x_max: float, ci: float = 0.95) -> dict:
    """Median, equal-tailed interval, P(b2 < 0), P(x* in range), Lind-Mehlum probability."""
    b1, b2 = np.asarray(b1, float).ravel(), np.asarray(b2, float).ravel()
    tp = turning_points(b1, b2)
    a = (1.0 - ci) / 2.0
    lower, median, upper = np.quantile(tp, [a, 0.5, 1.0 - a], method="inverted_cdf")
    p_concave = float(np.mean(b2 < 0))
    inverted = p_concave >= 0.5
    lo_slope, hi_slope = b1 + 2 * b2 * x_min, b1 + 2 * b2 * x_max
    if inverted:
        lm = np.mean((lo_slope > 0) & (hi_slope < 0))
    else:
        lm = np.mean((lo_slope < 0) & (hi_slope > 0))
    return {
        "shape": "inverted-U" if inverted else "U",
        "median": float(median),
        "lower": float(lower),
        "upper": float(upper),
        "p_concave": p_concave,
        "p_in_range": float(np.mean((tp > x_min) & (tp < x_max))),
        "p_lind_mehlum": float(lm),
        "x_min": float(x_min),
        "x_max": float(x_max),
    }

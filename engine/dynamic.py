"""Stability of the dynamic spatial Durbin model and its long-run multiplier.

y_t = tau y_{t-1} + rho W y_t + eta W y_{t-1} + X_t beta + W X_t theta + effects + e_t
has the reduced form y_t = B y_{t-1} + ..., B = (I - rho W)^-1 (tau I + eta W),
whose eigenvalues are f(w) = (tau + eta w) / (1 - rho w) for the eigenvalues w of
W (Debarsy, Ertur & LeSage 2012, *Empirical Economics* 43, 159-183; Elhorst 2014,
*Spatial Econometrics*, sec. 4.3; Lee & Yu 2010, *J. Econometrics* 154, 165-185).
The process is stable iff |f(w)| < 1 for every w. For W similar to a symmetric
matrix (row-standardised symmetric contiguity) the w are real in
[w_min, w_max] = [w_min, 1], 1 - rho w > 0 there for rho in W's valid interval,
and f is monotone (a Möbius map without a pole on the interval), so checking the
two ends is exact:

    |tau + eta| < 1 - rho     and     |tau + eta w_min| < 1 - rho w_min.

The first is the familiar tau + rho + eta < 1 (with tau + eta - rho > -1).
"""

from __future__ import annotations

import numpy as np


def spectral_radius(tau, rho, eta, w_min: float, w_max: float = 1.0, xp=np):
    """Max |f(w)| over W's spectrum interval (elementwise over draws; pure ``xp``)."""
    ends = [xp.abs((tau + eta * w) / (1.0 - rho * w)) for w in (w_min, w_max)]
    return xp.maximum(*ends)


def diverges(tau, rho, eta, w: float = 1.0, xp=np):
    """Whether the reduced form has a unit or explosive root f(w) >= 1 at W's eigenvalue w.

    f(w) = (tau + eta w) / (1 - rho w) is the root along w's eigenvector; f(w) >= 1
    means (1 - tau) - (rho + eta) w <= 0, so the cumulative response to a permanent
    change in x grows without bound along that eigenvector, in the direction of
    beta_k + theta_k w. f is monotone in w, so only the ends w_min and w_max can be
    the first to reach 1; a root f(w) <= -1 oscillates and has no limit.
    """
    return (tau + eta * w) / (1.0 - rho * w) >= 1.0


def stationary(tau, rho, eta, w_min: float, w_max: float = 1.0, xp=np):
    """Whether (tau, rho, eta) give a stable process (see the module docstring)."""
    return spectral_radius(tau, rho, eta, w_min, w_max, xp) < 1.0

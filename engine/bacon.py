"""Goodman-Bacon (2021) decomposition of the static two-way fixed-effects DID coefficient.

On a balanced panel without covariates, with timing groups k (units adopting at period
position k, share n_k of the units, treated in a share Dbar_k of the T periods) and the
never-treated group U, the TWFE coefficient of y on D with unit and period effects is
sum s beta over three kinds of 2x2 DIDs (Goodman-Bacon 2021, *J. Econometrics* 225,
254-277, Theorem 1, eqs. 10a-10c):

- ``treated_vs_never`` (k vs U, all periods), weight proportional to
  (n_k + n_U)^2 n_kU (1 - n_kU) Dbar_k (1 - Dbar_k), n_kU = n_k / (n_k + n_U);
- ``earlier_vs_later`` (k < l: k treated, l not yet, periods before l), weight
  ((n_k + n_l)(1 - Dbar_l))^2 n_kl (1 - n_kl) (Dbar_k - Dbar_l)/(1 - Dbar_l)
  (1 - Dbar_k)/(1 - Dbar_l);
- ``later_vs_earlier`` (l treated, the already-treated k as control, periods from k on),
  weight ((n_k + n_l) Dbar_k)^2 n_kl (1 - n_kl) (Dbar_l / Dbar_k) (Dbar_k - Dbar_l)/Dbar_k,

the weights normalised to sum to one. The last kind are the "forbidden comparisons": an
already-treated control whose effect changes over time biases TWFE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NEVER = -1
"""Adoption position of never-treated units (as `bayespatial.data.did.NEVER`)."""


def decompose(Y: np.ndarray, adoption: np.ndarray) -> pd.DataFrame:
    """The 2x2 comparisons of a balanced panel Y (T, n) with adoption positions (n,).

    Columns: type, treated, control (adoption positions; `NEVER` for U), estimate, weight.
    Raises ValueError for units treated from the first period (no pre-period) or a
    missing outcome.
    """
    Y = np.asarray(Y, dtype=float)
    T = Y.shape[0]
    if not np.isfinite(Y).all():
        raise ValueError("the decomposition needs a balanced panel with every outcome observed")
    if np.any(adoption == 0):
        raise ValueError("units treated from the first period have no pre-period to compare")
    groups = sorted(set(adoption.tolist()) - {NEVER})
    means = {g: Y[:, adoption == g].mean(axis=1) for g in set(adoption.tolist())}
    share = {g: np.mean(adoption == g) for g in means}
    dbar = {g: (T - g) / T for g in groups}
    rows = []

    def did(treated, control, pre, post):
        a, b = means[treated], means[control]
        return (a[post].mean() - a[pre].mean()) - (b[post].mean() - b[pre].mean())

    t = np.arange(T)
    for k in groups:
        if NEVER in means:
            nu = share[k] + share[NEVER]
            nk = share[k] / nu
            w = nu**2 * nk * (1 - nk) * dbar[k] * (1 - dbar[k])
            rows.append(("treated_vs_never", k, NEVER, did(k, NEVER, t < k, t >= k), w))
        for late in groups:
            if late <= k:
                continue
            nkl = share[k] / (share[k] + share[late])
            base = nkl * (1 - nkl)
            w_k = ((share[k] + share[late]) * (1 - dbar[late])) ** 2 * base
            w_k *= (dbar[k] - dbar[late]) / (1 - dbar[late]) * (1 - dbar[k]) / (1 - dbar[late])
            rows.append(
                ("earlier_vs_later", k, late, did(k, late, t < k, (t >= k) & (t < late)), w_k)
            )
            w_l = ((share[k] + share[late]) * dbar[k]) ** 2 * base
            w_l *= dbar[late] / dbar[k] * (dbar[k] - dbar[late]) / dbar[k]
            rows.append(
                ("later_vs_earlier", late, k, did(late, k, (t >= k) & (t < late), t >= late), w_l)
            )
    table = pd.DataFrame(rows, columns=["type", "treated", "control", "estimate", "weight"])
    table["weight"] /= table["weight"].sum()
    return table

"""Split-panel jackknife correction of the Nickell bias in dynamic panels with unit effects.

With unit effects removed by the within (or Lee-Yu) transformation, the lagged
outcome is correlated with the transformed error, so tau (and, through it,
rho, eta and the coefficients) is biased by O(1/T) (Nickell 1981,
*Econometrica* 49, 1417-1426; for the spatial dynamic panel, Yu, de Jong & Lee
2008, *J. Econometrics* 146, 118-134). The split-panel jackknife of Dhaene &
Jochmans (2015, *Rev. Econ. Stud.* 82, 991-1030) removes the O(1/T) term:
fit the model on the first and second halves of the periods (each conditioning
on its own first period), and

    theta_J = 2 theta_full - (theta_half1 + theta_half2) / 2.

Here it moves the whole posterior: every draw is shifted by
theta_J - theta_full computed from posterior means, keeping the full-panel
spread. This is a frequentist bias correction of the posterior's location;
BENCHMARKS.md ("Nickell bias") measures by simulation what it does to the bias
and to the coverage of the true tau on the design of the seed study.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd

from bayespatial.data.errors import ModelError
from bayespatial.models.arviz_io import shift_posterior
from bayespatial.models.results import SpatialFit

SHIFTED = ("beta", "theta", "rho", "tau", "eta", "sigma")


def halves(periods: tuple) -> tuple[tuple, tuple]:
    """First and second halves of the periods (overlapping by one when T is odd)."""
    T = len(periods)
    half = (T + 1) // 2
    return tuple(periods[:half]), tuple(periods[T - half :])


def split_panel_jackknife(run, config, data: pd.DataFrame, W, full: SpatialFit) -> SpatialFit:
    """``full`` with its posterior shifted by the split-panel jackknife bias estimate.

    ``run`` is `bayespatial.models.fit.run`; each half is fitted with the same
    configuration (and seed) on its periods.
    """
    if not config.dynamic or config.fe not in ("unit", "twoway"):
        raise ModelError(
            "bias_correction='jackknife' applies to dynamic models (dsdm) with unit effects "
            "(fe='unit' or 'twoway'), where the Nickell bias arises."
        )
    periods = tuple(sorted(pd.unique(data[config.time])))
    if len(periods) < 6:
        raise ModelError(
            f"the split-panel jackknife needs at least 6 periods (each half conditions on its "
            f"first period); the data have {len(periods)}."
        )
    post = full.idata.posterior
    means = []
    for part in halves(periods):
        sub = data[data[config.time].isin(part)]
        fit = run(replace(config, bias_correction="none"), sub, W)
        means.append(
            {k: fit.idata.posterior[k].mean(("chain", "draw")).values for k in SHIFTED if k in post}
        )
    shifts = {}
    for k in SHIFTED:
        if k in post:
            full_mean = post[k].mean(("chain", "draw")).values
            shifts[k] = full_mean - 0.5 * (means[0][k] + means[1][k])
    record = {k: np.atleast_1d(v).round(6).tolist() for k, v in shifts.items()}
    attrs = {"bias_correction": "split-panel jackknife", "jackknife_shift": json.dumps(record)}
    return SpatialFit(shift_posterior(full.idata, shifts, attrs))

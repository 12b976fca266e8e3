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


def analytic_shift(fit: SpatialFit) -> dict:
    """Yu, de Jong & Lee's (2008) O(1/T) bias of the dynamic SDM, as shifts of the posterior.

    For y_t = tau y_{t-1} + eta W y_{t-1} + rho W y_t + Z_t beta + effects + e_t with unit
    effects removed, the QML estimator has bias -Sigma^-1 b / T (Yu, de Jong & Lee 2008,
    *J. Econometrics* 146, 118-134, Theorem 3; the form of Lee & Yu 2010 used by SDPDmod),
    with S = I - rho W, G = W S^-1, A = S^-1 (tau I + eta W) and

        b_tau = tr((I - A)^-1 S^-1) / n,   b_eta = tr(W (I - A)^-1 S^-1) / n,
        b_rho = [tau tr(G (I - A)^-1 S^-1) + eta tr(G W (I - A)^-1 S^-1) + tr(G)] / n,
        b_sigma2 = 1 / (2 sigma^2),

    and Sigma the information matrix per observation of (coefficients, rho, sigma^2).
    Evaluated at the posterior means (the flat-prior posterior is centred on the QML
    estimate); every draw is moved by the same shift, so the spread is the posterior's.
    sigma is not moved (see the comment at the end).
    Dense n x n algebra: dynamic panels of regions have n in the tens to hundreds.
    With time effects the traces use W and the information uses n T observations
    rather than Lee & Yu's transformed W* and (n - 1) T (an O(1/n) difference), and
    the near-unit-root adjustment of Lee & Yu (2010) is not made: stable draws only.
    Calibration (bias and coverage over replications) is measured in BENCHMARKS.md.
    """
    from bayespatial.engine.crossprod import demean

    post, a = fit.idata.posterior, fit.attrs
    d = fit._loo_inputs()
    Wd = d["W"].toarray()
    n = Wd.shape[0]
    Zd = demean(d["Z"], a["fe"])
    T, _, kz = Zd.shape
    mean = {k: float(post[k].mean()) for k in ("rho", "tau") if k in post}
    tau, rho = mean["tau"], mean["rho"]
    eta = float(post["eta"].mean()) if "eta" in post else 0.0
    coef = d["beta"].mean(axis=0)  # [beta, theta (lagged), tau, eta] in Z's column order
    sige = float((post["sigma"].values ** 2).mean())
    eye = np.eye(n)
    Sni = np.linalg.inv(eye - rho * Wd)
    G = Wd @ Sni
    A = Sni @ (tau * eye + eta * Wd)
    IAS = np.linalg.solve(eye - A, Sni)
    b = np.zeros(kz + 2)
    i_tau = kz - (2 if "eta" in post else 1)
    b[i_tau] = np.trace(IAS) / n
    if "eta" in post:
        b[kz - 1] = np.trace(Wd @ IAS) / n
    b[kz] = (tau * np.trace(G @ IAS) + eta * np.trace(G @ Wd @ IAS) + np.trace(G)) / n
    b[kz + 1] = 1.0 / (2.0 * sige)
    Zs = Zd.reshape(T * n, kz)
    GZb = (Zd @ coef) @ G.T  # (T, n): G applied to each period's Z beta
    GZb = GZb.reshape(-1)
    info = np.zeros((kz + 2, kz + 2))
    info[:kz, :kz] = Zs.T @ Zs / sige
    info[:kz, kz] = info[kz, :kz] = Zs.T @ GZb / sige
    info[kz, kz] = GZb @ GZb / sige + T * np.trace(G @ G + G @ G.T)
    info[kz + 1, kz + 1] = Zs.shape[0] / (2 * sige**2)
    info[kz, kz + 1] = info[kz + 1, kz] = T * np.trace(G) / sige
    n_eff = n - 1 if a["fe"] == "twoway" else n
    shift = np.linalg.solve(info / (n_eff * T), b) / T  # theta_corrected = theta_hat + shift
    terms = [str(t) for t in post["term"].values]
    k = len(terms)
    out = {"beta": shift[:k], "rho": shift[kz], "tau": shift[i_tau]}
    if "theta" in post:
        theta = np.zeros(k)
        for j, name in enumerate(fit.durbin_terms):
            theta[terms.index(name)] = shift[k + j]
        out["theta"] = theta
    if "eta" in post:
        out["eta"] = shift[kz - 1]
    # sigma is not moved: its posterior already has the N = (n - 1)(T - 1) degrees of
    # freedom of the transformed likelihood, which is what the QML's sigma^2 bias term
    # corrects (moving it too lowered sigma's coverage from 96% to 89% on the
    # north-east recovery design); the term still enters the other shifts through Sigma^-1
    return out


def analytic_correction(full: SpatialFit) -> SpatialFit:
    """``full`` with its posterior shifted by `analytic_shift`."""
    shifts = analytic_shift(full)
    record = {k: np.atleast_1d(v).round(6).tolist() for k, v in shifts.items()}
    attrs = {
        "bias_correction": "analytic (Yu, de Jong & Lee 2008)",
        "bias_shift": json.dumps(record),
    }
    return SpatialFit(shift_posterior(full.idata, shifts, attrs))

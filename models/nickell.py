"""Corrections of the Nickell bias in dynamic panels with unit effects.

Two are offered: the analytic correction (the default; `analytic_correction`) and
the split-panel jackknife (`split_panel_jackknife`).

With unit effects removed by the within (or Lee-Yu) transformation, the lagged
outcome is correlated with the transformed error, so tau (and, through it,
rho, eta and the coefficients) is biased by O(1/T) (Nickell 1981,
*Econometrica* 49, 1417-1426; for the spatial dynamic panel, Yu, de Jong & Lee
2008, *J. Econometrics* 146, 118-134). The split-panel jackknife of Dhaene &
Jochmans (2015, *Rev. Econ. Stud.* 82, 991-1030) removes the O(1/T) term:
fit the model on the first and second halves of the periods (each conditioning
on its own first period), and

    theta_J = 2 theta_full - (theta_half1 + theta_half2) / 2.

The jackknife moves the whole posterior: every draw is shifted by
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

from bayespatial.data.errors import ModelError, user_stacklevel
from bayespatial.models.arviz_io import shift_posterior, with_attrs
from bayespatial.models.results import SpatialFit

SHIFTED = ("beta", "theta", "rho", "tau", "eta", "sigma", "mu")
"""Posterior variables the jackknife moves (those present). A varying fit's group
coefficients move with their mean mu (`split_panel_jackknife`); omega, a spread, is not
moved."""


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
            f"first period); the data have {len(periods)}. Pass bias_correction='none' to "
            "fit without a Nickell-bias correction (tau is then biased by O(1/T))."
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
    if "beta_group" in post:
        # each half has half the data per group, so its groups are shrunk harder to mu:
        # 2 full - mean(halves) would extrapolate the pooling away. The groups keep their
        # deviations from mu and take mu's shift (the Nickell bias, through tau, is common)
        groups = post["beta_group"].sizes["group"]
        shifts["beta_group"] = np.repeat(shifts["mu"][:, None], groups, axis=1)
    record = {k: np.atleast_1d(v).round(6).tolist() for k, v in shifts.items()}
    attrs = {"bias_correction": "split-panel jackknife", "jackknife_shift": json.dumps(record)}
    return SpatialFit(shift_posterior(full.idata, shifts, attrs))


def transformed_panel(fit: SpatialFit, d: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Dense W and the demeaned regressors (T, n, kz) on the space the likelihood lives on.

    Unit effects: W and the within-demeaned Z. Two-way effects: Lee & Yu's (2010)
    W* = F_n' W F_n and F_n' Z_t, n - 1 directions orthogonal to the constant (Helmert
    rows; any orthonormal F_n gives the same traces and inner products). ``d``: the
    fit's `_loo_inputs`, when already at hand.
    """
    from bayespatial.engine.crossprod import demean
    from bayespatial.engine.streaming import helmert

    d = fit._loo_inputs() if d is None else d
    Wd = d["W"].toarray()
    Zd = demean(d["Z"], fit.attrs["fe"])
    if fit.attrs["fe"] == "twoway":
        Wd = helmert(helmert(Wd, 0), 1)
        Zd = helmert(Zd, 1)
    return Wd, Zd


def lagged_error_moment(A: np.ndarray, Sni: np.ndarray, T: int) -> np.ndarray:
    """P with E[sum_t y~_{t-1} e~_t'] = -sigma^2 P over T periods after the first.

    y_t = A y_{t-1} + S^-1 e_t + (fixed terms), e_t iid (0, sigma^2 I), y_0 given, ~ the
    deviation from the mean over t = 1..T: only -T ybar_{-1} ebar' has a nonzero mean,
    sum_{t, s < t} A^{t-1-s} S^-1 sigma^2 / T, which sums to

        P = (I - A)^-1 [I - (I - A)^-1 (I - A^T) / T] S^-1

    (the matrix form of Nickell 1981's numerator; its large-T limit (I - A)^-1 S^-1 is
    Yu, de Jong & Lee's).
    """
    eye = np.eye(A.shape[0])
    IA = np.linalg.inv(eye - A)
    return IA @ (eye - IA @ (eye - np.linalg.matrix_power(A, T)) / T) @ Sni


def yu_de_jong_lee_shift(Wd, Zd, theta: np.ndarray, eta: bool) -> np.ndarray:
    """s(theta) = (Sigma / (n T))^-1 b / T for theta = (coefficients in Z's order, rho, sigma^2).

    The coefficients end with tau (and eta when ``eta``); see `analytic_correction`.
    """
    n = Wd.shape[0]
    T, _, kz = Zd.shape
    coef, rho, sige = theta[:kz], theta[kz], theta[kz + 1]
    i_tau = kz - (2 if eta else 1)
    tau = coef[i_tau]
    eta_v = coef[kz - 1] if eta else 0.0
    eye = np.eye(n)
    Sni = np.linalg.inv(eye - rho * Wd)
    G = Wd @ Sni
    A = Sni @ (tau * eye + eta_v * Wd)
    IAS = lagged_error_moment(A, Sni, T)
    b = np.zeros(kz + 2)
    b[i_tau] = np.trace(IAS) / n
    if eta:
        b[kz - 1] = np.trace(Wd @ IAS) / n
    b[kz] = (tau * np.trace(G @ IAS) + eta_v * np.trace(G @ Wd @ IAS) + np.trace(G)) / n
    b[kz + 1] = 1.0 / (2.0 * sige)
    Zs = Zd.reshape(T * n, kz)
    GZb = ((Zd @ coef) @ G.T).reshape(-1)  # G applied to each period's Z beta
    info = np.zeros((kz + 2, kz + 2))
    info[:kz, :kz] = Zs.T @ Zs / sige
    info[:kz, kz] = info[kz, :kz] = Zs.T @ GZb / sige
    info[kz, kz] = GZb @ GZb / sige + T * np.trace(G @ G + G @ G.T)
    info[kz + 1, kz + 1] = Zs.shape[0] / (2 * sige**2)
    info[kz, kz + 1] = info[kz + 1, kz] = T * np.trace(G) / sige
    return np.linalg.solve(info / (n * T), b) / T


FIXED_POINT_STEPS = 200
"""Most iterations of theta_c = theta_bar + s(theta_c) (a contraction: |ds/dtheta| < 1)."""

SHIFT_SIGMA = False
"""sigma is not moved: its posterior already has the N = (n - 1)(T - 1) degrees of
freedom of the transformed likelihood, which is what the QML's sigma^2 bias term
corrects (moving it too lowered sigma's coverage from 96% to 89% on the north-east
recovery design); the term still enters the other shifts through Sigma^-1."""


def analytic_correction(full: SpatialFit) -> SpatialFit:
    """The posterior moved to the Nickell-bias-corrected estimator's sampling distribution.

    For y_t = tau y_{t-1} + eta W y_{t-1} + rho W y_t + Z_t beta + effects + e_t with unit
    effects removed, the QML estimator has bias -Sigma^-1 b / T (Yu, de Jong & Lee 2008,
    *J. Econometrics* 146, 118-134, Theorem 3; the form of Lee & Yu 2010 used by SDPDmod),
    with S = I - rho W, G = W S^-1, A = S^-1 (tau I + eta W) and

        b_tau = tr(P) / n,   b_eta = tr(W P) / n,
        b_rho = [tau tr(G P) + eta tr(G W P) + tr(G)] / n,   b_sigma2 = 1 / (2 sigma^2),

    Sigma the information matrix per observation of (coefficients, rho, sigma^2), and
    P = (I - A)^-1 S^-1 to first order in 1/T. Three refinements, each measured (issue
    note and BENCHMARKS.md, "Nickell bias"):

    - P is the exact expectation for the T periods used, -E[sum_t y~_{t-1}' e~_t] / sigma^2
      = tr((I - A)^-1 [I - (I - A)^-1 (I - A^T) / T] S^-1) (Nickell 1981, *Econometrica*
      49, 1417-1426, for the scalar case), not its large-T limit; at T = 10 the limit
      overstates the bias by about a quarter.
    - The bias is evaluated at the corrected value: theta_c solves
      theta_c = theta_bar + s(theta_c), s = Sigma^-1 b / T, theta_bar the posterior mean
      (after Bun & Carree 2005, *J. Bus. Econ. Stat.* 23, 200-210, whose scalar version
      is fixed-T consistent; here Sigma^-1 b / T linearises the score, so an O(1/T^2)
      remainder is left). The flat-prior posterior is centred on the QML estimate, which
      is biased towards zero, where the bias is smaller.
    - theta_c varies with the data through its Jacobian K = (I - ds/dtheta)^-1, so its
      sampling spread is K V K' (the delta method), wider than the posterior's V where
      the bias grows with tau. Each draw is mapped by
      theta_d -> theta_c + K (theta_d - theta_bar), ds/dtheta by central differences.

    sigma is not moved (see `SHIFT_SIGMA`). With time effects (fe="twoway") everything
    is computed, as in Lee & Yu (2010, *Econometric Theory* 26, 564-597), on the
    transformed panel (`transformed_panel`): using W itself would add the unit
    eigenvalue's term 1 / (1 - tau - rho - eta) / n to b_tau and b_eta.
    Dense n x n algebra: dynamic panels of regions have n in the tens to hundreds.
    Near the unit root: if the fixed point does not converge (|ds/dtheta| >= 1), the
    one-step correction theta_bar + s(theta_bar) moves the location and the spread is
    left as it is (K = I); if the bias cannot be evaluated at all (the posterior mean on
    the unit root) the posterior is left uncorrected; a corrected centre outside the
    stable region is reported. Each case warns (`StationarityWarning`) and the attrs
    say so; ``p_stationary_corrected`` is the share of corrected draws in the stable
    region. Long-run effects count unstable draws as diverging.
    """
    import warnings

    from bayespatial.data.errors import StationarityWarning
    from bayespatial.engine.dynamic import stationary

    post, a = full.idata.posterior, full.attrs
    d = full._loo_inputs()
    Wd, Zd = transformed_panel(full, d)
    kz = Zd.shape[2]
    eta = "eta" in post
    i_tau = kz - (2 if eta else 1)
    draws = np.column_stack([d["beta"], full.draws("rho"), full.draws("sigma") ** 2])
    bar = draws.mean(axis=0)
    keep = np.ones(kz + 2)
    keep[kz + 1] = float(SHIFT_SIGMA)

    def s_of(theta):
        return keep * yu_de_jong_lee_shift(Wd, Zd, theta, eta)

    def stable(theta):  # (tau, rho, eta) of theta (..., kz + 2) in the stable region
        e = theta[..., kz - 1] if eta else 0.0
        return stationary(theta[..., i_tau], theta[..., kz], e, a["w_min"], a["w_max"])

    method = "analytic (Yu, de Jong & Lee 2008; finite-T, fixed point, delta-method spread)"
    problems = []
    try:
        first = s_of(bar)
    except np.linalg.LinAlgError:
        first = np.full(kz + 2, np.nan)
    if not np.all(np.isfinite(first)):
        warnings.warn(
            "the Nickell-bias correction could not be evaluated: the posterior mean of "
            "(tau, rho, eta) lies on the unit root; the posterior is left uncorrected.",
            StationarityWarning,
            stacklevel=user_stacklevel(),
        )
        note = {"bias_correction": "none (posterior mean on the unit root)"}
        return SpatialFit(with_attrs(full.idata, note))
    centre, converged = bar + first, False
    for _ in range(FIXED_POINT_STEPS):  # theta_c = theta_bar + s(theta_c)
        try:
            new = bar + s_of(centre)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(new)):
            break
        converged = np.max(np.abs(new - centre) / (1.0 + np.abs(centre))) < 1e-12
        centre = new
        if converged:
            break
    if converged:
        sd = draws.std(axis=0)
        jac = np.zeros((kz + 2, kz + 2))  # d s / d theta by central differences
        for j in range(kz + 2):
            h = 1e-3 * sd[j] if sd[j] > 0 else 1e-6 * max(1.0, abs(centre[j]))
            e = np.zeros(kz + 2)
            e[j] = h
            jac[:, j] = (s_of(centre + e) - s_of(centre - e)) / (2 * h)
        K = np.linalg.inv(np.eye(kz + 2) - jac)
    else:
        centre, K = bar + first, np.eye(kz + 2)
        problems.append("the fixed point did not converge: one step, spread not widened")
    if not stable(centre):
        problems.append("the corrected centre lies outside the stable region")
    moved = (centre - bar) + (draws - bar) @ (K - np.eye(kz + 2)).T  # theta_d -> moved + theta_d
    shape = post["rho"].shape  # (chain, draw)
    terms = [str(t) for t in post["term"].values]
    k = len(terms)
    shifts = {"beta": moved[:, :k].reshape(*shape, k), "rho": moved[:, kz].reshape(shape)}
    shifts["tau"] = moved[:, i_tau].reshape(shape)
    if "theta" in post:
        theta = np.zeros((len(moved), k))
        for j, name in enumerate(full.durbin_terms):
            theta[:, terms.index(name)] = moved[:, k + j]
        shifts["theta"] = theta.reshape(*shape, k)
    if eta:
        shifts["eta"] = moved[:, kz - 1].reshape(shape)
    record = {
        name: np.atleast_1d(v.mean(axis=(0, 1))).round(6).tolist() for name, v in shifts.items()
    }
    corrected = draws + moved
    p_stable = stable(corrected)
    if problems:
        method += "; " + "; ".join(problems)
        warnings.warn(
            "Nickell-bias correction near the unit root: " + "; ".join(problems) + ".",
            StationarityWarning,
            stacklevel=user_stacklevel(),
        )
    spread = draws.std(axis=0)
    ratio = corrected[:, i_tau].std() / spread[i_tau] if spread[i_tau] > 0 else 1.0
    attrs = {
        "bias_correction": method,
        "bias_shift": json.dumps(record),
        "bias_sd_ratio": json.dumps({"tau": round(float(ratio), 4)}),
        "p_stationary_corrected": float(np.mean(p_stable)),
    }
    return SpatialFit(shift_posterior(full.idata, shifts, attrs))

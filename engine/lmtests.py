"""Lagrange multiplier tests for a spatial lag or spatial error in OLS residuals.

Cross-section (Anselin, Bera, Florax & Yoon 1996, *Regional Science and Urban
Economics* 26, 77-104; Anselin 1988): with OLS residuals e, s^2 = e'e / N,
T_w = tr(W'W + W W) and N J = [(W X b)' M (W X b) + T_w s^2] / s^2,

    LM_lag   = (e'W y / s^2)^2 / (N J)
    LM_err   = (e'W e / s^2)^2 / T_w
    RLM_lag  = (e'W y / s^2 - e'W e / s^2)^2 / (N J - T_w)
    RLM_err  = (e'W e / s^2 - T_w (N J)^-1 e'W y / s^2)^2 / (T_w [1 - T_w / (N J)])
    SARMA    = RLM_lag + LM_err            (chi^2 with 2 degrees of freedom)

Fixed-effects panels (Debarsy & Ertur 2010, *Regional Science and Urban
Economics* 40, 453-470; Elhorst 2014, *Spatial Econometrics*, sec. 3.5): the
orthonormal transformation of Lee & Yu (2010) that removes the effects turns
the panel into a cross-section of N_eff rows with block-diagonal weights
I ⊗ W* and i.i.d. errors, so the tests above apply with N = N_eff,

    fe       N_eff            T_w
    none     n T              T     tr(W'W + W W)
    unit     n (T - 1)        (T-1) tr(W'W + W W)
    time     (n - 1) T        T     tr(W*'W* + W* W*)
    twoway   (n - 1)(T - 1)   (T-1) tr(W*'W* + W* W*)

where, for row-standardised W and W* = F_n' W F_n, tr(W* W*) = tr(W W) - 1 and
tr(W*'W*) = tr(W'W) - |W'1|^2 / n. Inner products of transformed series equal
those of the demeaned series (the transformation is orthonormal), and the
transformed spatial lag of a demeaned series is its demeaned spatial lag, so
no transformation matrix is formed: O(nnz(W) T) in all.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from bayespatial.engine.crossprod import FE_KINDS, demean

TESTS = ("LM lag", "Robust LM lag", "LM error", "Robust LM error", "LM SARMA")


def effective_size(n: int, T: int, fe: str) -> tuple[int, int]:
    """(rows, periods) of the transformed panel: N_eff and the multiplier of the trace."""
    if fe not in FE_KINDS:
        raise ValueError(f"fe must be one of {FE_KINDS}, not {fe!r}.")
    periods = T - 1 if fe in ("unit", "twoway") else T
    units = n - 1 if fe in ("time", "twoway") else n
    return units * periods, periods


def trace_term(W: sp.spmatrix, fe: str) -> float:
    """tr(W'W + W W) of the (transformed) weights of one period."""
    W = sp.csr_matrix(W)
    tww = float(W.multiply(W).sum())
    tw2 = float(W.multiply(W.T).sum())
    if fe in ("time", "twoway"):
        n = W.shape[0]
        if not np.allclose(np.asarray(W.sum(axis=1)).ravel(), 1.0):
            raise ValueError("time fixed effects need row-standardised W for the LM tests.")
        colsum = np.asarray(W.sum(axis=0)).ravel()
        tww -= float(colsum @ colsum) / n
        tw2 -= 1.0
    return tww + tw2


def lm_tests(y: np.ndarray, Z: np.ndarray, W: sp.spmatrix, fe: str = "none") -> dict:
    """LM statistics of y (T, n) on Z (T, n, p) with W (n, n) after the ``fe`` transformation.

    Returns {test name: (statistic, degrees of freedom, p-value)} and the OLS pieces
    ``s2`` and ``nobs`` under the keys of the same names.
    """
    T, n = y.shape
    nobs, periods = effective_size(n, T, fe)
    W = sp.csr_matrix(W)

    def lag(v):  # spatial lag per period, then back into the transformed space
        return demean(np.stack([W @ v[t] for t in range(T)]), fe)

    yd = demean(y, fe)
    Zd = demean(Z, fe)
    X = Zd.reshape(T * n, -1)
    b, *_ = np.linalg.lstsq(X, yd.ravel(), rcond=None)
    e = yd - (X @ b).reshape(T, n)
    s2 = float(np.sum(e * e)) / nobs
    ewy = float(np.sum(e * lag(yd))) / s2
    ewe = float(np.sum(e * lag(e))) / s2
    wxb = lag((X @ b).reshape(T, n)).ravel()
    coef, *_ = np.linalg.lstsq(X, wxb, rcond=None)
    resid = wxb - X @ coef
    tw = periods * trace_term(W, fe)
    nj = (float(resid @ resid) + tw * s2) / s2
    values = {
        "LM lag": (ewy**2 / nj, 1),
        "Robust LM lag": ((ewy - ewe) ** 2 / (nj - tw), 1),
        "LM error": (ewe**2 / tw, 1),
        "Robust LM error": ((ewe - tw / nj * ewy) ** 2 / (tw * (1.0 - tw / nj)), 1),
    }
    values["LM SARMA"] = (values["Robust LM lag"][0] + values["LM error"][0], 2)
    out = {k: (float(s), d, float(stats.chi2.sf(s, d))) for k, (s, d) in values.items()}
    out["s2"], out["nobs"] = s2, nobs
    return out

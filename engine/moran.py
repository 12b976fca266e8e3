"""Global Moran's I with its moments under normality and randomization (Cliff & Ord 1981).

I = (n / S0) z'W z / z'z for z = x - mean(x); E[I] = -1/(n - 1); with
S0 = sum w_ij, S1 = 1/2 sum (w_ij + w_ji)^2, S2 = sum_i (w_i. + w_.i)^2 and
b2 = n sum z^4 / (sum z^2)^2 (Cliff & Ord 1981, *Spatial Processes*, ch. 2):

    Var_N = (n^2 S1 - n S2 + 3 S0^2) / ((n^2 - 1) S0^2) - E[I]^2,
    Var_R = [n ((n^2 - 3n + 3) S1 - n S2 + 3 S0^2)
             - b2 ((n^2 - n) S1 - 2n S2 + 6 S0^2)] / ((n - 1)(n - 2)(n - 3) S0^2) - E[I]^2.

p-values are two-sided normal approximations.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats


def weight_sums(W: sp.spmatrix) -> tuple[float, float, float]:
    """S0, S1, S2 of a sparse W."""
    W = sp.csr_matrix(W)
    s0 = float(W.sum())
    sym = W + W.T
    s1 = 0.5 * float(sym.multiply(sym).sum())
    s2 = float(np.sum((np.asarray(W.sum(axis=1)).ravel() + np.asarray(W.sum(axis=0)).ravel()) ** 2))
    return s0, s1, s2


def moran(x: np.ndarray, W: sp.spmatrix) -> dict:
    """Moran's I of x with z and two-sided p under normality and randomization."""
    x = np.asarray(x, dtype=float)
    n = x.size
    z = x - x.mean()
    s0, s1, s2 = weight_sums(W)
    zz = float(z @ z)
    stat = n / s0 * float(z @ (W @ z)) / zz
    ei = -1.0 / (n - 1)
    var_n = (n**2 * s1 - n * s2 + 3 * s0**2) / ((n**2 - 1) * s0**2) - ei**2
    b2 = n * float(np.sum(z**4)) / zz**2
    var_r = (
        n * ((n**2 - 3 * n + 3) * s1 - n * s2 + 3 * s0**2)
        - b2 * ((n**2 - n) * s1 - 2 * n * s2 + 6 * s0**2)
    ) / ((n - 1) * (n - 2) * (n - 3) * s0**2) - ei**2
    z_n, z_r = (stat - ei) / np.sqrt(var_n), (stat - ei) / np.sqrt(var_r)
    return {
        "I": stat,
        "expected": ei,
        "z_norm": z_n,
        "p_norm": 2 * stats.norm.sf(abs(z_n)),
        "z_rand": z_r,
        "p_rand": 2 * stats.norm.sf(abs(z_r)),
    }

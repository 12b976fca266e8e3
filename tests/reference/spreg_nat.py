"""Generate the frozen spreg panel maximum-likelihood references for NAT (run by hand).

    python tests/reference/spreg_nat.py   # writes spreg_nat.json beside it

HR on RD, PS, UE, DV, MA for 3,085 US counties x 4 decades (1960-1990), the
shipped queen contiguity, row-standardised; spreg.Panel_FE_Lag and
spreg.Panel_FE_Error (Elhorst 2003: unit means removed, log-determinant
multiplier T, sigma^2 = e'e / (nT)).

- ``unit``: the data as they are.
- ``twoway``: period means removed first, so that spreg's unit demeaning
  yields the two-way within data (Elhorst 2003's direct approach to two-way
  effects).
"""

import json
import warnings
from pathlib import Path

import libpysal
import numpy as np
import spreg

import bayespatial as bsp
from bayespatial.data.panel import Panel

X_COLS = ["RD", "PS", "UE", "DV", "MA"]


def main() -> None:
    """Fit both models under unit and two-way demeaning and write the JSON."""
    warnings.simplefilter("ignore")
    nat = bsp.load_nat()
    W = nat.W.row_standardize()
    panel = Panel.from_frame(nat.frame, "fips", "year", ["HR", *X_COLS], W=W)
    w = libpysal.weights.WSP(W.sparse, id_order=list(W.ids)).to_W(silence_warnings=True)
    w.transform = "r"
    n, T = panel.n, panel.T
    y = panel.frame["HR"].to_numpy().reshape(T, n)
    x = panel.frame[X_COLS].to_numpy().reshape(T, n, len(X_COLS))
    out = {"spreg_version": spreg.__version__, "n": n, "T": T}
    for fe in ("unit", "twoway"):
        yy, xx = (
            (y, x) if fe == "unit" else (y - y.mean(1, keepdims=True), x - x.mean(1, keepdims=True))
        )
        yl, xl = yy.reshape(-1, 1), xx.reshape(-1, len(X_COLS))
        lag = spreg.Panel_FE_Lag(yl, xl, w=w)
        err = spreg.Panel_FE_Error(yl, xl, w=w)
        out[fe] = {
            "Panel_FE_Lag": {
                "beta": lag.betas.ravel()[:-1].tolist(),
                "rho": float(lag.rho),
                "se": lag.std_err.ravel().tolist(),
                "sigma2": float(np.asarray(lag.sig2).ravel()[0]),
            },
            "Panel_FE_Error": {
                "beta": err.betas.ravel()[:-1].tolist(),
                "lam": float(err.lam),
                "se": err.std_err.ravel().tolist(),
                "sigma2": float(np.asarray(err.sig2).ravel()[0]),
            },
        }
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(path.read_text())


if __name__ == "__main__":
    main()

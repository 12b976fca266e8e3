"""Generate the frozen spreg maximum-likelihood references for columbus (run by hand).

    python tests/reference/spreg_columbus.py   # writes spreg_columbus.json beside it

CRIME on INC and HOVAL with the queen contiguity shipped with libpysal,
row-standardised; spreg.ML_Lag and spreg.ML_Error with method="full".
"""

import json
import warnings
from pathlib import Path

import libpysal
import numpy as np
import spreg

import bayespatial as bsp


def main() -> None:
    """Fit both models and write the JSON."""
    warnings.simplefilter("ignore")
    data = bsp.load_columbus()
    W = data.W.row_standardize()
    w = libpysal.weights.full2W(W.sparse.toarray(), ids=list(W.ids))
    y = data.frame["CRIME"].to_numpy()[:, None]
    x = data.frame[["INC", "HOVAL"]].to_numpy()
    out = {"spreg_version": spreg.__version__}
    lag = spreg.ML_Lag(y, x, w=w, method="full")
    out["ML_Lag"] = {
        "beta": lag.betas.ravel()[:3].tolist(),
        "rho": float(lag.rho),
        "se": lag.std_err.ravel().tolist(),
        "sigma2": float(np.asarray(lag.sig2).ravel()[0]),
    }
    err = spreg.ML_Error(y, x, w=w, method="full")
    out["ML_Error"] = {
        "beta": err.betas.ravel()[:3].tolist(),
        "lam": float(err.lam),
        "se": err.std_err.ravel().tolist(),
        "sigma2": float(np.asarray(err.sig2).ravel()[0]),
    }
    path = Path(__file__).with_suffix(".json")
    path.write_text(json.dumps(out, indent=2, default=float) + "\n")
    print(path.read_text())
    np.testing.assert_array_equal(y.ravel(), data.frame["CRIME"].to_numpy())


if __name__ == "__main__":
    main()

"""The one module that touches ArviZ: InferenceData assembly and atomic netCDF I/O.

Keeping every ArviZ call here means an ArviZ upgrade (the 1.x refactor
changes its API) touches one file.
"""

from __future__ import annotations

import os
from pathlib import Path

import arviz as az
import numpy as np

from bayespatial.data.atomic import atomic_path


def to_idata(
    posterior: dict[str, np.ndarray],
    *,
    dims: dict[str, list[str]] | None = None,
    coords: dict[str, list] | None = None,
    attrs: dict | None = None,
    sample_stats: dict[str, np.ndarray] | None = None,
    observed_data: dict[str, np.ndarray] | None = None,
    constant_data: dict[str, np.ndarray] | None = None,
) -> az.InferenceData:
    """InferenceData from arrays shaped (chain, draw, ...), with named dims and attributes.

    Attribute values are stored as strings or numbers so that they survive netCDF.
    """
    idata = az.from_dict(
        posterior=posterior,
        sample_stats=sample_stats,
        observed_data=observed_data,
        constant_data=constant_data,
        dims=dims,
        coords=coords,
    )
    for group in idata.groups():
        idata[group].attrs.update({k: _netcdf_attr(v) for k, v in (attrs or {}).items()})
    return idata


def _netcdf_attr(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str):
        return value
    return str(value)


def write_netcdf(idata: az.InferenceData, path: str | os.PathLike) -> Path:
    """Write atomically (`bayespatial.data.atomic`): a crash leaves any old file intact."""
    with atomic_path(path) as tmp:
        idata.to_netcdf(tmp)
    return Path(path)


def read_netcdf(path: str | os.PathLike) -> az.InferenceData:
    """Read a saved InferenceData fully into memory (the file is not kept open)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved fit at {path}; check the path passed to to_netcdf.")
    idata = az.from_netcdf(path)
    for group in idata.groups():
        idata[group].load()
    return idata


def with_attrs(idata: az.InferenceData, attrs: dict) -> az.InferenceData:
    """A copy of ``idata`` with ``attrs`` added to every group."""
    out = idata.copy()
    for group in out.groups():
        out[group].attrs.update({k: _netcdf_attr(v) for k, v in attrs.items()})
    return out


def without_group(idata: az.InferenceData, name: str) -> az.InferenceData:
    """A copy of ``idata`` without the group ``name`` (the others shared, not copied)."""
    return az.InferenceData(**{g: idata[g] for g in idata.groups() if g != name})


def ess_rhat(values: np.ndarray) -> tuple[float, float]:
    """Bulk ESS and rank-normalised split r_hat of draws shaped (chain, draw).

    Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021), *Bayesian Analysis*
    16, 667-718. Both are NaN for constant draws (e.g. a coefficient fixed at 0);
    r_hat is NaN for a single chain (it compares chains).
    """
    values = np.asarray(values, dtype=float)
    if np.ptp(values) == 0:
        return float("nan"), float("nan")
    rhat = float(az.rhat(values)) if values.shape[0] > 1 else float("nan")
    return float(az.ess(values, method="bulk")), rhat


def identical(a: az.InferenceData, b: az.InferenceData) -> bool:
    """Whether two InferenceData hold the same groups, values, coords and attributes."""
    if sorted(a.groups()) != sorted(b.groups()):
        return False
    return all(a[g].identical(b[g]) for g in a.groups())


def shift_posterior(idata: az.InferenceData, shifts: dict, attrs: dict) -> az.InferenceData:
    """A copy of ``idata`` whose posterior variables are moved by ``shifts`` (name -> array).

    Each shift broadcasts over (chain, draw); ``attrs`` are added to every group.
    """
    out = idata.copy()
    post = out.posterior.copy()
    for name, value in shifts.items():
        post[name] = post[name] + np.asarray(value)
    post.attrs.update({k: _netcdf_attr(v) for k, v in attrs.items()})
    out.posterior = post
    for group in out.groups():
        out[group].attrs.update({k: _netcdf_attr(v) for k, v in attrs.items()})
    return out


def add_log_likelihood(idata: az.InferenceData, values: np.ndarray) -> az.InferenceData:
    """A copy of ``idata`` with ``log_likelihood["y"]`` of shape (chain, draw, obs)."""
    import xarray as xr

    out = idata.copy()
    post = out.posterior
    da = xr.DataArray(
        values,
        dims=("chain", "draw", "obs"),
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "obs": np.arange(values.shape[2]),
        },
        name="y",
    )
    out.add_groups({"log_likelihood": xr.Dataset({"y": da}, attrs=dict(post.attrs))})
    return out


def relative_ess(idata: az.InferenceData) -> float:
    """r_eff as ArviZ's ``loo`` takes it: mean ESS ("mean" method) of the posterior / draws.

    1 for a single chain, as in ArviZ.
    """
    import warnings

    post = idata.posterior
    if post.sizes["chain"] == 1:
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant (constrained-zero) theta
        ess_p = az.ess(post, method="mean")
    values = np.hstack([ess_p[v].values.flatten() for v in ess_p.data_vars])
    return float(values.mean() / (post.sizes["chain"] * post.sizes["draw"]))


def elpd_data(loo_i: np.ndarray, pareto_k: np.ndarray, lppd_i: np.ndarray, n_samples: int):
    """ArviZ ELPDData (log scale, pointwise) from PSIS-LOO terms, as ``az.loo`` builds it.

    elpd_loo = sum(loo_i), se = sqrt(n var(loo_i)), p_loo = sum(lppd_i) - elpd_loo;
    ``warning`` when any k exceeds min(1 - 1/log10(S), 0.7) (Vehtari et al. 2024).
    """
    import xarray as xr

    n = loo_i.size
    good_k = min(1 - 1 / np.log10(n_samples), 0.7)
    elpd = float(loo_i.sum())
    return az.ELPDData(
        data=[
            elpd,
            float((n * np.var(loo_i)) ** 0.5),
            float(lppd_i.sum()) - elpd,
            n_samples,
            n,
            bool(np.any(pareto_k > good_k)),
            xr.DataArray(loo_i, dims=("obs",), name="loo_i"),
            xr.DataArray(pareto_k, dims=("obs",), name="pareto_shape"),
            "log",
            good_k,
        ],
        index=[
            "elpd_loo",
            "se",
            "p_loo",
            "n_samples",
            "n_data_points",
            "warning",
            "loo_i",
            "pareto_k",
            "scale",
            "good_k",
        ],
    )


def exact_elpd(psis, loo_i: np.ndarray):
    """An ELPDData with exact pointwise LOO values in place of PSIS's.

    elpd_loo = sum(loo_i), se = sqrt(n var(loo_i)) (as ArviZ computes it),
    p_loo = lppd - elpd_loo with lppd from the same draws; Pareto k set to 0
    (no importance sampling).
    """
    out = psis.copy()
    loo_i = np.asarray(loo_i, dtype=float).ravel()
    lppd = float(psis["elpd_loo"] + psis["p_loo"])
    out["elpd_loo"] = float(loo_i.sum())
    out["se"] = float(np.sqrt(loo_i.size * np.var(loo_i)))
    out["p_loo"] = lppd - out["elpd_loo"]
    out["loo_i"] = psis["loo_i"].copy(data=loo_i)
    out["pareto_k"] = psis["pareto_k"].copy(data=np.zeros_like(loo_i))
    out["warning"] = False
    return out


def compare_idata(idatas: dict, ic: str = "loo"):
    """ArviZ ``compare`` of ELPDData (or InferenceData holding a log_likelihood group)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)  # pandas inplace= inside ArviZ
        warnings.simplefilter("ignore", FutureWarning)
        return az.compare(idatas, ic=ic)

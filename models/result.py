"""The base of every fitted model: an InferenceData and what any result offers.

A result *is* its ``idata``: every table is computed from it on demand, so a
result saved with `FitResult.to_netcdf` and read back with `load` equals the
original. Kinds of result subclass `FitResult` and `register` under a name that
their ``attrs["result"]`` carries, which `load` reads to rebuild the right class:
`bayespatial.models.results.SpatialFit` ("spatial") today, DID and mediation
results beside it. Every kind has ``attrs``, ``draws``, ``diagnostics`` (sampling
checks recorded at fit time, `bayespatial.models.convergence`), ``loo`` (PSIS from
a pointwise log-likelihood, cached on the result), ``to_netcdf``; `compare` ranks
any results of one outcome by LOO.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import pandas as pd

from bayespatial.data.errors import SamplingWarning, user_stacklevel
from bayespatial.engine.precision import float64
from bayespatial.models import convergence
from bayespatial.models.arviz_io import (
    compare_idata,
    elpd_data,
    ess_rhat,
    identical,
    read_netcdf,
    relative_ess,
    without_group,
    write_netcdf,
)
from bayespatial.models.progress import counter

RESULTS: dict[str, type] = {}
"""Kinds of result by the name stored in ``attrs["result"]`` (`register`)."""


def register(name: str):
    """Class decorator: record a `FitResult` subclass as the kind called ``name``."""

    def decorate(cls):
        cls.RESULT = name
        RESULTS[name] = cls
        return cls

    return decorate


def equal_tailed(values: np.ndarray, ci: float) -> tuple[float, float]:
    """Equal-tailed interval (linear interpolation between order statistics).

    With +-inf draws (diverging long-run effects) the limits are order statistics
    (``inverted_cdf``), so a limit is inf exactly when more than (1 - ci) / 2 of the
    draws are.
    """
    a = (1 - ci) / 2
    method = "linear" if np.isfinite(values).all() else "inverted_cdf"
    lo, hi = np.quantile(values, [a, 1 - a], method=method)
    return float(lo), float(hi)


@dataclass(frozen=True, eq=False)
class FitResult:
    """Any fitted model: ``idata`` (ArviZ InferenceData) and what is computed from it."""

    idata: object
    """Posterior, sample statistics, observed and constant data, attrs."""
    _loo: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    """LOO results already computed on this fit, by method (`loo` and `compare` reuse them)."""

    RESULT: ClassVar[str] = ""
    """The kind's name in ``attrs["result"]`` (set by `register`)."""
    LOO_METHODS: ClassVar[tuple] = ("psis",)
    """Methods `loo` accepts for this kind."""
    OBS_LABEL: ClassVar[str] = "(index)"
    """What `obs_labels` gives, for messages."""

    def __eq__(self, other):
        return isinstance(other, type(self)) and identical(self.idata, other.idata)

    __hash__ = None

    @property
    def attrs(self) -> dict:
        """Model, formula, fe, W fingerprint, log-determinant, sampler, versions, seed, ..."""
        return dict(self.idata.posterior.attrs)

    @property
    def model(self) -> str:
        """Model family name."""
        return self.attrs["model"]

    @property
    def notes(self) -> list:
        """What was done to the data and W on the way (rows dropped, W standardised)."""
        return json.loads(self.attrs["notes"])

    def diagnostics(self) -> pd.DataFrame:
        """Sampling diagnostics recorded when the fit ran: check, target, value, threshold, ok.

        NUTS: r_hat and bulk ESS of every sampled column and the divergences; the
        exact sampler: the accuracy of its grid over rho/lam (`bayespatial.models.convergence`
        says what each check means). Stored in ``attrs["diagnostics"]``, so they travel
        with the fit (netCDF, worker processes); warnings at fit time come from the
        same rows. A fit saved before they were recorded has its NUTS checks
        recomputed from the stored draws (none for independent draws).
        """
        if "diagnostics" in self.attrs:
            return convergence.to_table(self.attrs["diagnostics"])
        if "sample_stats" not in self.idata.groups():  # independent draws: nothing to recompute
            return convergence.to_table(convergence.to_attr([]))
        stats = {}
        if "diverging" in self.idata.sample_stats:
            stats = {"diverging": self.idata.sample_stats["diverging"].values}
        post = self.idata.posterior
        draws = {name: post[name].values for name in post.data_vars}
        labels = {
            name: [str(v) for v in post[da.dims[2]].values]
            for name, da in post.data_vars.items()
            if da.ndim == 3
        }
        rows = convergence.nuts_checks(draws, stats, labels)
        return convergence.to_table(convergence.to_attr(rows))

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of a variable, flattened over chains: (chains * draws, ...)."""
        values = self.idata.posterior[name].values
        return values.reshape(-1, *values.shape[2:])

    def _rows(self):
        """(parameter, term, draws (chain, draw)) for each column of every posterior variable.

        ``term`` holds the column's coordinate labels (the variable's name for a scalar).
        Kinds of result name their own terms (`SpatialFit._rows`).
        """
        for name, da in self.idata.posterior.data_vars.items():
            dims = [d for d in da.dims if d not in ("chain", "draw")]
            values = da.values.reshape(*da.shape[:2], -1)
            labels = [name]
            if dims:
                grids = np.meshgrid(*(da[d].values for d in dims), indexing="ij")
                cells = zip(*(g.ravel() for g in grids), strict=True)
                labels = [",".join(map(str, cell)) for cell in cells]
            for j, term in enumerate(labels):
                yield name, term, values[..., j]

    def posterior_draws(self) -> pd.DataFrame:
        """Every draw as a row (columns chain, draw, then one per `summary` term).

        A flat table for other software (e.g. ``.to_csv`` for Stata's ``import
        delimited``); columns are named as the ``term`` column of `summary`.
        """
        post = self.idata.posterior
        chains, draws = post.sizes["chain"], post.sizes["draw"]
        columns = {
            "chain": np.repeat(np.arange(chains), draws),
            "draw": np.tile(np.arange(draws), chains),
        }
        for _, term, values in self._rows():
            columns[term] = np.asarray(values).reshape(-1)
        return pd.DataFrame(columns)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """Tidy table: parameter, term, mean, sd, lower, upper, ess_bulk, r_hat (`_rows`).

        For the exact sampler (``attrs["sampler"] == "exact"``) the draws are
        independent, so ``ess_bulk`` is the number of draws (not an estimate; ArviZ's
        would scatter around it), and r_hat compares chains of independent draws.
        """
        ci = self.attrs.get("ci", 0.95) if ci is None else ci
        independent = self.attrs.get("sampler") == "exact"
        rows = []
        for parameter, term, values in self._rows():
            lo, hi = equal_tailed(values, ci)
            ess, rhat = ess_rhat(values)
            if independent and np.isfinite(ess):
                ess = float(values.size)
            rows.append(
                {
                    "parameter": parameter,
                    "term": term,
                    "mean": float(values.mean()),
                    "sd": float(values.std(ddof=1)),
                    "lower": lo,
                    "upper": hi,
                    "ess_bulk": ess,
                    "r_hat": rhat,
                }
            )
        return pd.DataFrame(rows)

    def log_likelihood(self, **_) -> np.ndarray:
        """Pointwise log-likelihood stored in ``idata.log_likelihood``, (chain, draw, obs)."""
        if "log_likelihood" not in self.idata.groups():
            raise ValueError(
                "this fit has no stored pointwise log-likelihood (saved with "
                "to_netcdf(log_likelihood=False)?); LOO needs it."
            )
        values = self.idata.log_likelihood["y"].values
        return values.reshape(*values.shape[:2], -1)

    def obs_labels(self) -> list:
        """A label per observation of `log_likelihood`, for messages (here its index)."""
        return list(range(int(np.prod(self.idata.observed_data["y"].shape))))

    def _pareto_advice(self) -> str:
        """What the Pareto-k warning advises after its first sentence."""
        return "; check them by K-fold cross-validation before trusting a close comparison."

    def _compute_loo(self, method: str, progress: bool | None):
        """PSIS-LOO of the stored pointwise log-likelihood (`bayespatial.engine.psis`)."""
        from bayespatial.engine.psis import smooth

        ll = self.log_likelihood()
        S = ll.shape[0] * ll.shape[1]
        parts = smooth(np.ascontiguousarray(ll.reshape(S, -1).T), relative_ess(self.idata))
        return elpd_data(parts.loo_i, parts.pareto_k, parts.lppd_i, S)

    @float64
    def loo(self, pointwise: bool = True, method: str = "psis", progress: bool | None = None):
        """LOO (ArviZ ELPDData) from the pointwise log-likelihood.

        ``method="psis"``: Pareto-smoothed importance sampling over the draws,
        equal to ArviZ's ``loo`` (same r_eff, tail and Zhang-Stephens fit;
        `bayespatial.engine.psis`); warns (`SamplingWarning`) naming the
        observations whose Pareto k exceeds 0.7, where the importance-sampling
        estimate is unreliable. A kind of result may offer other methods
        (`LOO_METHODS`; the spatial fit adds ``"exact"``, `SpatialFit._compute_loo`).

        The result is kept on the fit: a second call (or `compare`) returns it
        without recomputing. ``progress``: as in `bayespatial.fit`.
        """
        if method not in self.LOO_METHODS:
            raise ValueError(
                f"method must be one of {list(self.LOO_METHODS)} for this fit, not {method!r}."
            )
        if method not in self._loo:
            self._loo[method] = self._compute_loo(method, progress)
        result = self._loo[method]
        if method == "psis":
            self._warn_pareto(result)
        return result

    def _warn_pareto(self, result) -> None:
        """Warn naming the observations with unreliable PSIS estimates (`obs_labels`)."""
        k = np.asarray(result["pareto_k"])
        bad = np.flatnonzero(k > result["good_k"])  # min(1 - 1/log10 S, 0.7), as ArviZ
        if bad.size:
            labels = self.obs_labels()
            named = ", ".join(str(labels[i]) for i in bad[:10])
            more = f" and {bad.size - 10} more" if bad.size > 10 else ""
            warnings.warn(
                f"Pareto k > {result['good_k']:.2f} for {bad.size} observation(s) "
                f"{self.OBS_LABEL}: {named}{more}; "
                f"their PSIS estimates are unreliable{self._pareto_advice()}",
                SamplingWarning,
                stacklevel=user_stacklevel(),
            )
        return result

    def to_netcdf(self, path, log_likelihood: bool = True) -> object:
        """Write the fit to ``path`` atomically; `load` gives back an equal fit.

        ``log_likelihood=False`` leaves the pointwise log-likelihood out of the file
        (draws x observations values: 400 MB for 4,000 draws of the NAT panel); a
        fit loaded from it recomputes the values when LOO asks for them (where its
        kind can).
        """
        idata = self.idata if log_likelihood else without_group(self.idata, "log_likelihood")
        return write_netcdf(idata, path)


def load(path) -> FitResult:
    """A fit saved with `FitResult.to_netcdf`, rebuilt as its kind (``attrs["result"]``)."""
    from bayespatial.models import did_results, results  # noqa: F401  (registers the kinds)

    idata = read_netcdf(path)
    attrs = idata.posterior.attrs
    if "model" not in attrs:
        raise ValueError(f"{path} holds an InferenceData that is not a bayespatial fit.")
    kind = attrs.get("result", "spatial")  # fits saved before kinds were recorded
    if kind not in RESULTS:
        raise ValueError(
            f"{path} holds a {kind!r} result, which this version of bayespatial does not "
            f"know (known: {sorted(RESULTS)}); load it with the version that wrote it."
        )
    return RESULTS[kind](idata)


@float64
def compare(fits, ic: str = "loo", method: str = "psis", progress: bool | None = None):
    """LOO comparison table of fits on the same data (ArviZ ``compare``): elpd, se, weights.

    ``fits``: a dict name -> fit, or a list of fits (named by their models, with
    a suffix where a model repeats). ``method="exact"`` compares the exact
    leave-one-out values (`FitResult.loo`). A fit's stored pointwise
    log-likelihood and a LOO it has already computed are reused. ``progress``:
    as in `bayespatial.fit`.
    """
    given = fits.values() if isinstance(fits, dict) else fits
    odd = [type(f).__name__ for f in given if not isinstance(f, FitResult)]
    if odd:
        raise TypeError(f"compare takes fits from bsp.fit (a dict or a list); got {odd}.")
    if not isinstance(fits, dict):
        named = {}
        for f in fits:
            name, j = f.model, 2
            while name in named:
                name, j = f"{f.model}_{j}", j + 1
            named[name] = f
        fits = named
    if len(fits) < 2:
        raise ValueError(
            f"compare needs at least two fits, e.g. {{'sar': f1, 'sem': f2}} or [f1, f2]; "
            f"got {len(fits)}."
        )
    ys = [np.asarray(f.idata.observed_data["y"].values) for f in fits.values()]
    if any(y.shape != ys[0].shape or not np.array_equal(y, ys[0]) for y in ys[1:]):
        raise ValueError(
            "fits compared by LOO must use the same observations of the same outcome; these "
            f"have outcomes of shapes {[y.shape for y in ys]} or different values (a dynamic "
            "model drops its first period; on an unbalanced panel each fe drops the cells its "
            "effects fit exactly, see fit.notes; a transformed y is another outcome)."
        )
    with counter("LOO of the fits", len(fits), progress, unit="fit") as bar:
        loos = {}
        for name, f in fits.items():
            if bar is not None:
                bar.set_postfix_str(name)
            loos[name] = f.loo(method=method, progress=progress)
            if bar is not None:
                bar.update(1)
    return compare_idata(loos, ic)

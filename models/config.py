"""The frozen, validated configuration of one fit (checked at the edge, before any work)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bayespatial.data.errors import ModelError
from bayespatial.data.families import FAMILIES, Family, family
from bayespatial.data.wmatrix import ISLANDS
from bayespatial.engine.crossprod import fe_kind
from bayespatial.engine.logdet import METHODS as LOGDET_METHODS
from bayespatial.priors.spec import Flat, Priors, defaults

SAMPLERS = ("auto", "exact", "nuts")
ERRORS = ("gaussian", "student_t")
LOGDET = ("auto", *LOGDET_METHODS)


def _choice(name: str, value, options) -> None:
    if value not in options:
        raise ModelError(f"{name}={value!r} is not one of {list(options)}.")


def _positive_int(name: str, value) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ModelError(f"{name} must be a positive integer; got {value!r}.")


@dataclass(frozen=True)
class FitConfig:
    """Everything that defines a fit apart from the data and W."""

    model: str
    formula: str
    unit: str
    time: str | None = None
    fe: str = "none"
    durbin: bool | tuple = False
    priors: Priors = field(default_factory=Priors)
    chains: int = 4
    draws: int = 1000
    warmup: int = 1000
    seed: int = 0
    logdet: str = "auto"
    sampler: str = "auto"
    errors: str = "gaussian"
    drop_initial: int = 0
    ci: float = 0.95
    progress: bool | None = None
    eta: bool = True
    stationarity: str = "enforce"
    bias_correction: str = "auto"
    islands: str = "raise"
    varying: tuple = ()
    """(term, grouping column) pairs of partially pooled terms (`bayespatial.models.groups`)."""

    @property
    def family(self) -> Family:
        """The model family (`bayespatial.data.families`)."""
        return FAMILIES[self.model]

    @property
    def dynamic(self) -> bool:
        """Whether the model has y_{t-1} (and W y_{t-1}) terms."""
        return self.family.dynamic

    @property
    def kind(self) -> str:
        """Spatial parameter of the model: "lag", "error" or "none"."""
        return self.family.kind

    @classmethod
    def build(
        cls,
        model: str,
        formula: str,
        *,
        unit: str | None,
        time: str | None,
        fe: str,
        durbin: bool | Sequence[str] | None,
        priors: Priors | None,
        **options,
    ) -> FitConfig:
        """Validate the user's arguments and fill in the documented defaults."""
        try:
            model = family(model).name
        except ValueError as err:
            raise ModelError(str(err)) from None
        if not isinstance(formula, str) or "~" not in formula:
            raise ModelError(f"formula must be a string 'y ~ x1 + x2', got {formula!r}.")
        if unit is None:
            raise ModelError(
                "unit= is required: name the column holding the unit ids that match W.ids."
            )
        try:
            fe = fe_kind(fe)
        except ValueError as err:
            raise ModelError(str(err)) from None
        if time is None and fe != "none":
            raise ModelError(
                f"fe={fe!r} needs a panel: pass time= (the period column), or use fe='none' "
                "for a cross-section."
            )
        _choice("sampler", options.get("sampler", "auto"), SAMPLERS)
        _choice("islands", options.get("islands", "raise"), ISLANDS)
        _choice("errors", options.get("errors", "gaussian"), ERRORS)
        _choice("logdet", options.get("logdet", "auto"), LOGDET)
        _choice("stationarity", options.get("stationarity", "enforce"), ("enforce", "report"))
        _choice(
            "bias_correction",
            options.get("bias_correction", "auto"),
            ("auto", "none", "jackknife", "analytic"),
        )
        nickell = FAMILIES[model].dynamic and fe in ("unit", "twoway")  # where the bias arises
        if options.get("bias_correction", "auto") == "auto":
            # the analytic correction is the QML estimator's; partially pooled groups
            # are not a QML estimate, the split-panel jackknife needs no model algebra
            analytic = "jackknife" if options.get("varying") else "analytic"
            options["bias_correction"] = analytic if nickell else "none"
        if options["bias_correction"] == "analytic" and options.get("varying") and nickell:
            raise ModelError(
                "bias_correction='analytic' is the Nickell correction of the QML estimator "
                "(Yu, de Jong & Lee 2008), which partially pooled (varying=) coefficients are "
                "not; use bias_correction='jackknife' (the default with varying=) or 'none'."
            )
        if options["bias_correction"] != "none" and not nickell:
            raise ModelError(
                "bias_correction ('jackknife' or 'analytic') applies to model 'dsdm' with "
                "fe='unit' or 'twoway' (the Nickell bias of dynamic panels with unit effects)."
            )
        if FAMILIES[model].dynamic and time is None:
            raise ModelError(f"model {model!r} needs a panel: pass time= (the period column).")
        for name in ("chains", "draws", "warmup"):
            if name in options:
                _positive_int(name, options[name])
        ci = options.get("ci", 0.95)
        if not 0 < ci < 1:
            raise ModelError(f"ci must lie in (0, 1); got {ci!r}.")
        lagged = FAMILIES[model].durbin
        if durbin is None:
            durbin = lagged
        elif not lagged and durbin is not False:
            raise ModelError(
                f"model {model!r} has no W-lagged regressors; use 'slx', 'sdm' or 'sdem' "
                "to choose Durbin terms."
            )
        if not isinstance(durbin, bool):
            durbin = tuple(durbin)
        if priors is None:
            priors = defaults(model)
        if not isinstance(priors, Priors):
            raise ModelError(f"priors must be bayespatial.priors.Priors(...), not {priors!r}.")
        if options.get("errors", "gaussian") == "student_t" and options.get("sampler") == "exact":
            raise ModelError("the exact sampler needs Gaussian errors; use sampler='nuts'.")
        options["varying"] = _varying(options.get("varying"), model, priors, options)
        return cls(model, formula, unit, time, fe, durbin, priors, **options)


VARYING_FAMILIES = ("ols", "slx", "sar", "sem", "sdm", "sdem", "dsdm")
"""Families whose coefficients can vary by group (`bayespatial.models.pooled`)."""


def _varying(varying, model: str, priors: Priors, options: dict) -> tuple:
    """``varying={"x1": "region"}`` as (term, column) pairs in order, checked against options."""
    if not varying:
        return ()
    if not isinstance(varying, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in varying.items()
    ):
        raise ModelError(
            f"varying must map term names to a grouping column, e.g. {{'x1': 'region'}}; "
            f"got {varying!r}."
        )
    if model not in VARYING_FAMILIES:
        raise ModelError(
            f"varying= is available for {list(VARYING_FAMILIES)}; not yet for {model!r}."
        )
    columns = sorted(set(varying.values()))
    if len(columns) > 1:
        raise ModelError(
            f"varying= groups every term by one column; got {columns}. Fit one grouping at a "
            "time (or combine them into one column, e.g. region x size)."
        )
    if options.get("errors", "gaussian") != "gaussian":
        raise ModelError("varying= needs Gaussian errors (the coefficients are integrated out).")
    if not isinstance(priors.coef, Flat):
        raise ModelError(
            "varying= needs the flat prior on the other coefficients (the default): the "
            f"coefficients are integrated out under it; got coef={priors.coef!r}."
        )
    return tuple(varying.items())

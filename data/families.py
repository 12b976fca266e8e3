"""The model families, each declared once: its spatial parameter, Durbin terms and dynamics.

Every layer reads this table: the fit's configuration and results
(`bayespatial.models`), the default priors (`bayespatial.priors.spec.defaults`)
and the simulator (`bayespatial.data.simulate`). What a family computes (its
NumPyro model, exact posterior, pointwise log-likelihood, effects) follows from
its ``kind``, ``durbin`` and ``dynamic``, on which the models dispatch.

Models (LeSage & Pace 2009, ch. 2; Elhorst 2014, chs. 2-4)::

    ols   y = X beta + e
    slx   y = X beta + W X theta + e
    sar   y = rho W y + X beta + e                    (SLM, the spatial lag model)
    sdm   y = rho W y + X beta + W X theta + e
    sem   y = X beta + u,  u = lam W u + e
    sdem  y = X beta + W X theta + u,  u = lam W u + e
    dsdm  y_t = tau y_{t-1} + eta W y_{t-1} + rho W y_t + X_t beta + W X_t theta + e_t
"""

from __future__ import annotations

from typing import NamedTuple


class Family(NamedTuple):
    """One model family."""

    name: str
    """Lower-case name ("sar")."""
    kind: str
    """Spatial dependence: "lag" (rho W y), "error" (lam W u) or "none"."""
    durbin: bool
    """Whether W X terms enter by default (and may be chosen with ``durbin=``)."""
    dynamic: bool
    """Whether y_{t-1} (tau) and W y_{t-1} (eta) enter."""

    @property
    def spatial(self) -> str | None:
        """Name of the spatial parameter: "rho", "lam" or None."""
        return SPATIAL_PARAMETER.get(self.kind)


SPATIAL_PARAMETER = {"lag": "rho", "error": "lam"}
"""The parameter of each spatial kind ("none" has none)."""

FAMILIES = {
    f.name: f
    for f in (
        Family("ols", "none", durbin=False, dynamic=False),
        Family("slx", "none", durbin=True, dynamic=False),
        Family("sar", "lag", durbin=False, dynamic=False),
        Family("sdm", "lag", durbin=True, dynamic=False),
        Family("sem", "error", durbin=False, dynamic=False),
        Family("sdem", "error", durbin=True, dynamic=False),
        Family("dsdm", "lag", durbin=True, dynamic=True),
    )
}
"""Every family by name."""

ALIASES = {"slm": "sar"}
"""Other names of the families (SLM, the spatial lag model, in Elhorst 2014 and the
provincial study). Model names are case-insensitive ("SDM" = "sdm")."""


def family(name: str) -> Family:
    """The family called ``name`` (case-insensitive, aliases allowed); ValueError naming them."""
    key = ALIASES.get(name.lower(), name.lower()) if isinstance(name, str) else name
    if key not in FAMILIES:
        aliases = ", ".join(f"{a}={m}" for a, m in ALIASES.items())
        raise ValueError(
            f"unknown model {name!r}; models are {list(FAMILIES)} (aliases: {aliases})."
        )
    return FAMILIES[key]

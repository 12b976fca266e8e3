"""National city-cluster plans and synergistic pollution and carbon reduction: staggered DID.

The design of Wang, Feng, Khalid & Nisar (2025), "China's urban agglomerations as drivers
of synergistic pollution and carbon reduction", *Frontiers in Environmental Science* 13,
1685581: 274 prefecture-level cities, 2006-2023, the national-level city-cluster plans
as a quasi-natural experiment, outcomes PM2.5, CO2 and a governance-efficiency index,
heterogeneity by hub/non-hub and resource-based cities. The study runs a two-way
fixed-effects DID; the plans were approved in waves, so TWFE mixes in "forbidden"
comparisons of later to earlier adopters (Goodman-Bacon 2021). Here, per outcome:

- TWFE as the paper (static coefficient and event study), with the Goodman-Bacon
  decomposition (of the TWFE without covariates) and its weight on forbidden comparisons;
- the Bayesian imputation estimator (Borusyak, Jaravel & Spiess 2024): overall, cohort
  and event-time ATTs with 95% intervals, leads as placebo, the joint pre-trend checks;
- spillovers to neighbouring non-pilot cities (k = 6 nearest neighbours): the direct and
  spillover ATTs with exposed cities out of the controls, beside the naive estimate;
- heterogeneity: hub/non-hub and resource-based/other as partially pooled group ATTs
  (``varying={"att": ...}``), their contrasts P(ATT_a > ATT_b);
- mechanisms (green innovation, knowledge spillovers, industrial upgrading) as mediators
  wait for the mediation family (issue 15): not estimated here.

Embedded default data are *simulated* (no data of the study are shipped), with a
documented truth: a synthetic layout of 274 cities (nine clusters of 14-20 member cities
around their centres, 124 other cities scattered over the plane, coordinates in
degree-like units; no real city locations), the nine clusters' plans approved in waves
as the State Council approved the national-level plans: one cluster in 2015, four in
2016, one in 2017 and three in 2018 (the member cities adopt in their cluster's year;
the other cities never do). About 13% of the cities are hubs (cluster cores and some
other large cities) and 40% resource-based, drawn at random. Effects at e = 0, 1, 2, ...
years after approval (`TRUTH`): PM2.5 -(1.5 + 0.4 e) ug/m3 (x1.5 in hubs), ln CO2
-(0.02 + 0.01 e) (x1.5 in hubs), governance efficiency +(0.01 + 0.005 e) (x1.6 in
non-resource-based cities); spillovers on exposed non-pilot cities -0.5, -0.01 and
+0.003; no anticipation (zero leads). Controls ln GDP per capita and the industry share
enter every outcome.

User data: ``--data`` (CSV, Parquet or Excel long panel) with ``--unit``, ``--time``,
``--treat`` (first year under a plan; 0 or empty: never), ``--y`` (comma-separated
outcomes), ``--controls``, ``--hub`` and ``--resource`` (0/1 or labels, constant within
city; skipped when absent) and ``--weights`` (a GAL file, an edge list CSV focal,
neighbor[, weight], or a coordinates CSV with columns unit, lon, lat: k = 6 nearest
neighbours).

    bayespatial run city_cluster_did --quick --out out/city_cluster_did
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from bayespatial.experiments.outputs import (
    markdown,
    parser,
    read_table,
    read_weights,
    save_figure,
    write_atomic,
    write_table,
)

YEARS = tuple(range(2006, 2024))
"""The study's years."""
WAVES = (2015, 2016, 2016, 2016, 2016, 2017, 2018, 2018, 2018)
"""Approval year of each of the nine simulated clusters' plans (one in 2015, four in 2016,
one in 2017, three in 2018)."""
OUTCOMES = ("pm25", "co2", "gov_eff")
CONTROLS = ("ln_gdp_pc", "industry")
TRUTH = {
    # base, growth per year since approval, factor in hubs, factor in non-resource cities,
    # spillover on exposed non-pilot cities, noise sd
    "pm25": {"base": -1.5, "growth": -0.4, "hub": 1.5, "nonresource": 1.0, "spill": -0.5,
             "sd": 3.0},
    "co2": {"base": -0.02, "growth": -0.01, "hub": 1.5, "nonresource": 1.0, "spill": -0.01,
            "sd": 0.05},
    "gov_eff": {"base": 0.01, "growth": 0.005, "hub": 1.0, "nonresource": 1.6, "spill": 0.003,
                "sd": 0.03},
}  # fmt: skip
"""Effects of the simulated data (module docstring)."""


def simulate_study(seed: int = 2025) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(panel, cities): 274 cities x 2006-2023 with the `TRUTH` effects (module docstring).

    The panel's ``tau_<outcome>`` columns hold each cell's true effect (treated cells:
    the direct effect; exposed untreated cells: the spillover), ``exposed`` the exposure
    to a treated city among the 6 nearest neighbours.
    """
    import bayespatial as bsp
    from bayespatial.data.did import exposure

    rng = np.random.default_rng(seed)
    centres = rng.uniform([2, 2], [38, 28], size=(len(WAVES), 2))
    sizes = rng.integers(14, 21, size=len(WAVES))
    members = [c + rng.normal(scale=1.2, size=(s, 2)) for c, s in zip(centres, sizes, strict=True)]
    others = rng.uniform([0, 0], [40, 30], size=(274 - int(sizes.sum()), 2))
    xy = np.vstack([*members, others])
    cluster = np.concatenate(
        [np.full(s, k) for k, s in enumerate(sizes)] + [np.full(len(others), -1)]
    )
    adopt = np.where(cluster >= 0, np.asarray(WAVES)[np.maximum(cluster, 0)], 0)
    core = np.zeros(274, dtype=bool)
    for k in range(len(WAVES)):  # the member nearest the centre is the cluster's core
        idx = np.flatnonzero(cluster == k)
        core[idx[np.argmin(((xy[idx] - centres[k]) ** 2).sum(axis=1))]] = True
    hub = core | (rng.uniform(size=274) < 0.1)
    resource = rng.uniform(size=274) < 0.4
    cities = pd.DataFrame(
        {
            "city": [f"C{i:03d}" for i in range(274)],
            "lon": xy[:, 0],
            "lat": xy[:, 1],
            "cluster": cluster,
            "adopt": adopt,
            "hub": np.where(hub, "hub", "non-hub"),
            "resource": np.where(resource, "resource-based", "other"),
        }
    )
    W = bsp.weights.knn(xy, k=6, ids=list(cities.city))
    T, n = len(YEARS), 274
    year = np.asarray(YEARS)[:, None]
    D = (adopt > 0) & (year >= np.where(adopt > 0, adopt, 10**4))
    S = exposure(W.sparse, D, True) * ~D
    e = year - adopt
    ln_gdp = 10 + 0.5 * rng.normal(size=n) + 0.06 * (year - 2006) + 0.1 * rng.normal(size=(T, n))
    industry = (
        0.45 - 0.005 * (year - 2006) + 0.08 * rng.normal(size=n) + 0.03 * rng.normal(size=(T, n))
    )
    frame = {
        "city": np.tile(cities.city, T),
        "year": np.repeat(YEARS, n),
        "adopt": np.tile(adopt, T),
        "hub": np.tile(cities.hub, T),
        "resource": np.tile(cities.resource, T),
        "ln_gdp_pc": ln_gdp.ravel(),
        "industry": industry.ravel(),
        "exposed": S.ravel(),
    }
    levels = {"pm25": (45.0, 12.0, -1.2), "co2": (3.5, 0.8, 0.01), "gov_eff": (0.5, 0.1, 0.01)}
    loadings = {"pm25": (2.0, 20.0), "co2": (0.5, 1.0), "gov_eff": (0.05, -0.2)}
    for y in OUTCOMES:
        t = TRUTH[y]
        mean, unit_sd, trend = levels[y]
        factor = np.where(hub, t["hub"], 1.0) * np.where(resource, 1.0, t["nonresource"])
        tau = np.where(D, (t["base"] + t["growth"] * e) * factor, 0.0) + t["spill"] * S
        shocks = np.cumsum(rng.normal(scale=0.3 * t["sd"], size=T))[:, None]
        b_gdp, b_ind = loadings[y]
        value = (
            mean
            + unit_sd * rng.normal(size=n)
            + trend * (year - 2006)
            + shocks
            + b_gdp * (ln_gdp - 10)
            + b_ind * industry
            + tau
            + t["sd"] * rng.normal(size=(T, n))
        )
        frame[y] = value.ravel()
        frame[f"tau_{y}"] = tau.ravel()
    return pd.DataFrame(frame), cities


def load_user(args):
    """The user's panel and W (``--data``, ``--weights``)."""
    from bayespatial.data.errors import WeightsError

    if args.weights is None:
        raise WeightsError(
            "--data needs --weights (a GAL file, an edge list or a coordinates CSV with unit, "
            "lon, lat) for the spillover fit."
        )
    return read_table(args.data), read_weights(args.weights, args.unit)


def main(args: argparse.Namespace) -> dict:
    """Fit TWFE and the imputation estimator per outcome; write tables, fits and plots."""
    from rich.console import Console

    import bayespatial as bsp
    from bayespatial.models.plots import event_study_plot

    console = Console()
    args.out.mkdir(parents=True, exist_ok=True)
    draws = args.draws or (250 if args.quick else 1000)
    simulated = args.data is None
    if simulated:
        frame, cities = simulate_study(args.seed)
        W = bsp.weights.knn(cities[["lon", "lat"]].to_numpy(), k=6, ids=list(cities.city))
        write_atomic(args.out / "data.csv", frame.to_csv(index=False))
        write_atomic(args.out / "cities.csv", cities.to_csv(index=False))
    else:
        frame, W = load_user(args)
    outcomes = [y for y in args.y.split(",") if y]
    controls = [c for c in args.controls.split(",") if c]
    common = {"unit": args.unit, "time": args.time, "treat": args.treat, "draws": draws,
              "seed": args.seed, "progress": False}  # fmt: skip
    rows, events, pretrends, bacon, groups, contrasts, notes = [], [], [], [], [], [], []
    started = time.perf_counter()
    for y in outcomes:
        formula = f"{y} ~ " + (" + ".join(controls) if controls else "1")
        console.log(f"{y}: TWFE (the paper's specification) and its event study")
        twfe = bsp.fit("did", formula, frame, None, estimator="twfe", **common)
        plain = bsp.fit("did", f"{y} ~ 1", frame, None, estimator="twfe", **common)
        console.log(f"{y}: imputation estimator, leads, pre-trend checks")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", bsp.DIDWarning)
            imp = bsp.fit("did", formula, frame, None, **common)
            console.log(f"{y}: spillovers to neighbouring cities (k = 6)")
            spill = bsp.fit("did", formula, frame, W, spillover=True, **common)
        notes += sorted({f"{y}: {w.message}" for w in caught})
        fits = {"twfe": twfe, "imputation": imp, "imputation_spillover": spill}
        for name, fit in fits.items():
            fit.to_netcdf(args.out / "fits" / f"{y}_{name}.nc")
        for name, fit in fits.items():
            table = fit.att()
            if "effect" not in table:
                table = table.assign(effect="direct")
            for _, r in table.iterrows():
                rows.append({"outcome": y, "estimator": name, **r.to_dict()})
        ev = {"imputation": imp.att("event"), "TWFE": twfe.att("event")}
        for name, table in ev.items():
            events.append(table.assign(outcome=y, estimator=name))
        save_figure(
            event_study_plot(ev, title=f"{y}: event study (95% intervals)"),
            args.out / f"event_study_{y}.png",
        )
        pretrends.append(imp.pretrend().assign(outcome=y))
        b = plain.bacon()
        bacon.append(b.assign(outcome=y))
        forbidden = b.loc[b["type"] == "later_vs_earlier", "weight"].sum()
        notes.append(
            f"{y}: the static TWFE without controls puts {forbidden:.1%} of its weight on "
            "later-vs-earlier (forbidden) comparisons (Goodman-Bacon decomposition)"
        )
        for column in (args.hub, args.resource):
            if column not in frame.columns:
                notes.append(f"{y}: no column {column!r}: that heterogeneity is skipped")
                continue
            console.log(f"{y}: ATTs partially pooled by {column}")
            het = bsp.fit("did", formula, frame, None, varying={"att": column}, **common)
            het.to_netcdf(args.out / "fits" / f"{y}_by_{column}.nc")
            pooled = het.att("group").assign(pooling="partial")
            separate = het.att("group", pooled=False).assign(pooling="none")
            groups.append(pd.concat([pooled, separate]).assign(outcome=y, grouping=column))
            contrasts.append(het.contrasts().assign(outcome=y, grouping=column))
    att = pd.DataFrame(rows)
    if simulated:
        att["truth"] = [_truth(frame, r) for _, r in att.iterrows()]
        att["covered"] = (att["lower"] <= att["truth"]) & (att["truth"] <= att["upper"])
    event = pd.concat(events, ignore_index=True)
    tables = {
        "att_overall": att,
        "event_study": event,
        "pretrend": pd.concat(pretrends, ignore_index=True),
        "bacon": pd.concat(bacon, ignore_index=True),
    }
    if groups:
        tables["heterogeneity"] = pd.concat(groups, ignore_index=True)
        tables["contrasts"] = pd.concat(contrasts, ignore_index=True)
    for name, table in tables.items():
        write_table(table, args.out / f"{name}.csv")
    seconds = time.perf_counter() - started
    summary = _summary(tables, notes, simulated, seconds, draws)
    write_atomic(args.out / "summary.md", summary)
    console.print(summary)
    return tables


def _truth(frame: pd.DataFrame, row) -> float:
    """The true sample ATT of an overall row (direct: treated cells; spillover: exposed)."""
    y = row["outcome"]
    col = f"tau_{y}"
    treated = frame["year"] >= frame["adopt"].where(frame["adopt"] > 0, 10**4)
    if row["effect"] == "spillover":
        return float(frame.loc[~treated & (frame["exposed"] > 0), col].mean())
    return float(frame.loc[treated, col].mean())


def _summary(tables: dict, notes: list, simulated: bool, seconds: float, draws: int) -> str:
    att = tables["att_overall"].copy()
    att["ATT [95%]"] = att.apply(
        lambda r: f"{r['mean']:.4f} [{r['lower']:.4f}, {r['upper']:.4f}]", axis=1
    )
    keep = ["outcome", "estimator", "effect", "ATT [95%]", "n"] + (
        ["truth", "covered"] if simulated else []
    )
    pre = tables["pretrend"][["outcome", "test", "statistic", "df1", "df2", "p_value"]]
    lines = [
        "# City-cluster plans: staggered DID",
        "",
        f"{'Simulated data (documented truth)' if simulated else 'User data'}; 4 x {draws} "
        f"independent draws per fit; {seconds:.0f} s in all.",
        "",
        "## Overall ATTs (TWFE as the paper; imputation; imputation with spillovers)",
        "",
        markdown(att[keep]),
        "",
        "## Pre-trend checks (leads of the untreated model)",
        "",
        markdown(pre),
        "",
    ]
    if "contrasts" in tables:
        c = tables["contrasts"]
        lines += ["## Group contrasts (partially pooled ATTs)", "", markdown(c), ""]
    lines += ["## Notes", ""] + [f"- {n}" for n in notes]
    if simulated:
        lines.append(
            "- Mechanisms (green innovation, knowledge spillovers, industrial upgrading) as "
            "mediators come with the mediation family (issue 15)."
        )
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    p = parser(__name__, __doc__)
    p.add_argument("--out", type=Path, default=Path("out/city_cluster_did"), help="output folder")
    p.add_argument("--quick", action="store_true", help="fewer draws (4 x 250)")
    p.add_argument("--draws", type=int, default=None, help="per chain (4 chains)")
    p.add_argument("--seed", type=int, default=2025, help="simulation and sampling seed")
    p.add_argument("--data", type=Path, default=None, help="long panel: CSV, Parquet, Excel")
    p.add_argument("--weights", type=Path, default=None, help="GAL, edge-list CSV or coords CSV")
    p.add_argument("--unit", default="city", help="unit column of --data")
    p.add_argument("--time", default="year", help="period column of --data")
    p.add_argument("--treat", default="adopt", help="first treated year (0 or empty: never)")
    p.add_argument("--y", default=",".join(OUTCOMES), help="comma-separated outcome columns")
    p.add_argument("--controls", default=",".join(CONTROLS), help="comma-separated controls")
    p.add_argument("--hub", default="hub", help="hub/non-hub column (constant within city)")
    p.add_argument("--resource", default="resource", help="resource-based column")
    return p.parse_args(argv)


if __name__ == "__main__":
    main(parse_args())

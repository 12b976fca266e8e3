"""Runnable studies, one module each with ``main(args)``; listed by `REGISTRY`."""

REGISTRY = {
    "digital_economy_mediation": (
        "bayespatial.experiments.digital_economy_mediation",
        "Digital economy -> agglomeration -> carbon intensity, 278 cities: mediation with "
        "suppression, by group, spatial",
    ),
    "city_cluster_did": (
        "bayespatial.experiments.city_cluster_did",
        "City-cluster plans, 274 cities 2006-2023: TWFE vs Bayesian imputation DID, "
        "spillovers, pooled group ATTs",
    ),
    "did_recovery": (
        "bayespatial.experiments.did_recovery",
        "Staggered DID: bias and coverage of imputation, TWFE and naive fits over simulations",
    ),
    "did_benchmark": (
        "bayespatial.experiments.did_benchmark",
        "Staggered DID at 274 x 18 and 10^5 x 20: the imputation estimator against diff-diff",
    ),
    "northeast_coagglomeration": (
        "bayespatial.experiments.northeast_coagglomeration",
        "Dynamic SDM of co-agglomeration and carbon intensity, 34 north-east cities",
    ),
    "provinces_agglomeration": (
        "bayespatial.experiments.provinces_agglomeration",
        "SLM/SEM/SDM of four agglomeration measures and CO2, 30 provinces; LM tests, LOO",
    ),
    "nickell_bias": (
        "bayespatial.experiments.nickell_bias",
        "Nickell bias of the dynamic SDM on the 34-city design, with and without the jackknife",
    ),
    "us_counties": (
        "bayespatial.experiments.us_counties",
        "NAT US county homicide panel: SAR, SEM, SDM with two-way FE; coefficients, effects",
    ),
    "nat_speed": (
        "bayespatial.experiments.nat_speed",
        "NAT 1990 cross-section: default sampler against R spatialreg's spBreg_lag/err",
    ),
    "static_benchmark": (
        "bayespatial.experiments.static_benchmark",
        "Speed of the static models at 10^6 observations and on NAT against a plain NumPyro SAR",
    ),
    "many_fits": (
        "bayespatial.experiments.many_fits",
        "Many fits on one W: what later fits cost once W's context is built (lattice, NAT)",
    ),
    "gpu_benchmark": (
        "bayespatial.experiments.gpu_benchmark",
        "The 10^6-observation fits, log-determinant and LOO on the CPU and on an accelerator",
    ),
    "logdet_benchmark": (
        "bayespatial.experiments.logdet_benchmark",
        "Accuracy and speed of the log-determinant methods on NAT, a lattice and tori up to 10^6",
    ),
}

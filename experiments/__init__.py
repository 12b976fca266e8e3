"""Runnable studies, one module each with ``main(args)``; listed by `REGISTRY`."""

REGISTRY = {
    "logdet_benchmark": (
        "bayespatial.experiments.logdet_benchmark",
        "Accuracy and speed of the log-determinant methods on NAT, a lattice and tori up to 10^6",
    ),
}

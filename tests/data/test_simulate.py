import numpy as np
import pytest

from bayespatial.data.simulate import simulate
from bayespatial.data.weights import lattice


@pytest.fixture(scope="module")
def W():
    return lattice(12, 12).row_standardize()


@pytest.mark.parametrize("model", ["sar", "sem", "sdm", "sdem", "dsdm"])
def test_recovers_innovations(W, model):
    """Invert the process with dense algebra: the implied eps must be N(0, sigma^2)."""
    T, sigma = 6, 0.7
    sim = simulate(
        model,
        W,
        T=T,
        beta=[1.0, -0.5],
        theta=[0.3, 0.2],
        rho=0.4,
        lam=0.5,
        tau=0.3,
        eta=0.1,
        sigma=sigma,
        seed=3,
    )
    tr, A, n = sim.truth, W.sparse.toarray(), W.n
    y = sim.frame["y"].to_numpy().reshape(T, n)
    X = sim.frame[["x1", "x2"]].to_numpy().reshape(T, n, 2)
    eps = []
    for t in range(1, T):
        ylag = y[t - 1]
        u = (
            (np.eye(n) - tr["rho"] * A) @ y[t]
            - X[t] @ tr["beta"]
            - A @ X[t] @ tr["theta"]
            - tr["tau"] * ylag
            - tr["eta"] * A @ ylag
            - tr["mu"]
            - tr["alpha"][t]
        )
        eps.append((np.eye(n) - tr["lam"] * A) @ u)
    eps = np.concatenate(eps)
    # sd of a sample sd from m normals is about sigma / sqrt(2m)
    assert abs(eps.std() - sigma) < 4 * sigma / np.sqrt(2 * eps.size)
    assert abs(eps.mean()) < 4 * sigma / np.sqrt(eps.size)


def test_rejects_rho_outside_interval(W):
    with pytest.raises(ValueError, match="outside the valid interval"):
        simulate("sar", W, rho=1.2)


def test_simulator_knows_the_fixed_effects_and_families_the_models_fit():
    from bayespatial.data import simulate as sim_module
    from bayespatial.data.families import FAMILIES
    from bayespatial.engine.crossprod import FE_KINDS

    assert set(sim_module.FE_KINDS) == set(FE_KINDS)
    assert tuple(FAMILIES) == sim_module.MODELS

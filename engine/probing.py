"""Probing vectors from a distance-d colouring of the graph of W.

Hutchinson's estimator with Rademacher probes has variance
2 sum_{i != j} F_ij^2 / p, which for log-determinants near rho = 1 needs
hundreds of thousands of probes to reach 0.02 / sqrt(10 n) per unit. The
entries of F = f(W) decay with graph distance, so *probing* does better
(Tang & Saad 2012, *Numer. Linear Algebra Appl.* 19, 485-501; Stathopoulos,
Laeuchli & Orginos 2013, *SISC* 35, S299-S322): colour the units so that two
units of one colour are more than d steps apart, and use one probe per colour,
z_c = sum_{i in c} s_i e_i with random signs s_i. Then

    sum_c z_c' F z_c = tr(F) + sum_c sum_{i != j in c} s_i s_j F_ij,

unbiased, exact for every polynomial of degree <= d in W, and with variance
2 sum_{same colour, i != j} F_ij^2, which involves only entries between units
more than d apart. The error per unit no longer grows relative to the target
as n grows: the same d serves 3,000 and 10^6 units.

The colouring is greedy: unit i takes the smallest colour not yet "stamped"
on any unit within h = ceil(d / 2) steps of it, then stamps its colour on that
ball; two units whose h-balls meet (distance <= 2h) never share a colour. The
loop over units runs compiled (`jax.lax.fori_loop`) over colour bitsets.
"""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from bayespatial.engine.sparse import as_csr

MAX_WORDS = 32
"""Bitset words per unit: at most 32 * 32 = 1,024 colours (16 words are tried first)."""


class Colouring(NamedTuple):
    """A distance-d colouring of the units."""

    colours: np.ndarray
    """Colour of each unit (0..n_colours-1)."""
    n_colours: int
    """Number of colours used (= probes per replicate)."""
    distance: int
    """Units of one colour are more than this many steps apart."""


def _pattern_product(x: sp.csr_matrix, y: sp.csr_matrix) -> sp.csr_matrix:
    """Pattern of x @ y; counts stay below the int16 limit or int32 is used."""
    big = max(np.diff(x.indptr).max(), np.diff(y.indptr).max()) >= np.iinfo(np.int16).max
    dtype = np.int32 if big else np.int16
    x, y = x.astype(dtype), y.astype(dtype)
    cuts = np.linspace(0, x.shape[0], (os.cpu_count() or 1) + 1).astype(int)
    with ThreadPoolExecutor(max_workers=len(cuts) - 1) as pool:  # row blocks in parallel
        parts = list(pool.map(lambda c: x[c[0] : c[1]] @ y, itertools.pairwise(cuts)))
    z = sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
    z.data[:] = 1
    return z


def ball_pattern(m: sp.spmatrix, radius: int) -> sp.csr_matrix:
    """Pattern of (A + I)^radius for the symmetrised graph A of W (the radius-balls).

    By repeated squaring: about log2(radius) sparse products.
    """
    a = sp.csr_matrix((abs(m) + abs(m).T + sp.identity(m.shape[0], format="csr")) != 0)
    a = a.astype(np.int16)
    ball, power = None, a
    while radius:
        if radius & 1:
            ball = power if ball is None else _pattern_product(ball, power)
        radius >>= 1
        if radius:
            power = _pattern_product(power, power)
    return ball


def _padded(ball: sp.csr_matrix) -> np.ndarray:
    """Row-wise neighbour lists padded with n to a rectangle (n, widest row)."""
    n = ball.shape[0]
    sizes = np.diff(ball.indptr)
    if np.all(sizes == sizes[0]):
        return ball.indices.reshape(n, sizes[0]).astype(np.int32)
    padded = np.full((n, int(sizes.max())), n, dtype=np.int32)
    rows = np.repeat(np.arange(n), sizes)
    cols = np.arange(ball.nnz) - np.repeat(ball.indptr[:-1], sizes)
    padded[rows, cols] = ball.indices
    return padded


@partial(jax.jit, static_argnames="words")
def _greedy(order, balls, words):
    """Greedy colouring over padded balls (n, b) (pad index n) in the given order."""
    n = balls.shape[0]
    stamps = jnp.zeros((n + 1, words), dtype=jnp.uint32)
    colours = jnp.full(n, -1, dtype=jnp.int32)

    def body(k, carry):
        stamps, colours = carry
        i = order[k]
        ball = balls[i]
        used = jnp.bitwise_or.reduce(stamps[ball], axis=0)
        free = ~used
        word = jnp.argmax(free != 0)
        bits = free[word]
        low = bits & (~bits + jnp.uint32(1))
        bit = jax.lax.population_count(low - jnp.uint32(1)).astype(jnp.int32)
        full = ~jnp.any(free != 0)  # every colour taken: flag with 32 * words
        colour = jnp.where(full, 32 * words, word.astype(jnp.int32) * 32 + bit)
        stamps = stamps.at[ball, word].set(stamps[ball, word] | low)  # one word changes
        stamps = stamps.at[n, word].set(jnp.uint32(0))  # keep the pad clean
        return stamps, colours.at[i].set(colour)

    _, colours = jax.lax.fori_loop(0, n, body, (stamps, colours))
    return colours


def colouring(W, distance: int = 16, seed: int = 0) -> Colouring:
    """Greedy colouring with units of one colour more than ``distance`` steps apart.

    Parameters
    ----------
    W : scipy.sparse matrix or `Weights`
        Its non-zero pattern (symmetrised) defines the graph.
    distance : int
        Separation d; probing is then exact for polynomials of degree <= d.
    seed : int
        Seed of the random unit order of the greedy pass.
    """
    m = as_csr(W)
    n = m.shape[0]
    h = max(1, math.ceil(distance / 2))  # h-balls of one colour are disjoint: distance > 2h >= d
    padded = _padded(ball_pattern(sp.csr_matrix(m), h))
    order = np.random.default_rng(seed).permutation(n).astype(np.int32)
    for words in (16, MAX_WORDS):
        colours = np.asarray(_greedy(jnp.asarray(order), jnp.asarray(padded), words))
        n_colours = int(colours.max()) + 1
        if n_colours <= 32 * words:  # no unit was flagged
            break
    else:
        raise ValueError(
            f"distance-{distance} colouring needs more than {32 * MAX_WORDS} colours; "
            "use a smaller distance or Rademacher probes (distance=0)."
        )
    return Colouring(colours, n_colours, 2 * h)


def probe_block(col: Colouring, colours: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Probe columns z_c (n, len(colours)) holding s_i at the units of colour c."""
    n = col.colours.shape[0]
    pos = np.full(col.n_colours, -1)
    pos[colours] = np.arange(len(colours))
    z = np.zeros((n, len(colours)))
    c = pos[col.colours]
    hit = np.flatnonzero(c >= 0)
    z[hit, c[hit]] = signs[hit]
    return z

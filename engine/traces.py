"""Traces tr(W^k) / n, computed once on the host and shared by log-determinants and effects.

tr(W), tr(W^2), tr(W^3), tr(W^4) are exact, from sparse products
(tr(W^2) = sum_ij W_ij W_ji, tr(W^4) = sum_ij (W^2)_ij (W^2)_ji). Higher
orders are probed with vectors fixed at init:

- by default, a distance-16 colouring of the graph with random signs
  (`bayespatial.engine.probing`): one probe per colour, exact for orders
  <= 16, unbiased above. Its Monte Carlo error is estimated by drawing the
  signs of ``check`` random colours a second time: for one colour c the two
  draws differ by e_c' - e_c'' whose variance is twice that of the colour's
  error e_c, with the diagonal cancelled, so
  Var(sum_c e_c) ~ (C / K) sum_{c in check} (q_c' - q_c'')^2 / 2.
- or Hutchinson's Rademacher probes (Barry & Pace 1999, *Linear Algebra
  Appl.* 289, 41-54), tr(A) ~ mean_p z_p' A z_p, with variance
  2 sum_{i != j} A_ij^2 / p, estimated from the spread over probes.

Estimates come with a *deviation matrix* D (one column per independent piece)
such that Var(a' estimate) ~ |a' D|^2 for any weights a, so the error of any
linear functional of the traces (a log-determinant at some rho, its derivative,
an effect) is available.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

try:
    from scipy.sparse._sparsetools import csr_matvecs as _csr_matvecs
except ImportError:  # pragma: no cover
    _csr_matvecs = None

from bayespatial.engine.probing import Colouring, colouring, probe_block
from bayespatial.engine.sparse import as_csr
from bayespatial.engine.spectrum import symmetrise, symmetriser

EXACT_ORDER = 4
"""Orders k <= 4 are computed exactly."""

PROBE_BLOCK = 64
"""Probe vectors multiplied at once (memory: a few n x 64 blocks of doubles)."""


class Traces(NamedTuple):
    """Normalised traces m_k = tr(W^k) / n for k = 0..order."""

    moments: np.ndarray
    """m_0 = 1, m_1..m_4 exact, higher orders probed."""
    dev: np.ndarray
    """Deviation matrix (order + 1, pieces): Var(a' moments) ~ |a' dev|^2."""
    n: int
    """Number of units."""
    probing: str
    """How orders above 4 were probed."""

    @property
    def se(self) -> np.ndarray:
        """Monte Carlo standard error of each m_k (0 where exact)."""
        return np.sqrt((self.dev**2).sum(axis=1))


class ProbeDesign(NamedTuple):
    """Probe vectors: Rademacher, or a distance-d colouring with random signs."""

    colouring: Colouring | None
    """None for Rademacher probes."""
    probes: int
    """Number of Rademacher probes (when ``colouring`` is None)."""
    check: int
    """Colours whose signs are drawn twice to estimate the Monte Carlo error."""
    seed: int
    """Seed of the probes and signs (fixed at init)."""

    @property
    def label(self) -> str:
        """Short description for tables."""
        if self.colouring is None:
            return f"rademacher x{self.probes}"
        c = self.colouring
        return f"colouring d={c.distance} ({c.n_colours} colours, {self.check} checked)"


def exact_power_traces(m: sp.csr_matrix) -> np.ndarray:
    """Exact tr(W^k) / n for k = 0..4 from sparse element-wise products."""
    n = m.shape[0]
    w2 = m @ m
    t = [
        float(n),
        float(m.diagonal().sum()),
        float(m.multiply(m.T).sum()),
        float(w2.multiply(m.T).sum()),
        float(w2.multiply(w2.T).sum()),
    ]
    return np.asarray(t) / n


def make_design(
    W, distance: int = 16, probes: int = 64, check: int = 16, seed: int = 0
) -> ProbeDesign:
    """Probing by a distance-d colouring (default) or ``probes`` Rademacher vectors (d = 0)."""
    if distance <= 0:
        if probes < 2:
            raise ValueError(f"Rademacher probing needs at least 2 probes; got {probes}.")
        return ProbeDesign(None, probes, 0, seed)
    col = colouring(W, distance, seed)
    return ProbeDesign(col, 0, min(check, col.n_colours), seed)


def _blocks(count: int) -> list[np.ndarray]:
    """Split range(count) into equal blocks of at most PROBE_BLOCK, a multiple of the cores."""
    cores = os.cpu_count() or 1
    nblocks = -(-count // PROBE_BLOCK)
    nblocks = -(-nblocks // cores) * cores if count >= cores else nblocks
    return [b for b in np.array_split(np.arange(count), nblocks) if len(b)]


def probe_blocks(design: ProbeDesign, n: int):
    """Yield (Z, kind, label): Z (n, b) probe columns; kind 0 = estimate, 1 = second draw."""
    rng = np.random.default_rng(design.seed)
    if design.colouring is None:
        z = rng.integers(0, 2, size=(n, design.probes), dtype=np.int8).astype(float) * 2 - 1
        for idx in _blocks(design.probes):
            yield np.ascontiguousarray(z[:, idx]), 0, idx
        return
    col = design.colouring
    signs = rng.integers(0, 2, size=n).astype(float) * 2 - 1
    checked = np.sort(rng.choice(col.n_colours, size=design.check, replace=False))
    signs2 = rng.integers(0, 2, size=n).astype(float) * 2 - 1
    for idx in _blocks(col.n_colours):
        yield probe_block(col, idx, signs), 0, idx
    for idx in _blocks(design.check):
        yield probe_block(col, checked[idx], signs2), 1, checked[idx]


def spmm_into(op: sp.csr_matrix, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Out = op @ x without allocating (scipy's sparsetools kernel; avoids page faults)."""
    if _csr_matvecs is None:  # pragma: no cover - older or newer scipy layouts
        out[...] = op @ x
        return out
    out.fill(0.0)
    _csr_matvecs(
        op.shape[0], op.shape[1], x.shape[1], op.indptr, op.indices, op.data, x.ravel(), out.ravel()
    )
    return out


def _block_forms(op, x, order, cheb, symmetric):
    """Forms z' P_k z (k = 0..order) for the probe columns x (n, b); see `forms_by_probe`."""
    dots = np.zeros((order + 1, x.shape[1]))
    dots[0] = np.einsum("ij,ij->j", x, x)
    steps = (order + 1) // 2 if symmetric else order
    # the symmetric recurrence needs x only until step 1, so its buffer is recycled
    prev, cur, spare = np.zeros_like(x), (x if symmetric else x.copy()), np.empty_like(x)
    op2 = 2.0 * op if cheb else op  # T_k = (2 M) T_{k-1} - T_{k-2}: no extra pass to double
    for k in range(1, steps + 1):
        nxt = spmm_into(op2 if k > 1 else op, cur, spare)
        if cheb and k > 1:
            nxt -= prev
        prev, cur, spare = cur, nxt, prev  # V_{k-1}, V_k, free buffer
        if not symmetric:
            dots[k] = np.einsum("ij,ij->j", x, cur)
            continue
        odd = np.einsum("ij,ij->j", prev, cur)  # order 2k - 1
        if k == 1:
            dots[1] = odd
        elif 2 * k - 1 <= order:
            dots[2 * k - 1] = 2.0 * odd - dots[1] if cheb else odd
        if 2 * k <= order:
            even = np.einsum("ij,ij->j", cur, cur)
            dots[2 * k] = 2.0 * even - dots[0] if cheb else even
    return dots


def forms_by_probe(op, design: ProbeDesign, n: int, order: int, recurrence: str, symmetric: bool):
    """Quadratic forms z' P_k z, k = 0..order, for every probe vector.

    ``op`` is the sparse operator M; P_k = M^k (``recurrence="power"``) or the
    Chebyshev polynomial T_k(M) (T_k = 2 M T_{k-1} - T_{k-2}). For a symmetric
    M only order/2 products are needed: z'M^{2k}z = |M^k z|^2,
    z'T_{2k}(M) z = 2 |T_k z|^2 - |z|^2 and the odd analogues. Blocks of
    probes run on a thread pool (scipy and numpy release the GIL).

    Returns (forms (order + 1, vectors), kind, label) with ``kind``/``label`` as
    in `probe_blocks`.
    """
    op = as_csr(op)  # sorted for the products, without rewriting the caller's arrays
    cheb = recurrence == "chebyshev"
    blocks = list(probe_blocks(design, n))
    with ThreadPoolExecutor(max_workers=min(len(blocks), os.cpu_count() or 1)) as pool:
        dots = list(pool.map(lambda b: _block_forms(op, b[0], order, cheb, symmetric), blocks))
    kinds = [np.full(b[0].shape[1], b[1]) for b in blocks]
    labels = [b[2] for b in blocks]
    return np.concatenate(dots, axis=1), np.concatenate(kinds), np.concatenate(labels)


def combine(forms: np.ndarray, kind: np.ndarray, label: np.ndarray, design: ProbeDesign):
    """Trace estimates (sum over colours / mean over probes) and their deviation matrix."""
    if design.colouring is None:
        p = forms.shape[1]
        est = forms.mean(axis=1)
        return est, (forms - est[:, None]) / np.sqrt(p * (p - 1))
    first = forms[:, kind == 0]
    est = first.sum(axis=1)
    second = forms[:, kind == 1]
    c, k = first.shape[1], second.shape[1]
    dev = (first[:, label[kind == 1]] - second) * np.sqrt(c / (2.0 * k))
    return est, dev


def init_traces(
    W,
    order: int = 50,
    distance: int = 16,
    probes: int = 64,
    check: int = 16,
    seed: int = 0,
) -> Traces:
    """Compute tr(W^k)/n for k = 0..order: exact to 4, probed above.

    Parameters
    ----------
    W : Weights or scipy.sparse matrix
        The spatial weights (as used in the model, e.g. row-standardised).
    order : int
        Highest power.
    distance : int
        Probing by a distance-d colouring (`bayespatial.engine.probing`), exact
        for k <= d; 0 for ``probes`` Rademacher vectors.
    check : int
        Colours drawn twice to estimate the Monte Carlo error.
    seed : int
        Fixes probes and signs at init.
    """
    m, symmetric = symmetric_form(W)
    n = m.shape[0]
    exact = exact_power_traces(m)
    if order <= EXACT_ORDER:
        return Traces(exact[: order + 1], np.zeros((order + 1, 1)), n, "exact")
    design = make_design(m, distance, probes, check, seed)
    est, dev = combine(*forms_by_probe(m, design, n, order, "power", symmetric), design)
    est, dev = est / n, dev / n
    est[: EXACT_ORDER + 1] = exact
    dev[: EXACT_ORDER + 1] = 0.0
    return Traces(est, dev, n, design.label)


def symmetric_form(W) -> tuple[sp.csr_matrix, bool]:
    """S = D^1/2 W D^-1/2 and True when W is similar to a symmetric matrix, else (W, False).

    S has the traces, the eigenvalues and the sparsity pattern of W.
    """
    m = as_csr(W)
    d = symmetriser(W)
    return (m, False) if d is None else (symmetrise(m, d), True)

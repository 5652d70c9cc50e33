# SPDX-License-Identifier: GPL-2.0-only
"""Adaptive common neighbour analysis (a-CNA) for bcc, fcc and hcp, in NumPy.

Each atom gets its own cutoff from its nearest neighbours (Stukowski, Modelling Simul. Mater. Sci.
Eng. 20, 045021 (2012)), so strained lattices are still recognised. A bond i-j has the signature
(common neighbours, bonds among them, bonds in the longest connected chain of those bonds);
fcc: 12 × (4,2,1); hcp: 6 × (4,2,1) + 6 × (4,2,2); bcc: 8 × (6,6,6) + 6 × (4,4,4).
Atoms of non-periodic axes near the edge simply have too few neighbours and come out "other".
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

STRUCTURES = ("other", "fcc", "hcp", "bcc")
_FACTOR = (1.0 + np.sqrt(2.0)) / 2.0  # midway between the 1st and 2nd fcc shells, in units of d1


def _longest_chain(edges: list[tuple[int, int]]) -> int:
    """Bonds in the largest connected group of bonds (CNA's third index)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    sizes: dict[int, int] = {}
    for a, _ in edges:
        root = find(a)
        sizes[root] = sizes.get(root, 0) + 1
    return max(sizes.values(), default=0)


def _signatures(vectors: np.ndarray, cutoff: float) -> list[tuple[int, int, int]]:
    """CNA signature of every bond from the central atom to `vectors` (relative positions)."""
    close = np.linalg.norm(vectors[:, None, :] - vectors[None, :, :], axis=2) < cutoff
    np.fill_diagonal(close, False)
    out = []
    for j in range(len(vectors)):
        common = np.flatnonzero(close[j])
        sub = close[np.ix_(common, common)]
        edges = [(int(a), int(b)) for a, b in zip(*np.nonzero(np.triu(sub)))]
        out.append((len(common), len(edges), _longest_chain(edges)))
    return out


def adaptive_cna(atoms: Atoms, max_distance: float | None = None) -> np.ndarray:
    """Structure name per atom ('bcc', 'fcc', 'hcp' or 'other').

    `max_distance` bounds the neighbour search; default 1.6 × the median nearest-neighbour distance,
    enough for the 14th bcc neighbour (1.155 d1) at strains beyond ±15 %.
    """
    n = len(atoms)
    labels = np.full(n, "other", dtype=object)
    if n < 2:
        return labels
    if max_distance is None:
        probe = 6.0
        i, d = neighbor_list("id", atoms, probe)
        if len(d) == 0:
            return labels
        nearest = np.full(n, np.inf)
        np.minimum.at(nearest, i, d)
        max_distance = 1.6 * float(np.median(nearest[np.isfinite(nearest)]))
    i, d, D = neighbor_list("idD", atoms, max_distance)
    order = np.lexsort((d, i))
    i, d, D = i[order], d[order], D[order]
    starts = np.searchsorted(i, np.arange(n + 1))
    for a in range(n):
        dist, vec = d[starts[a]:starts[a + 1]], D[starts[a]:starts[a + 1]]
        if len(dist) >= 12:
            cut = _FACTOR * dist[:12].mean()
            sig = _signatures(vec[:12], cut)
            n421 = sig.count((4, 2, 1))
            if n421 == 12:
                labels[a] = "fcc"
                continue
            if n421 == 6 and sig.count((4, 2, 2)) == 6:
                labels[a] = "hcp"
                continue
        if len(dist) >= 14:
            cut = _FACTOR * (2.0 / np.sqrt(3.0) * dist[:8].mean() + dist[8:14].mean()) / 2.0
            sig = _signatures(vec[:14], cut)
            if sig.count((6, 6, 6)) == 8 and sig.count((4, 4, 4)) == 6:
                labels[a] = "bcc"
    return labels


def bulk_fraction(atoms: Atoms, mask: np.ndarray, structure: str) -> float:
    """Fraction of the `mask` atoms whose a-CNA structure is `structure` (nan when the mask is empty)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return float("nan")
    return float(np.mean(adaptive_cna(atoms)[mask] == structure))

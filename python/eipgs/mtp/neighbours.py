# SPDX-License-Identifier: GPL-2.0-only
"""Neighbour lists for MTP neighbourhoods: every periodic image with r < R_cut (strict), including
images of the central atom itself in cells shorter than the cutoff (doc/design/mtp.md §1.2, §11.5).

Periodic images within the cutoff of the cell are generated explicitly (as many repetitions as the
plane spacings require, so tiny cells work) and all pairs are found with a k-d tree.
"""

from __future__ import annotations

import itertools

import numpy as np
from ase.geometry import complete_cell
from scipy.spatial import cKDTree

__all__ = ["neighbour_pairs"]


def neighbour_pairs(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc,
    cutoff: float,
    include: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j, D) with D = r_j + shift − r_i and |D| < cutoff, sorted by i (then j).

    ``include`` (bool, per atom) restricts both centres and neighbours to the selected atoms (atoms
    of excluded LAMMPS types are neither graded nor neighbours). Indices refer to ``positions``.
    """
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    idx = np.arange(n) if include is None else np.flatnonzero(include)
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    if len(idx) == 0:
        return empty
    pos = positions[idx]
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    cell = np.asarray(cell, dtype=float).reshape(3, 3)
    images = pos
    owner = np.arange(len(pos))
    if pbc.any():
        if np.any(np.linalg.norm(cell[pbc], axis=1) == 0):
            raise ValueError("a periodic direction has a zero cell vector")
        # Non-periodic directions may have zero vectors (2-row Supercell): any completion works,
        # because those fractional coordinates are neither wrapped nor replicated.
        cell = complete_cell(cell)
        if abs(np.linalg.det(cell)) < 1e-12:
            raise ValueError("periodic neighbour list needs linearly independent cell vectors")
        inv = np.linalg.inv(cell)
        frac = pos @ inv
        # Wrap along periodic directions only; D is unchanged because both ends shift consistently.
        frac[:, pbc] -= np.floor(frac[:, pbc])
        pos = frac @ cell
        volume = abs(np.linalg.det(cell))
        # Distance between lattice planes normal to each direction; images needed = ceil(cutoff / spacing).
        spacing = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
        reps = np.where(pbc, np.ceil(cutoff / spacing).astype(int), 0)
        margin = np.where(pbc, cutoff / spacing, np.inf)
        shifts = np.array(list(itertools.product(*(range(-r, r + 1) for r in reps))), dtype=float)
        all_frac = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
        all_owner = np.tile(np.arange(len(pos)), len(shifts))
        keep = np.all((all_frac > -margin) & (all_frac < 1 + margin), axis=1)
        images = all_frac[keep] @ cell
        owner = all_owner[keep]
    eps = 1e-9 * (1.0 + cutoff)
    pairs = cKDTree(pos).sparse_distance_matrix(cKDTree(images), cutoff + eps, output_type="ndarray")
    i = pairs["i"].astype(np.int64)
    k = pairs["j"].astype(np.int64)
    D = images[k] - pos[i]
    r = np.sqrt(np.einsum("ij,ij->i", D, D))
    j = owner[k]
    # Strict cutoff as MLIP-3. r = 0 is the atom itself, unless another atom sits on the same site:
    # that pair is kept, so the evaluator can flag the overlap instead of silently ignoring it.
    keep = (r < cutoff) & ~((r == 0) & (j == i))
    i, j, D = i[keep], j[keep], D[keep]
    order = np.lexsort((j, i))
    return idx[i[order]], idx[j[order]], D[order]

"""Neighbour lists for MTP neighbourhoods: every periodic image with r < R_cut (strict), including
images of the central atom itself in cells shorter than the cutoff (mtp-grade.md §1.2, §11.5)."""

from __future__ import annotations

import numpy as np
from ase.geometry import complete_cell
from ase.neighborlist import primitive_neighbor_list

__all__ = ["neighbour_pairs"]


def neighbour_pairs(
    positions: np.ndarray,
    cell: np.ndarray,
    pbc,
    cutoff: float,
    include: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j, D) with D = r_j + shift − r_i and |D| < cutoff, sorted by i.

    ``include`` (bool, per atom) restricts both centres and neighbours to the selected atoms (atoms
    of excluded LAMMPS types are neither graded nor neighbours). Indices refer to ``positions``.
    """
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    idx = np.arange(n) if include is None else np.flatnonzero(include)
    if len(idx) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    cell = np.asarray(cell, dtype=float)
    if pbc.any():
        lengths = np.linalg.norm(cell, axis=1)
        if np.any(lengths[pbc] == 0):
            raise ValueError("a periodic direction has a zero cell vector")
    # A small margin, then the strict r < R_cut test ourselves: MLIP-3 uses '<'.
    i, j, D = primitive_neighbor_list(
        "ijD", pbc, complete_cell(cell), positions[idx], cutoff * (1 + 1e-9) + 1e-9, self_interaction=False
    )
    keep = np.sqrt(np.einsum("ij,ij->i", D, D)) < cutoff
    i, j, D = i[keep], j[keep], D[keep]
    order = np.argsort(i, kind="stable")
    return idx[i[order]], idx[j[order]], D[order]

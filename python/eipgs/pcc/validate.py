# SPDX-License-Identifier: GPL-2.0-only
"""Checks every PCC cell must pass (doc/design/pcc.md §10-§11), by brute force in NumPy."""

from __future__ import annotations

import numpy as np
from ase import Atoms


def _image_shifts(cell: np.ndarray, reach: float) -> np.ndarray:
    """Lattice translations n·cell with every |n_a| <= ceil(reach / plane spacing) + 1."""
    volume = abs(np.linalg.det(cell))
    spacing = [volume / np.linalg.norm(np.cross(cell[(a + 1) % 3], cell[(a + 2) % 3])) for a in range(3)]
    reps = [int(np.ceil(reach / s)) + 1 for s in spacing]
    grid = np.array(np.meshgrid(*[np.arange(-r, r + 1) for r in reps], indexing="ij")).reshape(3, -1).T
    return grid @ cell


def neighbourhood(atoms: Atoms, center: int, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, atomic numbers) of all atoms and periodic images with 0 < r < cutoff of the centre."""
    rel = atoms.positions - atoms.positions[center]
    if atoms.pbc.all():
        shifts = _image_shifts(np.asarray(atoms.cell), cutoff)
        vec = (rel[:, None, :] + shifts[None, :, :]).reshape(-1, 3)
        numbers = np.repeat(atoms.numbers, len(shifts))
    else:
        vec, numbers = rel, atoms.numbers
    r = np.linalg.norm(vec, axis=1)
    keep = (r < cutoff) & (r > 0.0)
    return vec[keep], numbers[keep]


def neighbourhood_deviation(source: Atoms, source_center: int, cell: Atoms, cell_center: int, cutoff: float) -> float:
    """Largest mismatch (Å) between the centre's neighbourhoods; inf when counts or species differ."""
    v0, z0 = neighbourhood(source, source_center, cutoff)
    v1, z1 = neighbourhood(cell, cell_center, cutoff)
    if len(v0) != len(v1):
        return float("inf")
    if len(v0) == 0:
        return 0.0
    d = np.linalg.norm(v0[:, None, :] - v1[None, :, :], axis=2)
    nearest = d.argmin(axis=1)
    if len(set(nearest.tolist())) != len(v0) or not np.array_equal(z0, z1[nearest]):
        return float("inf")
    return float(d[np.arange(len(v0)), nearest].max())


def min_distance(atoms: Atoms, mask: np.ndarray | None = None) -> float:
    """Smallest interatomic distance (periodic images included); only pairs touching `mask` atoms if given."""
    pos = atoms.positions
    shifts = _image_shifts(np.asarray(atoms.cell), 3.0) if atoms.pbc.all() else np.zeros((1, 3))
    rows = np.flatnonzero(mask) if mask is not None else np.arange(len(atoms))
    best = np.inf
    for i in rows:
        d = pos[None, :, :] + shifts[:, None, :] - pos[i]
        r = np.linalg.norm(d, axis=2)
        r[r == 0.0] = np.inf
        best = min(best, float(r.min()))
    return best


def min_inserted_center_distance(atoms: Atoms, center: int, inserted: np.ndarray) -> float:
    """Smallest distance of an inserted atom (or any of its images) to the centre."""
    if not inserted.any():
        return float("inf")
    rel = atoms.positions[inserted] - atoms.positions[center]
    shifts = _image_shifts(np.asarray(atoms.cell), 10.0)
    return float(np.linalg.norm(rel[:, None, :] + shifts[None, :, :], axis=2).min())

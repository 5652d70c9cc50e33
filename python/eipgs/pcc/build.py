# SPDX-License-Identifier: GPL-2.0-only
"""Test and benchmark clusters cut from W crystals: vacancy, interstitial, strained, surface.

They have the layout `fix cluster/sample` writes (centre at the origin, `info['radius']`), so the
tests and benchmarks/pcc.py feed `eipgs pcc` exactly what it gets in production.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

A_W = 3.16485  # Å, Zhou 2004 W bcc lattice constant (doc/design/pcc.md §6)


def _crystal(strain: np.ndarray | None, reps: int = 8) -> Atoms:
    crystal = bulk("W", "bcc", a=A_W, cubic=True).repeat((reps, reps, reps))
    if strain is not None:
        F = np.eye(3) + np.asarray(strain, dtype=float)
        crystal.set_cell(crystal.cell[:] @ F.T, scale_atoms=True)
    return crystal


def _sphere(crystal: Atoms, center: int, radius: float, drop: np.ndarray | None = None,
            extra: np.ndarray | None = None) -> Atoms:
    rel = crystal.positions - crystal.positions[center]
    keep = np.linalg.norm(rel, axis=1) < radius
    if drop is not None:
        keep &= ~drop
    positions = rel[keep]
    ids = np.flatnonzero(keep) + 1
    if extra is not None:
        positions = np.vstack([positions, extra])
        ids = np.concatenate([ids, len(crystal) + 1 + np.arange(len(extra))])
    cluster = Atoms("W" * len(positions), positions=positions, pbc=False)
    cluster.arrays["id"] = ids
    cluster.info.update(center_id=center + 1, radius=radius)
    return cluster


def _central_atom(crystal: Atoms) -> int:
    return int(np.argmin(np.linalg.norm(crystal.positions - crystal.cell.sum(axis=0) / 2, axis=1)))


def vacancy_cluster(radius: float = 8.0, strain: np.ndarray | None = None) -> Atoms:
    """A sphere of bcc W around an atom next to a vacancy (optionally homogeneously strained: x → (1+strain)·x)."""
    crystal = _crystal(strain)
    center = _central_atom(crystal)
    rel = crystal.positions - crystal.positions[center]
    r = np.linalg.norm(rel, axis=1)
    vacancy = int(np.argsort(r)[1])  # a first neighbour of the centre
    return _sphere(crystal, center, radius, drop=np.arange(len(crystal)) == vacancy)


def strained_cluster(strain, radius: float = 8.0) -> Atoms:
    """A defect-free sphere of W strained by x → (1+strain)·x; its centre's γ is high for a bulk-trained MTP."""
    crystal = _crystal(np.asarray(strain, dtype=float))
    return _sphere(crystal, _central_atom(crystal), radius)


def uniaxial(eps: float, axis: int = 2) -> np.ndarray:
    strain = np.zeros((3, 3))
    strain[axis, axis] = eps
    return strain


def shear(gamma: float, i: int = 0, j: int = 1) -> np.ndarray:
    """Simple shear: x_i += gamma · x_j."""
    strain = np.zeros((3, 3))
    strain[i, j] = gamma
    return strain


def interstitial_cluster(radius: float = 8.0) -> Atoms:
    """A <110> dumbbell (unrelaxed, 2.2 Å apart) replacing the second neighbour of the centre along +x."""
    crystal = _crystal(None)
    center = _central_atom(crystal)
    rel = crystal.positions - crystal.positions[center]
    site = int(np.argmin(np.linalg.norm(rel - np.array([A_W, 0.0, 0.0]), axis=1)))
    half = 1.1 * np.array([1.0, 1.0, 0.0]) / np.sqrt(2.0)
    extra = rel[site] + np.array([half, -half])
    # the dumbbell pushes its neighbours outwards (roughly as relaxation would), so no pair is closer than 2.2 Å
    crystal = crystal.copy()
    for atom in extra:
        vec = crystal.positions - crystal.positions[center] - atom
        r = np.linalg.norm(vec, axis=1)
        near = (r < 2.9) & (np.arange(len(crystal)) != site) & (np.arange(len(crystal)) != center)
        crystal.positions[near] += 0.3 * vec[near] / r[near, None]
    return _sphere(crystal, center, radius, drop=np.arange(len(crystal)) == site, extra=extra)


def surface_cluster(radius: float = 8.0, depth: int = 0) -> Atoms:
    """A sphere around an atom `depth` (001) layers below a free (001) surface of bcc W (0: in the top layer)."""
    crystal = _crystal(None)
    center = _central_atom(crystal)
    z0 = crystal.positions[center, 2]
    spacing = A_W / 2
    above = crystal.positions[:, 2] > z0 + (depth + 0.25) * spacing
    return _sphere(crystal, center, radius, drop=above)


def grain_boundary_cluster(radius: float = 8.0, angle: float = 36.87) -> Atoms:
    """A sphere around an atom at a symmetric [001] tilt boundary (default Σ5, 36.87°), unrelaxed:
    grains rotated by ±angle/2 about z meet at x = 0; of two atoms closer than 1.6 Å one is dropped."""
    crystal = _crystal(None, reps=10)
    center0 = _central_atom(crystal)
    base = crystal.positions - crystal.positions[center0]
    grains = []
    for sign, side in ((1.0, base[:, 0] < 0.0), (-1.0, None)):
        t = np.radians(sign * angle / 2)
        rot = np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])
        pos = base @ rot.T
        grains.append(pos[pos[:, 0] < 0.0] if sign > 0 else pos[pos[:, 0] >= 0.0])
    pos = np.vstack(grains)
    pos = pos[np.linalg.norm(pos, axis=1) < radius + 2.0]
    keep = np.ones(len(pos), dtype=bool)
    for k in range(len(pos)):
        if keep[k]:
            close = np.linalg.norm(pos - pos[k], axis=1) < 1.6
            close[: k + 1] = False
            keep[close] = False
    pos = pos[keep]
    center = int(np.argmin(np.linalg.norm(pos, axis=1)))
    rel = pos - pos[center]
    inside = np.linalg.norm(rel, axis=1) < radius
    cluster = Atoms("W" * int(inside.sum()), positions=rel[inside], pbc=False)
    cluster.arrays["id"] = np.flatnonzero(inside) + 1
    cluster.info.update(center_id=int(center) + 1, radius=radius)
    return cluster

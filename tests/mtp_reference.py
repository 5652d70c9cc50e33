# SPDX-License-Identifier: GPL-2.0-only
"""Helpers shared by the MTP-grade tests: the MLIP-3 reference grades, LAMMPS data files and
brute-force periodic neighbourhoods (numpy, independent of the C++ code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def reference_grades(path: Path) -> dict[int, float]:
    """``lammps_atom_id nbh_grade`` lines of reference/grades/*.grades.txt."""
    data = np.loadtxt(path)
    return {int(i): float(g) for i, g in data}


def read_atomic_data(path: Path):
    """(ids, types, positions, cell rows) of a LAMMPS ``Atoms # atomic`` data file."""
    lines = Path(path).read_text().splitlines()
    lo = {}
    tilt = (0.0, 0.0, 0.0)
    natoms = 0
    for line in lines:
        w = line.split()
        if len(w) >= 2 and w[1] == "atoms":
            natoms = int(w[0])
        for ax in "xyz":
            if len(w) == 4 and w[2] == f"{ax}lo" and w[3] == f"{ax}hi":
                lo[ax] = (float(w[0]), float(w[1]))
        if len(w) == 6 and w[3:] == ["xy", "xz", "yz"]:
            tilt = tuple(float(v) for v in w[:3])
    start = next(i for i, l in enumerate(lines) if l.startswith("Atoms")) + 2
    rows = np.array([[float(v) for v in l.split()[:5]] for l in lines[start : start + natoms]])
    xy, xz, yz = tilt
    cell = np.array(
        [
            [lo["x"][1] - lo["x"][0], 0.0, 0.0],
            [xy, lo["y"][1] - lo["y"][0], 0.0],
            [xz, yz, lo["z"][1] - lo["z"][0]],
        ]
    )
    return rows[:, 0].astype(int), rows[:, 1].astype(int), rows[:, 2:5], cell


def neighbourhoods(positions: np.ndarray, cell: np.ndarray, rc: float, centres=None):
    """For each centre, (indices, displacement vectors) of all periodic images with 0 < r < rc."""
    n = len(positions)
    centres = range(n) if centres is None else centres
    shifts = np.array([[a, b, c] for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1)]) @ cell
    out = []
    for i in centres:
        d = positions[None, :, :] - positions[i][None, None, :] + shifts[:, None, :]
        r = np.linalg.norm(d, axis=2)
        mask = (r < rc) & (r > 0)
        img, j = np.nonzero(mask)
        out.append((j, d[img, j]))
    return out


def write_neighbourhoods(path: Path, centres_species, nbhs, species) -> None:
    """The text format read by ``eipgs-core-check grade`` (see plugin/tools/eipgs_core_check.cpp)."""
    parts = []
    for sc, (j, d) in zip(centres_species, nbhs):
        parts.append(f"atom {sc} {len(j)}")
        parts.extend(f"{species[jj]} {x:.17g} {y:.17g} {z:.17g}" for jj, (x, y, z) in zip(j, d))
    Path(path).write_text("\n".join(parts) + "\n")


def parse_grade_output(text: str):
    """(gammas, energies, rows) printed by ``eipgs-core-check grade``."""
    gammas, energies, rows = [], [], []
    for line in text.splitlines():
        if line.startswith("atom "):
            w = line.split()
            gammas.append(float(w[3]))
            energies.append(float(w[5]))
        elif line.startswith("b "):
            rows.append([float(v) for v in line.split()[1:]])
    return np.array(gammas), np.array(energies), np.array(rows)

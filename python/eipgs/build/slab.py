# SPDX-License-Identifier: GPL-2.0-only
"""A slab with two free surfaces in a periodic box (``eipgs build slab``), from ASE's surface builders."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bcc100, bcc110, bcc111, fcc100, fcc110, fcc111

from eipgs.build import W_LATTICE_CONSTANT

_BUILDERS = {("bcc", "100"): bcc100, ("bcc", "110"): bcc110, ("bcc", "111"): bcc111,
             ("fcc", "100"): fcc100, ("fcc", "110"): fcc110, ("fcc", "111"): fcc111}


def slab(size: tuple[int, int, int], *, surface: str = "100", element: str = "W", structure: str = "bcc",
         a: float = W_LATTICE_CONSTANT, vacuum: float = 10.0, fixed_layers: int = 0) -> Atoms:
    """(nx, ny, layers) slab with its ``surface`` normal along z and ``vacuum`` Å of empty space on each side.

    The box is periodic in x and y; along z the vacuum separates the slab from its image. With
    ``fixed_layers`` > 0 the bottom layers get LAMMPS type 2 (same element), for decks that hold them
    fixed (e.g. the nanoindentation substrate); the rest are type 1.
    """
    key = (structure, surface.strip("()"))
    if key not in _BUILDERS:
        raise ValueError(f"--surface {surface} with {structure}: supported are "
                         f"{', '.join(s for st, s in _BUILDERS if st == structure)}")
    nx, ny, layers = (int(v) for v in size)
    if min(nx, ny) < 2 or layers < 4:
        raise ValueError(f"--size {nx} {ny} {layers}: need at least 2 × 2 surface cells and 4 layers")
    if fixed_layers < 0 or fixed_layers >= layers - 1:
        raise ValueError(f"--fixed-layers {fixed_layers}: must lie in [0, {layers - 2}] for {layers} layers")
    if vacuum < 0:
        raise ValueError(f"--vacuum must be >= 0 Å, got {vacuum}")
    kwargs = {"orthogonal": True} if key[1] != "100" else {}
    atoms = _BUILDERS[key](element, size=(nx, ny, layers), a=a, vacuum=vacuum, **kwargs)
    z = atoms.positions[:, 2]
    planes = np.unique(np.round(z, 4))
    types = np.ones(len(atoms), dtype=np.int64)
    if fixed_layers:
        types[z < planes[fixed_layers - 1] + 1e-3] = 2
    atoms.arrays["type"] = types
    atoms.info.update(layers=len(planes), surface=key[1], lattice_constant=a)
    return atoms

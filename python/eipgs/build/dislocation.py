# SPDX-License-Identifier: GPL-2.0-only
"""A ½<111> screw dislocation in bcc (``eipgs build dislocation``), with matscipy's builder.

matscipy (LGPL-2.1) places the core at its known position in the [111] projection and displaces the
atoms by the anisotropic (Stroh) elastic field of the cubic crystal, solved by its own code (method
``adsl``; atomman is not needed). The cylinder axis z is the line direction [111], x = [11-2] and
y = [-110], so the glide plane of the screw is the (-110) plane, normal to y. The outer shell of
width ``fix_width`` keeps the elastic field as a boundary condition: its atoms get LAMMPS type 2.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from eipgs.build import W_ELASTIC_CONSTANTS, W_LATTICE_CONSTANT


def screw_dislocation(radius: float, *, length: int = 3, element: str = "W", a: float = W_LATTICE_CONSTANT,
                      elastic=W_ELASTIC_CONSTANTS, fix_width: float = 6.0, vacuum: float = 10.0) -> Atoms:
    """Cylinder of ``radius`` Å around a ½[111] screw dislocation, ``length`` Burgers vectors long (periodic z).

    Returns Atoms with ``arrays["type"]`` (1 mobile, 2 fixed shell), ``info["core"]`` (x, y of the core in Å),
    ``info["burgers"]`` (Å, along z) and ``info["axes"]`` (crystal directions of x, y, z), plus
    ``arrays["reference"]``, the perfect-crystal positions of the same atoms.
    """
    from matscipy.dislocation import BCCScrew111Dislocation

    b = np.sqrt(3.0) / 2.0 * a
    if radius < 2.0 * a + fix_width:
        raise ValueError(f"--radius {radius:g} Å: the mobile region needs at least two lattice constants inside "
                         f"the fixed shell of {fix_width:g} Å; use --radius >= {2 * a + fix_width:.2f}")
    if length < 1:
        raise ValueError(f"--length must be >= 1 Burgers vector, got {length}")
    c11, c12, c44 = elastic
    builder = BCCScrew111Dislocation(a, c11, c12, c44, symbol=element)
    ref, disloc, fix_mask = builder.build_cylinder(radius, fix_width=fix_width, method="adsl", verbose=False,
                                                   return_fix_mask=True)
    types = np.where(fix_mask, 2, 1).astype(np.int64)
    core = np.asarray(disloc.info["core_positions"][0], dtype=float)
    positions, reference = disloc.positions.copy(), ref.positions.copy()
    # wrap z into [0, b): the cylinder is one Burgers vector long and periodic along the line
    shift = np.floor(reference[:, 2] / b) * b
    positions[:, 2] -= shift
    reference[:, 2] -= shift
    period = np.arange(length)[:, None, None] * np.array([0.0, 0.0, b])
    positions = (positions[None] + period).reshape(-1, 3)
    reference = (reference[None] + period).reshape(-1, 3)
    types = np.tile(types, length)
    lo = reference[:, :2].min(axis=0) - vacuum
    hi = reference[:, :2].max(axis=0) + vacuum
    offset = np.array([-lo[0], -lo[1], 0.0])
    positions[:, 2] = np.mod(positions[:, 2], length * b)  # the screw displaces some atoms across z = 0 or Lz
    atoms = Atoms([element] * len(positions), positions=positions + offset,
                  cell=np.diag([hi[0] - lo[0], hi[1] - lo[1], length * b]), pbc=(False, False, True))
    atoms.arrays["type"] = types
    atoms.arrays["reference"] = reference + offset
    atoms.info.update(core=core[:2] + offset[:2], burgers=b, axes=[[1, 1, -2], [-1, 1, 0], [1, 1, 1]],
                      lattice_constant=a, radius=radius, fix_width=fix_width)
    return atoms

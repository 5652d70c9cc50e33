# SPDX-License-Identifier: GPL-2.0-only
"""A mode-I crack under a K-controlled load (``eipgs build crack``), with matscipy's anisotropic K field.

A rectangular block of cubic crystal, crack plane (010) (normal y), front along [001] (z, periodic),
propagation along x = [100]. Every atom is displaced by the plane-strain mode-I near-tip field of the
anisotropic crystal (matscipy ``CubicCrystalCrack``, Sih-Paris-Irwin) for the stress intensity K_I;
the tip sits between two (010) planes so that the two crack faces are the half-planes above and below it
behind the tip. Atoms within ``fix_width`` of the block's outer faces get LAMMPS type 2: the deck holds
them at the K field, which is what makes the load K-controlled.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk

from eipgs.build import W_ELASTIC_CONSTANTS, W_LATTICE_CONSTANT

MPA_SQRT_M = 1e-3 * 1e5  # 1 MPa·√m in GPa·√Å (1 m = 10^10 Å)


def crack(size: tuple[int, int, int], k: float, *, element: str = "W", a: float = W_LATTICE_CONSTANT,
          elastic=W_ELASTIC_CONSTANTS, fix_width: float = 6.0, vacuum: float = 10.0) -> Atoms:
    """(nx, ny, nz) cubic cells with a crack tip at the centre loaded to K_I = ``k`` MPa·√m.

    Returns Atoms with ``arrays["type"]`` (1 mobile, 2 fixed boundary), ``arrays["reference"]`` (perfect
    crystal positions), ``info["tip"]`` (x, y in Å) and ``info["k_gpa_sqrt_angstrom"]``.
    """
    from matscipy.fracture_mechanics.crack import CubicCrystalCrack

    nx, ny, nz = (int(v) for v in size)
    if min(nx, ny) < 6 or nz < 1:
        raise ValueError(f"--size {nx} {ny} {nz}: need at least 6 × 6 cells in the crack plane and 1 along the front")
    if min(nx, ny) * a < 2.0 * fix_width + 4.0 * a:
        raise ValueError(f"--size {nx} {ny} {nz} with --fix-width {fix_width:g} Å leaves no mobile region "
                         f"around the tip: use more cells or a thinner fixed boundary")
    if k < 0:
        raise ValueError(f"--k must be >= 0 MPa·√m, got {k}")
    cell = bulk(element, "bcc", a=a, cubic=True).repeat((nx, ny, nz))
    reference = cell.positions.copy()
    # tip between the two (010) planes at the middle, on no atom column along x either
    tip = np.array([(nx // 2 + 0.125) * a, (ny // 2 - 0.25) * a])
    c11, c12, c44 = elastic
    field = CubicCrystalCrack([0, 1, 0], [0, 0, 1], c11, c12, c44)
    k_internal = k * MPA_SQRT_M
    ux, uy = field.displacements(reference[:, 0], reference[:, 1], tip[0], tip[1], k_internal)
    positions = reference.copy()
    positions[:, 0] += ux
    positions[:, 1] += uy
    lengths = np.array([nx, ny, nz], dtype=float) * a
    boundary = ((reference[:, 0] < fix_width) | (reference[:, 0] > lengths[0] - a / 2 - fix_width)
                | (reference[:, 1] < fix_width) | (reference[:, 1] > lengths[1] - a / 2 - fix_width))
    offset = np.array([vacuum, vacuum, 0.0])
    atoms = Atoms([element] * len(positions), positions=positions + offset,
                  cell=np.diag([lengths[0] + 2 * vacuum, lengths[1] + 2 * vacuum, lengths[2]]),
                  pbc=(False, False, True))
    atoms.arrays["type"] = np.where(boundary, 2, 1).astype(np.int64)
    atoms.arrays["reference"] = reference + offset
    atoms.info.update(tip=tip + offset[:2], k_mpa_sqrt_m=k, k_gpa_sqrt_angstrom=k_internal,
                      lattice_constant=a, fix_width=fix_width)
    return atoms

# SPDX-License-Identifier: GPL-2.0-only
"""The authors' PCC recipe with stock `fix gcmc` (doc/design/pcc.md §4), as a yardstick.

Re-implemented from the description of their deck, with its documented choices kept: an input box
of edge L, 27 boxes with edges in {L-1, L-0.5, L}, `fix gcmc 10 10 100` at 100 K / +0.1 eV with
`full_energy` for a fixed 2000 steps, `fix nvt` on the (empty) gas group, CG minimization of the
inserted atoms, no box relaxation, and the best pe/atom among cells with at most `cap` atoms.
Used by tests/test_pcc_quality.py and benchmarks/pcc.py to compare `eipgs pcc` side by side.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers


@dataclass
class RecipeResult:
    atoms: Atoms | None  # best cell (core first, arrays 'core'/'inserted'), None when no box was under the cap
    pe: float  # eV
    pe_per_atom: float
    pressure_gpa: float
    boxes: int
    wall: float
    cpu: float


def authors_recipe(core: Atoms, potential, input_box: float = 13.5, nboxes: int = 27, cap: int = 150,
                   steps: int = 2000, seed: int = 43168, element: str = "W") -> RecipeResult:
    """Run the first `nboxes` boxes of the authors' grid around `core` (centre at the origin)."""
    from eipgs.lmp import create_lammps, run

    start, cpu = time.perf_counter(), time.process_time()
    best = RecipeResult(None, float("inf"), float("inf"), float("nan"), 0, 0.0, 0.0)
    x = core.positions + (input_box - 1.0) / 2  # cluster inside [0, L-1] as their deck requires
    mass = atomic_masses[atomic_numbers[element]]
    edges = [input_box + 0.5 * k - 1.5 for k in (1, 2, 3)]
    for lx, ly, lz in list(itertools.product(edges, repeat=3))[:nboxes]:
        lmp = create_lammps()
        try:
            run(lmp, ["units metal", "atom_style atomic", "atom_modify map array",
                      f"region box block 0 {input_box} 0 {input_box} 0 {input_box}", "create_box 2 box",
                      f"mass * {mass}", "pair_style eam/alloy", f"pair_coeff * * {potential} {element} {element}",
                      "neighbor 2.0 bin"])
            lmp.create_atoms(len(x), list(range(1, len(x) + 1)), [1] * len(x), x.ravel().tolist())
            run(lmp, [f"change_box all x final 0 {lx} y final 0 {ly} z final 0 {lz} units box",
                      "group insideatom type 1", "fix 1 insideatom setforce 0 0 0",
                      "group Amor empty", "fix 2 Amor nvt temp 100 100 0.1",
                      f"fix 3 Amor gcmc 10 10 100 2 {seed} 100 0.1 0.1 full_energy group Amor",
                      "thermo 1000", "timestep 0.001", f"run {steps}",
                      "unfix 2", "unfix 3", "min_style cg", "minimize 0 1e-12 10000 10000", "run 0"])
            n = lmp.get_natoms()
            pe = lmp.get_thermo("pe")
            if n <= cap and pe / n < best.pe_per_atom:
                nlocal = lmp.extract_setting("nlocal")
                ids = np.array(lmp.numpy.extract_atom("id")[:nlocal])
                pos = np.array(lmp.numpy.extract_atom("x")[:nlocal])
                order = np.argsort(ids)
                atoms = Atoms(element * nlocal, positions=pos[order], cell=[lx, ly, lz], pbc=True)
                atoms.wrap()
                atoms.arrays["core"] = ids[order] <= len(x)
                atoms.arrays["inserted"] = ~atoms.arrays["core"]
                best = RecipeResult(atoms, float(pe), float(pe / n), float(lmp.get_thermo("press")) / 1e4, 0, 0, 0)
        finally:
            lmp.close()
    best.boxes = nboxes
    best.wall, best.cpu = time.perf_counter() - start, time.process_time() - cpu
    return best

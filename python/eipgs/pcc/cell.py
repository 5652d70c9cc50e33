# SPDX-License-Identifier: GPL-2.0-only
"""One cell: fill around the frozen core with fix gcmc/pcc, then relax (doc/design/pcc.md §12).

`fill_cell` takes any cell shape (triclinic cells commensurate with the core's lattice, slabs) and
optional seed sites; `fill_box` is its orthogonal special case for the grid. Protocol per cell:
1. the core sits with its centre atom at the cell centre (so no core atom straddles a boundary);
   seed sites, if any, start as inserted atoms;
2. cycles of [fix gcmc/pcc until saturated, minimize the inserted atoms], until a cycle adds no
   atom: relaxing opens room that a single Monte Carlo pass cannot see;
3. minimize the inserted atoms, then fix box/relax with ``dilate partial`` on the inserted atoms
   only (core coordinates are never rescaled), then a final fixed-box minimization.
The core has zero force and no integrator throughout, so its coordinates are bit-identical.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

BAR_PER_GPA = 1.0e4


@dataclass(frozen=True)
class FillSettings:
    """Physics of one fill; the defaults reproduce the authors' acceptance threshold (doc/design/pcc.md §8)."""

    temperature: float = 100.0  # K
    mu: float = 0.1  # eV: with T = 100 K, insertions with dE < ~0.18 eV are accepted
    cutoff: float = 5.0  # Å, MLIP cutoff = protected sphere around the centre
    overlap: float = 2.2  # Å, hard-core distance of inserted atoms
    max_atoms: int = 140
    trials: int = 100  # Monte Carlo trials per step
    saturate: int = 100  # consecutive rejected insertions that end a fill pass
    translate: float = 0.2  # fraction of trials that are translations
    displace: float = 0.2  # Å
    cycles: int = 6  # at most this many [fill, minimize] cycles
    cycle_ftol: float = 1.0e-4  # eV/Å, minimizations between fill passes (only to open room)
    ftol: float = 1.0e-6  # eV/Å, final minimizations (box/relax needs it tight to reach P ~ 0)
    box_relax: str = "aniso 0.0"  # fix box/relax target (bar); "" disables box relaxation
    relax_rounds: int = 5  # at most this many [box/relax, fixed-box] minimization rounds
    pressure_tol: float = 0.2  # GPa, stop the rounds below this |P| (box/relax stalls near 0.1 GPa)
    pair_style: str = "eam/alloy"


@dataclass
class BoxResult:
    lengths: tuple[float, float, float]
    seed: int
    status: str  # "ok", or why the box was skipped
    atoms: Atoms | None = None
    n_atoms: int = 0
    n_inserted: int = 0
    pe: float = float("nan")
    pe_per_atom: float = float("nan")
    pressure_gpa: float = float("nan")
    core_displacement: float = float("nan")
    cycles: list[int] = field(default_factory=list)
    insert_attempts: int = 0
    insert_successes: int = 0
    seconds: float = 0.0
    e_ref: float = float("nan")  # eV/atom of the perfect crystal strained like this cell (lattice cells only)


def pair_style_for(potential: Path) -> str:
    name = potential.name.lower()
    if name.endswith(".eam.fs"):
        return "eam/fs"
    if name.endswith((".eam.alloy", ".setfl", ".alloy")):
        return "eam/alloy"
    raise ValueError(f"potential {potential}: expected an .eam.alloy/.setfl or .eam.fs file")


def fill_box(
    core: Atoms,
    lengths: tuple[float, float, float],
    potential: Path,
    insert_element: str,
    seed: int,
    settings: FillSettings = FillSettings(),
    comm=None,
) -> BoxResult:
    """Run one orthogonal box; `core` has the centre first, at the origin (see cluster.cut_core).

    `comm`: mpi4py communicator of the LAMMPS instance (None: MPI_COMM_WORLD, see eipgs.lmp.create_lammps).
    """
    lengths = tuple(float(v) for v in lengths)
    return fill_cell(core, np.diag(lengths), potential, insert_element, seed, settings, comm=comm)


def lammps_frame(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q, L): a rotation Q with L = cell @ Q lower triangular with a positive diagonal (LAMMPS's
    restricted triclinic form: a along x, b in the xy plane). Positions map as x @ Q."""
    q, r = np.linalg.qr(np.asarray(cell, dtype=float).T)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    q = q * signs
    lower = np.asarray(cell, dtype=float) @ q
    lower[np.abs(lower) < 1e-12] = 0.0
    return q, np.tril(lower)


def _prism(lower: np.ndarray) -> str:
    values = (lower[0, 0], lower[1, 1], lower[2, 2], lower[1, 0], lower[2, 0], lower[2, 1])
    return "region box prism 0 {!r} 0 {!r} 0 {!r} {!r} {!r} {!r} units box".format(*(float(v) for v in values))


def fill_cell(
    core: Atoms,
    cell: np.ndarray,
    potential: Path,
    insert_element: str,
    seed: int,
    settings: FillSettings = FillSettings(),
    sites: np.ndarray | None = None,
    gcmc: bool = True,
    comm=None,
) -> BoxResult:
    """Fill the periodic cell `cell` (rows = cell vectors, any shape with positive volume) around the
    frozen core, whose centre is the first atom, at the origin; the centre sits at the cell centre.

    `sites`: starting positions of inserted atoms (relative to the centre, e.g. the lattice sites of
    the core's fitted lattice outside the core); `gcmc=False` skips the Monte Carlo fill (slabs: an
    insertion into the vacuum costs nothing and would always be accepted).
    A sheared cell runs in LAMMPS's restricted triclinic frame (a rotation of everything) and the
    result is rotated back, so the core keeps its source orientation (to round-off, 1e-15 Å).
    """
    from eipgs.lmp import create_lammps, run

    start = time.perf_counter()
    cell = np.asarray(cell, dtype=float)
    lengths = tuple(float(v) for v in np.linalg.norm(cell, axis=1))
    if np.linalg.det(cell) <= 0:
        raise ValueError("fill_cell: the cell vectors must be right-handed with a positive volume")
    orthogonal = np.allclose(cell, np.diag(np.diag(cell)), atol=0.0)
    q, lower = (np.eye(3), cell) if orthogonal else lammps_frame(cell)
    core_elements = list(dict.fromkeys(core.get_chemical_symbols()))
    elements = core_elements + [insert_element]  # the inserted species always gets its own type
    itype = len(elements)
    types = [core_elements.index(s) + 1 for s in core.get_chemical_symbols()]
    middle = lower.sum(axis=0) / 2
    x = core.positions @ q + middle
    seeded = np.zeros((0, 3)) if sites is None else np.asarray(sites, dtype=float) @ q + middle

    lmp = create_lammps(comm=comm)
    try:
        run(lmp, ["units metal", "atom_style atomic", "atom_modify map array", "boundary p p p"])
        if orthogonal:
            run(lmp, "region box block 0 {!r} 0 {!r} 0 {!r} units box".format(*(float(v) for v in np.diag(lower))))
        else:
            run(lmp, _prism(lower))
        run(lmp, f"create_box {itype} box")
        for t, el in enumerate(elements, start=1):
            run(lmp, f"mass {t} {atomic_masses[atomic_numbers[el]]}")
        run(lmp, f"pair_style {settings.pair_style}")
        run(lmp, f"pair_coeff * * {potential} {' '.join(elements)}")
        # full rebuild every Monte Carlo trial: a small skin keeps the ghost shell thin
        run(lmp, ["neighbor 0.5 bin", "neigh_modify every 1 delay 0 check yes"])
        n_core = len(core)
        lmp.create_atoms(n_core, list(range(1, n_core + 1)), types, x.ravel().tolist())
        if lmp.get_natoms() != n_core:
            raise RuntimeError(f"box {lengths}: only {lmp.get_natoms()} of {n_core} core atoms fit in the box")
        if len(seeded):
            lmp.create_atoms(len(seeded), list(range(n_core + 1, n_core + 1 + len(seeded))), [itype] * len(seeded),
                             seeded.ravel().tolist())
        core_before = _positions_by_id(lmp)[2][:n_core].copy()
        s = settings
        run(
            lmp,
            [
                f"group core id 1:{n_core}",
                "group center id 1",
                f"group inserted type {itype}",
                "thermo_style custom step pe press atoms",
                "thermo 100000",
                "fix pcc_freeze core setforce 0.0 0.0 0.0",
                "min_style cg",
            ],
        )
        cycles: list[int] = []
        ins_att = ins_ok = 0
        if gcmc:
            run(lmp, f"fix pcc inserted gcmc/pcc 1 {s.trials} {itype} {seed} {s.temperature} {s.mu} core core "
                     f"center center {s.cutoff} overlap {s.overlap} max_atoms {s.max_atoms + 1} "
                     f"saturate {s.saturate} displace {s.displace} translate {s.translate}")
            for _ in range(max(1, s.cycles)):
                before = lmp.get_natoms()
                run(lmp, "run 1000000")
                cycles.append(int(lmp.get_natoms()))
                if cycles[-1] > s.max_atoms or (len(cycles) > 1 and cycles[-1] == before):
                    break
                run(lmp, f"minimize 0 {s.cycle_ftol} 1000 10000")
            ins_att = int(lmp.extract_fix("pcc", 0, 1, 0))
            ins_ok = int(lmp.extract_fix("pcc", 0, 1, 1))
            run(lmp, "unfix pcc")
        n_atoms = int(lmp.get_natoms())
        if n_atoms > s.max_atoms:
            return BoxResult(lengths, seed, f"over the cap ({n_atoms} > {s.max_atoms} atoms)", n_atoms=n_atoms,
                             cycles=cycles, insert_attempts=ins_att, insert_successes=ins_ok,
                             seconds=time.perf_counter() - start)
        run(lmp, f"minimize 0 {s.cycle_ftol} 2000 20000")
        # one box/relax minimization from a cell at tens of GPa stops early (the cell shape enters
        # the line search); rounds of [box/relax, fixed-box relax] converge to |P| < pressure_tol
        for _ in range(max(1, s.relax_rounds) if s.box_relax else 1):
            if s.box_relax:
                run(lmp, [f"fix pcc_relax inserted box/relax {s.box_relax} dilate partial vmax 0.001",
                          "min_modify line quadratic",
                          f"minimize 0 {s.ftol} 5000 50000",
                          "unfix pcc_relax"])
            run(lmp, f"minimize 0 {s.ftol} 5000 50000")
            if abs(float(lmp.get_thermo("press"))) / BAR_PER_GPA < s.pressure_tol:
                break
        run(lmp, "run 0")
        pe = float(lmp.get_thermo("pe"))
        pressure = float(lmp.get_thermo("press")) / BAR_PER_GPA
        ids, type_arr, pos = _positions_by_id(lmp)
        boxlo, boxhi, xy, yz, xz = lmp.extract_box()[:5]
    finally:
        lmp.close()

    is_core = ids <= n_core
    core_after = pos[is_core]
    symbols = [elements[t - 1] for t in type_arr]
    hi = np.array(boxhi) - np.array(boxlo)
    out_cell = np.array([[hi[0], 0.0, 0.0], [xy, hi[1], 0.0], [xz, yz, hi[2]]])
    # back into the source frame: the core's neighbour vectors are the source's again
    atoms = Atoms(symbols=symbols, positions=(pos - np.array(boxlo)) @ q.T, cell=out_cell @ q.T, pbc=True)
    if orthogonal:
        atoms.positions = pos - np.array(boxlo)
        atoms.cell = np.diag(hi)
    atoms.arrays["core"] = is_core
    atoms.arrays["inserted"] = ~is_core
    return BoxResult(
        lengths=lengths,
        seed=seed,
        status="ok",
        atoms=atoms,
        n_atoms=len(atoms),
        n_inserted=int((~is_core).sum()),
        pe=pe,
        pe_per_atom=pe / len(atoms),
        pressure_gpa=pressure,
        core_displacement=float(np.abs(core_after - core_before).max()),
        cycles=cycles,
        insert_attempts=ins_att,
        insert_successes=ins_ok,
        seconds=time.perf_counter() - start,
    )


def crystal_energy(cell: np.ndarray, sites: np.ndarray, potential: Path, element: str, pair_style: str, comm=None) -> float:
    """Potential energy per atom of the perfect crystal `sites` in `cell` (rows), LAMMPS `run 0`."""
    from eipgs.lmp import create_lammps, run

    q, lower = lammps_frame(cell)
    x = np.asarray(sites) @ q + lower.sum(axis=0) / 2
    lmp = create_lammps(comm=comm)
    try:
        run(lmp, ["units metal", "atom_style atomic", "atom_modify map array", "boundary p p p",
                  _prism(lower),
                  "create_box 1 box", f"mass 1 {atomic_masses[atomic_numbers[element]]}",
                  f"pair_style {pair_style}", f"pair_coeff * * {potential} {element}"])
        lmp.create_atoms(len(x), list(range(1, len(x) + 1)), [1] * len(x), x.ravel().tolist())
        if lmp.get_natoms() != len(x):
            raise RuntimeError("crystal_energy: lattice sites were lost when creating the crystal")
        run(lmp, "run 0")
        return float(lmp.get_thermo("pe")) / len(x)
    finally:
        lmp.close()


def _positions_by_id(lmp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Serial instance: all atoms are local (IDs have gaps after deletions, so no gather_atoms)."""
    n = lmp.extract_setting("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id")[:n])
    types = np.array(lmp.numpy.extract_atom("type")[:n])
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    order = np.argsort(ids)
    return ids[order], types[order], x[order]

# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs pcc`: every cluster → the best valid periodic cell (doc/design/pcc.md §10-§12).

`reconstruct` works on ASE Atoms (clusters in, cells out, no files); `pcc` is the file wrapper of
the CLI (reading, the output folder, atomic writes, --resume/--force).
"""

from __future__ import annotations

import csv
import itertools
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from eipgs.pcc.cell import BoxResult, FillSettings, crystal_energy, fill_cell, pair_style_for
from eipgs.pcc.cluster import ClusterError, check_cluster, cut_core, find_center, read_clusters
from eipgs.pcc.cna import bulk_fraction
from eipgs.pcc.lattice import (BASIS, LatticeFit, bicrystal_cells, choose_reps, fit_grains, fit_lattice, grain_sites, images_clear,
                               lattice_sites, slab_axis, surface_normal)
from eipgs.pcc.validate import min_distance, min_inserted_center_distance, neighbourhood_deviation

# the paper's enlargements, 1 to 10 Å around the cluster (doc/design/pcc.md §2); boxes that cannot stay
# under the atom cap are skipped before any work, so the wide default costs nothing
DEFAULT_MARGINS = tuple(1.0 + 0.5 * k for k in range(19))
# saturated fills are denser than 18 Å^3/atom (bulk Zhou W 15.85; the authors' cells 16.4-18.8): a
# box that would hold more than cap atoms even at 18 Å^3/atom cannot be filled under the cap
SKIP_VOLUME_PER_ATOM = 18.0
NEIGHBOURHOOD_TOLERANCE = 1e-8  # Å
MIN_DISTANCE_FLAG = 2.0  # Å; the authors' cells had 2.04-2.55 (doc/design/pcc.md §11)
PRESSURE_FLAG_GPA = 0.5
CORE_DISPLACEMENT_TOL = 1e-10  # Å; 0.0 in orthogonal boxes, round-off of LAMMPS's triclinic remapping otherwise (~1e-12 after many Monte Carlo remaps)
SLAB_VACUUM_CELLS = 3  # conventional cells of vacuum above a slab (≥ 8.5 Å for W at -10 %: beyond the EAM cutoff)
MODES = ("auto", "lattice", "grid", "all")
MIN_GRAIN_COVERAGE = 0.8  # fraction of core atoms on the fitted grains for seeded ("grains") boxes
MIN_BICRYSTAL_GRAIN = 0.2  # each of two grains holds at least this share of the core: a grain boundary
BICRYSTAL_CELLS = 2  # coincidence-lattice cells tried per grain-boundary core (fewest sites first)
AUTO_GRID_BELOW = 0.9  # matched fraction of the fitted lattice below which auto mode also runs the grid


@dataclass
class PccSettings:
    core_radius: float = 6.0
    margins: tuple[float, ...] = DEFAULT_MARGINS
    aspect: str = "cubic"  # cubic | axes | full
    repeats: int = 3  # independent fills (seeds) per box: the fill is stochastic, the best of 3 is robust
    seed: int = 1
    potential: Path | None = None
    insert_element: str | None = None
    cfg_elements: tuple[str, ...] = ()  # element of each .cfg type (cfg input only)
    jobs: int = 1
    mode: str = "auto"  # auto: lattice cells when the core has a clear lattice, else the grid; all: both
    fill: FillSettings = field(default_factory=FillSettings)


def box_grid(half_extent: np.ndarray, margins, aspect: str) -> list[tuple[tuple[float, float, float], tuple[float, ...]]]:
    """(box lengths, margins) for every grid point; box = 2·max|x_a| of the core + margin per axis."""
    margins = sorted(float(m) for m in margins)
    if aspect == "cubic":
        deltas = [(m, m, m) for m in margins]
    elif aspect == "axes":  # cubic, plus one axis longer by one grid step
        step = margins[1] - margins[0] if len(margins) > 1 else 1.0
        deltas = [(m, m, m) for m in margins]
        for m in margins:
            for a in range(3):
                d = [m, m, m]
                d[a] = m + step
                deltas.append(tuple(d))
    elif aspect == "full":
        deltas = list(itertools.product(margins, repeat=3))
    else:
        raise ValueError(f"unknown aspect {aspect!r}: use cubic, axes or full")
    out = []
    for d in deltas:
        lengths = tuple(float(2 * half_extent[a] + d[a]) for a in range(3))
        out.append((lengths, d))
    return out


def default_potential(elements: list[str], directory: Path) -> Path:
    """Our generated Zhou 2004 EAM for these elements (eipgs.potentials.zhou04)."""
    try:
        from eipgs.potentials.zhou04 import zhou04_eam_file
    except ImportError as exc:
        raise RuntimeError(
            "no --potential given and the Zhou 2004 generator eipgs.potentials.zhou04 is not available: "
            "pass --potential FILE.eam.alloy"
        ) from exc
    return Path(zhou04_eam_file(elements, directory))


def _seed(base: int, *keys: int) -> int:
    """A distinct LAMMPS seed for every (cluster, box, repeat), derived from the user's seed."""
    state = np.random.SeedSequence([base, *keys]).generate_state(1)[0]
    return int(state % 2_000_000_000) + 1


def _run_task(task: dict, comm=None) -> tuple[int, int, BoxResult]:
    from eipgs.lmp import LammpsError

    try:
        result = fill_cell(task["core"], task["cell"], task["potential"], task["insert_element"], task["seed"],
                           task["fill"], sites=task.get("sites"), gcmc=task.get("gcmc", True), comm=comm)
        if task.get("variant", "").startswith("lattice") and result.atoms is not None:
            # the perfect crystal strained like the final cell (a relaxed box is no longer the core's strain)
            cell0 = np.asarray(task["cell"])
            frac = np.linalg.solve(cell0.T, task["all_sites"].T).T
            final = np.asarray(result.atoms.cell)
            result.e_ref = crystal_energy(final, frac @ final, task["potential"], task["insert_element"],
                                          task["fill"].pair_style, comm)
    except (LammpsError, RuntimeError) as exc:
        # one failing box (e.g. lost atoms in a pathological cell) must not end the whole job;
        # it is reported in boxes.csv and cannot be selected
        result = BoxResult(tuple(np.linalg.norm(task["cell"], axis=1)), task["seed"], f"error: {str(exc).splitlines()[0][:300]}")
    return task["cluster"], task["point"], result


def _check_potential(potential: Path, pair_style: str, elements: list[str], comm=None) -> None:
    """Fail early, with LAMMPS's message, when the potential file lacks an element (not once per box)."""
    from eipgs.lmp import LammpsError, create_lammps, run

    lmp = create_lammps(comm=comm)
    try:
        run(lmp, ["units metal", "region b block 0 10 0 10 0 10", f"create_box {len(elements)} b",
                  f"pair_style {pair_style}", f"pair_coeff * * {potential} {' '.join(elements)}"])
    except LammpsError as exc:
        raise ValueError(f"potential {potential} cannot be used for elements {' '.join(elements)}: {exc}") from exc
    finally:
        lmp.close()


def _check_writable(outdir: Path) -> None:
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        probe = outdir / ".eipgs-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RuntimeError(f"output folder {outdir} is not writable ({exc.strerror}); choose another -o") from exc


def mpi_world():
    """mpi4py's COMM_WORLD when this process is one of several MPI ranks (mpirun/mpiexec), else None.

    mpi4py is optional: without it, or on a single rank, `pcc` runs exactly as a plain process.
    """
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def _on_root(world, func):
    """func() on rank 0 alone (it writes files, starts LAMMPS); every rank returns its result or raises its error.

    Errors travel as (class, message): every rank raises, so no rank is left waiting in a collective.
    """
    result, error, original = None, None, None
    if world.Get_rank() == 0:
        try:
            result = func()
        except Exception as exc:  # noqa: BLE001 (re-raised below, on every rank)
            original = exc
            kind = next(k for k in (FileNotFoundError, ValueError, RuntimeError, Exception) if isinstance(exc, k))
            error = (kind.__name__, str(exc))
    result, error = world.bcast((result, error), root=0)
    if original is not None:
        raise original
    if error is not None:
        raise {"FileNotFoundError": FileNotFoundError, "ValueError": ValueError}.get(error[0], RuntimeError)(error[1])
    return result


@dataclass
class _Job:
    """Everything the clusters need before any box runs (prepared once, on rank 0 under MPI)."""

    sources: list
    labels: list
    centers: list  # index of the centre in the source, or None when the cluster was skipped
    cores: list
    plans: list  # per cluster: dict(host, e_ref, lattice, why) or None
    grids: list
    tasks: list
    skipped: dict  # (cluster, point) -> why the box did not run
    failed: dict  # cluster -> why it cannot be reconstructed


def _trim_core(core: Atoms, cell: np.ndarray, cutoff: float, clearance: float) -> Atoms:
    """The core without the outer atoms that coincide with a periodic image of another core atom.

    In a cell commensurate with the core's lattice, an atom at +L/2 and its partner at -L/2 are
    the same lattice site; the one farther from the centre is dropped. Only atoms beyond the
    cutoff can go, so the centre's neighbourhood is untouched (it is checked again afterwards).
    """
    pos = core.positions
    frac = np.linalg.solve(cell.T, (pos[:, None, :] - pos[None, :, :]).reshape(-1, 3).T).T
    frac -= np.round(frac)
    d = np.linalg.norm(frac @ cell, axis=1).reshape(len(pos), len(pos))
    np.fill_diagonal(d, np.inf)
    r = np.linalg.norm(pos, axis=1)
    keep = np.ones(len(pos), dtype=bool)
    for k in np.argsort(-r):  # farthest first
        if k == 0 or r[k] < cutoff + 0.01:
            continue
        if np.any(d[k, keep] < clearance):
            keep[k] = False
    trimmed = core[keep]
    trimmed.info.update(core.info)
    return trimmed


def _lattice_tasks(i: int, cluster: Atoms, core: Atoms, fit: LatticeFit, settings: PccSettings, base: dict
                   ) -> tuple[list[dict], str]:
    """Cells spanned by whole conventional cells of the core's fitted lattice, seeded with its sites:
    box fixed to the fitted lattice ("lattice") and the same relaxed to zero pressure ("lattice+relax");
    a slab ("slab", no Monte Carlo) when the source has vacuum on one side."""
    fill = settings.fill
    clearance = min(fill.overlap, 0.8 * fit.nearest)
    normal = surface_normal(cluster, settings.core_radius + 1.0)
    tasks: list[dict] = []
    if normal is not None:
        k = slab_axis(fit, normal)
        if k is None:
            return [], "surface core: the surface is not a cube plane of the fitted lattice (no slab cell)"
        plane = np.linalg.inv(fit.F)[k]
        plane_normal = plane / np.linalg.norm(plane) * np.sign(plane @ normal)
        spacing = 1.0 / np.linalg.norm(plane)  # conventional cell height along the normal
        top = float(np.max(cluster.positions @ plane_normal))
        for n_in, n_mat in ((4, 4), (4, 3), (3, 4), (3, 3)):
            reps = [n_in, n_in, n_in]
            reps[k] = n_mat + SLAB_VACUUM_CELLS
            cell, sites = lattice_sites(fit, tuple(reps))
            h = sites @ plane_normal
            material = (h <= top + 0.1 * spacing) & (h > top - n_mat * spacing + 0.1 * spacing)
            if not np.all(core.positions @ plane_normal > top - n_mat * spacing + 0.1 * spacing):
                continue  # the core reaches below the slab's bottom
            if not images_clear(cell, core.positions, fill.cutoff):
                continue
            seeds = _free_sites(sites[material], core, cell, settings.core_radius, clearance)
            if len(core) + len(seeds) <= fill.max_atoms:
                tasks.append({**base, "point": 0, "variant": "slab", "reps": tuple(reps), "cell": cell,
                              "sites": seeds, "gcmc": False, "core": core, "fill": replace(fill, box_relax="")})
                break
        return tasks, "" if tasks else "surface core: no slab cell fits under the atom cap"
    for reps in choose_reps(fit, core.positions, fill.cutoff, fill.max_atoms)[:1]:
        cell, sites = lattice_sites(fit, reps)
        trimmed = _trim_core(core, cell, fill.cutoff, clearance)
        seeds = _free_sites(sites, trimmed, cell, settings.core_radius, clearance)
        for variant, box_relax in (("lattice", ""), ("lattice+relax", fill.box_relax or "aniso 0.0")):
            # the fixed box once per seed: the Monte Carlo moves are the only kicks a perfect lattice
            # gets, and a lattice strained towards an instability (e.g. +10 % uniaxial) relaxes into
            # a different, lower-energy state depending on them
            for r in range(settings.repeats if variant == "lattice" else 1):
                seed = base["seed"] if r == 0 else _seed(settings.seed, i, 0, r)
                tasks.append({**base, "seed": seed, "repeat": r, "variant": variant, "reps": reps, "cell": cell,
                              "sites": seeds, "all_sites": sites, "gcmc": True, "core": trimmed,
                              "fill": replace(fill, box_relax=box_relax)})
    return tasks, "" if tasks else "no cell of whole lattice cells fits under the atom cap"


def _bicrystal_tasks(cluster: Atoms, core: Atoms, grains: list[LatticeFit], settings: PccSettings,
                     base: dict) -> list[dict]:
    """Cells continuing both grains of a grain-boundary core: coincidence-lattice bicrystals seeded
    with each grain's sites on its side (lattice.bicrystal_cells), box fixed and relaxed to zero
    pressure; then the Monte Carlo fill completes them as for lattice cells."""
    fill = settings.fill
    clearance = min(fill.overlap, 0.8 * grains[0].nearest)
    cells, _ = bicrystal_cells(cluster, grains, core.positions, fill.cutoff, fill.max_atoms,
                               count=BICRYSTAL_CELLS)
    tasks = []
    for bi in cells:
        trimmed = _trim_core(core, bi.cell, fill.cutoff, clearance)
        seeds = _dedupe(_free_sites(bi.sites, trimmed, bi.cell, settings.core_radius, clearance), bi.cell, clearance)
        for variant, box_relax in (("bicrystal", ""), ("bicrystal+relax", fill.box_relax or "aniso 0.0")):
            tasks.append({**base, "variant": variant, "cell": bi.cell, "sites": seeds, "gcmc": True,
                          "core": trimmed, "fill": replace(fill, box_relax=box_relax)})
    return tasks


def _free_sites(sites: np.ndarray, core: Atoms, cell: np.ndarray, core_radius: float, clearance: float) -> np.ndarray:
    """Lattice sites outside the core sphere and clear of every core atom (and its periodic images)."""
    outside = np.linalg.norm(sites, axis=1) >= core_radius
    frac = np.linalg.solve(cell.T, (sites[:, None, :] - core.positions[None, :, :]).reshape(-1, 3).T).T
    frac -= np.round(frac)
    d = np.linalg.norm(frac @ cell, axis=1).reshape(len(sites), len(core)).min(axis=1)
    return sites[outside & (d >= clearance)]


def _dedupe(sites: np.ndarray, cell: np.ndarray, clearance: float) -> np.ndarray:
    """Sites without the later one of every pair closer than `clearance` (periodic images included):
    where two grains' lattices meet, their sites can nearly coincide."""
    keep = np.ones(len(sites), dtype=bool)
    for k in range(len(sites)):
        if not keep[k]:
            continue
        frac = np.linalg.solve(cell.T, (sites[k + 1:] - sites[k]).T).T
        frac -= np.round(frac)
        close = np.linalg.norm(frac @ cell, axis=1) < clearance
        keep[k + 1:][close] = False
    return sites[keep]


def _prepare(clusters: list[Atoms], labels: list[str], settings: PccSettings, scratch: Path, comm=None,
             done: set[int] = frozenset()) -> _Job:
    fill = settings.fill
    if settings.mode not in MODES:
        raise ValueError(f"unknown mode {settings.mode!r}: use one of {', '.join(MODES)}")
    if settings.core_radius < fill.cutoff:
        raise ValueError(f"core radius {settings.core_radius} Å is smaller than the protected cutoff {fill.cutoff} Å")
    cores, centers, failed = [], [], {}
    for i, atoms in enumerate(clusters):
        core = center = None
        if i not in done:
            try:
                check_cluster(atoms, labels[i])
                center = find_center(atoms, labels[i])
                core = cut_core(atoms, center, settings.core_radius, fill.cutoff, labels[i])
                if len(core) > fill.max_atoms:
                    raise ClusterError(
                        f"{labels[i]}: its core ({len(core)} atoms within {settings.core_radius} Å) alone exceeds "
                        f"--max-atoms {fill.max_atoms}; lower --core-radius"
                    )
            except ClusterError as exc:
                failed[i], core, center = str(exc), None, None
        cores.append(core)
        centers.append(center)

    usable = [c for c in cores if c is not None]
    elements = sorted({s for c in usable for s in c.get_chemical_symbols()}) or [settings.insert_element or "W"]
    insert_element = settings.insert_element or max(
        elements, key=lambda e: sum(c.get_chemical_symbols().count(e) for c in usable)
    )
    potential = Path(settings.potential) if settings.potential else default_potential(
        sorted(set(elements) | {insert_element}), scratch
    )
    if not potential.is_file():
        raise FileNotFoundError(f"potential file {potential} does not exist")
    fill = FillSettings(**{**asdict(fill), "pair_style": pair_style_for(potential)})
    settings = replace(settings, fill=fill)
    if usable:
        _check_potential(potential, fill.pair_style, list(dict.fromkeys(elements + [insert_element])), comm)

    tasks, skipped, grids, plans = [], {}, [], []
    host_default = _reference_structure(insert_element)
    e_bulk: dict[str, float] = {}
    for i, core in enumerate(cores):
        grids.append([])
        plans.append(None)
        if core is None:
            continue
        plan = {"host": host_default, "why": "", "lattice": None}
        fit, why = (None, "grid mode") if settings.mode == "grid" else fit_lattice(clusters[i], settings.core_radius)
        grains, grain_of = ([], None)
        if settings.mode in ("auto", "all"):
            grains, grain_of = fit_grains(clusters[i], settings.core_radius)
            if sum(f.matched for f in grains) < MIN_GRAIN_COVERAGE:
                grains = []
        boundary = len(grains) == 2 and min(f.matched for f in grains) >= MIN_BICRYSTAL_GRAIN
        if boundary and fit is not None:
            # one lattice through both grains is a compromise (strained, large residual): the core is
            # a grain boundary, whose reference is the unstrained crystal and whose cells are bicrystals
            fit, why = None, (f"grain boundary: two grains hold {grains[0].matched:.0%} and "
                              f"{grains[1].matched:.0%} of the core")
        if fit is not None:
            plan.update(host=fit.structure, lattice=fit)
            cell, sites = lattice_sites(fit, (4, 4, 4))
            plan["e_ref"] = crystal_energy(cell, sites, potential, insert_element, fill.pair_style, comm)
            plan["strain"] = fit.strain()
        else:
            plan["why"] = why
            if plan["host"] not in e_bulk:
                e_bulk[plan["host"]] = _relaxed_crystal_energy(plan["host"], insert_element, potential, fill.pair_style, comm)
            plan["e_ref"] = e_bulk[plan["host"]]
        plans[i] = plan
        base = dict(cluster=i, potential=potential, insert_element=insert_element, seed=_seed(settings.seed, i, 0, 0))
        lattice_tasks: list[dict] = []
        if fit is not None and settings.mode in ("auto", "lattice", "all"):
            lattice_tasks, why = _lattice_tasks(i, clusters[i], core, fit, settings, base)
            plan["why"] = why
        for t in lattice_tasks:
            if t.get("repeat", 0) == 0:  # repeats (other seeds) share their cell's grid point
                grids[i].append((tuple(np.linalg.norm(t["cell"], axis=1)), (0.0, 0.0, 0.0), t["variant"]))
            t["point"] = len(grids[i]) - 1
            tasks.append(t)
        is_surface = fit is not None and surface_normal(clusters[i], settings.core_radius + 1.0) is not None
        # auto: the grid too when the lattice is only partly there (the criterion then chooses)
        imperfect = fit is None or fit.matched < AUTO_GRID_BELOW
        run_grid = settings.mode in ("grid", "all") or (
            settings.mode == "auto" and not is_surface and (not lattice_tasks or imperfect))
        if settings.mode == "lattice" and not lattice_tasks:
            failed[i] = f"{labels[i]}: {plan['why'] or 'no lattice cell'} (--mode lattice)"
            continue
        if not run_grid:
            continue
        # grains: the grid boxes seeded with the lattices of the core's grains (grain boundaries)
        plan["grains"] = len(grains)
        bicrystal = []
        if boundary:
            bicrystal = _bicrystal_tasks(clusters[i], core, grains, settings, base)
            for t in bicrystal:
                grids[i].append((tuple(np.linalg.norm(t["cell"], axis=1)), (0.0, 0.0, 0.0), t["variant"]))
                t["point"] = len(grids[i]) - 1
                tasks.append(t)
        # with bicrystal cells the grid is only the fallback: one seed per box
        grid_repeats = 1 if bicrystal else settings.repeats
        # every grid point, skipping boxes that cannot satisfy the cap or the periodic-image
        # condition of doc/design/pcc.md §10 (4) before spending any time on them
        half = np.abs(core.positions).max(axis=0)
        for lengths, delta in box_grid(half, settings.margins, settings.aspect):
            grids[i].append((lengths, delta, "grid"))
            j = len(grids[i]) - 1
            volume = float(np.prod(lengths))
            if volume / SKIP_VOLUME_PER_ATOM > fill.max_atoms:
                skipped[(i, j)] = "skipped: box too large for the atom cap"
                continue
            if min(lengths[a] - half[a] for a in range(3)) < fill.cutoff:
                skipped[(i, j)] = "skipped: periodic images of the core would enter the cutoff sphere"
                continue
            for r in range(grid_repeats):
                tasks.append(dict(cluster=i, point=j, core=core, cell=np.diag(lengths), potential=potential,
                                  insert_element=insert_element, seed=_seed(settings.seed, i, j, r), fill=fill,
                                  variant="grid"))
            if grains:
                clearance = min(fill.overlap, 0.8 * grains[0].nearest)
                seeds = _dedupe(_free_sites(grain_sites(clusters[i], grains, grain_of, lengths), core,
                                            np.diag(lengths), settings.core_radius, clearance),
                                np.diag(lengths), clearance)
                grids[i].append((lengths, delta, "grains"))
                tasks.append(dict(cluster=i, point=len(grids[i]) - 1, core=core, cell=np.diag(lengths),
                                  potential=potential, insert_element=insert_element, sites=seeds,
                                  seed=_seed(settings.seed, i, len(grids[i]) - 1, 0), fill=fill, variant="grains"))
    return _Job(clusters, labels, centers, cores, plans, grids, tasks, skipped, failed)


def _reference_structure(element: str) -> str:
    from ase.data import reference_states

    state = reference_states[atomic_numbers[element]] or {}
    return state.get("symmetry", "bcc") if state.get("symmetry") in BASIS else "bcc"


def _relaxed_crystal_energy(structure: str, element: str, potential: Path, pair_style: str, comm=None) -> float:
    """Energy per atom of the zero-pressure perfect crystal of the potential (reference when the core has no lattice)."""
    from ase.build import bulk
    from ase.data import reference_states

    from eipgs.lmp import create_lammps, run

    a = (reference_states[atomic_numbers[element]] or {}).get("a", 3.165)
    crystal = bulk(element, structure, a=a, cubic=True).repeat(3)
    lmp = create_lammps(comm=comm)
    try:
        L = float(crystal.cell[0, 0])
        run(lmp, ["units metal", "atom_style atomic", "boundary p p p", f"region b block 0 {L!r} 0 {L!r} 0 {L!r}",
                  "create_box 1 b", f"mass 1 {atomic_masses[atomic_numbers[element]]}",
                  f"pair_style {pair_style}", f"pair_coeff * * {potential} {element}"])
        lmp.create_atoms(len(crystal), list(range(1, len(crystal) + 1)), [1] * len(crystal),
                         crystal.positions.ravel().tolist())
        run(lmp, ["thermo_style custom step pe press", "fix r all box/relax iso 0.0 vmax 0.001",
                  "minimize 0 1e-10 5000 50000", "unfix r", "run 0"])
        return float(lmp.get_thermo("pe")) / len(crystal)
    finally:
        lmp.close()


@dataclass
class PccResult:
    """`reconstruct`'s answer: per cluster the selected cell (None when none), and the tables."""

    cells: list
    rows: list[dict]
    box_rows: list[dict]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r["status"] != "ok")


def reconstruct(clusters: list[Atoms], settings: PccSettings = PccSettings(), progress: bool = True,
                labels: list[str] | None = None, scratch: str | Path | None = None, on_cluster=None) -> PccResult:
    """Reconstruct ASE Atoms clusters (centre at the origin or info['center_index']) into periodic cells.

    Nothing is written except, without `settings.potential`, the generated potential into `scratch`
    (a temporary folder when None). A cluster that cannot be reconstructed gets a row with its
    reason and a None cell; the others go on. `on_cluster(row, cell, box_rows)` is called as each
    cluster finishes (the CLI writes its files there). Single process or `settings.jobs` workers;
    for MPI use `pcc`.
    """
    import tempfile

    labels = labels or [f"cluster {i}" for i in range(len(clusters))]
    with tempfile.TemporaryDirectory(prefix="eipgs-pcc-") as tmp:
        job = _prepare(list(clusters), labels, settings, Path(scratch) if scratch else Path(tmp))
        return _run_job(job, list(range(len(clusters))), settings, progress, on_cluster)


def _run_job(job: _Job, mine: list[int], settings: PccSettings, progress: bool, on_cluster, comm=None,
             desc: str = "pcc clusters") -> PccResult:
    from tqdm import tqdm

    bar = tqdm(total=len(mine), desc=desc, unit="cluster", disable=not progress)
    cells: dict[int, Atoms | None] = {}
    rows, box_rows = [], []

    def done(i: int, row: dict, cell, boxes: list[dict]) -> None:
        cells[i] = cell
        rows.append(row)
        box_rows.extend(boxes)
        if on_cluster is not None:
            on_cluster(row, cell, boxes)
        bar.update(1)

    _run_clusters(job, mine, settings, done, comm)
    bar.close()
    order = sorted(range(len(rows)), key=lambda k: rows[k]["cluster"])
    return PccResult([cells[rows[k]["cluster"]] for k in order], [rows[k] for k in order],
                     sorted(box_rows, key=lambda r: (r["cluster"], r["grid_point"], r["seed"])))


def _run_clusters(job: _Job, mine: list[int], settings: PccSettings, done, comm=None) -> None:
    """Run every box of the clusters `mine`; done(i, row, cell, box_rows) as each cluster completes."""
    wanted = set(mine)
    tasks = [t for t in job.tasks if t["cluster"] in wanted]
    results: dict[int, list[tuple[int, BoxResult]]] = {i: [] for i in mine}
    remaining = {i: sum(1 for t in tasks if t["cluster"] == i) for i in mine}

    def finish_cluster(i: int) -> None:
        row, cell, boxes = _finish(job, i, results[i], settings)
        done(i, row, cell, boxes)

    for i in mine:
        if remaining[i] == 0:
            finish_cluster(i)
    if settings.jobs <= 1:
        for task in tasks:
            i, j, res = _run_task(task, comm)
            results[i].append((j, res))
            remaining[i] -= 1
            if remaining[i] == 0:
                finish_cluster(i)
    else:
        # spawn: every worker gets a fresh interpreter, hence its own MPI and LAMMPS state
        with ProcessPoolExecutor(max_workers=settings.jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_run_task, t) for t in tasks]
            for fut in as_completed(futures):
                i, j, res = fut.result()
                results[i].append((j, res))
                remaining[i] -= 1
                if remaining[i] == 0:
                    finish_cluster(i)


def _quality(res: BoxResult, source: Atoms, source_center: int, fill: FillSettings, plan: dict) -> dict:
    """Validation and quality of one relaxed cell (doc/design/pcc.md §11)."""
    atoms = res.atoms
    deviation = neighbourhood_deviation(source, source_center, atoms, 0, fill.cutoff)
    return {
        "neighbourhood_deviation": deviation,
        "neighbourhood_ok": bool(deviation <= NEIGHBOURHOOD_TOLERANCE),
        "min_distance": min_distance(atoms),
        "min_inserted_center_distance": min_inserted_center_distance(atoms, 0, atoms.arrays["inserted"]),
        "bulk_fraction": bulk_fraction(atoms, atoms.arrays["inserted"], plan["host"]),
        "e_ref": float(res.e_ref if np.isfinite(res.e_ref) else plan["e_ref"]),
        "excess_energy": float(res.pe - res.n_atoms * (res.e_ref if np.isfinite(res.e_ref) else plan["e_ref"])),
    }


def _score(row: dict) -> tuple[float, float]:
    """Selection among eligible cells: the lowest excess energy over the perfect crystal of the core's
    strain, E - N·e_ref (total, eV: adding easy bulk atoms does not lower it, voids and disorder raise
    it), then the highest bulk-like fraction of the inserted atoms."""
    bulk = row["bulk_fraction"]
    return (row["excess_energy"], -(bulk if np.isfinite(bulk) else 0.0))


def _finish(job: _Job, i: int, boxes: list[tuple[int, BoxResult]], settings: PccSettings) -> tuple[dict, Atoms | None, list[dict]]:
    fill = settings.fill
    source, center, core, plan, grid, label = (job.sources[i], job.centers[i], job.cores[i], job.plans[i],
                                               job.grids[i], job.labels[i])
    center_id = source.info.get("center_id")
    if center_id is None:
        center_id = int(source.arrays["id"][center]) if ("id" in source.arrays and center is not None) else center
    summary = {"cluster": i, "source": label, "center_id": center_id if center_id is not None else ""}
    if i in job.failed and core is None:
        summary.update(status="skipped", reason=job.failed[i], file="")
        return summary, None, []
    summary.update(n_core=len(core), host=plan["host"], lattice=("fitted" if plan["lattice"] is not None else "none"),
                   lattice_note=plan["why"], e_ref_core=plan["e_ref"],
                   lattice_matched=(plan["lattice"].matched if plan["lattice"] is not None else ""))
    box_rows: list[dict] = []
    best = None
    for j, res in sorted(boxes, key=lambda t: (t[0], t[1].seed)):
        lengths, delta, variant = grid[j]
        row = {"cluster": i, "grid_point": j, "variant": variant, "margins": ",".join(f"{d:g}" for d in delta),
               "lx": res.lengths[0], "ly": res.lengths[1], "lz": res.lengths[2], "seed": res.seed,
               "status": res.status, "n_atoms": res.n_atoms, "n_inserted": res.n_inserted,
               "pe_per_atom": res.pe_per_atom, "pressure_gpa": res.pressure_gpa,
               "insert_attempts": res.insert_attempts, "insert_successes": res.insert_successes,
               "fill_cycles": " ".join(map(str, res.cycles)), "seconds": round(res.seconds, 3)}
        eligible = False
        if res.status == "ok":
            checks = _quality(res, source, center, fill, plan)
            row.update(checks)
            row["core_displacement"] = res.core_displacement
            problems = []
            if res.n_atoms > fill.max_atoms:
                problems.append("over the cap")
            if not checks["neighbourhood_ok"]:
                problems.append("centre neighbourhood changed")
            if checks["min_distance"] < MIN_DISTANCE_FLAG:
                problems.append(f"min distance {checks['min_distance']:.2f} < {MIN_DISTANCE_FLAG} Å")
            if res.core_displacement > CORE_DISPLACEMENT_TOL:
                problems.append("core moved")
            eligible = not problems
            if not eligible:
                row["status"] = "invalid: " + "; ".join(problems)
            # only an eligible box may update the running best (doc/design/pcc.md §5 item 7)
            if eligible and (best is None or _score(row) < _score(best[2])):
                best = (j, res, row)
        row["eligible"] = eligible
        box_rows.append(row)
    for (ci, j), why in job.skipped.items():
        if ci == i:
            lengths, delta, variant = grid[j]
            box_rows.append({"cluster": i, "grid_point": j, "variant": variant,
                             "margins": ",".join(f"{d:g}" for d in delta), "lx": lengths[0], "ly": lengths[1],
                             "lz": lengths[2], "seed": 0, "status": why, "eligible": False})
    summary.update(boxes_run=len(boxes), boxes_eligible=sum(1 for r in box_rows if r.get("eligible")))
    if best is None:
        statuses = sorted({r["status"].split(":")[0] if r["status"].startswith("skipped") else r["status"]
                           for r in box_rows}) or ["no box could run"]
        reason = job.failed.get(i) or plan["why"] or ""
        summary.update(status="no valid cell", reason="; ".join([s for s in [reason, *statuses] if s]), file="")
        return summary, None, box_rows

    j, res, row = best
    atoms = res.atoms.copy()
    atoms.arrays["core"] = res.atoms.arrays["core"]
    atoms.arrays["inserted"] = res.atoms.arrays["inserted"]
    quality = {k: row[k] for k in ("neighbourhood_deviation", "neighbourhood_ok", "min_distance",
                                   "min_inserted_center_distance", "bulk_fraction", "e_ref", "excess_energy")}
    atoms.info.update(
        source=label, center_id=center_id, center_index=0, pe=res.pe, pe_per_atom=res.pe_per_atom,
        pressure=res.pressure_gpa, n_core=int(res.atoms.arrays["core"].sum()), n_inserted=res.n_inserted,
        variant=grid[j][2], box_grid_point=np.array(grid[j][1], dtype=float), seed=res.seed,
        core_radius=settings.core_radius, cutoff=fill.cutoff, host=plan["host"],
        generator="eipgs pcc (fix gcmc/pcc)", **quality,
    )
    if atoms.info["variant"] == "slab":
        atoms.info["slab_vacuum"] = True
    lengths = atoms.cell.lengths()
    summary.update(
        status="ok", reason="", n_atoms=len(atoms), n_inserted=res.n_inserted, variant=grid[j][2], pe=res.pe,
        pe_per_atom=res.pe_per_atom, pressure_gpa=res.pressure_gpa,
        pressure_flag=bool(abs(res.pressure_gpa) > PRESSURE_FLAG_GPA),
        lx=float(lengths[0]), ly=float(lengths[1]), lz=float(lengths[2]),
        box_grid_point=",".join(f"{d:g}" for d in grid[j][1]), **quality,
    )
    return summary, atoms, box_rows


# ---------------------------------------------------------------- files (the CLI's side)

OWNED_PATTERNS = ("cluster_*.extxyz", "cluster_*_grid.png", "summary.csv", "boxes.csv")


def _owned_files(outdir: Path) -> list[Path]:
    return sorted({p for pattern in OWNED_PATTERNS for p in outdir.glob(pattern)})


def _atomic_write(path: Path, write) -> None:
    """write(tmp_path), then rename: an interrupted run never leaves a half-written file (eipgs.io.atomic)."""
    from eipgs.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        write(tmp)


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _claim_outdir(outdir: Path, force: bool, resume: bool, labels: list[str]) -> tuple[dict[int, dict], list[dict]]:
    """Check the output folder; returns (finished summary rows by cluster, their box rows) for --resume."""
    _check_writable(outdir)
    owned = _owned_files(outdir)
    if owned and not (force or resume):
        raise RuntimeError(
            f"output folder {outdir} holds {len(owned)} file(s) of an earlier eipgs pcc run (e.g. {owned[0].name}): "
            "pass --resume to continue it, --force to delete them first, or choose another -o"
        )
    if force and not resume:
        for p in owned:
            p.unlink()
        return {}, []
    finished: dict[int, dict] = {}
    for row in _read_csv(outdir / "summary.csv"):
        i = int(row["cluster"])
        if i >= len(labels) or row.get("source") != labels[i]:
            raise RuntimeError(f"--resume: {outdir}/summary.csv row {i} is from {row.get('source')!r}, not "
                               f"{labels[i] if i < len(labels) else 'this file'}: use --force or another -o")
        if row["status"] != "ok" or (outdir / row["file"]).is_file():
            finished[i] = row
    boxes = [r for r in _read_csv(outdir / "boxes.csv") if int(r["cluster"]) in finished]
    return finished, boxes


def pcc(clusters_file: str | Path | Sequence[Atoms], outdir: str | Path, settings: PccSettings = PccSettings(),
        progress: bool = True, force: bool = False, resume: bool = False,
        labels: Sequence[str] | None = None) -> list[dict]:
    """Reconstruct every cluster of `clusters_file` (a file eipgs reads, or the clusters themselves as
    ASE Atoms) into `outdir`; returns the summary rows. `labels` names the source of each cluster in
    the outputs (default FILE:index, or clusters:index for Atoms).

    Each cell and its grid plot are written (temp file + rename) as its cluster finishes, and
    summary.csv/boxes.csv are rewritten after every cluster, so an interrupted run loses only the
    clusters in flight; `resume` keeps the finished ones. Under mpirun/mpiexec (mpi4py, more than
    one rank) the clusters are dealt round-robin over the ranks; rank 0 writes the tables at the end.
    """
    outdir = Path(outdir)
    world = mpi_world()
    from_file = isinstance(clusters_file, (str, Path))

    def prepare(comm=None):
        if from_file:
            clusters = read_clusters(Path(clusters_file), list(settings.cfg_elements))
            names = labels or [f"{Path(clusters_file).name}:{i}" for i in range(len(clusters))]
        else:
            clusters = list(clusters_file)
            names = labels or [f"clusters:{i}" for i in range(len(clusters))]
        if len(names) != len(clusters):
            raise ValueError(f"pcc: {len(names)} labels for {len(clusters)} clusters")
        finished, old_boxes = _claim_outdir(outdir, force, resume, list(names))
        job = _prepare(clusters, list(names), settings, outdir, comm, done=set(finished))
        return job, finished, old_boxes

    if world is None:
        job, finished, old_boxes = prepare()
        rows, box_rows = list(finished.values()), list(old_boxes)

        def on_cluster(row, cell, boxes):
            rows.append(_write_cluster(outdir, row, cell, boxes, settings.fill.max_atoms))
            box_rows.extend(boxes)
            _write_tables(outdir, rows, box_rows)

        todo = [i for i in range(len(job.sources)) if i not in finished]
        _run_job(job, todo, settings, progress, on_cluster)
        _write_tables(outdir, rows, box_rows)
        return sorted(rows, key=lambda r: int(r["cluster"]))

    from mpi4py import MPI

    rank, size = world.Get_rank(), world.Get_size()
    if settings.jobs > 1:
        raise ValueError(f"-j {settings.jobs} cannot be combined with an MPI launch ({size} ranks): the ranks "
                         "already run clusters in parallel; drop -j, or run without mpirun")
    job, finished, old_boxes = _on_root(world, lambda: prepare(MPI.COMM_SELF))
    todo = [i for i in range(len(job.sources)) if i not in finished]
    # deterministic round-robin share; seeds depend on (cluster, box, repeat) only, so the cells are
    # those of a 1-process run whatever the rank count
    mine = todo[rank::size]
    rows, box_rows, error = [], [], None

    def on_cluster(row, cell, boxes):
        rows.append(_write_cluster(outdir, row, cell, boxes, settings.fill.max_atoms))
        box_rows.extend(boxes)

    try:
        _run_job(job, mine, settings, progress and rank == 0, on_cluster, MPI.COMM_SELF,
                 desc=f"pcc clusters (rank 0 of {size} ranks)")
    except Exception as exc:  # noqa: BLE001 (reported by rank 0 below; a rank must not skip the gather)
        error = f"rank {rank}: {type(exc).__name__}: {exc}"
    parts = world.gather((rows, box_rows, error), root=0)

    def write() -> list[dict]:
        errors = [p[2] for p in parts if p[2]]
        if errors:
            raise RuntimeError("; ".join(errors))
        all_rows = list(finished.values()) + [r for p in parts for r in p[0]]
        _write_tables(outdir, all_rows, list(old_boxes) + [r for p in parts for r in p[1]])
        return sorted(all_rows, key=lambda r: int(r["cluster"]))

    return _on_root(world, write)


def _write_cluster(outdir: Path, row: dict, cell: Atoms | None, boxes: list[dict], cap: int) -> dict:
    i = row["cluster"]
    if cell is not None:
        from ase.io import write

        name = f"cluster_{i:04d}.extxyz"
        # ASE's default writes on MPI rank 0 only
        _atomic_write(outdir / name, lambda p: write(p, cell, format="extxyz", parallel=False))
        row = {**row, "file": name}
    if boxes:
        _atomic_write(outdir / f"cluster_{i:04d}_grid.png", lambda p: _plot_grid(p, boxes, cap))
    return row


def _write_tables(outdir: Path, rows: list[dict], box_rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: int(r["cluster"]))
    box_rows = sorted(box_rows, key=lambda r: (int(r["cluster"]), int(r["grid_point"]), int(r["seed"])))
    _atomic_write(outdir / "summary.csv", lambda p: _write_csv(p, rows))
    _atomic_write(outdir / "boxes.csv", lambda p: _write_csv(p, box_rows))


def _plot_grid(path: Path, rows: list[dict], cap: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = [r for r in rows if r.get("status") == "ok" or str(r.get("status", "")).startswith("invalid")]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if ran:
        vol = np.array([r["lx"] * r["ly"] * r["lz"] for r in ran])
        pe = np.array([r["pe_per_atom"] for r in ran])
        ok = np.array([bool(r.get("eligible")) for r in ran])
        ax.scatter(vol[ok], pe[ok], c="tab:blue", label="eligible")
        ax.scatter(vol[~ok], pe[~ok], c="tab:red", marker="x", label="invalid")
        ax.legend()
    ax.set_xlabel("box volume (Å$^3$)")
    ax.set_ylabel("pe/atom after relaxation (eV/atom)")
    ax.set_title(f"{path.stem} (cap {cap} atoms)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)

"""`eipgs pcc`: every cluster → the lowest-energy valid periodic cell over a grid of boxes."""

from __future__ import annotations

import csv
import itertools
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from ase import Atoms

from eipgs.pcc.cell import BoxResult, FillSettings, fill_box, pair_style_for
from eipgs.pcc.cluster import cut_core, find_center, read_clusters
from eipgs.pcc.validate import min_distance, min_inserted_center_distance, neighbourhood_deviation

# the paper's enlargements, 1 to 10 Å around the cluster (pcc-method.md §2); boxes that cannot stay
# under the atom cap are skipped before any work, so the wide default costs nothing
DEFAULT_MARGINS = tuple(1.0 + 0.5 * k for k in range(19))
# saturated fills are denser than 18 Å^3/atom (bulk Zhou W 15.85; the authors' cells 16.4-18.8): a
# box that would hold more than cap atoms even at 18 Å^3/atom cannot be filled under the cap
SKIP_VOLUME_PER_ATOM = 18.0
NEIGHBOURHOOD_TOLERANCE = 1e-8  # Å
MIN_DISTANCE_FLAG = 2.0  # Å; the authors' cells had 2.04-2.55 (pcc-method.md §11)
PRESSURE_FLAG_GPA = 0.5


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
        result = fill_box(task["core"], task["lengths"], task["potential"], task["insert_element"], task["seed"],
                          task["fill"], comm=comm)
    except LammpsError as exc:
        # one failing box (e.g. lost atoms in a pathological cell) must not end the whole job;
        # it is reported in boxes.csv and cannot be selected
        result = BoxResult(tuple(task["lengths"]), task["seed"], f"error: {str(exc).splitlines()[0][:300]}")
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
    centers: list
    cores: list
    grids: list
    tasks: list
    skipped: dict


def _prepare(clusters_file: Path, outdir: Path, settings: PccSettings, comm=None) -> _Job:
    _check_writable(outdir)
    fill = settings.fill
    sources = read_clusters(clusters_file, list(settings.cfg_elements))

    cores, centers = [], []
    for i, atoms in enumerate(sources):
        label = f"cluster {i} of {clusters_file}"
        center = find_center(atoms, label)
        core = cut_core(atoms, center, settings.core_radius, fill.cutoff, label)
        if len(core) > fill.max_atoms:
            raise ValueError(
                f"{label}: its core ({len(core)} atoms within {settings.core_radius} Å) alone exceeds "
                f"--max-atoms {fill.max_atoms}; lower --core-radius"
            )
        cores.append(core)
        centers.append(center)

    elements = sorted({s for c in cores for s in c.get_chemical_symbols()})
    insert_element = settings.insert_element or max(
        elements, key=lambda e: sum(c.get_chemical_symbols().count(e) for c in cores)
    )
    potential = Path(settings.potential) if settings.potential else default_potential(
        sorted(set(elements) | {insert_element}), outdir
    )
    if not potential.is_file():
        raise FileNotFoundError(f"potential file {potential} does not exist")
    fill = FillSettings(**{**asdict(fill), "pair_style": pair_style_for(potential)})
    _check_potential(potential, fill.pair_style, list(dict.fromkeys(elements + [insert_element])), comm)

    # every grid point of every cluster, skipping boxes that cannot satisfy the cap or the
    # periodic-image condition of pcc-method.md §10 (4) before spending any time on them
    tasks, skipped = [], {}
    grids = []
    for i, core in enumerate(cores):
        half = np.abs(core.positions).max(axis=0)
        grid = box_grid(half, settings.margins, settings.aspect)
        grids.append(grid)
        for j, (lengths, delta) in enumerate(grid):
            volume = float(np.prod(lengths))
            if volume / SKIP_VOLUME_PER_ATOM > fill.max_atoms:
                skipped[(i, j)] = "skipped: box too large for the atom cap"
                continue
            if min(lengths[a] - half[a] for a in range(3)) < fill.cutoff:
                skipped[(i, j)] = "skipped: periodic images of the core would enter the cutoff sphere"
                continue
            for r in range(settings.repeats):
                tasks.append(dict(cluster=i, point=j, core=core, lengths=lengths, potential=potential,
                                  insert_element=insert_element, seed=_seed(settings.seed, i, j, r), fill=fill))
    return _Job(sources, centers, cores, grids, tasks, skipped)


def pcc(clusters_file: str | Path, outdir: str | Path, settings: PccSettings = PccSettings(), progress: bool = True) -> list[dict]:
    """Reconstruct every cluster of `clusters_file` into a periodic cell; returns the summary rows.

    Under mpirun/mpiexec (mpi4py installed, more than one rank) the clusters are dealt round-robin
    over the ranks, each rank running its own single-process LAMMPS instances; rank 0 writes the
    tables and every rank returns the complete rows.
    """
    from tqdm import tqdm

    clusters_file, outdir = Path(clusters_file), Path(outdir)
    world = mpi_world()
    if world is None:
        job = _prepare(clusters_file, outdir, settings)
        mine = list(range(len(job.cores)))
        bar = tqdm(total=len(mine), desc="pcc clusters", unit="cluster", disable=not progress)
        rows, box_rows = _run_clusters(job, mine, settings, clusters_file, outdir, bar)
        bar.close()
        _write_tables(outdir, rows, box_rows)
        return sorted(rows, key=lambda r: r["cluster"])

    from mpi4py import MPI

    rank, size = world.Get_rank(), world.Get_size()
    if settings.jobs > 1:
        raise ValueError(f"-j {settings.jobs} cannot be combined with an MPI launch ({size} ranks): the ranks "
                         "already run clusters in parallel; drop -j, or run without mpirun")
    job = _on_root(world, lambda: _prepare(clusters_file, outdir, settings, MPI.COMM_SELF))
    # deterministic round-robin share; seeds depend on (cluster, box, repeat) only, so the cells are
    # those of a 1-process run whatever the rank count
    mine = list(range(rank, len(job.cores), size))
    bar = tqdm(total=len(mine), desc=f"pcc clusters (rank 0 of {size} ranks)", unit="cluster",
               disable=not progress or rank != 0)
    rows, box_rows, error = [], [], None
    try:
        rows, box_rows = _run_clusters(job, mine, settings, clusters_file, outdir, bar, MPI.COMM_SELF)
    except Exception as exc:  # noqa: BLE001 (reported by rank 0 below; a rank must not skip the gather)
        error = f"rank {rank}: {type(exc).__name__}: {exc}"
    bar.close()
    parts = world.gather((rows, box_rows, error), root=0)

    def write() -> list[dict]:
        errors = [p[2] for p in parts if p[2]]
        if errors:
            raise RuntimeError("; ".join(errors))
        all_rows = [r for p in parts for r in p[0]]
        _write_tables(outdir, all_rows, [r for p in parts for r in p[1]])
        return sorted(all_rows, key=lambda r: r["cluster"])

    return _on_root(world, write)


def _run_clusters(job: _Job, mine: list[int], settings: PccSettings, clusters_file: Path, outdir: Path, bar,
                  comm=None) -> tuple[list[dict], list[dict]]:
    """Run every box of the clusters `mine`; write their cells and plots; return (summary rows, box rows)."""
    wanted = set(mine)
    tasks = [t for t in job.tasks if t["cluster"] in wanted]
    results: dict[int, list[tuple[int, BoxResult]]] = {i: [] for i in mine}
    remaining = {i: sum(1 for t in tasks if t["cluster"] == i) for i in mine}
    rows: list[dict] = []
    box_rows: list[dict] = []

    def finish_cluster(i: int) -> None:
        rows.append(_finish(i, job.sources[i], job.centers[i], job.cores[i], job.grids[i], results[i], job.skipped,
                            settings, clusters_file, outdir, box_rows))
        bar.update(1)

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
    return rows, box_rows


def _write_tables(outdir: Path, rows: list[dict], box_rows: list[dict]) -> None:
    rows = sorted(rows, key=lambda r: r["cluster"])
    box_rows = sorted(box_rows, key=lambda r: (r["cluster"], r["grid_point"], r["seed"]))
    _write_csv(outdir / "summary.csv", rows)
    _write_csv(outdir / "boxes.csv", box_rows)


def _validate(res: BoxResult, source: Atoms, source_center: int, fill: FillSettings) -> dict:
    atoms = res.atoms
    deviation = neighbourhood_deviation(source, source_center, atoms, 0, fill.cutoff)
    return {
        "neighbourhood_deviation": deviation,
        "neighbourhood_ok": bool(deviation <= NEIGHBOURHOOD_TOLERANCE),
        "min_distance": min_distance(atoms),
        "min_inserted_center_distance": min_inserted_center_distance(atoms, 0, atoms.arrays["inserted"]),
    }


def _finish(i, source, center, core, grid, boxes, skipped, settings, clusters_file, outdir, box_rows) -> dict:
    fill = settings.fill
    best, best_checks = None, None
    for j, res in sorted(boxes, key=lambda t: (t[0], t[1].seed)):
        row = {"cluster": i, "grid_point": j, "margins": ",".join(f"{d:g}" for d in grid[j][1]),
               "lx": res.lengths[0], "ly": res.lengths[1], "lz": res.lengths[2], "seed": res.seed,
               "status": res.status, "n_atoms": res.n_atoms, "n_inserted": res.n_inserted,
               "pe_per_atom": res.pe_per_atom, "pressure_gpa": res.pressure_gpa,
               "insert_attempts": res.insert_attempts, "insert_successes": res.insert_successes,
               "fill_cycles": " ".join(map(str, res.cycles)), "seconds": round(res.seconds, 3)}
        eligible = False
        if res.status == "ok":
            checks = _validate(res, source, center, fill)
            row.update(checks)
            row["core_displacement"] = res.core_displacement
            eligible = (res.n_atoms <= fill.max_atoms and checks["neighbourhood_ok"]
                        and checks["min_distance"] >= MIN_DISTANCE_FLAG and res.core_displacement == 0.0)
            if not eligible:
                row["status"] = "invalid"
            # only an eligible box may update the running minimum (pcc-method.md §5 item 7)
            if eligible and (best is None or res.pe_per_atom < best[1].pe_per_atom):
                best, best_checks = (j, res), checks
        row["eligible"] = eligible
        box_rows.append(row)
    for (ci, j), why in skipped.items():
        if ci == i:
            box_rows.append({"cluster": i, "grid_point": j, "margins": ",".join(f"{d:g}" for d in grid[j][1]),
                             "lx": grid[j][0][0], "ly": grid[j][0][1], "lz": grid[j][0][2], "seed": 0,
                             "status": why, "eligible": False})

    center_id = source.info.get("center_id", int(source.arrays["id"][center]) if "id" in source.arrays else center)
    summary = {"cluster": i, "source": f"{clusters_file.name}:{i}", "center_id": center_id, "n_core": len(core),
               "boxes_run": len(boxes), "boxes_eligible": sum(1 for r in box_rows if r["cluster"] == i and r.get("eligible"))}
    _plot_grid(outdir / f"cluster_{i:04d}_grid.png", [r for r in box_rows if r["cluster"] == i], fill.max_atoms)
    if best is None:
        summary.update(status="no valid cell", file="")
        return summary

    j, res = best
    atoms = res.atoms.copy()
    atoms.arrays["core"] = res.atoms.arrays["core"]
    atoms.arrays["inserted"] = res.atoms.arrays["inserted"]
    atoms.info.update(
        source=f"{clusters_file}:{i}", center_id=center_id, center_index=0, pe=res.pe, pe_per_atom=res.pe_per_atom,
        pressure=res.pressure_gpa, n_core=len(core), n_inserted=res.n_inserted,
        box_grid_point=np.array(grid[j][1], dtype=float), seed=res.seed, core_radius=settings.core_radius,
        cutoff=fill.cutoff, min_distance=best_checks["min_distance"],
        neighbourhood_deviation=best_checks["neighbourhood_deviation"], generator="eipgs pcc (fix gcmc/pcc)",
    )
    from ase.io import write

    path = outdir / f"cluster_{i:04d}.extxyz"
    write(path, atoms, format="extxyz", parallel=False)  # ASE's default writes on MPI rank 0 only
    summary.update(
        status="ok", file=path.name, n_atoms=len(atoms), n_inserted=res.n_inserted, pe=res.pe,
        pe_per_atom=res.pe_per_atom, pressure_gpa=res.pressure_gpa,
        pressure_flag=bool(abs(res.pressure_gpa) > PRESSURE_FLAG_GPA),
        lx=float(atoms.cell[0, 0]), ly=float(atoms.cell[1, 1]), lz=float(atoms.cell[2, 2]),
        box_grid_point=",".join(f"{d:g}" for d in grid[j][1]), **best_checks,
    )
    return summary


def _plot_grid(path: Path, rows: list[dict], cap: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ran = [r for r in rows if r.get("status") in ("ok", "invalid")]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    if ran:
        vol = np.array([r["lx"] * r["ly"] * r["lz"] for r in ran])
        pe = np.array([r["pe_per_atom"] for r in ran])
        ok = np.array([bool(r.get("eligible")) for r in ran])
        ax.scatter(vol[ok], pe[ok], c="tab:blue", label="eligible")
        ax.scatter(vol[~ok], pe[~ok], c="tab:red", marker="x", label="invalid")
        ax.legend()
    ax.set_xlabel("initial box volume (Å$^3$)")
    ax.set_ylabel("pe/atom after relaxation (eV/atom)")
    ax.set_title(f"{path.stem} (cap {cap} atoms)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)

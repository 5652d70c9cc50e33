# SPDX-License-Identifier: GPL-2.0-only
"""What every DFT writer shares: k-point meshes, vacuum boxes for clusters, species order, provenance.

Paper settings (doc/design/pcc.md §3): Monkhorst-Pack mesh of density 2π × 0.03 Å⁻¹ (VASPKIT
convention), clusters in 8 Å of vacuum on every side with the Γ point only.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms

from eipgs.io.atomic import write_text_atomic

__all__ = [
    "KSPACING_DEFAULT",
    "VACUUM_DEFAULT",
    "kpoint_mesh",
    "DftStructure",
    "prepare_structure",
    "load_inputs",
    "folder_names",
    "new_folder_names",
    "write_meta",
    "check_jobs",
    "check_geometry",
    "clear_folder",
    "MIN_DISTANCE",
    "DFT_OUTPUTS",
]

KSPACING_DEFAULT = 0.03  # in units of 2π Å⁻¹ (VASPKIT's "k-mesh resolution"), as in the paper
VACUUM_DEFAULT = 8.0  # Å on each side of a cluster (paper)
# Two atoms closer than this are a broken structure (overlapping atoms, a duplicated site), not physics:
# the closest approach in metals under MD at thousands of K stays above ~1.5 Å.
MIN_DISTANCE = 0.5
# What a VASP or pw.x run leaves in its folder; a rewritten folder must not keep any of it, or
# `eipgs collect` would label the new structure with the old result.
DFT_OUTPUTS = ("vasprun.xml", "OUTCAR", "OSZICAR", "CONTCAR", "vasp.out", "EIGENVAL", "DOSCAR", "PROCAR", "IBZKPT",
               "PCDAT", "XDATCAR", "REPORT", "WAVECAR", "CHGCAR", "CHG", "vaspout.h5", "pw.out", "tmp")


def kpoint_mesh(atoms: Atoms, spacing: float = KSPACING_DEFAULT) -> tuple[int, int, int]:
    """Monkhorst-Pack subdivisions N_i = max(1, ceil(|b_i| / spacing)) along periodic axes, 1 elsewhere.

    ``b_i`` are the reciprocal vectors *without* the 2π (|b_i| = 1/a for a cubic cell), so ``spacing``
    is the k-point separation in units of 2π Å⁻¹, VASPKIT's convention. Rounding up guarantees a mesh at
    least as dense as requested.
    """
    if spacing <= 0:
        raise ValueError(f"k-point spacing must be > 0 (got {spacing})")
    recip = np.asarray(atoms.cell.reciprocal())  # rows b_i with a_i · b_j = δ_ij
    mesh = []
    for axis in range(3):
        if not atoms.pbc[axis]:
            mesh.append(1)
            continue
        length = float(np.linalg.norm(recip[axis]))
        # 1e-9 keeps an exact multiple (|b|/spacing = 10.000000000001) from rounding up by noise.
        mesh.append(max(1, int(math.ceil(length / spacing - 1e-9))))
    return tuple(mesh)


@dataclass
class DftStructure:
    """One structure ready for DFT: the (boxed, species-sorted) Atoms and where it came from."""

    atoms: Atoms
    source_file: str
    source_index: int
    is_cluster: bool
    vacuum_axes: list[int]
    order: np.ndarray  # order[k] = index in the source structure of the k-th written atom
    meta: dict = field(default_factory=dict)


def prepare_structure(atoms: Atoms, elements: Sequence[str], *, vacuum: float = VACUUM_DEFAULT,
                      source_file: str = "", source_index: int = 0) -> DftStructure:
    """Box a non-periodic structure in vacuum, sort atoms by species (one POSCAR block per element).

    Axes with ``pbc=False`` get ``vacuum`` Å on both sides and one k-point. The written atoms are sorted
    by their position in ``elements`` (stable), and ``order`` maps them back to the source.
    """
    where = f"{source_file} (structure {source_index})"
    if len(atoms) == 0:
        raise ValueError(f"{where}: empty structure")
    if not np.all(np.isfinite(atoms.positions)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(atoms.positions), axis=1))[0])
        raise ValueError(f"{where}: atom {bad} has a non-finite coordinate {atoms.positions[bad].tolist()}")
    if not np.all(np.isfinite(atoms.cell[:])):
        raise ValueError(f"{where}: the cell has non-finite entries {atoms.cell[:].tolist()}")
    symbols = atoms.get_chemical_symbols()
    missing = sorted(set(symbols) - set(elements))
    if missing:
        raise ValueError(f"{where}: species {missing} are not in --elements {','.join(elements)}")
    rank = {e: k for k, e in enumerate(elements)}
    order = np.argsort([rank[s] for s in symbols], kind="stable")
    out = atoms[order]
    out.calc = None
    vacuum_axes = [k for k in range(3) if not atoms.pbc[k]]
    if vacuum_axes:
        if vacuum <= 0:
            raise ValueError(f"{where}: non-periodic along axes {vacuum_axes} needs --vacuum > 0")
        out.center(vacuum=vacuum, axis=tuple(vacuum_axes))
        out.pbc = True
    else:
        volume = float(np.linalg.det(out.cell[:]))
        if abs(volume) < 1e-9:
            raise ValueError(f"{where}: periodic structure with a singular (zero-volume) cell {out.cell[:].tolist()}")
        if volume < 0:
            raise ValueError(
                f"{where}: the cell is left-handed (det = {volume:.4g} Å³ < 0), which VASP rejects; swap two lattice "
                "vectors (or negate one) in the input"
            )
    check_geometry(out, where)
    return DftStructure(
        atoms=out,
        source_file=source_file,
        source_index=source_index,
        is_cluster=len(vacuum_axes) == 3,
        vacuum_axes=vacuum_axes,
        order=order,
    )


def check_geometry(atoms: Atoms, where: str, min_distance: float = MIN_DISTANCE) -> None:
    """Reject overlapping atoms: any pair (periodic images included) closer than ``min_distance`` Å."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, min_distance)
    if len(d):
        k = int(np.argmin(d))
        raise ValueError(
            f"{where}: atoms {int(i[k])} and {int(j[k])} are {d[k]:.3g} Å apart (< {min_distance} Å): overlapping "
            "atoms; fix or drop this structure"
        )


def clear_folder(folder: Path) -> None:
    """Remove the DFT outputs (and inputs) of a structure folder that is rewritten with ``--force``.

    Only folders written by ``eipgs dft`` (with a meta.json) are cleared: another folder under the same
    name is the user's, and is refused rather than emptied.
    """
    import shutil

    if not folder.exists():
        return
    if not folder.is_dir():
        raise ValueError(f"{folder} exists and is not a folder; remove it or choose another --outdir")
    if any(folder.iterdir()) and not (folder / "meta.json").is_file():
        raise ValueError(
            f"{folder} exists but was not written by `eipgs dft` (no meta.json); --force only rewrites eipgs folders: "
            "remove it yourself or choose another --outdir"
        )
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def load_inputs(inputs: Sequence[str | os.PathLike], elements: Sequence[str] | None):
    """Read every input file; returns ``[(path, index, atoms), ...]`` with symbols set from the map."""
    from eipgs.io.formats import _infer_elements, read_structures

    loaded = []
    for path in inputs:
        images = read_structures(path, elements=elements, require_symbols=True)
        for k, atoms in enumerate(images):
            loaded.append((Path(path), k, atoms))
    if not loaded:
        raise ValueError("no structures in the input files")
    if elements is None:
        elements = _infer_elements([a for _, _, a in loaded], ", ".join(str(p) for p in inputs))
    return loaded, list(elements)


def folder_names(loaded) -> list[str]:
    """``<input stem>_<index>``; inputs sharing a stem get their position in the argument list too."""
    stems = {}
    for path, _, _ in loaded:
        stems.setdefault(_stem(path), set()).add(str(path))
    names = []
    order = {}
    for path, k, _ in loaded:
        stem = _stem(path)
        if len(stems[stem]) > 1:
            order.setdefault(str(path), len(order))
            stem = f"{stem}{order[str(path)]}"
        names.append(f"{stem}_{k:05d}")
    return names


def new_folder_names(loaded, outdir: Path, force: bool) -> list[str]:
    """:func:`folder_names`, refusing to overwrite existing folders unless ``force``.

    With ``force`` the existing folders are checked (they must be eipgs folders) but not yet cleared:
    :func:`clear_folder` empties each one just before it is rewritten.
    """
    names = folder_names(loaded)
    clash = [n for n in names if (outdir / n).exists()]
    if clash and not force:
        raise ValueError(f"{outdir / clash[0]} already exists ({len(clash)} folders); use --force to overwrite")
    for n in clash:
        folder = outdir / n
        if not folder.is_dir() or (any(folder.iterdir()) and not (folder / "meta.json").is_file()):
            clear_folder(folder)  # raises with the reason
    return names


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".pckl.gzip", ".pkl.gz", ".extxyz", ".xyz", ".cfg", ".data", ".lmp", ".dump", ".lammpstrj", ".vasp"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
            break
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name) or "structure"


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def build_meta(item: DftStructure, source_atoms: Atoms, elements: Sequence[str], extra: dict) -> dict:
    """Provenance for ``meta.json``: source, index, center id, step, core flags (in written order)."""
    from eipgs import __version__

    features = dict(source_atoms.info.get("features") or {})
    info = {k: v for k, v in source_atoms.info.items() if k not in ("features",)}

    def pick(*keys):
        for key in keys:
            for d in (info, features):
                if key in d and d[key] is not None:
                    return _jsonable(d[key])
        return None

    meta = {
        "eipgs_version": __version__,
        "source_file": str(Path(item.source_file).resolve()) if item.source_file else "",
        "source_index": item.source_index,
        "center_id": pick("center_id", "center", "nbh#"),
        "step": pick("step", "timestep"),
        "grade": pick("grade", "extrapolation_grade", "MV_grade"),
        "elements": list(elements),
        "species_order": species_blocks(item.atoms.get_chemical_symbols()),
        "natoms": len(item.atoms),
        "is_cluster": item.is_cluster,
        "vacuum_axes": item.vacuum_axes,
        "source_atom_index": item.order.tolist(),
        "features": {str(k): str(v) for k, v in features.items()},
        "info": _jsonable({k: v for k, v in info.items() if k not in ("source_file", "source_index")}),
    }
    for name in ("core", "inserted", "id", "nbh_grades", "type"):
        if name in source_atoms.arrays:
            meta[name] = _jsonable(np.asarray(source_atoms.arrays[name])[item.order])
    meta.update(extra)
    return meta


def species_blocks(symbols: Sequence[str]) -> list[list]:
    blocks: list[list] = []
    for s in symbols:
        if blocks and blocks[-1][0] == s:
            blocks[-1][1] += 1
        else:
            blocks.append([s, 1])
    return blocks


def write_meta(folder: Path, meta: dict) -> None:
    write_text_atomic(folder / "meta.json", json.dumps(meta, indent=1) + "\n")


def check_jobs(outdir: Path, folders: Sequence[str], command: str) -> list[str]:
    """The folders jobs.txt already lists that stay in the array; refuses (before anything is written)
    to mix folders of another run command into it, unless every folder it lists is being rewritten."""
    jobs = outdir / "jobs.txt"
    script = outdir / "submit.slurm"
    if not jobs.is_file():
        return []
    listed = [line.strip() for line in jobs.read_text().splitlines() if line.strip()]
    kept = [f for f in listed if f not in set(folders)]
    if kept and script.is_file() and command not in script.read_text():
        raise ValueError(
            f"{outdir} already holds jobs of another code or executable ({len(kept)} folders in {jobs} run by "
            f"{script}); write these folders into another --outdir"
        )
    return kept if not script.is_file() or command not in script.read_text() else listed


def write_jobs(outdir: Path, folders: Sequence[str], command: str, *, job_name: str, nodes: int, ntasks: int,
               time: str, partition: str | None, account: str | None) -> None:
    """``jobs.txt`` (one folder per line) and a SLURM array script running ``command`` in each folder.

    A second call into the same ``outdir`` appends its folders to jobs.txt (each folder once) and rewrites
    submit.slurm for the whole list, so the first call's jobs are not lost; folders of another code (a
    different run command) are refused rather than mixed into one array.
    """
    jobs = outdir / "jobs.txt"
    script = outdir / "submit.slurm"
    listed = check_jobs(outdir, folders, command)
    folders = listed + [f for f in dict.fromkeys(folders) if f not in set(listed)]
    write_text_atomic(jobs, "".join(f"{f}\n" for f in folders))
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={job_name}",
        f"#SBATCH --array=1-{len(folders)}",
        f"#SBATCH --nodes={nodes}",
        f"#SBATCH --ntasks-per-node={ntasks}",
        f"#SBATCH --time={time}",
        "#SBATCH --output=slurm-%A_%a.out",
    ]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if account:
        lines.append(f"#SBATCH --account={account}")
    lines += [
        "# Written by eipgs: one array task per line of jobs.txt. Submit from this folder: sbatch submit.slurm",
        "set -euo pipefail",
        'cd "${SLURM_SUBMIT_DIR:-.}"',
        'dir=$(sed -n "${SLURM_ARRAY_TASK_ID}p" jobs.txt)',
        'cd "$dir"',
        command,
        "",
    ]
    write_text_atomic(script, "\n".join(lines))
    script.chmod(0o755)

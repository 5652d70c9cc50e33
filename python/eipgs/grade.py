# SPDX-License-Identifier: GPL-2.0-only
"""Offline extrapolation grades, like MLIP-3's ``mlp calculate_grade`` (doc/design/mtp.md §3, §9.5).

:func:`grade_structures` grades ASE Atoms in memory; :func:`grade` (``eipgs grade``) reads any format of
:mod:`eipgs.io.formats`, grades, and writes a ``.cfg`` with the ``nbh_grades`` column and the
``MV_grade`` feature (6 decimals).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms

__all__ = ["grade", "grade_structures"]


def _id_ranges(ids: np.ndarray) -> str:
    """Compact '1-167,169-1025' listing of LAMMPS ids (cfg ids must be 1..N, doc/design/mtp.md §9.2)."""
    if len(ids) == 0:
        return ""
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts = np.concatenate([[ids[0]], ids[breaks + 1]])
    ends = np.concatenate([ids[breaks], [ids[-1]]])
    return ",".join(f"{s}" if s == e else f"{s}-{e}" for s, e in zip(starts, ends))


def _check_structure(atoms: Atoms, where: str) -> None:
    """Refuse what would grade garbage: non-finite coordinates, a degenerate or inverted periodic cell."""
    if not np.all(np.isfinite(atoms.positions)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(atoms.positions), axis=1))[0])
        raise ValueError(f"{where}atom {bad} has a non-finite coordinate {atoms.positions[bad].tolist()}")
    cell = atoms.cell[:]
    if not np.all(np.isfinite(cell)):
        raise ValueError(f"{where}the cell has non-finite entries {cell.tolist()}")
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any():
        lengths = np.linalg.norm(cell, axis=1)
        if np.any(lengths[pbc] <= 0):
            raise ValueError(f"{where}periodic axis {int(np.flatnonzero(pbc & (lengths <= 0))[0])} has a zero cell vector")
        if pbc.all() and abs(np.linalg.det(cell)) < 1e-9:
            raise ValueError(f"{where}the periodic cell {cell.tolist()} is singular (zero volume)")


def grade_structures(
    potential,
    structures: Sequence[Atoms],
    *,
    species: Sequence | None = None,
    elements: Sequence[str] | None = None,
    lammps_numbering: bool = False,
    progress: bool = False,
    source: str = "",
) -> list[Atoms]:
    """Grade every atom of every structure (ASE Atoms in, graded copies out; no files).

    ``potential`` is an :class:`~eipgs.io.almtp.MTPPotential` with a neighbourhood-mode active set, or a
    path to one. Types map to MTP species as :func:`eipgs.mtp.species.species_of_atoms` documents:
    ``arrays["type"]`` is the cfg type (LAMMPS type − 1 with ``lammps_numbering``), else symbols through
    ``elements``; ``species`` overrides the map (one entry per LAMMPS type, or per cfg type).

    Each returned Atoms has ``arrays["nbh_grades"]`` (γ; 0 for excluded and ghost atoms),
    ``arrays["type"]`` (cfg types: the MTP species label; excluded LAMMPS types keep type − 1), the MTP
    site energies in ``info["mtp_site_energies"]`` and ``info["features"]["MV_grade"]`` = max γ with 6
    decimals (plus ``lammps_ids`` and ``lammps_timestep`` when the input has ids and a timestep).
    """
    from tqdm.auto import tqdm

    from eipgs.io.almtp import MTPPotential, read_almtp
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import NonFiniteGradeWarning, evaluate_configuration
    from eipgs.mtp.species import check_elements, species_of_atoms

    pot = potential if isinstance(potential, MTPPotential) else read_almtp(potential, configurations=False)
    pot.require_active_set("nbh")
    check_elements(pot, elements, species)
    prefix = f"{source}: " if source else ""
    evaluator = MTPEvaluator(pot)
    out: list[Atoms] = []
    bar = tqdm(total=sum(len(a) for a in structures), desc="grading", unit="atom", unit_scale=True, disable=not progress)
    for k, atoms in enumerate(structures):
        where = f"{prefix}configuration {k}: "
        bar.set_postfix_str(f"configuration {k + 1}/{len(structures)}", refresh=False)
        _check_structure(atoms, where)
        spec = species_of_atoms(atoms, pot, elements=elements, species=species, lammps_numbering=lammps_numbering,
                                where=where)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NonFiniteGradeWarning)
            res = evaluate_configuration(evaluator, atoms.positions, atoms.cell[:], atoms.pbc, spec, progress=bar.update)
        for w in caught:  # say which structure the warning is about
            if issubclass(w.category, NonFiniteGradeWarning):
                warnings.warn(f"{where}{w.message}", NonFiniteGradeWarning, stacklevel=2)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        bar.update(int(np.sum(spec < 0)))  # excluded atoms count as done
        grades = res.grades
        ghost = atoms.arrays.get("ghost")
        if ghost is not None:
            grades = np.where(np.asarray(ghost, dtype=bool), 0.0, grades)  # ghosts are not graded (§3.1)
        graded = atoms.copy()
        graded.calc = atoms.calc
        labels = np.asarray(pot.species_labels)
        if lammps_numbering and "type" in atoms.arrays:
            # cfg types are species labels; excluded atoms keep LAMMPS type − 1 (documented in cli_grade.md).
            graded.arrays["type"] = np.where(spec >= 0, labels[np.maximum(spec, 0)], atoms.arrays["type"])
        elif "type" not in atoms.arrays:
            graded.arrays["type"] = labels[np.maximum(spec, 0)]
        graded.arrays["nbh_grades"] = grades
        graded.info["mtp_site_energies"] = res.energy
        features = dict(atoms.info.get("features") or {})
        features["MV_grade"] = "%.6f" % (float(grades.max()) if len(grades) else 0.0)
        if "id" in atoms.arrays:
            features["lammps_ids"] = _id_ranges(np.asarray(atoms.arrays["id"]))
        if "timestep" in atoms.info:
            features["lammps_timestep"] = str(atoms.info["timestep"])
        graded.info["features"] = features
        out.append(graded)
    bar.close()
    return out


def grade(
    potential_path: str | os.PathLike,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike | None,
    *,
    species: Sequence | None = None,
    elements: Sequence[str] | None = None,
    fmt: str | None = None,
    progress: bool = True,
) -> list[Atoms]:
    """``eipgs grade``: read ``input_path`` (any format of :mod:`eipgs.io.formats`), grade it with
    :func:`grade_structures`, write ``output_path`` (MLIP .cfg; None = no file) and return the graded Atoms.

    ``fmt`` forces the input format (``cfg``, ``extxyz``, ``lammps-data``, ``lammps-dump``, ``pacemaker``,
    ``poscar``); by default it follows the file name.
    """
    from eipgs.io.almtp import read_almtp
    from eipgs.io.atomic import same_file
    from eipgs.io.formats import detect_format, read_structures

    input_path = Path(input_path)
    if output_path is not None:
        for name, path in (("the potential", potential_path), ("the input", input_path)):
            if same_file(output_path, path):
                raise ValueError(f"-o {output_path} is {name} {path}: refusing to overwrite it; choose another output name")
    from eipgs.mtp.species import check_elements

    pot = read_almtp(potential_path, configurations=False)
    pot.require_active_set("nbh")
    check_elements(pot, elements, species)
    if input_path.is_dir():
        raise IsADirectoryError(f"{input_path} is a folder, not a structure file")
    if not input_path.is_file():
        raise FileNotFoundError(f"input file not found: {input_path}")
    fmt = fmt or detect_format(input_path)
    structures = read_structures(input_path, elements=elements, fmt=fmt)
    if not structures:
        raise ValueError(f"no structures in {input_path}")
    # A LAMMPS file's types, and an extended XYZ `type` column (what fix cluster/sample and `eipgs convert`
    # write), are LAMMPS types; with --elements the symbols decide (the readers set the types from them).
    lammps_numbering = fmt.startswith("lammps") or (fmt == "extxyz" and elements is None)
    out = grade_structures(pot, structures, species=species, elements=elements, lammps_numbering=lammps_numbering,
                           progress=progress, source=str(input_path))
    if output_path is not None:
        from eipgs.io.cfg import write_cfg

        write_cfg(output_path, out)
    return out

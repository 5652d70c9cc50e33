"""Offline extrapolation grades, like MLIP-3's ``mlp calculate_grade`` (mtp-grade.md §3, §9.5).

``grade(pot.almtp, input, out.cfg)`` reads configurations from a ``.cfg``, an extended XYZ file, a
LAMMPS data file or a LAMMPS text dump, computes γ for every atom with the NumPy evaluator and
writes a ``.cfg`` with the ``nbh_grades`` column and the ``MV_grade`` feature (6 decimals).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms

__all__ = ["grade", "read_structures", "detect_format", "type_to_species_table", "FORMATS"]

FORMATS = ("cfg", "extxyz", "lammps-data", "lammps-dump")
_SUFFIXES = {
    ".cfg": "cfg",
    ".extxyz": "extxyz",
    ".xyz": "extxyz",
    ".data": "lammps-data",
    ".lmp": "lammps-data",
    ".dump": "lammps-dump",
    ".lammpstrj": "lammps-dump",
}


def detect_format(path: Path) -> str:
    """Format from the extension, else from the first line (BEGIN_CFG / ITEM: / atom count)."""
    suffix = path.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if path.name.startswith("data.") or path.name.startswith("dump."):
        return "lammps-data" if path.name.startswith("data.") else "lammps-dump"
    with open(path, errors="replace") as fh:
        first = fh.readline().strip()
        second = fh.readline().strip()
    if first == "BEGIN_CFG":
        return "cfg"
    if first.startswith("ITEM:"):
        return "lammps-dump"
    if first.isdigit():
        return "extxyz"
    if second == "" or "atoms" in second:
        return "lammps-data"
    raise ValueError(
        f"cannot tell the format of {path}; use an extension ({', '.join(sorted(_SUFFIXES))}) or pass "
        f"fmt= / --format one of {', '.join(FORMATS)}"
    )


def read_structures(path: Path, fmt: str, elements: Sequence[str] | None = None) -> list[Atoms]:
    if fmt == "cfg":
        from eipgs.io.cfg import read_cfg

        return read_cfg(path, elements=elements)
    if fmt == "extxyz":
        import ase.io

        return list(ase.io.read(path, index=":", format="extxyz"))
    if fmt == "lammps-data":
        from eipgs.io.lammps import read_lammps_data

        return [read_lammps_data(path, elements=elements)]
    if fmt == "lammps-dump":
        from eipgs.io.lammps import read_lammps_dump

        return read_lammps_dump(path, elements=elements)
    raise ValueError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _parse_species(species: Sequence | None) -> list[int] | None:
    if species is None:
        return None
    out = []
    for s in species:
        if s is None or (isinstance(s, str) and s.upper() == "NULL") or (not isinstance(s, str) and int(s) < 0):
            out.append(-1)
        else:
            try:
                out.append(int(s))
            except ValueError:
                raise ValueError(f"species entry {s!r} is neither an integer nor NULL") from None
    return out


def type_to_species_table(
    pot, fmt: str, max_type: int, species: Sequence | None, ntypes: int | None = None
) -> np.ndarray:
    """Index = input type, value = MTP species index (−1 = excluded: neither graded nor neighbour).

    LAMMPS inputs: type t (1-based) → species t−1 by default; ``species`` lists one entry per LAMMPS type.
    cfg / extxyz types: type t → position of t among the potential's species labels (mtp-grade.md §1.1);
    ``species[t]`` overrides it.
    """
    src = pot.source
    parsed = _parse_species(species)
    if fmt.startswith("lammps"):
        n = ntypes or max_type
        if parsed is None:
            if n > pot.C:
                raise ValueError(
                    f"{n} LAMMPS atom types but {src} has species_count {pot.C}; map them with "
                    f"--species (one MTP species index or NULL per type)"
                )
            parsed = list(range(n))
        if len(parsed) != n:
            raise ValueError(f"--species has {len(parsed)} entries but the input has {n} LAMMPS atom types")
        table = np.full(max(n, max_type) + 1, -1, dtype=np.int64)
        table[1 : n + 1] = parsed
    else:
        if parsed is None:
            table = np.array(
                [pot.species_labels.index(t) if t in pot.species_labels else -2 for t in range(max_type + 1)],
                dtype=np.int64,
            )
        else:
            if len(parsed) < max_type + 1:
                raise ValueError(f"--species has {len(parsed)} entries, but the input uses type {max_type}")
            table = np.array(parsed, dtype=np.int64)
    bad = table[table >= pot.C]
    if len(bad):
        raise ValueError(f"species index {int(bad[0])} >= species_count {pot.C} of {src}")
    return table


def _id_ranges(ids: np.ndarray) -> str:
    """Compact '1-167,169-1025' listing of LAMMPS ids (cfg ids must be 1..N, mtp-grade.md §9.2)."""
    if len(ids) == 0:
        return ""
    breaks = np.flatnonzero(np.diff(ids) != 1)
    starts = np.concatenate([[ids[0]], ids[breaks + 1]])
    ends = np.concatenate([ids[breaks], [ids[-1]]])
    return ",".join(f"{s}" if s == e else f"{s}-{e}" for s, e in zip(starts, ends))


def _types_of(atoms: Atoms, fmt: str, elements: Sequence[str] | None, pot, index: int) -> np.ndarray:
    """cfg / LAMMPS types as read; for extended XYZ, ``elements`` (symbol order) wins over a ``type`` array."""
    if "type" in atoms.arrays and (fmt != "extxyz" or elements is None):
        return np.asarray(atoms.arrays["type"], dtype=np.int64)
    symbols = atoms.get_chemical_symbols()
    # LAMMPS types are 1-based (a dump with an `element` column but no `type` column lands here).
    first = 1 if fmt.startswith("lammps") else 0
    if elements is not None:
        missing = sorted(set(symbols) - set(elements))
        if missing:
            raise ValueError(f"configuration {index}: elements {missing} are not in --elements {list(elements)}")
        return np.array([list(elements).index(s) + first for s in symbols], dtype=np.int64)
    if len(set(symbols)) <= 1 and pot.C == 1:
        return np.full(len(atoms), first if first else pot.species_labels[0], dtype=np.int64)
    raise ValueError(
        f"configuration {index}: cannot map chemical symbols {sorted(set(symbols))} to MTP species; pass "
        "elements=[...] / --elements in the order of the cfg types of the potential"
    )


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
    """Grade every atom of every configuration; write ``output_path`` (MLIP .cfg) and return the configurations.

    Each returned Atoms has ``arrays["nbh_grades"]`` (γ; 0 for excluded and ghost atoms), the MTP site
    energies in ``info["mtp_site_energies"]`` (not written, as ``mlp calculate_grade`` does not write them)
    and ``info["features"]["MV_grade"]`` = max γ with 6 decimals. LAMMPS inputs keep ``arrays["id"]``.
    """
    from tqdm.auto import tqdm

    from eipgs.io.almtp import read_almtp
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration, species_for_types

    pot = read_almtp(potential_path, configurations=False)
    pot.require_active_set("nbh")
    input_path = Path(input_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"input file not found: {input_path}")
    fmt = fmt or detect_format(input_path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)}")
    structures = read_structures(input_path, fmt, elements if fmt.startswith("lammps") or fmt == "cfg" else None)
    evaluator = MTPEvaluator(pot)
    out: list[Atoms] = []
    bar = tqdm(total=sum(len(a) for a in structures), desc="grading", unit="atom", unit_scale=True, disable=not progress)
    for k, atoms in enumerate(structures):
        bar.set_postfix_str(f"configuration {k + 1}/{len(structures)}", refresh=False)
        types = _types_of(atoms, fmt, elements, pot, k)
        ntypes = atoms.info.get("lammps_ntypes")
        table = type_to_species_table(pot, fmt, int(types.max(initial=0)), species, ntypes)
        spec = species_for_types(types, table, f"{input_path}: configuration {k}: ")
        if (spec == -2).any():
            bad = sorted(set(types[spec == -2].tolist()))
            raise ValueError(
                f"{input_path}: configuration {k}: cfg type(s) {bad} are not among the species labels "
                f"{pot.species_labels} of {potential_path} (too few species in the MTP); map them with --species"
            )
        res = evaluate_configuration(evaluator, atoms.positions, atoms.cell[:], atoms.pbc, spec, progress=bar.update)
        bar.update(int(np.sum(spec < 0)))  # excluded atoms count as done
        grades = res.grades
        ghost = atoms.arrays.get("ghost")
        if ghost is not None:
            grades = np.where(np.asarray(ghost, dtype=bool), 0.0, grades)  # ghosts are not graded (§3.1)
        graded = atoms.copy()
        graded.calc = atoms.calc
        if fmt.startswith("lammps"):
            # cfg types are species labels; excluded atoms keep LAMMPS type − 1 (documented in cli_grade.md).
            labels = np.asarray(pot.species_labels)
            graded.arrays["type"] = np.where(spec >= 0, labels[np.maximum(spec, 0)], types - 1)
        else:
            graded.arrays["type"] = types
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
    if output_path is not None:
        from eipgs.io.cfg import write_cfg

        write_cfg(output_path, out)
    return out

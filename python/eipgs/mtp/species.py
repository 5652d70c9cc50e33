# SPDX-License-Identifier: GPL-2.0-only
"""The one map from structure types / chemical symbols to MTP species indices.

Conventions (doc/design/mtp.md §1.1, §9.2):

- inside eipgs, ``atoms.arrays["type"]`` is the **cfg type** (0-based); readers shift LAMMPS types by −1
  (see :mod:`eipgs.io.formats`);
- a cfg type ``t`` is the MTP species ``pot.species_labels.index(t)``: the labels of the ``s1-s2`` blocks
  of the radial coefficients, usually 0, 1, ...;
- a structure whose types came from LAMMPS (a LAMMPS data file or dump, or the ``type`` column of an
  extended XYZ written by ``fix cluster/sample``) maps LAMMPS type ``t`` to species ``t − 1``, as the
  ``fix mtp/grade`` species list does by default;
- ``elements`` (the ``--elements`` option) names the element of cfg type 0, 1, ...: structures carrying
  only chemical symbols get ``type = elements.index(symbol)``;
- a ``species`` list (the ``--species`` option) overrides the default map: one entry per LAMMPS type
  1..N, or per cfg type 0.., each an MTP species index or ``NULL`` (−1: the atom is neither graded nor a
  neighbour).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from ase import Atoms

__all__ = [
    "EXCLUDED",
    "parse_species",
    "type_to_species_table",
    "species_for_types",
    "species_of_atoms",
    "types_from_symbols",
    "check_elements",
]

EXCLUDED = -1  # species of an atom that is neither graded nor a neighbour
_UNKNOWN = -2  # a cfg type that is not among the potential's species labels (an error once used)


def parse_species(species: Sequence | None) -> list[int] | None:
    """``["1", "NULL", 0]`` → ``[1, -1, 0]`` (the ``--species`` option); None stays None."""
    if species is None:
        return None
    out = []
    for s in species:
        if s is None or (isinstance(s, str) and s.upper() == "NULL") or (not isinstance(s, str) and int(s) < 0):
            out.append(EXCLUDED)
            continue
        try:
            value = int(s)
        except ValueError:
            raise ValueError(f"species entry {s!r} is neither an integer nor NULL") from None
        if value < 0:
            raise ValueError(f"species entry {s!r} is negative; write NULL to leave a type out")
        out.append(value)
    return out


def type_to_species_table(pot, *, lammps_numbering: bool, max_type: int, species: Sequence | None = None,
                          ntypes: int | None = None) -> np.ndarray:
    """Index = type as the structure numbers it, value = MTP species (−1 excluded, −2 unknown cfg type).

    With ``lammps_numbering`` the index is the LAMMPS type (1..N; N = ``ntypes`` from a data file's header,
    else the largest type) and ``species`` has one entry per LAMMPS type. Otherwise the index is the cfg
    type and ``species[t]`` overrides the species-label default.
    """
    src = pot.source
    parsed = parse_species(species)
    if lammps_numbering:
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
        table = np.full(max(n, max_type) + 1, EXCLUDED, dtype=np.int64)
        table[1 : n + 1] = parsed
    elif parsed is None:
        labels = list(pot.species_labels)
        table = np.array([labels.index(t) if t in labels else _UNKNOWN for t in range(max_type + 1)], dtype=np.int64)
    else:
        if len(parsed) < max_type + 1:
            raise ValueError(f"--species has {len(parsed)} entries, but the input uses type {max_type}")
        table = np.array(parsed, dtype=np.int64)
    bad = table[table >= pot.C]
    if len(bad):
        raise ValueError(f"species index {int(bad[0])} >= species_count {pot.C} of {src}")
    return table


def species_for_types(types: np.ndarray, type_to_species: np.ndarray, source: str = "") -> np.ndarray:
    """Map per-atom types through ``type_to_species`` (index = type; −1 = excluded)."""
    types = np.asarray(types, dtype=np.int64)
    table = np.asarray(type_to_species, dtype=np.int64)
    if len(types) and (types.min() < 0 or types.max() >= len(table)):
        bad = int(types.max() if types.max() >= len(table) else types.min())
        raise ValueError(f"{source}type {bad} has no entry in the species mapping {table.tolist()}")
    return table[types]


def types_from_symbols(atoms: Atoms, elements: Sequence[str], where: str) -> np.ndarray:
    """cfg type of every atom from its chemical symbol: the index of the symbol in ``elements``."""
    symbols = atoms.get_chemical_symbols()
    lookup = {e: k for k, e in enumerate(elements)}
    missing = sorted(set(symbols) - set(lookup))
    if missing:
        raise ValueError(
            f"{where}elements {missing} are not in --elements {','.join(elements)}; add them in the potential's "
            "species order"
        )
    return np.array([lookup[s] for s in symbols], dtype=np.int64)


def check_elements(pot, elements: Sequence[str] | None, species: Sequence | None = None) -> None:
    """Refuse a type → element map with more elements than the potential has species (unless ``species``
    maps the types explicitly, e.g. leaving some out with NULL): the extra elements would have no MTP
    species, and a silently accepted map hides a wrong potential or a wrong option."""
    if elements is None or species is not None or len(elements) <= pot.C:
        return
    raise ValueError(
        f"--elements lists {len(elements)} elements ({', '.join(elements)}) but {pot.source} has species_count "
        f"{pot.C}: give at most {pot.C} (the elements of its species, in order), or map types with --species"
    )


def species_of_atoms(
    atoms: Atoms,
    pot,
    *,
    elements: Sequence[str] | None = None,
    species: Sequence | None = None,
    lammps_numbering: bool = False,
    where: str = "",
) -> np.ndarray:
    """MTP species index of every atom of ``atoms`` (−1 = excluded), by the conventions of this module.

    ``arrays["type"]`` (cfg types; LAMMPS type − 1 with ``lammps_numbering``) is used when present, else
    the symbols through ``elements``. A structure of one element needs no map when the potential has one
    species. ``where`` prefixes error messages
    (e.g. ``"train.cfg: configuration 3: "``).
    """
    if "type" in atoms.arrays:
        types = np.asarray(atoms.arrays["type"], dtype=np.int64)
        numbering_lammps = lammps_numbering
    elif elements is not None and _has_symbols(atoms):
        types = types_from_symbols(atoms, elements, where)
        numbering_lammps = False
    elif len(atoms) == 0:
        return np.zeros(0, dtype=np.int64)
    elif _has_symbols(atoms) and len(set(atoms.numbers.tolist())) == 1 and pot.C == 1:
        types = np.full(len(atoms), pot.species_labels[0], dtype=np.int64)
        numbering_lammps = False
    else:
        what = sorted(set(atoms.get_chemical_symbols())) if _has_symbols(atoms) else "no types and no symbols"
        raise ValueError(
            f"{where}cannot map the atoms ({what}) to the {pot.C} MTP species of {pot.source}: pass "
            "elements=[...] / --elements in the order of the potential's species (cfg types 0, 1, ...)"
        )
    if len(types) and types.min() < 0:
        raise ValueError(f"{where}negative cfg type {int(types.min())}")
    max_type = int(types.max(initial=0))
    if numbering_lammps:
        table = type_to_species_table(pot, lammps_numbering=True, max_type=max_type + 1, species=species,
                                      ntypes=atoms.info.get("lammps_ntypes"))
        spec = species_for_types(types + 1, table, where)
    else:
        table = type_to_species_table(pot, lammps_numbering=False, max_type=max_type, species=species)
        spec = species_for_types(types, table, where)
    if (spec == _UNKNOWN).any():
        bad = sorted(set(types[spec == _UNKNOWN].tolist()))
        raise ValueError(
            f"{where}cfg type(s) {bad} are not among the species labels {list(pot.species_labels)} of {pot.source} "
            "(too few species in the MTP); map them with --species, or use a potential trained for all species"
        )
    return spec


def _has_symbols(atoms: Atoms) -> bool:
    return len(atoms) > 0 and not np.any(atoms.numbers == 0)

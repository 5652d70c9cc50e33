# SPDX-License-Identifier: GPL-2.0-only
"""One entry point for every structure format, chosen by file name.

=====================  ==============================  ===========================================
format                 names                           what it carries
=====================  ==============================  ===========================================
MLIP ``.cfg``          ``*.cfg``                       types only; energy, forces, PlusStress, features
pacemaker pickle       ``*.pckl.gzip``, ``*.pkl.gz``   symbols; energy, forces, weights (+ stress, features)
extended XYZ           ``*.extxyz``, ``*.xyz``         symbols; energy, forces, stress, info, per-atom arrays
LAMMPS data            ``*.data``, ``*.lmp``           types only (one structure)
LAMMPS text dump       ``*.dump``, ``*.lammpstrj``     types only (frames)
VASP POSCAR            ``POSCAR*``, ``CONTCAR*``,      symbols; cell and positions only (one structure)
                       ``*.vasp``, ``*.poscar``
=====================  ==============================  ===========================================

Species conventions used across eipgs (doc/design/mtp.md §9.2):

- ``elements`` is the type → element map: ``elements[t]`` is the element of cfg type ``t`` (0-based),
  i.e. of LAMMPS type ``t + 1``;
- after :func:`read_structures`, ``arrays["type"]`` (when present) is always the **cfg** type (0-based):
  LAMMPS types are shifted by −1 and the LAMMPS tags kept in ``arrays["id"]``;
- formats that carry only type numbers (cfg, LAMMPS) need ``elements`` before they can be written to a
  format that carries symbols, and symbol formats need ``elements`` to be written as types unless the data
  hold a single element.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import atomic_numbers, chemical_symbols

__all__ = [
    "detect_format",
    "read_structures",
    "read_structures_from",
    "write_structures",
    "parse_elements",
    "assign_types",
    "TYPE_ONLY_FORMATS",
    "FORMATS",
]

FORMATS = ("cfg", "pacemaker", "extxyz", "lammps-data", "lammps-dump", "poscar")
TYPE_ONLY_FORMATS = ("cfg", "lammps-data", "lammps-dump")
_SINGLE_STRUCTURE = ("lammps-data", "poscar")


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path`` from its name (see the module table); ValueError if unknown."""
    name = Path(path).name
    low = name.lower()
    if low.endswith(".cfg"):
        return "cfg"
    if low.endswith((".pckl.gzip", ".pkl.gz", ".pckl.gz", ".pkl.gzip")):
        return "pacemaker"
    if low.endswith((".extxyz", ".xyz")):
        return "extxyz"
    if low.endswith((".data", ".lmp")) or low.startswith("data."):
        return "lammps-data"
    if low.endswith((".dump", ".lammpstrj")) or low.startswith("dump."):
        return "lammps-dump"
    if low.startswith(("poscar", "contcar")) or low.endswith((".vasp", ".poscar")):
        return "poscar"
    sniffed = _sniff_format(Path(path))
    if sniffed is not None:
        return sniffed
    raise ValueError(
        f"{path}: cannot tell the format from the name; use one of .cfg, .pckl.gzip/.pkl.gz, .extxyz/.xyz, "
        ".data/.lmp (LAMMPS data), .dump/.lammpstrj (LAMMPS dump), POSCAR/CONTCAR/.vasp"
    )


def _sniff_format(path: Path) -> str | None:
    """The format of an existing text file from its first lines (BEGIN_CFG, ITEM:, an atom count, a
    LAMMPS data header), or None."""
    if not path.is_file():
        return None
    try:
        with open(path, errors="replace") as fh:
            first = fh.readline().strip()
            lines = [fh.readline().strip() for _ in range(3)]
    except OSError:
        return None
    if first == "BEGIN_CFG":
        return "cfg"
    if first.startswith("ITEM:"):
        return "lammps-dump"
    if first.isdigit():
        return "extxyz"
    if any(line.endswith(" atoms") and line.split()[0].isdigit() for line in lines if line):
        return "lammps-data"
    return None


def parse_elements(text: str | Sequence[str] | None) -> list[str] | None:
    """``"W,Cu"``, ``["W", "Cu"]`` or ``["W,Cu"]`` → ``["W", "Cu"]`` (the ``--elements`` option), validated."""
    if text is None:
        return None
    tokens = [text] if isinstance(text, str) else list(text)
    items = [s.strip() for t in tokens for s in str(t).split(",")]
    items = [s for s in items if s]
    if not items:
        return None
    bad = [s for s in items if s not in atomic_numbers or s == "X"]
    if bad:
        raise ValueError(f"--elements: {unknown_symbol_message(bad[0])}")
    if len(set(items)) != len(items):
        raise ValueError(f"--elements: {items} lists an element twice")
    return items


def _missing_map_error(path, fmt: str) -> ValueError:
    return ValueError(
        f"{path}: {fmt} files carry only type numbers, so the type → element map is needed: pass "
        "--elements W,... (the element of type 0, 1, ... for .cfg; of LAMMPS type 1, 2, ... for LAMMPS files)"
    )


def read_structures(path: str | os.PathLike, elements: Sequence[str] | None = None, *,
                    require_symbols: bool = False, fmt: str | None = None) -> list[Atoms]:
    """Read every structure of ``path`` as ``Atoms`` (format ``fmt``, default from the name or content).

    With ``elements``, symbols of type-only formats are set from the map and symbols of the other formats
    are checked against it (``arrays["type"]`` is then the index in ``elements``). ``require_symbols``
    turns a missing map for a type-only format into an error naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a structure file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"unknown structure format {fmt!r}; choose one of {', '.join(FORMATS)}")
    elements = list(elements) if elements is not None else None
    if fmt in TYPE_ONLY_FORMATS and elements is None and require_symbols:
        raise _missing_map_error(path, fmt)
    if fmt == "cfg":
        from eipgs.io.cfg import read_cfg

        images = read_cfg(path, elements=elements)
    elif fmt == "pacemaker":
        from eipgs.io.pacemaker import read_pacemaker

        images = read_pacemaker(path)
    elif fmt == "extxyz":
        images = _ase_read(path, "extxyz", index=":")
        for k, atoms in enumerate(images):
            _restore_extxyz(atoms, f"{path} (structure {k})")
    elif fmt in ("lammps-data", "lammps-dump"):
        images = _read_lammps(path, fmt, elements)
    else:
        images = [_ase_read(path, "vasp")]
    for k, atoms in enumerate(images):
        atoms.info.setdefault("source_file", str(path))
        atoms.info.setdefault("source_index", k)
        if elements is not None and fmt not in TYPE_ONLY_FORMATS:
            assign_types(atoms, elements, f"{path} (structure {k})")
    return images


def unknown_symbol_message(symbol: str) -> str:
    """'Qq' is not a chemical symbol, with the valid ones listed (for error messages)."""
    valid = " ".join(chemical_symbols[1:])
    return f"{symbol!r} is not a chemical symbol (valid: {valid})"


def _ase_read(path: Path, fmt: str, index=None):
    """ASE's reader with its exceptions turned into errors naming the file (ASE raises KeyError for an
    unknown symbol, XYZError/ValueError/IndexError for malformed files)."""
    import ase.io

    labels = {"extxyz": "extended XYZ", "vasp": "POSCAR"}
    try:
        # parallel=False: under mpirun ASE would read on rank 0 and broadcast through COMM_WORLD, a
        # collective that ranks reading different files (or only one rank) never complete
        if index is None:
            return ase.io.read(path, format=fmt, parallel=False)
        return ase.io.read(path, index=index, format=fmt, parallel=False)
    except KeyError as exc:
        symbol = exc.args[0] if exc.args else "?"
        raise ValueError(f"{path}: {unknown_symbol_message(str(symbol))}") from None
    except (OSError, ValueError, IndexError, AssertionError, StopIteration) as exc:
        if isinstance(exc, OSError) and not type(exc).__module__.startswith("ase"):
            raise
        raise ValueError(f"{path}: not a valid {labels.get(fmt, fmt)} file ({exc})") from None


def _read_lammps(path: Path, fmt: str, elements):
    from eipgs.io import lammps as lmpio

    if fmt == "lammps-data":
        images = [lmpio.read_lammps_data(path, elements=elements)]
    else:
        images = lmpio.read_lammps_dump(path, elements=elements)
    for atoms in images:
        named = bool(atoms.info.pop("lammps_element_column", False))
        if "type" in atoms.arrays:
            types = np.asarray(atoms.arrays["type"], dtype=np.int64)
            if len(types) and types.min() < 1:
                raise ValueError(f"{path}: LAMMPS type {types.min()} < 1")
            # cfg convention everywhere inside eipgs: LAMMPS type t is cfg type t - 1 (doc/design/mtp.md §9.2).
            atoms.arrays["type"] = types - 1
        if named:
            # A dump `element` column names every atom: keep the symbols; with a map, the types
            # follow the map (checked against a `type` column when there is one).
            if elements is not None:
                file_types = atoms.arrays.get("type")
                assign_types(atoms, elements, str(path))
                if file_types is not None and not np.array_equal(file_types, atoms.arrays["type"]):
                    raise ValueError(
                        f"{path}: the dump's type and element columns disagree with --elements {','.join(elements)}"
                    )
        elif elements is None:
            # The LAMMPS reader may guess elements from Masses; a guess is not a map, so do not keep it.
            atoms.numbers = np.zeros(len(atoms), dtype=int)
        if "timestep" in atoms.info:
            atoms.info.setdefault("step", atoms.info["timestep"])
    return images


def _restore_extxyz(atoms: Atoms, where: str) -> None:
    """Undo extxyz's eager type conversion of the few info keys eipgs owns; normalise the ``type`` column.

    In extxyz files a per-atom ``type`` column is the LAMMPS type (1-based), as ``fix cluster/sample``
    writes it and as :func:`write_structures` writes it; inside eipgs it becomes the cfg type t − 1.
    """
    if "type" in atoms.arrays:
        types = np.asarray(atoms.arrays["type"], dtype=np.int64)
        symbols_known = len(atoms) and not np.any(atoms.numbers == 0)
        if len(types) and types.min() < 1:
            if not symbols_known:
                raise ValueError(
                    f"{where}: the extxyz 'type' column holds {int(types.min())}, but it is read as the LAMMPS type "
                    "(1, 2, ...); write chemical symbols instead, or shift the types by +1"
                )
            del atoms.arrays["type"]  # symbols define the species; a foreign 0-based column is dropped
        else:
            atoms.arrays["type"] = types - 1
    feats = atoms.info.get("features")
    if isinstance(feats, dict):
        atoms.info["features"] = {str(k): str(v) for k, v in feats.items()}
    if "plus_stress" in atoms.info:
        atoms.info["plus_stress"] = np.asarray(atoms.info["plus_stress"], dtype=float).reshape(6)


def assign_types(atoms: Atoms, elements: Sequence[str], where: str) -> None:
    """Make symbols and ``arrays["type"]`` agree with the map ``elements`` (in place).

    Atoms with real symbols get ``type = elements.index(symbol)``; atoms that are all 'X' but carry a
    type get ``symbol = elements[type]``. A species missing from the map is an error naming ``where``.
    """
    elements = list(elements)
    numbers = atoms.numbers
    if len(atoms) and np.all(numbers == 0):
        if "type" not in atoms.arrays:
            raise ValueError(f"{where}: atoms have neither chemical symbols nor types")
        types = np.asarray(atoms.arrays["type"], dtype=np.int64)
        if types.min() < 0 or types.max() >= len(elements):
            raise ValueError(f"{where}: type {int(types.max())} has no element in --elements {','.join(elements)}")
        atoms.numbers = np.array([atomic_numbers[e] for e in elements])[types]
        return
    if np.any(numbers == 0):
        raise ValueError(f"{where}: some atoms have no chemical symbol ('X')")
    lookup = {atomic_numbers[e]: k for k, e in enumerate(elements)}
    missing = sorted({chemical_symbols[z] for z in np.unique(numbers)} - set(elements))
    if missing:
        raise ValueError(
            f"{where}: species {missing} are not in the type map --elements {','.join(elements)}; "
            "add them to --elements (in the potential's species order) or remove those structures"
        )
    atoms.arrays["type"] = np.array([lookup[z] for z in numbers], dtype=np.int64)


def _infer_elements(images: Sequence[Atoms], path) -> list[str]:
    """A single-species dataset needs no map; anything else does (the type order is the user's choice)."""
    zs = set()
    for atoms in images:
        zs.update(int(z) for z in np.unique(atoms.numbers))
    zs.discard(0)
    if len(zs) == 1:
        return [chemical_symbols[zs.pop()]]
    if not zs:
        raise ValueError(f"{path}: structures have no chemical symbols; pass --elements")
    names = ",".join(sorted(chemical_symbols[z] for z in zs))
    raise ValueError(
        f"{path}: writing types for several species ({names}) needs the type → element map: pass "
        "--elements in the potential's species order (e.g. --elements " + names + ")"
    )


def read_structures_from(paths: Sequence[str | os.PathLike], elements: Sequence[str] | None = None
                         ) -> tuple[list[Atoms], list[str]]:
    """Every structure of every file in ``paths``, concatenated, with a source label per structure
    ("structure K of FILE") for messages that must name where a bad structure came from."""
    images: list[Atoms] = []
    sources: list[str] = []
    for path in paths:
        got = read_structures(path, elements)
        images += got
        sources += [f"structure {k} of {path}" for k in range(len(got))]
    return images, sources


def write_structures(path: str | os.PathLike, atoms_list: Iterable[Atoms], elements: Sequence[str] | None = None,
                     *, no_loss: bool = True, e0=None, append: bool = False) -> int:
    """Write structures to ``path`` (format from the name); returns the number written.

    ``.cfg`` is written in MLIP-3's no-loss form (``%.16e``) unless ``no_loss=False`` (MLIP's default
    precision); both are read by ``mlp``. ``e0`` (element → eV) sets pacemaker's ``energy_corrected``.
    """
    path = Path(path)
    fmt = detect_format(path)
    sources = list(atoms_list)
    images = [a.copy() for a in sources]
    elements = list(elements) if elements is not None else None
    needs_symbols = fmt not in TYPE_ONLY_FORMATS
    if needs_symbols:
        for k, atoms in enumerate(images):
            where = f"{atoms.info.get('source_file', path)} (structure {k})"
            if elements is not None:
                assign_types(atoms, elements, where)  # also rejects species missing from the map
            elif len(atoms) and np.any(atoms.numbers == 0):
                raise ValueError(
                    f"{where}: only type numbers; writing {path.name} needs chemical symbols: "
                    "pass --elements W,... (the element of cfg type 0, 1, ...)"
                )
    else:
        if images and any(not np.all(a.numbers == 0) for a in images):
            if elements is None:
                real = [a for a in images if not np.all(a.numbers == 0)]
                if all("type" in a.arrays for a in real):
                    elements_for_types = None
                else:
                    elements_for_types = _infer_elements(real, path)
            else:
                elements_for_types = elements
            if elements_for_types is not None:
                for k, atoms in enumerate(images):
                    if not np.all(atoms.numbers == 0):
                        assign_types(atoms, elements_for_types, f"{atoms.info.get('source_file', path)} (structure {k})")
        missing = [k for k, a in enumerate(images) if len(a) and "type" not in a.arrays]
        if missing:
            raise ValueError(f"{path}: structure {missing[0]} has neither types nor symbols; pass --elements")
    # Atoms.copy() drops the calculator; re-attach the results to the (possibly re-labelled) copies.
    for src, dst in zip(sources, images):
        results = getattr(src.calc, "results", None) if src.calc is not None else None
        if results:
            keep = {k: v for k, v in results.items() if k in ("energy", "free_energy", "forces", "stress")}
            if keep:
                dst.calc = SinglePointCalculator(dst, **keep)

    if fmt == "cfg":
        from eipgs.io.cfg import write_cfg

        for atoms in images:
            _features_from_info(atoms)
        write_cfg(path, images, append=append, no_loss=no_loss)
    elif fmt == "pacemaker":
        from eipgs.io.pacemaker import write_pacemaker

        if append and path.exists():
            from eipgs.io.pacemaker import read_pacemaker

            images = read_pacemaker(path) + images
        write_pacemaker(path, images, e0=e0)
    elif fmt == "extxyz":
        import ase.io

        for atoms in images:
            _prepare_extxyz(atoms)
            if "type" in atoms.arrays:
                # extxyz convention (fix cluster/sample): the type column is the LAMMPS type, cfg type + 1.
                atoms.arrays["type"] = np.asarray(atoms.arrays["type"], dtype=np.int64) + 1
        from eipgs.io.atomic import atomic_path

        with atomic_path(path, keep_existing=append) as tmp:
            ase.io.write(tmp, images, format="extxyz", append=append, parallel=False)
    elif fmt in ("lammps-data", "lammps-dump"):
        if fmt == "lammps-dump":
            raise ValueError(f"{path}: writing LAMMPS dumps is not supported; write a LAMMPS data file (.data)")
        if len(images) != 1:
            raise ValueError(
                f"{path}: a LAMMPS data file holds one structure but there are {len(images)}; "
                "write a multi-structure format (.cfg/.extxyz) or give an output name per structure"
            )
        from eipgs.io.lammps import write_lammps_data

        atoms = images[0]
        if "type" in atoms.arrays:
            atoms.arrays["type"] = np.asarray(atoms.arrays["type"], dtype=np.int64) + 1
        write_lammps_data(path, atoms, elements=elements)
    else:  # poscar
        if len(images) != 1:
            raise ValueError(
                f"{path}: a POSCAR holds one structure but there are {len(images)}; "
                "use `eipgs dft vasp` to write one folder per structure"
            )
        write_poscar(path, images[0])
    return len(images)


# info keys that describe the file rather than the structure, or that the cfg holds elsewhere.
_NOT_FEATURES = {"features", "source_file", "source_index", "plus_stress", "energy", "free_energy", "stress",
                 "pacemaker_index", "energy_corrected", "w_energy", "lammps_origin", "lammps_masses", "name"}


def _features_from_info(atoms: Atoms) -> None:
    """cfg features hold strings: keep ``info["features"]`` and add the other scalar / 1-D numeric info
    entries (e.g. ``step``, ``center_id``, ``source_cell`` of fix cluster/sample) so they survive."""
    feats = {str(k): str(v) for k, v in (atoms.info.get("features") or {}).items()}
    for key, value in atoms.info.items():
        if key in _NOT_FEATURES or str(key) in feats:
            continue
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (bool, int, float, str)):
            text = repr(value) if isinstance(value, float) else str(value)
        elif isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "biuf":
            text = " ".join(repr(v.item()) if value.dtype.kind == "f" else str(v.item()) for v in value)
        else:
            continue
        if "\n" not in text:
            feats[str(key)] = text
    if feats:
        atoms.info["features"] = feats


def _prepare_extxyz(atoms: Atoms) -> None:
    """extxyz cannot write None or arbitrary objects; keep what it can hold and drop the rest loudly."""
    for key in list(atoms.info):
        value = atoms.info[key]
        if value is None:
            del atoms.info[key]
        elif isinstance(value, np.generic):
            atoms.info[key] = value.item()


def write_poscar(path: str | os.PathLike, atoms: Atoms) -> None:
    """POSCAR in Cartesian coordinates with full precision (ASE's VASP 5 writer, species line included)."""
    import ase.io

    if not atoms.pbc.any() and abs(atoms.cell.volume) < 1e-12:
        raise ValueError(
            f"{path}: a non-periodic structure without a cell cannot be written as POSCAR; "
            "`eipgs dft vasp` adds a vacuum box (--vacuum)"
        )
    from eipgs.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        ase.io.write(tmp, atoms, format="vasp", direct=False, sort=False, parallel=False)

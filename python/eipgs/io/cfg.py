# SPDX-License-Identifier: GPL-2.0-only
"""MLIP (MLIP-2/MLIP-3) ``.cfg`` text configurations: reader and writer (doc/design/mtp.md §9).

Reader conventions (the contract other modules rely on):

- ``atoms.arrays["type"]``: the cfg type, an integer exactly as in the file;
- symbols: ``elements[type]`` when ``elements`` is given, otherwise atomic number 0 ('X');
- positions are Cartesian (``direct_*`` columns are converted with the cell);
- ``Supercell`` gives the cell and ``pbc=True`` along the rows present; without it ``pbc=False``
  and a zero cell;
- energy / forces / stress go into a :class:`~ase.calculators.singlepoint.SinglePointCalculator`;
  the stress is in the ASE convention ``stress = -PlusStress / volume`` (Voigt xx yy zz yz xz xy);
  the raw PlusStress (6 floats, eV) is also kept in ``atoms.info["plus_stress"]``;
- optional columns ``site_en``, ``charge``, ``nbh_grades``, ``ghost`` (bool), ``magmom`` (N×3),
  ``en_der_m`` (N×3) go into ``atoms.arrays`` under those names;
- features go into ``atoms.info["features"]`` (dict str → str; a repeated key is joined with "\\n").
  Values are kept byte for byte (MLIP-3 keeps a trailing ``\\r`` too, and so do we).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Iterable, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.data import atomic_numbers

__all__ = ["read_cfg", "write_cfg", "format_cfg", "parse_cfg_text", "CfgFormatError"]

_STRESS_KEYS = ("xx", "yy", "zz", "yz", "xz", "xy")
# Column name -> (array key, component) for the AtomData block (doc/design/mtp.md §9.2).
_KNOWN_COLUMNS = {
    "id", "type", "cartes_x", "cartes_y", "cartes_z", "direct_x", "direct_y", "direct_z",
    "site_en", "fx", "fy", "fz", "charge", "magmom_x", "magmom_y", "magmom_z",
    "en_der_mx", "en_der_my", "en_der_mz", "ghost", "nbh_grades",
}


class CfgFormatError(ValueError):
    """A ``.cfg`` file does not follow the MLIP text format; the message names file and line."""


# ----------------------------------------------------------------------------------------- reader


def read_cfg(path: str | os.PathLike, elements: Sequence[str] | None = None) -> list[Atoms]:
    """Read every configuration of an MLIP ``.cfg`` text file (doc/design/mtp.md §9.2).

    ``elements[t]`` is the chemical symbol of cfg type ``t``; without it atoms are 'X'.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cfg file not found: {path}")
    with open(path, "rb") as fh:
        head = fh.read(1)
    if head == b"n":
        raise CfgFormatError(
            f"{path}: binary MLIP .cfg files are not supported; convert it to text with "
            "`mlp convert --input_format=bin.cfg --output_format=txt.cfg` first"
        )
    # newline="" keeps a '\r' that belongs to a Feature value (MLIP-3 keeps it too).
    with open(path, newline="", encoding="utf-8") as fh:
        text = fh.read()
    return parse_cfg_text(text, elements=elements, source=str(path))


def parse_cfg_text(
    text: str, elements: Sequence[str] | None = None, source: str = "<string>", line_offset: int = 0
) -> list[Atoms]:
    """Parse ``.cfg`` text (one or more ``BEGIN_CFG`` … ``END_CFG`` blocks)."""
    lines = text.split("\n")
    out: list[Atoms] = []
    i = 0
    n = len(lines)
    while i < n:
        stripped = lines[i].strip()
        if not stripped:
            i += 1
            continue
        if stripped != "BEGIN_CFG":
            raise CfgFormatError(f"{source}:{i + 1 + line_offset}: expected BEGIN_CFG, found {stripped[:60]!r}")
        atoms, i = _parse_one(lines, i + 1, elements, source, line_offset)
        out.append(atoms)
    return out


def _err(source: str, lineno: int, msg: str) -> CfgFormatError:
    return CfgFormatError(f"{source}:{lineno}: {msg}")


def _parse_one(lines, i, elements, source, off):
    size = None
    cell_rows: list[list[float]] = []
    columns: dict[str, np.ndarray] = {}
    energy = None
    plus_stress = None
    features: dict[str, str] = {}
    begin = i
    n = len(lines)
    while True:
        if i >= n:
            raise _err(source, begin + off, "BEGIN_CFG without END_CFG (truncated file?)")
        raw = lines[i]
        stripped = raw.strip()
        lineno = i + 1 + off
        if not stripped:
            i += 1
            continue
        key = stripped.split(None, 1)[0]
        if key == "END_CFG":
            i += 1
            break
        if key == "Size":
            try:
                size = int(lines[i + 1].split()[0])
            except (IndexError, ValueError):
                raise _err(source, lineno + 1, "Size must be followed by an integer") from None
            if size < 0:
                raise _err(source, lineno + 1, f"negative Size {size}")
            i += 2
        elif key == "Supercell":
            i += 1
            while i < n and len(cell_rows) < 3:
                toks = lines[i].split()
                if len(toks) != 3:
                    break
                try:
                    cell_rows.append([float(t) for t in toks])
                except ValueError:
                    break
                i += 1
            if not cell_rows:
                raise _err(source, lineno, "Supercell without lattice vectors")
        elif key == "AtomData:":
            if size is None:
                raise _err(source, lineno, "AtomData before Size")
            names = stripped.split()[1:]
            unknown = [c for c in names if c not in _KNOWN_COLUMNS]
            if unknown:
                raise _err(source, lineno, f"unknown AtomData column(s) {unknown}; known: {sorted(_KNOWN_COLUMNS)}")
            if len(set(names)) != len(names):
                raise _err(source, lineno, f"repeated AtomData column in {names}")
            rows = lines[i + 1 : i + 1 + size]
            toks = " ".join(rows).split()
            if len(rows) != size or len(toks) != size * len(names):
                raise _err(
                    source, lineno,
                    f"AtomData expects {size} lines of {len(names)} columns ({' '.join(names)}); "
                    "the block is short or has a wrong number of columns",
                )
            table = np.array(toks, dtype=object).reshape(size, len(names))
            for k, name in enumerate(names):
                col = table[:, k]
                try:
                    if name == "ghost":
                        low = np.char.lower(col.astype(str))
                        bad = ~np.isin(low, ("true", "false"))
                        if bad.any():
                            raise ValueError(col[bad][0])
                        columns[name] = low == "true"
                    elif name in ("id", "type"):
                        columns[name] = col.astype(str).astype(np.int64)
                    else:
                        columns[name] = col.astype(str).astype(np.float64)
                except ValueError as exc:
                    raise _err(source, lineno, f"bad value in AtomData column {name!r}: {exc}") from None
            i += 1 + size
        elif key == "Energy":
            try:
                energy = float(lines[i + 1].split()[0])
            except (IndexError, ValueError):
                raise _err(source, lineno + 1, "Energy must be followed by a number") from None
            i += 2
        elif key in ("PlusStress:", "Virial:"):
            names = stripped.split()[1:]
            try:
                vals = [float(t) for t in lines[i + 1].split()]
            except (IndexError, ValueError):
                raise _err(source, lineno + 1, f"{key} must be followed by numbers") from None
            if sorted(names) != sorted(_STRESS_KEYS) or len(vals) != 6:
                raise _err(source, lineno, f"{key} needs the six components {' '.join(_STRESS_KEYS)}")
            by_name = dict(zip(names, vals))
            plus_stress = np.array([by_name[k] for k in _STRESS_KEYS])
            i += 2
        elif key == "Stress:":
            raise _err(
                source, lineno,
                "the old 'Stress:' block (negative sign convention) is not accepted, as in MLIP-3; "
                "convert it to 'PlusStress:' (PlusStress = -Stress)",
            )
        elif key == "Feature":
            # 'Feature', the key token, one separator character skipped, the rest is the value.
            body = raw.lstrip()[len("Feature"):]
            rest = body.lstrip(" \t")
            parts = rest.split(None, 1)
            if not parts:
                raise _err(source, lineno, "Feature without a key")
            fkey = parts[0]
            after = rest[len(fkey):]
            value = after[1:] if after else ""
            fkey = fkey.replace("\\_", " ")
            features[fkey] = features[fkey] + "\n" + value if fkey in features else value
            i += 1
        elif key == "Features:":
            names = stripped.split()[1:]
            vals = lines[i + 1].split() if i + 1 < n else []
            if len(vals) != len(names):
                raise _err(source, lineno, f"Features: has {len(names)} keys but {len(vals)} values on the next line")
            for fkey, value in zip(names, vals):
                features[fkey] = features[fkey] + "\n" + value if fkey in features else value
            i += 2
        else:
            raise _err(source, lineno, f"unknown keyword {key!r} inside BEGIN_CFG … END_CFG")

    if size is None:
        raise _err(source, begin + off, "configuration without Size")
    if size and "id" not in columns:
        raise _err(source, begin + off, "AtomData is missing (or has no 'id' column)")
    ids = columns.get("id", np.zeros(0, dtype=np.int64))
    if not np.array_equal(ids, np.arange(1, size + 1)):
        raise _err(
            source, begin + off,
            "wrong order of id's: AtomData ids must be 1..N in order (MLIP rejects anything else); "
            "store LAMMPS tags as a feature instead",
        )
    if size and "type" not in columns:
        raise _err(source, begin + off, "AtomData has no 'type' column")
    types = columns.get("type", np.zeros(0, dtype=np.int64))

    cell = np.zeros((3, 3))
    pbc = [False, False, False]
    for r, row in enumerate(cell_rows):
        cell[r] = row
        pbc[r] = True

    has_cart = all(f"cartes_{c}" in columns for c in "xyz")
    has_direct = all(f"direct_{c}" in columns for c in "xyz")
    if has_cart and has_direct:
        raise _err(source, begin + off, "both cartes_* and direct_* columns given")
    if has_cart:
        positions = np.column_stack([columns[f"cartes_{c}"] for c in "xyz"])
    elif has_direct:
        if len(cell_rows) != 3:
            raise _err(source, begin + off, "direct_* coordinates need a full 3-row Supercell")
        positions = np.column_stack([columns[f"direct_{c}"] for c in "xyz"]) @ cell
    elif size == 0:
        positions = np.zeros((0, 3))
    else:
        raise _err(source, begin + off, "AtomData has no position columns (cartes_x/y/z or direct_x/y/z)")

    if elements is not None:
        if len(types) and (types.min() < 0 or types.max() >= len(elements)):
            raise _err(
                source, begin + off,
                f"cfg type {int(types.max() if types.max() >= len(elements) else types.min())} has no element "
                f"in elements={list(elements)}",
            )
        table = np.array([atomic_numbers[s] for s in elements], dtype=int)
        numbers = table[types] if len(types) else np.zeros(0, dtype=int)
    else:
        numbers = np.zeros(size, dtype=int)

    atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
    atoms.arrays["type"] = types.astype(int)
    for name in ("site_en", "charge", "nbh_grades", "ghost"):
        if name in columns:
            atoms.arrays[name] = columns[name]
    if all(f"magmom_{c}" in columns for c in "xyz"):
        atoms.arrays["magmom"] = np.column_stack([columns[f"magmom_{c}"] for c in "xyz"])
    if all(f"en_der_m{c}" in columns for c in "xyz"):
        atoms.arrays["en_der_m"] = np.column_stack([columns[f"en_der_m{c}"] for c in "xyz"])
    if features:
        atoms.info["features"] = features
    if plus_stress is not None:
        atoms.info["plus_stress"] = plus_stress.copy()

    calc_kw = {}
    if energy is not None:
        calc_kw["energy"] = energy
    if all(f"f{c}" in columns for c in "xyz"):
        calc_kw["forces"] = np.column_stack([columns[f"f{c}"] for c in "xyz"])
    if plus_stress is not None and all(pbc):
        volume = abs(np.linalg.det(cell))
        if volume > 0:
            calc_kw["stress"] = -plus_stress / volume
    if calc_kw:
        atoms.calc = SinglePointCalculator(atoms, **calc_kw)
    return atoms, i


# ----------------------------------------------------------------------------------------- writer


def _calc_result(atoms: Atoms, name: str):
    calc = atoms.calc
    if calc is None:
        return None
    results = getattr(calc, "results", None)
    if results is not None and name in results and results[name] is not None:
        return np.asarray(results[name]) if name != "energy" else float(results[name])
    return None


def _plus_stress(atoms: Atoms) -> np.ndarray | None:
    """PlusStress = P·V (eV), from the raw info value or from the ASE stress (doc/design/mtp.md §9.3)."""
    raw = atoms.info.get("plus_stress")
    stress = _calc_result(atoms, "stress")
    from_calc = None
    if stress is not None and atoms.pbc.all():
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
        from_calc = -stress * abs(atoms.get_volume())
    if raw is not None:
        raw = np.asarray(raw, dtype=float).reshape(6)
        # The raw value is exact; keep it unless a newer calculator result disagrees with it.
        if from_calc is None or np.allclose(raw, from_calc, rtol=1e-9, atol=1e-9):
            return raw
    return from_calc


def _types_for(atoms: Atoms, elements: Sequence[str] | None, index: int) -> np.ndarray:
    if "type" in atoms.arrays:
        return np.asarray(atoms.arrays["type"], dtype=np.int64)
    if elements is None:
        raise ValueError(
            f"configuration {index}: atoms have no arrays['type']; pass elements=[...] so that the cfg "
            "type is the index of each symbol in that list"
        )
    lookup = {s: k for k, s in enumerate(elements)}
    symbols = atoms.get_chemical_symbols()
    missing = sorted(set(symbols) - set(lookup))
    if missing:
        raise ValueError(
            f"configuration {index}: element(s) {missing} are not in elements={list(elements)}; add them to the list"
        )
    return np.array([lookup[s] for s in symbols], dtype=np.int64)


def format_cfg(atoms: Atoms, *, elements: Sequence[str] | None = None, no_loss: bool = False, index: int = 0) -> str:
    """One configuration as MLIP ``.cfg`` text, exactly as MLIP-3 writes it (doc/design/mtp.md §9.1, §9.4)."""
    n = len(atoms)
    types = _types_for(atoms, elements, index)
    out = io.StringIO()
    w = out.write

    def num(fmt_default: str) -> str:
        # No-loss mode writes every number as %.16e with field width 1 (doc/design/mtp.md §9.4).
        return "%.16e" if no_loss else fmt_default

    w("BEGIN_CFG\n")
    w(" Size\n")
    w(f"    {n}\n")
    if atoms.pbc.any():
        cell = np.asarray(atoms.cell[:], dtype=float)
        nonzero = [r for r in range(3) if np.any(cell[r] != 0.0)]
        last = max(nonzero) if nonzero else -1
        if last >= 0:
            w(" Supercell\n")
            f = num("%13.6f")
            row_fmt = "    " + " ".join([f] * 3) + "\n"
            for r in range(last + 1):
                w(row_fmt % tuple(cell[r]))

    # Columns in MLIP order: id, type, positions, site_en, forces, charge, magnetic, ghost, nbh_grades.
    header = " AtomData:  id type       cartes_x      cartes_y      cartes_z"
    fmt = "    " + ("%d" if no_loss else "%10d") + " " + ("%d" if no_loss else "%4d")
    f = num("%13.6f")
    fmt += "  " + f + " " + f + " " + f
    cols: list[np.ndarray] = [np.arange(1, n + 1)[:, None], types[:, None], atoms.positions]
    site_en = atoms.arrays.get("site_en")
    if site_en is not None:
        header += "            site_en"
        fmt += "  " + num("%17.12f")
        cols.append(np.asarray(site_en, dtype=float)[:, None])
    forces = _calc_result(atoms, "forces")
    if forces is None and "forces" in atoms.arrays:
        forces = atoms.arrays["forces"]
    if forces is not None:
        header += "           fx          fy          fz"
        f = num("%11.6f")
        fmt += "  " + f + " " + f + " " + f
        cols.append(np.asarray(forces, dtype=float).reshape(n, 3))
    charge = atoms.arrays.get("charge")
    if charge is not None:
        header += "      charge"
        fmt += "    " + num("%8.4f")
        cols.append(np.asarray(charge, dtype=float)[:, None])
    for name, pieces in (("magmom", ("magmom_x", "magmom_y", "magmom_z")), ("en_der_m", ("en_der_mx", "en_der_my", "en_der_mz"))):
        if name in atoms.arrays:
            header += "".join(f" {p:>13s}" for p in pieces)
            f = num("%13.6f")
            fmt += " " + f + " " + f + " " + f
            cols.append(np.asarray(atoms.arrays[name], dtype=float).reshape(n, 3))
    ghost = atoms.arrays.get("ghost")
    grades = atoms.arrays.get("nbh_grades")
    grades_col = None
    if grades is not None:
        grades_col = np.asarray(grades, dtype=float).copy()
        if ghost is not None:
            grades_col[np.asarray(ghost, dtype=bool)] = 0.0  # ghosts carry grade 0 (doc/design/mtp.md §9.1)
    if ghost is not None:
        header += "     ghost"
    if grades_col is not None:
        header += "       nbh_grades"
    w(header + "\n")
    if n:
        # One float table and one format string per line ('%d' formats integral floats exactly).
        if ghost is not None:
            fmt += "%s"
        if grades_col is not None:
            fmt += "  " + num("%15.5f")
        table = np.hstack([np.asarray(c, dtype=float).reshape(n, -1) for c in cols]).tolist()
        if ghost is not None or grades_col is not None:
            extra = []
            if ghost is not None:
                extra.append(np.where(np.asarray(ghost, dtype=bool), "     true ", "     false").tolist())
            if grades_col is not None:
                extra.append(grades_col.tolist())
            table = [row + list(more) for row, more in zip(table, zip(*extra))]
        w("\n".join(fmt % tuple(row) for row in table) + "\n")

    energy = _calc_result(atoms, "energy")
    if energy is None and "energy" in atoms.info:
        energy = float(atoms.info["energy"])
    if energy is not None:
        w(" Energy\n")
        w("    " + (num("%20.12f") % energy) + "\n")
    ps = _plus_stress(atoms)
    if ps is not None:
        w(" PlusStress:  xx          yy          zz          yz          xz          xy\n")
        f = num("%11.5f")
        w("     " + " ".join([f] * 6) % tuple(ps) + "\n")
    features = atoms.info.get("features") or {}
    for key in sorted(features):
        value = str(features[key])
        ekey = str(key).replace(" ", "\\_")
        for part in value.split("\n"):
            w(f" Feature   {ekey}\t{part}\n")
    w("END_CFG\n\n")
    return out.getvalue()


def write_cfg(
    path_or_file: str | os.PathLike | IO[str],
    atoms_list: Atoms | Iterable[Atoms],
    *,
    elements: Sequence[str] | None = None,
    append: bool = False,
    no_loss: bool = False,
) -> None:
    """Write configurations as MLIP ``.cfg`` text (doc/design/mtp.md §9.1; ``no_loss`` = §9.4 ``%.16e``).

    The cfg type comes from ``arrays["type"]`` if present, else from the index of each symbol in
    ``elements``. Energy, forces and stress come from the calculator (or ``info["energy"]``,
    ``info["plus_stress"]``, ``arrays["forces"]``); ``arrays["nbh_grades"]`` adds the grade column and
    ``info["features"]`` the ``Feature`` lines in sorted key order.
    """
    if isinstance(atoms_list, Atoms):
        atoms_list = [atoms_list]
    chunks = [format_cfg(a, elements=elements, no_loss=no_loss, index=k) for k, a in enumerate(atoms_list)]
    text = "".join(chunks)
    if hasattr(path_or_file, "write"):
        path_or_file.write(text)
        return
    from eipgs.io.atomic import atomic_write

    with atomic_write(path_or_file, "a" if append else "w") as fh:
        fh.write(text)

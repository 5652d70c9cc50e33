# SPDX-License-Identifier: GPL-2.0-only
"""LAMMPS data files (atom_style atomic) and text dumps (``dump custom``) as ASE ``Atoms``.

Conventions:
- ``atoms.arrays["id"]``: the LAMMPS atom tag; ``atoms.arrays["type"]``: the LAMMPS type (1-based);
- atoms are sorted by id;
- the cell is LAMMPS's: a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz); positions are shifted so
  that the box origin (xlo, ylo, zlo) is at 0, and the origin is kept in ``info["lammps_origin"]``;
- data files: ``arrays["image"]`` holds image flags when present, ``info["lammps_masses"]`` the Masses;
- dumps: ``info["timestep"]``; extra per-atom columns go into ``arrays`` under their own names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

__all__ = ["read_lammps_data", "read_lammps_dump", "write_lammps_data", "LammpsFormatError", "lammps_cell"]

_HEADER_KEYS = {
    "atoms", "atom types", "bonds", "bond types", "angles", "angle types", "dihedrals", "dihedral types",
    "impropers", "improper types", "extra bond per atom", "extra angle per atom", "extra dihedral per atom",
    "extra improper per atom", "extra special per atom", "ellipsoids", "lines", "triangles", "bodies",
}
_SECTIONS = {
    "Atoms", "Velocities", "Masses", "Ellipsoids", "Lines", "Triangles", "Bodies", "Bonds", "Angles",
    "Dihedrals", "Impropers", "Pair Coeffs", "PairIJ Coeffs", "Bond Coeffs", "Angle Coeffs",
    "Dihedral Coeffs", "Improper Coeffs", "BondBond Coeffs", "BondAngle Coeffs", "MiddleBondTorsion Coeffs",
    "EndBondTorsion Coeffs", "AngleTorsion Coeffs", "AngleAngleTorsion Coeffs", "BondBond13 Coeffs",
    "AngleAngle Coeffs",
}


class LammpsFormatError(ValueError):
    """A LAMMPS data or dump file that cannot be read; the message names file and line."""


def lammps_cell(lx: float, ly: float, lz: float, xy: float = 0.0, xz: float = 0.0, yz: float = 0.0) -> np.ndarray:
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def restricted_cell(cell: np.ndarray) -> np.ndarray:
    """The same cell rotated into LAMMPS's restricted triclinic form (a along x, b in the xy plane):
    rows (lx,0,0), (xy,ly,0), (xz,yz,lz) with the lengths and angles of ``cell``."""
    a, b, c = np.asarray(cell, dtype=float)
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy**2)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(c @ c - xz**2 - yz**2)
    return lammps_cell(lx, ly, lz, xy, xz, yz)


def _symbols_for_types(types: np.ndarray, elements: Sequence[str] | None, masses: dict[int, float], source: str) -> np.ndarray:
    """Atomic numbers: ``elements[t-1]`` if given, else the element whose mass matches Masses, else 0."""
    ntypes_needed = int(types.max(initial=0))
    if elements is not None:
        if len(elements) < ntypes_needed:
            raise LammpsFormatError(f"{source}: {ntypes_needed} atom types but elements={list(elements)}")
        table = np.array([0] + [atomic_numbers[e] for e in elements])
        return table[types]
    table = np.zeros(ntypes_needed + 1, dtype=int)
    for t, mass in masses.items():
        if 0 < t <= ntypes_needed:
            z = int(np.argmin(np.abs(atomic_masses[1:] - mass))) + 1
            if abs(atomic_masses[z] - mass) < 0.1:
                table[t] = z
    return table[types]


def _check_bounds(where: str, axis: str, lo: float, hi: float) -> None:
    """LAMMPS itself refuses a box with hi <= lo; so do we, instead of building a negative cell."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise LammpsFormatError(f"{where}: box bounds {axis}lo {axis}hi = {lo} {hi} are not finite")
    if hi <= lo:
        raise LammpsFormatError(
            f"{where}: box length {axis}hi - {axis}lo = {hi - lo:g} is not positive ({axis}lo = {lo:g}, {axis}hi = {hi:g})"
        )


def read_lammps_data(path: str | os.PathLike, elements: Sequence[str] | None = None) -> Atoms:
    """Read a LAMMPS data file with ``atom_style atomic`` (``id type x y z [ix iy iz]``)."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"LAMMPS data file not found: {path}")
    lines = path.read_text().split("\n")
    counts: dict[str, int] = {}
    bounds = {}
    tilt = (0.0, 0.0, 0.0)
    k = 1  # the first line is a title
    while k < len(lines):
        text = lines[k].split("#", 1)[0].strip()
        if not text:
            k += 1
            continue
        if text in _SECTIONS or text.split()[0] in ("Atoms", "Masses", "Velocities"):
            break
        toks = text.split()
        try:
            if toks[-1] in ("xhi", "yhi", "zhi") and toks[-2] in ("xlo", "ylo", "zlo"):
                bounds[toks[-2][0]] = (float(toks[0]), float(toks[1]))
            elif toks[-3:] == ["xy", "xz", "yz"]:
                tilt = tuple(float(t) for t in toks[:3])
            else:
                key = " ".join(toks[1:])
                if key not in _HEADER_KEYS:
                    raise LammpsFormatError(f"{src}:{k + 1}: unknown header line {text!r}")
                counts[key] = int(toks[0])
        except (ValueError, IndexError):
            raise LammpsFormatError(f"{src}:{k + 1}: cannot parse header line {text!r}") from None
        k += 1
    if "atoms" not in counts:
        raise LammpsFormatError(f"{src}: header has no 'N atoms' line")
    for ax in "xyz":
        if ax not in bounds:
            raise LammpsFormatError(f"{src}: header has no '{ax}lo {ax}hi' line")
        _check_bounds(src, ax, *bounds[ax])
    n = counts["atoms"]
    masses: dict[int, float] = {}
    table = None
    style = None
    while k < len(lines):
        raw = lines[k]
        name = raw.split("#", 1)[0].strip()
        if not name:
            k += 1
            continue
        comment = raw.split("#", 1)[1].strip() if "#" in raw else ""
        count = n if name == "Atoms" else counts.get("atom types", 0) if name in ("Masses", "Pair Coeffs") else None
        if name not in _SECTIONS:
            raise LammpsFormatError(f"{src}:{k + 1}: unknown section {name!r}")
        # Section body: skip one blank line, then `count` lines (or until the next blank line).
        k += 1
        while k < len(lines) and not lines[k].strip():
            k += 1
        start = k
        if count is None:
            while k < len(lines) and lines[k].strip():
                k += 1
            body = lines[start:k]
        else:
            body = lines[start : start + count]
            k = start + count
            filled = next((q for q, line in enumerate(body) if not line.strip()), len(body))
            if filled < count:
                body = body[:filled]
                raise LammpsFormatError(f"{src}: section {name} has {len(body)} lines, expected {count} (truncated file?)")
        if name == "Masses":
            for line in body:
                toks = line.split("#", 1)[0].split()
                masses[int(toks[0])] = float(toks[1])
        elif name == "Atoms":
            style = comment.split()[0] if comment else None
            if style not in (None, "atomic"):
                raise LammpsFormatError(f"{src}: atom_style {style!r} is not supported; only 'atomic' (id type x y z [ix iy iz])")
            toks = " ".join(line.split("#", 1)[0] for line in body).split()
            ncol = len(toks) // n if n else 5
            if n and (ncol * n != len(toks) or ncol not in (5, 8)):
                raise LammpsFormatError(
                    f"{src}: Atoms section must have 5 (id type x y z) or 8 (… ix iy iz) columns on every line "
                    "(atom_style atomic)"
                )
            table = np.array(toks, dtype=float).reshape(n, ncol) if n else np.zeros((0, 5))
    if table is None:
        raise LammpsFormatError(f"{src}: no Atoms section")
    ids = table[:, 0].astype(np.int64)
    order = np.argsort(ids, kind="stable")
    table = table[order]
    ids = ids[order]
    if len(np.unique(ids)) != len(ids):
        raise LammpsFormatError(f"{src}: duplicate atom ids in the Atoms section")
    types = table[:, 1].astype(np.int64)
    ntypes = counts.get("atom types", int(types.max(initial=0)))
    if len(types) and (types.min() < 1 or types.max() > ntypes):
        raise LammpsFormatError(f"{src}: atom type outside 1..{ntypes}")
    origin = np.array([bounds["x"][0], bounds["y"][0], bounds["z"][0]])
    cell = lammps_cell(*(bounds[a][1] - bounds[a][0] for a in "xyz"), *tilt)
    atoms = Atoms(
        numbers=_symbols_for_types(types, elements, masses, src),
        positions=table[:, 2:5] - origin,
        cell=cell,
        pbc=True,
    )
    atoms.arrays["id"] = ids
    atoms.arrays["type"] = types
    if table.shape[1] == 8:
        atoms.arrays["image"] = table[:, 5:8].astype(np.int64)
    atoms.info["lammps_origin"] = origin
    atoms.info["lammps_ntypes"] = ntypes
    if masses:
        atoms.info["lammps_masses"] = masses
    return atoms


def _tilt_bounds(lo_b, hi_b, xy, xz, yz):
    """Dump 'BOX BOUNDS xy xz yz' give bounding-box extents; recover xlo/xhi/ylo/yhi (LAMMPS Howto triclinic)."""
    xlo = lo_b[0] - min(0.0, xy, xz, xy + xz)
    xhi = hi_b[0] - max(0.0, xy, xz, xy + xz)
    ylo = lo_b[1] - min(0.0, yz)
    yhi = hi_b[1] - max(0.0, yz)
    return np.array([xlo, ylo, lo_b[2]]), np.array([xhi, yhi, hi_b[2]])


def read_lammps_dump(
    path: str | os.PathLike, elements: Sequence[str] | None = None, index: int | slice = slice(None)
) -> list[Atoms]:
    """Read the frames of a text ``dump custom`` / ``dump atom`` file."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"LAMMPS dump file not found: {path}")
    lines = path.read_text().split("\n")
    frames: list[Atoms] = []
    k = 0
    nl = len(lines)
    while k < nl:
        if not lines[k].strip():
            k += 1
            continue
        if not lines[k].startswith("ITEM: TIMESTEP"):
            raise LammpsFormatError(f"{src}:{k + 1}: expected 'ITEM: TIMESTEP', found {lines[k][:50]!r}")
        try:
            timestep = int(lines[k + 1].split()[0])
            if not lines[k + 2].startswith("ITEM: NUMBER OF ATOMS"):
                raise ValueError("ITEM: NUMBER OF ATOMS")
            n = int(lines[k + 3].split()[0])
            box = lines[k + 4]
            if not box.startswith("ITEM: BOX BOUNDS"):
                raise ValueError("ITEM: BOX BOUNDS")
            words = box.split()[3:]
            if "abc" in words:
                raise LammpsFormatError(f"{src}:{k + 5}: general triclinic dumps (BOX BOUNDS abc origin) are not supported")
            triclinic = words[:3] == ["xy", "xz", "yz"]
            flags = words[3:] if triclinic else words
            rows = [[float(t) for t in lines[k + 5 + r].split()] for r in range(3)]
            header = lines[k + 8]
            if not header.startswith("ITEM: ATOMS"):
                raise ValueError("ITEM: ATOMS")
        except (ValueError, IndexError) as exc:
            raise LammpsFormatError(f"{src}:{k + 1}: malformed frame header (expected {exc})") from None
        pbc = [f == "pp" for f in flags] if len(flags) == 3 else [True] * 3
        lo_b = np.array([r[0] for r in rows])
        hi_b = np.array([r[1] for r in rows])
        xy, xz, yz = (rows[0][2], rows[1][2], rows[2][2]) if triclinic else (0.0, 0.0, 0.0)
        lo, hi = _tilt_bounds(lo_b, hi_b, xy, xz, yz) if triclinic else (lo_b, hi_b)
        for q, ax in enumerate("xyz"):
            _check_bounds(f"{src}:{k + 6 + q}", ax, lo[q], hi[q])
        cell = lammps_cell(*(hi - lo), xy, xz, yz)
        cols = header.split()[2:]
        body = lines[k + 9 : k + 9 + n]
        if len(body) < n:
            raise LammpsFormatError(f"{src}: frame at timestep {timestep} has {len(body)} of {n} atom lines (truncated file?)")
        toks = " ".join(body).split()
        if len(toks) != n * len(cols):
            raise LammpsFormatError(f"{src}: frame at timestep {timestep}: atom lines do not all have the {len(cols)} columns {cols}")
        k += 9 + n
        table = np.array(toks, dtype=object).reshape(n, len(cols))
        colmap = {c: table[:, q] for q, c in enumerate(cols)}

        def num(name, dtype=float):
            return colmap[name].astype(str).astype(dtype)

        if "id" not in colmap:
            raise LammpsFormatError(f"{src}: dump has no 'id' column (needed to identify atoms)")
        if "type" not in colmap and "element" not in colmap:
            raise LammpsFormatError(f"{src}: dump has neither 'type' nor 'element' column")
        ids = num("id", np.int64)
        order = np.argsort(ids, kind="stable")
        frac = None
        for names, scaled in ((("x", "y", "z"), False), (("xu", "yu", "zu"), False), (("xs", "ys", "zs"), True), (("xsu", "ysu", "zsu"), True)):
            if all(c in colmap for c in names):
                xyz = np.column_stack([num(c) for c in names])
                if scaled:
                    positions = xyz @ cell
                else:
                    positions = xyz - lo
                frac = True
                break
        if frac is None:
            raise LammpsFormatError(f"{src}: dump has no position columns (x y z, xu yu zu, xs ys zs or xsu ysu zsu)")
        positions = positions[order]
        types = num("type", np.int64)[order] if "type" in colmap else None
        if "element" in colmap:
            symbols = colmap["element"][order].astype(str)
            unknown = sorted(set(symbols) - set(atomic_numbers))
            if unknown:
                raise LammpsFormatError(f"{src}: element column has unknown symbols {unknown}")
            numbers = np.array([atomic_numbers[s] for s in symbols])
        else:
            numbers = _symbols_for_types(types, elements, {}, src)
        atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=pbc)
        atoms.arrays["id"] = ids[order]
        if types is not None:
            atoms.arrays["type"] = types
        used = {"id", "type", "element", "x", "y", "z", "xu", "yu", "zu", "xs", "ys", "zs", "xsu", "ysu", "zsu"}
        if all(c in colmap for c in ("ix", "iy", "iz")):
            atoms.arrays["image"] = np.column_stack([num(c, np.int64) for c in ("ix", "iy", "iz")])[order]
            used |= {"ix", "iy", "iz"}
        for c in cols:
            if c not in used:
                try:
                    atoms.arrays[c] = num(c)[order]
                except ValueError:
                    atoms.arrays[c] = colmap[c][order].astype(str)
        atoms.info["timestep"] = timestep
        atoms.info["lammps_origin"] = lo
        # symbols read from the file itself (not guessed from masses or given by the caller)
        atoms.info["lammps_element_column"] = "element" in colmap
        frames.append(atoms)
    if isinstance(index, int):
        return [frames[index]]
    return frames[index]


def write_lammps_data(
    path: str | os.PathLike,
    atoms: Atoms,
    *,
    elements: Sequence[str] | None = None,
    ntypes: int | None = None,
    masses: bool = True,
) -> None:
    """Write ``atoms`` as a LAMMPS data file (atom_style atomic).

    Types come from ``arrays["type"]`` if present, else ``elements.index(symbol) + 1``. A general cell is
    rotated into LAMMPS's lower-triangular form; ids come from ``arrays["id"]`` or 1..N.
    """
    n = len(atoms)
    if "type" in atoms.arrays:
        types = np.asarray(atoms.arrays["type"], dtype=np.int64)
    elif elements is not None:
        symbols = atoms.get_chemical_symbols()
        missing = sorted(set(symbols) - set(elements))
        if missing:
            raise ValueError(f"elements {missing} are not in elements={list(elements)}")
        types = np.array([list(elements).index(s) + 1 for s in symbols], dtype=np.int64)
    else:
        uniq = sorted(set(atoms.numbers))
        types = np.searchsorted(uniq, atoms.numbers) + 1
        elements = [chemical_symbols[z] for z in uniq]
    ntypes = int(ntypes or max(int(types.max(initial=1)), len(elements) if elements is not None else 0))
    cell = np.asarray(atoms.cell[:], dtype=float)
    if np.linalg.matrix_rank(cell) < 3:
        raise ValueError("write_lammps_data needs a full 3-D cell (set a box for non-periodic structures)")
    new_cell = restricted_cell(cell)
    (lx, _, _), (xy, ly, _), (xz, yz, lz) = new_cell
    if np.linalg.det(cell) < 0:
        raise ValueError("left-handed cell: LAMMPS needs a right-handed cell")
    frac = np.linalg.solve(cell.T, atoms.positions.T).T
    positions = frac @ new_cell
    origin = np.asarray(atoms.info.get("lammps_origin", np.zeros(3)), dtype=float)
    ids = np.asarray(atoms.arrays.get("id", np.arange(1, n + 1)), dtype=np.int64)
    out = [f"LAMMPS data file written by eipgs ({atoms.get_chemical_formula()})", "", f"{n} atoms", f"{ntypes} atom types", ""]
    for q, ax in enumerate("xyz"):
        lo = origin[q]
        out.append(f"{lo:.16g} {lo + (lx, ly, lz)[q]:.16g} {ax}lo {ax}hi")
    if abs(xy) > 0 or abs(xz) > 0 or abs(yz) > 0:
        out.append(f"{xy:.16g} {xz:.16g} {yz:.16g} xy xz yz")
    if masses:
        mass_of = {}
        known = atoms.info.get("lammps_masses") or {}
        for t in range(1, ntypes + 1):
            if t in known:
                mass_of[t] = known[t]
            elif elements is not None and t <= len(elements):
                mass_of[t] = atomic_masses[atomic_numbers[elements[t - 1]]]
            else:
                sel = types == t
                mass_of[t] = float(atoms.get_masses()[sel][0]) if sel.any() else 1.0
        out += ["", "Masses", ""] + [f"{t} {mass_of[t]:.16g}" for t in range(1, ntypes + 1)]
    out += ["", "Atoms # atomic", ""]
    p = positions + origin
    image = atoms.arrays.get("image")
    if image is not None:
        out += [
            f"{i} {t} {x:.16g} {y:.16g} {z:.16g} {ix} {iy} {iz}"
            for i, t, (x, y, z), (ix, iy, iz) in zip(ids, types, p, np.asarray(image, dtype=np.int64))
        ]
    else:
        out += [f"{i} {t} {x:.16g} {y:.16g} {z:.16g}" for i, t, (x, y, z) in zip(ids, types, p)]
    from eipgs.io.atomic import write_text_atomic

    write_text_atomic(path, "\n".join(out) + "\n")

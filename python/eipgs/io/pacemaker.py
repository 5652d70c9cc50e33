# SPDX-License-Identifier: GPL-2.0-only
"""pacemaker training sets: a pandas DataFrame pickled with gzip (``*.pckl.gzip``, ``*.pkl.gz``).

Columns read and written (doc/design/peers.md §3; ``reference/W-all.pckl.gzip`` has the first four):

- ``ase_atoms``: ASE ``Atoms`` (no calculator attached in the file);
- ``energy``: total DFT energy (eV);
- ``forces``: N×3 forces (eV/Å);
- ``energy_corrected``: ``energy`` minus the per-species reference energies E0 (``--e0 W=...``);
- ``w_energy`` / ``w_forces``: per-structure and per-atom weights honoured by pacemaker;
- ``name``, ``NUMBER_OF_ATOMS``, ``energy_corrected_per_atom``: conveniences pacemaker writes too;
- ``stress`` (ASE Voigt, eV/Å³) and ``features`` (MLIP cfg features, dict str → str): extra columns
  that pacemaker ignores; they make cfg ↔ pckl round trips lossless.

Reading returns ``Atoms`` with a :class:`SinglePointCalculator` (energy, forces, stress). Every other
column is kept: ``w_forces`` as ``arrays["w_forces"]``, ``features`` as ``info["features"]``, and
anything else under its own name in ``info`` (so a round trip keeps columns this module does not know).
"""

from __future__ import annotations

import gzip
import os
import pickle
import zlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

__all__ = [
    "read_pacemaker",
    "write_pacemaker",
    "read_pacemaker_dataframe",
    "atoms_to_dataframe",
    "PacemakerFormatError",
    "REQUIRED_COLUMNS",
]

REQUIRED_COLUMNS = ("ase_atoms", "energy", "forces")
# Columns with a dedicated place in Atoms; every other column is carried in info under its own name.
_HANDLED = {"ase_atoms", "energy", "forces", "stress", "w_forces", "features", "energy_corrected"}
# Columns recomputed on writing, so a stale value read from a file never wins.
_DERIVED = {"NUMBER_OF_ATOMS", "energy_corrected_per_atom"}


class PacemakerFormatError(ValueError):
    """A pacemaker pickle that cannot be read; the message names the file."""


def read_pacemaker_dataframe(path: str | os.PathLike):
    """Load the DataFrame of a gzip-compressed pacemaker pickle, with a clear error for a bad file."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pacemaker pickle not found: {path}")
    try:
        df = pd.read_pickle(path, compression="gzip")
    except (EOFError, OSError, pickle.UnpicklingError, zlib.error, gzip.BadGzipFile, ValueError,
            AttributeError, ImportError, IndexError, TypeError) as exc:
        # A truncated download, a plain (uncompressed) pickle or an unrelated file all end up here.
        raise PacemakerFormatError(
            f"{path}: not a readable gzip-compressed pandas pickle ({type(exc).__name__}: {exc}); "
            "re-create it with DataFrame.to_pickle(path, compression='gzip') or re-download it"
        ) from None
    if not isinstance(df, pd.DataFrame):
        raise PacemakerFormatError(f"{path}: the pickle holds a {type(df).__name__}, not a pandas DataFrame")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise PacemakerFormatError(
            f"{path}: missing column(s) {missing}; a pacemaker dataset needs {list(REQUIRED_COLUMNS)} "
            f"(found {list(df.columns)})"
        )
    return df


def _scalar(value):
    """numpy scalars → Python scalars so info stays JSON/extxyz friendly."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_pacemaker(path: str | os.PathLike) -> list[Atoms]:
    """Read every structure of a pacemaker pickle as ``Atoms`` with energy/forces in a calculator."""
    path = Path(path)
    df = read_pacemaker_dataframe(path)
    out: list[Atoms] = []
    columns = list(df.columns)
    for row_number, (index, row) in enumerate(df.iterrows()):
        src = row["ase_atoms"]
        if not isinstance(src, Atoms):
            raise PacemakerFormatError(f"{path}: row {index}: ase_atoms is a {type(src).__name__}, not ase.Atoms")
        atoms = src.copy()
        atoms.calc = None
        n = len(atoms)
        forces = np.asarray(row["forces"], dtype=float)
        if forces.shape != (n, 3):
            raise PacemakerFormatError(f"{path}: row {index}: forces have shape {forces.shape}, expected ({n}, 3)")
        calc_kw = {"energy": float(row["energy"]), "forces": forces}
        if "stress" in columns and row["stress"] is not None and not _isnan(row["stress"]):
            calc_kw["stress"] = np.asarray(row["stress"], dtype=float).reshape(6)
        atoms.calc = SinglePointCalculator(atoms, **calc_kw)
        if "energy_corrected" in columns:
            atoms.info["energy_corrected"] = float(row["energy_corrected"])
        if "w_forces" in columns and not _isnan(row["w_forces"]):
            w = np.asarray(row["w_forces"], dtype=float).reshape(-1)
            if w.shape != (n,):
                raise PacemakerFormatError(f"{path}: row {index}: w_forces has {w.size} values for {n} atoms")
            atoms.arrays["w_forces"] = w
        if "features" in columns and isinstance(row["features"], Mapping):
            atoms.info["features"] = {str(k): str(v) for k, v in row["features"].items()}
        for col in columns:
            if col in _HANDLED or col in _DERIVED:
                continue
            atoms.info[col] = _scalar(row[col])
        atoms.info.setdefault("pacemaker_index", _scalar(index))
        out.append(atoms)
    _undo_weight_normalisation(out)
    return out


def _undo_weight_normalisation(images: list[Atoms]) -> None:
    """Rescale a file's weights to mean 1 per structure (w_energy) and per atom (w_forces).

    Files we write have both normalised to sum 1 over the set; read back as they are, those tiny
    weights would make the old structures N times lighter than new ones (weight 1) when the two
    sets are merged and normalised again. Relative weights inside the file are kept.
    """
    w_energy = [a.info["w_energy"] for a in images if "w_energy" in a.info]
    if w_energy and len(w_energy) == len(images) and sum(w_energy) > 0:
        scale = len(images) / float(sum(w_energy))
        for a in images:
            a.info["w_energy"] = float(a.info["w_energy"]) * scale
    w_forces = [a.arrays["w_forces"] for a in images if "w_forces" in a.arrays]
    if w_forces and len(w_forces) == len(images):
        total = float(sum(w.sum() for w in w_forces))
        if total > 0:
            scale = sum(len(w) for w in w_forces) / total
            for a in images:
                a.arrays["w_forces"] = a.arrays["w_forces"] * scale


def _isnan(value) -> bool:
    try:
        return bool(np.isscalar(value) and np.isnan(value))
    except TypeError:
        return False


def _reference_energy(atoms: Atoms, e0: Mapping[str, float] | None, where: str) -> float:
    if not e0:
        return 0.0
    symbols = atoms.get_chemical_symbols()
    missing = sorted(set(symbols) - set(e0))
    if missing:
        raise ValueError(f"{where}: no reference energy for {missing}; give --e0 for every element (e.g. --e0 W=-4.5)")
    return float(sum(e0[s] for s in symbols))


def atoms_to_dataframe(
    atoms_list: Iterable[Atoms],
    *,
    e0: Mapping[str, float] | None = None,
    normalize_weights: bool = True,
    source: str = "<structures>",
):
    """Build a pacemaker DataFrame. Every structure needs an energy and forces.

    ``energy_corrected = energy - Σ_i E0[species_i]`` (E0 = 0 when ``e0`` is not given, as in
    ``W-all.pckl.gzip``). ``w_forces`` comes from ``arrays["w_forces"]`` (default 1 per atom) and
    ``w_energy`` from ``info["w_energy"]`` (default 1); with ``normalize_weights`` both are scaled to sum
    to 1 over the dataset, the normalisation pacemaker's ExternalWeightingPolicy works with.
    """
    import pandas as pd

    rows = []
    extra_cols: list[str] = []
    for k, atoms in enumerate(atoms_list):
        where = f"{source}: structure {k}"
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        energy = results.get("energy", atoms.info.get("energy"))
        forces = results.get("forces", atoms.arrays.get("forces"))
        if energy is None or forces is None:
            raise ValueError(f"{where}: a pacemaker dataset needs energy and forces for every structure")
        n = len(atoms)
        forces = np.array(forces, dtype=float).reshape(n, 3)
        clean = Atoms(numbers=atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        e_corr = float(energy) - _reference_energy(atoms, e0, where)
        row = {
            "ase_atoms": clean,
            "energy": float(energy),
            "forces": forces,
            "energy_corrected": e_corr,
            "NUMBER_OF_ATOMS": n,
            "energy_corrected_per_atom": e_corr / n if n else np.nan,
            "w_energy": float(atoms.info.get("w_energy", 1.0)),
            "w_forces": np.array(atoms.arrays.get("w_forces", np.ones(n)), dtype=float),
        }
        stress = results.get("stress")
        row["stress"] = None if stress is None else _voigt(stress)
        features = atoms.info.get("features")
        row["features"] = dict(features) if features else None
        name = atoms.info.get("name")
        if name is None and features:
            name = features.get("source") or features.get("from")
        row["name"] = str(name) if name is not None else f"{source}#{k}"
        for key, value in atoms.info.items():
            if key in row or key in _HANDLED or key in _DERIVED or key in ("plus_stress", "energy", "pacemaker_index"):
                continue
            if key not in extra_cols:
                extra_cols.append(key)
            row[key] = value
        rows.append(row)
    columns = ["name", "ase_atoms", "energy", "forces", "energy_corrected", "energy_corrected_per_atom",
               "NUMBER_OF_ATOMS", "w_energy", "w_forces", "stress", "features", *extra_cols]
    df = pd.DataFrame(rows, columns=columns)
    if not rows:
        return df
    if df["stress"].isna().all():
        df = df.drop(columns=["stress"])
    if df["features"].isna().all():
        df = df.drop(columns=["features"])
    if normalize_weights:
        total_e = float(df["w_energy"].sum())
        total_f = float(sum(w.sum() for w in df["w_forces"]))
        if total_e <= 0 or total_f <= 0:
            raise ValueError(f"{source}: weights must have a positive sum (w_energy {total_e}, w_forces {total_f})")
        df["w_energy"] = df["w_energy"] / total_e
        df["w_forces"] = [w / total_f for w in df["w_forces"]]
    return df


def _voigt(stress) -> np.ndarray:
    s = np.asarray(stress, dtype=float)
    if s.shape == (3, 3):
        s = s[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    return s.reshape(6)


def write_pacemaker(
    path: str | os.PathLike,
    atoms_list: Iterable[Atoms],
    *,
    e0: Mapping[str, float] | None = None,
    normalize_weights: bool = True,
) -> None:
    """Write structures as a gzip-compressed pacemaker pickle (see :func:`atoms_to_dataframe`)."""
    import pandas as pd

    path = Path(path)
    df = atoms_to_dataframe(atoms_list, e0=e0, normalize_weights=normalize_weights, source=str(path))
    # pandas 3 pickles text as its new string dtype, which pandas 2 cannot unpickle (NotImplementedError);
    # tensorpotential, pacemaker's fitting backend, requires pandas < 3. Plain object columns read in both.
    for column in df.columns:
        if pd.api.types.is_string_dtype(df[column].dtype) and df[column].dtype != object:
            df[column] = df[column].astype(object)
    df.columns = pd.Index(list(df.columns), dtype=object)
    # protocol 4 keeps the file readable by the Python 3.7/3.8 environments pacemaker often runs in.
    from eipgs.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        df.to_pickle(tmp, compression="gzip", protocol=4)


def parse_e0(items: Sequence[str] | None) -> dict[str, float]:
    """``["W=-4.5", "Cu=-3.7"]`` → ``{"W": -4.5, "Cu": -3.7}`` (the ``--e0`` option)."""
    from ase.data import atomic_numbers

    out: dict[str, float] = {}
    for item in items or []:
        for part in str(item).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValueError(f"--e0 {part!r}: expected ELEMENT=ENERGY, e.g. W=-4.5")
            sym, val = part.split("=", 1)
            sym = sym.strip()
            if sym not in atomic_numbers:
                raise ValueError(f"--e0 {part!r}: {sym!r} is not a chemical symbol")
            try:
                out[sym] = float(val)
            except ValueError:
                raise ValueError(f"--e0 {part!r}: {val!r} is not a number (eV)") from None
    return out

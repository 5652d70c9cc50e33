"""Reading clusters and cutting the frozen core around the centre atom (pcc-method.md §10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

# an atom closer than this to the origin is the centre (fix cluster/sample and
# `mlp cut_extrapolative_nbh` both write the centre at (0, 0, 0))
CENTER_TOLERANCE = 1e-6


def read_clusters(path: str | Path, cfg_elements: list[str] | None = None) -> list[Atoms]:
    """All configurations of an extxyz or MLIP .cfg file, as ASE Atoms.

    A .cfg file stores type indices only: ``cfg_elements[t]`` is the element of type t.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cluster file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".cfg":
        if not cfg_elements:
            raise ValueError(f"{path}: a .cfg file has atom types, not elements; give them with --cfg-elements (e.g. W)")
        try:
            from eipgs.io.cfg import read_cfg
        except ImportError as exc:  # written by another part of the package
            raise RuntimeError(f"reading {path}: eipgs.io.cfg is not available ({exc}); convert it to extxyz") from exc
        clusters = read_cfg(path, elements=list(cfg_elements))
    elif suffix in (".extxyz", ".xyz"):
        from ase.io import read

        # parallel=False: under mpirun ASE would otherwise read on rank 0 and broadcast through
        # COMM_WORLD, a collective that only the rank preparing the job enters
        clusters = read(path, index=":", format="extxyz", parallel=False)
    else:
        raise ValueError(f"{path}: unknown cluster format {suffix!r}; use .extxyz or .cfg")
    if not clusters:
        raise ValueError(f"{path} holds no configuration")
    return list(clusters)


def find_center(atoms: Atoms, label: str = "cluster") -> int:
    """Index of the centre atom: info['center_index'], or the single atom at the origin."""
    if "center_index" in atoms.info:
        index = int(atoms.info["center_index"])
        if not 0 <= index < len(atoms):
            raise ValueError(f"{label}: info center_index={index} is outside 0..{len(atoms) - 1}")
        return index
    at_origin = np.flatnonzero(np.linalg.norm(atoms.positions, axis=1) < CENTER_TOLERANCE)
    if len(at_origin) != 1:
        raise ValueError(
            f"{label} has no centre atom: expected exactly one atom at the origin (as fix cluster/sample "
            f"and mlp cut_extrapolative_nbh write it; found {len(at_origin)}) or info['center_index']"
        )
    return int(at_origin[0])


def cut_core(atoms: Atoms, center: int, core_radius: float, cutoff: float, label: str = "cluster") -> Atoms:
    """The core: every atom within core_radius of the centre, centre first, centre at the origin.

    Positions are relative vectors r_j - r_c of the source cluster (minimum image when the
    source is periodic), so the centre's neighbourhood within `cutoff` is exactly the source's.
    """
    if core_radius < cutoff:
        raise ValueError(f"core radius {core_radius} Å is smaller than the protected cutoff {cutoff} Å")
    source_radius = atoms.info.get("radius")
    if source_radius is not None and float(source_radius) + 1e-9 < core_radius:
        raise ValueError(
            f"{label} was cut with radius {float(source_radius)} Å, smaller than the core radius "
            f"{core_radius} Å: its core would be incomplete (lower --core-radius or sample larger clusters)"
        )
    rel = atoms.positions - atoms.positions[center]
    if atoms.pbc.any():
        from ase.geometry import find_mic

        rel, _ = find_mic(rel, atoms.cell, atoms.pbc)
    dist = np.linalg.norm(rel, axis=1)
    inside = np.flatnonzero(dist < core_radius)
    order = np.concatenate([[center], inside[inside != center]])
    if len(order) < 2:
        raise ValueError(f"{label} has no core: no atom within {core_radius} Å of its centre")
    # the source cluster must itself contain the full neighbourhood: it has to reach beyond the cutoff
    if dist.max() < cutoff and not atoms.pbc.any():
        raise ValueError(
            f"{label} has no complete core: its farthest atom is {dist.max():.3f} Å from the centre, "
            f"inside the cutoff {cutoff} Å"
        )
    core = Atoms(symbols=[atoms.get_chemical_symbols()[i] for i in order], positions=rel[order], pbc=False)
    core.info["source_center_index"] = center
    if "id" in atoms.arrays:
        core.arrays["source_id"] = np.asarray(atoms.arrays["id"])[order]
    return core

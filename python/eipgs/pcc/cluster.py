# SPDX-License-Identifier: GPL-2.0-only
"""Reading clusters, checking them and cutting the frozen core around the centre atom (doc/design/pcc.md §10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

# an atom closer than this to the origin is the centre (fix cluster/sample and
# `mlp cut_extrapolative_nbh` both write the centre at (0, 0, 0))
CENTER_TOLERANCE = 1e-6


class ClusterError(ValueError):
    """This one cluster cannot be reconstructed (the batch goes on; the reason lands in summary.csv)."""


# atoms closer than this are duplicates or overlapping (W's nearest neighbour is 2.74 Å; the authors'
# cells went down to 2.04 Å)
OVERLAP_DISTANCE = 1.0  # Å


def read_clusters(path: str | Path, cfg_elements: list[str] | None = None) -> list[Atoms]:
    """All configurations of an extxyz or MLIP .cfg file, as ASE Atoms (eipgs.io.formats.read_structures)."""
    from eipgs.io.formats import read_structures

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"cluster file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in (".cfg", ".extxyz", ".xyz"):
        raise ValueError(f"{path}: unknown cluster format {suffix!r}; use .extxyz or .cfg")
    if suffix == ".cfg" and not cfg_elements:
        raise ValueError(f"{path}: a .cfg file has atom types, not elements; give them with --cfg-elements (e.g. W)")
    clusters = _serial_ase(lambda: read_structures(path, list(cfg_elements) if suffix == ".cfg" else None))
    if not clusters:
        raise ValueError(f"{path} holds no configuration")
    for atoms in clusters:
        # read_structures' bookkeeping is not part of the cluster (and would end up in the cells)
        atoms.info.pop("source_file", None)
        atoms.info.pop("source_index", None)
    return list(clusters)


def _serial_ase(func):
    """func() with ASE's MPI world replaced by a one-process stand-in: under mpirun ASE's readers would
    read on rank 0 and broadcast through COMM_WORLD, a collective that only the rank preparing the job
    enters (read_structures does not pass parallel=False)."""
    import ase.parallel

    saved = ase.parallel.world
    ase.parallel.world = ase.parallel.DummyMPI()
    try:
        return func()
    finally:
        ase.parallel.world = saved


def check_cluster(atoms: Atoms, label: str = "cluster") -> None:
    """ClusterError naming the problem when the cluster is unusable as a PCC source."""
    pos = atoms.positions
    if len(atoms) == 0:
        raise ClusterError(f"{label} has no atoms")
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if len(bad):
        raise ClusterError(f"{label}: atom {int(bad[0])} has a non-finite coordinate ({len(bad)} such atoms)")
    if len(atoms) > 1:
        from scipy.spatial import cKDTree

        pairs = cKDTree(pos).query_pairs(OVERLAP_DISTANCE, output_type="ndarray")
        if len(pairs):
            i, j = (int(v) for v in pairs[0])
            raise ClusterError(f"{label}: atoms {i} and {j} overlap ({np.linalg.norm(pos[i] - pos[j]):.3f} Å apart, "
                               f"< {OVERLAP_DISTANCE} Å; {len(pairs)} such pairs): duplicated atoms?")


def find_center(atoms: Atoms, label: str = "cluster") -> int:
    """Index of the centre atom: info['center_index'], or the single atom at the origin."""
    if "center_index" in atoms.info:
        index = int(atoms.info["center_index"])
        if not 0 <= index < len(atoms):
            raise ClusterError(f"{label}: info center_index={index} is outside 0..{len(atoms) - 1}")
        return index
    at_origin = np.flatnonzero(np.linalg.norm(atoms.positions, axis=1) < CENTER_TOLERANCE)
    if len(at_origin) != 1:
        raise ClusterError(
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
        raise ClusterError(
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
        raise ClusterError(f"{label} has no core: no atom within {core_radius} Å of its centre")
    if source_radius is None and not atoms.pbc.any() and dist.max() < core_radius - 1.0:
        raise ClusterError(
            f"{label} reaches only {dist.max():.3f} Å from its centre, well inside the core radius {core_radius} Å: "
            "its core would be incomplete (lower --core-radius or sample larger clusters)"
        )
    # the source cluster must itself contain the full neighbourhood: it has to reach beyond the cutoff
    if dist.max() < cutoff and not atoms.pbc.any():
        raise ClusterError(
            f"{label} has no complete core: its farthest atom is {dist.max():.3f} Å from the centre, "
            f"inside the cutoff {cutoff} Å"
        )
    core = Atoms(symbols=[atoms.get_chemical_symbols()[i] for i in order], positions=rel[order], pbc=False)
    core.info["source_center_index"] = center
    if "id" in atoms.arrays:
        core.arrays["source_id"] = np.asarray(atoms.arrays["id"])[order]
    return core

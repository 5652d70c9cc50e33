# SPDX-License-Identifier: GPL-2.0-only
"""Build the ``#MVS_v1.1`` active set of an MTP from a training set, as MLIP-3 does after training
(doc/design/mtp.md §5 "Active set after training"): A = 1e-6·I, one row b_i = ∂V_i/∂θ per atom of every
training configuration (neighbourhood mode, §2), MaxVol at τ = 1.001, S = (A⁻¹)ᵀ; the ``.almtp``
stores the configurations that own rows of A with ``Feature selected_eqn_inds`` (§3.3, §4).

Also the shared helpers of ``eipgs select``: species of cfg configurations and row streams.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from ase import Atoms

from eipgs.io.almtp import ActiveSetData, MTPPotential
from eipgs.mtp.evaluator import MTPEvaluator
from eipgs.mtp.grading import evaluate_configuration
from eipgs.mtp.maxvol import MaxVol
from eipgs.mtp.streaming import StreamStats, pool_rows_for_memory, stream_maxvol

__all__ = [
    "activeset",
    "activeset_structures",
    "build_active_set",
    "read_cfg_for",
    "config_species",
    "eqn_index",
    "row_chunks",
    "active_set_data",
    "TRAIN_THRESHOLD",
]

TRAIN_THRESHOLD = 1.001  # doc/design/mtp.md §5: `mlp train` and the training passes of select_add
DEFAULT_MEMORY_MB = 512.0


def eqn_index(n_atoms: int, atom: np.ndarray | int) -> np.ndarray | int:
    """Equation index of the site-energy row of ``atom`` (0-based) in an n-atom configuration (§3.3)."""
    return 3 * n_atoms + 10 + atom


def config_species(atoms: Atoms, pot: MTPPotential, source: str) -> np.ndarray:
    """MTP species index of every atom of a whole configuration (cfg type t → position of t among the
    potential's species labels, :func:`eipgs.mtp.species.species_of_atoms`); ghost atoms are refused."""
    from eipgs.mtp.species import species_of_atoms

    if atoms.arrays.get("ghost") is not None and np.any(atoms.arrays["ghost"]):
        raise ValueError(
            f"{source}: the configuration has ghost atoms (MPI-split LAMMPS output); selection needs whole "
            "configurations (MLIP-3 does not select MPI-split configurations either) — rerun on one rank or "
            "regrade the full configuration"
        )
    return species_of_atoms(atoms, pot, where=f"{source}: ")


def read_cfg_for(path: str | os.PathLike, pot: MTPPotential, what: str) -> tuple[list[Atoms], list[np.ndarray]]:
    """Read a ``.cfg`` and map its types to species of ``pot``; errors name the file and configuration."""
    from eipgs.io.formats import detect_format, read_structures

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    if path.suffix.lower() != "" and detect_format(path) != "cfg":
        raise ValueError(
            f"{path}: {what} must be an MLIP .cfg file (convert other formats with `eipgs convert` first)"
        )
    configs = read_structures(path, fmt="cfg")
    species = [config_species(a, pot, f"{path}: configuration {k}") for k, a in enumerate(configs)]
    return configs, species


def row_chunks(
    evaluator: MTPEvaluator,
    configs: Sequence[Atoms],
    species: Sequence[np.ndarray],
    indices: Iterable[int],
    label_of: Callable[[int, np.ndarray], np.ndarray],
    chunk_rows: int,
    atom_filter: Sequence[np.ndarray | None] | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Rows b_i of the atoms of ``configs[indices]``, about ``chunk_rows`` at a time, labelled by
    ``label_of(config_index, atom_indices)``. ``atom_filter[k]`` restricts configuration k to those atoms."""
    buf_r: list[np.ndarray] = []
    buf_l: list[np.ndarray] = []
    n = 0
    for k in indices:
        a = configs[k]
        if len(a) == 0:
            continue
        res = evaluate_configuration(evaluator, a.positions, a.cell[:], a.pbc, species[k], grades=False, keep_rows=True)
        atoms_k = np.arange(len(a))
        rows = res.rows
        if atom_filter is not None and atom_filter[k] is not None:
            atoms_k = atom_filter[k]
            rows = rows[atoms_k]
        buf_r.append(rows)
        buf_l.append(label_of(k, atoms_k))
        n += len(atoms_k)
        if n >= chunk_rows:
            yield np.concatenate(buf_r), np.concatenate(buf_l)
            buf_r, buf_l, n = [], [], 0
    if buf_r:
        yield np.concatenate(buf_r), np.concatenate(buf_l)


def tqdm_progress(enabled: bool):
    """A progress wrapper for stream_maxvol: a tqdm bar counting neighbourhoods (rows) per pass."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    def wrap(chunks, desc: str, total: int | None):
        with tqdm(total=total, desc=desc, unit="nbh", unit_scale=True, leave=False) as bar:
            for rows, labels in chunks:
                yield rows, labels
                bar.update(len(labels))

    return wrap


def active_set_data(
    mv: MaxVol,
    owner: Callable[[int], tuple[object, Atoms, int]],
    template: ActiveSetData | None = None,
) -> ActiveSetData:
    """ActiveSetData from a MaxVol state. ``owner(label)`` returns (key, Atoms, eqn_index) for a filled row;
    configurations are stored once per key in order of key, with ``Feature selected_eqn_inds``."""
    m = mv.m
    rows: list[tuple[object, Atoms, int, int]] = []
    for r, lab in enumerate(mv.labels):
        if lab >= 0:
            key, atoms, eqn = owner(int(lab))
            rows.append((key, atoms, int(eqn), r))
    keys = sorted({k for k, _, _, _ in rows})
    index = {k: i for i, k in enumerate(keys)}
    by_key: dict[object, tuple[Atoms, list[int]]] = {}
    links = np.full((m, 2), -1, dtype=np.int64)
    for key, atoms, eqn, r in rows:
        links[r] = index[key], eqn
        by_key.setdefault(key, (atoms, []))[1].append(eqn)
    configurations = []
    for key in keys:
        atoms, eqns = by_key[key]
        stored = atoms.copy()
        stored.calc = atoms.calc
        features = dict(atoms.info.get("features") or {})
        features["selected_eqn_inds"] = ",".join(str(e) for e in sorted(eqns))
        stored.info["features"] = features
        configurations.append(stored)
    w = template
    return ActiveSetData(
        energy_weight=0.0 if w is None else w.energy_weight,
        force_weight=0.0 if w is None else w.force_weight,
        stress_weight=0.0 if w is None else w.stress_weight,
        site_en_weight=1.0 if w is None else w.site_en_weight,
        weight_scaling=2 if w is None else w.weight_scaling,
        A=mv.A.copy(),
        S=mv.S.copy(),
        links=links,
        configurations=configurations,
    )


def build_active_set(
    pot: MTPPotential,
    configs: Sequence[Atoms],
    species: Sequence[np.ndarray] | None = None,
    *,
    rows: str = "all",
    threshold: float = TRAIN_THRESHOLD,
    memory_mb: float = DEFAULT_MEMORY_MB,
    chunk_rows: int = 4096,
    progress: bool = False,
) -> tuple[ActiveSetData, StreamStats]:
    """Neighbourhood-mode active set of ``pot`` for ``configs`` (doc/design/mtp.md §5): MaxVol from 1e-6·I.

    ``rows='selected'`` uses, for configurations with a ``selected_eqn_inds`` feature, only those rows
    (reconstructs a stored active set from its own configurations); ``'all'`` uses every atom (MLIP-3).
    """
    pot.require_trained()
    if rows not in ("all", "selected"):
        raise ValueError(f"rows must be 'all' or 'selected', not {rows!r}")
    if species is None:
        species = [config_species(a, pot, f"configuration {k}") for k, a in enumerate(configs)]
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in configs])]).astype(np.int64)
    atom_filter = None
    if rows == "selected":
        atom_filter = [_selected_atoms(a, k) for k, a in enumerate(configs)]
    ev = MTPEvaluator(pot)
    mv = MaxVol.empty(pot.m)

    def chunks():
        return row_chunks(ev, configs, species, range(len(configs)), lambda k, at: offsets[k] + at, chunk_rows, atom_filter)

    stats = stream_maxvol(
        mv,
        chunks,
        threshold,
        max_pool_rows=pool_rows_for_memory(pot.m, memory_mb),
        progress=tqdm_progress(progress),
        desc="active set",
        total_rows=int(sum(len(a) if f is None else len(f) for a, f in zip(configs, atom_filter or [None] * len(configs)))),
    )

    def owner(label: int):
        k = int(np.searchsorted(offsets, label, side="right") - 1)
        return k, configs[k], eqn_index(len(configs[k]), label - offsets[k])

    return active_set_data(mv, owner), stats


def _selected_atoms(atoms: Atoms, k: int) -> np.ndarray | None:
    value = (atoms.info.get("features") or {}).get("selected_eqn_inds")
    if value is None:
        return None
    n = len(atoms)
    try:
        eqns = np.array([int(t) for t in value.replace("\n", ",").split(",") if t.strip()], dtype=np.int64)
    except ValueError:
        raise ValueError(f"configuration {k}: selected_eqn_inds {value!r} is not a list of integers") from None
    at = eqns - eqn_index(n, 0)
    if len(at) and (at.min() < 0 or at.max() >= n):
        raise ValueError(
            f"configuration {k}: selected_eqn_inds {value!r} are not site-energy rows 3n+10+i of its {n} atoms "
            "(only neighbourhood-mode active sets can be rebuilt from selected rows)"
        )
    return np.unique(at)


def activeset_structures(
    pot: MTPPotential,
    configs: Sequence[Atoms],
    *,
    rows: str = "all",
    memory_mb: float = DEFAULT_MEMORY_MB,
    progress: bool = False,
) -> tuple[MTPPotential, StreamStats]:
    """The potential ``pot`` with a new neighbourhood-mode active set built on ``configs`` (ASE Atoms with
    cfg types, or one element for a one-species MTP); any active set of ``pot`` is ignored. No files."""
    if not pot.is_trained:
        raise ValueError(f"{pot.source}: the MTP is untrained (no radial_coeffs); train it first")
    if not configs:
        raise ValueError("no configurations; the active set needs a training set")
    species = [config_species(a, pot, f"configuration {k}") for k, a in enumerate(configs)]
    aset, stats = build_active_set(pot, configs, species, rows=rows, memory_mb=memory_mb, progress=progress)
    return pot.replace(active_set=aset), stats


def activeset(
    potential_path: str | os.PathLike,
    train_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    rows: str = "all",
    memory_mb: float = DEFAULT_MEMORY_MB,
    progress: bool = True,
) -> tuple[MTPPotential, StreamStats]:
    """Read a trained ``.mtp`` / ``.almtp`` (an existing active set is ignored), build the active set on
    ``train_path`` and write ``output_path`` (.almtp)."""
    from eipgs.io.almtp import read_almtp, write_almtp

    from eipgs.io.atomic import same_file

    if same_file(output_path, train_path):
        raise ValueError(f"-o {output_path} is the training set {train_path}: refusing to overwrite it")
    pot = read_almtp(potential_path)
    if not pot.is_trained:
        raise ValueError(f"{potential_path}: the MTP is untrained (no radial_coeffs); train it first")
    configs, species = read_cfg_for(train_path, pot, "training set")
    if not configs:
        raise ValueError(f"no structures in {train_path}; the active set needs a training set")
    out, stats = activeset_structures(pot, configs, rows=rows, memory_mb=memory_mb, progress=progress)
    write_almtp(output_path, out)
    return out, stats

# SPDX-License-Identifier: GPL-2.0-only
"""Offline D-optimal selection with the semantics of MLIP-3 ``mlp select_add`` (doc/design/mtp.md §6).

``select(pot.almtp, train.cfg, [candidates.cfg, ...], selected.cfg)``:

1. load A, S of the neighbourhood-mode ``.almtp``;
2. re-grow from the training set: every training row, MaxVol at τ = 1.001 starting from the loaded A;
3. candidates, ``batch_size`` configurations at a time: one MaxVol over the batch's rows against the current
   A at τ = ``threshold`` (default 1.001); a later swap can push a candidate's row out again (outsorting);
4. re-add the training set (τ = 1.001), so rows of configurations already computed with DFT can displace
   candidate rows;
5. a candidate is selected iff at least one of its rows is in the final A. It is written with all its
   Feature lines plus ``selected_eqn_inds`` (row 3n+10+i ↔ atom i), or, with ``nbh=True``, every selected
   neighbourhood is written as a non-periodic cluster (centre first at the origin, as
   ``mlp cut_extrapolative_nbh``, §8).

Memory: each MaxVol streams rows in chunks into a pool bounded by ``memory_mb``; when the rows of a
batch do not fit, the rows closest to entering are kept and closure passes re-stream the batch
(eipgs.mtp.streaming documents the exact semantics: a MaxVol fixed point of the whole batch, identical to
MLIP-3's one joint MaxVol whenever the batch fits). Configurations are held as ASE Atoms (≈ 0.1 kB per atom); rows
(m·8 bytes per atom) never all at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from ase import Atoms

from eipgs.activeset import (
    DEFAULT_MEMORY_MB,
    TRAIN_THRESHOLD,
    active_set_data,
    config_species,
    eqn_index,
    read_cfg_for,
    row_chunks,
    tqdm_progress,
)
from eipgs.io.almtp import ActiveSetData, MTPPotential
from eipgs.mtp.evaluator import MTPEvaluator
from eipgs.mtp.maxvol import MaxVol
from eipgs.mtp.streaming import StreamStats, pool_rows_for_memory, stream_maxvol

__all__ = ["select", "select_structures", "select_configurations", "Selection", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 9999  # MLIP-3 select_add `batch_size` (configurations per joint MaxVol)
# Label spaces of rows of A: loaded rows r, training rows, candidate rows (all ≥ 0, see MaxVol labels).
_TRAIN = 1 << 40
_CAND = 1 << 50


@dataclass
class Selection:
    """Result of a selection: the selected neighbourhoods per candidate configuration and the new A."""

    selected: dict[int, np.ndarray]  # candidate configuration index → sorted selected atom indices
    mv: MaxVol
    candidates: list[Atoms]
    candidate_sources: list[tuple[str, int]]  # (file, index in file) per candidate
    stats: dict[str, StreamStats] = field(default_factory=dict)
    active_set: ActiveSetData | None = None  # ActiveSetData of the final A (training / loaded / selected configurations)

    @property
    def n_selected(self) -> int:
        return len(self.selected)


def _nonfinite_row_message(what: str, atoms: Atoms, atom: int) -> str:
    """Why the MTP row of ``atoms[atom]`` is NaN/inf, and what to do (MaxVol cannot take such a row)."""
    from eipgs.mtp.neighbours import neighbour_pairs

    i, j, D = neighbour_pairs(atoms.positions, atoms.cell[:], atoms.pbc, 0.5)
    on_top = j[(i == atom) & ~np.any(D, axis=1)]
    if len(on_top):
        why = f"atom {atom} sits on atom {int(on_top[0])} (distance 0: overlapping atoms)"
    else:
        why = f"atom {atom} has NaN or inf in its MTP row (overflowing potential coefficients?)"
    return (
        f"{what}: {why} (0-based indices), so its neighbourhood has no finite MTP row and cannot enter "
        "the active set; remove or repair that structure (`eipgs grade` marks such atoms with grade inf) "
        "and run again"
    )


def _finite_chunks(chunks, describe):
    """Pass (rows, labels) chunks through, stopping at the first non-finite row with ``describe(label)``."""
    for rows, labels in chunks:
        finite = np.isfinite(rows).all(axis=1)
        if not finite.all():
            raise ValueError(describe(int(labels[np.flatnonzero(~finite)[0]])))
        yield rows, labels


def select_configurations(
    pot: MTPPotential,
    train: Sequence[Atoms],
    train_species: Sequence[np.ndarray],
    candidates: Sequence[Atoms],
    cand_species: Sequence[np.ndarray],
    *,
    threshold: float = TRAIN_THRESHOLD,
    batch_size: int = DEFAULT_BATCH_SIZE,
    memory_mb: float = DEFAULT_MEMORY_MB,
    chunk_rows: int = 4096,
    progress: bool = False,
    candidate_sources: Sequence[tuple[str, int]] | None = None,
    spill_dir: str | os.PathLike | None = None,
    train_source: str | None = None,
) -> Selection:
    """The select_add procedure (doc/design/mtp.md §6) on configurations already in memory."""
    aset = pot.require_active_set("nbh")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    m = pot.m
    # Loaded rows keep their row index as label so that --write-almtp can keep their stored configuration.
    filled = aset.links[:, 0] >= 0
    mv = MaxVol.from_matrices(aset.A, aset.S, np.where(filled, np.arange(m), -1))
    ev = MTPEvaluator(pot)
    t_off = np.concatenate([[0], np.cumsum([len(a) for a in train])]).astype(np.int64)
    c_off = np.concatenate([[0], np.cumsum([len(a) for a in candidates])]).astype(np.int64)
    pool = pool_rows_for_memory(m, memory_mb)
    bar = tqdm_progress(progress)
    stats: dict[str, StreamStats] = {}
    sources = list(candidate_sources) if candidate_sources is not None else [("<memory>", k) for k in range(len(candidates))]

    def bad_train_row(label: int) -> str:
        k = int(np.searchsorted(t_off, label - _TRAIN, side="right") - 1)
        what = f"{train_source}: configuration {k} (training set)" if train_source else f"training configuration {k}"
        return _nonfinite_row_message(what, train[k], int(label - _TRAIN - t_off[k]))

    def bad_candidate_row(label: int) -> str:
        k = int(np.searchsorted(c_off, label - _CAND, side="right") - 1)
        src_file, src_index = sources[k]
        return _nonfinite_row_message(f"{src_file}: configuration {src_index}", candidates[k], int(label - _CAND - c_off[k]))

    # The training rows are needed twice (re-grow, re-add); keep them if they take ≤ 1/4 of the budget.
    cache: list | None = [] if t_off[-1] * m * 8 <= memory_mb * 2**20 / 4 else None

    def train_chunks():
        if cache:
            return iter(cache)
        gen = _finite_chunks(
            row_chunks(ev, train, train_species, range(len(train)), lambda k, at: _TRAIN + t_off[k] + at, chunk_rows),
            bad_train_row,
        )
        if cache is None:
            return gen

        def caching():
            for chunk in gen:
                cache.append(chunk)
                yield chunk

        return caching()

    common = dict(max_pool_rows=pool, progress=bar, spill_dir=spill_dir)
    if len(train):
        stats["regrow"] = stream_maxvol(
            mv, train_chunks, TRAIN_THRESHOLD, desc="re-grow (training set)", total_rows=int(t_off[-1]), **common
        )
    for b, start in enumerate(range(0, len(candidates), batch_size)):
        idx = range(start, min(start + batch_size, len(candidates)))

        def cand_chunks(idx=idx):
            return _finite_chunks(
                row_chunks(ev, candidates, cand_species, idx, lambda k, at: _CAND + c_off[k] + at, chunk_rows),
                bad_candidate_row,
            )

        stats[f"batch{b}"] = stream_maxvol(
            mv,
            cand_chunks,
            threshold,
            desc=f"candidates (batch {b + 1})",
            total_rows=int(c_off[idx.stop] - c_off[idx.start]),
            **common,
        )
    if len(train):
        stats["readd"] = stream_maxvol(
            mv, train_chunks, TRAIN_THRESHOLD, desc="re-add (training set)", total_rows=int(t_off[-1]), **common
        )

    cand_rows = mv.labels[mv.labels >= _CAND] - _CAND
    selected: dict[int, list[int]] = {}
    for row in np.sort(cand_rows):
        k = int(np.searchsorted(c_off, row, side="right") - 1)
        selected.setdefault(k, []).append(int(row - c_off[k]))

    def owner(label: int):
        if label >= _CAND:
            k = int(np.searchsorted(c_off, label - _CAND, side="right") - 1)
            return (2, k), candidates[k], eqn_index(len(candidates[k]), label - _CAND - c_off[k])
        if label >= _TRAIN:
            k = int(np.searchsorted(t_off, label - _TRAIN, side="right") - 1)
            return (1, k), train[k], eqn_index(len(train[k]), label - _TRAIN - t_off[k])
        c, e = aset.links[label]
        return (0, int(c)), aset.configurations[c], int(e)

    return Selection(
        selected={k: np.array(v, dtype=np.int64) for k, v in sorted(selected.items())},
        mv=mv,
        candidates=list(candidates),
        candidate_sources=sources,
        stats=stats,
        active_set=active_set_data(mv, owner, template=aset),
    )


def _clusters(sel: Selection, pot: MTPPotential, cutoff: float, S_loaded: np.ndarray) -> list[Atoms]:
    """Every selected neighbourhood as a non-periodic cluster, centre first at the origin (§8)."""
    from eipgs.mtp.grading import evaluate_configuration, grade_rows
    from eipgs.mtp.neighbours import neighbour_pairs

    ev = MTPEvaluator(pot)
    out: list[Atoms] = []
    for k, atoms_sel in sel.selected.items():
        a = sel.candidates[k]
        spec = config_species(a, pot, f"candidate {k}")
        res = evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, spec, grades=False, keep_rows=True)
        gamma = grade_rows(res.rows[atoms_sel], S_loaded)  # γ against the input active set
        i, j, D = neighbour_pairs(a.positions, a.cell[:], a.pbc, cutoff)
        types = np.asarray(a.arrays["type"], dtype=np.int64)
        src_file, src_index = sel.candidate_sources[k]
        base = {key: v for key, v in (a.info.get("features") or {}).items() if key not in ("MV_grade", "selected_eqn_inds")}
        for atom, g in zip(atoms_sel, gamma):
            nb = i == atom
            positions = np.vstack([np.zeros((1, 3)), D[nb]])
            cluster = Atoms(numbers=np.zeros(len(positions), dtype=int), positions=positions, pbc=False)
            cluster.arrays["type"] = np.concatenate([[types[atom]], types[j[nb]]])
            features = dict(base)
            features["cfg#"] = str(len(out))
            features["nbh#"] = str(int(atom))
            features["extrapolation_grade"] = "%.6f" % g
            features["source"] = f"{src_file}:{src_index}"
            cluster.info["features"] = features
            out.append(cluster)
    return out


def _selected_configs(sel: Selection) -> list[Atoms]:
    out = []
    for k, atoms_sel in sel.selected.items():
        a = sel.candidates[k]
        c = a.copy()
        c.calc = a.calc
        features = dict(a.info.get("features") or {})
        features["selected_eqn_inds"] = ",".join(str(int(e)) for e in eqn_index(len(a), atoms_sel))
        c.info["features"] = features
        out.append(c)
    return out


def select_structures(
    pot: MTPPotential,
    train: Sequence[Atoms],
    candidates: Sequence[Atoms],
    *,
    threshold: float = TRAIN_THRESHOLD,
    batch_size: int = DEFAULT_BATCH_SIZE,
    memory_mb: float = DEFAULT_MEMORY_MB,
    nbh: bool = False,
    cutoff: float = 8.0,
    progress: bool = False,
    candidate_sources: Sequence[tuple[str, int]] | None = None,
    spill_dir: str | os.PathLike | None = None,
    train_source: str | None = None,
) -> tuple[list[Atoms], Selection]:
    """``mlp select_add`` on ASE Atoms (no files): the selected candidates (with ``selected_eqn_inds``) or,
    with ``nbh``, every selected neighbourhood as a cluster; and the :class:`Selection` (its
    ``active_set`` is the updated active set: ``pot.replace(active_set=sel.active_set)``)."""
    if not threshold > 1.0:
        raise ValueError(f"threshold must be > 1 (got {threshold}); MLIP-3's default is 1.001")
    if nbh and not cutoff > 0:
        raise ValueError(f"cutoff must be positive (got {cutoff})")
    pot.require_active_set("nbh")
    train_species = [config_species(a, pot, f"training configuration {k}") for k, a in enumerate(train)]
    sources = list(candidate_sources) if candidate_sources is not None else [("<memory>", k) for k in range(len(candidates))]
    cand_species = [config_species(a, pot, f"{src}: configuration {k}") for a, (src, k) in zip(candidates, sources)]
    sel = select_configurations(
        pot, train, train_species, candidates, cand_species, threshold=threshold, batch_size=batch_size,
        memory_mb=memory_mb, progress=progress, candidate_sources=sources, spill_dir=spill_dir, train_source=train_source,
    )
    out = _clusters(sel, pot, cutoff, pot.active_set.S) if nbh else _selected_configs(sel)
    return out, sel


def select(
    potential_path: str | os.PathLike,
    train_path: str | os.PathLike | None,
    candidate_paths: Sequence[str | os.PathLike],
    output_path: str | os.PathLike,
    *,
    threshold: float = TRAIN_THRESHOLD,
    batch_size: int = DEFAULT_BATCH_SIZE,
    memory_mb: float = DEFAULT_MEMORY_MB,
    nbh: bool = False,
    cutoff: float = 8.0,
    write_almtp_path: str | os.PathLike | None = None,
    spill_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> Selection:
    """Select from ``candidate_paths`` (MLIP .cfg) against ``potential_path`` (.almtp, nbh mode) and the
    training set ``train_path`` (.cfg; None = no training set); write ``output_path`` (.cfg)."""
    from eipgs.io.almtp import read_almtp, write_almtp
    from eipgs.io.atomic import same_file
    from eipgs.io.cfg import write_cfg

    if not threshold > 1.0:
        raise ValueError(f"--threshold must be > 1 (got {threshold}); MLIP-3's default is 1.001")
    if nbh and not cutoff > 0:
        raise ValueError(f"--cutoff must be positive (got {cutoff})")
    if not candidate_paths:
        raise ValueError("no candidate files given")
    inputs = [("the potential", potential_path)] + ([("the training set", train_path)] if train_path is not None else [])
    inputs += [("the candidate file", c) for c in candidate_paths]
    for option, out_path in (("-o", output_path), ("--write-almtp", write_almtp_path)):
        if out_path is None:
            continue
        for name, path in inputs:
            if same_file(out_path, path):
                raise ValueError(f"{option} {out_path} is {name} {path}: refusing to overwrite an input; "
                                 "choose another output name")
    if write_almtp_path is not None and same_file(write_almtp_path, output_path):
        raise ValueError(f"--write-almtp {write_almtp_path} and -o {output_path} are the same file")
    pot = read_almtp(potential_path)
    pot.require_active_set("nbh")
    train, _ = ([], []) if train_path is None else read_cfg_for(train_path, pot, "training set")
    candidates: list[Atoms] = []
    sources: list[tuple[str, int]] = []
    for path in candidate_paths:
        configs, _ = read_cfg_for(path, pot, "candidate")
        candidates += configs
        sources += [(str(path), k) for k in range(len(configs))]
    if not candidates:
        raise ValueError(f"no structures in {', '.join(map(str, candidate_paths))}")
    out, sel = select_structures(
        pot, train, candidates, threshold=threshold, batch_size=batch_size, memory_mb=memory_mb, nbh=nbh,
        cutoff=cutoff, progress=progress, candidate_sources=sources, spill_dir=spill_dir,
        train_source=None if train_path is None else str(train_path),
    )
    write_cfg(output_path, out)
    if write_almtp_path is not None:
        write_almtp(write_almtp_path, pot.replace(active_set=sel.active_set))
    return sel

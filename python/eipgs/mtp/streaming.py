# SPDX-License-Identifier: GPL-2.0-only
"""Memory-bounded MaxVol over a stream of rows (doc/design/mtp.md §5, §6): the engine behind
``eipgs select`` and ``eipgs activeset``.

One call of :func:`stream_maxvol` is one "batch" in the sense of MLIP-3's ``select_add``: MLIP-3 keeps
all rows of the batch and runs one joint MaxVol (§6, memory ≈ 2·rows·m·8 bytes). Here the rows arrive
in chunks into a pool of at most ``max_pool_rows`` rows (MaxVol.add needs B, C = B·Sᵀ and two
temporaries of that size: 4 × pool × m × 8 bytes):

1. Rows not in A are pooled (bitwise-identical rows once, the copy with the lowest label). While the
   whole batch fits, the single MaxVol at the end of the pass is exactly MLIP-3's joint MaxVol (same rows, same greedy order, outgoing rows of A stay candidates and may
   re-enter; :meth:`MaxVol.add` ``inplace``).
2. When the pool overflows, MaxVol runs over it (afterwards every pool row has |c| ≤ τ) and the pool is
   cut to the half with the largest γ — the rows closest to entering — plus every row that was in A at
   the start of the batch and has left it (at most m; they cannot be streamed again).
3. Closure. A swap changes every c by a rank-one term, so a dropped row can rise above τ later. If a
   pass dropped rows before a swap, the batch is streamed again and rows with γ > τ against the current A
   are pooled, until a pass makes no such swap. The rows are read back from a temporary spill file
   (disk, rows × m × 8 bytes, written only for batches that overflow the pool; ``spill=False``
   re-evaluates them instead).

Rows of A with negative labels (the initial ε·e_k rows, MaxVol.UNFILLED / PRESET) are not kept as
candidates once they leave A; give loaded data rows non-negative labels (as eipgs.select does).

Guarantee: at the end no row of the batch, and no row that left A during the batch, has max |c| > τ
against the final A, and every swap increased |det A| by a factor > τ — the MaxVol fixed point that a
joint run reaches. When the batch does not fit, the swap order (greedy over the rows held) can differ
from the joint run's, so a different fixed point can be reached; tests/test_select.py compares both.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from eipgs.mtp.maxvol import MaxVol

__all__ = ["stream_maxvol", "StreamStats", "pool_rows_for_memory"]

RowChunk = tuple[np.ndarray, np.ndarray]  # rows (k, m) float64, labels (k,) int64


@dataclass
class StreamStats:
    rows: int = 0  # rows streamed in the first pass
    swaps: int = 0
    passes: int = 0
    flushes: int = 0
    max_pool: int = 0  # largest pool (rows) held at once


def pool_rows_for_memory(m: int, memory_mb: float) -> int:
    """Pool size whose MaxVol fits ``memory_mb``: during MaxVol.add the pool B, C = B·Sᵀ and two temporaries
    of the same size (|C| for the argmax, the rank-one update) are alive: 4 × pool × m × 8 bytes."""
    return max(m, int(memory_mb * 1024**2 // (4 * m * 8)))


def stream_maxvol(
    mv: MaxVol,
    chunks: Callable[[], Iterable[RowChunk]],
    threshold: float,
    *,
    max_pool_rows: int = 50_000,
    spill: bool = True,
    spill_dir: str | os.PathLike | None = None,
    progress: Callable[[Iterable[RowChunk], str, int | None], Iterator[RowChunk]] | None = None,
    desc: str = "maxvol",
    total_rows: int | None = None,
) -> StreamStats:
    """MaxVol of ``mv`` against every row produced by ``chunks()``.

    Closure passes read the rows back from a temporary spill file (``spill=True``, float64, deleted at the
    end; about rows × m × 8 bytes of disk, written only once the pool overflows) instead of calling
    ``chunks()`` again, which would re-evaluate them.
    """
    if not threshold > 1.0:
        raise ValueError(f"selection threshold must be > 1 (got {threshold}); at 1 identical rows would swap forever")
    max_pool_rows = max(2, int(max_pool_rows))
    m = mv.m
    stats = StreamStats()
    start_labels = mv.labels.copy()  # rows of A now; if pushed out they stay candidates for this batch
    pool_r = np.zeros((0, m))
    pool_l = np.zeros(0, dtype=np.int64)
    pending_r: list[np.ndarray] = []  # rows waiting to join the pool (concatenated once, at a flush)
    pending_l: list[np.ndarray] = []
    wrap = progress or (lambda it, _desc, _total: it)
    spill_file = None
    history: list[RowChunk] = []  # first-pass chunks kept until the pool first overflows (then spilled)

    def pool_size() -> int:
        return len(pool_l) + sum(len(x) for x in pending_l)

    def gather() -> None:
        nonlocal pool_r, pool_l
        if pending_l:
            pool_r = np.ascontiguousarray(np.concatenate([pool_r, *pending_r]), dtype=np.float64)
            pool_l = np.concatenate([pool_l, *pending_l])
            pending_r.clear()
            pending_l.clear()
            # Bitwise-identical rows (identical neighbourhoods) would tie in |C| up to GEMM rounding, so
            # copies from different configurations could both enter; keep the one with the lowest label.
            dup = _duplicates(pool_r, pool_l)
            if dup.any():
                pool_r, pool_l = np.ascontiguousarray(pool_r[~dup]), pool_l[~dup]

    def flush() -> int:
        """One MaxVol over the pool; afterwards every pool row has |c| ≤ τ."""
        nonlocal pool_r, pool_l
        gather()
        if len(pool_l) == 0:
            return 0
        stats.max_pool = max(stats.max_pool, len(pool_l))
        stats.flushes += 1
        swaps = mv.add(pool_r, pool_l, threshold=threshold, inplace=True)
        # Initial ε·e_k rows (negative labels) that left A are not data: they are not kept as candidates.
        data = pool_l >= 0
        if not data.all():
            pool_r, pool_l = pool_r[data], pool_l[data]
        return swaps

    def shrink() -> bool:
        """Drop all but the rows closest to entering (largest γ) and the rows that left A; True if any dropped."""
        nonlocal pool_r, pool_l
        foreign = np.isin(pool_l, start_labels) & ~np.isin(pool_l, mv.labels)
        keep = foreign.copy()
        rest = np.flatnonzero(~foreign)
        room = max_pool_rows // 2 - int(foreign.sum())
        if room > 0 and len(rest):
            g = mv.grades(pool_r[rest])
            keep[rest[np.argsort(-g, kind="stable")[:room]]] = True
        pool_r, pool_l = pool_r[keep], pool_l[keep]
        return not keep.all()

    def write_spill(rows: np.ndarray, labels: np.ndarray) -> None:
        np.asarray(labels, dtype=np.int64).tofile(spill_file)
        np.ascontiguousarray(rows, dtype=np.float64).tofile(spill_file)

    def read_spill() -> Iterator[RowChunk]:
        spill_file.seek(0)
        step = max(1, max_pool_rows // 2)
        for n in spill_sizes:
            for s in range(0, n, step):
                k = min(step, n - s)
                labels = np.fromfile(spill_file, dtype=np.int64, count=k)
                rows = np.fromfile(spill_file, dtype=np.float64, count=k * m).reshape(k, m)
                yield rows, labels

    spill_sizes: list[int] = []
    try:
        while True:
            stats.passes += 1
            dropped = False  # a row was dropped, and a later swap could raise its γ above τ
            need_closure = False
            first = stats.passes == 1
            source = chunks() if (first or not spill) else read_spill()
            for rows, labels in _sliced(wrap(source, f"{desc} (pass {stats.passes})", total_rows), max_pool_rows // 2):
                if first and spill:
                    if spill_file is None:
                        history.append((rows, labels))
                    else:
                        write_spill(rows, labels)
                        spill_sizes.append(len(labels))
                in_pool = np.concatenate([pool_l, *pending_l]) if pending_l else pool_l
                keep = ~np.isin(labels, mv.labels) & ~np.isin(labels, in_pool)
                if first:
                    stats.rows += len(labels)
                else:
                    # Closure passes: only rows that violate the fixed point against the current A.
                    keep &= mv.grades(rows) > threshold
                    dropped |= not keep.all()
                n_keep = int(keep.sum())
                if n_keep and pool_size() + n_keep > max_pool_rows:
                    if first and spill and spill_file is None:
                        # The batch does not fit: from now on its rows go to disk for the closure passes.
                        spill_file = tempfile.TemporaryFile(dir=spill_dir)
                        for r, lab in history:
                            write_spill(r, lab)
                            spill_sizes.append(len(lab))
                        history.clear()
                    swaps = flush()
                    stats.swaps += swaps
                    need_closure |= bool(swaps and dropped)
                    dropped |= shrink()
                if n_keep == len(labels):
                    pending_r.append(rows)  # no copy: shares memory with the spill history
                    pending_l.append(labels)
                elif n_keep:
                    pending_r.append(rows[keep])
                    pending_l.append(labels[keep])
            history.clear()
            swaps = flush()
            stats.swaps += swaps
            need_closure |= bool(swaps and dropped)
            if not need_closure:
                return stats
    finally:
        if spill_file is not None:
            spill_file.close()


def _sliced(chunks: Iterable[RowChunk], size: int) -> Iterator[RowChunk]:
    """Chunks of at most ``size`` rows, so that one chunk never exceeds the pool."""
    for rows, labels in chunks:
        labels = np.asarray(labels, dtype=np.int64)
        for s in range(0, len(labels), size):
            yield rows[s : s + size], labels[s : s + size]


_KEY_MULT: dict[int, np.ndarray] = {}


def _duplicates(rows: np.ndarray, labels: np.ndarray, block: int = 4096) -> np.ndarray:
    """Mask of rows bitwise identical to another row with a lower label (exact; O(p) extra memory)."""
    p, m = rows.shape
    if p < 2:
        return np.zeros(p, dtype=bool)
    if m not in _KEY_MULT:
        _KEY_MULT[m] = np.random.default_rng(12345).integers(1, 2**63, m, dtype=np.uint64) | np.uint64(1)
    bits = rows.view(np.uint64)
    keys = np.empty(p, dtype=np.uint64)
    for s in range(0, p, block):  # a multiplicative hash of the bit patterns, wrapping mod 2^64
        keys[s : s + block] = (bits[s : s + block] * _KEY_MULT[m]).sum(axis=1, dtype=np.uint64)
    order = np.lexsort((labels, keys))  # equal keys together, lowest label first
    same = np.flatnonzero(keys[order[1:]] == keys[order[:-1]])
    dup = np.zeros(p, dtype=bool)
    for s in range(0, len(same), block):  # confirm bit equality with the neighbour in that order
        k = same[s : s + block]
        eq = np.all(bits[order[k + 1]] == bits[order[k]], axis=1)
        dup[order[k + 1][eq]] = True
    return dup

"""Memory-bounded MaxVol over a stream of rows (mtp-grade.md §5, §6): the engine behind
``eipgs select`` and ``eipgs activeset``.

One call of :func:`stream_maxvol` is one "batch" in the sense of MLIP-3's ``select_add``: MLIP-3 keeps
all rows of the batch and runs one joint MaxVol (§6, memory ≈ 2·rows·m·8 bytes). Here the rows arrive
in chunks into a pool of at most ``max_pool_rows`` rows (MaxVol needs B, C = B·Sᵀ and |C|: 3 × pool × m × 8
bytes):

1. Rows not in A are pooled. While the whole batch fits, the single MaxVol at the end of the pass is
   exactly MLIP-3's joint MaxVol (same rows, same greedy order, outgoing rows of A stay candidates and may
   re-enter; :meth:`MaxVol.add` ``inplace``).
2. When the pool overflows, MaxVol runs over it (afterwards every pool row has |c| ≤ τ) and the pool is
   cut to the half with the largest γ — the rows closest to entering — plus every row that was in A at
   the start of the batch and has left it (at most m; they cannot be streamed again).
3. Closure. A swap changes every c by a rank-one term, so a dropped row can rise above τ later. If a
   pass dropped rows before a swap, the batch is streamed again (rows re-evaluated, nothing stored) and
   rows with γ > τ against the current A are pooled, until a pass makes no such swap.

Rows of A with negative labels (the initial ε·e_k rows, MaxVol.UNFILLED / PRESET) are not kept as
candidates once they leave A; give loaded data rows non-negative labels (as eipgs.select does).

Guarantee: at the end no row of the batch, and no row that left A during the batch, has max |c| > τ
against the final A, and every swap increased |det A| by a factor > τ — the MaxVol fixed point that a
joint run reaches. When the batch does not fit, the swap order (greedy over the rows held) can differ
from the joint run's, so a different fixed point can be reached; tests/test_select.py compares both.
"""

from __future__ import annotations

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
    """Pool size whose MaxVol fits ``memory_mb``: B, C = B·Sᵀ and |C| are each pool × m × 8 bytes."""
    return max(m, int(memory_mb * 1024**2 // (3 * m * 8)))


def stream_maxvol(
    mv: MaxVol,
    chunks: Callable[[], Iterable[RowChunk]],
    threshold: float,
    *,
    max_pool_rows: int = 50_000,
    progress: Callable[[Iterable[RowChunk], str], Iterator[RowChunk]] | None = None,
    desc: str = "maxvol",
) -> StreamStats:
    """MaxVol of ``mv`` against every row produced by ``chunks()`` (called once per pass)."""
    if not threshold > 1.0:
        raise ValueError(f"selection threshold must be > 1 (got {threshold}); at 1 identical rows would swap forever")
    max_pool_rows = max(2, int(max_pool_rows))
    m = mv.m
    stats = StreamStats()
    start_labels = mv.labels.copy()  # rows of A now; if pushed out they stay candidates for this batch
    pool_r = np.zeros((0, m))
    pool_l = np.zeros(0, dtype=np.int64)
    wrap = progress or (lambda it, _desc: it)

    def flush() -> int:
        """One MaxVol over the pool; afterwards every pool row has |c| ≤ τ."""
        nonlocal pool_r, pool_l
        if len(pool_l) == 0:
            return 0
        pool_r = np.ascontiguousarray(pool_r, dtype=np.float64)
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

    while True:
        stats.passes += 1
        dropped = False  # a row was dropped, and a later swap could raise its γ above τ
        need_closure = False
        for rows, labels in _sliced(wrap(chunks(), f"{desc} (pass {stats.passes})"), max_pool_rows // 2):
            keep = ~np.isin(labels, mv.labels) & ~np.isin(labels, pool_l)
            if stats.passes == 1:
                stats.rows += len(labels)
            if stats.passes > 1:
                # Closure passes: only rows that violate the fixed point against the current A.
                keep &= mv.grades(rows) > threshold
                dropped |= not keep.all()
            if keep.any():
                pool_r = np.concatenate([pool_r, rows[keep]])
                pool_l = np.concatenate([pool_l, labels[keep]])
            if len(pool_l) > max_pool_rows:
                swaps = flush()
                stats.swaps += swaps
                need_closure |= bool(swaps and dropped)
                dropped |= shrink()
        swaps = flush()
        stats.swaps += swaps
        need_closure |= bool(swaps and dropped)
        if not need_closure:
            return stats


def _sliced(chunks: Iterable[RowChunk], size: int) -> Iterator[RowChunk]:
    """Chunks of at most ``size`` rows, so that one chunk never exceeds the pool."""
    for rows, labels in chunks:
        labels = np.asarray(labels, dtype=np.int64)
        for s in range(0, len(labels), size):
            yield rows[s : s + size], labels[s : s + size]

# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs select` throughput (neighbourhoods/s) and peak memory on a large candidate pool (issue 6).

Usage: python benchmarks/select_pool.py [--pool 1000000] [--memory-mb 512] [--atoms 128] [--reference ../shared/reference]

Potential: W-mlip3-basic.almtp (m = 125); training set: its 52 stored active-set configurations.
Candidates: bcc W 4×4×4 cells (128 atoms) with Gaussian displacements of σ = 0.02 … 0.25 Å and ±3 %
strain, written to one .cfg, --pool neighbourhoods in all. The library call `select()` is timed end to
end (reading, re-grow, candidate MaxVol, re-add, output); the row evaluation alone is timed separately.
Peak memory: the process's max RSS (before and after the select call; the pool is written to disk one
configuration at a time, so setup does not raise it) and, with --trace, the tracemalloc peak of the
call; printed next to pool × m × 8 bytes, what holding every row at once would need.
The timed call uses the wall clock; on a shared machine compare runs made back to back.
"""

from __future__ import annotations


import argparse
import platform
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from ase.build import bulk

from eipgs.io.almtp import read_almtp
from eipgs.io.cfg import write_cfg
from eipgs.mtp import MTPEvaluator, evaluate_configuration
from eipgs.select import select

HERE = Path(__file__).resolve().parent


def write_candidates(path: Path, pool: int, atoms: int, seed: int = 1) -> tuple[int, list]:
    """Write the pool one configuration at a time (the generator's memory does not count); return the
    number of neighbourhoods and a few configurations for timing the row evaluation alone."""
    rng = np.random.default_rng(seed)
    reps = round((atoms / 2) ** (1 / 3))
    base = bulk("W", "bcc", a=3.16485, cubic=True).repeat(reps)
    n, sample = 0, []
    with open(path, "w") as fh:
        for k in range(max(1, pool // len(base))):
            a = base.copy()
            strain = np.eye(3) + np.diag(rng.uniform(-0.03, 0.03, 3))
            a.set_cell(a.cell[:] @ strain, scale_atoms=True)
            a.positions += rng.normal(scale=rng.uniform(0.02, 0.25), size=a.positions.shape)
            a.arrays["type"] = np.zeros(len(a), dtype=int)
            a.info["features"] = {"from": f"bench{k}"}
            write_cfg(fh, a)
            n += len(a)
            if len(sample) < 20:
                sample.append(a)
    return n, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=1_000_000, help="candidate neighbourhoods (default 10^6)")
    parser.add_argument("--atoms", type=int, default=128, help="atoms per candidate configuration")
    parser.add_argument("--memory-mb", type=float, default=512.0)
    parser.add_argument("--trace", action="store_true", help="measure the traced peak with tracemalloc (slows the run)")
    parser.add_argument("--reference", type=Path, default=HERE.parent.parent / "shared" / "reference")
    args = parser.parse_args()
    pot_path = args.reference / "W-mlip3-basic.almtp"
    pot = read_almtp(pot_path)
    m = pot.m
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = tmp / "train.cfg"
        write_cfg(train, pot.active_set.configurations, no_loss=True)
        cand_path = tmp / "cand.cfg"
        n_nbh, sample = write_candidates(cand_path, args.pool, args.atoms)

        ev = MTPEvaluator(pot)
        t0 = time.perf_counter()
        for a in sample:
            evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, np.zeros(len(a), int), grades=False, keep_rows=True)
        eval_rate = sum(len(a) for a in sample) / (time.perf_counter() - t0)
        del sample
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

        peak = float("nan")
        if args.trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        sel = select(pot_path, train, [cand_path], tmp / "sel.cfg", memory_mb=args.memory_mb, progress=False)
        wall = time.perf_counter() - t0
        if args.trace:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    st = sel.stats.get("batch0")
    full = n_nbh * m * 8
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"pool: {len(sel.candidates)} configurations, {n_nbh} neighbourhoods, m = {m}, --memory-mb {args.memory_mb:g}")
    print(f"selected: {sel.n_selected} configurations, {sum(len(v) for v in sel.selected.values())} neighbourhoods")
    for name, s in sel.stats.items():
        print(f"  {name}: rows {s.rows}, swaps {s.swaps}, passes {s.passes}, MaxVol calls {s.flushes}, largest pool {s.max_pool}")
    print(f"select wall time: {wall:.1f} s -> {n_nbh / wall:.0f} neighbourhoods/s (row evaluation alone: {eval_rate:.0f}/s)")
    print(f"max RSS before select {rss0:.0f} MiB, after {rss:.0f} MiB; peak traced (tracemalloc) {peak / 2**20:.1f} MiB")
    print(f"all rows at once: {full / 2**20:.1f} MiB (x2 with C, as MLIP-3: {2 * full / 2**20:.1f} MiB); "
          f"ratio max RSS / (rows×m×8) = {rss * 2**20 / full:.2f}")
    if st is not None:
        print(f"candidate passes: {st.passes} (1 = one joint MaxVol, as MLIP-3)")


if __name__ == "__main__":
    main()

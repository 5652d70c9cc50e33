"""`eipgs select` throughput (neighbourhoods/s) and peak memory on a large candidate pool (issue 6).

Usage: python benchmarks/select.py [--pool 1000000] [--memory-mb 512] [--atoms 128] [--reference ../shared/reference]

Potential: W-mlip3-basic.almtp (m = 125); training set: its 52 stored active-set configurations.
Candidates: bcc W 4×4×4 cells (128 atoms) with Gaussian displacements of σ = 0.02 … 0.25 Å and ±3 %
strain, written to one .cfg, --pool neighbourhoods in all. The library call `select()` is timed end to
end (reading, re-grow, candidate MaxVol, re-add, output); the row evaluation alone is timed separately.
Peak memory: tracemalloc peak (Python and NumPy allocations) of the select call, and the process's
max RSS; printed next to pool × m × 8 bytes, what holding every row at once would need.
"""

from __future__ import annotations

import os
import sys

# This file is named like the stdlib module `select`; drop its folder from the import path first.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from ase.build import bulk  # noqa: E402

from eipgs.io.almtp import read_almtp  # noqa: E402
from eipgs.io.cfg import write_cfg  # noqa: E402
from eipgs.mtp import MTPEvaluator, evaluate_configuration  # noqa: E402
from eipgs.select import select  # noqa: E402

HERE = Path(__file__).resolve().parent


def candidates(pool: int, atoms: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    reps = round((atoms / 2) ** (1 / 3))
    base = bulk("W", "bcc", a=3.16485, cubic=True).repeat(reps)
    out = []
    for k in range(max(1, pool // len(base))):
        a = base.copy()
        strain = np.eye(3) + np.diag(rng.uniform(-0.03, 0.03, 3))
        a.set_cell(a.cell[:] @ strain, scale_atoms=True)
        a.positions += rng.normal(scale=rng.uniform(0.02, 0.25), size=a.positions.shape)
        a.arrays["type"] = np.zeros(len(a), dtype=int)
        a.info["features"] = {"from": f"bench{k}"}
        out.append(a)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pool", type=int, default=1_000_000, help="candidate neighbourhoods (default 10^6)")
    parser.add_argument("--atoms", type=int, default=128, help="atoms per candidate configuration")
    parser.add_argument("--memory-mb", type=float, default=512.0)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc run (max RSS only)")
    parser.add_argument("--reference", type=Path, default=HERE.parent.parent / "shared" / "reference")
    args = parser.parse_args()
    pot_path = args.reference / "W-mlip3-basic.almtp"
    pot = read_almtp(pot_path)
    m = pot.m
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        train = tmp / "train.cfg"
        write_cfg(train, pot.active_set.configurations, no_loss=True)
        cands = candidates(args.pool, args.atoms)
        n_nbh = sum(len(a) for a in cands)
        cand_path = tmp / "cand.cfg"
        write_cfg(cand_path, cands)

        ev = MTPEvaluator(pot)
        sub = cands[: max(1, len(cands) // 20)]
        t0 = time.perf_counter()
        for a in sub:
            evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, np.zeros(len(a), int), grades=False, keep_rows=True)
        eval_rate = sum(len(a) for a in sub) / (time.perf_counter() - t0)
        del cands

        # Timed without tracemalloc (it slows the many small allocations down), then measured with it.
        t0 = time.perf_counter()
        sel = select(pot_path, train, [cand_path], tmp / "sel.cfg", memory_mb=args.memory_mb, progress=False)
        wall = time.perf_counter() - t0
        peak = float("nan")
        if not args.no_trace:
            tracemalloc.start()
            select(pot_path, train, [cand_path], tmp / "sel2.cfg", memory_mb=args.memory_mb, progress=False)
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
    print(f"peak traced memory: {peak / 2**20:.1f} MiB; max RSS {rss:.0f} MiB; all rows at once would be {full / 2**20:.1f} MiB "
          f"(x2 with C: {2 * full / 2**20:.1f} MiB); ratio peak / (rows×m×8) = {peak / full:.2f}")
    if st is not None:
        print(f"candidate passes: {st.passes} (1 = one joint MaxVol, as MLIP-3)")


if __name__ == "__main__":
    main()

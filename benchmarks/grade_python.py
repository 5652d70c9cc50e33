# SPDX-License-Identifier: GPL-2.0-only
"""Python grade throughput (atoms/s) of the NumPy MTP evaluator (issue 3, performance item d).

Usage: python benchmarks/grade_python.py [--repeat 5] [--reference DIR]

Grades the v1.data W system (1024 atoms, W-mlip3-basic.almtp, level 16, m = 125) and prints, for the
best of --repeat runs: the neighbour list, the rows b_i + GEMM, the whole library call and the whole
`eipgs grade` path (file reading and .cfg writing included), each as atoms per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


from eipgs.grade import grade
from eipgs.io.almtp import read_almtp
from eipgs.io.lammps import read_lammps_data
from eipgs.mtp import MTPEvaluator, evaluate_configuration, neighbour_pairs



CPU_TIMES: dict[str, float] = {}


def best_of(repeat: int, fn, name: str = "") -> float:
    """Best wall time of ``repeat`` runs; the best CPU time of this process goes to CPU_TIMES[name]
    (on a shared machine the CPU time is the steadier number)."""
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    CPU_TIMES[name] = min(cpus)
    return min(walls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", type=Path, default=None,
                        help="reference folder (default: $EIPGS_REFERENCE_DIR, else ../shared/reference; generated inputs where absent)")
    args = parser.parse_args()
    from _inputs import w_potentials, w_structure

    inputs = tempfile.TemporaryDirectory()
    _, pot_path = w_potentials(args.reference, Path(inputs.name))
    data_path = w_structure(args.reference, Path(inputs.name))
    pot = read_almtp(pot_path)
    atoms = read_lammps_data(data_path)
    n = len(atoms)
    species = atoms.arrays["type"] - 1
    ev = MTPEvaluator(pot)

    t_nl = best_of(args.repeat, lambda: neighbour_pairs(atoms.positions, atoms.cell[:], atoms.pbc, pot.max_dist), "nl")
    t_lib = best_of(args.repeat, lambda: evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species), "lib")
    t_energy = best_of(
        args.repeat,
        lambda: evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species, grades=False),
        "energy",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "graded.cfg"
        t_cli = best_of(args.repeat, lambda: grade(pot_path, data_path, out, progress=False), "cli")

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"system: {data_path.name}, {n} atoms, {pot_path.name} (m = {pot.m}); best of {args.repeat}")
    print(f"{'':28s} {'wall':>9s} {'atoms/s':>10s} {'CPU':>9s} {'atoms/s':>10s}")
    for label, wall, key in (
        ("neighbour list", t_nl, "nl"),
        ("site energies only", t_energy, "energy"),
        ("grades (library call)", t_lib, "lib"),
        ("eipgs grade (file to file)", t_cli, "cli"),
    ):
        cpu = CPU_TIMES[key]
        print(f"{label:28s} {wall * 1e3:6.1f} ms {n / wall:10.0f} {cpu * 1e3:6.1f} ms {n / cpu:10.0f}")
    print(f"per graded atom: {t_lib / n * 1e6:.1f} us wall, {CPU_TIMES['lib'] / n * 1e6:.1f} us CPU")


if __name__ == "__main__":
    main()

"""Python grade throughput (atoms/s) of the NumPy MTP evaluator (issue 3, performance item d).

Usage: python benchmarks/grade_python.py [--repeat 5] [--reference ../shared/reference]

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

HERE = Path(__file__).resolve().parent


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference", type=Path, default=HERE.parent.parent / "shared" / "reference")
    args = parser.parse_args()
    pot_path = args.reference / "W-mlip3-basic.almtp"
    data_path = args.reference / "grades" / "v1.data"
    pot = read_almtp(pot_path)
    atoms = read_lammps_data(data_path)
    n = len(atoms)
    species = atoms.arrays["type"] - 1
    ev = MTPEvaluator(pot)

    t_nl = best_of(args.repeat, lambda: neighbour_pairs(atoms.positions, atoms.cell[:], atoms.pbc, pot.max_dist))
    t_lib = best_of(args.repeat, lambda: evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species))
    t_energy = best_of(
        args.repeat, lambda: evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species, grades=False)
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "graded.cfg"
        t_cli = best_of(args.repeat, lambda: grade(pot_path, data_path, out, progress=False))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"system: {data_path.name}, {n} atoms, {pot_path.name} (m = {pot.m}); best of {args.repeat}")
    print(f"neighbour list              {t_nl * 1e3:8.1f} ms  {n / t_nl:10.0f} atoms/s")
    print(f"site energies only          {t_energy * 1e3:8.1f} ms  {n / t_energy:10.0f} atoms/s")
    print(f"grades (library call)       {t_lib * 1e3:8.1f} ms  {n / t_lib:10.0f} atoms/s")
    print(f"eipgs grade (file to file)  {t_cli * 1e3:8.1f} ms  {n / t_cli:10.0f} atoms/s")
    print(f"per graded atom             {t_lib / n * 1e6:8.1f} us")


if __name__ == "__main__":
    main()

"""Cost and output size of fix cluster/sample on top of fix mtp/grade.

One script, three LAMMPS runs of the same W slab trajectory (Zhou EAM, free (001) surfaces, a
vacancy; identical seeds), all with fix mtp/grade every N steps:

  grade          EAM + mtp/grade
  grade+sample   EAM + mtp/grade + cluster/sample (update_active yes, radius 8 Å)
  grade+dump     EAM + mtp/grade + dump custom of full frames (id type x y z f_grade) on the same steps

Printed: the wall-time overhead of cluster/sample relative to the grade run (ratio), the time
cluster/sample reports for itself, and the bytes of the cluster file against the full-frame dump.

    .venv/bin/python benchmarks/sample.py --ncell 16 --steps 400 --every 50
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def deck(args, eam: Path, almtp: Path, extra: str) -> list[str]:
    n = args.ncell
    return f"""
units metal
boundary p p p
atom_style atomic
lattice bcc 3.16485
region box block 0 {n} 0 {n} 0 {n + 4}
region crystal block 0 {n} 0 {n} 0 {n}
create_box 1 box
create_atoms 1 region crystal
mass 1 183.84
region vac sphere {n / 2} {n / 2} {n / 2} 0.1 units lattice
delete_atoms region vac
pair_style eam/alloy
pair_coeff * * {eam} W
neighbor 1.0 bin
comm_modify cutoff {args.radius + 1.0}
velocity all create 1600 8264 mom yes rot yes dist gaussian loop geom
fix md all nvt temp 800 800 0.1
timestep 0.001
fix grade all mtp/grade {args.every} {almtp} select {args.select}
{extra}
thermo {args.every}
""".strip().splitlines()


def timed_run(args, eam, almtp, extra, workdir: Path, log: Path) -> tuple[float, int]:
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps(log=str(log))
    try:
        cwd = os.getcwd()
        os.chdir(workdir)
        try:
            run(lmp, deck(args, eam, almtp, extra))
            natoms = int(lmp.get_natoms())
            run(lmp, "run 0")    # setup (neighbour lists, first grade) outside the timing
            t0 = time.perf_counter()
            run(lmp, f"run {args.steps}")
            return time.perf_counter() - t0, natoms
        finally:
            os.chdir(cwd)
    finally:
        lmp.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ncell", type=int, default=16, help="bcc cells per slab edge (2 ncell^3 atoms)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--every", type=int, default=50, help="N of mtp/grade, cluster/sample and the dump")
    ap.add_argument("--radius", type=float, default=8.0)
    ap.add_argument("--select", type=float, default=2.0)
    ap.add_argument("--per-step", type=int, default=50)
    ap.add_argument("--eam", type=Path, default=SHARED / "W_Zhou04.eam.alloy")
    ap.add_argument("--almtp", type=Path, default=SHARED / "W-mlip3-basic.almtp")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sample = (
            f"fix sample all cluster/sample {args.every} f_grade {args.select} {args.radius} clusters.extxyz "
            f"max_per_step {args.per_step} update_active yes"
        )
        dump = f"dump full all custom {args.every} full.dump id type x y z f_grade"
        t_grade, natoms = timed_run(args, args.eam, args.almtp, "", work, work / "log.grade")
        t_sample, _ = timed_run(args, args.eam, args.almtp, sample, work, work / "log.sample")
        t_dump, _ = timed_run(args, args.eam, args.almtp, dump, work, work / "log.dump")
        log = (work / "log.sample").read_text()
        summaries = re.findall(r"Fix cluster/sample sample: (\d+) clusters written in (\d+) sampling steps.*?([\d.]+) s spent", log)
        written, nsteps, t_self = summaries[-1]
        cand = re.findall(r"^\s*\d+\s.*$", log, flags=re.M)
        bytes_clusters = (work / "clusters.extxyz").stat().st_size
        bytes_dump = (work / "full.dump").stat().st_size

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 MPI rank")
    print(f"W slab {natoms} atoms, {args.steps} MD steps, grade + sample every {args.every} steps, radius {args.radius} Å")
    print(f"wall time  grade only      {t_grade:8.3f} s")
    print(f"wall time  grade + sample  {t_sample:8.3f} s   ratio {t_sample / t_grade:.3f}")
    print(f"wall time  grade + dump    {t_dump:8.3f} s   ratio {t_dump / t_grade:.3f}")
    print(f"cluster/sample own time    {float(t_self):8.3f} s   = {float(t_self) / t_grade:.4f} of the grade run")
    print(f"clusters written           {written} in {nsteps} sampling steps (update_active yes)")
    print(f"bytes  clusters.extxyz     {bytes_clusters:12d}")
    print(f"bytes  full-frame dump     {bytes_dump:12d}   ratio dump/clusters {bytes_dump / max(bytes_clusters, 1):.1f}")


if __name__ == "__main__":
    main()

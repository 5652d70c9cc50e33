# SPDX-License-Identifier: GPL-2.0-only
"""Cost and output size of fix cluster/sample on top of fix mtp/grade.

Three LAMMPS runs of the same W slab trajectory (Zhou EAM, two free (001) surfaces, a vacancy,
800 K; identical seeds), all with fix mtp/grade every N steps:

  dedup      + cluster/sample, update_active yes (live MaxVol deduplication, regrade after swaps)
  plain      + cluster/sample, update_active no (max_per_step clusters every sampling step)
  dump       + dump custom of full frames (id type x y z f_grade) on the same steps

The overhead is the ratio of the wall time each fix reports for itself in its end-of-run summary
line, **in the same run** (so it is insensitive to other jobs on the machine):
    cluster/sample time / mtp/grade time,
with the regrade that update_active triggers after swaps counted separately (it is one more
grading pass, done by fix mtp/grade but on behalf of cluster/sample). Bytes: cluster file vs the
full-frame dump of the same steps.

    .venv/bin/python benchmarks/sample.py --ncell 16 --steps 400 --every 50
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import tempfile
from pathlib import Path


GRADE_LINE = re.compile(r"Fix mtp/grade grade: (\d+) evaluations.*?; ([\d.]+) s on rank 0")
SAMPLE_LINE = re.compile(
    r"Fix cluster/sample sample: (\d+) clusters written in (\d+) sampling steps.*?([\d.]+) s spent sampling "
    r"on rank 0 \(([\d.]+) s of it regrading"
)


def deck(args, extra: str) -> list[str]:
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
pair_coeff * * {args.eam} W
neighbor 1.0 bin
comm_modify cutoff {args.radius + 1.0}
velocity all create 1600 8264 mom yes rot yes dist gaussian loop geom
fix md all nvt temp 800 800 0.1
timestep 0.001
fix grade all mtp/grade {args.every} {args.almtp} select {args.select}
{extra}
thermo {args.every}
run {args.steps}
""".strip().splitlines()


def one_run(args, extra: str, workdir: Path, name: str) -> tuple[str, int]:
    from eipgs.lmp import create_lammps, run

    log = workdir / f"log.{name}"
    lmp = create_lammps(log=str(log))
    cwd = os.getcwd()
    try:
        os.chdir(workdir)
        run(lmp, deck(args, extra))
        natoms = int(lmp.get_natoms())
    finally:
        os.chdir(cwd)
        lmp.close()
    return log.read_text(), natoms


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ncell", type=int, default=16, help="bcc cells per slab edge (about 2 ncell^3 atoms)")
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--every", type=int, default=50, help="N of mtp/grade, cluster/sample and the dump")
    ap.add_argument("--radius", type=float, default=8.0)
    ap.add_argument("--select", type=float, default=2.0)
    ap.add_argument("--per-step", type=int, default=50)
    ap.add_argument("--eam", type=Path, default=None, help="W setfl file (default: the reference one, else generated)")
    ap.add_argument("--almtp", type=Path, default=None, help="W .almtp (default: the reference one, else a bootstrap MTP)")
    args = ap.parse_args()

    base = f"fix sample all cluster/sample {args.every} f_grade {args.select} {args.radius} {{}} max_per_step {args.per_step}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.eam is None or args.almtp is None:
            from _inputs import w_potentials

            eam, almtp = w_potentials(None, work)
            args.eam, args.almtp = args.eam or eam, args.almtp or almtp
        rows = {}
        for name, extra in (
            ("dedup", base.format("dedup.extxyz") + " update_active yes"),
            ("plain", base.format("plain.extxyz")),
        ):
            log, natoms = one_run(args, extra, work, name)
            g = GRADE_LINE.findall(log)[-1]
            s = SAMPLE_LINE.findall(log)[-1]
            rows[name] = dict(
                grade_s=float(g[1]), evals=int(g[0]), written=int(s[0]), steps=int(s[1]),
                sample_s=float(s[2]), regrade_s=float(s[3]), bytes=(work / f"{name}.extxyz").stat().st_size,
            )
        log, _ = one_run(args, f"dump full all custom {args.every} full.dump id type x y z f_grade", work, "dump")
        bytes_dump = (work / "full.dump").stat().st_size

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, 1 MPI rank")
    print(f"W slab {natoms} atoms (two free surfaces, one vacancy), 800 K, {args.steps} steps; "
          f"mtp/grade + cluster/sample every {args.every} steps, radius {args.radius} Å, select {args.select}")
    print("run     clusters  mtp/grade s  cluster/sample s (regrade s)  ratio sample/grade  ratio incl. regrade  bytes")
    for name, r in rows.items():
        grading = r["grade_s"] - r["regrade_s"]    # mtp/grade's own evaluations, without the regrades
        own = r["sample_s"] - r["regrade_s"]
        print(f"{name:7s} {r['written']:8d}  {grading:11.3f}  {own:16.3f} ({r['regrade_s']:.3f})"
              f"  {own / grading:18.4f}  {r['sample_s'] / grading:19.4f}  {r['bytes']}")
    if rows["dedup"]["bytes"] == 0 or rows["plain"]["bytes"] == 0:
        print(f"full-frame dump of the same {rows['plain']['steps']} steps: {bytes_dump} bytes; no cluster was "
              f"written (no grade above {args.select}): use a larger --ncell or more --steps")
        return
    print(f"full-frame dump of the same {rows['plain']['steps']} steps: {bytes_dump} bytes = "
          f"{bytes_dump / rows['dedup']['bytes']:.0f}x the deduplicated clusters, "
          f"{bytes_dump / rows['plain']['bytes']:.1f}x the clusters without dedup")


if __name__ == "__main__":
    main()

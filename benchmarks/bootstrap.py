# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs bootstrap` wall and CPU time per stage for several template levels (one run, one machine).

Usage: python benchmarks/bootstrap.py [--levels 10 16 20] [--elements W] [--structures 3]

Stages: template generation (incl. the numerical independence filter), EAM basic training set
(LAMMPS library, serial), linear fit, active set (MaxVol over every training atom). Also prints the
grade of the training atoms (must be ≤ 1.001) and the template sizes.
"""

from __future__ import annotations

import os

import argparse
import platform
import tempfile
import time
from pathlib import Path

from eipgs.bootstrap import bootstrap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[10, 16, 20])
    ap.add_argument("--elements", nargs="+", default=["W"])
    ap.add_argument("--structures", type=int, default=3)
    args = ap.parse_args()
    print(f"{platform.node()} {platform.processor() or platform.machine()} cpus={os.cpu_count()}")
    print("level      m  filled  atoms  template  eam_set    fit  active_set  total_wall  total_cpu  rmse_site(meV)")
    with tempfile.TemporaryDirectory() as tmp:
        for level in args.levels:
            cpu0 = time.process_time()
            r = bootstrap(args.elements, Path(tmp) / f"l{level}.almtp", level=level, structures=args.structures)
            cpu = time.process_time() - cpu0
            t = r.timings
            print(
                f"{level:5d}  {r.m:5d}  {r.n_filled:6d}  {r.n_atoms:5d}  {t['template']:8.2f}  {t['eam_training_set']:7.2f}"
                f"  {t['fit']:5.2f}  {t['active_set']:10.2f}  {t['total']:10.2f}  {cpu:9.2f}  {1000 * r.rmse_site_energy:14.1f}"
            )


if __name__ == "__main__":
    main()

"""The ``eipgs`` command line: argument parsing only.

Each subcommand is added by one ``_add_<name>`` function and calls a library function of the
same name; heavy imports happen inside the handlers so ``eipgs --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Sequence


def _cmd_plugin_path(args: argparse.Namespace) -> int:
    from eipgs.lmp import get_plugin_path

    print(get_plugin_path())
    return 0


def _add_plugin_path(sub) -> None:
    p = sub.add_parser("plugin-path", help="print the absolute path of eipgsplugin.so (for `plugin load`)")
    p.set_defaults(func=_cmd_plugin_path)


def _cmd_info(args: argparse.Namespace) -> int:
    from eipgs import __version__
    from eipgs.lmp import lammps_info

    info = lammps_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"eipgs {__version__}")
    print(f"LAMMPS version: {info['lammps_version']} (MPI support: {info['mpi']})")
    print(f"LAMMPS packages: {' '.join(info['lammps_packages'])}")
    print(f"plugin: {info['plugin_path']} (built for LAMMPS '{info['plugin_built_for']}')")
    print("plugin styles:")
    for category, name in info["plugin_styles"]:
        print(f"  {category} {name}")
    return 0


def _add_info(sub) -> None:
    p = sub.add_parser("info", help="LAMMPS version and packages, plugin path, the plugin's styles")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_info)


def _cmd_demo(args: argparse.Namespace) -> int:
    from eipgs.demo import demo

    demo(Path(args.outdir))
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default system (what `make demo` runs)")
    p.add_argument("-o", "--outdir", default="demo_output", help="output folder (default: demo_output)")
    p.set_defaults(func=_cmd_demo)


def _cmd_grade(args: argparse.Namespace) -> int:
    import numpy as np

    from eipgs.grade import grade

    configs = grade(
        args.potential,
        args.input,
        args.output,
        species=args.species,
        elements=args.elements,
        fmt=args.format,
        progress=not args.quiet,
    )
    grades = np.concatenate([c.arrays["nbh_grades"] for c in configs]) if configs else np.zeros(0)
    n_atoms = sum(len(c) for c in configs)
    top = float(grades.max()) if len(grades) else 0.0
    print(
        f"graded {len(configs)} configuration(s), {n_atoms} atoms: max grade {top:.5f}, "
        f"{int((grades > args.select).sum())} atoms > {args.select:g}; wrote {args.output}"
    )
    return 0


def _add_grade(sub) -> None:
    p = sub.add_parser(
        "grade",
        help="MLIP-3 extrapolation grades of every atom (like `mlp calculate_grade`), written to a .cfg",
        description="Compute per-atom MLIP-3 extrapolation grades with a neighbourhood-mode .almtp and write "
        "a .cfg with the nbh_grades column and the MV_grade feature. Input: .cfg, extended XYZ, LAMMPS data "
        "(atom_style atomic) or LAMMPS text dump.",
    )
    p.add_argument("potential", help="MTP with active set (.almtp, neighbourhood mode)")
    p.add_argument("input", help="configurations: .cfg, .extxyz/.xyz, LAMMPS .data/.lmp, LAMMPS .dump/.lammpstrj")
    p.add_argument("-o", "--output", required=True, help="output .cfg with nbh_grades and MV_grade")
    p.add_argument(
        "--species",
        nargs="+",
        metavar="S",
        help="MTP species index (0-based) or NULL for each input type: LAMMPS types 1..N, or cfg types 0.. "
        "(default: LAMMPS type t -> t-1; cfg type t -> position of t among the potential's species labels)",
    )
    p.add_argument("--elements", nargs="+", metavar="EL", help="chemical symbol of each type (cfg type order / LAMMPS types 1..N)")
    p.add_argument("--format", choices=["cfg", "extxyz", "lammps-data", "lammps-dump"], help="input format (default: from the extension)")
    p.add_argument("--select", type=float, default=2.0, help="report atoms above this grade (default 2.0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_grade)


SUBCOMMANDS: list[Callable] = [_add_plugin_path, _add_info, _add_demo, _add_grade]


def build_parser() -> argparse.ArgumentParser:
    from eipgs import __version__

    parser = argparse.ArgumentParser(
        prog="eipgs",
        description="EIP-guided sampling: live MLIP-3 grades in LAMMPS, clusters, periodic cells, DFT and training sets.",
    )
    parser.add_argument("--version", action="version", version=f"eipgs {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"eipgs {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

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


def _cmd_potential_zhou04(args: argparse.Namespace) -> int:
    from eipgs.potentials.zhou04 import eam_filename, write_eam_alloy

    output = Path(args.output) if args.output else Path(eam_filename(args.elements))
    path = write_eam_alloy(args.elements, output, nr=args.nr, nrho=args.nrho)
    print(f"wrote {path} (Zhou 2004 EAM, eam/alloy) for {' '.join(args.elements)}")
    print(f"LAMMPS: pair_style eam/alloy; pair_coeff * * {path} {' '.join(args.elements)}")
    return 0


def _add_potential(sub) -> None:
    p = sub.add_parser("potential", help="write classical potential files (Zhou 2004 EAM)")
    potentials = p.add_subparsers(dest="potential", metavar="POTENTIAL")
    potentials.required = True
    z = potentials.add_parser(
        "zhou04",
        help="eam/alloy file of the Zhou, Johnson & Wadley 2004 EAM for one element or an alloy",
        description="Tabulate the Zhou-Johnson-Wadley 2004 EAM (Phys. Rev. B 69, 144113) as a LAMMPS eam/alloy "
        "(setfl) file, as the NIST Zhou04_create_v2 tool does. Elements: Cu Ag Au Ni Pd Pt Al Pb Fe Mo Ta W Mg Co "
        "Ti Zr, plus Cr (Lin et al. 2008).",
    )
    z.add_argument("elements", nargs="+", metavar="ELEMENT", help="chemical symbols, in LAMMPS pair_coeff order")
    z.add_argument("-o", "--output", help="output file (default: <El1><El2>..._Zhou04.eam.alloy)")
    z.add_argument("--nr", type=int, default=2000, help="points of the r grid (default 2000)")
    z.add_argument("--nrho", type=int, default=2000, help="points of the density grid (default 2000)")
    z.set_defaults(func=_cmd_potential_zhou04)


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


def _cmd_select(args: argparse.Namespace) -> int:
    from eipgs.select import select

    sel = select(
        args.potential,
        args.train,
        args.candidates,
        args.output,
        threshold=args.threshold,
        batch_size=args.batch_size,
        memory_mb=args.memory_mb,
        nbh=args.nbh,
        cutoff=args.cutoff,
        write_almtp_path=args.write_almtp,
        spill_dir=args.tmpdir,
        progress=not args.quiet,
    )
    n_nbh = sum(len(v) for v in sel.selected.values())
    what = f"{n_nbh} neighbourhood cluster(s)" if args.nbh else f"{sel.n_selected} configuration(s)"
    print(
        f"selected {sel.n_selected} of {len(sel.candidates)} candidate configuration(s) ({n_nbh} neighbourhoods in "
        f"the active set); training set was increased by {sel.n_selected} configurations; wrote {what} to {args.output}"
        + (f"; active set to {args.write_almtp}" if args.write_almtp else "")
    )
    return 0


def _add_select(sub) -> None:
    p = sub.add_parser(
        "select",
        help="D-optimal (MaxVol) selection of new training configurations, like `mlp select_add`",
        description="Re-grow the active set of POTENTIAL from TRAIN (tau 1.001), run MaxVol over the candidate "
        "neighbourhoods (tau --threshold, per batch), re-add TRAIN, and write the candidates that own a row "
        "of the final active set (with Feature selected_eqn_inds), or with --nbh every selected neighbourhood "
        "as a non-periodic cluster. See doc/cli_select.md.",
    )
    p.add_argument("potential", help="MTP with a neighbourhood-mode active set (.almtp)")
    p.add_argument("train", help="training set (.cfg) the potential was fitted to")
    p.add_argument("candidates", nargs="+", help="candidate configurations (.cfg), e.g. preselected/graded files")
    p.add_argument("-o", "--output", required=True, help="output .cfg of selected configurations (or clusters)")
    p.add_argument("--threshold", type=float, default=1.001, help="MaxVol threshold for candidates (default 1.001)")
    p.add_argument("--batch-size", type=int, default=9999, help="candidate configurations per joint MaxVol (default 9999, as MLIP-3)")
    p.add_argument("--memory-mb", type=float, default=512.0, help="bound on the rows held for one MaxVol (default 512 MB)")
    p.add_argument("--nbh", action="store_true", help="write every selected neighbourhood as a cluster (centre first at the origin)")
    p.add_argument("--cutoff", type=float, default=8.0, help="cluster radius for --nbh, r < cutoff (default 8 Å)")
    p.add_argument("--write-almtp", metavar="OUT.almtp", help="also write the potential with the updated active set")
    p.add_argument("--tmpdir", help="folder for the temporary spill file of batches larger than --memory-mb (default: system temp)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_select)


def _cmd_activeset(args: argparse.Namespace) -> int:
    from eipgs.activeset import activeset

    pot, stats = activeset(args.potential, args.train, args.output, rows=args.rows, memory_mb=args.memory_mb, progress=not args.quiet)
    aset = pot.active_set
    unfilled = int((aset.links[:, 0] < 0).sum())
    print(
        f"active set of m = {aset.m} rows from {stats.rows} neighbourhoods ({stats.swaps} swaps): {aset.m - unfilled} "
        f"filled, {unfilled} unfilled, {len(aset.configurations)} configurations; max|A·Sᵀ − I| = "
        f"{aset.inverse_error():.1e}; wrote {args.output}"
    )
    return 0


def _add_activeset(sub) -> None:
    p = sub.add_parser(
        "activeset",
        help="build the #MVS_v1.1 active set (neighbourhood mode) of an MTP on a training set and write an .almtp",
        description="A from 1e-6*I, MaxVol at tau 1.001 over one row per atom of every training configuration, as "
        "MLIP-3 does after training. POTENTIAL may be a plain .mtp or an .almtp (its active set is replaced). "
        "See doc/cli_activeset.md.",
    )
    p.add_argument("potential", help="trained MTP (.mtp or .almtp)")
    p.add_argument("train", help="training set (.cfg)")
    p.add_argument("-o", "--output", required=True, help="output .almtp")
    p.add_argument(
        "--rows",
        choices=["all", "selected"],
        default="all",
        help="all: every atom (MLIP-3); selected: only the rows named by a configuration's selected_eqn_inds feature "
        "(reconstructs a stored active set from its own configurations)",
    )
    p.add_argument("--memory-mb", type=float, default=512.0, help="bound on the rows held for one MaxVol (default 512 MB)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_activeset)


SUBCOMMANDS: list[Callable] = [_add_plugin_path, _add_info, _add_demo, _add_potential, _add_grade, _add_select, _add_activeset]


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

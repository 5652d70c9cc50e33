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


def _float_list(text: str) -> tuple[float, ...]:
    """"1,2,3" or a range "1:10:0.5" (start:stop:step, stop included)."""
    try:
        if ":" in text:
            start, stop, step = (float(v) for v in text.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            return tuple(round(start + k * step, 6) for k in range(int((stop - start) / step + 0.5) + 1))
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers or start:stop:step") from None


def _cmd_pcc(args: argparse.Namespace) -> int:
    from eipgs.pcc import FillSettings, PccSettings, pcc

    fill = FillSettings(
        temperature=args.temperature, mu=args.mu, cutoff=args.cutoff, overlap=args.overlap,
        max_atoms=args.max_atoms, saturate=args.saturate, cycles=args.cycles,
    )
    settings = PccSettings(
        core_radius=args.core_radius, margins=args.margins, aspect=args.aspect, repeats=args.repeats,
        seed=args.seed, potential=Path(args.potential) if args.potential else None,
        insert_element=args.element, cfg_elements=tuple(args.cfg_elements or ()), jobs=args.jobs, fill=fill,
    )
    rows = pcc(args.clusters, args.outdir, settings, progress=not args.quiet)
    ok = sum(1 for r in rows if r["status"] == "ok")
    print(f"{ok}/{len(rows)} clusters reconstructed; cells and summary.csv in {args.outdir}")
    return 0 if ok == len(rows) else 2


def _add_pcc(sub) -> None:
    p = sub.add_parser(
        "pcc",
        help="rebuild clusters into periodic cells (fix gcmc/pcc + relaxation over a grid of boxes)",
        description="Each cluster is trimmed to its core sphere around the centre atom, placed at the centre of "
        "a box (core extent + margin), filled by grand-canonical Monte Carlo with fix gcmc/pcc, relaxed with the "
        "core frozen, and the lowest-energy valid cell over the grid of boxes is kept.",
    )
    p.add_argument("clusters", help="clusters file (.extxyz from fix cluster/sample, or MLIP .cfg)")
    p.add_argument("-o", "--outdir", required=True, help="output folder (cells, summary.csv, boxes.csv, plots)")
    p.add_argument("--core-radius", type=float, default=6.0, help="frozen core sphere around the centre (Å, default 6.0)")
    p.add_argument("--cutoff", type=float, default=5.0, help="protected sphere = MLIP cutoff (Å, default 5.0)")
    p.add_argument("--margins", type=_float_list, default="1:10:0.5",
                   help="box enlargements beyond the core extent per axis (Å): '2,2.5,3' or 'start:stop:step' "
                   "(default 1:10:0.5; boxes that cannot stay under the cap are skipped)")
    p.add_argument("--aspect", choices=["cubic", "axes", "full"], default="cubic",
                   help="grid shape: equal margins (cubic), plus one longer axis (axes), or all combinations (full)")
    p.add_argument("--repeats", type=int, default=3, help="independent fills (seeds) per box (default 3)")
    p.add_argument("--max-atoms", type=int, default=140, help="atom cap of a valid cell (default 140)")
    p.add_argument("--potential", help="EAM file (.eam.alloy/.eam.fs); default: generated Zhou 2004 EAM")
    p.add_argument("--element", help="inserted element (default: the most common core element)")
    p.add_argument("--cfg-elements", nargs="+", metavar="ELEMENT", help="elements of the .cfg types 0, 1, ... (cfg input only)")
    p.add_argument("--temperature", type=float, default=100.0, help="GCMC temperature (K, default 100)")
    p.add_argument("--mu", type=float, default=0.1, help="GCMC chemical potential (eV, default 0.1)")
    p.add_argument("--overlap", type=float, default=2.2, help="hard-core distance for insertions (Å, default 2.2)")
    p.add_argument("--saturate", type=int, default=100, help="rejected insertions in a row that end a fill (default 100)")
    p.add_argument("--cycles", type=int, default=6, help="at most this many [fill, minimize] cycles per box (default 6)")
    p.add_argument("--seed", type=int, default=1, help="base random seed (each cluster/box/repeat derives its own)")
    p.add_argument("-j", "--jobs", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_pcc)


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


SUBCOMMANDS: list[Callable] = [_add_plugin_path, _add_info, _add_demo, _add_potential]
SUBCOMMANDS.append(_add_pcc)


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

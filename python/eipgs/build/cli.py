# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs build polycrystal|slab|dislocation|crack``: argument parsing, LAMMPS data output."""

from __future__ import annotations

import argparse
from pathlib import Path


def _write(atoms, path: str, element: str) -> None:
    from eipgs.io.lammps import write_lammps_data

    types = atoms.arrays.get("type")
    ntypes = int(types.max()) if types is not None else 1
    clean = atoms.copy()
    for name in ("reference", "grain"):
        clean.arrays.pop(name, None)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_lammps_data(path, clean, elements=[element] * ntypes if ntypes > 1 else [element], ntypes=ntypes)


def _describe(atoms, path: str) -> str:
    lengths = " × ".join(f"{x:.2f}" for x in atoms.cell.lengths())
    text = f"wrote {path}: {len(atoms)} atoms, box {lengths} Å, pbc {''.join('p' if p else 'f' for p in atoms.pbc)}"
    types = atoms.arrays.get("type")
    if types is not None and types.max() > 1:
        text += f"; type 2 = held boundary ({int((types == 2).sum())} atoms), type 1 = mobile"
    return text


def _cmd_build(args: argparse.Namespace) -> int:
    from eipgs.build.crack import crack
    from eipgs.build.dislocation import screw_dislocation
    from eipgs.build.polycrystal import polycrystal
    from eipgs.build.slab import slab

    if args.structure == "polycrystal":
        atoms = polycrystal(args.grains, args.box, element=args.element, a=args.a0, seed=args.seed,
                                  overlap=args.overlap)
        _write(atoms, args.output, args.element)
        bcc_density = 2.0 / args.a0**3
        print(_describe(atoms, args.output) + f"; {args.grains} grains (seed {args.seed}), {atoms.info['removed']} "
              f"atoms removed closer than {atoms.info['overlap']:.2f} Å; density "
              f"{len(atoms) / atoms.get_volume() / bcc_density:.4f} × bcc")
    elif args.structure == "slab":
        atoms = slab(tuple(args.size), surface=args.surface, element=args.element, a=args.a0,
                           vacuum=args.vacuum, fixed_layers=args.fixed_layers)
        _write(atoms, args.output, args.element)
        print(_describe(atoms, args.output) + f"; ({args.surface}) surfaces normal to z, {atoms.info['layers']} layers")
    elif args.structure == "dislocation":
        atoms = screw_dislocation(args.radius, length=args.length, element=args.element, a=args.a0,
                                        elastic=args.elastic, fix_width=args.fix_width)
        _write(atoms, args.output, args.element)
        cx, cy = atoms.info["core"]
        print(_describe(atoms, args.output) + f"; ½[111] screw along z, core at x = {cx:.3f}, y = {cy:.3f} Å, "
              f"b = {atoms.info['burgers']:.4f} Å")
    else:
        atoms = crack(tuple(args.size), args.k, element=args.element, a=args.a0, elastic=args.elastic,
                            fix_width=args.fix_width)
        _write(atoms, args.output, args.element)
        tx, ty = atoms.info["tip"]
        print(_describe(atoms, args.output) + f"; (010)[001] crack, tip at x = {tx:.3f}, y = {ty:.3f} Å, "
              f"K_I = {args.k:g} MPa·m^½")
    return 0


def _common(p, default_output: str) -> None:
    from eipgs.build import W_LATTICE_CONSTANT

    p.add_argument("-o", "--output", default=default_output, help=f"LAMMPS data file (default {default_output})")
    p.add_argument("--element", default="W", help="chemical symbol (default W)")
    p.add_argument("--a0", type=float, default=W_LATTICE_CONSTANT,
                   help=f"lattice constant in Å (default {W_LATTICE_CONSTANT}, bcc W with the Zhou04 EAM)")


def _elastic(p) -> None:
    from eipgs.build import W_ELASTIC_CONSTANTS

    p.add_argument("--elastic", type=float, nargs=3, metavar=("C11", "C12", "C44"), default=W_ELASTIC_CONSTANTS,
                   help="cubic elastic constants in GPa for the displacement field (default: Zhou04 W, "
                   + " ".join(f"{c:g}" for c in W_ELASTIC_CONSTANTS) + ")")
    p.add_argument("--fix-width", type=float, default=6.0,
                   help="Å, outer shell written as type 2, held by the deck (default 6, > the EAM cutoff)")


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="structures for the decks as LAMMPS data: polycrystal, slab, dislocation, crack",
                       description="See doc/cli_build.md.")
    bsub = p.add_subparsers(dest="structure", metavar="STRUCTURE")
    bsub.required = True
    q = bsub.add_parser("polycrystal", help="periodic Voronoi polycrystal, random orientations, overlaps removed")
    q.add_argument("--grains", type=int, required=True, help="number of grains")
    q.add_argument("--box", type=float, nargs="+", required=True, metavar="L", help="box edge(s) in Å: L or Lx Ly Lz")
    q.add_argument("--seed", type=int, default=1, help="seed of the grain centres and orientations (default 1)")
    q.add_argument("--overlap", type=float, default=None,
                   help="Å: of two atoms closer than this one is removed (default half the nearest-neighbour "
                   "distance, 1.37 Å for W)")
    _common(q, "poly.data")
    q = bsub.add_parser("slab", help="slab with two free surfaces normal to z (ASE)")
    q.add_argument("--size", type=int, nargs=3, required=True, metavar=("NX", "NY", "LAYERS"),
                   help="surface cells along x and y, atomic layers along z")
    q.add_argument("--surface", default="100", choices=("100", "110", "111"), help="surface plane (default 100)")
    q.add_argument("--vacuum", type=float, default=10.0, help="Å of vacuum on each side (default 10)")
    q.add_argument("--fixed-layers", type=int, default=0, help="bottom layers written as type 2 (default 0)")
    _common(q, "slab.data")
    q = bsub.add_parser("dislocation", help="½<111> screw dislocation cylinder in bcc (matscipy, anisotropic field)")
    q.add_argument("--radius", type=float, default=30.0, help="cylinder radius in Å (default 30)")
    q.add_argument("--length", type=int, default=3, help="length along the line in Burgers vectors (default 3)")
    _elastic(q)
    _common(q, "dislocation.data")
    q = bsub.add_parser("crack", help="mode-I (010)[001] crack block displaced to a stress intensity K_I (matscipy)")
    q.add_argument("--size", type=int, nargs=3, required=True, metavar=("NX", "NY", "NZ"), help="cubic cells")
    q.add_argument("--k", type=float, default=1.0, help="K_I in MPa·m^½ (default 1.0)")
    _elastic(q)
    _common(q, "crack.data")
    p.set_defaults(func=_cmd_build)

# SPDX-License-Identifier: GPL-2.0-only
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

from eipgs.build.cli import _add_build
from eipgs.evaluate import _add_evaluate
from eipgs.label import _add_label
from eipgs.train import _add_train


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

    demo(Path(args.outdir), size=args.size, steps=args.steps, temperature=args.temperature, every=args.every,
         nprocs=args.np, cells=args.cells, quick=args.quick, depth=args.depth)
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="run the main job on the embedded default system (what `make demo` runs)")
    p.add_argument("-o", "--outdir", default="demo_output", help="output folder (default: demo_output)")
    p.add_argument("--quick", action="store_true",
                   help="a 3072-atom W slab with a vacancy and an interstitial instead of the 26k-atom nanoindentation")
    p.add_argument("--size", type=int, default=None,
                   help="indentation: cells across the (001) surface, n²·(n − 1) atoms (default 30: 26,100); "
                   "--quick: slab thickness in (110) lattice units (default 8: 3072 atoms)")
    p.add_argument("--depth", type=float, default=6.0, help="indentation depth in Å (default 6)")
    p.add_argument("--steps", type=int, default=6000, help="--quick: MD steps of the sampling run (default 6000)")
    p.add_argument("--temperature", type=float, default=None, help="K (default 300; --quick 500)")
    p.add_argument("--every", type=int, default=None, help="grade and sample every N steps (default 250; --quick 100)")
    p.add_argument("--np", type=int, default=2, help="MPI ranks of the sampling run (default 2)")
    p.add_argument("--cells", type=int, default=2, help="clusters rebuilt into periodic cells (default 2)")
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
    from eipgs.pcc.driver import mpi_world
    from eipgs.io.formats import parse_elements

    fill = FillSettings(
        temperature=args.temperature, mu=args.mu, cutoff=args.cutoff, overlap=args.overlap,
        max_atoms=args.max_atoms, saturate=args.saturate, cycles=args.cycles,
    )
    settings = PccSettings(
        core_radius=args.core_radius, margins=args.margins, aspect=args.aspect, repeats=args.repeats,
        seed=args.seed, potential=Path(args.potential) if args.potential else None,
        insert_element=args.element, cfg_elements=tuple(parse_elements(args.cfg_elements) or ()), jobs=args.jobs,
        mode=args.mode, fill=fill,
    )
    rows = pcc(args.clusters, args.outdir, settings, progress=not args.quiet, force=args.force, resume=args.resume)
    ok = sum(1 for r in rows if r["status"] == "ok")
    world = mpi_world()
    if world is None or world.Get_rank() == 0:  # under mpirun every rank returns the same rows
        print(f"{ok}/{len(rows)} clusters reconstructed; cells and summary.csv in {args.outdir}")
        if ok < len(rows):
            print(f"{len(rows) - ok} cluster(s) without a cell; their reasons are in {args.outdir}/summary.csv")
    # 10 + number of failed clusters (capped at 110), so scripts can tell 'some failed' from an error (1)
    return 0 if ok == len(rows) else 10 + min(len(rows) - ok, 100)


def _add_pcc(sub) -> None:
    p = sub.add_parser(
        "pcc",
        help="rebuild clusters into periodic cells (fix gcmc/pcc + relaxation over a grid of boxes)",
        description="Each cluster is trimmed to its core sphere around the centre atom and placed in a cell that "
        "continues the core's fitted lattice (a slab at a free surface) or in a grid of boxes (core extent + margin), "
        "filled by grand-canonical Monte Carlo with fix gcmc/pcc, relaxed with the "
        "core frozen; the valid cell with the lowest excess energy over the strained perfect crystal is kept. Exit status: 0 when every "
        "cluster got a cell, 10 + the number of clusters without one (reasons in summary.csv; capped at 110), "
        "1 on an error.",
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
    p.add_argument("--mode", choices=["auto", "lattice", "grid", "all"], default="auto",
                   help="cells: continue the core's fitted lattice (lattice), the grid of boxes relaxed to zero "
                   "pressure (grid), lattice when the core has a clear lattice else grid (auto, default), or both (all)")
    p.add_argument("--force", action="store_true", help="delete the cells and tables of an earlier run in -o first")
    p.add_argument("--resume", action="store_true", help="keep the clusters an earlier run in -o finished; run the rest")
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


def _cmd_grade(args: argparse.Namespace) -> int:
    import numpy as np

    from eipgs.grade import grade
    from eipgs.io.formats import parse_elements

    configs = grade(
        args.potential,
        args.input,
        args.output,
        species=args.species,
        elements=parse_elements(args.elements),
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
        "(atom_style atomic), LAMMPS text dump, pacemaker .pckl.gzip or POSCAR.",
    )
    p.add_argument("potential", help="MTP with active set (.almtp, neighbourhood mode)")
    p.add_argument("input", help="configurations: .cfg, .extxyz/.xyz, LAMMPS .data/.lmp, LAMMPS .dump/.lammpstrj, "
                   ".pckl.gzip, POSCAR")
    p.add_argument("-o", "--output", required=True, help="output .cfg with nbh_grades and MV_grade")
    p.add_argument(
        "--species",
        nargs="+",
        metavar="S",
        help="MTP species index (0-based) or NULL for each input type: LAMMPS types 1..N, or cfg types 0.. "
        "(default: LAMMPS type t -> t-1; cfg type t -> position of t among the potential's species labels)",
    )
    _elements_arg(p)
    p.add_argument("--format", choices=["cfg", "extxyz", "lammps-data", "lammps-dump", "pacemaker", "poscar"],
                   help="input format (default: from the file name, else from the first lines)")
    p.add_argument("--select", type=float, default=2.0, help="report atoms above this grade (default 2.0)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_grade)


def _elements_arg(p) -> None:
    p.add_argument("--elements", nargs="+", metavar="EL",
                   help="type → element map: element of cfg type 0, 1, ... (LAMMPS type 1, 2, ...); "
                   "`W Cu` or `W,Cu`")


def _slurm_args(p) -> None:
    g = p.add_argument_group("SLURM array script (submit.slurm)")
    g.add_argument("--slurm-nodes", type=int, default=1, help="nodes per run (default 1)")
    g.add_argument("--slurm-ntasks", type=int, default=32, help="MPI tasks per node (default 32)")
    g.add_argument("--slurm-time", default="04:00:00", help="wall time per run (default 04:00:00)")
    g.add_argument("--slurm-partition", default=None, help="partition (default: none)")
    g.add_argument("--slurm-account", default=None, help="account (default: none)")


def _slurm_dict(args: argparse.Namespace) -> dict:
    return {"nodes": args.slurm_nodes, "ntasks": args.slurm_ntasks, "time": args.slurm_time,
            "partition": args.slurm_partition, "account": args.slurm_account}


def _cmd_dft_vasp(args: argparse.Namespace) -> int:
    from eipgs.dft.vasp import dft_vasp, parse_key_values
    from eipgs.io.formats import parse_elements

    folders = dft_vasp(
        args.inputs, args.outdir, elements=parse_elements(args.elements),
        incar=parse_key_values(args.incar, "--incar"), incar_template=args.incar_template,
        kspacing=args.kspacing, vacuum=args.vacuum, potcar=parse_key_values(args.potcar, "--potcar"),
        potcar_dir=args.potcar_dir, vasp_std=args.vasp_std, vasp_gam=args.vasp_gam,
        slurm=_slurm_dict(args), force=args.force,
    )
    print(f"wrote {len(folders)} VASP folders, jobs.txt and submit.slurm in {args.outdir}")
    return 0


def _cmd_dft_qe(args: argparse.Namespace) -> int:
    from eipgs.dft.qe import dft_qe
    from eipgs.dft.vasp import parse_key_values
    from eipgs.io.formats import parse_elements

    folders = dft_qe(
        args.inputs, args.outdir, pseudopotentials=parse_key_values(args.pseudo, "--pseudo"),
        elements=parse_elements(args.elements), pseudo_dir=args.pseudo_dir, ecutwfc_ev=args.ecutwfc,
        ecutrho_ev=args.ecutrho, smearing_ev=args.smearing, ediff_ev=args.ediff, kspacing=args.kspacing,
        vacuum=args.vacuum, pw_command=args.pw_command, slurm=_slurm_dict(args), force=args.force,
    )
    print(f"wrote {len(folders)} Quantum ESPRESSO folders, jobs.txt and submit.slurm in {args.outdir}")
    return 0


def _add_dft(sub) -> None:
    p = sub.add_parser("dft", help="write DFT input folders (VASP or Quantum ESPRESSO) for sampled structures")
    dsub = p.add_subparsers(dest="code", metavar="CODE")
    dsub.required = True
    for name, helptext in (("vasp", "VASP folders: POSCAR, INCAR, KPOINTS, meta.json + jobs.txt, submit.slurm"),
                           ("qe", "Quantum ESPRESSO pw.x folders through ASE + jobs.txt, submit.slurm")):
        q = dsub.add_parser(name, help=helptext)
        q.add_argument("inputs", nargs="+", metavar="INPUT", help="structure files (.cfg, .extxyz, .pckl.gzip, LAMMPS, POSCAR)")
        q.add_argument("-o", "--outdir", required=True, help="output folder (one subfolder per structure)")
        _elements_arg(q)
        q.add_argument("--kspacing", type=float, default=0.03,
                       help="k-point spacing in units of 2π/Å (default 0.03, the paper's)")
        q.add_argument("--vacuum", type=float, default=8.0, help="vacuum (Å) on each side of non-periodic structures (default 8)")
        q.add_argument("--force", action="store_true", help="overwrite existing structure folders")
        _slurm_args(q)
        if name == "vasp":
            q.add_argument("--incar", action="append", metavar="KEY=VALUE", help="override an INCAR tag (repeatable; KEY= removes it)")
            q.add_argument("--incar-template", metavar="FILE", help="INCAR-style file whose tags override the defaults")
            q.add_argument("--potcar", action="append", metavar="EL=LABEL", help="POTCAR label of an element, e.g. W=W_sv (default: the symbol)")
            q.add_argument("--potcar-dir", metavar="DIR", help="VASP_PP_PATH-style folder: concatenate DIR/<label>/POTCAR into each folder")
            q.add_argument("--vasp-std", default="vasp_std", help="VASP executable for k-point runs (default vasp_std)")
            q.add_argument("--vasp-gam", default="vasp_gam", help="VASP executable for Γ-only runs (default vasp_gam)")
            q.set_defaults(func=_cmd_dft_vasp)
        else:
            q.add_argument("--pseudo", action="append", metavar="EL=FILE", required=True,
                           help="pseudopotential file per element, e.g. W=W.pbe-spn-kjpaw_psl.1.0.0.UPF")
            q.add_argument("--pseudo-dir", default="./", help="pseudo_dir written into pw.in (default ./)")
            q.add_argument("--ecutwfc", type=float, default=520.0, help="wave-function cutoff in eV (default 520)")
            q.add_argument("--ecutrho", type=float, default=None, help="density cutoff in eV (default 8 × ecutwfc)")
            q.add_argument("--smearing", type=float, default=0.1, help="Methfessel-Paxton smearing in eV (default 0.1)")
            q.add_argument("--ediff", type=float, default=1e-6, help="SCF threshold in eV (default 1e-6)")
            q.add_argument("--pw-command", default="pw.x", help="pw.x executable (default pw.x)")
            q.set_defaults(func=_cmd_dft_qe)


def _cmd_collect(args: argparse.Namespace) -> int:
    from eipgs.collect import collect
    from eipgs.io.formats import parse_elements
    from eipgs.io.pacemaker import parse_e0

    summary = collect(
        args.dftdirs, args.output, elements=parse_elements(args.elements), e0=parse_e0(args.e0),
        cluster_surface_weight=args.cluster_surface_weight, merge=args.merge or [], energy=args.energy,
        no_loss=not args.compact, report=args.report,
    )
    print(f"{args.output}: {summary['written']} structures ({summary['collected']} collected, "
          f"{summary['merged_structures']} merged, {summary['duplicates']} duplicates dropped, "
          f"{summary['skipped']} skipped, {summary['rejected']} rejected)")
    for run in summary["runs"]:
        if run["status"] in ("skipped", "rejected"):
            print(f"  {run['status']} {run['folder']}: {run['reason']}", file=sys.stderr)
    if summary["rejected"]:
        # Finished runs that could not be used are an error even without --strict: they need a look.
        print(f"eipgs collect: error: {summary['rejected']} run folder(s) rejected (listed above); the others were "
              f"written to {args.output}", file=sys.stderr)
        return 1
    return 2 if (args.strict and summary["skipped"]) else 0


def _add_collect(sub) -> None:
    p = sub.add_parser("collect", help="finished DFT runs (VASP vasprun.xml/OUTCAR, QE pw.out) → training set (.cfg, .pckl.gzip, .extxyz)")
    p.add_argument("dftdirs", nargs="+", metavar="DFTDIR", help="folders searched recursively for runs")
    p.add_argument("-o", "--output", required=True, help="training set: train.cfg, train.pckl.gzip or train.extxyz")
    _elements_arg(p)
    p.add_argument("--e0", action="append", metavar="EL=EV", help="reference energy per atom for energy_corrected (pacemaker), e.g. W=-4.5")
    p.add_argument("--cluster-surface-weight", type=float, default=None, metavar="W",
                   help="per-atom force weight of non-core atoms of vacuum clusters (w_forces; core atoms weigh 1)")
    p.add_argument("--merge", action="append", metavar="FILE", help="existing training set to merge (duplicates dropped)")
    p.add_argument("--energy", choices=("free", "sigma0"), default="free",
                   help="VASP: free energy TOTEN (default, consistent with the forces) or the σ→0 energy")
    p.add_argument("--compact", action="store_true", help=".cfg in MLIP's default precision instead of no-loss %%.16e")
    p.add_argument("--report", default=None, metavar="PREFIX", help="report files PREFIX.txt/.json (default: collect_report beside the output)")
    p.add_argument("--strict", action="store_true", help="exit with status 2 if any run was skipped")
    p.set_defaults(func=_cmd_collect)


def _cmd_convert(args: argparse.Namespace) -> int:
    from eipgs.convert import convert
    from eipgs.io.formats import parse_elements
    from eipgs.io.pacemaker import parse_e0

    n = convert(args.inputs, args.output, elements=parse_elements(args.elements), no_loss=not args.compact,
                e0=parse_e0(args.e0))
    print(f"wrote {n} structures to {args.output}")
    return 0


def _add_convert(sub) -> None:
    p = sub.add_parser("convert", help="convert structures between .cfg, .pckl.gzip, .extxyz, LAMMPS data/dump and POSCAR")
    p.add_argument("inputs", nargs="+", metavar="IN", help="input file(s); the format follows the name")
    p.add_argument("-o", "--output", required=True, help="output file; the format follows the name")
    _elements_arg(p)
    p.add_argument("--e0", action="append", metavar="EL=EV", help="reference energies for pacemaker's energy_corrected")
    p.add_argument("--compact", action="store_true", help=".cfg in MLIP's default precision instead of no-loss %%.16e")
    p.set_defaults(func=_cmd_convert)


def _cmd_report(args: argparse.Namespace) -> int:
    from eipgs.io.formats import parse_elements
    from eipgs.report import report

    result = report(args.inputs, args.outdir, labels=args.label, elements=parse_elements(args.elements),
                    potential=args.potential, logs=args.log or [], gamma_column=args.gamma_column,
                    thermo_column=args.thermo_column, max_pca_atoms=args.max_pca_atoms)
    for name, fig in result["figures"].items():
        print(f"wrote {fig['path']} ({fig['points']} points)")
    for name, why in result["skipped"].items():
        print(f"no {name}: {why}")
    print(f"wrote {Path(args.outdir) / 'report.md'}")
    return 0


def _add_report(sub) -> None:
    p = sub.add_parser("report", help="PNG figures (γ histogram, γ_max vs step, descriptor PCA, energies) + report.md")
    p.add_argument("inputs", nargs="+", metavar="RUN_OUTPUT", help="datasets: .cfg, .extxyz, dumps, .pckl.gzip, ... (one colour each)")
    p.add_argument("-o", "--outdir", required=True, help="output folder")
    p.add_argument("--label", action="append", help="legend label of each input, in order (default: file stem)")
    _elements_arg(p)
    p.add_argument("--potential", metavar="POT.almtp", help="MTP for the descriptor PCA (and grades when the inputs have none)")
    p.add_argument("--log", action="append", metavar="LOG", help="LAMMPS log with a grade column in its thermo output")
    p.add_argument("--gamma-column", help="per-atom grade array name (default: nbh_grades, grade, gamma, or any *grade*)")
    p.add_argument("--thermo-column", help="thermo column holding γ_max (default: every column named *grade*/*gamma*/*gmax*)")
    p.add_argument("--max-pca-atoms", type=int, default=5000, help="random subsample per dataset for the PCA (default 5000)")
    p.set_defaults(func=_cmd_report)


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


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    from eipgs.bootstrap import bootstrap

    r = bootstrap(
        args.elements, args.output, level=args.level, cutoff=args.cutoff, min_dist=args.min_dist,
        radial_basis_size=args.radial_basis_size, seed=args.seed, structures=args.structures,
        train_output=args.train, progress=not args.quiet,
    )
    print(
        f"wrote {r.potential_path} (bootstrap MTP level {r.level}, m = {r.m}, {r.n_filled} active-set rows filled) "
        f"and {r.train_path} ({r.n_configurations} configurations, {r.n_atoms} atoms); fit RMSE "
        f"{1000 * r.rmse_site_energy:.1f} meV/atom (site energies), {1000 * r.rmse_energy_per_atom:.1f} meV/atom "
        f"(energies); {r.timings['total']:.1f} s. For D-optimality sampling only, not an accurate potential."
    )
    return 0


def _add_bootstrap(sub) -> None:
    p = sub.add_parser(
        "bootstrap",
        help="generate an MTP + neighbourhood active set from scratch (our template, EAM basic set) for sampling",
        description="Build an MTP of our own template (random seeded radial functions, linear coefficients fitted "
        "to Zhou04 EAM site energies) and its neighbourhood-mode active set (MaxVol, tau 1.001) over a basic "
        "training set generated with the EAM (strained crystals, rattled bulk at 300-3000 K, a vacancy, a (100) "
        "slab). Its grade measures novelty against that set: for D-optimality sampling only, NOT an accurate "
        "potential. See doc/cli_bootstrap.md.",
    )
    p.add_argument("elements", nargs="+", metavar="ELEMENT", help="Zhou04 elements; the first is the host lattice (cfg type order)")
    p.add_argument("-o", "--output", required=True, help="output .almtp")
    p.add_argument("--level", type=int, default=16, help="MTP level of our template (default 16: m = 124 for one species; 10: m = 41)")
    p.add_argument("--cutoff", type=float, default=5.0, help="radial cutoff max_dist in Å (default 5.0)")
    p.add_argument("--min-dist", type=float, default=2.0, help="radial basis min_dist in Å (default 2.0)")
    p.add_argument("--radial-basis-size", type=int, default=8, help="Chebyshev basis size R (default 8)")
    p.add_argument("--seed", type=int, default=1, help="seed of the radial coefficients, strains and MD (default 1)")
    p.add_argument("--structures", type=int, default=3, help="snapshots per EAM MD run of the basic set (default 3)")
    p.add_argument("--train", default=None, help="basic training set .cfg (default: <output stem>.train.cfg)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd_bootstrap)


# One entry per subcommand, in the order of the workflow (what `eipgs --help` lists).
SUBCOMMANDS: list[Callable] = [
    _add_plugin_path,
    _add_info,
    _add_demo,
    _add_potential,
    _add_bootstrap,
    _add_grade,
    _add_select,
    _add_activeset,
    _add_pcc,
    _add_dft,
    _add_collect,
    _add_convert,
    _add_train,
    _add_report,
    _add_build,
    _add_label,
    _add_evaluate,
]


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


def _os_error_text(exc: OSError) -> str:
    """An OSError as one sentence naming the file ("[Errno 13]" and Python's repr left out)."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" + (f" (and {exc.filename2})" if exc.filename2 else "")
    if exc.strerror and len(exc.args) == 2:
        return str(exc.strerror)
    return str(exc)


def _launcher_rank() -> int:
    """This process's rank under mpirun/mpiexec/srun (0 when not launched in parallel)."""
    import os

    for name in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MV2_COMM_WORLD_RANK", "SLURM_PROCID"):
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 0


def _one_line_warning(prefix: str) -> Callable:
    """A ``warnings.showwarning`` that prints ``eipgs CMD: warning: ...`` on one line (Python's default
    adds the source file, line number and code line, which tell a user nothing), above any progress bar."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        text = f"{prefix}: warning: {' '.join(str(message).split())}"
        try:
            from tqdm import tqdm

            tqdm.write(text, file=file or sys.stderr)
        except ImportError:
            print(text, file=file or sys.stderr)

    return show


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors become one ``eipgs CMD: error: ...`` line on stderr and exit status 1
    (130 after Ctrl-C). ``EIPGS_DEBUG=1`` re-raises them for the traceback. Under mpirun, bad input
    (OSError, ValueError: the same on every rank) is reported by rank 0 only; other errors by each rank."""
    import os

    parser = build_parser()
    args = parser.parse_args(argv)
    prefix = f"eipgs {args.command}"
    debug = os.environ.get("EIPGS_DEBUG", "") not in ("", "0")
    rank = _launcher_rank()
    import warnings

    saved_showwarning = warnings.showwarning
    if not debug:
        warnings.showwarning = _one_line_warning(prefix)
    try:
        try:
            return int(args.func(args) or 0)
        except (OSError, ValueError):
            if rank == 0 or debug:
                raise
            # Under mpirun every rank reads the same input and meets the same bad input (a missing file, a
            # wrong value): rank 0 reports it, the other ranks exit quietly (after a moment, so that a
            # launcher that stops the job when one rank ends lets rank 0 print first).
            import time

            time.sleep(1.0)
            return 1
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"\n{prefix}: interrupted (files being written were not published)", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        print(f"{prefix}: error: out of memory; use smaller inputs (or --memory-mb where the command has it)",
              file=sys.stderr)
        return 1
    except OSError as exc:  # FileNotFoundError, PermissionError, IsADirectoryError, a full disk, ...
        if debug:
            raise
        print(f"{prefix}: error: {_os_error_text(exc)}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError) as exc:
        if debug:
            raise
        if rank:
            prefix += f" [rank {rank}]"  # an error during the parallel work may be this rank's alone
        print(f"{prefix}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not bad input: say so, without a traceback unless asked
        if debug:
            raise
        print(f"{prefix}: internal error: {type(exc).__name__}: {exc} (please report it; EIPGS_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = saved_showwarning


if __name__ == "__main__":
    sys.exit(main())

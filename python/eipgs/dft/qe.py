# SPDX-License-Identifier: GPL-2.0-only
"""Quantum ESPRESSO ``pw.x`` inputs through ASE's ``espresso-in`` writer (``eipgs dft qe``).

Same structure handling as the VASP writer (vacuum box and Γ point for clusters, Monkhorst-Pack mesh at
2π × 0.03 Å⁻¹ otherwise, meta.json provenance, jobs.txt + submit.slurm). PBE is taken from the
pseudopotentials, whose file names are options (``--pseudo W=W.pbe-spn-kjpaw_psl.1.0.0.UPF``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from ase.units import Ry
from tqdm import tqdm

from eipgs.io.atomic import atomic_path

from eipgs.dft.common import (
    KSPACING_DEFAULT,
    VACUUM_DEFAULT,
    build_meta,
    check_jobs,
    clear_folder,
    new_folder_names,
    kpoint_mesh,
    load_inputs,
    prepare_structure,
    write_jobs,
    write_meta,
)
from eipgs.dft.vasp import _periodic_view

__all__ = ["dft_qe", "qe_input_data"]


def qe_input_data(*, ecutwfc_ry: float, ecutrho_ry: float | None, degauss_ry: float, conv_thr_ry: float,
                  pseudo_dir: str) -> dict:
    """The namelists: an SCF single point with forces and stress, Methfessel-Paxton smearing."""
    return {
        "control": {
            "calculation": "scf",
            "tprnfor": True,
            "tstress": True,
            "pseudo_dir": pseudo_dir,
            "outdir": "./tmp",
            "prefix": "pw",
            "disk_io": "none",
        },
        "system": {
            "ecutwfc": ecutwfc_ry,
            "ecutrho": ecutrho_ry if ecutrho_ry is not None else 8.0 * ecutwfc_ry,
            "occupations": "smearing",
            "smearing": "mv",
            "degauss": degauss_ry,
        },
        "electrons": {"conv_thr": conv_thr_ry, "mixing_beta": 0.4, "electron_maxstep": 200},
    }


def dft_qe(
    inputs: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    *,
    pseudopotentials: Mapping[str, str],
    elements: Sequence[str] | None = None,
    pseudo_dir: str = "./",
    ecutwfc_ev: float = 520.0,
    ecutrho_ev: float | None = None,
    smearing_ev: float = 0.1,
    ediff_ev: float = 1e-6,
    kspacing: float = KSPACING_DEFAULT,
    vacuum: float = VACUUM_DEFAULT,
    pw_command: str = "pw.x",
    slurm: Mapping[str, object] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write one ``pw.in`` folder per input structure; energies are given in eV and converted to Ry."""
    import ase.io

    loaded, elements = load_inputs(inputs, elements)
    missing = [e for e in elements if e not in pseudopotentials]
    if missing:
        raise ValueError(
            f"no pseudopotential for {missing}: give --pseudo for every element, e.g. "
            f"--pseudo {missing[0]}={missing[0]}.pbe-spn-kjpaw_psl.1.0.0.UPF"
        )
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    names = new_folder_names(loaded, outdir, force)
    command = f'srun {pw_command} -in pw.in > pw.out 2>&1'
    check_jobs(outdir, names, command)
    # Every structure is checked before the first folder is written: a bad one leaves nothing behind.
    items = [prepare_structure(atoms, elements, vacuum=vacuum, source_file=str(path), source_index=index)
             for path, index, atoms in loaded]
    folders = []
    for (path, index, atoms), item, name in tqdm(list(zip(loaded, items, names)), desc="QE folders",
                                                 unit="structure", disable=len(loaded) < 20):
        folder = outdir / name
        clear_folder(folder)
        folder.mkdir(exist_ok=True)
        mesh = kpoint_mesh(item.atoms if not item.vacuum_axes else _periodic_view(item), kspacing)
        # QE's conv_thr is on the total energy; EDIFF is too (VASP), so the same number in Ry.
        data = qe_input_data(
            ecutwfc_ry=ecutwfc_ev / Ry,
            ecutrho_ry=None if ecutrho_ev is None else ecutrho_ev / Ry,
            degauss_ry=smearing_ev / Ry,
            conv_thr_ry=ediff_ev / Ry,
            pseudo_dir=pseudo_dir,
        )
        pseudos = {e: pseudopotentials[e] for e in set(item.atoms.get_chemical_symbols())}
        # kpts=None makes ASE write "K_POINTS gamma" (Γ-only tricks in pw.x), as for VASP clusters.
        kpts = None if item.is_cluster else tuple(mesh)
        with atomic_path(folder / "pw.in") as tmp:
            ase.io.write(tmp, item.atoms, format="espresso-in", input_data=data,
                         pseudopotentials=pseudos, kpts=kpts, parallel=False)
        extra = {
            "code": "qe",
            "kpoints": [1, 1, 1] if item.is_cluster else list(mesh),
            "gamma_only": item.is_cluster,
            "kspacing_2pi_per_angstrom": kspacing,
            "vacuum": vacuum if item.vacuum_axes else 0.0,
            "pseudopotentials": pseudos,
        }
        write_meta(folder, build_meta(item, atoms, elements, extra))
        folders.append(folder)
    cfg = dict(slurm or {})
    write_jobs(outdir, [f.name for f in folders], command,
               job_name=str(cfg.get("job_name", "eipgs-qe")), nodes=int(cfg.get("nodes", 1)),
               ntasks=int(cfg.get("ntasks", 32)), time=str(cfg.get("time", "04:00:00")),
               partition=cfg.get("partition"), account=cfg.get("account"))
    return folders

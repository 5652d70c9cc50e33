# SPDX-License-Identifier: GPL-2.0-only
"""VASP input folders for sampled structures (``eipgs dft vasp``).

One folder per structure with POSCAR, INCAR, KPOINTS, meta.json (and POTCAR when ``potcar_dir`` is given),
plus ``jobs.txt`` and a SLURM array script ``submit.slurm`` in the output folder.

INCAR defaults are the paper's (doc/design/pcc.md §3: PBE, PAW, ENCUT 520 eV, EDIFF 1e-6 eV). The paper
does not state the smearing; we use Methfessel-Paxton order 1 with SIGMA = 0.1 eV, a standard choice for
a transition metal such as W (doc/cli_dft.md). Single points (NSW = 0) with forces and stress.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Mapping, Sequence

from tqdm import tqdm

from eipgs.io.atomic import atomic_write, write_text_atomic

from eipgs.dft.common import (
    KSPACING_DEFAULT,
    VACUUM_DEFAULT,
    DftStructure,
    build_meta,
    check_jobs,
    clear_folder,
    new_folder_names,
    kpoint_mesh,
    load_inputs,
    prepare_structure,
    species_blocks,
    write_jobs,
    write_meta,
)

__all__ = ["INCAR_DEFAULTS", "dft_vasp", "format_incar", "format_kpoints", "read_incar_template", "parse_key_values"]

# Order is the order written. Values are INCAR text.
INCAR_DEFAULTS: dict[str, str] = {
    "PREC": "Accurate",
    "GGA": "PE",  # PBE (with PBE PAW POTCARs)
    "ENCUT": "520",  # eV (paper)
    "EDIFF": "1E-06",  # eV (paper)
    "ISMEAR": "1",  # Methfessel-Paxton, order 1 (metal; not stated in the paper)
    "SIGMA": "0.1",  # eV
    "ISPIN": "1",
    "NELM": "200",
    "ALGO": "Normal",
    "LREAL": ".FALSE.",  # exact projectors: training forces, not speed
    "ISYM": "0",  # no symmetrisation of distorted / defective cells
    "IBRION": "-1",
    "NSW": "0",  # single point
    "ISIF": "2",  # stress tensor is computed (and written to vasprun.xml/OUTCAR)
    "LWAVE": ".FALSE.",
    "LCHARG": ".FALSE.",
}


def parse_key_values(items: Sequence[str] | None, option: str) -> dict[str, str]:
    """``["ENCUT=600", "ISMEAR=0"]`` → ``{"ENCUT": "600", "ISMEAR": "0"}``; an empty value removes the key."""
    out: dict[str, str] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{option} {item!r}: expected KEY=VALUE (e.g. {option} ENCUT=600)")
        key, value = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ValueError(f"{option} {item!r}: empty key")
        out[key.upper() if option == "--incar" else key] = value.strip()
    return out


def read_incar_template(path: str | os.PathLike) -> dict[str, str]:
    """An INCAR-style file (``KEY = VALUE``, ``#``/``!`` comments, ``;`` separating several assignments)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"INCAR template not found: {path}")
    out: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        text = re.split(r"[#!]", raw, maxsplit=1)[0].strip()
        for part in filter(None, (p.strip() for p in text.split(";"))):
            if "=" not in part:
                raise ValueError(f"{path}:{lineno}: expected KEY = VALUE, found {part!r}")
            key, value = part.split("=", 1)
            out[key.strip().upper()] = value.strip()
    return out


def format_incar(settings: Mapping[str, str], comment: str = "") -> str:
    lines = [f"SYSTEM = {comment}"] if comment else []
    width = max((len(k) for k in settings), default=0)
    lines += [f"{k.ljust(width)} = {v}" for k, v in settings.items() if v != ""]
    return "\n".join(lines) + "\n"


def format_kpoints(mesh: Sequence[int], gamma_only: bool, spacing: float) -> str:
    if gamma_only:
        # The first line is what submit.slurm looks for to run vasp_gam on clusters.
        return "Gamma-only (eipgs: cluster in vacuum)\n0\nGamma\n 1 1 1\n 0 0 0\n"
    return (
        f"Monkhorst-Pack mesh at spacing 2pi x {spacing:g} 1/Angstrom (eipgs)\n0\nMonkhorst-Pack\n"
        f" {mesh[0]} {mesh[1]} {mesh[2]}\n 0 0 0\n"
    )


def _potcar_labels(elements: Sequence[str], potcar: Mapping[str, str] | None) -> dict[str, str]:
    labels = {e: e for e in elements}
    for key, value in (potcar or {}).items():
        if key not in labels:
            raise ValueError(f"--potcar {key}={value}: {key} is not in --elements {','.join(elements)}")
        labels[key] = value
    return labels


def _potcar_file(potcar_dir: Path, label: str) -> Path:
    # VASP_PP_PATH style: <dir>/<label>/POTCAR, or <dir>/potpaw_PBE/<label>/POTCAR (ASE's layout).
    for candidate in (potcar_dir / label / "POTCAR", potcar_dir / "potpaw_PBE" / label / "POTCAR"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"POTCAR for {label!r} not found: looked for {potcar_dir / label / 'POTCAR'} and "
        f"{potcar_dir / 'potpaw_PBE' / label / 'POTCAR'}"
    )


def dft_vasp(
    inputs: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    *,
    elements: Sequence[str] | None = None,
    incar: Mapping[str, str] | None = None,
    incar_template: str | os.PathLike | None = None,
    kspacing: float = KSPACING_DEFAULT,
    vacuum: float = VACUUM_DEFAULT,
    potcar: Mapping[str, str] | None = None,
    potcar_dir: str | os.PathLike | None = None,
    vasp_std: str = "vasp_std",
    vasp_gam: str = "vasp_gam",
    slurm: Mapping[str, object] | None = None,
    force: bool = False,
) -> list[Path]:
    """Write one VASP folder per input structure under ``outdir``; returns the folders."""
    loaded, elements = load_inputs(inputs, elements)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    settings = dict(INCAR_DEFAULTS)
    if incar_template is not None:
        settings.update(read_incar_template(incar_template))
    settings.update(incar or {})
    labels = _potcar_labels(elements, potcar)
    potcar_dir = Path(potcar_dir) if potcar_dir is not None else None
    names = new_folder_names(loaded, outdir, force)
    command = (
        f'if head -n 1 KPOINTS | grep -q "^Gamma-only"; then exe="${{VASP_GAM:-{vasp_gam}}}"; '
        f'else exe="${{VASP_STD:-{vasp_std}}}"; fi\n'
        'srun "$exe" > vasp.out 2>&1'
    )
    check_jobs(outdir, names, command)

    from eipgs.io.formats import write_poscar

    # Every structure is checked before the first folder is written: a bad one leaves nothing behind.
    items: list[DftStructure] = [prepare_structure(atoms, elements, vacuum=vacuum, source_file=str(path),
                                                   source_index=index) for path, index, atoms in loaded]
    folders = []
    for (path, index, atoms), item, name in tqdm(list(zip(loaded, items, names)), desc="VASP folders",
                                                 unit="structure", disable=len(loaded) < 20):
        folder = outdir / name
        clear_folder(folder)
        folder.mkdir(exist_ok=True)
        write_poscar(folder / "POSCAR", item.atoms)
        mesh = kpoint_mesh(item.atoms if not item.vacuum_axes else _periodic_view(item), kspacing)
        gamma_only = item.is_cluster
        write_text_atomic(folder / "KPOINTS", format_kpoints(mesh, gamma_only, kspacing))
        write_text_atomic(folder / "INCAR", format_incar(settings, comment=f"{name} (eipgs)"))
        species = [s for s, _ in species_blocks(item.atoms.get_chemical_symbols())]
        potcar_species = [labels[s] for s in species]
        if potcar_dir is not None:
            with atomic_write(folder / "POTCAR", "wb") as out:
                for label in potcar_species:
                    with open(_potcar_file(potcar_dir, label), "rb") as src:
                        shutil.copyfileobj(src, out)
        extra = {
            "code": "vasp",
            "kpoints": [1, 1, 1] if gamma_only else list(mesh),
            "gamma_only": gamma_only,
            "kspacing_2pi_per_angstrom": kspacing,
            "vacuum": vacuum if item.vacuum_axes else 0.0,
            "potcar_species": potcar_species,
            "incar": settings,
        }
        write_meta(folder, build_meta(item, atoms, elements, extra))
        folders.append(folder)

    cfg = dict(slurm or {})
    write_jobs(outdir, [f.name for f in folders], command, job_name=str(cfg.get("job_name", "eipgs-vasp")),
               nodes=int(cfg.get("nodes", 1)), ntasks=int(cfg.get("ntasks", 32)), time=str(cfg.get("time", "04:00:00")),
               partition=cfg.get("partition"), account=cfg.get("account"))
    _write_readme(outdir, elements, labels, potcar_dir is not None)
    return folders


def _periodic_view(item: DftStructure):
    """For a partly periodic structure, only the periodic axes get k-points (vacuum axes get 1)."""
    view = item.atoms.copy()
    view.pbc = [k not in item.vacuum_axes for k in range(3)]
    return view


def _write_readme(outdir: Path, elements, labels, have_potcar: bool) -> None:
    species = ", ".join(f"{e} → {labels[e]}" for e in elements)
    text = [
        "# VASP runs written by `eipgs dft vasp`",
        "",
        "Each folder holds POSCAR, INCAR, KPOINTS and meta.json (provenance: source file, index, center id,",
        "step, core flags). Submit all folders as one SLURM array: `sbatch submit.slurm` (it reads jobs.txt).",
        "Gamma-only folders (clusters in vacuum) run $VASP_GAM (default vasp_gam), the others $VASP_STD.",
        "",
        f"POTCAR species (PBE PAW), in POSCAR order per folder (see meta.json `potcar_species`): {species}.",
    ]
    if not have_potcar:
        text += [
            "POTCAR files are licensed by VASP and not distributed: create them in each folder, e.g.",
            "`eipgs dft vasp ... --potcar-dir $VASP_PP_PATH/potpaw_PBE`, or",
            "`cat $PP/W_sv/POTCAR > POTCAR` following meta.json `potcar_species`.",
        ]
    text += ["", "Afterwards: `eipgs collect <this folder> -o train.cfg` (or .pckl.gzip / .extxyz).", ""]
    write_text_atomic(outdir / "README.md", "\n".join(text))

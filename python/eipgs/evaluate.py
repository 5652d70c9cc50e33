# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs evaluate``: errors of an MTP on labelled data (energies, forces, stresses), as MLIP-3's
``mlp calculate_errors`` reports them, from our NumPy evaluator (:mod:`eipgs.mtp.evaluator`).

Energies are compared per atom of each configuration, forces per Cartesian component, stresses per
component of the 3×3 tensor in GPa (only configurations whose reference has a stress and a 3-D
periodic cell). Atoms flagged as core (a boolean per-atom array, ``core`` by default, as ``eipgs
collect`` stores for clusters, or any array the caller names) get their own force errors; energies
belong to whole configurations and have no core restriction.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms

from eipgs.io.almtp import MTPPotential

__all__ = ["evaluate", "evaluate_files", "predict", "potential_species", "EV_PER_A3_IN_GPA"]

EV_PER_A3_IN_GPA = 160.21766208


def potential_species(atoms: Atoms, pot: MTPPotential, elements: Sequence[str] | None, where: str) -> np.ndarray:
    """MTP species index of every atom: from cfg types (label order of the potential) or, for
    formats with symbols, from ``elements`` (element of species 0, 1, …)."""
    if "type" in atoms.arrays:
        types = np.asarray(atoms.arrays["type"], dtype=np.int64)
        try:
            return np.array([pot.species_of_label(t) for t in types], dtype=np.int64)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    symbols = atoms.get_chemical_symbols()
    if elements:
        missing = sorted(set(symbols) - set(elements))
        if missing:
            raise ValueError(f"{where}: element(s) {', '.join(missing)} not in --elements {' '.join(elements)}")
        species = np.array([list(elements).index(s) for s in symbols], dtype=np.int64)
    elif pot.C == 1 and len(set(symbols)) <= 1:
        species = np.zeros(len(atoms), dtype=np.int64)
    else:
        raise ValueError(f"{where}: give --elements (element of MTP species 0, 1, ...) to map symbols to species")
    if species.max(initial=0) >= pot.C:
        raise ValueError(f"{where}: --elements names {len(elements)} elements but {pot.source} has {pot.C} species")
    return species


def predict(pot: MTPPotential, atoms: Atoms, species: np.ndarray, evaluator=None):
    """:class:`~eipgs.mtp.evaluator.EFSResult` of ``pot`` on ``atoms``."""
    from eipgs.mtp.evaluator import MTPEvaluator, energy_forces_stress

    ev = evaluator or MTPEvaluator(pot)
    return energy_forces_stress(ev, atoms.positions, atoms.cell[:], atoms.pbc, species)


def _reference(atoms: Atoms, where: str) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    calc = atoms.calc
    results = getattr(calc, "results", {}) if calc is not None else {}
    if "energy" not in results:
        raise ValueError(f"{where}: no reference energy (unlabelled data?)")
    energy = float(results["energy"])
    forces = results.get("forces")
    stress = results.get("stress")
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (6,):
            xx, yy, zz, yz, xz, xy = stress
            stress = np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])
    return energy, None if forces is None else np.asarray(forces, dtype=float), stress


def _stats(diff: np.ndarray) -> tuple[float, float]:
    if diff.size == 0:
        return math.nan, math.nan
    return float(np.sqrt(np.mean(diff**2))), float(np.mean(np.abs(diff)))


def evaluate(pot: MTPPotential, images: Sequence[Atoms], *, elements: Sequence[str] | None = None,
             core_array: str = "core", sources: Sequence[str] | None = None,
             progress: bool = False) -> tuple[dict, list[dict]]:
    """(summary, per-configuration rows) of ``pot`` against the labels of ``images``."""
    from tqdm import tqdm

    from eipgs.mtp.evaluator import MTPEvaluator

    if not images:
        raise ValueError("no configurations to evaluate")
    ev = MTPEvaluator(pot)
    where = list(sources) if sources is not None else [f"configuration {k}" for k in range(len(images))]
    rows = []
    e_err, f_err, f_core, s_err = [], [], [], []
    n_atoms = n_core = n_core_configs = 0
    for k, atoms in enumerate(tqdm(images, desc="evaluate", disable=not progress)):
        e_ref, f_ref, s_ref = _reference(atoms, where[k])
        species = potential_species(atoms, pot, elements, where[k])
        res = predict(pot, atoms, species, ev)
        n = len(atoms)
        n_atoms += n
        row = {"index": k, "source": where[k], "n_atoms": n, "energy_ref": e_ref, "energy": res.energy,
               "energy_error_per_atom": (res.energy - e_ref) / n}
        e_err.append((res.energy - e_ref) / n)
        if f_ref is not None:
            d = res.forces - f_ref
            f_err.append(d.ravel())
            row["force_rmse"] = _stats(d)[0]
            core = atoms.arrays.get(core_array)
            if core is not None:
                core = np.asarray(core, dtype=bool)
                f_core.append(d[core].ravel())
                n_core += int(core.sum())
                n_core_configs += 1
                row["n_core"] = int(core.sum())
                row["force_rmse_core"] = _stats(d[core])[0]
        if s_ref is not None and res.stress is not None:
            d = (res.stress - s_ref) * EV_PER_A3_IN_GPA
            s_err.append(d.ravel())
            row["stress_rmse_gpa"] = _stats(d)[0]
        rows.append(row)
    e = np.array(e_err)
    f = np.concatenate(f_err) if f_err else np.zeros(0)
    s = np.concatenate(s_err) if s_err else np.zeros(0)
    summary = {"potential": pot.source, "n_configs": len(images), "n_atoms": n_atoms}
    summary["energy_rmse_per_atom"], summary["energy_mae_per_atom"] = _stats(e)
    summary["energy_max_per_atom"] = float(np.max(np.abs(e)))
    summary["force_rmse"], summary["force_mae"] = _stats(f)
    summary["n_force_configs"] = len(f_err)
    summary["stress_rmse_gpa"], summary["stress_mae_gpa"] = _stats(s)
    summary["n_stress_configs"] = len(s_err)
    if f_core:
        fc = np.concatenate(f_core)
        summary["core"] = {"array": core_array, "n_configs": n_core_configs, "n_atoms": n_core}
        summary["core"]["force_rmse"], summary["core"]["force_mae"] = _stats(fc)
    return summary, rows


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    return value


def _replace_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text)
    os.replace(tmp, path)


def evaluate_files(potential: str | os.PathLike, data: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                   csv_path: str | os.PathLike | None = None, elements: Sequence[str] | None = None,
                   core_array: str = "core", progress: bool = False) -> dict:
    """Read the potential and the data, evaluate, write the JSON summary and the per-configuration CSV."""
    from eipgs.io.almtp import read_almtp
    from eipgs.io.formats import read_structures

    pot = read_almtp(potential, configurations=False)
    images, sources = [], []
    for path in data:
        got = read_structures(path, elements)
        images += got
        sources += [f"{path}:{k}" for k in range(len(got))]
    summary, rows = evaluate(pot, images, elements=elements, core_array=core_array, sources=sources, progress=progress)
    output = Path(output)
    _replace_write(output, json.dumps(_finite_or_none(summary), indent=2) + "\n")
    csv_path = Path(csv_path) if csv_path else output.with_suffix(".csv")
    fields = ["index", "source", "n_atoms", "energy_ref", "energy", "energy_error_per_atom", "force_rmse",
              "n_core", "force_rmse_core", "stress_rmse_gpa"]
    tmp = csv_path.with_name(f".{csv_path.name}.part")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, csv_path)
    summary["csv"] = str(csv_path)
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"{summary['n_configs']} configurations, {summary['n_atoms']} atoms",
             f"energy  RMSE {summary['energy_rmse_per_atom'] * 1000:.3f} meV/atom   MAE {summary['energy_mae_per_atom'] * 1000:.3f} meV/atom",
             f"forces  RMSE {summary['force_rmse']:.4f} eV/Å        MAE {summary['force_mae']:.4f} eV/Å"]
    if summary.get("n_stress_configs"):
        lines.append(f"stress  RMSE {summary['stress_rmse_gpa']:.4f} GPa         ({summary['n_stress_configs']} configurations)")
    if "core" in summary:
        c = summary["core"]
        lines.append(f"core atoms ({c['array']}, {c['n_atoms']} in {c['n_configs']} configurations): "
                     f"forces RMSE {c['force_rmse']:.4f} eV/Å, MAE {c['force_mae']:.4f} eV/Å")
    return "\n".join(lines)


def _cmd_evaluate(args) -> int:
    from eipgs.io.formats import parse_elements

    summary = evaluate_files(args.potential, args.data, args.output, csv_path=args.csv,
                             elements=parse_elements(args.elements), core_array=args.core_array, progress=not args.quiet)
    print(format_summary(summary))
    print(f"wrote {args.output} and {summary['csv']}")
    return 0


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="energy/force/stress errors of an MTP on labelled data (like mlp calculate_errors)",
                       description="Errors of an MTP (.mtp/.almtp) on labelled structures, from eipgs's NumPy "
                       "evaluator. See doc/cli_evaluate.md.")
    p.add_argument("potential", help="trained MTP (.mtp or .almtp, MLIP-3 or motep layout)")
    p.add_argument("data", nargs="+", metavar="DATA", help="labelled structures in any format eipgs reads")
    p.add_argument("-o", "--output", required=True, help="summary JSON")
    p.add_argument("--csv", help="per-configuration CSV (default: OUTPUT with .csv)")
    p.add_argument("--elements", nargs="+", metavar="EL", help="element of MTP species 0, 1, ... (`W` or `W,Cu`)")
    p.add_argument("--core-array", default="core", help="per-atom boolean array flagging core atoms (default core)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_evaluate)

# SPDX-License-Identifier: GPL-2.0-only
"""Finished DFT runs → training sets (``eipgs collect``).

Each run folder is parsed through ASE: ``vasprun.xml`` first, ``OUTCAR`` as the fallback; Quantum ESPRESSO
folders (``pw.out``, from ``eipgs dft qe``) through ASE's ``espresso-out`` reader. A run is kept
only if it finished and its last electronic SCF converged; everything else is reported with the reason
(``collect_report.txt`` / ``collect_report.json``), never silently dropped.

Energy: VASP's free energy (``TOTEN``, the quantity the forces are the derivative of) by default, or the
σ → 0 extrapolation with ``energy="sigma0"``. Stress: kept for fully periodic cells and converted by the
writers (MLIP ``PlusStress`` = −σ_ASE·V in eV, order xx yy zz yz xz xy, doc/design/mtp.md §9.3); dropped for
structures boxed in vacuum, whose stress is meaningless.

Provenance from ``meta.json`` (written by ``eipgs dft``) goes into ``info["features"]``: ``source``,
``source_index``, ``center_id``, ``step``, ``dft_dir``, ``EFS_by`` and the features of the input.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from tqdm import tqdm

__all__ = ["RunResult", "find_runs", "parse_vasp_run", "parse_qe_run", "parse_run", "collect", "deduplicate"]

_RUN_MARKERS = ("vasprun.xml", "OUTCAR", "pw.out", "meta.json")
# Input info that describes the old labels of the structure, not the new DFT result.
_STALE_INFO = {"features", "name", "energy", "free_energy", "stress", "plus_stress", "energy_corrected",
               "w_energy", "pacemaker_index"}


@dataclass
class RunResult:
    folder: Path
    status: str  # "ok", "skipped" (not finished), "rejected" (finished but unusable or inconsistent), "duplicate"
    reason: str = ""
    source: str = ""  # the file the data came from
    atoms: Atoms | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        out = {"folder": str(self.folder), "status": self.status, "reason": self.reason, "source": self.source}
        if self.atoms is not None:
            out["natoms"] = len(self.atoms)
            out["energy"] = float(self.atoms.calc.results["energy"])
        if self.notes:
            out["notes"] = self.notes
        return out


def find_runs(paths: Sequence[str | os.PathLike]) -> list[Path]:
    """Every folder under ``paths`` (itself included) holding vasprun.xml, OUTCAR or meta.json, sorted."""
    runs: set[Path] = set()
    for p in paths:
        p = Path(p)
        if not p.is_dir():
            raise FileNotFoundError(f"DFT folder not found: {p}")
        for root, dirs, files in os.walk(p):
            dirs.sort()
            if any(m in files for m in _RUN_MARKERS):
                runs.add(Path(root))
    return sorted(runs)


# ------------------------------------------------------------------------------------------ VASP


def _vasprun_status(path: Path) -> tuple[str | None, dict]:
    """Check a vasprun.xml: complete XML, and the last SCF stopped before NELM. Returns (problem, info)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return f"vasprun.xml is truncated or corrupt ({exc}); the run crashed or is still running", {}
    calcs = root.findall("calculation")
    if not calcs:
        return "vasprun.xml has no ionic step (<calculation>)", {}
    last = calcs[-1]
    if last.find("energy") is None or last.find("varray[@name='forces']") is None:
        return "the last ionic step in vasprun.xml has no energy or forces", {}
    nelm_el = root.find(".//parameters//i[@name='NELM']")
    nelm = int(nelm_el.text) if nelm_el is not None and nelm_el.text else 60  # VASP's default
    nsc = len(last.findall("scstep"))
    info = {"nelm": nelm, "scf_steps": nsc, "ionic_steps": len(calcs)}
    # VASP stops at NELM whether or not EDIFF was reached; a run that used all NELM steps is unconverged.
    if nsc >= nelm:
        return f"electronic SCF not converged: {nsc} steps = NELM {nelm} in the last ionic step", info
    return None, info


_ITER_RE = re.compile(r"Iteration\s+(\d+)\(\s*(\d+)\)")


def _outcar_status(path: Path) -> tuple[str | None, dict]:
    text = path.read_text(errors="replace")
    iters = list(_ITER_RE.finditer(text))
    if not iters:
        return "OUTCAR has no SCF iteration (the run did not start)", {}
    if "General timing and accounting" not in text:
        return "OUTCAR is incomplete (no 'General timing and accounting'): the run crashed or is still running", {}
    last_ion = iters[-1].group(1)
    first_of_last = next(m for m in iters if m.group(1) == last_ion)
    nsc = sum(1 for m in iters if m.group(1) == last_ion)
    m = re.search(r"NELM\s*=\s*(\d+)", text)
    nelm = int(m.group(1)) if m else 60
    info = {"nelm": nelm, "scf_steps": nsc, "ionic_steps": int(last_ion)}
    # VASP prints this banner only when the SCF met EDIFF (the explicit convergence message).
    if "aborting loop because EDIFF is reached" not in text[first_of_last.start():]:
        return f"electronic SCF not converged: no 'EDIFF is reached' in the last ionic step ({nsc} steps, NELM {nelm})", info
    return None, info


def _non_finite(kept: dict) -> str | None:
    """The first non-finite quantity of a parsed result, named, or None."""
    if not np.isfinite(kept["energy"]):
        return f"energy is {kept['energy']}"
    forces = kept["forces"]
    if not np.all(np.isfinite(forces)):
        atom = int(np.flatnonzero(~np.all(np.isfinite(forces), axis=1))[0])
        return f"forces of atom {atom} are {forces[atom].tolist()}"
    if "stress" in kept and not np.all(np.isfinite(kept["stress"])):
        return f"stress is {kept['stress'].tolist()}"
    return None


def parse_vasp_run(folder: str | os.PathLike, energy: str = "free") -> RunResult:
    """Parse one VASP run folder (last ionic step); status "skipped" with a reason when unusable."""
    import ase.io

    folder = Path(folder)
    if energy not in ("free", "sigma0"):
        raise ValueError(f"energy must be 'free' or 'sigma0', not {energy!r}")
    reasons = []
    for name, fmt, check in (("vasprun.xml", "vasp-xml", _vasprun_status), ("OUTCAR", "vasp-out", _outcar_status)):
        path = folder / name
        if not path.is_file():
            continue
        problem, info = check(path)
        if problem:
            reasons.append(f"{name}: {problem}")
            continue
        try:
            atoms = ase.io.read(path, index=-1, format=fmt)
        except Exception as exc:  # ASE raises many types on malformed files; report, don't crash
            reasons.append(f"{name}: ASE could not read it ({type(exc).__name__}: {exc})")
            continue
        res = atoms.calc.results
        e = res.get("free_energy") if energy == "free" else res.get("energy")
        if e is None or res.get("forces") is None:
            reasons.append(f"{name}: no energy or forces")
            continue
        kept = {"energy": float(e), "forces": np.array(res["forces"], dtype=float)}
        if res.get("stress") is not None:
            kept["stress"] = np.array(res["stress"], dtype=float).reshape(6)
        bad = _non_finite(kept)
        if bad:
            return RunResult(folder, "rejected", reason=f"{name}: non-finite result ({bad})", source=str(path))
        clean = Atoms(symbols=atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
        clean.calc = SinglePointCalculator(clean, **kept)
        result = RunResult(folder, "ok", source=str(path), atoms=clean)
        result.notes = [f"{k}={v}" for k, v in info.items()]
        if reasons:
            result.notes.extend(reasons)
        return result
    if not reasons:
        reasons.append("no vasprun.xml or OUTCAR (not run yet?)")
    return RunResult(folder, "skipped", reason="; ".join(reasons))


# ---------------------------------------------------------------------------- Quantum ESPRESSO


def parse_qe_run(folder: str | os.PathLike) -> RunResult:
    """Parse ``pw.out`` (written by ``eipgs dft qe``'s submit.slurm) through ASE's ``espresso-out`` reader.

    QE's "! total energy" is the free energy F = E − TS with smearing, the energy of its forces.
    """
    import ase.io

    folder = Path(folder)
    path = folder / "pw.out"
    if not path.is_file():
        return RunResult(folder, "skipped", reason="no pw.out (not run yet?)")
    text = path.read_text(errors="replace")
    if "JOB DONE" not in text:
        return RunResult(folder, "skipped", reason="pw.out: no 'JOB DONE.': the run crashed or is still running")
    if "convergence NOT achieved" in text or "convergence has been achieved" not in text:
        return RunResult(folder, "skipped", reason="pw.out: electronic SCF not converged ('convergence NOT achieved')")
    try:
        atoms = ase.io.read(path, index=-1, format="espresso-out")
    except Exception as exc:  # ASE raises many types on malformed files; report, don't crash
        return RunResult(folder, "skipped", reason=f"pw.out: ASE could not read it ({type(exc).__name__}: {exc})")
    res = atoms.calc.results
    if res.get("energy") is None or res.get("forces") is None:
        return RunResult(folder, "skipped", reason="pw.out: no energy or forces (tprnfor missing?)")
    kept = {"energy": float(res["energy"]), "forces": np.array(res["forces"], dtype=float)}
    if res.get("stress") is not None:
        kept["stress"] = np.array(res["stress"], dtype=float).reshape(6)
    bad = _non_finite(kept)
    if bad:
        return RunResult(folder, "rejected", reason=f"pw.out: non-finite result ({bad})", source=str(path))
    clean = Atoms(symbols=atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
    clean.calc = SinglePointCalculator(clean, **kept)
    return RunResult(folder, "ok", source=str(path), atoms=clean)


def parse_run(folder: Path, energy: str = "free") -> RunResult:
    """A QE run if the folder has pw.out (or meta.json says code "qe"), otherwise a VASP run."""
    meta = folder / "meta.json"
    code = None
    if meta.is_file():
        try:
            code = json.loads(meta.read_text()).get("code")
        except (json.JSONDecodeError, AttributeError):
            code = None
    if (folder / "pw.out").is_file() or code == "qe":
        return parse_qe_run(folder)
    return parse_vasp_run(folder, energy=energy)


# ------------------------------------------------------------------------------------ provenance


def _load_meta(folder: Path) -> dict | None:
    path = folder / "meta.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None


def _apply_meta(result: RunResult, meta: dict | None, cluster_surface_weight: float | None) -> None:
    atoms = result.atoms
    features: dict[str, str] = {}
    if meta:
        n = int(meta.get("natoms", len(atoms)))
        if n != len(atoms):
            raise ValueError(f"{result.folder}: meta.json has {n} atoms but the DFT output has {len(atoms)}")
        blocks = meta.get("species_order")
        if blocks:
            expected = [s for s, count in blocks for _ in range(int(count))]
            if expected != atoms.get_chemical_symbols():
                raise ValueError(f"{result.folder}: species in the DFT output differ from meta.json (POSCAR changed?)")
        features.update({str(k): str(v) for k, v in (meta.get("features") or {}).items()})
        for key, meta_key in (("source", "source_file"), ("source_index", "source_index"),
                              ("center_id", "center_id"), ("step", "step")):
            value = meta.get(meta_key)
            if value is not None and value != "":
                features[key] = str(value)
        # The input's other info (e.g. center_grade, radius, source_cell of fix cluster/sample) comes along;
        # the writers turn it into cfg features, extxyz info or pacemaker columns.
        for key, value in (meta.get("info") or {}).items():
            if key in _STALE_INFO or key in atoms.info:
                continue
            atoms.info[key] = np.asarray(value) if isinstance(value, list) else value
        for name in ("core", "inserted"):
            if meta.get(name) is not None:
                atoms.arrays[name] = np.asarray(meta[name]).astype(bool)
        boxed = bool(meta.get("vacuum_axes")) or bool(meta.get("is_cluster"))
    else:
        boxed = False
        result.notes.append("no meta.json: provenance and cluster flags unknown")
    features["dft_dir"] = str(result.folder)
    features["EFS_by"] = "QE" if result.source.endswith("pw.out") else "VASP"
    atoms.info["features"] = features
    atoms.info["name"] = str(result.folder)
    if boxed:
        atoms.info["vacuum_box"] = True
        res = dict(atoms.calc.results)
        if "stress" in res:
            del res["stress"]  # the stress of a box with vacuum is not a bulk stress (doc/design/mtp.md §9.3)
            atoms.calc = SinglePointCalculator(atoms, **res)
    if cluster_surface_weight is not None:
        weights = np.ones(len(atoms))
        if boxed:
            if "core" in atoms.arrays:
                weights[~atoms.arrays["core"]] = cluster_surface_weight
            else:
                result.notes.append("--cluster-surface-weight: no core flags in meta.json, all atoms weight 1")
        atoms.arrays["w_forces"] = weights


# ---------------------------------------------------------------------------------- duplicates


def _same(a: Atoms, b: Atoms, tol_position: float, tol_energy: float) -> bool:
    return (
        len(a) == len(b)
        and np.array_equal(a.numbers, b.numbers)
        and np.allclose(a.cell[:], b.cell[:], atol=tol_position, rtol=0)
        and np.allclose(a.positions, b.positions, atol=tol_position, rtol=0)
        and abs(a.calc.results["energy"] - b.calc.results["energy"]) <= tol_energy
    )


def deduplicate(images: Sequence[Atoms], tol_position: float = 1e-5, tol_energy: float = 1e-6
                ) -> tuple[list[Atoms], list[int]]:
    """Drop later copies of the same structure (species, cell and positions within ``tol_position`` Å) with
    the same energy (within ``tol_energy`` eV). The tolerances absorb the 6-decimal rounding of a compact
    MLIP .cfg, so a set written by ``mlp`` still matches the runs it came from. Returns (kept, dropped idx)."""
    buckets: dict[tuple, list[int]] = {}
    kept: list[Atoms] = []
    dropped: list[int] = []
    for k, atoms in enumerate(images):
        # Bucket by size, composition and energy on a coarse grid; compare exactly within the bucket.
        e = atoms.calc.results["energy"]
        key = (len(atoms), atoms.symbols.formula.format("hill"), round(e, 4))
        candidates = []
        for dk in (-1, 0, 1):  # neighbouring grid cells catch energies that straddle a rounding boundary
            candidates += buckets.get((key[0], key[1], round(key[2] + dk * 1e-4, 4)), [])
        if any(_same(kept[j], atoms, tol_position, tol_energy) for j in candidates):
            dropped.append(k)
            continue
        buckets.setdefault(key, []).append(len(kept))
        kept.append(atoms)
    return kept, dropped


# ------------------------------------------------------------------------------------- collect


def collect(
    dftdirs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    elements: Sequence[str] | None = None,
    e0: Mapping[str, float] | None = None,
    cluster_surface_weight: float | None = None,
    merge: Sequence[str | os.PathLike] = (),
    energy: str = "free",
    no_loss: bool = True,
    report: str | os.PathLike | None = None,
) -> dict:
    """Collect every finished run under ``dftdirs`` into ``output`` (format from its name).

    ``merge`` lists existing training sets that come first in the output; duplicates (same structure,
    same energy) are dropped and reported. Returns the report dictionary.
    """
    from eipgs.io.formats import detect_format, read_structures, write_structures

    output = Path(output)
    detect_format(output)  # fail before the work if the name is wrong
    if cluster_surface_weight is not None and not (0.0 <= cluster_surface_weight <= 1.0):
        raise ValueError(f"--cluster-surface-weight must be in [0, 1], got {cluster_surface_weight}")
    runs = find_runs(dftdirs)
    if not runs:
        raise ValueError(f"no DFT run folders (with vasprun.xml, OUTCAR or meta.json) under {list(map(str, dftdirs))}")
    results: list[RunResult] = []
    meta_elements: list[str] | None = None
    # One inconsistent folder (a hand-edited POSCAR, a meta.json of another batch, NaN forces) is reported
    # as "rejected" and the batch goes on; the caller learns the count and exits non-zero.
    for folder in tqdm(runs, desc="collect", unit="run", disable=len(runs) < 20):
        result = parse_run(folder, energy=energy)
        try:
            meta = _load_meta(folder)
            if meta and meta.get("elements"):
                if meta_elements is None:
                    meta_elements = list(meta["elements"])
                elif list(meta["elements"]) != meta_elements and elements is None:
                    raise ValueError(
                        f"{folder}/meta.json: elements {meta['elements']} differ from {meta_elements} of other runs; "
                        "pass --elements to fix the type order"
                    )
            if result.status == "ok":
                _apply_meta(result, meta, cluster_surface_weight)
        except ValueError as exc:
            result = RunResult(folder, "rejected", reason=str(exc), source=result.source)
        results.append(result)

    merged: list[Atoms] = []
    for path in merge:
        for atoms in read_structures(path, elements=elements or meta_elements):
            if atoms.calc is None or "energy" not in atoms.calc.results:
                raise ValueError(f"{path}: structure {atoms.info.get('source_index')} has no energy; cannot merge it")
            stored = atoms.calc.results
            values = {"energy": float(stored["energy"]),
                     "forces": np.asarray(stored.get("forces", np.zeros((len(atoms), 3))), dtype=float)}
            if stored.get("stress") is not None:
                values["stress"] = np.asarray(stored["stress"], dtype=float).reshape(-1)
            bad = _non_finite(values)
            if bad:
                raise ValueError(f"{path}: structure {atoms.info.get('source_index')}: non-finite {bad}; cannot merge it")
            if cluster_surface_weight is not None and "w_forces" not in atoms.arrays:
                atoms.arrays["w_forces"] = np.ones(len(atoms))
            merged.append(atoms)
    new = [r.atoms for r in results if r.status == "ok"]
    kept, dropped = deduplicate(merged + new)
    ok_results = [r for r in results if r.status == "ok"]
    for k in dropped:
        if k < len(merged):
            continue  # duplicates inside the merged sets are reported by count only
        r = ok_results[k - len(merged)]
        r.status, r.reason = "duplicate", "same structure and energy as an earlier entry"
    n_written = 0
    if kept:
        n_written = write_structures(output, kept, elements=elements or meta_elements, no_loss=no_loss, e0=e0)
    summary = {
        "output": str(output),
        "written": n_written,
        "merged_from": [str(p) for p in merge],
        "merged_structures": len(merged),
        "collected": sum(r.status == "ok" for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "rejected": sum(r.status == "rejected" for r in results),
        "duplicates": len(dropped),
        "energy": energy,
        "runs": [r.as_dict() for r in results],
    }
    _write_report(summary, Path(report) if report else output.parent / "collect_report")
    if not kept:
        report_txt = str(Path(report) if report else output.parent / "collect_report") + ".txt"
        raise ValueError(
            f"no usable DFT run: {summary['skipped']} skipped, {summary['rejected']} rejected (see {report_txt})"
        )
    return summary


def _write_report(summary: dict, prefix: Path) -> None:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    from eipgs.io.atomic import write_text_atomic

    write_text_atomic(str(prefix) + ".json", json.dumps(summary, indent=1) + "\n")
    lines = [
        f"eipgs collect → {summary['output']}",
        f"written {summary['written']} structures: {summary['collected']} runs collected, "
        f"{summary['merged_structures']} merged from existing sets, {summary['duplicates']} duplicates dropped, "
        f"{summary['skipped']} runs skipped, {summary.get('rejected', 0)} rejected",
        "",
    ]
    for run in summary["runs"]:
        if run["status"] == "ok":
            lines.append(f"ok        {run['folder']}  ({run['natoms']} atoms, E = {run['energy']:.6f} eV, {Path(run['source']).name})")
        else:
            lines.append(f"{run['status']:<9} {run['folder']}  {run['reason']}")
    write_text_atomic(str(prefix) + ".txt", "\n".join(lines) + "\n")

# SPDX-License-Identifier: GPL-2.0-only
"""Figures and a Markdown summary of sampling runs (``eipgs report``).

Figures (PNG, matplotlib Agg), each written only when its data exist; the reason is recorded otherwise:

- ``gamma_histogram.png``: per-atom grades γ of every dataset, log-spaced bins and a log count axis, with
  the paper's thresholds γ_select = 2 and γ_break = 10 (doc/design/pcc.md §9);
- ``gamma_max_vs_step.png``: γ_max over the simulation steps, from LAMMPS log thermo columns (or from
  the frames of a dump, with their timesteps);
- ``pca_descriptors.png``: 2-D PCA of per-atom MTP descriptors B_α (the moment block of
  doc/design/mtp.md §1.3) of several datasets overlaid, as in Fig. 3d of the paper; needs the potential;
- ``pcc_energy.png``: energy per atom against size of the structures that carry an energy (e.g. PCC
  cells), with min/median/max per dataset in the summary.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from ase import Atoms

__all__ = ["Dataset", "load_dataset", "read_thermo", "descriptors", "report", "report_datasets", "GRADE_NAMES"]

GRADE_NAMES = ("nbh_grades", "grade", "gamma", "extrapolation_grade")
GAMMA_SELECT, GAMMA_BREAK = 2.0, 10.0  # paper
FIGSIZE, DPI = (6.4, 4.8), 100
PCA_ALPHA = 0.6  # overlapping datasets stay visible


@dataclass
class Dataset:
    label: str
    path: Path
    images: list[Atoms] = field(default_factory=list)


def load_dataset(path: str | os.PathLike, elements: Sequence[str] | None = None, label: str | None = None) -> Dataset:
    from eipgs.io.formats import read_structures

    path = Path(path)
    images = read_structures(path, elements=elements)
    name = label or re.sub(r"(\.pckl\.gzip|\.pkl\.gz|\.[A-Za-z0-9]+)$", "", path.name)
    return Dataset(name, path, images)


def _grade_array(atoms: Atoms, column: str | None) -> np.ndarray | None:
    if column:
        return np.asarray(atoms.arrays[column], dtype=float).reshape(-1) if column in atoms.arrays else None
    for name in GRADE_NAMES:
        if name in atoms.arrays:
            return np.asarray(atoms.arrays[name], dtype=float).reshape(-1)
    for name in atoms.arrays:
        if "grade" in name.lower() or "gamma" in name.lower():
            return np.asarray(atoms.arrays[name], dtype=float).reshape(-1)
    return None


def _ghost_mask(atoms: Atoms) -> np.ndarray:
    ghost = atoms.arrays.get("ghost")
    return np.zeros(len(atoms), dtype=bool) if ghost is None else np.asarray(ghost, dtype=bool)


def read_thermo(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Thermo columns of a LAMMPS log (all run blocks concatenated; a repeated step keeps the later row)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"LAMMPS log not found: {path}")
    columns: dict[str, list[float]] = {}
    header: list[str] | None = None
    for line in path.read_text(errors="replace").splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "Step":
            header = tokens
            for name in header:
                columns.setdefault(name, [])
            continue
        if header is None:
            continue
        if len(tokens) != len(header):
            header = None if tokens[0] in ("Loop", "ERROR:", "WARNING:") else header
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            header = None
            continue
        n = len(columns["Step"])
        for name in columns:
            columns[name].extend([np.nan] * (n - len(columns[name])))
        for name, value in zip(header, values):
            columns[name].append(value)
        for name in columns:
            if name not in header:
                columns[name].append(np.nan)
    if not columns.get("Step"):
        raise ValueError(f"{path}: no thermo table (a line starting with 'Step' followed by numbers)")
    out = {k: np.asarray(v, dtype=float) for k, v in columns.items()}
    step = out["Step"]
    _, last = np.unique(step[::-1], return_index=True)
    keep = np.sort(len(step) - 1 - last)
    return {k: v[keep] for k, v in out.items()}


def _evaluate(images: Sequence[Atoms], pot, elements: Sequence[str] | None, where: str, grades: bool
              ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """One MTP evaluation per structure: B_α blocks and site energies of the non-ghost atoms, and (with
    ``grades``) their γ. Ghost atoms are neighbours (they are real atoms) but not centres of the result."""
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration, grade_rows
    from eipgs.mtp.species import species_of_atoms

    ev = MTPEvaluator(pot)
    S = pot.require_active_set("nbh").S if grades else None
    offset = pot.C * pot.C * pot.K * pot.R + pot.C
    blocks, energies, gammas = [], [], []
    for k, atoms in enumerate(images):
        species = species_of_atoms(atoms, pot, elements=elements, where=f"{where} (structure {k}): ")
        res = evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species, grades=False, keep_rows=True)
        included = species >= 0
        real = ~_ghost_mask(atoms)[included]
        rows = res.rows[real]
        blocks.append(rows[:, offset:])
        energies.append(res.energy[included][real])
        if grades:
            gammas.append(grade_rows(rows, S))
    if not blocks:
        return np.zeros((0, pot.n_lin)), np.zeros(0), gammas
    return np.concatenate(blocks), np.concatenate(energies), gammas


def descriptors(images: Sequence[Atoms], pot, elements: Sequence[str] | None = None, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Per-atom B_α (N_atoms × N_lin) and site energies V_i of every non-ghost atom (doc/design/mtp.md §1.3).

    B_α is the moment block of the row b_i (doc/design/mtp.md §2), evaluated by the NumPy MTP evaluator.
    """
    B, V, _ = _evaluate(images, pot, elements, where, grades=False)
    return B, V


def _pca(X: np.ndarray, ncomp: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Projections on the first principal axes of standardised X, and their explained-variance ratios."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0  # constant descriptors carry no information; keep them at 0
    Z = (X - mean) / std
    _, s, vt = np.linalg.svd(Z, full_matrices=False)
    var = s**2
    ratio = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return Z @ vt[:ncomp].T, ratio[:ncomp]


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    return plt, fig, ax


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    from eipgs.io.atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format=path.suffix.lstrip(".") or "png")
    plt.close(fig)


def report(
    inputs: Sequence[str | os.PathLike],
    outdir: str | os.PathLike,
    *,
    labels: Sequence[str] | None = None,
    elements: Sequence[str] | None = None,
    potential: str | os.PathLike | None = None,
    logs: Sequence[str | os.PathLike] = (),
    gamma_column: str | None = None,
    thermo_column: str | None = None,
    max_pca_atoms: int = 5000,
    seed: int = 0,
) -> dict:
    """``eipgs report``: read ``inputs`` (any format of :mod:`eipgs.io.formats`) and ``potential``, then
    :func:`report_datasets`."""
    if labels is not None and len(labels) != len(inputs):
        raise ValueError(f"--label given {len(labels)} times for {len(inputs)} inputs")
    datasets = [load_dataset(p, elements, labels[k] if labels else None) for k, p in enumerate(inputs)]
    for ds in datasets:
        if not ds.images:
            raise ValueError(f"no structures in {ds.path}")
    pot = None
    if potential is not None:
        from eipgs.io.almtp import read_almtp

        pot = read_almtp(potential)
    return report_datasets(datasets, outdir, elements=elements, pot=pot, logs=logs, gamma_column=gamma_column,
                           thermo_column=thermo_column, max_pca_atoms=max_pca_atoms, seed=seed)


def report_datasets(
    datasets: Sequence[Dataset] | Mapping[str, Sequence[Atoms]],
    outdir: str | os.PathLike,
    *,
    elements: Sequence[str] | None = None,
    pot=None,
    logs: Sequence[str | os.PathLike] = (),
    gamma_column: str | None = None,
    thermo_column: str | None = None,
    max_pca_atoms: int = 5000,
    seed: int = 0,
) -> dict:
    """Write the figures and ``report.md`` into ``outdir`` for structures in memory; returns what was drawn
    and what was skipped.

    ``datasets`` maps a label to its structures (ASE Atoms), or is a list of :class:`Dataset`. ``pot`` (an
    :class:`~eipgs.io.almtp.MTPPotential`) enables the descriptor PCA and the grades of datasets that carry
    none; each structure is evaluated once for both.
    """
    from tqdm import tqdm

    if pot is not None:
        from eipgs.mtp.species import check_elements

        check_elements(pot, elements)
    if isinstance(datasets, Mapping):
        datasets = [Dataset(str(label), Path(str(label)), list(images)) for label, images in datasets.items()]
    datasets = list(datasets)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    summary_rows = []

    # γ per dataset: stored per-atom grades, else computed with the potential (if it has an active set).
    # The descriptors of the PCA come from the same evaluation.
    grades: dict[str, np.ndarray] = {}
    evaluated: list[np.ndarray] = []
    can_grade = pot is not None and pot.active_set is not None and pot.active_set.mode == "nbh"
    for ds in tqdm(datasets, desc="report", unit="dataset", disable=len(datasets) < 3):
        values = []
        for atoms in ds.images:
            g = _grade_array(atoms, gamma_column)
            if g is not None:
                values.append(g[~_ghost_mask(atoms)])
        if pot is not None:
            B, _, gammas = _evaluate(ds.images, pot, elements, str(ds.path), grades=can_grade and not values)
            evaluated.append(B)
            values = values or gammas
        if values:
            grades[ds.label] = np.concatenate(values)

    # 1. γ histogram.
    if grades:
        plt, fig, ax = _figure()
        positive = np.concatenate([g[g > 0] for g in grades.values()])
        lo = max(float(positive.min()), 1e-3) if len(positive) else 1e-3
        hi = max(float(positive.max()), GAMMA_BREAK * 3.0) if len(positive) else 100.0
        bins = np.logspace(np.log10(lo), np.log10(hi), 60)
        for label, g in grades.items():
            ax.hist(g[g > 0], bins=bins, histtype="step", linewidth=1.5, label=f"{label} ({len(g)} atoms)")
        for value, name in ((GAMMA_SELECT, "γ_select"), (GAMMA_BREAK, "γ_break")):
            ax.axvline(value, color="0.3", linestyle="--", linewidth=1)
            ax.text(value, 0.97, f" {name} = {value:g}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("extrapolation grade γ")
        ax.set_ylabel("atoms per bin")
        ax.set_title("Per-atom extrapolation grades")
        ax.legend(fontsize=8)
        _save(plt, fig, outdir / "gamma_histogram.png")
        figures["gamma_histogram"] = {"path": str(outdir / "gamma_histogram.png"),
                                      "points": int(sum(len(g) for g in grades.values()))}
    else:
        skipped["gamma_histogram"] = "no per-atom grades in the inputs (nbh_grades/grade column) and no potential with an active set"

    # 2. γ_max over steps.
    series = []
    for log in logs:
        thermo = read_thermo(log)
        names = [thermo_column] if thermo_column else [
            n for n in thermo if n != "Step" and re.search(r"grade|gamma|gmax", n, re.IGNORECASE)]
        if thermo_column and thermo_column not in thermo:
            raise ValueError(f"{log}: no thermo column {thermo_column!r} (columns: {', '.join(thermo)})")
        for name in names:
            ok = np.isfinite(thermo[name])
            series.append((f"{Path(log).name}: {name}", thermo["Step"][ok], thermo[name][ok]))
    for ds in datasets:
        steps = [a.info.get("timestep", a.info.get("step")) for a in ds.images]
        if len(ds.images) > 1 and all(s is not None for s in steps):
            gmax = []
            for atoms in ds.images:
                g = _grade_array(atoms, gamma_column)
                gmax.append(float(g[~_ghost_mask(atoms)].max()) if g is not None and len(g) else np.nan)
            if np.isfinite(gmax).any():
                series.append((f"{ds.label}: max γ per frame", np.asarray(steps, dtype=float), np.asarray(gmax)))
    if series:
        plt, fig, ax = _figure()
        for label, x, y in series:
            ax.plot(x, y, marker=".", linewidth=1, label=label)
        ax.axhline(GAMMA_SELECT, color="0.3", linestyle="--", linewidth=1)
        ax.axhline(GAMMA_BREAK, color="0.3", linestyle=":", linewidth=1)
        if all(np.nanmin(y) > 0 for _, _, y in series if np.isfinite(y).any()):
            ax.set_yscale("log")
        ax.set_xlabel("MD step")
        ax.set_ylabel("γ_max")
        ax.set_title("Maximum extrapolation grade during the run")
        ax.legend(fontsize=8)
        _save(plt, fig, outdir / "gamma_max_vs_step.png")
        figures["gamma_max_vs_step"] = {"path": str(outdir / "gamma_max_vs_step.png"),
                                        "points": int(sum(len(x) for _, x, _ in series))}
    else:
        skipped["gamma_max_vs_step"] = "no LAMMPS log with a grade column (--log) and no multi-frame dump with grades"

    # 3. PCA of descriptors.
    if pot is not None:
        rng = np.random.default_rng(seed)
        blocks, owners = [], []
        for B in evaluated:
            if len(B) > max_pca_atoms:
                B = B[np.sort(rng.choice(len(B), max_pca_atoms, replace=False))]
            blocks.append(B)
            owners.append(np.full(len(B), len(owners)))
        X = np.concatenate(blocks)
        owner = np.concatenate(owners)
        if len(X) >= 3:
            proj, ratio = _pca(X)
            plt, fig, ax = _figure()
            for k, ds in enumerate(datasets):
                sel = owner == k
                ax.scatter(proj[sel, 0], proj[sel, 1], s=6, alpha=PCA_ALPHA, label=f"{ds.label} ({int(sel.sum())} atoms)")
            ax.set_xlabel(f"PC1 ({100 * ratio[0]:.1f} % of variance)")
            ax.set_ylabel(f"PC2 ({100 * ratio[1]:.1f} % of variance)")
            ax.set_title(f"MTP descriptors B_α (standardised), {Path(pot.source).name}")
            ax.legend(fontsize=8, markerscale=2)
            _save(plt, fig, outdir / "pca_descriptors.png")
            figures["pca_descriptors"] = {"path": str(outdir / "pca_descriptors.png"), "points": int(len(X)),
                                          "explained_variance": [float(r) for r in ratio]}
        else:
            skipped["pca_descriptors"] = "fewer than 3 atoms"
    else:
        skipped["pca_descriptors"] = "no --potential given (the descriptors are the MTP's B_α)"

    # 4. Energies (PCC cells or any structures with energies).
    energy_sets = []
    for ds in datasets:
        pts = []
        for atoms in ds.images:
            results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
            # `eipgs pcc` cells carry their EAM energy as info["pe"] (eV), DFT results as calc energy
            e = results.get("energy", atoms.info.get("energy", atoms.info.get("pe")))
            if e is not None and len(atoms):
                pts.append((len(atoms), float(e) / len(atoms)))
        if pts:
            energy_sets.append((ds.label, np.asarray(pts)))
    if energy_sets:
        plt, fig, ax = _figure()
        for label, pts in energy_sets:
            ax.scatter(pts[:, 0], pts[:, 1], s=14, label=f"{label} ({len(pts)} structures)")
        ax.set_xlabel("atoms per structure")
        ax.set_ylabel("energy per atom (eV/atom)")
        ax.set_title("Energies of the structures")
        ax.legend(fontsize=8)
        _save(plt, fig, outdir / "pcc_energy.png")
        figures["pcc_energy"] = {"path": str(outdir / "pcc_energy.png"),
                                 "points": int(sum(len(p) for _, p in energy_sets))}
    else:
        skipped["pcc_energy"] = "no structure carries an energy"

    for ds in datasets:
        row = {"label": ds.label, "file": str(ds.path), "structures": len(ds.images),
               "atoms": int(sum(len(a) for a in ds.images))}
        g = grades.get(ds.label)
        if g is not None and len(g):
            row.update(gamma_max=float(g.max()), above_select=int((g > GAMMA_SELECT).sum()),
                       above_break=int((g > GAMMA_BREAK).sum()))
        pts = dict(energy_sets).get(ds.label)
        if pts is not None:
            row.update(e_min=float(pts[:, 1].min()), e_median=float(np.median(pts[:, 1])), e_max=float(pts[:, 1].max()))
        summary_rows.append(row)
    _write_markdown(outdir / "report.md", summary_rows, figures, skipped)
    return {"figures": figures, "skipped": skipped, "datasets": summary_rows}


def _write_markdown(path: Path, rows, figures, skipped) -> None:
    def cell(row, key, fmt):
        return fmt.format(row[key]) if key in row else "–"

    lines = ["# eipgs report", "", "| dataset | structures | atoms | γ_max | atoms γ > 2 | atoms γ > 10 | "
             "E/atom min | median | max (eV) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['label']} | {r['structures']} | {r['atoms']} | {cell(r, 'gamma_max', '{:.5f}')} | "
            f"{cell(r, 'above_select', '{}')} | {cell(r, 'above_break', '{}')} | {cell(r, 'e_min', '{:.4f}')} | "
            f"{cell(r, 'e_median', '{:.4f}')} | {cell(r, 'e_max', '{:.4f}')} |"
        )
    lines.append("")
    for name, fig in figures.items():
        lines += [f"## {name}", "", f"![{name}]({Path(fig['path']).name})", ""]
    if skipped:
        lines += ["## Not drawn", ""] + [f"- {name}: {why}" for name, why in skipped.items()] + [""]
    from eipgs.io.atomic import write_text_atomic

    write_text_atomic(path, "\n".join(lines))

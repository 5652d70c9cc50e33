"""Per-atom extrapolation grades γ_i = max_j |(S·b_i)_j| for whole configurations (mtp-grade.md §3)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from eipgs.io.almtp import MTPPotential
from eipgs.mtp.evaluator import MTPEvaluator
from eipgs.mtp.neighbours import neighbour_pairs

__all__ = ["ConfigurationResult", "evaluate_configuration", "grade_atoms", "grade_rows", "species_for_types"]


@dataclass
class ConfigurationResult:
    species: np.ndarray  # (N,) species index per atom, -1 = excluded
    energy: np.ndarray  # (N,) site energies (0 for excluded atoms)
    grades: np.ndarray | None  # (N,) γ (0 for excluded atoms)
    rows: np.ndarray | None  # (N_included, m) b_i, when asked for


def species_for_types(types: np.ndarray, type_to_species: np.ndarray, source: str = "") -> np.ndarray:
    """Map per-atom types through ``type_to_species`` (index = type; −1 = excluded)."""
    types = np.asarray(types, dtype=np.int64)
    table = np.asarray(type_to_species, dtype=np.int64)
    if len(types) and (types.min() < 0 or types.max() >= len(table)):
        bad = int(types.max() if types.max() >= len(table) else types.min())
        raise ValueError(f"{source}type {bad} has no entry in the species mapping {table.tolist()}")
    return table[types]


def grade_rows(rows: np.ndarray, S: np.ndarray) -> np.ndarray:
    """γ for each row b: max |b · A⁻¹| = max |S · b| (one GEMM Γ = B·Sᵀ, mtp-grade.md §3.1).

    A row with NaN or inf entries gets γ = inf: above every threshold, never mistaken for an
    interpolating 0 (the same convention as fix mtp/grade).
    """
    if len(rows) == 0:
        return np.zeros(0)
    with np.errstate(invalid="ignore", over="ignore"):
        gamma = np.max(np.abs(rows @ S.T), axis=1)
    gamma[np.isnan(gamma)] = np.inf
    return gamma


def evaluate_configuration(
    evaluator: MTPEvaluator,
    positions: np.ndarray,
    cell: np.ndarray,
    pbc,
    species: np.ndarray,
    *,
    grades: bool = True,
    keep_rows: bool = False,
    chunk: int = 2048,
    progress: Callable[[int], object] | None = None,
) -> ConfigurationResult:
    """Site energies and (optionally) grades of every atom with species ≥ 0.

    Atoms with species −1 are neither graded nor neighbours. Work is done in chunks of centres so
    that memory stays bounded on large configurations; ``progress(n)`` is called after each chunk
    with the number of centres it held (e.g. ``tqdm.update``).
    """
    pot = evaluator.pot
    species = np.asarray(species, dtype=np.int64)
    n = len(species)
    if len(species) and species.max() >= pot.C:
        raise ValueError(f"species index {int(species.max())} >= species_count {pot.C} of {pot.source}")
    S = pot.require_active_set("nbh").S if grades else None
    include = species >= 0
    i, j, D = neighbour_pairs(positions, cell, pbc, pot.max_dist, include)
    energy = np.zeros(n)
    gamma = np.zeros(n) if grades else None
    kept = [] if keep_rows else None
    centres = np.flatnonzero(include)
    bounds = np.searchsorted(i, centres)  # pairs are sorted by centre
    bounds = np.append(bounds, len(i))
    for start in range(0, len(centres), chunk):
        sel = centres[start : start + chunk]
        p0, p1 = bounds[start], bounds[min(start + chunk, len(centres))]
        local = np.empty(n, dtype=np.int64)
        local[sel] = np.arange(len(sel))
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite results are reported below
            res = evaluator.evaluate(
                len(sel), species[sel], local[i[p0:p1]], species[j[p0:p1]], D[p0:p1], rows=grades or keep_rows
            )
        energy[sel] = res.energy
        if grades:
            gamma[sel] = grade_rows(res.rows, S)
        if keep_rows:
            kept.append(res.rows)
        if progress is not None:
            progress(len(sel))
    rows = np.concatenate(kept) if keep_rows and kept else (np.zeros((0, pot.m)) if keep_rows else None)
    if grades and not np.all(np.isfinite(gamma)):
        _warn_nonfinite(gamma, i, j, D)
    return ConfigurationResult(species=species, energy=energy, grades=gamma, rows=rows)


class NonFiniteGradeWarning(RuntimeWarning):
    """Some atom's grade is not finite (overlapping atoms, overflowing coefficients); it is reported as inf."""


def _warn_nonfinite(gamma: np.ndarray, i: np.ndarray, j: np.ndarray, D: np.ndarray) -> None:
    """One warning per configuration naming the first atom (0-based index) whose γ is inf, and its partner."""
    bad = np.flatnonzero(~np.isfinite(gamma))
    first = int(bad[0])
    zero = np.flatnonzero((i == first) & ~np.any(D, axis=1))
    if len(zero):
        why = f"atom {first} sits on atom {int(j[zero[0]])} (distance 0: overlapping atoms)"
    else:
        why = f"atom {first} has NaN or inf in its MTP row (overflowing potential coefficients?)"
    warnings.warn(
        f"{len(bad)} atom(s) have a non-finite extrapolation grade; {why} (0-based indices). "
        "Their grade is reported as inf, above every threshold.",
        NonFiniteGradeWarning,
        stacklevel=3,
    )


def grade_atoms(
    pot: MTPPotential,
    atoms,
    type_to_species=None,
    *,
    evaluator: MTPEvaluator | None = None,
    keep_rows: bool = False,
) -> ConfigurationResult:
    """Grades and site energies of an ASE ``Atoms`` with ``arrays["type"]``.

    ``type_to_species[t]`` is the MTP species of type t (−1 = excluded), e.g. ``[-1, 0, 1]`` for LAMMPS
    types 1, 2 → species 0, 1. Default: cfg convention, type t → position of t among the species labels.
    """
    if "type" not in atoms.arrays:
        raise ValueError("atoms need arrays['type'] (cfg or LAMMPS types) to be mapped to MTP species")
    types = np.asarray(atoms.arrays["type"], dtype=np.int64)
    if type_to_species is None:
        species = np.array([pot.species_of_label(t) for t in types], dtype=np.int64)
    else:
        species = species_for_types(types, type_to_species)
    ev = evaluator or MTPEvaluator(pot)
    return evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species, keep_rows=keep_rows)

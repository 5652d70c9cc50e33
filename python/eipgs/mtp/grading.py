# SPDX-License-Identifier: GPL-2.0-only
"""Per-atom extrapolation grades γ_i = max_j |(S·b_i)_j| for whole configurations (doc/design/mtp.md §3)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from eipgs.io.almtp import MTPPotential
from eipgs.mtp.evaluator import MTPEvaluator
from eipgs.mtp.neighbours import neighbour_pairs
from eipgs.mtp.species import species_for_types, species_of_atoms

__all__ = [
    "ConfigurationResult",
    "evaluate_configuration",
    "grade_atoms",
    "grade_rows",
    "species_for_types",
    "neighbour_estimate",
    "check_neighbour_budget",
    "MAX_NEIGHBOUR_PAIRS",
    "MAX_PERIODIC_IMAGES",
]


@dataclass
class ConfigurationResult:
    species: np.ndarray  # (N,) species index per atom, -1 = excluded
    energy: np.ndarray  # (N,) site energies (0 for excluded atoms)
    grades: np.ndarray | None  # (N,) γ (0 for excluded atoms)
    rows: np.ndarray | None  # (N_included, m) b_i, when asked for


# Bounds on the neighbour list of one configuration (doc/cli_grade.md, "Limits"): each pair costs ~50 bytes
# in the neighbour search and each periodic image ~50 bytes, so 5·10⁷ of either is a few GB. Real
# potentials (max_dist ≲ 10 Å) stay orders of magnitude below; a corrupted or absurd max_dist does not.
MAX_NEIGHBOUR_PAIRS = 50_000_000
MAX_PERIODIC_IMAGES = 50_000_000


def neighbour_estimate(positions: np.ndarray, cell: np.ndarray, pbc, cutoff: float) -> tuple[int, int]:
    """(periodic images, neighbour pairs) that a neighbour list with ``cutoff`` would hold, estimated
    from the number density without building it (within a factor ~2; an overestimate near surfaces)."""
    from ase.geometry import complete_cell

    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    if n == 0:
        return 0, 0
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    full = complete_cell(np.asarray(cell, dtype=float).reshape(3, 3))
    volume = abs(np.linalg.det(full))
    if volume < 1e-12 or not np.all(np.isfinite(positions)):
        return n, n * n  # the neighbour list itself reports what is wrong
    frac = positions @ np.linalg.inv(full)
    rows = full.copy()
    for axis in np.flatnonzero(~pbc):
        length = np.linalg.norm(full[axis])
        extent = float(np.ptp(frac[:, axis])) * length
        rows[axis] = full[axis] / length * max(extent, 1.0)  # the span the atoms occupy, at least 1 Å
    spacing = volume / np.linalg.norm(np.cross(full[[1, 2, 0]], full[[2, 0, 1]]), axis=1)
    with np.errstate(over="ignore"):
        reps = np.where(pbc, np.ceil(cutoff / spacing), 0.0)
        images = float(n) * float(np.prod(2.0 * reps + 1.0))
        density = n / abs(np.linalg.det(rows))
        per_atom = min(images, density * 4.0 / 3.0 * np.pi * float(cutoff) ** 3)
    return int(min(images, 2**62)), int(min(n * per_atom, 2**62))


def check_neighbour_budget(positions: np.ndarray, cell: np.ndarray, pbc, cutoff: float, source: str = "") -> None:
    """Refuse a neighbour list that would exhaust memory (an absurd max_dist, a tiny cell), naming why."""
    images, pairs = neighbour_estimate(positions, cell, pbc, cutoff)
    if pairs > MAX_NEIGHBOUR_PAIRS or images > MAX_PERIODIC_IMAGES:
        raise ValueError(
            f"{source}max_dist = {cutoff:g} Å would need about {pairs:.3g} neighbour pairs and {images:.3g} periodic "
            f"images for {len(positions)} atoms (limits {MAX_NEIGHBOUR_PAIRS:.0e} and {MAX_PERIODIC_IMAGES:.0e}); "
            "check max_dist of the potential (MTPs use 4-8 Å) and the cell of the structure"
        )


def grade_rows(rows: np.ndarray, S: np.ndarray) -> np.ndarray:
    """γ for each row b: max |b · A⁻¹| = max |S · b| (one GEMM Γ = B·Sᵀ, doc/design/mtp.md §3.1).

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
    check_neighbour_budget(np.asarray(positions)[include], cell, pbc, pot.max_dist, f"{pot.source}: ")
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
    """Grades and site energies of an ASE ``Atoms``.

    ``type_to_species[t]`` is the MTP species of ``arrays["type"]`` t (−1 = excluded), e.g. ``[0, 1]`` for
    cfg types 0, 1 → species 0, 1. Default: :func:`eipgs.mtp.species.species_of_atoms` (cfg type t →
    position of t among the species labels; a one-element structure and a one-species MTP need no types).
    """
    if type_to_species is None:
        species = species_of_atoms(atoms, pot)
    else:
        if "type" not in atoms.arrays:
            raise ValueError("atoms need arrays['type'] (cfg or LAMMPS types) to be mapped through type_to_species")
        species = species_for_types(np.asarray(atoms.arrays["type"], dtype=np.int64), type_to_species)
    ev = evaluator or MTPEvaluator(pot)
    return evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, species, keep_rows=keep_rows)

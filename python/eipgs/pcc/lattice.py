# SPDX-License-Identifier: GPL-2.0-only
"""The core's local lattice and periodic cells commensurate with it (doc/design/pcc-method.md §10, §12).

`fit_lattice` finds the best-fit deformation gradient of a cluster's non-defect atoms: the matrix
`F` whose columns are the conventional cubic cell vectors of the (strained, rotated) host lattice,
and the Cartesian position of one lattice site. `commensurate_cell` then builds a periodic cell
spanned by whole conventional cells of that lattice, so the filled region continues the core's own
lattice (strain and orientation included) instead of being forced to zero pressure around it.

A cluster has "no clear lattice" when a-CNA finds no bcc/fcc atom in it, or when fewer than
`MIN_MATCHED` of its core atoms lie within `MATCH_TOLERANCE` nearest-neighbour distances of a site
of the fitted lattice (grain boundaries, amorphous or heavily distorted cores); the caller then
falls back to the grid of orthogonal boxes relaxed to zero pressure.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from eipgs.pcc.cna import adaptive_cna

# conventional-cell basis (fractions of the cube edge)
BASIS = {
    "bcc": np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]]),
    "fcc": np.array([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]),
}
NEAREST = {"bcc": np.sqrt(3.0) / 2.0, "fcc": 1.0 / np.sqrt(2.0)}  # nearest-neighbour distance / a
SHELL = {"bcc": 14, "fcc": 18}  # neighbours up to and including the 6 second neighbours along the cube axes
MATCH_TOLERANCE = 0.25  # × nearest-neighbour distance
MIN_MATCHED = 0.6


@dataclass
class LatticeFit:
    structure: str  # "bcc" or "fcc"
    F: np.ndarray  # columns: conventional cell vectors (Å), right-handed
    origin: np.ndarray  # Cartesian position of a lattice site
    rms: float  # Å, residual of the matched atoms
    matched: float  # fraction of the fitted atoms on lattice sites

    @property
    def nearest(self) -> float:
        """Mean nearest-neighbour distance of the fitted lattice (Å)."""
        return float(NEAREST[self.structure] * np.cbrt(abs(np.linalg.det(self.F))))

    def strain(self) -> np.ndarray:
        """Green-Lagrange strain relative to the cubic lattice of the same volume per atom... of edge a0."""
        a0 = np.cbrt(abs(np.linalg.det(self.F)))
        C = self.F.T @ self.F / a0**2
        return 0.5 * (C - np.eye(3))


def _nearest_sites(u: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """For fractional coordinates u (n × 3), the nearest lattice site (n × 3) in the same coordinates."""
    cands = np.stack([np.round(u - b) + b for b in basis], axis=1)  # n × nb × 3
    best = np.linalg.norm(cands - u[:, None, :], axis=2).argmin(axis=1)
    return cands[np.arange(len(u)), best]


def fit_lattice(atoms: Atoms, radius: float, structure: str | None = None) -> tuple[LatticeFit | None, str]:
    """Fit the host lattice to the atoms within `radius` of the origin (the centre); (fit, why-not)."""
    labels = adaptive_cna(atoms)
    rel = atoms.positions
    dist = np.linalg.norm(rel, axis=1)
    candidates = [s for s in ("bcc", "fcc") if structure in (None, s)]
    counts = {s: int(np.sum(labels == s)) for s in candidates}
    host = max(counts, key=counts.get)
    if counts[host] == 0:
        return None, "no clear lattice: no bcc or fcc atom by a-CNA"
    # anchor: the host-structured atom nearest the centre gives orientation and a first F
    anchor = int(np.flatnonzero(labels == host)[np.argmin(dist[labels == host])])
    vec = rel - rel[anchor]
    r = np.linalg.norm(vec, axis=1)
    shell = np.argsort(r)[1:SHELL[host] + 1]
    axes = vec[shell[-6:]]  # ±a along the three cube axes
    F0 = np.zeros((3, 3))
    used: set[int] = set()
    for _ in range(3):
        # the cube axis most aligned with a Cartesian axis not yet taken; sign so that component is positive
        score = np.abs(axes) / np.linalg.norm(axes, axis=1)[:, None]
        score[:, list(used)] = -1
        k, cart = np.unravel_index(np.argmax(score), score.shape)
        v = axes[k] * np.sign(axes[k, cart])
        F0[:, cart] = v
        used.add(int(cart))
        axes = axes[np.abs(axes @ v) < 0.5 * np.dot(v, v)]  # drop ±v
    if np.linalg.det(F0) <= 0 or len(used) != 3:
        return None, "no clear lattice: the anchor atom's second shell is not cubic"
    fit_set = dist < radius
    F, origin = F0, rel[anchor].copy()
    nn = NEAREST[host]
    matched = np.zeros(len(atoms), dtype=bool)
    for _ in range(4):
        u = np.linalg.solve(F, (rel - origin).T).T
        sites = _nearest_sites(u, BASIS[host])
        resid = np.linalg.norm((u - sites) @ F.T, axis=1)
        matched = fit_set & (resid < MATCH_TOLERANCE * nn * np.cbrt(np.linalg.det(F)))
        if matched.sum() < 4:
            break
        # least squares r = origin + F s over the matched atoms
        A = np.hstack([sites[matched], np.ones((int(matched.sum()), 1))])
        sol, *_ = np.linalg.lstsq(A, rel[matched], rcond=None)
        F, origin = sol[:3].T, sol[3]
    fraction = float(matched.sum() / max(1, fit_set.sum()))
    if fraction < MIN_MATCHED:
        return None, f"no clear lattice: only {fraction:.0%} of the core atoms lie on one {host} lattice"
    u = np.linalg.solve(F, (rel - origin).T).T
    resid = np.linalg.norm((u - _nearest_sites(u, BASIS[host])) @ F.T, axis=1)
    rms = float(np.sqrt(np.mean(resid[matched] ** 2)))
    return LatticeFit(host, F, origin, rms, fraction), ""


def lattice_sites(fit: LatticeFit, reps: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(cell, sites): the cell spanned by reps[k] conventional cells along F's columns (rows = cell
    vectors), and every lattice site of it, wrapped into the cell centred on the origin."""
    cell = (fit.F * np.asarray(reps, dtype=float)).T
    grid = np.array(list(itertools.product(*[range(n) for n in reps])), dtype=float)
    frac_sites = (grid[:, None, :] + BASIS[fit.structure][None, :, :]).reshape(-1, 3)
    cart = fit.origin + frac_sites @ fit.F.T
    frac = np.linalg.solve(cell.T, cart.T).T
    frac -= np.round(frac)  # into [-1/2, 1/2): centred on the centre atom
    return cell, frac @ cell


def images_clear(cell: np.ndarray, core: np.ndarray, cutoff: float, periodic=(True, True, True)) -> bool:
    """No periodic image of a core atom within `cutoff` of the centre (origin) (pcc-method.md §10 (4))."""
    ranges = [range(-2, 3) if p else range(0, 1) for p in periodic]
    shifts = np.array([n for n in itertools.product(*ranges) if any(n)], dtype=float) @ cell
    d = np.linalg.norm(core[None, :, :] + shifts[:, None, :], axis=2)
    return bool(d.min() >= cutoff + 0.01)


def choose_reps(fit: LatticeFit, core: np.ndarray, cutoff: float, max_atoms: int) -> list[tuple[int, int, int]]:
    """Repetitions of the conventional cell whose cells fit under the cap and keep core images out of
    the cutoff sphere: the most sites first, then the most isotropic."""
    nb = len(BASIS[fit.structure])
    out = []
    for reps in itertools.product(range(2, 8), repeat=3):
        if nb * np.prod(reps) > max_atoms:
            continue
        cell = (fit.F * np.asarray(reps, dtype=float)).T
        if images_clear(cell, core, cutoff):
            lengths = np.linalg.norm(cell, axis=1)
            out.append((-int(np.prod(reps)), float(lengths.max() - lengths.min()), reps))
    return [r for *_, r in sorted(out)]


def surface_normal(cluster: Atoms, radius: float, threshold: float = 0.15) -> np.ndarray | None:
    """Unit normal pointing into the vacuum when the centre's neighbourhood (atoms within `radius`) is
    lopsided: the centroid of a filled sphere sits at the centre, that of a half-space at 3/8 radius."""
    rel = cluster.positions
    inside = np.linalg.norm(rel, axis=1) < radius
    offset = rel[inside].mean(axis=0)
    if np.linalg.norm(offset) < threshold * radius:
        return None
    return -offset / np.linalg.norm(offset)


def slab_axis(fit: LatticeFit, normal: np.ndarray, max_angle: float = 20.0) -> int | None:
    """The cube axis k whose lattice planes (normal = row k of F^-1) are closest to the surface normal,
    if within max_angle degrees; a slab cell is built along it."""
    recip = np.linalg.inv(fit.F)  # rows: plane normals of the conventional cell faces
    cosines = recip @ normal / np.linalg.norm(recip, axis=1)
    k = int(np.argmax(np.abs(cosines)))
    if np.degrees(np.arccos(min(1.0, abs(cosines[k])))) > max_angle:
        return None
    return k

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
from scipy.spatial import cKDTree

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


def _anchor_frame(rel: np.ndarray, anchor: int, host: str) -> np.ndarray | None:
    """A first F from the anchor atom's six second neighbours (±a along the cube axes), each cube axis
    given to the Cartesian axis it is most aligned with, sign positive (so an unrotated crystal gives a
    near-diagonal F)."""
    vec = rel - rel[anchor]
    r = np.linalg.norm(vec, axis=1)
    shell = np.argsort(r)[1:SHELL[host] + 1]
    axes = vec[shell[-6:]]
    F0 = np.zeros((3, 3))
    used: set[int] = set()
    for _ in range(3):
        if len(axes) == 0:
            return None
        score = np.abs(axes) / np.linalg.norm(axes, axis=1)[:, None]
        score[:, list(used)] = -1
        k, cart = np.unravel_index(np.argmax(score), score.shape)
        v = axes[k] * np.sign(axes[k, cart])
        F0[:, cart] = v
        used.add(int(cart))
        axes = axes[np.abs(axes @ v) < 0.5 * np.dot(v, v)]  # drop ±v
    if np.linalg.det(F0) <= 0 or len(used) != 3:
        return None
    return F0


def _refine(rel: np.ndarray, F: np.ndarray, origin: np.ndarray, host: str, fit_set: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Least-squares F and origin over the atoms of fit_set that sit on the lattice; (F, origin, matched, rms)."""
    nn = NEAREST[host]
    matched = np.zeros(len(rel), dtype=bool)
    for _ in range(4):
        u = np.linalg.solve(F, (rel - origin).T).T
        sites = _nearest_sites(u, BASIS[host])
        resid = np.linalg.norm((u - sites) @ F.T, axis=1)
        matched = fit_set & (resid < MATCH_TOLERANCE * nn * np.cbrt(np.linalg.det(F)))
        if matched.sum() < 4:
            break
        A = np.hstack([sites[matched], np.ones((int(matched.sum()), 1))])
        sol, *_ = np.linalg.lstsq(A, rel[matched], rcond=None)
        F, origin = sol[:3].T, sol[3]
    u = np.linalg.solve(F, (rel - origin).T).T
    resid = np.linalg.norm((u - _nearest_sites(u, BASIS[host])) @ F.T, axis=1)
    matched = fit_set & (resid < MATCH_TOLERANCE * nn * np.cbrt(abs(np.linalg.det(F))))
    rms = float(np.sqrt(np.mean(resid[matched] ** 2))) if matched.any() else float("inf")
    return F, origin, matched, rms


def _host(labels: np.ndarray, structure: str | None) -> str | None:
    candidates = [s for s in ("bcc", "fcc") if structure in (None, s)]
    counts = {s: int(np.sum(labels == s)) for s in candidates}
    host = max(counts, key=counts.get)
    return host if counts[host] else None


def fit_lattice(atoms: Atoms, radius: float, structure: str | None = None) -> tuple[LatticeFit | None, str]:
    """Fit the host lattice to the atoms within `radius` of the origin (the centre); (fit, why-not)."""
    labels = adaptive_cna(atoms)
    rel = atoms.positions
    dist = np.linalg.norm(rel, axis=1)
    host = _host(labels, structure)
    if host is None:
        return None, "no clear lattice: no bcc or fcc atom by a-CNA"
    # anchor: the host-structured atom nearest the centre gives orientation and a first F
    anchor = int(np.flatnonzero(labels == host)[np.argmin(dist[labels == host])])
    F0 = _anchor_frame(rel, anchor, host)
    if F0 is None:
        return None, "no clear lattice: the anchor atom's second shell is not cubic"
    fit_set = dist < radius
    F, origin, matched, rms = _refine(rel, F0, rel[anchor].copy(), host, fit_set)
    fraction = float(matched.sum() / max(1, fit_set.sum()))
    if fraction < MIN_MATCHED:
        return None, f"no clear lattice: only {fraction:.0%} of the core atoms lie on one {host} lattice"
    return LatticeFit(host, F, origin, rms, fraction), ""


def fit_grains(atoms: Atoms, radius: float, structure: str | None = None, max_grains: int = 3,
               min_atoms: int = 10) -> tuple[list[LatticeFit], np.ndarray]:
    """Lattices of the grains of a cluster (e.g. both sides of a grain boundary), greedily: fit from the
    host atom nearest the centre, then again from the nearest host atom no fitted lattice explains.
    Returns the fits and, per atom, the index of the grain it sits on (-1: none)."""
    labels = adaptive_cna(atoms)
    rel = atoms.positions
    dist = np.linalg.norm(rel, axis=1)
    grain = np.full(len(atoms), -1)
    fits: list[LatticeFit] = []
    host = _host(labels, structure)
    if host is None:
        return fits, grain
    while len(fits) < max_grains:
        free = (grain < 0) & (labels == host)
        if not free.any():
            break
        anchor = int(np.flatnonzero(free)[np.argmin(dist[free])])
        F0 = _anchor_frame(rel, anchor, host)
        if F0 is None:
            grain[anchor] = -2  # not usable as an anchor; try the next
            continue
        F, origin, matched, rms = _refine(rel, F0, rel[anchor].copy(), host, grain == -1)
        if matched.sum() < min_atoms:
            grain[anchor] = -2
            continue
        grain[matched] = len(fits)
        inside = dist < radius
        fits.append(LatticeFit(host, F, origin, rms, float(matched[inside].sum() / max(1, inside.sum()))))
    grain[grain == -2] = -1
    return fits, grain


def grain_sites(atoms: Atoms, fits: list[LatticeFit], grain: np.ndarray, lengths) -> np.ndarray:
    """Sites of an orthogonal box (centred on the origin) continuing each grain: a site of lattice g
    is kept where the nearest atom of the cluster that sits on a lattice belongs to grain g."""
    lengths = np.asarray(lengths, dtype=float)
    on = grain >= 0
    if not on.any():
        return np.zeros((0, 3))
    keep = []
    reach = np.linalg.norm(lengths) / 2 + 1.0
    for g, fit in enumerate(fits):
        edge = np.cbrt(abs(np.linalg.det(fit.F)))
        n = int(np.ceil(reach / (0.8 * edge))) + 1
        grid = np.array(list(itertools.product(range(-n, n + 1), repeat=3)), dtype=float)
        frac = (grid[:, None, :] + BASIS[fit.structure][None, :, :]).reshape(-1, 3)
        cart = fit.origin + frac @ fit.F.T
        cart = cart[np.all((cart >= -lengths / 2) & (cart < lengths / 2), axis=1)]
        _, nearest = cKDTree(atoms.positions[on]).query(cart)
        keep.append(cart[grain[on][nearest] == g])
    return np.vstack(keep) if keep else np.zeros((0, 3))


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

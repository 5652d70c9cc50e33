# SPDX-License-Identifier: GPL-2.0-only
"""The core's local lattice and periodic cells commensurate with it (doc/design/pcc.md §10, §12).

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
from dataclasses import dataclass, replace

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
        # -2 marks anchors already tried and refused: they must not be picked again
        free = (grain == -1) & (labels == host)
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
    """No periodic image of a core atom within `cutoff` of the centre (origin) (doc/design/pcc.md §10 (4))."""
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


# primitive vectors (columns, in conventional-cube units) of the cubic Bravais lattices
PRIMITIVE = {
    "bcc": np.array([[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]]),
    "fcc": np.array([[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]),
}
CSL_TOLERANCE = 0.05  # × nearest-neighbour distance: a translation of one grain that is one of the other too
CSL_REACH = 24.0  # Å, longest coincidence vector searched
PLANE_ANGLE = 12.0  # degrees, largest tilt of a coincidence vector still taken as lying in the boundary plane


@dataclass
class Bicrystal:
    """A periodic cell with the source's boundary through the core and a second one half a period away."""

    cell: np.ndarray  # rows; rows 1 and 2 lie in the boundary plane
    sites: np.ndarray  # lattice sites of both grains (each on its side), centred on the origin
    normal: np.ndarray  # unit normal of the boundary, from grain `below` towards grain `above`
    offset: float  # the boundary plane is x·normal = offset
    thickness: float  # cell period along the normal (the boundaries are thickness/2 apart)


def _coincidence_vectors(a: LatticeFit, b: LatticeFit, reach: float) -> np.ndarray:
    """Translations (Å) of lattice a shorter than `reach` that are translations of lattice b as well."""
    Pa, Pb = a.F @ PRIMITIVE[a.structure], b.F @ PRIMITIVE[b.structure]
    shortest = np.linalg.norm(Pa, axis=0).min()
    n = int(np.ceil(reach / (0.5 * shortest)))
    m = np.array(list(itertools.product(range(-n, n + 1), repeat=3)), dtype=float)
    v = m @ Pa.T
    v = v[(np.linalg.norm(v, axis=1) < reach) & np.any(m != 0, axis=1)]
    mb = np.linalg.solve(Pb, v.T).T
    miss = np.linalg.norm((mb - np.round(mb)) @ Pb.T, axis=1)
    return v[miss < CSL_TOLERANCE * min(a.nearest, b.nearest)]


def _reduce2(u: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lagrange-Gauss reduction of a 2D lattice basis (any embedding in 3D)."""
    while True:
        if np.dot(u, u) > np.dot(w, w):
            u, w = w, u
        k = np.round(np.dot(u, w) / np.dot(u, u))
        if k == 0:
            return u, w
        w = w - k * u


def _lattice_points(fit: LatticeFit, cell: np.ndarray) -> np.ndarray:
    """Every site of `fit` in the periodic cell (rows), wrapped into the cell centred on the origin."""
    reach = np.abs(np.linalg.solve(fit.F, cell.T)).sum(axis=1) / 2 + 2  # cube cells per half-diagonal, per axis
    rng = [range(-int(np.ceil(r)), int(np.ceil(r)) + 1) for r in reach]
    grid = np.array(list(itertools.product(*rng)), dtype=float)
    frac_sites = (grid[:, None, :] + BASIS[fit.structure][None, :, :]).reshape(-1, 3)
    cart = fit.origin + frac_sites @ fit.F.T
    frac = np.linalg.solve(cell.T, cart.T).T
    frac -= np.floor(frac + 0.5)
    # periodic images of one site (equal up to the fit's round-off): keep the first
    unit = np.mod(frac, 1.0)
    unit[unit >= 1.0] = 0.0
    tree = cKDTree(unit, boxsize=1.0)
    keep = np.ones(len(frac), dtype=bool)
    for i, j in sorted(tree.query_pairs(1e-4)):
        if keep[i]:
            keep[j] = False
    return frac[keep] @ cell


def _on_lattice(fit: LatticeFit, positions: np.ndarray) -> np.ndarray:
    u = np.linalg.solve(fit.F, (positions - fit.origin).T).T
    resid = np.linalg.norm((u - _nearest_sites(u, BASIS[fit.structure])) @ fit.F.T, axis=1)
    return resid < MATCH_TOLERANCE * fit.nearest


def bicrystal_cells(atoms: Atoms, fits: list[LatticeFit], core: np.ndarray, cutoff: float,
                    max_atoms: int, count: int = 2) -> tuple[list[Bicrystal], str]:
    """Periodic bicrystal cells continuing both grains of a two-grain core (a grain boundary).

    The boundary plane is the plane that separates the two grains' atoms; its in-plane cell vectors
    and the third vector are coincidence-site-lattice (CSL) translations, i.e. translations of both
    fitted lattices, so each grain continues without defect across the periodic boundaries. The
    source's boundary runs through the core; the cell's second boundary (the periodic partner the
    cell needs) lies half a period away along the normal, as far from the first as the cell allows.
    Cells: fewest sites under `max_atoms` with no periodic image of the core within `cutoff` of the
    centre. Returns up to `count` cells (fewest sites first), or ([], why not).
    """
    if len(fits) != 2:
        return [], f"bicrystal: needs exactly two grains, the core has {len(fits)}"
    a, b = fits
    # atoms on one lattice only: coincidence sites sit on both and say nothing about the side
    pos = atoms.positions
    only = [_on_lattice(f, pos) & ~_on_lattice(o, pos) for f, o in ((a, b), (b, a))]
    on0, on1 = pos[only[0]], pos[only[1]]
    if len(on0) < 4 or len(on1) < 4:
        return [], "bicrystal: a grain has fewer than 4 atoms of its own"
    normal = on1.mean(axis=0) - on0.mean(axis=0)
    normal /= np.linalg.norm(normal)
    csl = _coincidence_vectors(a, b, CSL_REACH)
    if len(csl) < 3:
        return [], f"bicrystal: no coincidence lattice within {CSL_REACH:g} Å (a high-Σ or general boundary)"
    length = np.linalg.norm(csl, axis=1)
    in_plane = csl[np.abs(csl @ normal) < np.sin(np.radians(PLANE_ANGLE)) * length]
    if len(in_plane) < 2:
        return [], "bicrystal: no coincidence vectors in the boundary plane"
    e1 = in_plane[np.argmin(np.linalg.norm(in_plane, axis=1))]
    cross = np.linalg.norm(np.cross(in_plane, e1), axis=1) / np.linalg.norm(in_plane, axis=1) / np.linalg.norm(e1)
    rest = in_plane[cross > 0.2]
    if not len(rest):
        return [], "bicrystal: the coincidence vectors in the boundary plane are collinear"
    e2 = rest[np.argmin(np.linalg.norm(rest, axis=1))]
    e1, e2 = _reduce2(e1, e2)
    plane_normal = np.cross(e1, e2)
    plane_normal /= np.linalg.norm(plane_normal)
    if plane_normal @ normal < 0:
        plane_normal, e2 = -plane_normal, -e2
    normal = plane_normal  # snapped to the coincidence plane
    # boundary position: midway between the grains' nearest atoms along the normal
    s0, s1 = on0 @ normal, on1 @ normal
    # boundary position: the plane that misplaces the fewest of those atoms (ties: the middle one)
    s = np.concatenate([s0, s1])
    side = np.concatenate([np.zeros(len(s0)), np.ones(len(s1))])[np.argsort(s)]
    s = np.sort(s)
    errors = np.concatenate([[0], np.cumsum(side)]) + np.concatenate([np.cumsum((1 - side)[::-1])[::-1], [0]])
    best = np.flatnonzero(errors == errors.min())
    k = best[len(best) // 2]
    offset = float(0.5 * (s[max(k - 1, 0)] + s[min(k, len(s) - 1)]))
    heights = csl @ normal
    # the second boundary (half a period away) must lie beyond every core atom
    reach_normal = float(np.abs(core @ normal - offset).max()) + 0.5
    step = heights[heights > 1e-6].min()
    volume_per_site = abs(np.linalg.det(a.F)) / len(BASIS[a.structure])
    candidates = []
    for index in range(1, 13):  # 2D supercells of the in-plane coincidence lattice (Hermite normal forms)
        for i in (d for d in range(1, index + 1) if index % d == 0):
            k = index // i
            for j in range(k):
                u, w = _reduce2(i * e1, j * e1 + k * e2)
                area = np.linalg.norm(np.cross(u, w))
                if np.linalg.norm(u) < 0.75 * (cutoff + 1.0):
                    continue
                for layers in range(1, 8):
                    height = layers * step
                    sites = area * height / volume_per_site
                    if sites > max_atoms or height < 2 * reach_normal:
                        continue
                    tops = csl[np.abs(heights - height) < 1e-6]
                    if not len(tops):
                        continue
                    # the least sheared third vector: its in-plane part reduced modulo (u, w)
                    t = tops[np.argmin(np.linalg.norm(tops - np.outer(tops @ normal, normal), axis=1))]
                    flat = t - (t @ normal) * normal
                    basis2 = np.array([u, w])
                    coef = np.linalg.lstsq(basis2.T, flat, rcond=None)[0]
                    t = t - np.round(coef) @ basis2
                    cell = np.array([t, u, w])
                    if np.linalg.det(cell) < 0:
                        cell = np.array([t, w, u])
                    candidates.append((round(sites), float(np.ptp(np.linalg.norm(cell, axis=1))), cell, height))
    candidates.sort(key=lambda c: (c[0], c[1]))
    out: list[Bicrystal] = []
    for _, _, cell, height in candidates:
        if not images_clear(cell, core, cutoff):
            continue
        if any(abs(np.linalg.det(cell) - np.linalg.det(o.cell)) < 1e-6 for o in out):
            continue
        sites = []
        for g, fit in enumerate(fits):
            # the cell's vectors are translations of this grain only to within the fit's noise:
            # strain the grain (by at most CSL_TOLERANCE) so that they are exactly, and its sites
            # repeat with the cell
            P = PRIMITIVE[fit.structure]
            m = np.round(np.linalg.solve(fit.F @ P, cell.T))
            exact = replace(fit, F=cell.T @ np.linalg.inv(m) @ np.linalg.inv(P))
            pts = _lattice_points(exact, cell)
            s = pts @ normal - offset
            s -= height * np.floor(s / height + 0.5)  # height of the site above the source boundary, in [-h/2, h/2)
            sites.append(pts[(s >= 0) if g == 1 else (s < 0)])
        sites = np.vstack(sites)
        if len(sites) > 1.05 * abs(np.linalg.det(cell)) / volume_per_site:
            continue  # not commensurate after all (a coincidence that was a near miss)
        out.append(Bicrystal(cell, sites, normal, float(offset), float(height)))
        if len(out) == count:
            break
    return out, "" if out else f"bicrystal: no coincidence cell under the cap of {max_atoms} atoms clears the core's images"

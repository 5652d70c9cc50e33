# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs build`: polycrystal grain count (by an orientation analysis of the atoms), closest pair and
density; the screw dislocation's Burgers vector by a circuit on the LAMMPS-relaxed core; the crack's
opening against the isotropic K field; the elastic constants the builders use against LAMMPS;
refusals of impossible requests."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from eipgs.build import W_ELASTIC_CONSTANTS, W_LATTICE_CONSTANT
from eipgs.build.crack import crack
from eipgs.build.dislocation import screw_dislocation
from eipgs.build.polycrystal import polycrystal

A = W_LATTICE_CONSTANT
BCC_DENSITY = 2.0 / A**3


@pytest.fixture(scope="module")
def eam(tmp_path_factory):
    from eipgs.potentials import zhou04_eam_file

    return zhou04_eam_file(["W"], tmp_path_factory.mktemp("eam"))


def cube_axes_fingerprints(atoms) -> tuple[np.ndarray, np.ndarray]:
    """For every atom with a perfect bcc first and second shell (8 at 0.866 a, 6 at a), the three cube
    axes from its second-shell vectors, as |components| with the axes sorted: a key that the 24 proper
    rotations of the cube leave unchanged. Returns (atom indices, keys as flat 9-vectors)."""
    i, d, D = neighbor_list("idD", atoms, 1.1 * A)
    first = (d > 0.8 * A) & (d < 0.93 * A)
    second = (d > 0.93 * A) & (d < 1.07 * A)
    n1 = np.bincount(i[first], minlength=len(atoms))
    n2 = np.bincount(i[second], minlength=len(atoms))
    ok = np.flatnonzero((n1 == 8) & (n2 == 6) & (np.bincount(i, minlength=len(atoms)) == 14))
    rows = second & np.isin(i, ok)
    order = np.argsort(i[rows], kind="stable")
    vectors = (D[rows][order] / d[rows][order, None]).reshape(-1, 6, 3)  # ok is sorted, as i[rows][order]
    keys, perfect = [], []
    for atom, v in zip(ok, vectors):
        # one of each ± pair: the three mutually orthogonal directions
        picked = [v[0]]
        for w in v[1:]:
            if all(abs(np.dot(w, p)) < 0.5 for p in picked):
                picked.append(w)
        if len(picked) != 3:  # a boundary atom whose shells only count right
            continue
        m = np.abs(np.array(picked))  # the sign of an axis is a symmetry of the cube
        keys.append(m[np.lexsort(m.T[::-1])].ravel())
        perfect.append(atom)
    return np.array(perfect), np.array(keys)


def count_orientations(keys: np.ndarray, tolerance: float = 0.08, min_atoms: int = 20) -> int:
    """Greedy clustering of orientation keys; clusters of at least ``min_atoms`` atoms are grains."""
    centres, counts = [], []
    for k in keys:
        for c, centre in enumerate(centres):
            if np.max(np.abs(k - centre)) < tolerance:
                counts[c] += 1
                break
        else:
            centres.append(k)
            counts.append(1)
    return int(sum(n >= min_atoms for n in counts))


def test_polycrystal_grains_distance_density():
    grains, box = 6, 60.0
    atoms = polycrystal(grains, box, seed=7)
    # every seed owns atoms, and an orientation analysis that knows nothing of the seeds finds the
    # same number of distinct crystal orientations among the bulk-like atoms
    assert sorted(np.unique(atoms.arrays["grain"])) == list(range(grains))
    ok, keys = cube_axes_fingerprints(atoms)
    assert len(ok) > 0.4 * len(atoms)  # grains of ~30 Å: the rest is within the second shell of a boundary
    assert count_orientations(keys) == grains
    # each grain's bulk atoms share one orientation: the one the builder drew for it
    for g in range(grains):
        mine = keys[atoms.arrays["grain"][ok] == g]
        same = np.max(np.abs(mine - np.median(mine, axis=0)), axis=1) < 0.08
        assert same.mean() > 0.97, g  # but a few boundary atoms whose shells happen to count right
    # no pair closer than the documented cut-off (ASE neighbour list, periodic), some just above it
    d = neighbor_list("d", atoms, 2.0)
    overlap = atoms.info["overlap"]
    assert overlap == pytest.approx(0.5 * math.sqrt(3) / 2 * A)
    assert d.min() >= overlap
    assert d.min() < 1.6
    # density within 2 % of bcc (the removed boundary atoms make it lower, never higher)
    density = len(atoms) / atoms.get_volume()
    assert density == pytest.approx(BCC_DENSITY, rel=0.02)
    assert density < BCC_DENSITY * 1.002


def test_polycrystal_single_grain_is_perfect_crystal():
    """One grain in a cube that holds a whole number of cells: Voronoi = the whole box; only the sites
    that the random rotation puts across the periodic faces can overlap."""
    atoms = polycrystal(1, 8 * A, seed=2)
    assert abs(len(atoms) - 2 * 8**3) < 0.05 * 2 * 8**3


def test_polycrystal_seeded_and_cli(tmp_path):
    a1, a2 = polycrystal(3, 40.0, seed=5), polycrystal(3, 40.0, seed=5)
    np.testing.assert_array_equal(a1.positions, a2.positions)
    other = polycrystal(3, 40.0, seed=6)
    assert len(other) != len(a1) or not np.allclose(other.positions, a1.positions)
    out = tmp_path / "poly.data"
    proc = subprocess.run([sys.executable, "-m", "eipgs.cli", "build", "polycrystal", "--grains", "3", "--box", "40",
                           "--seed", "5", "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    from eipgs.io.lammps import read_lammps_data

    back = read_lammps_data(out, elements=["W"])
    assert len(back) == len(a1)
    np.testing.assert_allclose(np.sort(back.positions[:, 0]), np.sort(a1.positions[:, 0]), atol=1e-9)


@pytest.mark.parametrize("args, message", [
    (["polycrystal", "--grains", "200", "--box", "30"], "at most 106 grains"),
    (["polycrystal", "--grains", "2", "--box", "6"], "smaller than two lattice constants"),
    (["polycrystal", "--grains", "0", "--box", "30"], "--grains must be >= 1"),
    (["slab", "--size", "4", "4", "2"], "4 layers"),
    (["dislocation", "--radius", "8"], "--radius"),
    (["crack", "--size", "4", "20", "1"], "6 × 6 cells"),
])
def test_builders_refuse_impossible_requests(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "eipgs.cli", "build", *args, "-o", str(tmp_path / "x.data")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("eipgs build: error:") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.data").exists()


def test_elastic_constants_match_lammps(eam):
    """C11, C12, C44 of the generated Zhou04 file by ±1e-4 strains of a bcc box in LAMMPS."""
    from eipgs.lmp import create_lammps, run

    def stress(exx: float, gxy: float) -> np.ndarray:
        lmp = create_lammps()
        try:
            run(lmp, ["units metal", "boundary p p p", "atom_style atomic", f"lattice bcc {A}",
                      "region b prism 0 3 0 3 0 3 0 0 0", "create_box 1 b", "create_atoms 1 box",
                      "pair_style eam/alloy", f"pair_coeff * * {eam} W",
                      f"change_box all x scale {1 + exx} xy delta {gxy * 3 * A} remap units box", "run 0"])
            return -1e-4 * np.array([lmp.get_thermo(k) for k in ("pxx", "pyy", "pxy")])  # bar → GPa
        finally:
            lmp.close()

    h = 1e-4
    s = (stress(h, 0) - stress(-h, 0)) / (2 * h)
    c44 = ((stress(0, h) - stress(0, -h)) / (2 * h))[2]
    np.testing.assert_allclose([s[0], s[1], c44], W_ELASTIC_CONSTANTS, rtol=2e-3)


def burgers_circuit(positions: np.ndarray, centre: np.ndarray, radius: float, period: float) -> np.ndarray:
    """Sum of the perfect-lattice vectors assigned to the bonds of a closed loop of atoms around ``centre``
    (an annulus of atoms at ``radius`` in the x-y plane, in angular order), minus the sum of the real bond
    vectors: zero for a loop in good crystal, the Burgers vector for a loop around a dislocation."""
    axes = np.array([[1, 1, -2], [-1, 1, 0], [1, 1, 1]], dtype=float)
    axes /= np.linalg.norm(axes, axis=1)[:, None]
    n = np.arange(-4, 5)
    ijk = np.stack(np.meshgrid(n, n, n, indexing="ij"), -1).reshape(-1, 3)
    ijk = ijk[np.all(ijk % 2 == 0, axis=1) | np.all(ijk % 2 == 1, axis=1)]  # bcc: all even or all odd halves
    lattice = (ijk * A / 2) @ axes.T
    lattice = lattice[np.linalg.norm(lattice, axis=1) < 8.0]
    rel = positions[:, :2] - centre
    r = np.linalg.norm(rel, axis=1)
    ring = np.flatnonzero(np.abs(r - radius) < 1.5)
    ring = ring[np.argsort(np.arctan2(rel[ring, 1], rel[ring, 0]))]
    total = np.zeros(3)
    for i, j in zip(ring, np.roll(ring, -1)):
        d = positions[j] - positions[i]
        d[2] -= period * np.round(d[2] / period)  # the line is periodic: nearest image along z
        v = lattice[np.argmin(np.linalg.norm(lattice - d, axis=1))]
        assert np.linalg.norm(v - d) < 0.6, "a bond too strained to map onto the lattice"
        total += v - d
    return total


def test_screw_dislocation_burgers_vector_after_relaxation(eam, tmp_path):
    """A circuit around the core of the LAMMPS-relaxed cylinder closes with a failure of b = a√3/2 along
    the line; a circuit beside the core closes exactly. Also before relaxation: matscipy's field."""
    from eipgs.build.cli import _write
    from eipgs.lmp import create_lammps, run

    atoms = screw_dislocation(22.0, length=3)
    b = atoms.info["burgers"]
    assert b == pytest.approx(math.sqrt(3) / 2 * A)
    period = atoms.cell.lengths()[2]
    core = np.asarray(atoms.info["core"])
    data = tmp_path / "dislocation.data"
    _write(atoms, str(data), "W")
    lmp = create_lammps()
    try:
        run(lmp, ["units metal", "boundary s s p", "atom_style atomic", f"read_data {data}",
                  "pair_style eam/alloy", f"pair_coeff * * {eam} W W", "group held type 2",
                  "fix hold held setforce 0 0 0", "minimize 0 1e-3 2000 20000"])
        relaxed_positions = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3).copy()  # by id
    finally:
        lmp.close()
    held = atoms.arrays["type"] == 2
    change = relaxed_positions - atoms.positions
    change[:, 2] -= period * np.round(change[:, 2] / period)
    assert np.abs(change[held]).max() < 1e-6
    moved = np.abs(change).max()
    assert moved > 0.01  # the core did relax
    for positions in (atoms.positions, relaxed_positions):
        around = burgers_circuit(positions, core, 9.0, period)
        assert np.abs(around[:2]).max() < 0.05
        assert abs(around[2]) == pytest.approx(b, abs=0.05)
        beside = burgers_circuit(positions, core + np.array([0.0, 12.0]), 4.0, period)
        assert np.abs(beside).max() < 0.05


def test_crack_opening_matches_isotropic_k_field():
    """W is elastically isotropic (Zener ratio 1.01), so matscipy's anisotropic field must open the crack
    as δ(r) = (κ + 1) K / μ · √(r / 2π), κ = 3 − 4ν (plane strain), behind the tip, and not ahead of it."""
    k = 1.5
    atoms = crack((24, 24, 1), k)
    tip = np.asarray(atoms.info["tip"])
    ref, pos = atoms.arrays["reference"], atoms.positions
    c11, c12, c44 = W_ELASTIC_CONSTANTS
    mu, nu = c44, c12 / (2 * (c12 + c44))
    kappa = 3 - 4 * nu
    k_internal = k * 100.0  # GPa·√Å
    above = np.abs(ref[:, 1] - (tip[1] + A / 4)) < 1e-6
    below = np.abs(ref[:, 1] - (tip[1] - A / 4)) < 1e-6
    uy = pos[:, 1] - ref[:, 1]
    # the two (010) planes beside the crack are offset by a/2 along x: interpolate the lower one
    lower_x, first = np.unique(ref[below, 0], return_index=True)
    lower_uy = uy[below][first]
    checked = 0
    for i in np.flatnonzero(above):
        dx = ref[i, 0] - tip[0]
        opening = uy[i] - np.interp(ref[i, 0], lower_x, lower_uy)
        if -20.0 < dx < -8.0:
            expected = (kappa + 1) * k_internal / mu * math.sqrt(-dx / (2 * math.pi))
            assert opening == pytest.approx(expected, rel=0.06), dx
            checked += 1
        elif 8.0 < dx < 20.0:
            assert abs(opening) < 0.1 * (kappa + 1) * k_internal / mu * math.sqrt(dx / (2 * math.pi)), dx
    assert checked >= 3
    # the opening scales with K
    assert np.allclose(crack((24, 24, 1), 2 * k).positions - ref, 2 * (pos - ref))

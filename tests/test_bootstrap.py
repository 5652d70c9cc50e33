# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs bootstrap`` end to end: the generated .almtp re-reads, its active set is a valid MaxVol
fixed point of the basic set (every training atom γ ≤ 1.001), the EAM energies are the Zhou04 ones,
and the grade separates bulk bcc W at 300 K from an interstitial and an unseen surface."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ase.build import bcc110

from eipgs.bootstrap import TAG, EAMLammps, _crystal, bootstrap, random_radial_coeffs
from eipgs.io.almtp import read_almtp
from eipgs.io.cfg import read_cfg
from eipgs.mtp.evaluator import MTPEvaluator, radial_basis
from eipgs.mtp.grading import evaluate_configuration

W_BCC_ENERGY = -8.75999  # eV/atom, bcc W at a = 3.16485 Å with the Zhou04 file (doc/design/zhou04.md §6)


@pytest.fixture(scope="module")
def boot(tmp_path_factory):
    out = tmp_path_factory.mktemp("boot")
    result = bootstrap(["W"], out / "W.almtp", seed=3, structures=2)  # the default level 16
    pot = read_almtp(result.potential_path)
    train = read_cfg(result.train_path)
    return result, pot, train, out


def grades(pot, atoms, ev=None):
    ev = ev or MTPEvaluator(pot)
    return evaluate_configuration(ev, atoms.positions, atoms.cell[:], atoms.pbc, np.zeros(len(atoms), dtype=int)).grades


def test_almtp_valid(boot):
    result, pot, train, _ = boot
    aset = pot.require_active_set("nbh")
    assert pot.m == result.m == 8 * 4 + 1 + 91
    assert aset.inverse_error() < 1e-6
    assert (aset.energy_weight, aset.site_en_weight, aset.weight_scaling) == (0.0, 1.0, 2)
    # Some directions of θ are reached by no row at all, e.g. per μ the Euler relation
    # Σ_β c_μβ ∂V/∂c_μβ = Σ_α w_α n_μ(α) B_α. Their number is the rank deficit of rows over random
    # neighbourhoods; every other row of A must be filled: the basic set spans all reachable directions.
    rng = np.random.default_rng(0)
    counts = rng.integers(3, 30, size=3 * pot.m)
    u = rng.normal(size=(counts.sum(), 3))
    D = u / np.linalg.norm(u, axis=1)[:, None] * rng.uniform(2.0, 4.95, size=(counts.sum(), 1))
    centre = np.repeat(np.arange(len(counts)), counts)
    rows = MTPEvaluator(pot).evaluate(len(counts), np.zeros(len(counts), dtype=int), centre, np.zeros(len(D), dtype=int), D).rows
    s = np.linalg.svd(rows / np.linalg.norm(rows, axis=0), compute_uv=False)
    reachable = int(np.sum(s > 1e-10 * s[0]))
    assert s[reachable - 1] > 1e-7 * s[0]  # a clean gap between reachable and structural null directions
    filled = aset.links[:, 0] >= 0
    assert filled.sum() == result.n_filled == reachable
    print(f"\nm = {pot.m}: {reachable} filled, {pot.m - reachable} structurally unreachable rows")
    assert len(aset.configurations) >= 1
    for k, a in enumerate(aset.configurations):
        eqns = [int(e) for e in a.info["features"]["selected_eqn_inds"].split(",")]
        assert set(eqns) == set(aset.links[aset.links[:, 0] == k, 1].tolist())
        assert all(3 * len(a) + 10 <= e < 4 * len(a) + 10 for e in eqns)  # site-energy rows (§3.3)
    assert TAG in pot.potential_tag and "NOT an accurate potential" in pot.potential_tag


def test_training_atoms_interpolate(boot):
    """MaxVol at τ = 1.001 over all training rows: no training atom may exceed 1.001."""
    _, pot, train, _ = boot
    ev = MTPEvaluator(pot)
    g = np.concatenate([grades(pot, a, ev) for a in train])
    assert len(g) == boot[0].n_atoms
    assert g.max() <= 1.001 + 1e-6


def test_training_set_is_zhou04(boot):
    result, pot, train, _ = boot
    for a in train:
        assert np.sum(a.arrays["site_en"]) == pytest.approx(a.get_potential_energy(), abs=1e-8)
    ideal = [a for a in train if a.info["features"]["from"] == "eipgs-bootstrap bcc volumetric strain +0.00"]
    assert len(ideal) == 1 and ideal[0].get_potential_energy() / len(ideal[0]) == pytest.approx(W_BCC_ENERGY, abs=1e-5)
    kinds = {a.info["features"]["from"].removeprefix("eipgs-bootstrap ").split(" snapshot")[0] for a in train}
    assert {"bcc bulk 3000 K", "bcc vacancy 300 K", "bcc (100) surface 1200 K", "fcc strain +0.00", "hcp strain +0.00"} <= kinds


def test_fit_reproduces_site_energies(boot):
    """The fitted linear coefficients, evaluated independently on the written files."""
    result, pot, train, _ = boot
    ev = MTPEvaluator(pot)
    pred = np.concatenate([evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, np.zeros(len(a), dtype=int), grades=False).energy for a in train])
    ref = np.concatenate([a.arrays["site_en"] for a in train])
    rmse = float(np.sqrt(np.mean((pred - ref) ** 2)))
    assert rmse == pytest.approx(result.rmse_site_energy, rel=1e-6)
    assert rmse < 0.1  # eV/atom over 0-3000 K, strained fcc/hcp, vacancy and surface
    assert np.std(ref) > 3 * rmse  # the fit explains most of the spread


def test_novelty_bulk_vs_defects(boot, tmp_path):
    """γ of bulk bcc W at 300 K (new seed, larger cell) stays ≲ 1-2; an interstitial and a (110)
    surface, absent from the basic set, are clearly extrapolative."""
    _, pot, _, _ = boot
    ev = MTPEvaluator(pot)
    eam = EAMLammps(["W"], tmp_path)
    try:
        bulk = _crystal("W", "bcc", (4, 4, 4))
        bulk.arrays["type"] = np.zeros(len(bulk), dtype=np.int64)
        g_bulk = grades(pot, eam.md(bulk, 300.0, 991, 1)[-1], ev)
        inter = bulk.copy()
        inter.append("W")
        inter.arrays["type"][-1] = 0
        inter.positions[-1] = np.array([0.5, 0.5, 0.0]) * 3.16485 + 2 * 3.16485  # octahedral site
        g_int = grades(pot, eam.md(inter, 300.0, 992, 1)[-1], ev)
        slab = bcc110("W", size=(2, 2, 8), a=3.16485, vacuum=8.0, orthogonal=True)
        slab.pbc = True
        slab.arrays["type"] = np.zeros(len(slab), dtype=np.int64)
        frame = eam.md(slab, 300.0, 993, 1)[-1]
        g_slab = grades(pot, frame, ev)
    finally:
        eam.close()
    z = frame.positions[:, 2]
    surface = (z > z.max() - 0.5) | (z < z.min() + 0.5)
    print(f"\nγ bulk 300 K max {g_bulk.max():.3f} mean {g_bulk.mean():.3f}; interstitial max {g_int.max():.3f}; "
          f"(110) surface atoms max {g_slab[surface].max():.3f} mean {g_slab[surface].mean():.3f}")
    assert g_bulk.max() < 2.0
    assert g_int.max() > 5.0 and g_int.max() > 5 * g_bulk.max()
    assert g_slab[surface].mean() > 2.0 and g_slab[surface].min() > g_bulk.max()


def test_cli_bootstrap_and_grade(tmp_path):
    out = tmp_path / "pot.almtp"
    proc = subprocess.run(
        [sys.executable, "-m", "eipgs.cli", "bootstrap", "W", "-o", str(out), "--level", "8", "--structures", "1", "-q"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "m = 26" in proc.stdout and (tmp_path / "pot.train.cfg").is_file()
    graded = tmp_path / "graded.cfg"
    proc = subprocess.run(
        [sys.executable, "-m", "eipgs.cli", "grade", str(out), str(tmp_path / "pot.train.cfg"), "-o", str(graded), "-q"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    g = np.concatenate([a.arrays["nbh_grades"] for a in read_cfg(graded)])
    assert 0.0 < g.max() <= 1.001 + 1e-5  # %15.5f in the file
    # The written files are complete: `eipgs activeset` on them rebuilds the same active set (symmetry-
    # equivalent atoms of the static cells have rows equal to rounding, so tied rows may swap places).
    rebuilt = tmp_path / "rebuilt.almtp"
    proc = subprocess.run(
        [sys.executable, "-m", "eipgs.cli", "activeset", str(out), str(tmp_path / "pot.train.cfg"), "-o", str(rebuilt), "-q"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    a, b = read_almtp(out).active_set, read_almtp(rebuilt).active_set
    assert np.sum(a.links[:, 0] >= 0) == np.sum(b.links[:, 0] >= 0)
    assert np.linalg.slogdet(a.A)[1] == pytest.approx(np.linalg.slogdet(b.A)[1], rel=1e-9)
    assert np.abs(a.A - b.A).max() <= 1e-8 * np.abs(a.A).max()


def test_cli_errors(tmp_path):
    for args, msg in ((["Xx"], "unknown element"), (["W", "--min-dist", "6"], "min-dist")):
        proc = subprocess.run(
            [sys.executable, "-m", "eipgs.cli", "bootstrap", *args, "-o", str(tmp_path / "p.almtp"), "-q"],
            capture_output=True, text=True, cwd=tmp_path, timeout=120,
        )
        assert proc.returncode == 1 and msg in proc.stderr, proc.stderr


def test_random_radial_functions_unit_rms():
    rng = np.random.default_rng(5)
    coeffs, scaling = random_radial_coeffs(2, 3, 8, 2.0, 5.0, rng)
    assert scaling == pytest.approx(1 / 9)

    class Probe:
        min_dist, max_dist, R, effective_scaling, radial_basis_type = 2.0, 5.0, 8, scaling, "RBChebyshev"

    Q = radial_basis(np.linspace(2.0, 5.0, 200), Probe())
    f = np.einsum("rb,stkb->stkr", Q, coeffs)
    assert np.allclose(np.sqrt(np.mean(f**2, axis=-1)), 1.0)
    again, _ = random_radial_coeffs(2, 3, 8, 2.0, 5.0, np.random.default_rng(5))
    assert np.array_equal(coeffs, again)


def test_eam_snapshot_forces_are_energy_derivatives(tmp_path):
    """EAMLammps snapshots (eipgs.lmp.atoms_from_lammps) carry the EAM energy and forces as a
    calculator, site energies and LAMMPS ids: the forces equal central differences of the energy,
    the site energies sum to it, and a CuNi alloy keeps its cfg types and symbols."""
    rng = np.random.default_rng(5)
    eam = EAMLammps(["Cu", "Ni"], tmp_path)
    try:
        atoms = _crystal("Cu", "fcc", (2, 2, 2))
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        atoms.arrays["type"] = (np.arange(len(atoms)) % 3 == 0).astype(np.int64)
        snap = eam.static(atoms)
        h = 1e-4
        numeric = []
        for k, d in ((3, 0), (17, 2)):
            energies = []
            for sign in (1, -1):
                moved = atoms.copy()
                moved.positions[k, d] += sign * h
                energies.append(eam.static(moved).get_potential_energy())
            numeric.append(-(energies[0] - energies[1]) / (2 * h))
    finally:
        eam.close()
    forces = snap.get_forces()
    assert numeric == pytest.approx([forces[3, 0], forces[17, 2]], abs=2e-6)
    assert abs(forces[3, 0]) > 1e-2  # a rattled atom feels a force: the check above means something
    assert np.sum(snap.arrays["site_en"]) == pytest.approx(snap.get_potential_energy(), abs=1e-8)
    assert list(snap.arrays["id"]) == list(range(1, len(atoms) + 1))
    assert list(snap.arrays["type"]) == list(atoms.arrays["type"])
    assert snap.get_chemical_symbols() == ["Ni" if t else "Cu" for t in atoms.arrays["type"]]
    assert np.allclose(snap.positions, atoms.positions % np.diag(atoms.cell), atol=1e-9)

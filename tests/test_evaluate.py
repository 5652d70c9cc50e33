# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs evaluate` and the NumPy MTP forces/stress: finite differences, and motep's evaluator (an
independent implementation) on the same .mtp to 1e-8 relative."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from eipgs.bootstrap import random_radial_coeffs
from eipgs.cli import main
from eipgs.io.almtp import format_mtp_text, read_almtp
from eipgs.io.formats import write_structures
from eipgs.mtp.evaluator import MTPEvaluator, energy_forces_stress
from eipgs.mtp.templates import generate_template

motep_mtp = pytest.importorskip("motep.io.mlip.mtp", reason="motep (the 'train' extra) is not installed")

ELEMENTS = ["W", "Mo"]


@pytest.fixture(scope="module")
def two_species(tmp_path_factory):
    """A level-10 two-species potential with random (seeded) parameters, written in MLIP-3 layout."""
    rng = np.random.default_rng(7)
    template = generate_template(10)
    coeffs, scaling = random_radial_coeffs(2, template.radial_funcs_count, 6, 2.0, 5.0, rng)
    pot = template.potential(species_count=2, min_dist=2.0, max_dist=5.0, radial_basis_size=6, radial_coeffs=coeffs,
                             scaling=scaling, species_coeffs=rng.normal(size=2),
                             moment_coeffs=rng.normal(size=template.n_lin) * 1e-2)
    path = tmp_path_factory.mktemp("pot") / "p.mtp"
    path.write_text(format_mtp_text(pot) + "\n")
    return read_almtp(path)


def _structures(rng, n=3):
    out = []
    for k in range(n):
        atoms = bulk("W", "bcc", a=3.17, cubic=True) * (2, 2, 2)
        atoms.set_cell(atoms.cell[:] @ (np.eye(3) + rng.normal(scale=0.02, size=(3, 3))), scale_atoms=True)
        atoms.rattle(0.12, seed=k)
        atoms.symbols[rng.random(len(atoms)) < 0.4] = "Mo"
        out.append(atoms)
    return out


def _species(atoms):
    return np.array([ELEMENTS.index(s) for s in atoms.get_chemical_symbols()])


def test_forces_and_stress_are_the_energy_derivatives(two_species):
    ev = MTPEvaluator(two_species)
    atoms = _structures(np.random.default_rng(1), 1)[0][:10]
    sp = _species(atoms)
    res = energy_forces_stress(ev, atoms.positions, atoms.cell[:], True, sp)
    h = 1e-5

    def energy(pos, cell):
        return energy_forces_stress(ev, pos, cell, True, sp).energy

    fd = np.zeros_like(res.forces)
    for k in range(len(atoms)):
        for x in range(3):
            p, m = atoms.positions.copy(), atoms.positions.copy()
            p[k, x] += h
            m[k, x] -= h
            fd[k, x] = -(energy(p, atoms.cell[:]) - energy(m, atoms.cell[:])) / (2 * h)
    np.testing.assert_allclose(res.forces, fd, atol=1e-6 * abs(fd).max())
    assert abs(fd).max() > 1e-2
    fd_s = np.zeros((3, 3))
    for x in range(3):
        for y in range(3):
            e = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[x, y] += sign * h
                e.append(energy(atoms.positions @ strain.T, atoms.cell[:] @ strain.T))
            fd_s[x, y] = (e[0] - e[1]) / (2 * h) / atoms.get_volume()
    np.testing.assert_allclose(res.stress, 0.5 * (fd_s + fd_s.T), atol=1e-6 * abs(fd_s).max())
    # Site energies are those of the grading path.
    from eipgs.mtp.grading import evaluate_configuration

    sites = evaluate_configuration(ev, atoms.positions, atoms.cell[:], True, sp, grades=False).energy
    np.testing.assert_allclose(res.site_energies, sites, rtol=1e-12, atol=1e-12)


def _motep_efs(path, atoms, species_numbers):
    from motep.calculator import MTP

    data = motep_mtp.read_mtp(path)
    data.species = species_numbers
    work = atoms.copy()
    work.calc = MTP(data, engine="cext")
    return work.get_potential_energy(), work.get_forces(), work.get_stress(voigt=False)


def test_equals_motep_evaluator(two_species, tmp_path, capsys):
    rng = np.random.default_rng(2)
    images = _structures(rng)
    # a vacuum cluster too: no periodic direction
    cluster = images[0][np.linalg.norm(images[0].positions - images[0].positions.mean(axis=0), axis=1) < 4.5]
    cluster.pbc = False
    cluster.center(vacuum=8.0)
    ev = MTPEvaluator(two_species)
    labelled = []
    for atoms in images + [cluster]:
        e_m, f_m, s_m = _motep_efs(two_species.source, atoms, [74, 42])
        ours = energy_forces_stress(ev, atoms.positions, atoms.cell[:], atoms.pbc, _species(atoms))
        assert ours.energy == pytest.approx(e_m, rel=1e-8)
        np.testing.assert_allclose(ours.forces, f_m, rtol=0, atol=1e-8 * abs(f_m).max())
        if atoms.pbc.all():
            np.testing.assert_allclose(ours.stress, s_m, rtol=0, atol=1e-8 * abs(s_m).max())
        # Labels: motep's prediction shifted by known offsets, so the expected errors are exact.
        ref = atoms.copy()
        ref.calc = SinglePointCalculator(ref, energy=e_m + 0.01 * len(atoms), forces=f_m - 0.1)
        ref.arrays["core"] = np.arange(len(atoms)) < 4
        labelled.append(ref)
    write_structures(tmp_path / "data.extxyz", labelled)
    assert main(["evaluate", two_species.source, str(tmp_path / "data.extxyz"), "-o", str(tmp_path / "e.json"),
                 "--elements", "W,Mo", "-q"]) == 0
    summary = json.loads((tmp_path / "e.json").read_text())
    assert summary["n_configs"] == 4 and summary["n_atoms"] == sum(len(a) for a in labelled)
    assert summary["energy_rmse_per_atom"] == pytest.approx(0.01, rel=1e-5)
    assert summary["energy_mae_per_atom"] == pytest.approx(0.01, rel=1e-5)
    assert summary["force_rmse"] == pytest.approx(0.1, rel=1e-5) and summary["force_mae"] == pytest.approx(0.1, rel=1e-5)
    assert summary["core"]["n_atoms"] == 16 and summary["core"]["force_rmse"] == pytest.approx(0.1, rel=1e-5)
    rows = (tmp_path / "e.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("index,source,n_atoms,energy_ref,energy")
    assert "energy  RMSE 10.000 meV/atom" in capsys.readouterr().out


def test_unlabelled_data_is_a_clear_error(two_species, tmp_path, capsys):
    write_structures(tmp_path / "bare.extxyz", [Atoms("W2", positions=[[0, 0, 0], [1.5, 1.5, 1.5]], cell=[3, 3, 3], pbc=True)])
    rc = main(["evaluate", two_species.source, str(tmp_path / "bare.extxyz"), "-o", str(tmp_path / "e.json"), "--elements", "W,Mo"])
    err = capsys.readouterr().err
    assert rc == 1 and "bare.extxyz:0: no reference energy" in err and not (tmp_path / "e.json").exists()


@pytest.mark.parametrize("name, elements", [("W-mlip3-basic.almtp", ["W"]), ("CuNi-mtp10.almtp", ["Cu", "Ni"])])
def test_equals_motep_on_mlip3_files(reference, tmp_path, name, elements):
    """MLIP-3's own trained potentials: motep reads their text part; both codes agree."""
    data = (reference / name).read_bytes()
    text = data[: data.find(b"#")] if b"#" in data else data
    (tmp_path / "p.mtp").write_bytes(text.rstrip(b"\n") + b"\n")
    pot = read_almtp(tmp_path / "p.mtp")
    rng = np.random.default_rng(5)
    lattice, a0 = ("bcc", 3.17) if elements == ["W"] else ("fcc", 3.56)
    atoms = bulk(elements[0], lattice, a=a0, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=3)
    if len(elements) > 1:
        atoms.symbols[rng.random(len(atoms)) < 0.5] = elements[1]
    from ase.data import atomic_numbers

    e_m, f_m, s_m = _motep_efs(tmp_path / "p.mtp", atoms, [atomic_numbers[e] for e in elements])
    ours = energy_forces_stress(MTPEvaluator(pot), atoms.positions, atoms.cell[:], True,
                                np.array([elements.index(s) for s in atoms.get_chemical_symbols()]))
    assert ours.energy == pytest.approx(e_m, rel=1e-8)
    np.testing.assert_allclose(ours.forces, f_m, rtol=0, atol=1e-8 * abs(f_m).max())
    np.testing.assert_allclose(ours.stress, s_m, rtol=0, atol=1e-8 * abs(s_m).max())

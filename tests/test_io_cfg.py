# SPDX-License-Identifier: GPL-2.0-only
"""MLIP .cfg reader/writer (doc/design/mtp.md §9, check list §11.9)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from eipgs.io.cfg import CfgFormatError, read_cfg, write_cfg

# The 2-atom example of doc/design/mtp.md §9.1, byte for byte (TAB between feature key and value).
EXAMPLE_91 = (
    "BEGIN_CFG\n"
    " Size\n"
    "    2\n"
    " Supercell\n"
    "         3.164850      0.000000      0.000000\n"
    "         0.000000      3.164850      0.000000\n"
    "         0.000000      0.000000      3.164850\n"
    " AtomData:  id type       cartes_x      cartes_y      cartes_z           fx          fy          fz       nbh_grades\n"
    "             1    0       0.000000      0.000000      0.000000     0.000000    0.000000    0.000000          0.61234\n"
    "             2    0       1.582425      1.582425      1.582425     0.000000    0.000000    0.000000          0.61234\n"
    " Energy\n"
    "        -25.914000000000\n"
    " PlusStress:  xx          yy          zz          yz          xz          xy\n"
    "         0.01234     0.01234     0.01234     0.00000     0.00000     0.00000\n"
    " Feature   EFS_by\tVASP\n"
    " Feature   MV_grade\t0.612340\n"
    "END_CFG\n"
    "\n"
)


def _example_atoms() -> Atoms:
    a = 3.16485
    atoms = Atoms("W2", positions=[[0, 0, 0], [a / 2, a / 2, a / 2]], cell=np.eye(3) * a, pbc=True)
    volume = a**3
    atoms.calc = SinglePointCalculator(
        atoms,
        energy=-25.914,
        forces=np.zeros((2, 3)),
        stress=-np.array([0.01234, 0.01234, 0.01234, 0, 0, 0]) / volume,
    )
    atoms.arrays["nbh_grades"] = np.array([0.61234, 0.61234])
    # Insertion order deliberately unsorted: the writer sorts keys.
    atoms.info["features"] = {"MV_grade": "0.612340", "EFS_by": "VASP"}
    return atoms


def test_write_example_byte_exact(tmp_path):
    path = tmp_path / "ex.cfg"
    write_cfg(path, [_example_atoms()], elements=["W"])
    assert path.read_bytes() == EXAMPLE_91.encode()


def test_read_example_every_field(tmp_path):
    path = tmp_path / "ex.cfg"
    path.write_text(EXAMPLE_91)
    (atoms,) = read_cfg(path, elements=["W"])
    assert atoms.get_chemical_symbols() == ["W", "W"]
    assert atoms.arrays["type"].tolist() == [0, 0]
    assert atoms.pbc.all()
    np.testing.assert_array_equal(atoms.cell[:], np.eye(3) * 3.16485)
    np.testing.assert_array_equal(atoms.positions[1], [1.582425] * 3)
    np.testing.assert_array_equal(atoms.arrays["nbh_grades"], [0.61234, 0.61234])
    assert atoms.get_potential_energy() == -25.914
    np.testing.assert_array_equal(atoms.get_forces(), np.zeros((2, 3)))
    np.testing.assert_array_equal(atoms.info["plus_stress"], [0.01234, 0.01234, 0.01234, 0, 0, 0])
    np.testing.assert_allclose(atoms.get_stress(), -atoms.info["plus_stress"] / 3.16485**3, rtol=1e-14)
    assert atoms.info["features"] == {"EFS_by": "VASP", "MV_grade": "0.612340"}
    # Without elements: atomic number 0, type kept.
    (bare,) = read_cfg(path)
    assert bare.numbers.tolist() == [0, 0] and bare.arrays["type"].tolist() == [0, 0]
    # Re-writing what was read gives the same bytes.
    out = tmp_path / "again.cfg"
    write_cfg(out, [atoms])
    assert out.read_bytes() == EXAMPLE_91.encode()


def test_no_loss_round_trip_and_optional_columns(tmp_path):
    rng = np.random.default_rng(1)
    atoms = Atoms("CuNiCu", positions=rng.normal(size=(3, 3)) * 3, cell=[[5.1, 0.2, 0], [0.1, 4.9, 0], [0, 0.3, 6.0]], pbc=True)
    atoms.calc = SinglePointCalculator(atoms, energy=-11.123456789012345, forces=rng.normal(size=(3, 3)))
    atoms.info["plus_stress"] = rng.normal(size=6)
    atoms.arrays["site_en"] = rng.normal(size=3)
    atoms.arrays["charge"] = rng.normal(size=3)
    atoms.arrays["ghost"] = np.array([False, True, False])
    atoms.arrays["nbh_grades"] = np.array([1.5, 9.0, 0.25])
    atoms.info["features"] = {"b key": "x", "a": "line1\nline2"}
    path = tmp_path / "nl.cfg"
    write_cfg(path, [atoms, atoms], elements=["Cu", "Ni"], no_loss=True)
    back = read_cfg(path, elements=["Cu", "Ni"])
    assert len(back) == 2
    b = back[1]
    assert b.get_chemical_symbols() == ["Cu", "Ni", "Cu"]
    assert b.arrays["type"].tolist() == [0, 1, 0]
    np.testing.assert_array_equal(b.positions, atoms.positions)
    np.testing.assert_array_equal(b.cell[:], atoms.cell[:])
    np.testing.assert_array_equal(b.get_forces(), atoms.get_forces())
    assert b.get_potential_energy() == atoms.get_potential_energy()
    np.testing.assert_array_equal(b.info["plus_stress"], atoms.info["plus_stress"])
    np.testing.assert_array_equal(b.arrays["site_en"], atoms.arrays["site_en"])
    np.testing.assert_array_equal(b.arrays["charge"], atoms.arrays["charge"])
    np.testing.assert_array_equal(b.arrays["ghost"], [False, True, False])
    # Ghost atoms are written with grade 0.
    np.testing.assert_array_equal(b.arrays["nbh_grades"], [1.5, 0.0, 0.25])
    assert b.info["features"] == {"a": "line1\nline2", "b key": "x"}
    text = path.read_text()
    assert text.index("Feature   a\tline1") < text.index("Feature   a\tline2") < text.index("Feature   b\\_key\tx")
    # append adds configurations
    write_cfg(path, [atoms], elements=["Cu", "Ni"], append=True)
    assert len(read_cfg(path)) == 3


def test_direct_coordinates_old_features_and_ghost(tmp_path):
    text = (
        "BEGIN_CFG\n Size\n 2\n Supercell\n 2 0 0\n 0 3 0\n 0 0 4\n"
        " AtomData: id type direct_x direct_y direct_z ghost\n"
        " 1 1 0.5 0.5 0.5 false\n 2 0 0.25 0 0 true\n"
        " Features: EFS_by mindist\n VASP 2.1\n"
        " Feature   EFS_by\tagain\r\n"
        "END_CFG\n"
    )
    path = tmp_path / "d.cfg"
    path.write_bytes(text.encode())
    (a,) = read_cfg(path)
    np.testing.assert_allclose(a.positions, [[1.0, 1.5, 2.0], [0.5, 0, 0]])
    assert a.arrays["ghost"].tolist() == [False, True]
    # the trailing '\r' belongs to the value, as in MLIP-3
    assert a.info["features"] == {"EFS_by": "VASP\nagain\r", "mindist": "2.1"}
    assert a.calc is None


def test_non_periodic_written_without_supercell(tmp_path):
    atoms = Atoms("W2", positions=[[0, 0, 0], [1, 2, 3]])
    path = tmp_path / "c.cfg"
    write_cfg(path, atoms, elements=["W"])
    assert "Supercell" not in path.read_text()
    (b,) = read_cfg(path, elements=["W"])
    assert not b.pbc.any() and np.all(b.cell[:] == 0)


@pytest.mark.parametrize(
    "body, match",
    [
        (" AtomData: id type cartes_x cartes_y cartes_z\n 2 0 0 0 0\n 1 0 1 1 1\n", "wrong order of id"),
        (" AtomData: id type cartes_x cartes_y cartes_z\n 1 0 0 0 0\n", "AtomData expects 2 lines"),
        (" AtomData: id type cartes_x cartes_y cartes_z spin\n 1 0 0 0 0 1\n 2 0 1 1 1 1\n", "unknown AtomData column"),
        (" AtomData: id type cartes_x cartes_y cartes_z\n 1 0 0 0 0\n 2 0 1 1 1\n Stress: xx yy zz yz xz xy\n 1 1 1 0 0 0\n", "Stress"),
    ],
)
def test_bad_files_rejected(tmp_path, body, match):
    path = tmp_path / "bad.cfg"
    path.write_text("BEGIN_CFG\n Size\n 2\n" + body + "END_CFG\n")
    with pytest.raises(CfgFormatError, match=match) as info:
        read_cfg(path)
    assert str(path) in str(info.value)


def test_truncated_and_missing(tmp_path):
    path = tmp_path / "t.cfg"
    path.write_text(EXAMPLE_91[:200])
    with pytest.raises(CfgFormatError):
        read_cfg(path)
    with pytest.raises(FileNotFoundError):
        read_cfg(tmp_path / "nope.cfg")


def test_writer_needs_types_or_elements(tmp_path):
    atoms = Atoms("WMo", positions=[[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="elements"):
        write_cfg(tmp_path / "x.cfg", atoms)
    with pytest.raises(ValueError, match=r"\['Mo'\]"):
        write_cfg(tmp_path / "x.cfg", atoms, elements=["W"])
    write_cfg(tmp_path / "x.cfg", atoms, elements=["Mo", "W"])
    assert read_cfg(tmp_path / "x.cfg")[0].arrays["type"].tolist() == [1, 0]

# SPDX-License-Identifier: GPL-2.0-only
"""LAMMPS data/dump reading and data writing, checked against files written by the real LAMMPS."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from eipgs.io.lammps import LammpsFormatError, read_lammps_data, read_lammps_dump, write_lammps_data
from eipgs.lmp import run


def test_read_v2_triclinic(reference):
    atoms = read_lammps_data(reference / "grades" / "v2.data")
    assert len(atoms) == 833
    np.testing.assert_allclose(atoms.cell[:], [[22.15395, 0, 0], [3, 22.15395, 0], [0, 0, 50.6376]])
    np.testing.assert_array_equal(atoms.info["lammps_origin"], [0, 0, -12.6594])
    assert np.all(np.diff(atoms.arrays["id"]) > 0)
    assert set(atoms.arrays["type"]) == {1}
    assert atoms.get_chemical_symbols()[0] == "W"  # from Masses 183.84
    # atom 11 (file line 4): "11 1 18.775591932520754 22.09317617636169 -0.26725240835622976 0 -1 0"
    k = int(np.flatnonzero(atoms.arrays["id"] == 11)[0])
    np.testing.assert_allclose(atoms.positions[k], [18.775591932520754, 22.09317617636169, -0.26725240835622976 + 12.6594])
    np.testing.assert_array_equal(atoms.arrays["image"][k], [0, -1, 0])


@pytest.fixture
def lammps_files(lmp, tmp_path):
    """A triclinic box with xy, xz, yz tilt written by LAMMPS as data and as dumps."""
    run(
        lmp,
        f"""units metal
        atom_style atomic
        region box prism -1 9 0.5 11.5 -2 10 2.0 -1.5 1.0
        create_box 2 box
        create_atoms 1 random 40 123 NULL
        create_atoms 2 random 20 456 NULL
        mass 1 63.546
        mass 2 58.6934
        displace_atoms all move 0.0 0.0 0.0
        write_data {tmp_path}/t.data
        write_dump all custom {tmp_path}/x.dump id type x y z ix iy iz modify sort id format float %.17g
        write_dump all custom {tmp_path}/s.dump id type xs ys zs modify sort id format float %.17g
        write_dump all custom {tmp_path}/e.dump id element xu yu zu c_dummy modify sort id element Cu Ni format float %.17g""".replace(
            " c_dummy", ""
        ),
    )
    return tmp_path


def test_data_and_dumps_from_lammps_agree(lammps_files):
    data = read_lammps_data(lammps_files / "t.data")
    assert len(data) == 60 and data.get_chemical_symbols().count("Ni") == 20
    np.testing.assert_allclose(data.cell[:], [[10, 0, 0], [2, 11, 0], [-1.5, 1, 12]])
    np.testing.assert_allclose(data.info["lammps_origin"], [-1, 0.5, -2])
    for name in ("x.dump", "s.dump", "e.dump"):
        (frame,) = read_lammps_dump(lammps_files / name, elements=["Cu", "Ni"])  # dumps carry no masses
        np.testing.assert_array_equal(frame.arrays["id"], data.arrays["id"])
        np.testing.assert_allclose(frame.cell[:], data.cell[:], atol=1e-12)
        np.testing.assert_allclose(frame.positions, data.positions, atol=1e-9)
        assert frame.get_chemical_symbols() == data.get_chemical_symbols()
        assert frame.info["timestep"] == 0
    (x,) = read_lammps_dump(lammps_files / "x.dump")
    np.testing.assert_array_equal(x.arrays["image"], data.arrays["image"])
    np.testing.assert_array_equal(x.arrays["type"], data.arrays["type"])


def test_write_data_read_by_lammps(lmp, tmp_path):
    rng = np.random.default_rng(2)
    cell = np.array([[6.0, 0.5, -0.3], [0.4, 7.0, 0.2], [0.1, -0.6, 8.0]])  # general, not LAMMPS-aligned
    atoms = Atoms("Cu5Ni3", scaled_positions=rng.uniform(size=(8, 3)), cell=cell, pbc=True)
    path = tmp_path / "in.data"
    write_lammps_data(path, atoms, elements=["Cu", "Ni"])
    run(lmp, f"units metal\natom_style atomic\nread_data {path}\nwrite_data {tmp_path}/out.data")
    back = read_lammps_data(tmp_path / "out.data")
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    np.testing.assert_array_equal(back.arrays["type"], [1] * 5 + [2] * 3)
    # Same crystal, rotated into LAMMPS's lower-triangular cell: equal lengths, angles and fractions.
    np.testing.assert_allclose(back.cell.cellpar(), atoms.cell.cellpar(), rtol=1e-12)
    frac_back = back.get_scaled_positions(wrap=True)
    np.testing.assert_allclose(frac_back, atoms.get_scaled_positions(wrap=True), atol=1e-12)
    np.testing.assert_allclose(back.get_all_distances(mic=True), atoms.get_all_distances(mic=True), atol=1e-10)


def test_multi_frame_dump_and_open_boundaries(tmp_path):
    frame = (
        "ITEM: TIMESTEP\n{ts}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS ff pp ff\n"
        "0 10\n0 10\n0 10\nITEM: ATOMS id type x y z c_pe\n2 1 1 1 1 -3.5\n1 1 0 0 0 -4.0\n"
    )
    path = tmp_path / "m.lammpstrj"
    path.write_text(frame.format(ts=0) + frame.format(ts=100))
    frames = read_lammps_dump(path, elements=["W"])
    assert [f.info["timestep"] for f in frames] == [0, 100]
    f = frames[1]
    assert f.pbc.tolist() == [False, True, False]
    np.testing.assert_array_equal(f.arrays["id"], [1, 2])
    np.testing.assert_array_equal(f.arrays["c_pe"], [-4.0, -3.5])
    assert f.get_chemical_symbols() == ["W", "W"]


@pytest.mark.parametrize(
    "text, match",
    [
        ("x\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\nAtoms # full\n\n1 1 1 0 0 0 0\n2 1 1 0 0 0 0\n", "atom_style 'full'"),
        ("x\n\n3 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\nAtoms # atomic\n\n1 1 0 0 0\n2 1 0 0 0\n", "expected 3"),
        ("x\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n\nAtoms\n\n1 1 0 0 0\n2 1 0 0 0\n", "zlo zhi"),
        ("x\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\nAtoms\n\n1 1 0 0 0\n2 3 0 0 0\n", "type outside"),
    ],
)
def test_bad_data_files(tmp_path, text, match):
    path = tmp_path / "bad.data"
    path.write_text(text)
    with pytest.raises(LammpsFormatError, match=match) as info:
        read_lammps_data(path)
    assert str(path) in str(info.value)


def test_bad_dumps_and_missing(tmp_path):
    path = tmp_path / "bad.dump"
    path.write_text("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 1\n0 1\nITEM: ATOMS type x y z\n1 0 0 0\n1 0.5 0.5 0.5\n")
    with pytest.raises(LammpsFormatError, match="no 'id' column"):
        read_lammps_dump(path)
    path.write_text("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n0 1\n0 1\n0 1\nITEM: ATOMS id type x y z\n1 1 0 0 0\n")
    with pytest.raises(LammpsFormatError, match="truncated"):
        read_lammps_dump(path)
    with pytest.raises(FileNotFoundError):
        read_lammps_data(tmp_path / "none.data")
    with pytest.raises(FileNotFoundError):
        read_lammps_dump(tmp_path / "none.dump")

# SPDX-License-Identifier: GPL-2.0-only
"""Format round trips (cfg ↔ extxyz ↔ pckl ↔ POSCAR, LAMMPS) and the type → element map."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from eipgs.convert import convert
from eipgs.io.formats import detect_format, read_structures, write_structures


def _structures() -> list[Atoms]:
    """Two W/Cu cells (one triclinic) with energy, forces, an asymmetric-looking stress and features."""
    rng = np.random.default_rng(7)
    out = []
    cells = [np.diag([6.31, 6.42, 6.53]), np.array([[6.3, 0.0, 0.0], [1.1, 6.2, 0.0], [0.4, -0.7, 6.9]])]
    for k, cell in enumerate(cells):
        n = 9 + k
        frac = rng.random((n, 3))
        symbols = ["W"] * 6 + ["Cu"] * (n - 6)
        rng.shuffle(symbols)
        atoms = Atoms(symbols, scaled_positions=frac, cell=cell, pbc=True)
        atoms.positions += 1e-3 * rng.random((n, 3))  # digits beyond 1e-6, so %13.6f would lose them
        stress = np.array([0.011, -0.022, 0.033, -0.0041, 0.0052, -0.0063]) * (k + 1)  # ASE Voigt, eV/Å³
        atoms.calc = SinglePointCalculator(atoms, energy=-100.123456789 - k, forces=rng.normal(size=(n, 3)), stress=stress)
        atoms.info["features"] = {"source": f"cells.extxyz#{k}", "center_id": str(1234 + k), "note": "a b=c, d"}
        out.append(atoms)
    return out


def _assert_same(a: Atoms, b: Atoms, *, results=True, tol=1e-8):
    assert a.get_chemical_symbols() == b.get_chemical_symbols()
    np.testing.assert_allclose(b.positions, a.positions, atol=tol, rtol=0)
    np.testing.assert_allclose(b.cell[:], a.cell[:], atol=tol, rtol=0)
    if results:
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), abs=tol)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=tol, rtol=0)
        np.testing.assert_allclose(b.get_stress(), a.get_stress(), atol=tol, rtol=0)


def test_detect_format():
    assert detect_format("a/train.cfg") == "cfg"
    assert detect_format("W-all.pckl.gzip") == detect_format("x.pkl.gz") == "pacemaker"
    assert detect_format("c.extxyz") == detect_format("c.xyz") == "extxyz"
    assert detect_format("my.data") == detect_format("in.lmp") == "lammps-data"
    assert detect_format("dump.lammpstrj") == detect_format("x.dump") == "lammps-dump"
    assert detect_format("POSCAR") == detect_format("CONTCAR_3") == detect_format("s.vasp") == "poscar"
    with pytest.raises(ValueError, match="nope.txt: cannot tell the format"):
        detect_format("nope.txt")


def test_cfg_stress_sign_and_order(tmp_path):
    """PlusStress written = −σ·V in the column order xx yy zz yz xz xy (doc/design/mtp.md §9.3)."""
    atoms = _structures()[1]
    write_structures(tmp_path / "s.cfg", [atoms], elements=["W", "Cu"])
    lines = (tmp_path / "s.cfg").read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(" PlusStress:"))
    assert lines[k].split()[1:] == ["xx", "yy", "zz", "yz", "xz", "xy"]
    written = np.array([float(x) for x in lines[k + 1].split()])
    s = atoms.get_stress()  # ASE Voigt order is xx yy zz yz xz xy too
    volume = abs(np.linalg.det(atoms.cell[:]))
    np.testing.assert_allclose(written, -s * volume, rtol=1e-15, atol=1e-15)
    assert written[0] < 0 and written[1] > 0  # tensile σ_xx > 0 → negative PlusStress
    h = next(i for i, line in enumerate(lines) if line.startswith(" AtomData:"))
    types = [int(line.split()[1]) for line in lines[h + 1 : h + 1 + len(atoms)]]
    assert types == [0 if s == "W" else 1 for s in atoms.get_chemical_symbols()]


@pytest.mark.parametrize("chain", [
    ("cfg", "extxyz", "pckl.gzip", "cfg"),
    ("extxyz", "cfg", "pkl.gz", "extxyz"),
    ("pckl.gzip", "extxyz", "cfg", "pckl.gzip"),
])
def test_round_trips_keep_everything(tmp_path, chain):
    original = _structures()
    elements = ["W", "Cu"]
    current = original
    for k, ext in enumerate(chain):
        path = tmp_path / f"step{k}.{ext}"
        write_structures(path, current, elements=elements)
        current = read_structures(path, elements=elements)
        assert len(current) == len(original)
        for a, b in zip(original, current):
            # extxyz prints per-atom floats as %16.8f: 5e-9 rounding, inside the 1e-8 tolerance.
            _assert_same(a, b)
            assert b.info["features"] == a.info["features"]


def test_poscar_round_trip(tmp_path):
    original = _structures()[1]
    write_structures(tmp_path / "POSCAR", [original])
    back = read_structures(tmp_path / "POSCAR", elements=["W", "Cu"])[0]
    _assert_same(original, back, results=False, tol=1e-12)
    # POSCAR → cfg → POSCAR keeps species through the type map.
    convert(tmp_path / "POSCAR", tmp_path / "p.cfg", elements=["W", "Cu"])
    convert(tmp_path / "p.cfg", tmp_path / "again.vasp", elements=["W", "Cu"])
    again = read_structures(tmp_path / "again.vasp")[0]
    _assert_same(original, again, results=False, tol=1e-12)
    with pytest.raises(ValueError, match="a POSCAR holds one structure but there are 2"):
        write_structures(tmp_path / "two.vasp", _structures())


def test_missing_element_map_names_the_file(tmp_path, capsys):
    from eipgs.cli import main

    write_structures(tmp_path / "types.cfg", _structures(), elements=["W", "Cu"])
    with pytest.raises(ValueError, match=r"types.cfg: cfg files carry only type numbers.*--elements"):
        convert(tmp_path / "types.cfg", tmp_path / "out.extxyz")
    assert main(["convert", str(tmp_path / "types.cfg"), "-o", str(tmp_path / "out.pckl.gzip")]) == 1
    assert "types.cfg" in capsys.readouterr().err
    # cfg → cfg needs no map and keeps the types.
    convert(tmp_path / "types.cfg", tmp_path / "copy.cfg")
    a = read_structures(tmp_path / "types.cfg")
    b = read_structures(tmp_path / "copy.cfg")
    assert all((x.arrays["type"] == y.arrays["type"]).all() for x, y in zip(a, b))
    # Several species written as types: the order is the user's choice, so it must be given.
    write_structures(tmp_path / "sym.extxyz", _structures())
    with pytest.raises(ValueError, match=r"several species \(Cu,W\).*--elements"):
        convert(tmp_path / "sym.extxyz", tmp_path / "t.cfg")


def test_species_not_in_map_names_the_file(tmp_path):
    write_structures(tmp_path / "wcu.extxyz", _structures())
    with pytest.raises(ValueError, match=r"wcu.extxyz \(structure 0\): species \['Cu'\] are not in the type map"):
        convert(tmp_path / "wcu.extxyz", tmp_path / "w.cfg", elements=["W"])
    write_structures(tmp_path / "t.cfg", _structures(), elements=["W", "Cu"])
    with pytest.raises(ValueError, match=r"t.cfg.*type 1 has no element"):
        convert(tmp_path / "t.cfg", tmp_path / "w.extxyz", elements=["W"])


def test_type_map_reorders_cfg_types(tmp_path):
    write_structures(tmp_path / "a.extxyz", _structures())
    convert(tmp_path / "a.extxyz", tmp_path / "cuw.cfg", elements=["Cu", "W"])
    back = read_structures(tmp_path / "cuw.cfg", elements=["Cu", "W"])
    for a, b in zip(_structures(), back):
        assert b.get_chemical_symbols() == a.get_chemical_symbols()
        assert list(b.arrays["type"]) == [0 if s == "Cu" else 1 for s in a.get_chemical_symbols()]


def test_lammps_data_and_dump(tmp_path):
    atoms = _structures()[1]
    write_structures(tmp_path / "cell.data", [atoms], elements=["W", "Cu"])
    text = (tmp_path / "cell.data").read_text()
    assert "2 atom types" in text
    back = read_structures(tmp_path / "cell.data", elements=["W", "Cu"])[0]
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    assert list(back.arrays["type"]) == [0 if s == "W" else 1 for s in atoms.get_chemical_symbols()]
    # LAMMPS rotates a general cell into its lower-triangular form: compare invariants.
    np.testing.assert_allclose(back.get_all_distances(mic=True), atoms.get_all_distances(mic=True), atol=1e-8)
    np.testing.assert_allclose(back.cell.cellpar(), atoms.cell.cellpar(), atol=1e-8)
    with pytest.raises(ValueError, match=r"cell.data: lammps-data files carry only type numbers"):
        convert(tmp_path / "cell.data", tmp_path / "x.extxyz")
    dump = tmp_path / "run.lammpstrj"
    dump.write_text(
        "ITEM: TIMESTEP\n500\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 3.2\n0 3.2\n0 3.2\n"
        "ITEM: ATOMS id type x y z c_grade\n2 1 1.6 1.6 1.6 2.5\n1 2 0.0 0.0 0.0 0.5\n"
    )
    frames = read_structures(dump, elements=["W", "Cu"])
    assert frames[0].get_chemical_symbols() == ["Cu", "W"] and list(frames[0].arrays["type"]) == [1, 0]
    convert(dump, tmp_path / "frames.cfg", elements=["W", "Cu"])
    cfg = read_structures(tmp_path / "frames.cfg", elements=["W", "Cu"])[0]
    np.testing.assert_allclose(cfg.positions, frames[0].positions, atol=1e-12)


def test_cfg_with_non_sequential_ids_names_the_file(tmp_path, capsys):
    from eipgs.cli import main

    write_structures(tmp_path / "ok.cfg", _structures()[:1], elements=["W", "Cu"])
    text = (tmp_path / "ok.cfg").read_text().splitlines()
    h = next(i for i, line in enumerate(text) if line.startswith(" AtomData:"))
    text[h + 1], text[h + 2] = text[h + 2], text[h + 1]  # ids 2, 1, 3, ...
    (tmp_path / "swapped.cfg").write_text("\n".join(text) + "\n")
    assert main(["convert", str(tmp_path / "swapped.cfg"), "-o", str(tmp_path / "x.extxyz"), "--elements", "W", "Cu"]) == 1
    err = capsys.readouterr().err
    assert "swapped.cfg" in err and "wrong order of id's" in err


def _cluster_sample_extxyz(path, species_column):
    """An extxyz frame laid out as fix cluster/sample documents it (doc/fix_cluster_sample.md)."""
    rows = [("1", 17, 1, 0.0, 0.0, 0.0, "T", 3.5), ("2", 5, 2, 2.7, 0.0, 0.0, "T", 1.2), ("3", 9, 1, 0.0, 2.74, 0.3, "F", 0.8)]
    lines = ["3", 'Properties=species:S:1:pos:R:3:id:I:1:type:I:1:core:L:1:grade:R:1 step=12000 center_id=17 '
             'center_grade=3.5 radius=8.0 core_radius=5.0 source_cell="25.3 0 0 0 25.3 0 0 0 25.3" source_pbc="T T T" pbc="F F F"']
    for _, ident, t, x, y, z, core, g in rows:
        sym = species_column[t - 1]
        lines.append(f"{sym} {x} {y} {z} {ident} {t} {core} {g}")
    path.write_text("\n".join(lines) + "\n")


def test_fix_cluster_sample_extxyz(tmp_path):
    """The extxyz type column is the LAMMPS type: cfg type = t − 1; info becomes cfg features."""
    _cluster_sample_extxyz(tmp_path / "clusters.extxyz", ["W", "Cu"])
    convert(tmp_path / "clusters.extxyz", tmp_path / "c.cfg", elements=["W", "Cu"])
    back = read_structures(tmp_path / "c.cfg", elements=["W", "Cu"])[0]
    assert back.get_chemical_symbols() == ["W", "Cu", "W"] and list(back.arrays["type"]) == [0, 1, 0]
    feats = back.info["features"]
    assert feats["step"] == "12000" and feats["center_id"] == "17" and feats["center_grade"] == "3.5"
    assert feats["source_cell"].split()[:2] == ["25.3", "0.0"]
    # Elements unknown to the writer ('X'): the map names them; the LAMMPS type column is shifted.
    _cluster_sample_extxyz(tmp_path / "x.extxyz", ["X", "X"])
    xs = read_structures(tmp_path / "x.extxyz", elements=["W", "Cu"])[0]
    assert xs.get_chemical_symbols() == ["W", "Cu", "W"] and list(xs.arrays["core"]) == [True, True, False]
    with pytest.raises(ValueError, match="x.extxyz.*only type numbers"):
        convert(tmp_path / "x.extxyz", tmp_path / "x.pckl.gzip")
    # Our extxyz writes the same convention, so extxyz → extxyz → cfg keeps the types.
    convert(tmp_path / "clusters.extxyz", tmp_path / "again.extxyz", elements=["W", "Cu"])
    assert "type:I:1" in (tmp_path / "again.extxyz").read_text()
    convert(tmp_path / "again.extxyz", tmp_path / "again.cfg")
    assert list(read_structures(tmp_path / "again.cfg")[0].arrays["type"]) == [0, 1, 0]


def test_lammps_dump_with_element_column(tmp_path):
    """A dump's `element` column names the atoms: no --elements needed, and with one the types follow it."""
    dump = tmp_path / "d.dump"
    dump.write_text(
        "ITEM: TIMESTEP\n7\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
        "ITEM: ATOMS id element x y z\n1 Ni 0 0 0\n2 Cu 1 1 1\n3 Ni 2 2 2\n"
    )
    (only,) = read_structures(dump)
    assert only.get_chemical_symbols() == ["Ni", "Cu", "Ni"] and "type" not in only.arrays
    (mapped,) = read_structures(dump, elements=["Cu", "Ni"])
    assert mapped.arrays["type"].tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match="d.dump.*not in the type map"):
        read_structures(dump, elements=["Cu"])
    typed = tmp_path / "t.dump"
    typed.write_text(dump.read_text().replace("id element", "id type element").replace("1 Ni", "1 2 Ni")
                     .replace("2 Cu", "2 1 Cu").replace("3 Ni", "3 1 Ni"))
    with pytest.raises(ValueError, match="type and element columns disagree"):
        read_structures(typed, elements=["Cu", "Ni"])

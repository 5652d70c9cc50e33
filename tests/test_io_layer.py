# SPDX-License-Identifier: GPL-2.0-only
"""One I/O layer (issue 10 item 4): every command reads through eipgs.io.formats, one type → species map,
Atoms-level library functions equal to their CLI wrappers, honest (temp + rename) writers.

Needs nothing but the repository: a generated bootstrap MTP (two species, level 10) and its training set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from eipgs.cli import main
from eipgs.io.almtp import read_almtp
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.io.formats import read_structures, write_structures


@pytest.fixture(scope="module")
def wmo(tmp_path_factory):
    """A W-Mo bootstrap MTP (cfg type 0 = W, 1 = Mo) with its training set."""
    from eipgs.bootstrap import bootstrap

    folder = tmp_path_factory.mktemp("wmo")
    r = bootstrap(["W", "Mo"], folder / "WMo.almtp", level=10, structures=1, progress=False)
    return Path(r.potential_path), Path(r.train_path)


def _alloy(seed: int = 0) -> Atoms:
    atoms = bulk("W", "bcc", a=3.16, cubic=True) * (2, 2, 2)
    atoms.symbols[[1, 6, 11]] = "Mo"
    atoms.rattle(0.08, seed=seed)
    return atoms


def test_grade_reads_every_format_with_the_same_grades(wmo, tmp_path):
    """pacemaker pickles and POSCARs (unreadable by `eipgs grade` before) grade like cfg and extxyz."""
    from eipgs.grade import grade, grade_structures

    pot, _ = wmo
    atoms = _alloy()
    expected = grade_structures(pot, [atoms], elements=["W", "Mo"])[0].arrays["nbh_grades"]
    assert expected.max() > 0
    atoms.calc = None
    for name in ("a.cfg", "a.extxyz", "a.pckl.gzip", "POSCAR", "a.data"):
        path = tmp_path / name
        if name.endswith(".pckl.gzip"):
            from ase.calculators.singlepoint import SinglePointCalculator

            labelled = atoms.copy()
            labelled.calc = SinglePointCalculator(labelled, energy=-1.0, forces=np.zeros((len(atoms), 3)))
            write_structures(path, [labelled])
        else:
            write_structures(path, [atoms], elements=["W", "Mo"])
        out = tmp_path / f"{name}.graded.cfg"
        assert main(["grade", str(pot), str(path), "-o", str(out), "--elements", "W", "Mo", "-q"]) == 0, name
        (graded,) = read_cfg(out)
        np.testing.assert_allclose(graded.arrays["nbh_grades"], expected, rtol=0, atol=5.01e-6, err_msg=name)  # the .cfg prints 5 decimals
        assert graded.arrays["type"].tolist() == [0 if s == "W" else 1 for s in atoms.get_chemical_symbols()]
    # library call on a file = library call on Atoms (extxyz keeps 8 decimals of the positions)
    lib = grade(pot, tmp_path / "a.extxyz", None, elements=["W", "Mo"], progress=False)
    np.testing.assert_allclose(lib[0].arrays["nbh_grades"], expected, rtol=1e-6)


def test_one_species_map(wmo):
    from eipgs.mtp.species import species_of_atoms

    pot = read_almtp(wmo[0])
    atoms = _alloy()
    by_symbol = species_of_atoms(atoms, pot, elements=["W", "Mo"])
    assert by_symbol.tolist() == [0 if s == "W" else 1 for s in atoms.get_chemical_symbols()]
    typed = atoms.copy()
    typed.arrays["type"] = by_symbol.copy()
    assert species_of_atoms(typed, pot).tolist() == by_symbol.tolist()
    # LAMMPS numbering: --species per LAMMPS type; NULL excludes
    assert species_of_atoms(typed, pot, lammps_numbering=True, species=["1", "0"]).tolist() == (1 - by_symbol).tolist()
    assert set(species_of_atoms(typed, pot, lammps_numbering=True, species=["0", "NULL"]).tolist()) == {0, -1}
    typed.arrays["type"][0] = 5
    with pytest.raises(ValueError, match=r"cfg type\(s\) \[5\] are not among the species labels"):
        species_of_atoms(typed, pot, where="x.cfg: configuration 0: ")
    with pytest.raises(ValueError, match=r"elements \['Mo'\] are not in --elements W"):
        species_of_atoms(atoms, pot, elements=["W"])
    with pytest.raises(ValueError, match="cannot map the atoms"):
        species_of_atoms(atoms, pot)


def test_atoms_level_select_and_activeset_equal_the_cli(wmo, tmp_path):
    from eipgs.activeset import activeset_structures
    from eipgs.select import select_structures

    pot_path, train_path = wmo
    pot = read_almtp(pot_path)
    train = read_cfg(train_path)
    rebuilt, stats = activeset_structures(pot, train[:6])
    write_cfg(tmp_path / "t6.cfg", train[:6], no_loss=True)
    assert main(["activeset", str(pot_path), str(tmp_path / "t6.cfg"), "-o", str(tmp_path / "a.almtp"), "-q"]) == 0
    np.testing.assert_array_equal(read_almtp(tmp_path / "a.almtp").active_set.A, rebuilt.active_set.A)
    assert stats.rows == sum(len(a) for a in train[:6])

    cands = []
    for k in range(3):
        atoms = _alloy(seed=k)
        atoms.rattle(0.3, seed=10 + k)  # far from the training set: selected
        atoms.arrays["type"] = np.array([0 if s == "W" else 1 for s in atoms.get_chemical_symbols()])
        cands.append(atoms)
    write_cfg(tmp_path / "cand.cfg", cands, no_loss=True)
    selected, sel = select_structures(pot, train, read_cfg(tmp_path / "cand.cfg"))
    assert 0 < len(selected) <= 3
    assert main(["select", str(pot_path), str(train_path), str(tmp_path / "cand.cfg"), "-o", str(tmp_path / "s.cfg"),
                 "-q"]) == 0
    from_cli = read_cfg(tmp_path / "s.cfg")
    assert [a.info["features"]["selected_eqn_inds"] for a in from_cli] == \
        [a.info["features"]["selected_eqn_inds"] for a in selected]


def test_report_evaluates_each_structure_once(wmo, tmp_path, monkeypatch):
    """Descriptors (PCA) and missing grades come from one evaluation per structure (issue 10 item 4)."""
    import eipgs.mtp.grading as grading
    from eipgs.grade import grade_structures
    from eipgs.report import report_datasets

    pot = read_almtp(wmo[0])
    images = [_alloy(seed=k) for k in range(3)]
    calls = []
    real = grading.evaluate_configuration

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(grading, "evaluate_configuration", counting)
    result = report_datasets({"alloy": images}, tmp_path / "rep", elements=["W", "Mo"], pot=pot)
    assert len(calls) == 3
    assert set(result["figures"]) >= {"gamma_histogram", "pca_descriptors"}
    monkeypatch.setattr(grading, "evaluate_configuration", real)
    want = max(g.arrays["nbh_grades"].max() for g in grade_structures(pot, images, elements=["W", "Mo"]))
    assert result["datasets"][0]["gamma_max"] == pytest.approx(want, rel=1e-12)


def test_atoms_from_lammps_matches_the_instance(tmp_path):
    """The one LAMMPS → Atoms builder: triclinic box, id gaps, types, forces and a compute, sorted by id."""
    from eipgs.lmp import atoms_from_lammps, create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, """units metal
boundary p p s
lattice bcc 3.165
region b prism 0 3 0 3 0 3 0.4 0.2 0.3
create_box 2 b
create_atoms 1 region b
set type 1 type/fraction 2 0.3 5
mass * 183.84
pair_style lj/cut 4.0
pair_coeff * * 0.1 2.5
displace_atoms all random 0.05 0.05 0.05 3
compute pea all pe/atom
group few id 3 7 9
delete_atoms group few compress no
thermo_style custom step pe
run 0""")
        atoms = atoms_from_lammps(lmp, ["W", "Mo"], results=True, per_atom={"site_en": "c_pea"})
        n = lmp.extract_global("nlocal")
        ids = np.array(lmp.numpy.extract_atom("id")[:n])
        order = np.argsort(ids)
        x = np.array(lmp.numpy.extract_atom("x")[:n])[order]
        types = np.array(lmp.numpy.extract_atom("type")[:n])[order]
        f = np.array(lmp.numpy.extract_atom("f")[:n])[order]
        boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
        pe = lmp.get_thermo("pe")
    finally:
        lmp.close()
    assert atoms.arrays["id"].tolist() == ids[order].tolist() and 3 not in atoms.arrays["id"]
    assert atoms.arrays["type"].tolist() == (types - 1).tolist()
    assert atoms.get_chemical_symbols() == ["W" if t == 1 else "Mo" for t in types]
    assert atoms.pbc.tolist() == [True, True, False]
    np.testing.assert_allclose(atoms.cell[:], [[boxhi[0] - boxlo[0], 0, 0], [xy, boxhi[1] - boxlo[1], 0],
                                                [xz, yz, boxhi[2] - boxlo[2]]])
    # same points modulo the lattice (the builder wraps into the cell)
    d = atoms.positions - (x - np.asarray(boxlo))
    frac = np.linalg.solve(atoms.cell[:].T, d.T).T
    np.testing.assert_allclose(frac - np.round(frac), 0.0, atol=1e-9)
    np.testing.assert_allclose(atoms.get_forces(), f)
    assert atoms.get_potential_energy() == pytest.approx(pe) and atoms.arrays["site_en"].sum() == pytest.approx(pe)


_MPI_SCRIPT = """
import sys
import numpy as np
from mpi4py import MPI
from eipgs.lmp import atoms_from_lammps, create_lammps, run

lmp = create_lammps(comm=MPI.COMM_WORLD)
run(lmp, '''units metal
atom_modify map array
read_data in.data
pair_style lj/cut 4.0
pair_coeff * * 0.1 2.5
group few id 3 7 9 40
delete_atoms group few compress no
run 0''')
atoms = atoms_from_lammps(lmp, ["W", "Mo"], results=True)
nlocal = lmp.extract_global("nlocal")
if MPI.COMM_WORLD.Get_rank() == 0:
    np.savez(sys.argv[1], x=atoms.positions, id=atoms.arrays["id"], type=atoms.arrays["type"], f=atoms.get_forces(),
             nlocal=nlocal)
lmp.close()
"""


@pytest.mark.mpi
def test_atoms_from_lammps_same_on_one_and_two_ranks(tmp_path):
    import subprocess
    import sys

    from conftest import run_mpi

    from eipgs.io.lammps import write_lammps_data

    cell = _alloy()
    cell.set_cell(cell.cell[:] + [[0, 0, 0], [0.4, 0, 0], [0.2, 0.3, 0]], scale_atoms=True)  # triclinic
    write_lammps_data(tmp_path / "in.data", cell, elements=["W", "Mo"])
    script = tmp_path / "build.py"
    script.write_text(_MPI_SCRIPT)
    subprocess.run([sys.executable, str(script), str(tmp_path / "one.npz")], check=True, cwd=tmp_path, timeout=120)
    run_mpi(2, [sys.executable, str(script), str(tmp_path / "two.npz")], cwd=tmp_path, timeout=120)
    one, two = np.load(tmp_path / "one.npz"), np.load(tmp_path / "two.npz")
    assert int(two["nlocal"]) < len(two["id"])  # rank 0 did not own every atom: the gather mattered
    for key in ("id", "type"):
        np.testing.assert_array_equal(one[key], two[key])
    np.testing.assert_allclose(one["x"], two["x"], atol=1e-12)
    np.testing.assert_allclose(one["f"], two["f"], atol=1e-10)


def test_atomic_write_publishes_only_complete_files(tmp_path):
    from eipgs.io.atomic import atomic_write

    target = tmp_path / "t.cfg"
    target.write_text("old\n")
    target.chmod(0o640)
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["t.cfg"]
    with atomic_write(target, "a") as fh:
        fh.write("new\n")
    assert target.read_text() == "old\nnew\n" and (target.stat().st_mode & 0o777) == 0o640
    # a writer of eipgs.io: the cfg text of a failing configuration never reaches the file
    bad = Atoms("W2", positions=[[0, 0, 0], [1, 1, 1]])
    good = bad.copy()
    good.arrays["type"] = np.zeros(2, dtype=int)
    write_cfg(target, [good])
    before = target.read_bytes()
    with pytest.raises(ValueError):
        write_structures(target, [good, Atoms("X2", positions=[[0, 0, 0], [1, 1, 1]])])
    assert target.read_bytes() == before
    assert len(read_structures(target)) == 1

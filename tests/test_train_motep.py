# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs train mtp --engine motep`: a real fit on Zhou-EAM labels (eipgs label), graded by fix mtp/grade;
honest exits and bad training data."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk

from eipgs.cli import main
from eipgs.io.formats import read_structures, write_structures

pytest.importorskip("motep", reason="motep (the 'train' extra) is not installed")


@pytest.fixture(scope="module")
def eam_labelled(tmp_path_factory):
    """36 W cells (strained, rattled, one vacancy each in half of them) labelled by the Zhou EAM."""
    from eipgs.label import label
    from eipgs.potentials.zhou04 import zhou04_eam_file

    folder = tmp_path_factory.mktemp("eam")
    eam = zhou04_eam_file(["W"], folder)
    rng = np.random.default_rng(11)
    images = []
    for k in range(36):
        atoms = bulk("W", "bcc", a=3.165 * (1 + rng.uniform(-0.03, 0.03)), cubic=True) * (2, 2, 2)
        if k % 2:
            del atoms[int(rng.integers(len(atoms)))]
        atoms.rattle(0.03 + 0.004 * (k % 10), seed=k)
        images.append(atoms)
    labelled = label(images, pair_style="eam/alloy", pair_coeff=f"* * {eam} W", elements=["W"])
    write_structures(folder / "train.extxyz", labelled[:30])
    write_structures(folder / "test.extxyz", labelled[30:])
    return folder


@pytest.mark.slow
def test_train_then_grade_in_lammps(eam_labelled, tmp_path, capsys):
    out = tmp_path / "fit"
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(out), "--elements", "W", "--level", "6",
               "--engine", "motep", "--iteration-limit", "60", "--radial-basis-size", "6"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "train: step 0" in printed and "energy  RMSE" in printed
    for name in ("pot.mtp", "pot.almtp", "train.log", "train.cfg", "train_errors.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*.part"))
    errors = json.loads((out / "train_errors.json").read_text())
    # A level-6 MTP (18 parameters, 60 iterations) on near-equilibrium EAM cells: energies to ~10 meV/atom,
    # forces to a fraction of their spread (RMS force of the data ~1.1 eV/Å).
    forces = np.concatenate([a.get_forces().ravel() for a in read_structures(eam_labelled / "train.extxyz")])
    assert errors["energy_rmse_per_atom"] < 0.015 and errors["force_rmse"] < 0.3 * np.sqrt(np.mean(forces**2))
    # Held-out cells: eipgs evaluate on the trained potential.
    assert main(["evaluate", str(out / "pot.mtp"), str(eam_labelled / "test.extxyz"), "-o", str(tmp_path / "t.json"), "-q"]) == 0
    held = json.loads((tmp_path / "t.json").read_text())
    assert held["energy_rmse_per_atom"] < 0.03 and held["force_rmse"] < 0.5
    # The .almtp loads in fix mtp/grade and grades: training cells interpolate, a squeezed cell extrapolates.
    from eipgs.io.lammps import write_lammps_data
    from eipgs.lmp import create_lammps, run

    train0 = read_structures(eam_labelled / "train.extxyz")[0]
    squeezed = bulk("W", "bcc", a=2.75, cubic=True) * (2, 2, 2)
    grades = []
    for k, atoms in enumerate((train0, squeezed)):
        write_lammps_data(tmp_path / f"{k}.data", atoms, elements=["W"])
        lmp = create_lammps()
        run(lmp, ["units metal", "atom_style atomic", f"read_data {tmp_path / f'{k}.data'}", "pair_style zero 5.0",
                  "pair_coeff * *", f"fix g all mtp/grade 1 {out / 'pot.almtp'}", "run 0"])
        n = lmp.extract_global("nlocal")
        grades.append(np.array(lmp.numpy.extract_fix("g", 1, 1)[:n]))
        lmp.close()
    assert 0.0 < grades[0].max() <= 1.001 + 1e-6
    assert grades[1].max() > 1.5


def test_dry_run_writes_inputs_only(eam_labelled, tmp_path, capsys):
    out = tmp_path / "dry"
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(out), "--elements", "W", "--level", "6",
               "--engine", "motep", "--dry-run"])
    assert rc == 0 and "not run (--dry-run)" in capsys.readouterr().out
    assert (out / "train.cfg").is_file() and (out / "init.mtp").is_file() and not (out / "pot.mtp").exists()


def _bad(tmp_path, eam_labelled, change):
    images = read_structures(eam_labelled / "train.extxyz")[:4]
    change(images)
    write_structures(tmp_path / "bad.extxyz", images)
    return tmp_path / "bad.extxyz"


@pytest.mark.parametrize("change, message", [
    (lambda im: im[2].calc.results["forces"].__setitem__((3, 1), np.nan),
     r"structure 2 of .*bad.extxyz: non-finite force on atom 3"),
    (lambda im: im[1].positions.__setitem__(1, im[1].positions[0] + [1.0, 0.5, 0.0]),
     r"structure 1 of .*bad.extxyz: atoms 0 and 1 are 1.118 Å apart, closer than the template's min_dist 2 Å"),
])
def test_bad_training_data_names_structure_and_file(eam_labelled, tmp_path, capsys, change, message):
    bad = _bad(tmp_path, eam_labelled, change)
    rc = main(["train", "mtp", str(bad), "-o", str(tmp_path / "fit"), "--elements", "W", "--level", "6", "--engine", "motep"])
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err
    import re

    assert re.search(message, err), err
    assert not (tmp_path / "fit" / "pot.mtp").exists()


def test_missing_energy_and_missing_element(eam_labelled, tmp_path, capsys):
    images = read_structures(eam_labelled / "train.extxyz")[:3]
    images[1].calc = None
    write_structures(tmp_path / "unlabelled.extxyz", images)
    rc = main(["train", "mtp", str(tmp_path / "unlabelled.extxyz"), "-o", str(tmp_path / "f"), "--elements", "W",
               "--level", "6", "--engine", "motep"])
    assert rc == 1 and "structure 1 of" in capsys.readouterr().err
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(tmp_path / "f"), "--elements", "W,Mo",
               "--level", "6", "--engine", "motep"])
    assert rc == 1 and "element(s) Mo of --elements W Mo occur in no training structure" in capsys.readouterr().err


def test_no_trainer_is_an_error(eam_labelled, tmp_path, capsys, monkeypatch):
    import eipgs.train as train

    monkeypatch.setattr(train, "_motep_available", lambda: False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no mlp either
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(tmp_path / "f"), "--elements", "W", "--level", "6"])
    err = capsys.readouterr().err
    assert rc == 1 and "no MTP trainer available" in err and not (tmp_path / "f" / "pot.mtp").exists()
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(tmp_path / "f"), "--elements", "W", "--level", "6",
               "--engine", "mlp"])
    assert rc == 1 and "mlp" in capsys.readouterr().err


def test_diverging_fit_is_an_error(eam_labelled, tmp_path, capsys):
    """Absurd weights make the optimiser leave the finite range: the command says so and leaves no pot.mtp."""
    rc = main(["train", "mtp", str(eam_labelled / "train.extxyz"), "-o", str(tmp_path / "f"), "--elements", "W", "--level", "4",
               "--engine", "motep", "--iteration-limit", "5", "--weights", "1e308", "1e308", "0", "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "diverged" in err, err
    assert not (tmp_path / "f" / "pot.mtp").exists()

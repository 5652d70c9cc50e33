"""`eipgs train mtp|ace`: exact inputs and commands; runs only when the executable is on PATH."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from eipgs.cli import main
from eipgs.io.cfg import read_cfg
from eipgs.io.formats import write_structures
from eipgs.io.pacemaker import read_pacemaker
from eipgs.train import train_ace, train_mtp

# An untrained level-8-like template: the keys of mtp-grade.md §1.1 without radial_coeffs.
TEMPLATE = """MTP
version = 1.1.0
potential_name = MTP1m
species_count = 1
potential_tag = 
radial_basis_type = RBChebyshev
\tmin_dist = 2.0
\tmax_dist = 5.0
\tradial_basis_size = 8
\tradial_funcs_count = 2
alpha_moments_count = 18
alpha_index_basic_count = 11
"""


@pytest.fixture
def train_set(tmp_path):
    images = []
    for k in range(3):
        atoms = bulk("W", "bcc", a=3.16 + 0.01 * k, cubic=True) * (2, 1, 1)
        atoms.symbols[0] = "Cu"
        atoms.calc = SinglePointCalculator(atoms, energy=-40.0 - k, forces=np.full((4, 3), 0.1 * k), stress=np.full(6, 0.01))
        images.append(atoms)
    write_structures(tmp_path / "train.extxyz", images)
    return tmp_path / "train.extxyz", images


def _fake_executable(folder, name):
    """A stand-in executable that records its arguments, to check what would be run and where."""
    folder.mkdir(exist_ok=True)
    exe = folder / name
    exe.write_text('#!/bin/bash\necho "$PWD" > called.txt\nprintf "%s\\n" "$@" >> called.txt\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return folder


def test_mtp_dry_run(tmp_path, train_set, capsys):
    path, images = train_set
    (tmp_path / "08.almtp").write_text(TEMPLATE)
    rc = main(["train", "mtp", str(path), "-o", str(tmp_path / "fit"), "--elements", "W,Cu",
               "--init", str(tmp_path / "08.almtp"), "--dry-run"])
    assert rc == 0
    out = capsys.readouterr().out
    cmd = ("mlp train init.almtp train.cfg --save_to=pot.almtp --energy_weight=1 --force_weight=0.01 "
           "--stress_weight=0 --iteration_limit=1000 --al_mode=nbh")
    assert cmd in out and "not run (--dry-run)" in out
    assert cmd in (tmp_path / "fit" / "run.sh").read_text()
    init = (tmp_path / "fit" / "init.almtp").read_text()
    assert "species_count = 2" in init and init.replace("species_count = 2", "species_count = 1") == TEMPLATE
    back = read_cfg(tmp_path / "fit" / "train.cfg", elements=["W", "Cu"])
    assert [a.get_potential_energy() for a in back] == [-40.0, -41.0, -42.0]
    assert list(back[0].arrays["type"]) == [1, 0, 0, 0]


def test_mtp_runs_when_mlp_is_on_path(tmp_path, train_set, reference, monkeypatch):
    path, _ = train_set
    bindir = _fake_executable(tmp_path / "bin", "mlp")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    # Continuing from a trained single-species potential: the file is copied byte for byte.
    w_only = tmp_path / "w.extxyz"
    write_structures(w_only, [bulk("W", "bcc", a=3.16, cubic=True)])
    from ase.io import read
    atoms = read(w_only)
    atoms.calc = SinglePointCalculator(atoms, energy=-25.0, forces=np.zeros((2, 3)))
    write_structures(w_only, [atoms])
    plan = train_mtp([w_only], tmp_path / "fit", init=reference / "W-mlip3-basic.almtp")
    assert plan["ran"] and plan["returncode"] == 0
    called = (tmp_path / "fit" / "called.txt").read_text().split("\n")
    assert called[0] == str((tmp_path / "fit").resolve())
    assert called[1:4] == ["train", "init.almtp", "train.cfg"]
    assert (tmp_path / "fit" / "init.almtp").read_bytes() == (reference / "W-mlip3-basic.almtp").read_bytes()
    plan = train_mtp([w_only], tmp_path / "fit_mpi", init=reference / "W-mlip3-basic.almtp", mpi=4, run=False)
    assert plan["commands"][0].startswith("mpirun -n 4 mlp train init.almtp train.cfg") and not plan["ran"]
    with pytest.raises(ValueError, match="trained potential for 1 species cannot be refitted to 2"):
        train_mtp([path], tmp_path / "fit2", init=reference / "W-mlip3-basic.almtp", elements=["W", "Cu"], run=False)


def test_ace_inputs(tmp_path, train_set, capsys):
    path, images = train_set
    rc = main(["train", "ace", str(path), "-o", str(tmp_path / "ace"), "--e0", "W=-4.5", "--e0", "Cu=-3.0", "--dry-run"])
    assert rc == 0
    assert "pacemaker input.yaml" in capsys.readouterr().out
    text = (tmp_path / "ace" / "input.yaml").read_text()
    top = {line.split(":")[0]: line.split(":", 1)[1].split("#")[0].strip() for line in text.splitlines()
           if line and not line.startswith((" ", "#"))}
    assert top["cutoff"] == "5"
    assert "  elements: [Cu, W]" in text and "rcut: 5, dcut: 0.01" in text
    assert "  filename: train.pckl.gzip" in text
    back = read_pacemaker(tmp_path / "ace" / "train.pckl.gzip")
    assert back[1].info["energy_corrected"] == pytest.approx(-41.0 + 3 * 4.5 + 3.0)
    plan = train_ace([path], tmp_path / "ace6", cutoff=6.5, run=False)
    assert not plan["ran"] and "rcut: 6.5" in (tmp_path / "ace6" / "input.yaml").read_text()

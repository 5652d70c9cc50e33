# SPDX-License-Identifier: GPL-2.0-only
"""C++ (fix mtp/grade in LAMMPS) vs the independent NumPy evaluator (eipgs.mtp): per-atom grades
agree to 1e-9 relative on the MLIP-3 reference configurations and on small, strongly tilted
triclinic cells in which atoms see several periodic images of themselves."""

from __future__ import annotations

import numpy as np
import pytest

from eipgs.io.almtp import read_almtp
from eipgs.io.lammps import read_lammps_data
from eipgs.mtp import grade_atoms

W_POT = "W-mlip3-basic.almtp"
CUNI_POT = "CuNi-mtp10.almtp"


def lammps_grades(data_path, pot_path, species: str = "", boundary: str = "p p p") -> np.ndarray:
    """gamma per atom, ordered by atom id, from fix mtp/grade."""
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps()
    try:
        run(
            lmp,
            [
                "units metal",
                "atom_style atomic",
                f"boundary {boundary}",
                f"read_data {data_path}",
                "pair_style zero 5.5",
                "pair_coeff * *",
                f"fix g all mtp/grade 1 {pot_path} {species}",
                "run 0",
            ],
        )
        n = lmp.extract_global("nlocal")
        ids = lmp.numpy.extract_atom("id")[:n].copy()
        gam = lmp.numpy.extract_fix("g", 1, 1)[:n].copy()
    finally:
        lmp.close()
    return gam[np.argsort(ids)]


def python_grades(data_path, pot_path, type_to_species) -> np.ndarray:
    atoms = read_lammps_data(data_path)
    order = np.argsort(atoms.arrays["id"]) if "id" in atoms.arrays else np.arange(len(atoms))
    res = grade_atoms(read_almtp(pot_path), atoms, type_to_species)
    return res.grades[order]


def assert_close(cpp: np.ndarray, py: np.ndarray, rtol: float = 1e-9):
    assert cpp.shape == py.shape and len(cpp) > 0
    rel = np.abs(cpp - py) / np.maximum(np.abs(py), 1e-300)
    assert rel.max() <= rtol, (rel.max(), int(rel.argmax()))


@pytest.mark.parametrize(
    "data,pot,species,mapping",
    [
        ("v1.data", W_POT, "", [-1, 0]),
        ("v2.data", W_POT, "", [-1, 0]),
        ("cuni_v.data", CUNI_POT, "species 0 1", [-1, 0, 1]),
        ("cuni_v.data", CUNI_POT, "species 1 0", [-1, 1, 0]),
    ],
)
def test_reference_configurations(mtp_reference, data, pot, species, mapping):
    path = mtp_reference / "grades" / data
    assert_close(lammps_grades(path, mtp_reference / pot, species), python_grades(path, mtp_reference / pot, mapping))


@pytest.mark.parametrize("pot,ntypes,species,mapping", [(W_POT, 1, "", [-1, 0]), (CUNI_POT, 2, "species 1 0", [-1, 1, 0])])
def test_small_triclinic_cell(mtp_reference, tmp_path, pot, ntypes, species, mapping):
    """A 7-8 A triclinic cell (tilts 2.5, 1.5, -1.0) of random atoms: neighbourhoods contain many
    periodic images, including images of the centre itself."""
    from eipgs.lmp import create_lammps, run

    data = tmp_path / "tri.data"
    lmp = create_lammps()
    try:
        run(
            lmp,
            [
                "units metal",
                "atom_style atomic",
                "region cell prism 0 7.2 0 7.6 0 8.0 2.5 1.5 -1.0",
                f"create_box {ntypes} cell",
                "create_atoms 1 random 24 4711 NULL overlap 2.1 maxtry 200",
                *(["set type 1 type/fraction 2 0.5 99"] if ntypes == 2 else []),
                *[f"mass {t} 60.0" for t in range(1, ntypes + 1)],
                f"write_data {data}",
            ],
        )
    finally:
        lmp.close()
    cpp = lammps_grades(data, mtp_reference / pot, species)
    py = python_grades(data, mtp_reference / pot, mapping)
    assert_close(cpp, py)
    assert cpp.max() > 1.0  # random structures extrapolate: a non-trivial comparison

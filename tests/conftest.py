# SPDX-License-Identifier: GPL-2.0-only
"""Shared fixtures: third-party reference data, LAMMPS instances with the plugin, MPI runs.

Reference data (MLIP-3 outputs, the published W MTP and DFT set) carry no licence to
redistribute, so they are not in the repository. Tests that need them take the ``reference``
fixture, which finds the folder through ``EIPGS_REFERENCE_DIR`` or else ``../shared/reference``.
Such tests are marked ``reference`` automatically; where the data are absent they are skipped
(and counted in one line at the end of the run), unless ``EIPGS_REQUIRE_REFERENCE=1`` (CI), under
which absence is a failure. ``generated_reference`` builds a folder with the same layout from the
repository alone, and ``mtp_reference`` runs a test on both. See doc/testing.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.prefix) / "bin"
REFERENCE_SKIP_REASON = "reference data absent"


def reference_dir() -> Path:
    """The third-party reference folder: $EIPGS_REFERENCE_DIR, else ../shared/reference."""
    env = os.environ.get("EIPGS_REFERENCE_DIR")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "reference"


def reference_required() -> bool:
    return os.environ.get("EIPGS_REQUIRE_REFERENCE", "") not in ("", "0")


@pytest.fixture(scope="session")
def reference() -> Path:
    folder = reference_dir()
    if not (folder / "W-mlip3-basic.almtp").is_file():
        message = f"{REFERENCE_SKIP_REASON}: no W-mlip3-basic.almtp in {folder}"
        if reference_required():
            pytest.fail(message + " (EIPGS_REQUIRE_REFERENCE is set, so every reference test must run)")
        pytest.skip(message)
    return folder


GENERATED_MARKER = "GENERATED"


def is_generated(folder: Path) -> bool:
    """True for the folder of :func:`generated_reference`, whose grades come from our NumPy
    evaluator rather than MLIP-3 (so MLIP-3's landmark numbers do not apply to it)."""
    return (Path(folder) / GENERATED_MARKER).is_file()


def _write_data(atoms, path: Path, types: "list[int] | None" = None) -> None:
    """A LAMMPS ``atomic`` data file with ids 1..N in ASE order (no LAMMPS needed)."""
    import numpy as np

    cell = atoms.cell[:]
    assert abs(cell[0, 1]) + abs(cell[0, 2]) + abs(cell[1, 2]) < 1e-12, "cell must be lower-triangular"
    types = atoms.arrays["type"] if types is None else types
    frac = atoms.cell.scaled_positions(atoms.positions) % 1.0
    pos = frac @ cell
    ntypes = int(max(types))
    masses = {}
    for t, m in zip(types, atoms.get_masses()):
        masses[int(t)] = float(m)
    lines = [f"eipgs generated test structure ({atoms.get_chemical_formula()})", "", f"{len(atoms)} atoms", f"{ntypes} atom types", ""]
    lines += [f"0 {cell[0, 0]:.17g} xlo xhi", f"0 {cell[1, 1]:.17g} ylo yhi", f"0 {cell[2, 2]:.17g} zlo zhi"]
    if np.any(np.abs(cell[[1, 2, 2], [0, 0, 1]]) > 0):
        lines.append(f"{cell[1, 0]:.17g} {cell[2, 0]:.17g} {cell[2, 1]:.17g} xy xz yz")
    lines += ["", "Masses", ""] + [f"{t} {masses[t]}" for t in sorted(masses)] + ["", "Atoms # atomic", ""]
    lines += [f"{k + 1} {int(t)} {x:.17g} {y:.17g} {z:.17g} 0 0 0" for k, (t, (x, y, z)) in enumerate(zip(types, pos))]
    path.write_text("\n".join(lines) + "\n")


def _generated_structures(seed: int = 7) -> dict:
    """Stand-ins for reference/grades/*.data: rattled bulk W with a vacancy and a displaced atom
    (cubic), a triclinic W slab (xy tilt, vacuum along z), and a random CuNi fcc solid with a vacancy."""
    import numpy as np
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    a_w = 3.16485
    v1 = bulk("W", "bcc", a=a_w, cubic=True).repeat((5, 5, 5))
    del v1[37]  # a vacancy; an interstitial would leave the bootstrap potential's training set far behind
    v1.positions[60] += [0.55, 0.3, 0.0]  # one atom pushed off its site: a moderately extrapolative spot
    v1.positions += rng.normal(scale=0.06, size=v1.positions.shape)
    v1.arrays["type"] = np.ones(len(v1), dtype=int)

    slab = bulk("W", "bcc", a=a_w, cubic=True).repeat((5, 5, 4))
    cell = slab.cell[:].copy()
    cell[1, 0] = 3.0  # xy tilt, as LAMMPS writes it
    cell[2, 2] += 14.0  # vacuum above and below
    slab.set_cell(cell, scale_atoms=False)
    slab.positions[:, 2] += 7.0
    slab.positions += rng.normal(scale=0.06, size=slab.positions.shape)
    slab.arrays["type"] = np.ones(len(slab), dtype=int)

    cuni = bulk("Cu", "fcc", a=3.56, cubic=True).repeat((4, 4, 4))
    del cuni[11]
    ni = rng.random(len(cuni)) < 0.5
    cuni.symbols[ni] = "Ni"
    cuni.positions += rng.normal(scale=0.06, size=cuni.positions.shape)
    cuni.arrays["type"] = np.where(ni, 2, 1)
    return {"v1": v1, "v2": slab, "cuni_v": cuni}


@pytest.fixture(scope="session")
def w_eam(tmp_path_factory) -> Path:
    """The generated Zhou 2004 W EAM (`eipgs potential zhou04 W`): no third-party file needed."""
    from generated import generated_file

    return generated_file(tmp_path_factory, "W_Zhou04.eam.alloy")


@pytest.fixture(scope="session")
def generated_reference(tmp_path_factory) -> Path:
    """A folder laid out like the reference one, built from the repository alone, so that one test
    body checks both: ``W-mlip3-basic.almtp`` and ``CuNi-mtp10.almtp`` are ``eipgs bootstrap``
    potentials (W at level 16, CuNi at level 10), ``W_Zhou04.eam.alloy`` is the generated Zhou04
    file (all three from tests/generated.py, which also builds the level-8 ``W8.almtp`` there),
    ``grades/*.data`` are ASE-built structures and ``grades/*.grades.txt`` their grades from
    the NumPy evaluator (python/eipgs/mtp), independent of the C++ core the fixes use."""
    import numpy as np

    from eipgs.io.almtp import read_almtp
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration
    from generated import generated_file, generated_folder

    folder = generated_folder(tmp_path_factory)
    for name in ("W-mlip3-basic.almtp", "CuNi-mtp10.almtp", "W_Zhou04.eam.alloy"):
        generated_file(tmp_path_factory, name)
    (folder / "grades").mkdir()
    for name, atoms in _generated_structures().items():
        _write_data(atoms, folder / "grades" / f"{name}.data")
        pot = read_almtp(folder / ("CuNi-mtp10.almtp" if name == "cuni_v" else "W-mlip3-basic.almtp"))
        species = atoms.arrays["type"] - 1
        g = evaluate_configuration(MTPEvaluator(pot), atoms.positions, atoms.cell[:], [True] * 3, species).grades
        ids = np.arange(1, len(atoms) + 1)
        np.savetxt(folder / "grades" / f"{name}.grades.txt", np.column_stack([ids, g]), fmt=["%d", "%.12g"], header="lammps_atom_id nbh_grade")
    (folder / GENERATED_MARKER).write_text("made by tests/conftest.py::generated_reference\n")
    return folder


@pytest.fixture(scope="session", params=[pytest.param("mlip3", marks=pytest.mark.reference), "generated"])
def mtp_reference(request) -> Path:
    """The reference folder (MLIP-3's grades) or :func:`generated_reference` (NumPy's grades):
    tests taking this run twice, and the generated variant needs nothing outside the repository."""
    if request.param == "mlip3":
        return request.getfixturevalue("reference")
    return request.getfixturevalue("generated_reference")


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses the ``reference`` fixture, so ``-m "not reference"`` selects the
    tests that need nothing but the repository."""
    for item in items:
        if "reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reference)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The reference-data notice comes after pytest's own summaries (the -ra list of skips), right
    before the final counts, so it is the line a reader of a long run sees."""
    result = yield
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if REFERENCE_SKIP_REASON in str(report.longrepr)
    ]
    if skipped:
        terminalreporter.write_line(
            f"eipgs: {len(skipped)} tests skipped because the third-party reference data are absent "
            f"(looked in {reference_dir()}); set EIPGS_REFERENCE_DIR=/path/to/reference to run them, "
            "EIPGS_REQUIRE_REFERENCE=1 to make their absence a failure."
        )
    return result


@pytest.fixture
def lmp():
    """A LAMMPS instance with the eipgs plugin loaded, closed after the test."""
    from eipgs.lmp import create_lammps

    instance = create_lammps()
    yield instance
    instance.close()


def run_mpi(nprocs: int, args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command under the venv's MPICH mpiexec; fail the test with its output on error."""
    from eipgs.lmp import mpiexec

    cmd = [mpiexec(), "-n", str(nprocs), *args]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def lmp_executable() -> str:
    return str(VENV_BIN / "lmp")

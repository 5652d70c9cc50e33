"""Shared fixtures: the reference data in ../shared, LAMMPS instances with the plugin, MPI runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
VENV_BIN = Path(sys.prefix) / "bin"


@pytest.fixture(scope="session")
def reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference data not found at {REFERENCE}: tests need the shared/ folder beside the repo")
    return REFERENCE


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

"""Shared fixtures: third-party reference data, LAMMPS instances with the plugin, MPI runs.

Reference data (MLIP-3 outputs, the published W MTP and DFT set) carry no licence to
redistribute, so they are not in the repository. Tests that need them take the ``reference``
fixture, which finds the folder through ``EIPGS_REFERENCE_DIR`` or else ``../shared/reference``.
Such tests are marked ``reference`` automatically; where the data are absent they are skipped
(and counted in one line at the end of the run), unless ``EIPGS_REQUIRE_REFERENCE=1`` (CI), under
which absence is a failure. See doc/testing.md.
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


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses the ``reference`` fixture, so ``-m "not reference"`` selects the
    tests that need nothing but the repository."""
    for item in items:
        if "reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reference)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
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

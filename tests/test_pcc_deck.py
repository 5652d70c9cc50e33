# SPDX-License-Identifier: GPL-2.0-only
"""lammps_inputs/pcc.in: the LAMMPS-only PCC deck on a tiny W cluster and a two-box grid."""

from __future__ import annotations

import re
import subprocess

import numpy as np

from conftest import REPO, lmp_executable
from test_fix_gcmc_pcc import bcc_core, write_data


def read_atoms(path):
    """(id, type, x, y, z) rows of a LAMMPS data file's Atoms section, and the box lengths."""
    text = path.read_text()
    lengths = [float(hi) - float(lo) for lo, hi in re.findall(r"^\s*(\S+)\s+(\S+)\s+[xyz]lo\s+[xyz]hi", text, re.M)]
    block = text.split("Atoms")[1].split("Velocities")[0].strip().splitlines()[1:]
    rows = np.array([[float(v) for v in line.split()[:5]] for line in block if line.strip()])
    return rows[np.argsort(rows[:, 0])], np.array(lengths)


def test_pcc_deck_keeps_the_lowest_eligible_cell(tmp_path, generated_reference):
    core = bcc_core(3.5, vacancy=False)  # 15 atoms: centre + two shells
    write_data(tmp_path / "core.data", core, 20.0)
    cmd = [lmp_executable(), "-in", str(REPO / "lammps_inputs" / "pcc.in"), "-var", "data", "core.data",
           "-var", "potential", str(generated_reference / "W_Zhou04.eam.alloy"), "-var", "cutoff", "2.9",
           "-var", "cap", "50", "-var", "margins", "3.0", "4.0", "-log", "log.pcc"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]

    boxes = [line for line in (tmp_path / "pcc_boxes.txt").read_text().splitlines() if line.startswith("box")]
    assert len(boxes) == 2
    results = []
    for line in boxes:
        m = re.search(r"(\d+) atoms, pe/atom (\S+),", line)
        if m:
            results.append((int(m.group(1)), float(m.group(2))))
    eligible = [pe for n, pe in results if n <= 50]
    assert "over the cap" in boxes[1]  # the 10.3 Å box fills beyond 50 atoms and must not win
    assert eligible, boxes

    rows, lengths = read_atoms(tmp_path / "pcc_best.data")
    assert len(rows) <= 50
    src, _ = read_atoms(tmp_path / "core.data")
    core_rows = rows[rows[:, 1] == 1]
    # the core is where it was, atom for atom (the box is centred on the centre atom instead)
    assert np.array_equal(core_rows[:, 0], src[:, 0])
    assert np.abs(core_rows[:, 2:] - src[:, 2:]).max() < 1e-12
    # inserted atoms stay out of the protected sphere around the centre (atom 1), images included
    ins = rows[rows[:, 1] == 2][:, 2:] - core_rows[0, 2:]
    ins -= lengths * np.round(ins / lengths)
    assert np.linalg.norm(ins, axis=1).min() >= 2.9
    best = re.search(r"lowest pe/atom (\S+) eV written to pcc_best.data", proc.stdout)
    assert best and float(best.group(1)) == min(eligible)

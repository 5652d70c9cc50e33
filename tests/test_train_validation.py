# SPDX-License-Identifier: GPL-2.0-only
"""The reduced B / B+C / B+P experiment (benchmarks/validation.py --quick): one scenario, one round,
level 6. Checks the loop's invariants, not the physics (the full run is in doc/validation.md)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("motep", reason="motep (the 'train' extra) is not installed")

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_validation_loop(tmp_path):
    from ase.io import read

    from eipgs.io.almtp import read_almtp
    from eipgs.io.formats import read_structures
    from eipgs.mtp.grading import grade_atoms

    out = tmp_path / "v"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "validation.py"), "--quick", "-o", str(out),
                           "--figures", str(tmp_path / "fig")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r = json.loads((out / "results.json").read_text())
    assert set(r["models"]) == {"B", "B+C", "B+P"}
    assert 0 < r["T"]["defect_atoms"] < r["T"]["atoms"]
    rnd = r["rounds"][0]
    assert rnd["clusters"] >= 1 and rnd["gamma_max_run"] > 2.0  # clusters are written only around γ > 2
    n_b = r["models"]["B"][0]["n_train_configs"]
    # C and P: the same centres (one cluster per successful cell).
    assert r["models"]["B+C"][0]["n_train_configs"] == r["models"]["B+P"][0]["n_train_configs"] == n_b + rnd["cells_ok"]
    for rows in r["models"].values():
        for m in rows:
            assert math.isfinite(m["energy_rmse_meV"]) and math.isfinite(m["force_rmse_defect"]) and m["gamma_max"] > 0
    # Each model's active set makes its own training neighbourhoods interpolative (γ ≤ τ = 1.001), the
    # sampled clusters included, which MTP_B's active set had graded above 2.
    for name in ("BC_s1", "BP_s1"):
        pot = read_almtp(out / name / "pot.almtp", configurations=False)
        for atoms in read_structures(out / name / "train_in.extxyz"):
            atoms.arrays["type"] = np.zeros(len(atoms), dtype=int)
            assert grade_atoms(pot, atoms).grades.max() <= 1.001 + 1e-6
    clusters = read(out / "round1" / "clusters.extxyz", ":")
    assert min(float(c.info["center_grade"]) for c in clusters) > 2.0
    assert (tmp_path / "fig" / "validation_rmse.png").stat().st_size > 1000
    assert "| B+P |" in (out / "results.md").read_text()

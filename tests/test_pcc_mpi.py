# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs pcc` under mpiexec: clusters spread over ranks give exactly the cells of a 1-process run."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.io import read, write

from conftest import run_mpi
from eipgs.cli import main
from eipgs.lmp import mpiexec
from test_pcc import A_W, vacancy_cluster

import mpi4py  # noqa: F401  (a dependency: a broken install must fail, not skip)


def perfect_cluster(radius: float = 8.0) -> Atoms:
    """A bcc W sphere without defect, centre at the origin: a second cluster with a different core."""
    crystal = bulk("W", "bcc", a=A_W, cubic=True).repeat((6, 6, 6))
    center = int(np.argmin(np.linalg.norm(crystal.positions - crystal.cell.sum(axis=0) / 2, axis=1)))
    rel = crystal.positions - crystal.positions[center]
    keep = np.linalg.norm(rel, axis=1) < radius
    cluster = Atoms("W" * int(keep.sum()), positions=rel[keep], pbc=False)
    cluster.arrays["id"] = np.flatnonzero(keep) + 1
    cluster.info.update(center_id=center + 1, radius=radius)
    return cluster


def _rows(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


@pytest.mark.mpi
def test_pcc_two_ranks_equal_one_process(tmp_path, generated_reference):
    write(tmp_path / "clusters.extxyz", [vacancy_cluster(), perfect_cluster()])
    args = ["clusters.extxyz", "--margins", "4", "--repeats", "1", "--potential", str(generated_reference / "W_Zhou04.eam.alloy")]
    assert main(["pcc", str(tmp_path / args[0]), "-o", str(tmp_path / "serial"), *args[1:], "-q"]) == 0
    proc = run_mpi(2, [sys.executable, "-m", "eipgs.cli", "pcc", *args, "-o", "mpi"], cwd=tmp_path, timeout=300)

    # the work was shared: rank 0's progress bar counts 1 of the 2 clusters, and only rank 0 reports
    assert "pcc clusters (rank 0 of 2 ranks)" in proc.stderr and "1/1" in proc.stderr
    assert proc.stdout.count("2/2 clusters reconstructed") == 1

    serial, mpi = tmp_path / "serial", tmp_path / "mpi"
    assert _rows(mpi / "summary.csv") == _rows(serial / "summary.csv")
    assert [r["status"] for r in _rows(mpi / "summary.csv")] == ["ok", "ok"]
    drop_time = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert drop_time(_rows(mpi / "boxes.csv")) == drop_time(_rows(serial / "boxes.csv"))
    n_core = []
    for i in range(2):
        a, b = read(serial / f"cluster_{i:04d}.extxyz"), read(mpi / f"cluster_{i:04d}.extxyz")
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell[:], b.cell[:])
        assert (a.arrays["inserted"] == b.arrays["inserted"]).all()
        assert b.info["pe"] == pytest.approx(a.info["pe"], abs=1e-10)
        assert b.info["pe_per_atom"] == pytest.approx(a.info["pe_per_atom"], abs=1e-10)
        assert b.info["source"].endswith(f":{i}")
        assert (mpi / f"cluster_{i:04d}_grid.png").read_bytes()[:4] == b"\x89PNG"
        n_core.append(b.info["n_core"])
    assert n_core[0] == n_core[1] - 1  # the clusters did not swap: the vacancy core lacks one atom


@pytest.mark.mpi
@pytest.mark.parametrize("case, message", [("jobs", "cannot be combined with an MPI launch"),
                                           ("unwritable", "is not writable")])
def test_pcc_mpi_errors_end_every_rank(tmp_path, generated_reference, case, message):
    """An error under mpiexec ends all ranks with status 1 and the message (no rank left waiting)."""
    write(tmp_path / "c.extxyz", vacancy_cluster())
    outdir = "out"
    extra = ["-j", "2"] if case == "jobs" else []
    if case == "unwritable":
        (tmp_path / "afile").write_text("")
        outdir = "afile/out"
    cmd = [mpiexec(), "-n", "2", sys.executable, "-m", "eipgs.cli", "pcc", "c.extxyz", "-o", outdir, "-q",
           "--potential", str(generated_reference / "W_Zhou04.eam.alloy"), *extra]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert message in proc.stderr

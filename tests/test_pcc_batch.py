# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs pcc` batches: one bad cluster is skipped with its reason, the rest written; --force/--resume."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from ase.io import read, write

from eipgs.cli import main
from eipgs.pcc import PccSettings, reconstruct
from eipgs.pcc.build import strained_cluster, vacancy_cluster

# lattice cells only: a second per cluster, so the batch tests stay short
FAST = ["--mode", "lattice", "-q"]


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _bad_clusters():
    good = vacancy_cluster()
    no_center = vacancy_cluster()
    no_center.positions += 0.3
    nan = vacancy_cluster()
    nan.positions[5, 1] = np.nan
    dup = vacancy_cluster()
    dup += dup[3:4]  # the same atom twice
    big = vacancy_cluster(radius=9.0)  # its 7.5 Å core has > 60 atoms
    small = vacancy_cluster()
    small.info.pop("radius")
    small = small[np.linalg.norm(small.positions, axis=1) < 5.3]  # reaches only 5.2 Å: core radius 7.5 too large
    return [good, no_center, nan, dup, big, small]


def test_one_bad_cluster_does_not_sink_the_batch(tmp_path, w_eam, capsys):
    write(tmp_path / "c.extxyz", _bad_clusters())
    rc = main(["pcc", str(tmp_path / "c.extxyz"), "-o", str(tmp_path / "out"), "--potential", str(w_eam),
               "--core-radius", "7.5", "--max-atoms", "160", *FAST])
    rows = _rows(tmp_path / "out" / "summary.csv")
    out = capsys.readouterr().out
    assert [r["status"] for r in rows] == ["ok", "skipped", "skipped", "skipped", "ok", "skipped"], rows
    assert rc == 10 + 4  # documented: 10 + number of clusters without a cell
    assert "1/6" not in out and "2/6 clusters reconstructed" in out
    assert "has no centre atom" in rows[1]["reason"]
    assert "non-finite coordinate" in rows[2]["reason"] and "c.extxyz:2" in rows[2]["reason"]
    assert "overlap (0.000 Å apart" in rows[3]["reason"]
    assert "inside the core radius 7.5" in rows[5]["reason"]
    assert sorted(p.name for p in (tmp_path / "out").glob("cluster_*.extxyz")) == ["cluster_0000.extxyz",
                                                                                  "cluster_0004.extxyz"]
    assert not list((tmp_path / "out").glob(".*tmp*"))  # no half-written file left


def test_core_above_the_cap_is_a_reason_not_an_abort(tmp_path, w_eam):
    write(tmp_path / "c.extxyz", [vacancy_cluster(radius=9.0), vacancy_cluster()])
    rc = main(["pcc", str(tmp_path / "c.extxyz"), "-o", str(tmp_path / "out"), "--potential", str(w_eam),
               "--core-radius", "8.5", "--max-atoms", "120", *FAST])
    rows = _rows(tmp_path / "out" / "summary.csv")
    assert rc == 12 and [r["status"] for r in rows] == ["skipped", "skipped"]
    assert "alone exceeds --max-atoms 120" in rows[0]["reason"]


@pytest.mark.slow
def test_earlier_run_needs_force_or_resume(tmp_path, w_eam, capsys):
    write(tmp_path / "c.extxyz", [vacancy_cluster(), strained_cluster(np.diag([0.0, 0.0, -0.05]))])
    args = ["pcc", str(tmp_path / "c.extxyz"), "-o", str(tmp_path / "out"), "--potential", str(w_eam), *FAST]
    assert main(args) == 0
    first = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("cluster_*.extxyz")}
    assert len(first) == 2

    # a stale cell from some older run must not survive beside the new ones
    (tmp_path / "out" / "cluster_0007.extxyz").write_text("stale")
    assert main(args) == 1
    assert "holds 7 file(s) of an earlier eipgs pcc run" in capsys.readouterr().err

    # --resume: finished clusters are kept untouched; the one whose cell is missing runs again
    os.remove(tmp_path / "out" / "cluster_0001.extxyz")
    assert main(args + ["--resume"]) == 0
    assert (tmp_path / "out" / "cluster_0000.extxyz").stat().st_mtime_ns == first["cluster_0000.extxyz"]
    assert read(tmp_path / "out" / "cluster_0001.extxyz").info["source"] == "c.extxyz:1"

    # --force: every file it owns is cleared first
    assert main(args + ["--force"]) == 0
    assert not (tmp_path / "out" / "cluster_0007.extxyz").exists()
    assert [r["status"] for r in _rows(tmp_path / "out" / "summary.csv")] == ["ok", "ok"]


def test_reconstruct_is_atoms_in_atoms_out(tmp_path, w_eam):
    """The library entry point writes nothing and returns cells as Atoms with the summary rows."""
    before = set(os.listdir(tmp_path))
    bad = vacancy_cluster()
    bad.positions += 0.3
    result = reconstruct([vacancy_cluster(), bad], PccSettings(potential=w_eam, mode="lattice"), progress=False)
    assert set(os.listdir(tmp_path)) == before
    assert result.failed == 1 and result.cells[1] is None and result.rows[1]["status"] == "skipped"
    cell = result.cells[0]
    assert cell.pbc.all() and cell.info["n_core"] == int(cell.arrays["core"].sum()) and len(cell) <= 140
    assert result.rows[0]["n_atoms"] == len(cell)


@pytest.mark.slow
def test_interrupted_batch_keeps_finished_cells_and_resumes(tmp_path, w_eam, monkeypatch):
    """Ctrl-C while the second cluster finishes: the first cell and its summary row are on disk, no
    temporary file is left, and --resume runs only the second cluster."""
    import eipgs.pcc.driver as driver

    write(tmp_path / "c.extxyz", [vacancy_cluster(), strained_cluster(np.diag([0.05, 0.0, 0.0]))])
    args = ["pcc", str(tmp_path / "c.extxyz"), "-o", str(tmp_path / "out"), "--potential", str(w_eam), *FAST]
    real_finish = driver._finish

    def interrupted(job, i, boxes, settings):
        if i == 1:
            raise KeyboardInterrupt
        return real_finish(job, i, boxes, settings)

    monkeypatch.setattr(driver, "_finish", interrupted)
    assert main(args) == 130  # the CLI turns Ctrl-C into a one-line message and exit status 130
    out = tmp_path / "out"
    assert [r["status"] for r in _rows(out / "summary.csv")] == ["ok"]
    assert read(out / "cluster_0000.extxyz").info["source"] == "c.extxyz:0"
    assert not (out / "cluster_0001.extxyz").exists() and not list(out.glob(".*tmp*"))

    monkeypatch.setattr(driver, "_finish", real_finish)
    ran: list[int] = []
    monkeypatch.setattr(driver, "_run_task", _counting(ran))
    assert main(args + ["--resume"]) == 0
    assert set(ran) == {1}
    assert [r["status"] for r in _rows(out / "summary.csv")] == ["ok", "ok"]


def _counting(ran: list):
    import eipgs.pcc.driver as driver

    real = driver._run_task

    def run_task(task, comm=None):
        ran.append(task["cluster"])
        return real(task, comm)

    return run_task

# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs demo`: a reduced run of every stage (EAM, bootstrap MTP, sampling under mpiexec -n 2, DFT
inputs, report) with checks of what each produced, and a second run into the same folder (the --quick
slab); a small nanoindentation whose cluster centres are non-bcc by a common-neighbour analysis of the
clusters themselves."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from ase.io import read

SIZE, STEPS = 6, 400  # 1296 atoms, 5 sampling steps: a few seconds


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    from eipgs.demo import demo

    out = tmp_path_factory.mktemp("demo")
    results = demo(out, size=SIZE, steps=STEPS, cells=1, quick=True)
    return out, results


@pytest.mark.mpi
def test_demo_potential_and_bootstrap(small_demo):
    out, r = small_demo
    assert r["potential"]["cohesive_energy_eV"] == pytest.approx(-8.760, abs=1e-3)
    b = r["bootstrap"]
    assert b["m"] == 124 and b["level"] == 16 and 0 < b["filled"] <= b["m"]
    assert (out / "W-bootstrap.almtp").is_file() and (out / "W-bootstrap.train.cfg").is_file()


@pytest.mark.mpi
def test_demo_sampling_grades(small_demo):
    """Bulk atoms interpolate (γ < 2), the (110) surfaces and the interstitial extrapolate; the
    vacancy is in the basic set and does not. The LAMMPS grades equal an independent NumPy grading."""
    from eipgs.demo import classify_atoms, DemoContext, _dump_grades
    from eipgs.io.almtp import read_almtp
    from eipgs.io.lammps import read_lammps_dump
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration

    out, r = small_demo
    s = r["sampling"]
    assert s["atoms"] == 4 * 9 * 6 * 6 and s["steps"] == STEPS
    c = s["classes"]
    assert c["bulk"]["atoms"] > 300 and c["bulk"]["gamma_max"] < 1.5 and c["bulk"]["above"] == 0
    assert c["surface"]["atoms"] == 2 * 2 * 9 * 6  # two (110) layers of 2·nx·ny atoms
    assert c["surface"]["above"] > 0.9 * c["surface"]["atoms"]
    assert c["interstitial"]["gamma_max"] > 5.0
    assert c["vacancy"]["atoms"] > 0 and c["vacancy"]["gamma_max"] < 2.0

    atoms = read_lammps_dump(out / "grades_initial.dump", elements=["W"])[-1]
    pot = read_almtp(out / "W-bootstrap.almtp")
    ref = evaluate_configuration(MTPEvaluator(pot), atoms.positions, atoms.cell[:], atoms.pbc,
                                 np.zeros(len(atoms), dtype=np.int64)).grades
    _, gamma = _dump_grades(out / "grades_initial.dump")
    np.testing.assert_allclose(gamma, ref, rtol=2e-5, atol=1e-6)  # the dump has 15 digits
    masks = classify_atoms(atoms.positions, DemoContext(out, size=SIZE, quick=True))
    assert ref[masks["bulk"]].max() < 1.5 and ref[masks["surface"]].max() > 2.0

    # deduplication: far fewer clusters than candidate atoms, and none left above 2 at the end
    clusters = read(out / "clusters.extxyz", ":")
    assert len(clusters) == s["clusters"] and 1 <= s["clusters"] < s["candidates"] / 5
    # step 0 is sampled at the setup of the run: its candidates are exactly the atoms above 2 in the dump
    step0 = s["thermo"]["Step"] == 0
    assert s["thermo"]["f_sample[3]"][step0][0] == s["above_initial"] == int((gamma > 2.0).sum())
    assert s["candidates"] >= s["above_initial"]
    assert s["above_final"] < s["above_initial"]
    assert all(a.info["center_grade"] > 2.0 for a in clusters)
    assert all(np.linalg.norm(a.positions, axis=1).max() < 8.0 for a in clusters)
    assert s["gamma_max_run"] >= c["interstitial"]["gamma_max"]
    log = (out / "log.sampling.lammps").read_text()
    assert f"{STEPS} steps with 1296 atoms" in log and "on 2 procs" in log
    assert (out / "W-sampled.almtp").is_file()


@pytest.mark.mpi
def test_demo_dft_report_summary(small_demo):
    out, r = small_demo
    clusters = read(out / "clusters.extxyz", ":")
    folders = sorted(p for p in (out / "dft").iterdir() if p.is_dir())
    cells = [read(p) for p in r["cells"]["cell_files"]]
    assert len(folders) == r["dft"]["folders"] == len(clusters) + len(cells)
    expected = [out / "dft" / f"clusters_{k:05d}" for k in range(len(clusters))]
    expected += [out / "dft" / f"{p.stem}_00000" for p in r["cells"]["cell_files"]]
    assert sorted(expected) == folders
    for folder, cluster in zip(expected, clusters + cells):
        for name in ("POSCAR", "INCAR", "KPOINTS"):
            assert (folder / name).is_file(), folder / name
        counts = (folder / "POSCAR").read_text().splitlines()[6].split()
        assert sum(map(int, counts)) == len(cluster)
    for name in ("gamma_histogram.png", "gamma_max_vs_step.png", "pca_descriptors.png", "pcc_energy.png"):
        png = out / "report" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    summary = (out / "SUMMARY.md").read_text()
    for stage in ("potential", "bootstrap", "sampling", "cells", "dft", "report", "total"):
        assert f"| {stage} |" in summary
    assert f"{r['sampling']['clusters']} clusters" in summary


@pytest.mark.mpi
def test_demo_cells(small_demo):
    """The interior cluster of highest γ (the interstitial's) becomes a periodic cell of at most 140 atoms whose
    centre keeps its neighbourhood."""
    out, r = small_demo
    c = r["cells"]
    assert c["tried"] == 1 and c["cells"] == 1
    row = c["rows"][0]
    clusters = read(out / "clusters.extxyz", ":")
    # the interstitial's cluster: interior, and the highest centre grade of the run
    assert row["center_grade"] == max(a.info["center_grade"] for a in clusters) > 5.0
    assert row["cluster_atoms"] > 0.85 * max(len(a) for a in clusters)
    cell = read(c["cell_files"][0])
    assert cell.pbc.all() and len(cell) <= 140
    assert float(row["neighbourhood_deviation"]) < 1e-8


@pytest.mark.mpi
def test_demo_cli_rerun_same_folder(small_demo, tmp_path):
    """A second run into the same folder (here a shorter one) replaces every output: no stale DFT folders."""
    import shutil

    first, _ = small_demo
    out = tmp_path / "demo"
    shutil.copytree(first, out)  # rerun over a copy: the module fixture stays as the other tests read it
    stale = len([p for p in (out / "dft").iterdir() if p.is_dir()])
    proc = subprocess.run([sys.executable, "-m", "eipgs.cli", "demo", "--quick", "-o", str(out), "--size", str(SIZE),
                           "--steps", "100", "--temperature", "300", "--cells", "1"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "eipgs demo: done" in proc.stdout
    for stage in ("[1/6] potential", "[3/6] sampling", "[6/6] report", "clusters written"):
        assert stage in proc.stdout
    clusters = read(out / "clusters.extxyz", ":")
    assert {a.info["step"] for a in clusters} <= {0, 100}
    ncells = len(list((out / "cells").glob("cluster_*.extxyz"))) if (out / "cells").exists() else 0
    assert ncells <= 1
    dft_folders = len([p for p in (out / "dft").iterdir() if p.is_dir()])
    assert dft_folders == len(clusters) + ncells
    assert dft_folders < stale  # the longer first run wrote more: its extra folders are gone
    assert "100 steps" in (out / "SUMMARY.md").read_text()


def test_demo_rejects_bad_options(tmp_path):
    from eipgs.demo import demo

    with pytest.raises(ValueError, match="--steps"):
        demo(tmp_path, steps=150, every=100, quick=True)
    with pytest.raises(ValueError, match="--size"):
        demo(tmp_path, size=2, quick=True)
    with pytest.raises(ValueError, match="--size"):
        demo(tmp_path, size=4)
    with pytest.raises(ValueError, match="--depth"):
        demo(tmp_path, size=10, depth=40.0)
    assert not any(tmp_path.iterdir())  # refused before writing anything


# ----------------------------------------------------------------------------- nanoindentation

BCC_CNA_CUTOFF = 3.82  # Å, between the second (a = 3.16) and third (1.41 a = 4.48) shells of bcc W


def cna_signatures(positions: np.ndarray, center: int = 0, cutoff: float = BCC_CNA_CUTOFF) -> list[tuple[int, int, int]]:
    """Common-neighbour analysis of one atom: for each neighbour j within ``cutoff``, (number of common
    neighbours, bonds among them, longest chain of those bonds). Needs every atom within 2 × cutoff of the
    centre, which an 8 Å cluster has. Perfect bcc with this cutoff: 8 × (6, 6, 6) and 6 × (4, 4, 4)."""
    d = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    bonded = (d < cutoff) & (d > 0)
    signatures = []
    for j in np.flatnonzero(bonded[center]):
        common = np.flatnonzero(bonded[center] & bonded[j])
        sub = bonded[np.ix_(common, common)]
        edges = [(a, b) for a in range(len(common)) for b in range(a + 1, len(common)) if sub[a, b]]
        # longest chain: the largest connected set of bonds (clusters of edges sharing an atom)
        longest, seen = 0, set()
        for e in range(len(edges)):
            if e in seen:
                continue
            stack, size = [e], 0
            seen.add(e)
            while stack:
                a, b = edges[stack.pop()]
                size += 1
                for f, (c, g) in enumerate(edges):
                    if f not in seen and {a, b} & {c, g}:
                        seen.add(f)
                        stack.append(f)
            longest = max(longest, size)
        signatures.append((len(common), len(edges), longest))
    return sorted(signatures)


PERFECT_BCC = sorted([(6, 6, 6)] * 8 + [(4, 4, 4)] * 6)


def test_cna_of_perfect_bcc_and_of_a_surface_atom():
    from ase.build import bcc100, bulk

    crystal = bulk("W", "bcc", a=3.16485, cubic=True).repeat(5)
    centre = int(np.argmin(np.linalg.norm(crystal.positions - crystal.positions.mean(axis=0), axis=1)))
    assert cna_signatures(crystal.positions, centre) == PERFECT_BCC
    slab = bcc100("W", size=(5, 5, 6), a=3.16485, vacuum=5.0)
    top = int(np.argmax(slab.positions[:, 2] - 0.01 * np.linalg.norm(slab.positions[:, :2] - 7.9, axis=1)))
    assert cna_signatures(slab.positions, top) != PERFECT_BCC


@pytest.mark.slow
@pytest.mark.mpi
def test_demo_nanoindentation_centres_are_not_bcc(tmp_path):
    """A small indentation (1500 atoms, 2 Å deep): clusters are written, and no centre is a perfect-bcc atom
    by a CNA computed from the cluster itself; each centre lies at a surface of the slab or under the tip."""
    from eipgs.demo import demo, indentation_geometry
    from eipgs.io.lammps import read_lammps_dump

    size, depth, radius = 10, 2.0, 20.0
    r = demo(tmp_path, size=size, depth=depth, cells=0)
    s = r["sampling"]
    assert s["system"] == "indentation" and s["atoms"] == indentation_geometry(size)["atoms"] == 1500
    assert s["indenter_force"] > 1.0  # eV/Å: the tip is pushing
    clusters = read(tmp_path / "clusters.extxyz", ":")
    assert len(clusters) == s["clusters"] >= 1
    final = read_lammps_dump(tmp_path / "grades_final.dump", elements=["W"])[-1]
    z = final.positions[:, 2]
    axis = final.cell.lengths()[:2] / 2
    for cluster in clusters:
        assert cna_signatures(cluster.positions) != PERFECT_BCC, cluster.info
        where = final.positions[final.arrays["id"] == cluster.info["center_id"]][0] if "id" in final.arrays else \
            final.positions[int(cluster.info["center_id"]) - 1]
        at_surface = where[2] > z.max() - 2 * 3.16485 or where[2] < z.min() + 2 * 3.16485
        under_tip = np.linalg.norm(where[:2] - axis) < radius
        assert at_surface or under_tip, cluster.info
    assert (tmp_path / "report" / "report.md").is_file()

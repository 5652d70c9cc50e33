# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs pcc` end to end on a real W vacancy cluster, and its bad-input errors."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.io import read, write

from eipgs.cli import main
from eipgs.lmp import create_lammps, run
from eipgs.pcc import box_grid
from eipgs.pcc.build import A_W, vacancy_cluster  # noqa: F401  (A_W: imported from here by test_pcc_mpi)

E_BCC = -8.760  # eV/atom, Zhou W bcc (doc/design/pcc.md §6)
CUTOFF = 5.0


def brute_neighbourhood(atoms: Atoms, center: int, cutoff: float) -> np.ndarray:
    """Vectors to every atom and periodic image within cutoff of the centre, sorted (independent of eipgs)."""
    rel = atoms.positions - atoms.positions[center]
    vectors = []
    if atoms.pbc.all():
        n = [int(np.ceil(cutoff / length)) + 1 for length in atoms.cell.lengths()]
        for i in range(-n[0], n[0] + 1):
            for j in range(-n[1], n[1] + 1):
                for k in range(-n[2], n[2] + 1):
                    vectors.append(rel + np.array([i, j, k]) @ atoms.cell[:])
        vec = np.vstack(vectors)
    else:
        vec = rel
    r = np.linalg.norm(vec, axis=1)
    vec = vec[(r > 0) & (r < cutoff)]
    return vec[np.lexsort(np.round(vec, 6).T)]


@pytest.fixture(scope="module")
def reconstructed(tmp_path_factory, generated_reference):
    tmp = tmp_path_factory.mktemp("pcc")
    cluster = vacancy_cluster()
    write(tmp / "clusters.extxyz", cluster)
    # -j 2: the two boxes run in two worker processes (the parallel path of the driver)
    rc = main(["pcc", str(tmp / "clusters.extxyz"), "-o", str(tmp / "out"), "--margins", "3.5,4", "--repeats", "1",
               "--mode", "all",
               "--potential", str(generated_reference / "W_Zhou04.eam.alloy"), "-q", "-j", "2"])
    return tmp, cluster, rc


def test_pcc_builds_a_valid_periodic_cell(reconstructed, generated_reference):
    tmp, cluster, rc = reconstructed
    assert rc == 0
    cell = read(tmp / "out" / "cluster_0000.extxyz")
    assert cell.pbc.all() and len(cell) <= 140
    core = cell.arrays["core"]
    assert core.sum() == cell.info["n_core"] == int((np.linalg.norm(cluster.positions, axis=1) < 6.0).sum())
    assert (cell.arrays["inserted"] == ~core).all() and cell.info["n_inserted"] == (~core).sum()
    assert cell.info["center_id"] == cluster.info["center_id"]

    # the centre's neighbourhood within the cutoff is exactly the source cluster's: same vectors
    # (to 1e-8 Å), no inserted atom and no periodic image inside (brute force)
    src = brute_neighbourhood(cluster, int(np.argmin(np.linalg.norm(cluster.positions, axis=1))), CUTOFF)
    out = brute_neighbourhood(cell, 0, CUTOFF)  # eipgs pcc writes the centre first
    assert np.allclose(cell.positions[0], cell.positions[core].mean(axis=0), atol=1.5)
    assert src.shape == out.shape
    assert np.abs(src - out).max() < 1e-8
    ins = cell.positions[~core] - cell.positions[0]
    ins = ins - cell.cell.lengths() * np.round(ins / cell.cell.lengths())
    assert np.linalg.norm(ins, axis=1).min() >= CUTOFF

    # pe/atom recomputed independently by LAMMPS from the written cell; near bulk W
    lmp = create_lammps()
    try:
        lx, ly, lz = (float(v) for v in cell.cell.lengths())
        run(lmp, ["units metal", "atom_style atomic", f"region b block 0 {lx!r} 0 {ly!r} 0 {lz!r}", "create_box 1 b",
                  "mass 1 183.84", "pair_style eam/alloy", f"pair_coeff * * {generated_reference / 'W_Zhou04.eam.alloy'} W"])
        lmp.create_atoms(len(cell), list(range(1, len(cell) + 1)), [1] * len(cell), cell.positions.ravel().tolist())
        run(lmp, "run 0")
        pe_atom, pressure = lmp.get_thermo("pe") / len(cell), lmp.get_thermo("press") / 1e4
    finally:
        lmp.close()
    assert pe_atom == pytest.approx(cell.info["pe_per_atom"], abs=1e-6)
    assert abs(pressure) < 0.5  # GPa, box relaxed
    assert pe_atom < -8.5  # issue target; E_bcc = -8.760
    assert pe_atom > E_BCC


def test_pcc_summary_boxes_and_plot(reconstructed):
    tmp, _, _ = reconstructed
    rows = list(csv.DictReader(open(tmp / "out" / "summary.csv")))
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["neighbourhood_ok"] == "True"
    assert float(rows[0]["min_distance"]) > 2.0
    boxes = list(csv.DictReader(open(tmp / "out" / "boxes.csv")))
    assert [(b["variant"], b["margins"]) for b in boxes] == [
        ("lattice", "0,0,0"), ("lattice+relax", "0,0,0"), ("grid", "3.5,3.5,3.5"), ("grains", "3.5,3.5,3.5"),
        ("grid", "4,4,4"), ("grains", "4,4,4")]
    # the documented criterion: lowest excess energy over the strained perfect crystal among eligible cells
    best = min((b for b in boxes if b["eligible"] == "True"), key=lambda b: float(b["excess_energy"]))
    assert float(best["excess_energy"]) == pytest.approx(float(rows[0]["excess_energy"]))
    assert rows[0]["variant"] == best["variant"] == "lattice"
    ran = [b for b in boxes if b["status"] == "ok" or b["status"].startswith("invalid")]
    assert all(float(b["core_displacement"]) == 0.0 for b in ran)  # orthogonal boxes: bit-identical core
    assert (tmp / "out" / "cluster_0000_grid.png").read_bytes()[:4] == b"\x89PNG"


def test_box_grid_shapes():
    half = np.array([4.0, 4.0, 5.0])
    cubic = box_grid(half, [1, 2], "cubic")
    assert [b for b, _ in cubic] == [(9.0, 9.0, 11.0), (10.0, 10.0, 12.0)]
    assert len(box_grid(half, [1, 2], "axes")) == 2 + 6
    assert len(box_grid(half, [1, 2], "full")) == 8


def _write(tmp: Path, atoms: Atoms) -> str:
    path = tmp / "c.extxyz"
    write(path, atoms)
    return str(path)


@pytest.mark.parametrize(
    "case, extra, message",
    [
        ("unwritable", [], "is not writable"),
        ("element", ["--element", "Cu"], "cannot be used for elements W Cu"),
        ("core_below_cutoff", ["--core-radius", "4"], "smaller than the protected cutoff"),
    ],
)
def test_pcc_bad_input_errors(tmp_path, w_eam, capsys, case, extra, message):
    cluster = vacancy_cluster()
    outdir = tmp_path / "out"
    if case == "unwritable":
        (tmp_path / "afile").write_text("")
        outdir = tmp_path / "afile" / "out"
    rc = main(["pcc", _write(tmp_path, cluster), "-o", str(outdir), "--potential", str(w_eam), "-q", *extra])
    assert rc == 1
    assert message in capsys.readouterr().err


def test_pcc_mu_must_be_a_number(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["pcc", "c.extxyz", "-o", str(tmp_path), "--mu", "high"])
    assert "invalid float value: 'high'" in capsys.readouterr().err


def test_pcc_default_potential_is_the_generated_zhou04_w(tmp_path):
    """Without --potential the generated Zhou 2004 W EAM (eipgs.potentials.zhou04) is written and used."""
    write(tmp_path / "c.extxyz", vacancy_cluster())
    rc = main(["pcc", str(tmp_path / "c.extxyz"), "-o", str(tmp_path / "out"), "--margins", "4", "--repeats", "1", "-q"])
    assert rc == 0
    assert (tmp_path / "out" / "W_Zhou04.eam.alloy").is_file()
    cell = read(tmp_path / "out" / "cluster_0000.extxyz")
    assert len(cell) <= 140 and cell.info["pe_per_atom"] < -8.3


def test_pcc_cfg_needs_its_elements(tmp_path, capsys):
    (tmp_path / "nbh.cfg").write_text("BEGIN_CFG\n Size\n 1\n AtomData: id type cartes_x cartes_y cartes_z\n 1 0 0 0 0\nEND_CFG\n")
    assert main(["pcc", str(tmp_path / "nbh.cfg"), "-o", str(tmp_path / "out"), "-q"]) == 1
    assert "give them with --cfg-elements" in capsys.readouterr().err


def test_center_grade_is_unchanged(reconstructed, mtp_reference):
    """γ of the centre atom (nbh grade of MLIP-3's W-mlip3-basic.almtp or a generated potential) is
    the same in the source cluster and in the periodic cell."""
    from eipgs.io.almtp import read_almtp
    from eipgs.mtp import grade_atoms

    pot = read_almtp(mtp_reference / "W-mlip3-basic.almtp")
    tmp, cluster, _ = reconstructed
    cell = read(tmp / "out" / "cluster_0000.extxyz")
    center = int(np.argmin(np.linalg.norm(cluster.positions, axis=1)))
    gammas = []
    for atoms, c in ((cluster, center), (cell, 0)):
        atoms = atoms.copy()
        atoms.arrays["type"] = np.zeros(len(atoms), dtype=int)
        gammas.append(grade_atoms(pot, atoms, type_to_species=[0]).grades[c])
    assert gammas[0] > 0
    assert gammas[1] == pytest.approx(gammas[0], rel=1e-8, abs=1e-10)

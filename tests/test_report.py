# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs report`: PNGs that open, with the expected size and data on the axes; descriptors are the real B_α."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import is_generated
from eipgs.cli import main
from eipgs.io.formats import read_structures, write_structures
from eipgs.report import DPI, FIGSIZE, PCA_ALPHA, descriptors, read_thermo, report

C0 = np.array([0x1F, 0x77, 0xB4])  # matplotlib's first colour: the first dataset
C1 = np.array([0xFF, 0x7F, 0x0E])


def _coloured_pixels(png, colour, tol=40) -> int:
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(img - colour).sum(axis=2) < tol).sum())


@pytest.fixture(scope="module")
def graded_v1(mtp_reference):
    atoms = read_structures(mtp_reference / "grades" / "v1.data", elements=["W"])[0]
    table = np.loadtxt(mtp_reference / "grades" / "v1.grades.txt")
    by_id = dict(zip(table[:, 0].astype(int), table[:, 1]))
    atoms.arrays["nbh_grades"] = np.array([by_id[i] for i in atoms.arrays["id"]])
    return atoms


def test_descriptors_are_the_mtp_basis(mtp_reference, graded_v1):
    """Σ species_coeff + w·B_α per atom reproduces the site energies (MLIP-3's v1: mean −12.8920 eV,
    doc/design/mtp.md §11)."""
    from eipgs.io.almtp import read_almtp

    pot = read_almtp(mtp_reference / "W-mlip3-basic.almtp")
    from eipgs.mtp import MTPEvaluator, evaluate_configuration

    B, V = descriptors([graded_v1], pot)
    assert B.shape == (len(graded_v1), len(pot.moment_coeffs))  # (1024, 92) for MLIP-3's W and v1
    np.testing.assert_allclose(pot.species_coeffs[0] + B @ pot.moment_coeffs, V, rtol=1e-12)
    # the site energies are the evaluator's
    a = graded_v1
    site = evaluate_configuration(MTPEvaluator(pot), a.positions, a.cell[:], a.pbc, np.zeros(len(a), dtype=int), grades=False).energy
    np.testing.assert_allclose(V, site, rtol=1e-10)
    if not is_generated(mtp_reference):
        assert V.mean() == pytest.approx(-12.8920, abs=5e-5)


def test_read_thermo(tmp_path):
    log = tmp_path / "log.lammps"
    log.write_text(
        "LAMMPS (22 Jul 2025)\nStep Temp c_gmax\n0 300 1.5\n100 310 2.5\nLoop time of 1.0 on 1 procs\n"
        "WARNING: something\nStep Temp c_gmax PotEng\n100 310 2.5 -8.0\n200 305 12.0 -8.1\nLoop time of 1\n"
    )
    thermo = read_thermo(log)
    np.testing.assert_array_equal(thermo["Step"], [0, 100, 200])
    np.testing.assert_array_equal(thermo["c_gmax"], [1.5, 2.5, 12.0])
    assert np.isnan(thermo["PotEng"][0]) and thermo["PotEng"][2] == -8.1


def test_report_figures(tmp_path, mtp_reference, graded_v1, capsys):
    write_structures(tmp_path / "bulk.extxyz", [graded_v1])
    # A cluster: every atom within 8 Å of the most extrapolative one, non-periodic (like fix cluster/sample).
    centre = int(np.argmax(graded_v1.arrays["nbh_grades"]))
    d = graded_v1.get_distances(centre, range(len(graded_v1)), mic=True, vector=True)
    sel = np.flatnonzero(np.linalg.norm(d, axis=1) < 8.0)
    from ase import Atoms
    cluster = Atoms("W" * len(sel), positions=d[sel], pbc=False)
    cluster.arrays["nbh_grades"] = graded_v1.arrays["nbh_grades"][sel]
    write_structures(tmp_path / "cluster.extxyz", [cluster])
    log = tmp_path / "log.lammps"
    log.write_text("Step Temp c_gmax\n" + "".join(f"{100 * k} 300 {1 + 0.3 * k}\n" for k in range(12)) + "Loop time of 1\n")
    cells = [graded_v1.copy() for _ in range(3)]
    from ase.calculators.singlepoint import SinglePointCalculator
    for k, c in enumerate(cells):
        c.calc = SinglePointCalculator(c, energy=-12.9 * len(c) + k)
    write_structures(tmp_path / "cells.extxyz", cells)

    result = report([tmp_path / "bulk.extxyz", tmp_path / "cluster.extxyz", tmp_path / "cells.extxyz"], tmp_path / "rep",
                    potential=mtp_reference / "W-mlip3-basic.almtp", logs=[log], max_pca_atoms=300)
    figs = result["figures"]
    assert set(figs) == {"gamma_histogram", "gamma_max_vs_step", "pca_descriptors", "pcc_energy"}
    n = len(graded_v1)  # 1024 for MLIP-3's v1
    assert figs["gamma_histogram"]["points"] == n + len(sel) + 3 * n
    assert figs["gamma_max_vs_step"]["points"] == 12
    assert figs["pca_descriptors"]["points"] == min(300, n) + min(300, len(sel)) + min(300, 3 * n)
    assert figs["pcc_energy"]["points"] == 3
    # explained-variance ratios: the eigenvalues of the correlation matrix of the same (sub-sampled,
    # seed 0) descriptors, an independent route to the report's SVD of standardised data
    from eipgs.io.almtp import read_almtp

    pot = read_almtp(mtp_reference / "W-mlip3-basic.almtp")
    rng = np.random.default_rng(0)
    blocks = []
    for name in ("bulk", "cluster", "cells"):
        B, _ = descriptors(read_structures(tmp_path / f"{name}.extxyz"), pot)
        blocks.append(B[np.sort(rng.choice(len(B), 300, replace=False))] if len(B) > 300 else B)
    X = np.concatenate(blocks)
    X = X[:, X.std(axis=0) > 0]
    eig = np.sort(np.linalg.eigvalsh(np.corrcoef(X, rowvar=False)))[::-1]
    np.testing.assert_allclose(figs["pca_descriptors"]["explained_variance"], eig[:2] / eig.sum(), rtol=1e-8)
    for name, fig in figs.items():
        with Image.open(fig["path"]) as img:
            img.verify()
        with Image.open(fig["path"]) as img:
            assert img.size == (int(FIGSIZE[0] * DPI), int(FIGSIZE[1] * DPI)), name
        colour = C0 if name != "pca_descriptors" else PCA_ALPHA * C0 + (1 - PCA_ALPHA) * 255  # on white
        assert _coloured_pixels(fig["path"], colour) > 50, f"{name}: no data drawn in the first colour"
    cluster_colour = PCA_ALPHA * C1 + (1 - PCA_ALPHA) * 255
    assert _coloured_pixels(figs["pca_descriptors"]["path"], cluster_colour) > 50  # the cluster is on the map too
    summary = {row["label"]: row for row in result["datasets"]}
    g = graded_v1.arrays["nbh_grades"]  # MLIP-3's v1: max 3.13024, 2 above 2, none above 10
    assert summary["bulk"]["gamma_max"] == pytest.approx(g.max()) and summary["bulk"]["above_select"] == int((g > 2).sum())
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "![gamma_histogram](gamma_histogram.png)" in md
    assert f"| bulk | 1 | {n} | {g.max():.5f} | {int((g > 2).sum())} | {int((g > 10).sum())} |" in md

    # CLI without potential or log: only what the data allow, with the reasons.
    assert main(["report", str(tmp_path / "bulk.extxyz"), "-o", str(tmp_path / "rep2")]) == 0
    out = capsys.readouterr().out
    assert f"gamma_histogram.png ({n} points)" in out and "no pca_descriptors: no --potential" in out


def test_gamma_max_from_dump_frames(tmp_path):
    frames = []
    for k, gmax in enumerate([1.2, 3.5, 11.0]):
        frames.append(f"ITEM: TIMESTEP\n{1000 * k}\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS pp pp pp\n0 3.2\n0 3.2\n0 3.2\n"
                      f"ITEM: ATOMS id type x y z f_grade\n1 1 0 0 0 0.5\n2 1 1.6 1.6 1.6 {gmax}\n")
    (tmp_path / "run.lammpstrj").write_text("".join(frames))
    result = report([tmp_path / "run.lammpstrj"], tmp_path / "rep", elements=["W"])
    assert result["figures"]["gamma_max_vs_step"]["points"] == 3
    assert result["figures"]["gamma_histogram"]["points"] == 6
    assert result["datasets"][0]["gamma_max"] == 11.0 and result["datasets"][0]["above_break"] == 1
    assert "pcc_energy" in result["skipped"]

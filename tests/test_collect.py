# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs collect`: fake-but-real VASP outputs with known numbers are collected exactly; bad runs are reported."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase import Atoms
from ase.build import bulk
from _dft_outputs import KBAR_PER_EV_A3, fake_single_point, write_outcar, write_vasprun

from eipgs.cli import main
from eipgs.collect import collect, deduplicate
from eipgs.dft.vasp import dft_vasp
from eipgs.io.cfg import read_cfg
from eipgs.io.formats import read_structures, write_structures
from eipgs.io.pacemaker import read_pacemaker

MLIP_ORDER = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]  # xx yy zz yz xz xy


@pytest.fixture
def dft_runs(tmp_path):
    """Three cells and one cluster through `eipgs dft vasp`, then fake VASP outputs in each folder."""
    cells = []
    for k in range(3):
        atoms = bulk("W", "bcc", a=3.16485 + 0.01 * k, cubic=True) * (2, 1, 1)
        atoms.symbols[1] = "Cu"
        atoms.rattle(0.02, seed=k)
        atoms.info["features"] = {"step": str(1000 * k), "from": "pcc"}
        cells.append(atoms)
    write_structures(tmp_path / "cells.extxyz", cells)
    cluster = Atoms("W4Cu", positions=np.random.default_rng(5).random((5, 3)) * 5.0, pbc=False)
    cluster.arrays["core"] = np.array([True, False, True, False, False])
    cluster.info["features"] = {"nbh#": "77", "step": "5000"}
    write_structures(tmp_path / "cluster.extxyz", [cluster])
    dft = tmp_path / "dft"
    folders = dft_vasp([tmp_path / "cells.extxyz", tmp_path / "cluster.extxyz"], dft, elements=["W", "Cu"])
    truth = {}
    truth["cells_00000"] = fake_single_point(folders[0], ase.io.read(folders[0] / "POSCAR"), 10)
    truth["cells_00001"] = fake_single_point(folders[1], ase.io.read(folders[1] / "POSCAR"), 11, outcar_only=True)
    truth["cells_00002"] = fake_single_point(folders[2], ase.io.read(folders[2] / "POSCAR"), 12)
    truth["cluster_00000"] = fake_single_point(folders[3], ase.io.read(folders[3] / "POSCAR"), 13)
    return tmp_path, dft, truth


def _plus_stress(truth, volume):
    s = truth["stress_kbar"]
    return np.array([s[i, j] for i, j in MLIP_ORDER]) * volume / KBAR_PER_EV_A3


def test_collect_cfg_exact(dft_runs):
    tmp_path, dft, truth = dft_runs
    summary = collect([dft], tmp_path / "train.cfg", elements=["W", "Cu"])
    assert summary["collected"] == 4 and summary["skipped"] == 0 and summary["written"] == 4
    images = read_cfg(tmp_path / "train.cfg", elements=["W", "Cu"])
    by_dir = {a.info["features"]["dft_dir"].split("/")[-1]: a for a in images}
    for name, t in truth.items():
        atoms = by_dir[name]
        poscar = ase.io.read(dft / name / "POSCAR")
        assert atoms.get_chemical_symbols() == poscar.get_chemical_symbols()
        np.testing.assert_allclose(atoms.positions, poscar.positions, atol=1e-8)
        assert atoms.get_potential_energy() == t["free_energy"]  # exact: no-loss cfg
        np.testing.assert_array_equal(atoms.get_forces(), t["forces"])
        if name.startswith("cluster"):
            assert "plus_stress" not in atoms.info  # a box with vacuum has no meaningful stress
            continue
        # PlusStress = (VASP kB tensor) × V / 1602.1766, columns xx yy zz yz xz xy (doc/design/mtp.md §9.3).
        np.testing.assert_allclose(atoms.info["plus_stress"], _plus_stress(t, poscar.get_volume()), rtol=1e-12, atol=1e-12)
    text = (tmp_path / "train.cfg").read_text()
    assert text.count("Feature   EFS_by\tVASP") == 4
    cl = by_dir["cluster_00000"].info["features"]
    assert cl["center_id"] == "77" and cl["step"] == "5000" and cl["source"].endswith("cluster.extxyz")
    assert by_dir["cells_00002"].info["features"]["step"] == "2000"
    assert by_dir["cells_00002"].info["features"]["source_index"] == "2"


def test_collect_pacemaker_weights_and_e0(dft_runs):
    tmp_path, dft, truth = dft_runs
    collect([dft], tmp_path / "train.pckl.gzip", e0={"W": -4.5, "Cu": -3.25}, cluster_surface_weight=0.1)
    df = pd.read_pickle(tmp_path / "train.pckl.gzip", compression="gzip")
    assert len(df) == 4
    for _, row in df.iterrows():
        name = row["name"].split("/")[-1]
        atoms = row["ase_atoms"]
        ref = -4.5 * atoms.get_chemical_symbols().count("W") - 3.25 * atoms.get_chemical_symbols().count("Cu")
        assert row["energy"] == truth[name]["free_energy"]
        assert row["energy_corrected"] == pytest.approx(truth[name]["free_energy"] - ref, abs=1e-10)
        np.testing.assert_array_equal(row["forces"], truth[name]["forces"])
        w = np.asarray(row["w_forces"])
        if name.startswith("cluster"):
            core = np.array(json.loads((dft / name / "meta.json").read_text())["core"])
            np.testing.assert_allclose(w[~core] / w[core][0], 0.1)
            np.testing.assert_allclose(w[core], w[core][0])
        else:
            np.testing.assert_allclose(w, w[0])
    # One normalisation over the whole set: every full-weight atom carries the same weight.
    n_full = sum(len(a) for a in df["ase_atoms"]) - 3 * (1 - 0.1)  # 3 non-core cluster atoms at 0.1
    assert sum(w.sum() for w in df["w_forces"]) == pytest.approx(1.0)
    assert df["w_forces"][0][0] == pytest.approx(1.0 / n_full)


def test_collect_extxyz_and_sigma0(dft_runs):
    tmp_path, dft, truth = dft_runs
    collect([dft], tmp_path / "train.extxyz", energy="sigma0")
    images = read_structures(tmp_path / "train.extxyz")
    for atoms in images:
        t = truth[atoms.info["features"]["dft_dir"].split("/")[-1]]
        assert atoms.get_potential_energy() == pytest.approx(t["sigma0_energy"], abs=1e-12)
        np.testing.assert_allclose(atoms.get_forces(), t["forces"], atol=5e-9)


def test_bad_runs_are_reported(dft_runs):
    tmp_path, dft, truth = dft_runs
    atoms = ase.io.read(dft / "cells_00000" / "POSCAR")
    forces = np.zeros((len(atoms), 3))
    stress = np.zeros((3, 3))
    bad = {
        "unconverged_xml": dict(nelm=40, n_scf=40),
        "truncated_xml": dict(complete=False),
    }
    for name, kw in bad.items():
        (dft / name).mkdir()
        write_vasprun(dft / name / "vasprun.xml", atoms, free_energy=-1.0, sigma0_energy=-1.0, forces=forces,
                      stress_kbar=stress, **kw)
    (dft / "unconverged_outcar").mkdir()
    write_outcar(dft / "unconverged_outcar" / "OUTCAR", atoms, free_energy=-1.0, sigma0_energy=-1.0, forces=forces,
                 stress_kbar=stress, nelm=60, n_scf=60, converged=False)
    (dft / "crashed_outcar").mkdir()
    write_outcar(dft / "crashed_outcar" / "OUTCAR", atoms, free_energy=-1.0, sigma0_energy=-1.0, forces=forces,
                 stress_kbar=stress, finished=False)
    (dft / "not_run").mkdir()
    (dft / "not_run" / "meta.json").write_text("{}")
    # A crashed vasprun.xml with a good OUTCAR beside it falls back to the OUTCAR.
    (dft / "fallback").mkdir()
    t = fake_single_point(dft / "fallback", atoms, 99, outcar_only=True)
    write_vasprun(dft / "fallback" / "vasprun.xml", atoms, free_energy=0.0, sigma0_energy=0.0, forces=forces,
                  stress_kbar=stress, complete=False)

    summary = collect([dft], tmp_path / "t.cfg", elements=["W", "Cu"])
    runs = {r["folder"].split("/")[-1]: r for r in summary["runs"]}
    assert summary["collected"] == 5 and summary["skipped"] == 5
    assert "electronic SCF not converged: 40 steps = NELM 40" in runs["unconverged_xml"]["reason"]
    assert "truncated or corrupt" in runs["truncated_xml"]["reason"]
    assert "no 'EDIFF is reached'" in runs["unconverged_outcar"]["reason"]
    assert "incomplete" in runs["crashed_outcar"]["reason"]
    assert "not run yet" in runs["not_run"]["reason"]
    assert runs["fallback"]["status"] == "ok" and runs["fallback"]["source"].endswith("OUTCAR")
    assert runs["fallback"]["energy"] == t["free_energy"]
    report = (tmp_path / "collect_report.txt").read_text()
    assert "skipped   " + str(dft / "unconverged_xml") in report
    assert json.loads((tmp_path / "collect_report.json").read_text())["skipped"] == 5


def test_merge_drops_duplicates(dft_runs, capsys):
    tmp_path, dft, truth = dft_runs
    collect([dft], tmp_path / "first.cfg", elements=["W", "Cu"])
    # Collecting the same runs again into the first set adds nothing; a new run is added once.
    summary = collect([dft], tmp_path / "merged.cfg", elements=["W", "Cu"], merge=[tmp_path / "first.cfg"])
    assert summary["written"] == 4 and summary["duplicates"] == 4
    assert all(r["status"] == "duplicate" for r in summary["runs"])
    images = read_structures(tmp_path / "first.cfg", elements=["W", "Cu"])
    kept, dropped = deduplicate(images + [images[1]] + images[:1])
    assert len(kept) == 4 and dropped == [4, 5]
    # A compact (6-decimal) cfg of the same set is still recognised.
    collect([dft], tmp_path / "compact.cfg", elements=["W", "Cu"], no_loss=False)
    again = collect([dft], tmp_path / "m2.cfg", elements=["W", "Cu"], merge=[tmp_path / "compact.cfg"])
    assert again["written"] == 4 and again["duplicates"] == 4
    # Same structure, different energy: both kept.
    other = images[0].copy()
    other.calc = type(images[0].calc)(other, energy=images[0].get_potential_energy() + 1e-3,
                                      forces=images[0].get_forces())
    assert len(deduplicate(images + [other])[0]) == 5
    # CLI: merge, pacemaker output, --strict with a skipped run.
    (dft / "empty").mkdir()
    (dft / "empty" / "meta.json").write_text("{}")
    rc = main(["collect", str(dft), "-o", str(tmp_path / "m.pckl.gzip"), "--merge", str(tmp_path / "first.cfg"),
               "--elements", "W,Cu", "--strict"])
    out = capsys.readouterr()
    assert rc == 2 and "4 structures" in out.out and "skipped" in out.err
    assert len(read_pacemaker(tmp_path / "m.pckl.gzip")) == 4


def test_nothing_to_collect(tmp_path, capsys):
    (tmp_path / "d" / "a").mkdir(parents=True)
    (tmp_path / "d" / "a" / "meta.json").write_text("{}")
    with pytest.raises(ValueError, match="no usable DFT run"):
        collect([tmp_path / "d"], tmp_path / "x.cfg")
    assert main(["collect", str(tmp_path / "missing"), "-o", str(tmp_path / "x.cfg")]) == 1
    assert "DFT folder not found" in capsys.readouterr().err


def test_pipeline_through_the_cli(tmp_path, generated_reference, capsys):
    """clusters (fix cluster/sample extxyz) → dft vasp → (fake VASP) → collect → train mtp → report."""
    from test_convert import _cluster_sample_extxyz

    _cluster_sample_extxyz(tmp_path / "clusters.extxyz", ["W", "W"])
    assert main(["dft", "vasp", str(tmp_path / "clusters.extxyz"), "-o", str(tmp_path / "dft")]) == 0
    folder = tmp_path / "dft" / "clusters_00000"
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["center_id"] == 17 and meta["step"] == 12000 and meta["core"] == [True, True, False]
    truth = fake_single_point(folder, ase.io.read(folder / "POSCAR"), 21)
    assert main(["collect", str(tmp_path / "dft"), "-o", str(tmp_path / "train.cfg"),
                 "--cluster-surface-weight", "0.2"]) == 0
    atoms = read_cfg(tmp_path / "train.cfg", elements=["W"])[0]
    assert atoms.get_potential_energy() == truth["free_energy"]
    assert atoms.info["features"]["center_id"] == "17" and atoms.info["features"]["center_grade"] == "3.5"
    assert main(["train", "mtp", str(tmp_path / "train.cfg"), "-o", str(tmp_path / "fit"), "--elements", "W",
                 "--init", str(generated_reference / "W-mlip3-basic.almtp"), "--dry-run"]) == 0
    assert (tmp_path / "fit" / "train.cfg").read_text() == (tmp_path / "train.cfg").read_text()
    assert main(["report", str(tmp_path / "clusters.extxyz"), str(tmp_path / "train.cfg"), "-o", str(tmp_path / "rep"),
                 "--elements", "W", "--potential", str(generated_reference / "W-mlip3-basic.almtp")]) == 0
    out = capsys.readouterr().out
    assert "pca_descriptors.png (6 points)" in out and "pcc_energy.png (1 points)" in out


def test_collect_quantum_espresso(tmp_path):
    from _dft_outputs import write_pw_out
    from ase.units import create_units

    # QE's own constants are CODATA 2006, and so are those of ASE's pw.x reader.
    units = create_units("2006")
    Ry, Bohr = units["Ry"], units["Bohr"]

    from eipgs.dft.qe import dft_qe

    cells = [bulk("W", "bcc", a=3.16485 + 0.01 * k, cubic=True) * (2, 1, 1) for k in range(3)]
    for c in cells:
        c.symbols[1] = "Cu"
    write_structures(tmp_path / "cells.extxyz", cells)
    folders = dft_qe([tmp_path / "cells.extxyz"], tmp_path / "qe", elements=["W", "Cu"],
                     pseudopotentials={"W": "W.UPF", "Cu": "Cu.UPF"})
    rng = np.random.default_rng(4)
    truth = []
    for k, folder in enumerate(folders):
        atoms = ase.io.read(folder / "pw.in", format="espresso-in")
        e_ry = round(-300.0 * len(atoms) + rng.normal(), 8)
        f = np.round(rng.normal(scale=0.01, size=(len(atoms), 3)), 8)
        s = rng.normal(scale=1e-5, size=(3, 3))
        s = np.round(0.5 * (s + s.T), 8)
        write_pw_out(folder / "pw.out", atoms, energy_ry=e_ry, forces_ry_bohr=f, stress_ry_bohr3=s, converged=k != 2)
        truth.append((e_ry * Ry, f * Ry / Bohr, s * Ry / Bohr**3, atoms.get_volume()))
    summary = collect([tmp_path / "qe"], tmp_path / "qe.cfg", elements=["W", "Cu"])
    runs = {r["folder"].split("/")[-1]: r for r in summary["runs"]}
    assert summary["collected"] == 2 and "convergence NOT achieved" in runs["cells_00002"]["reason"]
    images = read_cfg(tmp_path / "qe.cfg", elements=["W", "Cu"])
    for atoms, (e, f, s, volume) in zip(images, truth):
        assert atoms.info["features"]["EFS_by"] == "QE"
        assert atoms.get_potential_energy() == pytest.approx(e, rel=1e-14)
        np.testing.assert_allclose(atoms.get_forces(), f, rtol=1e-12, atol=1e-14)
        # QE prints the stress with the sign of a pressure, like PlusStress/V.
        expected = np.array([s[i, j] for i, j in MLIP_ORDER]) * volume
        np.testing.assert_allclose(atoms.info["plus_stress"], expected, rtol=1e-6, atol=1e-12)
        assert atoms.get_chemical_symbols() == ["W"] * 3 + ["Cu"]

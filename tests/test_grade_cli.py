# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs grade` end to end: inputs in every format, grades against MLIP-3's (or, for generated
potentials and structures, the evaluator's own through the library call), bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np

from eipgs.cli import main
from eipgs.grade import grade
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.io.lammps import read_lammps_data

TOL = 2e-5


def _reference(reference, name, ids):
    table = np.loadtxt(reference / "grades" / f"{name}.grades.txt")
    by_id = dict(zip(table[:, 0].astype(int), table[:, 1]))
    return np.array([by_id[int(i)] for i in ids])


def _assert_close(grades, ref):
    dev = np.abs(np.asarray(grades) - ref)
    assert np.all(dev <= TOL * np.maximum(1.0, ref)), f"max |Δγ| = {dev.max():.2e}"


def test_cli_console_script_on_v1(mtp_reference, tmp_path):
    out = tmp_path / "v1.cfg"
    exe = Path(sys.prefix) / "bin" / "eipgs"
    proc = subprocess.run(
        [str(exe), "grade", str(mtp_reference / "W-mlip3-basic.almtp"), str(mtp_reference / "grades" / "v1.data"), "-o", str(out), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    (cfg,) = read_cfg(out, elements=["W"])
    atoms = read_lammps_data(mtp_reference / "grades" / "v1.data")
    ref = _reference(mtp_reference, "v1", atoms.arrays["id"])
    n = len(atoms)  # 1024 for MLIP-3's v1: max grade 3.13024, 2 atoms > 2
    assert f"max grade {ref.max():.5f}, {int((ref > 2).sum())} atoms > 2" in proc.stdout
    assert len(cfg) == n
    assert cfg.info["features"]["lammps_ids"] == f"1-{n}"
    np.testing.assert_allclose(cfg.positions, atoms.positions, atol=5e-7)  # %13.6f
    _assert_close(cfg.arrays["nbh_grades"], ref)
    assert abs(float(cfg.info["features"]["MV_grade"]) - ref.max()) <= 5e-6 + TOL * ref.max()  # 6 decimals vs MLIP-3's 5
    assert cfg.arrays["type"].tolist() == [0] * n


def test_cfg_and_extxyz_inputs(mtp_reference, tmp_path):
    pot = mtp_reference / "W-mlip3-basic.almtp"
    atoms = read_lammps_data(mtp_reference / "grades" / "v2.data")
    ref = _reference(mtp_reference, "v2", atoms.arrays["id"])
    cfg_in = tmp_path / "v2.cfg"
    exact = atoms.copy()
    exact.arrays["type"] = np.zeros(len(atoms), dtype=int)
    exact.info["features"] = {"EFS_by": "nobody"}
    write_cfg(cfg_in, [exact, exact], no_loss=True)
    graded = grade(pot, cfg_in, tmp_path / "out.cfg", progress=False)
    assert len(graded) == 2
    _assert_close(graded[1].arrays["nbh_grades"], ref)
    back = read_cfg(tmp_path / "out.cfg")
    np.testing.assert_allclose(back[0].arrays["nbh_grades"], graded[0].arrays["nbh_grades"], atol=5e-6)
    assert back[0].info["features"]["EFS_by"] == "nobody"
    assert int((back[0].arrays["nbh_grades"] > 2).sum()) == int((ref > 2).sum()) > 0  # 58 for MLIP-3's v2
    xyz = tmp_path / "v2.extxyz"
    ase.io.write(xyz, atoms, format="extxyz")  # carries the LAMMPS 'type' array (1) too
    assert main(["grade", str(pot), str(xyz), "-o", str(tmp_path / "x.cfg"), "-q", "--elements", "W"]) == 0
    (x,) = read_cfg(tmp_path / "x.cfg")
    _assert_close(x.arrays["nbh_grades"], ref)
    plain = atoms.copy()
    for key in ("type", "id", "image"):
        del plain.arrays[key]
    ase.io.write(xyz, plain, format="extxyz")  # symbols only: one species, one element
    assert main(["grade", str(pot), str(xyz), "-o", str(tmp_path / "x.cfg"), "-q"]) == 0
    _assert_close(read_cfg(tmp_path / "x.cfg")[0].arrays["nbh_grades"], ref)


def _write_dump(path, atoms, types, column="type"):
    lines = ["ITEM: TIMESTEP", "1500", "ITEM: NUMBER OF ATOMS", str(len(atoms)), "ITEM: BOX BOUNDS pp pp pp"]
    origin = atoms.info["lammps_origin"]
    for q in range(3):
        lines.append(f"{float(origin[q])!r} {float(origin[q] + atoms.cell[q, q])!r}")
    lines.append(f"ITEM: ATOMS id {column} x y z")
    for i, t, p in zip(atoms.arrays["id"], types, atoms.positions + origin):
        lines.append(f"{i} {t} {float(p[0])!r} {float(p[1])!r} {float(p[2])!r}")
    path.write_text("\n".join(lines) + "\n")


def test_two_species_dump_with_swapped_type_order(mtp_reference, tmp_path, capsys):
    """LAMMPS type 1 = Ni, type 2 = Cu, mapped with `--species 1 0`, reproduces MLIP-3's CuNi grades."""
    pot = mtp_reference / "CuNi-mtp10.almtp"
    atoms = read_lammps_data(mtp_reference / "grades" / "cuni_v.data")
    ref = _reference(mtp_reference, "cuni_v", atoms.arrays["id"])
    swapped = 3 - atoms.arrays["type"]
    dump = tmp_path / "cuni.lammpstrj"
    _write_dump(dump, atoms, swapped)
    out = tmp_path / "cuni.cfg"
    assert main(["grade", str(pot), str(dump), "-o", str(out), "--species", "1", "0", "-q"]) == 0
    (cfg,) = read_cfg(out)
    _assert_close(cfg.arrays["nbh_grades"], ref)
    # cfg types are MTP species labels: Cu (species 0) was LAMMPS type 2 here.
    np.testing.assert_array_equal(cfg.arrays["type"], atoms.arrays["type"] - 1)
    assert cfg.info["features"]["lammps_timestep"] == "1500"
    # A dump with an `element` column instead of `type`: --elements gives the LAMMPS type order.
    _write_dump(dump, atoms, np.where(swapped == 1, "Ni", "Cu"), column="element")
    assert main(["grade", str(pot), str(dump), "-o", str(out), "--elements", "Ni", "Cu", "--species", "1", "0", "-q"]) == 0
    _assert_close(read_cfg(out)[0].arrays["nbh_grades"], ref)
    _write_dump(dump, atoms, swapped)
    # NULL leaves a type out: its atoms get grade 0 and stop being neighbours.
    assert main(["grade", str(pot), str(dump), "-o", str(out), "--species", "NULL", "0", "-q"]) == 0
    (cfg,) = read_cfg(out)
    ni = swapped == 1
    assert np.all(cfg.arrays["nbh_grades"][ni] == 0)
    assert not np.allclose(cfg.arrays["nbh_grades"][~ni], ref[~ni], atol=1e-3)


def _fail(args, capsys, match):
    assert main(args) == 1
    err = capsys.readouterr().err
    assert match in err, err
    return err


def test_bad_input(mtp_reference, tmp_path, capsys):
    w = str(mtp_reference / "W-mlip3-basic.almtp")
    cuni = str(mtp_reference / "CuNi-mtp10.almtp")
    v1 = str(mtp_reference / "grades" / "v1.data")
    cuni_data = str(mtp_reference / "grades" / "cuni_v.data")
    out = str(tmp_path / "o.cfg")
    _fail(["grade", str(tmp_path / "no.almtp"), v1, "-o", out], capsys, "not found")
    _fail(["grade", w, str(tmp_path / "no.data"), "-o", out], capsys, "not found")
    _fail(["grade", cuni, cuni_data, "-o", out, "--species", "0"], capsys, "1 entries but the input has 2 LAMMPS atom types")
    _fail(["grade", cuni, cuni_data, "-o", out, "--species", "0", "2"], capsys, "species index 2 >= species_count 2")
    _fail(["grade", w, cuni_data, "-o", out], capsys, "2 LAMMPS atom types but")
    _fail(["grade", w, cuni_data, "-o", out, "--species", "0", "x"], capsys, "neither an integer nor NULL")
    data = Path(w).read_bytes()
    data = data.replace(b"energy_weight 0.0000000000000000e+00", b"energy_weight 1.0000000000000000e+00")
    data = data.replace(b"site_en_weight 1.0000000000000000e+00", b"site_en_weight 0.0000000000000000e+00")
    cfg_mode = tmp_path / "cfgmode.almtp"
    cfg_mode.write_bytes(data)
    _fail(["grade", str(cfg_mode), v1, "-o", out], capsys, "configuration mode")
    trunc = tmp_path / "trunc.almtp"
    trunc.write_bytes(Path(w).read_bytes()[:100000])
    _fail(["grade", str(trunc), v1, "-o", out], capsys, "cut mid-matrix")
    # cfg types that the potential does not know
    bad_cfg = tmp_path / "t.cfg"
    bad_cfg.write_text("BEGIN_CFG\n Size\n 1\n AtomData: id type cartes_x cartes_y cartes_z\n 1 3 0 0 0\nEND_CFG\n")
    _fail(["grade", w, str(bad_cfg), "-o", out], capsys, "too few species")
    assert not Path(out).exists()

# SPDX-License-Identifier: GPL-2.0-only
"""`eipgs dft vasp|qe`: POSCAR species, INCAR settings, KPOINTS meshes, vacuum boxes, provenance, job scripts."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from eipgs.cli import main
from eipgs.dft.common import kpoint_mesh
from eipgs.dft.qe import dft_qe
from eipgs.dft.vasp import dft_vasp
from eipgs.io.formats import write_structures


def _kpoints(folder) -> tuple[str, list[int]]:
    lines = (folder / "KPOINTS").read_text().splitlines()
    return lines[2].strip(), [int(x) for x in lines[3].split()]


def test_kpoint_mesh_by_hand():
    # Orthorhombic 4 × 5 × 7 Å: |b_i| = 1/a_i; N = ceil(|b| / 0.03): 8.33 → 9, 6.67 → 7, 4.76 → 5.
    ortho = Atoms("W", cell=[4.0, 5.0, 7.0], pbc=True)
    assert kpoint_mesh(ortho) == (9, 7, 5)
    # Hexagonal a = 3 Å, c = 5 Å: |b_1| = |b_2| = 2 / (√3 a) = 0.38490 → 12.83 → 13; |b_3| = 1/5 → 6.67 → 7.
    hexagonal = Atoms("W", cell=[[3.0, 0, 0], [-1.5, 1.5 * np.sqrt(3), 0], [0, 0, 5.0]], pbc=True)
    assert kpoint_mesh(hexagonal) == (13, 13, 7)
    # bcc W conventional cell a = 3.16485 Å: 1/a/0.03 = 10.53 → 11; a non-periodic axis gets 1.
    w = bulk("W", "bcc", a=3.16485, cubic=True)
    assert kpoint_mesh(w) == (11, 11, 11)
    w.pbc = [True, True, False]
    assert kpoint_mesh(w) == (11, 11, 1)
    assert kpoint_mesh(ortho, spacing=0.05) == (5, 4, 3)  # 5.0 → 5 exactly, 4 → 4, 2.86 → 3


def _inputs(tmp_path):
    cell = bulk("W", "bcc", a=3.16485, cubic=True) * (2, 2, 1)
    cell.symbols[[1, 4]] = "Cu"
    cell.info["features"] = {"from": "pcc", "step": "2000"}
    write_structures(tmp_path / "cells.extxyz", [cell])
    rng = np.random.default_rng(3)
    cluster = Atoms("WCuWWCu", positions=rng.random((5, 3)) * 6.0, pbc=False)
    cluster.arrays["core"] = np.array([True, True, False, True, False])
    cluster.info["features"] = {"nbh#": "41", "cfg#": "0", "extrapolation_grade": "7.5", "step": "12000"}
    write_structures(tmp_path / "clusters.extxyz", [cluster])
    return cell, cluster


def test_vasp_folders(tmp_path):
    cell, cluster = _inputs(tmp_path)
    out = tmp_path / "dft"
    folders = dft_vasp([tmp_path / "cells.extxyz", tmp_path / "clusters.extxyz"], out, elements=["W", "Cu"],
                       incar={"ENCUT": "600", "ALGO": ""})
    assert [f.name for f in folders] == ["cells_00000", "clusters_00000"]
    assert (out / "jobs.txt").read_text().split() == ["cells_00000", "clusters_00000"]
    slurm = (out / "submit.slurm").read_text()
    assert "#SBATCH --array=1-2" in slurm and 'sed -n "${SLURM_ARRAY_TASK_ID}p" jobs.txt' in slurm

    # Periodic cell: species grouped in --elements order, positions kept (up to the reorder), MP mesh.
    poscar = ase.io.read(folders[0] / "POSCAR")
    meta = json.loads((folders[0] / "meta.json").read_text())
    order = np.array(meta["source_atom_index"])
    assert poscar.get_chemical_symbols() == ["W"] * 6 + ["Cu"] * 2
    np.testing.assert_allclose(poscar.positions, cell.positions[order], atol=1e-12)
    np.testing.assert_allclose(poscar.cell[:], cell.cell[:], atol=1e-12)
    assert (folders[0] / "POSCAR").read_text().splitlines()[5].split() == ["W", "Cu"]
    assert meta["potcar_species"] == ["W", "Cu"] and meta["step"] == "2000"
    assert _kpoints(folders[0]) == ("Monkhorst-Pack", [6, 6, 11])  # 1/6.3297/0.03 = 5.27 → 6; 10.53 → 11
    incar = dict(line.split(" = ") for line in (folders[0] / "INCAR").read_text().splitlines())
    incar = {k.strip(): v.strip() for k, v in incar.items()}
    assert incar["ENCUT"] == "600" and incar["EDIFF"] == "1E-06" and incar["GGA"] == "PE"
    assert incar["ISMEAR"] == "1" and incar["SIGMA"] == "0.1" and "ALGO" not in incar

    # Cluster: 8 Å of vacuum on every side, Γ only, provenance and core flags follow the species sort.
    box = ase.io.read(folders[1] / "POSCAR")
    meta = json.loads((folders[1] / "meta.json").read_text())
    order = np.array(meta["source_atom_index"])
    extent = cluster.positions.max(0) - cluster.positions.min(0)
    np.testing.assert_allclose(np.diag(box.cell[:]), extent + 16.0, atol=1e-12)
    np.testing.assert_allclose(box.positions.min(0), 8.0, atol=1e-12)
    np.testing.assert_allclose(box.positions - box.positions[0], (cluster.positions - cluster.positions[order[0]])[order], atol=1e-12)
    assert _kpoints(folders[1]) == ("Gamma", [1, 1, 1])
    assert (folders[1] / "KPOINTS").read_text().startswith("Gamma-only")
    assert meta["is_cluster"] and meta["vacuum"] == 8.0 and meta["center_id"] == "41" and meta["step"] == "12000"
    assert meta["grade"] == "7.5" and meta["source_index"] == 0
    assert meta["source_file"].endswith("clusters.extxyz")
    assert meta["core"] == cluster.arrays["core"][order].tolist()
    assert box.get_chemical_symbols() == ["W", "W", "W", "Cu", "Cu"]

    with pytest.raises(ValueError, match="already exists"):
        dft_vasp([tmp_path / "cells.extxyz"], out, elements=["W", "Cu"])


def test_incar_template_and_potcars(tmp_path):
    _inputs(tmp_path)
    template = tmp_path / "INCAR.tmpl"
    template.write_text("ENCUT = 450  # cheaper\nISMEAR = 0; SIGMA = 0.05\n! comment line\nNCORE = 4\n")
    pp = tmp_path / "pp"
    for label in ("W_sv", "Cu"):
        (pp / label).mkdir(parents=True)
        (pp / label / "POTCAR").write_text(f"PAW_PBE {label} fake header\nEnd of Dataset\n")
    folders = dft_vasp([tmp_path / "cells.extxyz"], tmp_path / "d", elements=["W", "Cu"], incar_template=template,
                       incar={"SIGMA": "0.02"}, potcar={"W": "W_sv"}, potcar_dir=pp)
    text = (folders[0] / "INCAR").read_text()
    assert "ENCUT  = 450" in text and "ISMEAR = 0" in text and "SIGMA  = 0.02" in text and "NCORE  = 4" in text
    potcar = (folders[0] / "POTCAR").read_text()
    assert potcar == "PAW_PBE W_sv fake header\nEnd of Dataset\nPAW_PBE Cu fake header\nEnd of Dataset\n"
    assert "W → W_sv" in (tmp_path / "d" / "README.md").read_text()
    with pytest.raises(FileNotFoundError, match="POTCAR for 'W' not found"):
        dft_vasp([tmp_path / "cells.extxyz"], tmp_path / "e", elements=["W", "Cu"], potcar_dir=pp)


def test_qe_inputs(tmp_path):
    cell, cluster = _inputs(tmp_path)
    folders = dft_qe([tmp_path / "cells.extxyz", tmp_path / "clusters.extxyz"], tmp_path / "qe", elements=["W", "Cu"],
                     pseudopotentials={"W": "W.pbe-spn-kjpaw_psl.1.0.0.UPF", "Cu": "Cu.pbe-dn-kjpaw_psl.1.0.0.UPF"})
    text = (folders[0] / "pw.in").read_text()
    assert "W.pbe-spn-kjpaw_psl.1.0.0.UPF" in text and "tstress" in text and "tprnfor" in text
    assert "K_POINTS automatic\n6 6 11  0 0 0" in text
    back = ase.io.read(folders[0] / "pw.in", format="espresso-in")
    order = json.loads((folders[0] / "meta.json").read_text())["source_atom_index"]
    assert back.get_chemical_symbols() == list(np.array(cell.get_chemical_symbols())[order])
    np.testing.assert_allclose(back.positions, cell.positions[order], atol=1e-9)
    assert "K_POINTS gamma" in (folders[1] / "pw.in").read_text()
    assert "pw.x -in pw.in" in (tmp_path / "qe" / "submit.slurm").read_text()
    with pytest.raises(ValueError, match=r"no pseudopotential for \['Cu'\]"):
        dft_qe([tmp_path / "cells.extxyz"], tmp_path / "qe2", elements=["W", "Cu"], pseudopotentials={"W": "W.UPF"})


def test_cli_dft(tmp_path, capsys):
    atoms = bulk("W", "bcc", a=3.16485, cubic=True)
    atoms.arrays["type"] = np.zeros(2, dtype=int)
    write_structures(tmp_path / "in.cfg", [atoms, atoms], elements=["W"])
    # A cfg carries only types: without the map the error names the file.
    assert main(["dft", "vasp", str(tmp_path / "in.cfg"), "-o", str(tmp_path / "d")]) == 1
    err = capsys.readouterr().err
    assert "in.cfg" in err and "--elements" in err
    assert main(["dft", "vasp", str(tmp_path / "in.cfg"), "-o", str(tmp_path / "d"), "--elements", "W",
                 "--incar", "ENCUT=700", "--kspacing", "0.05", "--slurm-time", "1:00:00"]) == 0
    assert "ENCUT  = 700" in (tmp_path / "d" / "in_00001" / "INCAR").read_text()
    assert _kpoints(tmp_path / "d" / "in_00000") == ("Monkhorst-Pack", [7, 7, 7])  # 1/3.16485/0.05 = 6.32 → 7
    assert "#SBATCH --time=1:00:00" in (tmp_path / "d" / "submit.slurm").read_text()
    assert main(["dft", "qe", str(tmp_path / "in.cfg"), "-o", str(tmp_path / "q"), "--elements", "W",
                 "--pseudo", "W=W.UPF"]) == 0
    assert (tmp_path / "q" / "in_00000" / "pw.in").is_file()

# SPDX-License-Identifier: GPL-2.0-only
"""Bad input found by trying (issue 10, list items 2, 3, 4, 7, 8, 9, 10, Python side): each becomes one
clear error (or a correct result), never a traceback, an overwritten input or a silently wrong file.

Everything here needs nothing but the repository: a bootstrap MTP (level 10) and EAM-free structures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from _dft_outputs import fake_single_point, write_vasprun

from eipgs.cli import main
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.io.formats import write_structures


@pytest.fixture(scope="module")
def w_pot(tmp_path_factory):
    """A one-species W MTP with an active set and its training set, generated (no outside data)."""
    from eipgs.bootstrap import bootstrap

    folder = tmp_path_factory.mktemp("pot")
    r = bootstrap(["W"], folder / "W.almtp", level=10, structures=1, progress=False)
    return Path(r.potential_path), Path(r.train_path)


def _w_cell(rattle: float = 0.05, seed: int = 0) -> Atoms:
    atoms = bulk("W", "bcc", a=3.165, cubic=True) * (2, 2, 2)
    atoms.rattle(rattle, seed=seed)
    return atoms


def _fail(args, capsys, *needles) -> str:
    rc = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    assert err.count("error:") == 1, err  # said once
    return err


# ------------------------------------------------------------------------- item 2: -o is an input


def test_grade_and_select_refuse_output_equal_to_an_input(w_pot, tmp_path, capsys):
    pot, train = w_pot
    cand = tmp_path / "cand.cfg"
    cell = _w_cell()
    cell.arrays["type"] = np.zeros(len(cell), dtype=int)
    write_cfg(cand, [cell])
    before = cand.read_bytes()
    _fail(["grade", pot, cand, "-o", cand, "-q"], capsys, f"-o {cand}", f"the input {cand}")
    _fail(["select", pot, train, cand, "-o", cand, "-q"], capsys, f"-o {cand}", f"the candidate file {cand}")
    _fail(["select", pot, train, cand, "-o", train, "-q"], capsys, f"the training set {train}")
    # the same file under another name is still the same file
    _fail(["select", pot, train, cand, "-o", tmp_path / "." / "cand.cfg", "-q"], capsys, "the candidate file")
    _fail(["select", pot, train, cand, "-o", tmp_path / "s.cfg", "--write-almtp", pot, "-q"], capsys,
          f"--write-almtp {pot}", "the potential")
    assert cand.read_bytes() == before
    assert main(["grade", str(pot), str(cand), "-o", str(tmp_path / "g.cfg"), "-q"]) == 0


# ----------------------------------------------------------------- item 3: NaN / broken structures


def _run_folder(tmp_path, name="cells"):
    cells = [_w_cell(seed=k) for k in range(2)]
    write_structures(tmp_path / f"{name}.extxyz", cells)
    return cells


def test_dft_vasp_rejects_nan_singular_left_handed_and_overlapping(tmp_path, capsys):
    good = _w_cell()
    cases = {}
    nan = good.copy()
    nan.positions[3, 1] = np.nan
    cases["nan"] = (nan, "atom 3 has a non-finite coordinate")
    left = good.copy()
    left.set_cell(-left.cell[:], scale_atoms=True)
    cases["left"] = (left, "left-handed")
    flat = good.copy()
    flat.cell[2] = flat.cell[0]
    cases["singular"] = (flat, "singular")
    overlap = good.copy()
    overlap.positions[5] = overlap.positions[2] + [0.2, 0.0, 0.0]
    cases["overlap"] = (overlap, "atoms 2 and 5 are 0.2 Å apart")
    for name, (bad, message) in cases.items():
        src = tmp_path / f"{name}.extxyz"
        ase.io.write(src, [good, bad], format="extxyz")  # structure 1 is the bad one
        out = tmp_path / f"dft_{name}"
        _fail(["dft", "vasp", src, "-o", out], capsys, f"{src} (structure 1)", message)
        assert not list(out.glob("*/POSCAR")), "no folder may be written when one structure is bad"
        _fail(["dft", "qe", src, "-o", tmp_path / f"qe_{name}", "--pseudo", "W=W.UPF"], capsys, "(structure 1)", message)


def test_collect_rejects_nan_results_and_mismatched_folders_but_goes_on(tmp_path, capsys):
    cells = [_w_cell(seed=k) for k in range(3)]
    write_structures(tmp_path / "cells.extxyz", cells)
    dft = tmp_path / "dft"
    assert main(["dft", "vasp", str(tmp_path / "cells.extxyz"), "-o", str(dft)]) == 0
    folders = sorted(p for p in dft.iterdir() if p.is_dir())
    truth0 = fake_single_point(folders[0], ase.io.read(folders[0] / "POSCAR"), 1)
    t1 = fake_single_point(folders[1], ase.io.read(folders[1] / "POSCAR"), 2)
    forces = t1["forces"].copy()
    forces[4, 2] = np.nan
    write_vasprun(folders[1] / "vasprun.xml", ase.io.read(folders[1] / "POSCAR"), free_energy=t1["free_energy"],
                  sigma0_energy=t1["sigma0_energy"], forces=forces, stress_kbar=t1["stress_kbar"])
    fake_single_point(folders[2], ase.io.read(folders[2] / "POSCAR"), 3)
    meta = json.loads((folders[2] / "meta.json").read_text())
    meta["natoms"] = 99  # a meta.json of another structure
    (folders[2] / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "train.cfg"
    rc = main(["collect", str(dft), "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 1, captured.err
    assert "2 run folder(s) rejected" in captured.err
    assert f"rejected {folders[1]}: vasprun.xml: non-finite result (forces of atom 4" in captured.err
    assert f"rejected {folders[2]}" in captured.err and "meta.json has 99 atoms" in captured.err
    (only,) = read_cfg(out, elements=["W"])  # the good run was still written
    np.testing.assert_array_equal(only.get_forces(), truth0["forces"])
    report = json.loads((tmp_path / "collect_report.json").read_text())
    assert report["rejected"] == 2 and report["collected"] == 1
    # NaN energy in a merged training set: refused with the file and the structure index
    bad = _w_cell()
    bad.arrays["type"] = np.zeros(len(bad), dtype=int)
    bad.info["energy"] = float("nan")
    bad.arrays["forces"] = np.zeros((len(bad), 3))
    write_cfg(tmp_path / "nan.cfg", [bad])
    _fail(["collect", dft, "-o", tmp_path / "m.cfg", "--merge", tmp_path / "nan.cfg", "--elements", "W"], capsys,
          f"{tmp_path / 'nan.cfg'}: structure 0: non-finite energy")


# ------------------------------------------------------------- item 4: --force clears old outputs


def test_dft_force_clears_old_outputs(tmp_path):
    src = tmp_path / "cells.extxyz"
    write_structures(src, [_w_cell()])
    out = tmp_path / "dft"
    assert main(["dft", "vasp", str(src), "-o", str(out)]) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    fake_single_point(folder, ase.io.read(folder / "POSCAR"), 1)
    (folder / "OUTCAR").write_text("old\n")
    (folder / "tmp").mkdir()
    write_structures(src, [_w_cell(seed=7)])  # a new structure under the same folder name
    assert main(["dft", "vasp", str(src), "-o", str(out), "--force"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["INCAR", "KPOINTS", "POSCAR", "meta.json"]
    np.testing.assert_allclose(ase.io.read(folder / "POSCAR").positions, _w_cell(seed=7).positions, atol=1e-8)
    (folder / "pw.out").write_text("old\n")
    assert main(["dft", "qe", str(src), "-o", str(out), "--force", "--pseudo", "W=W.UPF"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "pw.in"]
    # a folder eipgs did not write is refused, even with --force
    other = out / "cells_00000"
    for entry in other.iterdir():
        entry.unlink()
    (other / "notes.txt").write_text("mine\n")
    assert main(["dft", "vasp", str(src), "-o", str(out), "--force"]) == 1
    assert (other / "notes.txt").read_text() == "mine\n"


# ----------------------------------------------------- item 7: two calls into one folder; collect


def test_dft_twice_into_one_folder_appends_jobs(tmp_path, capsys):
    write_structures(tmp_path / "a.extxyz", [_w_cell(seed=1), _w_cell(seed=2)])
    write_structures(tmp_path / "b.extxyz", [_w_cell(seed=3)])
    out = tmp_path / "dft"
    assert main(["dft", "vasp", str(tmp_path / "a.extxyz"), "-o", str(out)]) == 0
    assert main(["dft", "vasp", str(tmp_path / "b.extxyz"), "-o", str(out)]) == 0
    jobs = (out / "jobs.txt").read_text().split()
    assert jobs == ["a_00000", "a_00001", "b_00000"]
    assert "#SBATCH --array=1-3" in (out / "submit.slurm").read_text()
    assert main(["dft", "vasp", str(tmp_path / "b.extxyz"), "-o", str(out), "--force"]) == 0
    assert (out / "jobs.txt").read_text().split() == jobs  # no duplicates
    # QE folders into a VASP batch would run the wrong program from one array: refused
    _fail(["dft", "qe", tmp_path / "b.extxyz", "-o", out, "--force", "--pseudo", "W=W.UPF"], capsys,
          "already holds jobs of another code")
    assert (out / "jobs.txt").read_text().split() == jobs


# ------------------------------------------------ item 8: negative box, empty input, huge max_dist


def test_grade_refuses_negative_box_empty_input_and_huge_cutoff(w_pot, tmp_path, capsys):
    pot, _ = w_pot
    data = tmp_path / "neg.data"
    data.write_text("title\n\n2 atoms\n1 atom types\n\n0 -5.0 xlo xhi\n0 5.0 ylo yhi\n0 5.0 zlo zhi\n\n"
                    "Atoms # atomic\n\n1 1 0.0 0.0 0.0\n2 1 1.5 1.5 1.5\n")
    _fail(["grade", pot, data, "-o", tmp_path / "o.cfg", "-q"], capsys, f"{data}", "box length xhi - xlo = -5")
    dump = tmp_path / "neg.dump"
    dump.write_text("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n0 5\n5 0\n0 5\n"
                    "ITEM: ATOMS id type x y z\n1 1 0 0 0\n")
    _fail(["grade", pot, dump, "-o", tmp_path / "o.cfg", "-q"], capsys, "box length yhi - ylo = -5")
    for name in ("empty.cfg", "empty.extxyz"):
        (tmp_path / name).write_text("")
        _fail(["grade", pot, tmp_path / name, "-o", tmp_path / "o.cfg", "-q"], capsys, f"no structures in {tmp_path / name}")
    assert not (tmp_path / "o.cfg").exists()
    text = pot.read_bytes()
    head, tail = text.split(b"\n#", 1)
    lines = head.decode().split("\n")
    lines = [("\tmax_dist = 1.0e+05" if line.strip().startswith("max_dist") else line) for line in lines]
    huge = tmp_path / "huge.almtp"
    huge.write_bytes("\n".join(lines).encode() + b"\n#" + tail)
    write_structures(tmp_path / "w.extxyz", [_w_cell()])
    _fail(["grade", huge, tmp_path / "w.extxyz", "-o", tmp_path / "o.cfg", "-q"], capsys,
          "max_dist = 100000 Å would need about", "neighbour pairs")


def test_neighbour_estimate_is_close_to_the_real_count():
    from eipgs.mtp.grading import neighbour_estimate
    from eipgs.mtp.neighbours import neighbour_pairs

    for atoms, cutoff in ((_w_cell(), 5.0), (bulk("W", "bcc", a=3.165), 7.0), (_w_cell()[[0, 1, 2, 3, 4]], 3.0)):
        images, pairs = neighbour_estimate(atoms.positions, atoms.cell[:], atoms.pbc, cutoff)
        atoms.pbc = atoms.pbc  # unchanged; clusters below
        real = len(neighbour_pairs(atoms.positions, atoms.cell[:], atoms.pbc, cutoff)[0])
        assert real / 2.5 <= pairs <= real * 2.5, (pairs, real)
    cluster = _w_cell()
    cluster.pbc = False
    images, pairs = neighbour_estimate(cluster.positions, cluster.cell[:], cluster.pbc, 1000.0)
    assert images == len(cluster) and pairs == len(cluster) ** 2  # bounded by the atom count


# -------------------------------------------------------------------- item 9: no raw tracebacks


def test_os_errors_unknown_symbols_malformed_files_interrupts(w_pot, tmp_path, capsys, monkeypatch):
    pot, _ = w_pot
    src = tmp_path / "w.extxyz"
    write_structures(src, [_w_cell()])
    if os.geteuid() == 0:
        target = Path("/sys/eipgs-test.cfg")  # not writable even for root
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "x.cfg"
    _fail(["convert", src, "-o", target], capsys, f"cannot write {target}: Permission denied")
    _fail(["grade", pot, src, "-o", tmp_path / "no" / "x.cfg", "-q"], capsys, f"cannot write {tmp_path / 'no' / 'x.cfg'}")
    qq = tmp_path / "qq.extxyz"
    qq.write_text('2\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3\nQq 0 0 0\nW 1 1 1\n')
    _fail(["convert", qq, "-o", tmp_path / "q.cfg"], capsys, f"{qq}: 'Qq' is not a chemical symbol (valid: H He", " W ")
    short = tmp_path / "short.extxyz"
    short.write_text('3\nLattice="5 0 0 0 5 0 0 0 5" Properties=species:S:1:pos:R:3\nW 0 0 0\nW 1 1 1\n')
    _fail(["grade", pot, short, "-o", tmp_path / "q.cfg", "-q"], capsys, f"{short}: not a valid extended XYZ file")
    _fail(["convert", tmp_path, "-o", tmp_path / "q.cfg"], capsys, f"{tmp_path} is a folder")

    # Ctrl-C while a real writer is half-way: exit 130, "interrupted", and no partial output file.
    import ase.io as aseio

    real_write = aseio.write

    def write_then_interrupt(filename, images, *args, **kwargs):
        real_write(filename, images[:1], *args, **kwargs)
        assert Path(filename).stat().st_size > 0
        raise KeyboardInterrupt

    monkeypatch.setattr(aseio, "write", write_then_interrupt)
    out = tmp_path / "two.extxyz"
    cfg = tmp_path / "two.cfg"
    write_cfg(cfg, [_w_cell(), _w_cell(seed=1)], elements=["W"])
    rc = main(["convert", str(cfg), "-o", str(out), "--elements", "W"])
    err = capsys.readouterr().err
    assert rc == 130 and "interrupted" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".two.extxyz*"))
    monkeypatch.setattr(aseio, "write", real_write)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    import eipgs.convert

    monkeypatch.setattr(eipgs.convert, "write_structures", out_of_memory)
    _fail(["convert", cfg, "-o", out, "--elements", "W"], capsys, "out of memory")


# ------------------------------------------------------------ item 10: options that do not fit


def test_elements_beyond_species_and_folder_as_potential(w_pot, tmp_path, capsys):
    pot, _ = w_pot
    src = tmp_path / "w.extxyz"
    write_structures(src, [_w_cell()])
    _fail(["grade", pot, src, "-o", tmp_path / "o.cfg", "--elements", "W", "Mo", "-q"], capsys,
          "--elements lists 2 elements (W, Mo)", "species_count 1")
    _fail(["report", src, "-o", tmp_path / "rep", "--potential", pot, "--elements", "W", "Mo"], capsys,
          "--elements lists 2 elements")
    folder = tmp_path / "pot.almtp"
    folder.mkdir()
    for cmd in (["grade", folder, src, "-o", tmp_path / "o.cfg"], ["activeset", folder, src, "-o", tmp_path / "a.almtp"],
                ["select", folder, src, src, "-o", tmp_path / "s.cfg"]):
        _fail(cmd, capsys, f"{folder} is a folder, not an MTP potential file")


@pytest.mark.mpi
def test_bad_input_under_mpirun_is_reported_once(tmp_path):
    """Every rank meets the same bad input; the message was printed once per rank before."""
    import subprocess
    import sys

    from eipgs.lmp import mpiexec

    folder = tmp_path / "pot.almtp"
    folder.mkdir()
    exe = str(Path(sys.executable).parent / "eipgs")
    proc = subprocess.run([mpiexec(), "-n", "2", exe, "grade", str(folder), str(tmp_path / "x.extxyz"), "-o",
                           str(tmp_path / "o.cfg")], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stderr.count(f"eipgs grade: error: {folder} is a folder") == 1, proc.stderr
    assert "Traceback" not in proc.stderr

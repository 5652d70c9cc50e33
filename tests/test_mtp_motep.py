# SPDX-License-Identifier: GPL-2.0-only
"""The .mtp dialect that motep (PyPI) writes, read by the C++ core and by fix mtp/grade.

motep spells the radial basis `min`/`max`/`size` inside the radial_basis_type block and writes
radial_funcs_count after the radial coefficients (doc/formats_mtp.md). The same potential in that
dialect and in MLIP-3's layout must give bit-identical energies, rows and grades. The reference for
"the same potential" is an independent text conversion of the dialect back to MLIP-3's key names.
tests/data/W8_motep.almtp is our own generated file (see tests/data/README.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from generated import MOTEP_FIXTURE, bootstrap_w8, core_check, selection_start
from mtp_reference import neighbourhoods, parse_grade_output, write_neighbourhoods

A_W = 3.16485


def mlip3_from_motep(raw: bytes) -> bytes:
    """motep dialect -> MLIP-3 layout by plain text edits: rename the three basis keys and move the
    radial_funcs_count line in front of radial_coeffs. The selection block is kept as it is."""
    h = selection_start(raw)
    lines = raw[:h].decode().split("\n")
    rename = {"min": "min_dist", "max": "max_dist", "size": "radial_basis_size"}
    out, funcs = [], None
    for line in lines:
        key = line.split("=")[0].strip()
        if key in rename:
            line = line.replace(key, rename[key], 1)
        if key == "radial_funcs_count":
            funcs = line.strip()
            continue
        out.append(line)
    at = next(k for k, line in enumerate(out) if line.strip() == "radial_coeffs")
    out.insert(at, "\t" + funcs)
    return "\n".join(out).encode() + raw[h:]


def rattled_bcc(seed: int = 3, cells: int = 3, amplitude: float = 0.12):
    base = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
    grid = np.array([[i, j, k] for i in range(cells) for j in range(cells) for k in range(cells)])
    pos = ((grid[:, None, :] + base[None]).reshape(-1, 3)) * A_W
    pos += np.random.default_rng(seed).uniform(-amplitude, amplitude, pos.shape)
    return pos, np.eye(3) * cells * A_W


def core_grades(path, nbh_file):
    proc = core_check("grade", path, nbh_file)
    assert proc.returncode == 0, proc.stderr
    return parse_grade_output(proc.stdout)


@pytest.fixture(scope="module")
def nbh_file(tmp_path_factory):
    pos, cell = rattled_bcc()
    nbhs = neighbourhoods(pos, cell, 5.0)
    species = np.zeros(len(pos), dtype=int)
    path = tmp_path_factory.mktemp("motep") / "nbh.txt"
    write_neighbourhoods(path, species, nbhs, species)
    return path


def test_fixture_is_in_the_motep_dialect():
    text = MOTEP_FIXTURE.read_bytes()[: selection_start(MOTEP_FIXTURE.read_bytes())].decode()
    keys = [line.split("=")[0].strip() for line in text.splitlines()]
    assert {"min", "max", "size"} <= set(keys)
    assert not {"min_dist", "max_dist", "radial_basis_size"} & set(keys)
    assert keys.index("radial_funcs_count") > keys.index("radial_coeffs")


def test_core_reads_motep_dialect_like_mlip3(tmp_path, nbh_file):
    mlip3 = tmp_path / "W8_mlip3.almtp"
    mlip3.write_bytes(mlip3_from_motep(MOTEP_FIXTURE.read_bytes()))
    info = {}
    for name, path in (("motep", MOTEP_FIXTURE), ("mlip3", mlip3)):
        proc = core_check("info", path)
        assert proc.returncode == 0, proc.stderr
        info[name] = dict(line.split(None, 1) for line in proc.stdout.splitlines() if not line.startswith("file "))
    assert info["motep"] == info["mlip3"]
    assert (info["motep"]["m"], info["motep"]["radial_basis_size"], info["motep"]["cutoff"]) == ("26", "8", "5")
    g_motep, e_motep, rows_motep = core_grades(MOTEP_FIXTURE, nbh_file)
    g_mlip3, e_mlip3, rows_mlip3 = core_grades(mlip3, nbh_file)
    assert len(g_motep) == 54 and np.all(np.isfinite(g_motep)) and g_motep.max() > 0
    assert np.array_equal(g_motep, g_mlip3) and np.array_equal(e_motep, e_mlip3)
    assert np.array_equal(rows_motep, rows_mlip3)


def test_fix_mtp_grade_reads_motep_dialect(tmp_path):
    from eipgs.lmp import create_lammps, run

    mlip3 = tmp_path / "W8_mlip3.almtp"
    mlip3.write_bytes(mlip3_from_motep(MOTEP_FIXTURE.read_bytes()))
    lmp = create_lammps()
    try:
        run(lmp, [
            "units metal", f"lattice bcc {A_W}", "region b block 0 3 0 3 0 3", "create_box 1 b",
            "create_atoms 1 box", "mass 1 183.84", "displace_atoms all random 0.1 0.1 0.1 77",
            "pair_style zero 5.5", "pair_coeff * *",
            f"fix a all mtp/grade 1 {MOTEP_FIXTURE}", f"fix b all mtp/grade 1 {mlip3}", "run 0",
        ])
        n = lmp.extract_global("nlocal")
        ga = lmp.numpy.extract_fix("a", 1, 1)[:n].copy()
        gb = lmp.numpy.extract_fix("b", 1, 1)[:n].copy()
    finally:
        lmp.close()
    assert n == 54 and np.all(np.isfinite(ga)) and ga.max() > 0
    assert np.array_equal(ga, gb)


def test_motep_writer_output_grades_like_the_original(tmp_path_factory, tmp_path, nbh_file):
    """Fresh from motep's own writer (when installed): our MLIP-3-layout bootstrap potential read and
    written back by motep, with the original selection block, grades bit-identically."""
    mtp_io = pytest.importorskip("motep.io.mlip.mtp")
    original = bootstrap_w8(tmp_path_factory)
    raw = original.read_bytes()
    h = selection_start(raw)
    (tmp_path / "in.mtp").write_bytes(raw[:h])
    mtp_io.write_mtp(tmp_path / "out.mtp", mtp_io.read_mtp(tmp_path / "in.mtp"))
    written = (tmp_path / "out.mtp").read_bytes()
    assert b"\tmin = " in written and written.index(b"radial_funcs_count") > written.index(b"radial_coeffs")
    converted = tmp_path / "motep.almtp"
    converted.write_bytes(written + raw[h:])
    g0, e0, rows0 = core_grades(original, nbh_file)
    g1, e1, rows1 = core_grades(converted, nbh_file)
    assert np.array_equal(g0, g1) and np.array_equal(e0, e1) and np.array_equal(rows0, rows1)

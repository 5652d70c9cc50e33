# SPDX-License-Identifier: GPL-2.0-only
"""The LAMMPS-independent C++ MTP core, driven through eipgs-core-check (no LAMMPS involved).

References: MLIP-3's own per-atom grades (reference/grades), brute-force numpy neighbourhoods,
finite differences and re-inversion inside the selftest, and the published .almtp counts.
"""

from __future__ import annotations

import struct
import subprocess

import numpy as np
import pytest

from conftest import is_generated
from mtp_reference import (
    neighbourhoods,
    parse_grade_output,
    read_atomic_data,
    reference_grades,
    write_neighbourhoods,
)


def core(*args, check=True) -> subprocess.CompletedProcess:
    from eipgs.lmp import get_core_check_path

    proc = subprocess.run([str(get_core_check_path()), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        pytest.fail(f"eipgs-core-check {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def info(path) -> dict[str, str]:
    out = core("info", path).stdout
    return dict(line.split(None, 1) for line in out.splitlines())


def test_info_w_matches_published_counts(reference):
    d = info(reference / "W-mlip3-basic.almtp")
    assert (d["species_count"], d["radial_basis_size"], d["radial_funcs_count"]) == ("1", "8", "4")
    assert (d["alpha_moments_count"], d["alpha_index_basic_count"]) == ("350", "130")
    assert (d["alpha_index_times_count"], d["alpha_scalar_moments"]) == ("969", "92")
    assert d["m"] == "125" and d["mode"] == "nbh"
    assert d["links"] == "125" and d["unfilled_rows"] == "11" and d["configurations"] == "52"
    assert 1e-9 < float(d["identity_error"]) < 1e-7  # doc/design/mtp.md §11.1: 1.7e-8
    assert float(d["cutoff"]) == 5.0


def test_info_two_species(reference):
    d = info(reference / "CuNi-mtp10.almtp")
    # m = C^2 K R + C + N_lin = 4*3*8 + 2 + 16
    assert d["species_count"] == "2" and d["m"] == str(4 * 3 * 8 + 2 + int(d["alpha_scalar_moments"]))
    assert d["m"] == "114"


@pytest.mark.parametrize("pot", ["W-mlip3-basic.almtp", "CuNi-mtp10.almtp"])
def test_info_agrees_with_the_python_reader(mtp_reference, pot):
    """The C++ reader and the independent Python one (eipgs.io.almtp) see the same sizes."""
    from eipgs.io.almtp import read_almtp

    d, py = info(mtp_reference / pot), read_almtp(mtp_reference / pot)
    assert int(d["species_count"]) == py.species_count and int(d["m"]) == py.m == py.active_set.m
    assert (int(d["radial_basis_size"]), int(d["radial_funcs_count"])) == (py.radial_basis_size, py.radial_funcs_count)
    assert (int(d["alpha_moments_count"]), int(d["alpha_index_basic_count"])) == (py.alpha_moments_count, len(py.alpha_index_basic))
    assert int(d["alpha_index_times_count"]) == len(py.alpha_index_times)
    assert int(d["configurations"]) == len(py.active_set.configurations)
    assert d["mode"] == py.active_set.mode == "nbh"
    # max |A S^T - I| is round-off: both products must see the same order of magnitude
    assert 0.5 < float(d["identity_error"]) / py.active_set.inverse_error() < 2.0


@pytest.mark.parametrize("pot", ["W-mlip3-basic.almtp", "CuNi-mtp10.almtp"])
def test_selftest(mtp_reference, pot):
    out = core("selftest", mtp_reference / pot).stdout
    assert "OK: 0 failure(s)" in out
    assert out.count("PASS") >= 19 and "FAIL" not in out


def _graded_file(reference, tmp_path, data, pot, type_to_species):
    ids, types, pos, cell = read_atomic_data(reference / "grades" / data)
    nbhs = neighbourhoods(pos, cell, 5.0)
    species = np.array([type_to_species[t] for t in types])
    nbh_file = tmp_path / "nbh.txt"
    write_neighbourhoods(nbh_file, species, nbhs, species)
    gam, energy, rows = parse_grade_output(core("grade", reference / pot, nbh_file).stdout)
    return ids, gam, energy, rows, nbh_file


@pytest.mark.parametrize(
    "data,pot,mapping",
    [("v1.data", "W-mlip3-basic.almtp", {1: 0}), ("cuni_v.data", "CuNi-mtp10.almtp", {1: 0, 2: 1})],
)
def test_core_grades_match_mlip3(mtp_reference, tmp_path, data, pot, mapping):
    ids, gam, energy, rows, _ = _graded_file(mtp_reference, tmp_path, data, pot, mapping)
    ref = reference_grades(mtp_reference / "grades" / data.replace(".data", ".grades.txt"))
    expected = np.array([ref[i] for i in ids])
    assert np.all(np.abs(gam - expected) <= 2e-5 * np.maximum(1.0, expected))
    assert rows.shape == (len(ids), int(info(mtp_reference / pot)["m"]))
    if data == "v1.data" and not is_generated(mtp_reference):
        assert energy.mean() == pytest.approx(-12.8920, abs=5e-5)  # doc/design/mtp.md §11.5
        assert rows.shape == (1024, 125)
        assert np.all(rows[:, 32] == 1.0)  # species block one-hot


def _almtp_parts(path):
    raw = path.read_bytes()
    h1 = raw.index(b"#")
    h2 = raw.index(b"#", h1 + 1)
    return raw, h1, h2


def test_swap_and_write_almtp(mtp_reference, tmp_path):
    pot = mtp_reference / "W-mlip3-basic.almtp"
    ids, gam, _, _, nbh_file = _graded_file(mtp_reference, tmp_path, "v1.data", "W-mlip3-basic.almtp", {1: 0})
    # Unchanged active set written back: byte-identical file.
    out0 = tmp_path / "same.almtp"
    core("swap", pot, nbh_file, 1e30, out0)
    assert out0.read_bytes() == pot.read_bytes()
    # The two extrapolative neighbourhoods (gamma > 2) and a few others, swapped in with tau = 1.001.
    order = np.argsort(-gam)[:6]
    lines = nbh_file.read_text().splitlines()
    blocks, k = [], 0
    while k < len(lines):
        n = int(lines[k].split()[2])
        blocks.append(lines[k : k + n + 1])
        k += n + 1
    sel = tmp_path / "sel.txt"
    sel.write_text("\n".join(l for i in order for l in blocks[i]) + "\n")
    out = tmp_path / "swapped.almtp"
    res = core("swap", pot, sel, 1.001, out).stdout
    replaced = [int(l.split()[5]) for l in res.splitlines() if l.startswith("atom ")]
    assert gam[order[0]] > 1.5 and replaced[0] >= 0  # gamma 3.13 (MLIP-3's v1) > 1.001: swapped
    d = info(out)
    assert float(d["identity_error"]) < 1e-6 and d["configurations"] == info(pot)["configurations"]
    # Every selected neighbourhood is now interpolated: gamma <= tau against the new active set.
    after, _, _ = parse_grade_output(core("grade", out, sel).stdout)
    assert np.all(after <= 1.001 + 1e-7)
    assert after.max() == pytest.approx(1.0, abs=1e-7)  # limited by the stored max|A S^T - I|
    # Text part and configuration part kept verbatim; only the selection block changed.
    new, h1n, _ = _almtp_parts(out)
    old, h1o, _ = _almtp_parts(pot)
    assert new[:h1n] == old[:h1o]
    assert new[new.index(b"BEGIN_CFG", h1n) :] == old[old.index(b"BEGIN_CFG", h1o) :]
    assert new != old


def _corrupt(reference, tmp_path, fn, name="bad.almtp"):
    raw = (reference / "W-mlip3-basic.almtp").read_bytes()
    path = tmp_path / name
    path.write_bytes(fn(raw))
    return path


def _binary_start(raw: bytes) -> int:
    h1 = raw.index(b"#")
    return raw.index(b"#", h1 + 1) + 1


BAD_FILES = {
    "truncated mid-matrix": (lambda r: r[: _binary_start(r) + 125 * 125 * 8 + 4000], "truncated inside the active-set matrices"),
    "truncated in A": (lambda r: r[: _binary_start(r) + 100], "truncated inside the active-set matrices"),
    "NaN in A": (
        lambda r: r[: _binary_start(r) + 8 * 130] + struct.pack("<d", float("nan")) + r[_binary_start(r) + 8 * 131 :],
        "matrix A has a non-finite value",
    ),
    "NaN in text": (lambda r: r.replace(b"scaling = 4.097567646393594e-02", b"scaling = nan", 1), "non-finite value"),
    "wrong counts (consistent text, m mismatch)": (
        lambda r: r.replace(b"radial_basis_size = 8", b"radial_basis_size = 7", 1),
        "radial_basis_size",
    ),
    "wrong basic count": (lambda r: r.replace(b"alpha_index_basic_count = 130", b"alpha_index_basic_count = 129", 1), "alpha_index_basic has 520 numbers"),
    "unsupported basis": (lambda r: r.replace(b"RBChebyshev", b"BChebyshev", 1), "unsupported radial_basis_type 'BChebyshev'"),
    "wrong version": (lambda r: r.replace(b"version = 1.1.0", b"version = 1.0.0", 1), "only 'version = 1.1.0'"),
    "cfg mode": (
        lambda r: r.replace(b"energy_weight 0.0000000000000000e+00", b"energy_weight 1.0000000000000000e+00", 1).replace(
            b"site_en_weight 1.0000000000000000e+00", b"site_en_weight 0.0000000000000000e+00", 1
        ),
        "configuration (cfg) mode",
    ),
    "no selection block": (lambda r: r[: r.index(b"#")], "no selection block"),
    "legacy block": (lambda r: r.replace(b"#MVS_v1.1", b"#MVS_v1.0", 1), "expected '#MVS_v1.1'"),
    "corrupted S": (
        lambda r: r[: _binary_start(r) + 125 * 125 * 8 + 8 * 5] + struct.pack("<d", 12345.0) + r[_binary_start(r) + 125 * 125 * 8 + 8 * 6 :],
        "max |A S^T - I|",
    ),
    "not an MTP": (lambda r: b"hello\n", "not an MTP file"),
    "huge count": (lambda r: r.replace(b"radial_funcs_count = 4", b"radial_funcs_count = 400000", 1), "implausible sizes"),
}


def _untrained(raw: bytes) -> bytes:
    text_end = raw.index(b"alpha_moments_count")
    start = raw.index(b"\tradial_coeffs")
    return raw[:start] + raw[text_end:]


BAD_FILES["untrained"] = (_untrained, "untrained")


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_almtp_is_a_clear_error(reference, tmp_path, case):
    fn, message = BAD_FILES[case]
    path = _corrupt(reference, tmp_path, fn)
    proc = core("info", path, check=False)
    assert proc.returncode == 2, proc.stdout
    assert message in proc.stderr
    assert str(path) in proc.stderr


def test_missing_file(tmp_path):
    proc = core("info", tmp_path / "nope.almtp", check=False)
    assert proc.returncode == 2 and "cannot open .almtp file" in proc.stderr


def test_wrong_counts_consistent_text_detected_by_matrix_size(reference, tmp_path):
    """Counts that agree with each other in the text (one moment dropped everywhere) give m = 124,
    which no longer matches the stored 125 x 125 matrices."""

    def drop_moment(raw: bytes) -> bytes:
        text = raw[: raw.index(b"#")].decode()
        rest = raw[raw.index(b"#") :]
        lines = text.split("\n")
        for k, line in enumerate(lines):
            if line.startswith("alpha_scalar_moments"):
                lines[k] = "alpha_scalar_moments = 91"
            elif line.startswith("alpha_moment_mapping") or line.startswith("moment_coeffs"):
                key, val = line.split("=", 1)
                items = val.strip().strip("{}").split(",")
                lines[k] = f"{key}= {{{','.join(items[:-1])}}}"
        return "\n".join(lines).encode() + rest

    proc = core("info", _corrupt(reference, tmp_path, drop_moment), check=False)
    assert proc.returncode == 2
    assert "counts in the text part do not match the stored matrices" in proc.stderr

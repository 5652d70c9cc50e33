# SPDX-License-Identifier: GPL-2.0-only
""".almtp reader/writer (doc/design/mtp.md §1, §4; check list §11.1) and its bad-input errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from eipgs.io.almtp import AlmtpFormatError, format_mtp_text, read_almtp, write_almtp


@pytest.fixture(scope="module")
def w_path(reference):
    return reference / "W-mlip3-basic.almtp"


@pytest.fixture
def any_w_path(mtp_reference):
    """MLIP-3's W .almtp, or a generated one: for the checks that do not depend on its numbers."""
    return mtp_reference / "W-mlip3-basic.almtp"


@pytest.fixture(scope="module")
def w_pot(w_path):
    return read_almtp(w_path)


def test_w_counts(w_pot):
    p = w_pot
    assert (p.C, p.R, p.K) == (1, 8, 4)
    assert (p.alpha_moments_count, p.n_basic, p.n_times, p.n_lin) == (350, 130, 969, 92)
    assert p.m == 125 and p.n_radial_params == 32
    assert p.scaling == 4.097567646393594e-02 and p.basis_scaling is None
    assert p.min_dist == 2.129138396368846 and p.max_dist == 5.0
    assert p.radial_basis_type == "RBChebyshev"
    np.testing.assert_array_equal(p.species_coeffs, [-7.685171892643924])
    assert p.species_labels == [0]
    assert p.radial_coeffs.shape == (1, 1, 4, 8)
    assert p.radial_coeffs[0, 0, 0, 0] == 7.598135846667039e-01
    assert p.parameters().shape == (125,)
    a = p.active_set
    assert a.mode == "nbh"
    assert (a.energy_weight, a.force_weight, a.stress_weight, a.site_en_weight, a.weight_scaling) == (0, 0, 0, 1, 2)
    assert a.A.shape == a.S.shape == (125, 125)
    assert a.inverse_error() < 1e-6
    assert a.links.shape == (125, 2)
    assert int(np.sum(np.all(a.links == -1, axis=1))) == 11
    assert a.links[0].tolist() == [47, 212]
    assert len(a.configurations) == 52
    first = a.configurations[0]
    assert len(first) == 108 and first.pbc.all()
    last = a.configurations[-1]
    assert last.info["features"]["selected_eqn_inds"] == "187"


def test_cuni_two_species(reference):
    p = read_almtp(reference / "CuNi-mtp10.almtp")
    assert (p.C, p.R, p.K, p.n_lin) == (2, 8, 3, 16)
    assert p.m == 2 * 2 * 3 * 8 + 2 + 16 == 114
    assert p.species_labels == [0, 1]
    # block "1-0", function 2 (file order s1 outer, s2 inner)
    assert p.radial_coeffs[1, 0, 2, 2] == 2.075114373698419e-03
    assert p.active_set.mode == "nbh"
    assert p.active_set.inverse_error() < 1e-5


@pytest.mark.parametrize("name", ["W-mlip3-basic.almtp", "CuNi-mtp10.almtp"])
def test_round_trip(mtp_reference, tmp_path, name):
    src = mtp_reference / name
    pot = read_almtp(src)
    out = tmp_path / name
    write_almtp(out, pot)
    original = src.read_bytes()
    # The MTP text part is deterministic: identical text.
    assert format_mtp_text(pot).encode() == original[: original.index(b"\n#MVS_v1.1")]
    # The whole file, binary block and no-loss configurations included, comes back byte for byte.
    assert out.read_bytes() == original
    back = read_almtp(out)
    for attr in ("radial_coeffs", "alpha_index_basic", "alpha_index_times", "alpha_moment_mapping", "species_coeffs", "moment_coeffs"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(pot, attr))
    for attr in ("A", "S", "links"):
        np.testing.assert_array_equal(getattr(back.active_set, attr), getattr(pot.active_set, attr))
    lazy = read_almtp(src, configurations=False)
    assert lazy.active_set.configurations == [] and lazy.active_set.configurations_text
    write_almtp(out, lazy)
    assert out.read_bytes() == original
    for a, b in zip(back.active_set.configurations, pot.active_set.configurations):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.get_forces(), b.get_forces())
        assert a.info["features"] == b.info["features"]


# ---------------------------------------------------------------------------------- bad input


def _write(tmp_path, data: bytes, name="bad.almtp"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _expect(path, match, **kw):
    with pytest.raises(AlmtpFormatError, match=match) as info:
        read_almtp(path, **kw)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.almtp"):
        read_almtp(tmp_path / "nope.almtp")


def test_truncated_mid_matrix(w_path, tmp_path):
    data = w_path.read_bytes()
    start = data.index(b"weight_scaling 2\n#") + len(b"weight_scaling 2\n#")
    cut = start + 125 * 125 * 8 + 1000  # inside S
    _expect(_write(tmp_path, data[:cut]), "truncated file.*cut mid-matrix")
    _expect(_write(tmp_path, data[: data.index(b"#MVS") + 40]), "truncated|weights")


def test_wrong_counts(w_path, tmp_path):
    text = w_path.read_bytes()
    # Drop one basis function: m becomes 124 and no longer matches the stored 125×125 matrices.
    head, rest = text.split(b"\n#MVS_v1.1", 1)
    head = head.decode()
    head = head.replace("alpha_scalar_moments = 92", "alpha_scalar_moments = 91")
    head = re.sub(r"alpha_moment_mapping = \{(\d+), ", r"alpha_moment_mapping = {", head)
    head = re.sub(r"moment_coeffs = \{[^,]+, ", "moment_coeffs = {", head)
    _expect(_write(tmp_path, head.encode() + b"\n#MVS_v1.1" + rest), "wrong counts")
    # A count that disagrees with its list.
    bad = text.replace(b"alpha_index_basic_count = 130", b"alpha_index_basic_count = 131")
    _expect(_write(tmp_path, bad), "alpha_index_basic has 520 numbers.*wrong counts")
    # Too few link lines.
    links_start = text.index(b"\n#\n", text.index(b"weight_scaling 2\n#") + 20) + 3
    bad = text[:links_start] + text[links_start:].split(b"\n", 1)[1]
    _expect(_write(tmp_path, bad), "link|wrong counts")


def test_nans(w_path, tmp_path):
    data = bytearray(w_path.read_bytes())
    start = data.index(b"weight_scaling 2\n#") + len(b"weight_scaling 2\n#")
    data[start + 8 * 7 : start + 8 * 8] = np.array([np.nan]).tobytes()
    _expect(_write(tmp_path, bytes(data)), "matrix A contains NaN")
    text = w_path.read_bytes().replace(b"species_coeffs = {-7.685171892643924e+00}", b"species_coeffs = {nan}")
    _expect(_write(tmp_path, text), "species_coeffs contains NaN")
    text = w_path.read_bytes().replace(b"{7.598135846667039e-01,", b"{nan,")
    _expect(_write(tmp_path, text), "radial_coeffs contain NaN")


def test_unsupported_radial_basis(any_w_path, tmp_path):
    data = any_w_path.read_bytes().replace(b"radial_basis_type = RBChebyshev", b"radial_basis_type = RBShapeev")
    _expect(_write(tmp_path, data), "RBShapeev.*supported: RBChebyshev")


def test_version(any_w_path, tmp_path):
    data = any_w_path.read_bytes().replace(b"version = 1.1.0", b"version = 1.0.0", 1)
    _expect(_write(tmp_path, data), "unsupported MTP version '1.0.0'")


def test_untrained(any_w_path, tmp_path):
    text = any_w_path.read_bytes().split(b"\n#MVS_v1.1", 1)[0].decode()
    text = re.sub(r"\tradial_coeffs\n(\t\t.*\n)+", "", text)
    path = _write(tmp_path, (text + "\n").encode(), "untrained.mtp")
    _expect(path, "untrained")
    pot = read_almtp(path, require_trained=False)  # templates may be read on purpose
    assert pot.radial_coeffs is None and pot.active_set is None
    with pytest.raises(AlmtpFormatError, match="untrained"):
        pot.require_active_set()


def test_cfg_mode_refused(any_w_path, tmp_path):
    data = any_w_path.read_bytes()
    data = data.replace(b"energy_weight 0.0000000000000000e+00", b"energy_weight 1.0000000000000000e+00")
    data = data.replace(b"site_en_weight 1.0000000000000000e+00", b"site_en_weight 0.0000000000000000e+00")
    pot = read_almtp(_write(tmp_path, data))  # reading is fine
    assert pot.active_set.mode == "cfg"
    with pytest.raises(AlmtpFormatError, match="configuration mode.*neighbourhood-mode"):
        pot.require_active_set("nbh")


def test_plain_mtp_has_no_active_set(w_path, tmp_path):
    text = w_path.read_bytes().split(b"\n#MVS_v1.1", 1)[0] + b"\n"
    pot = read_almtp(_write(tmp_path, text, "plain.mtp"))
    assert pot.active_set is None and pot.m == 125
    with pytest.raises(AlmtpFormatError, match="no #MVS_v1.1"):
        pot.require_active_set()


def test_legacy_selection_block_rejected(any_w_path, tmp_path):
    data = any_w_path.read_bytes().replace(b"#MVS_v1.1", b"#MVS_v1.0")
    _expect(_write(tmp_path, data), "#MVS_v1.1")


def test_basis_scaling_and_crlf(w_path, tmp_path):
    """A tab-indented radial-basis `scaling` multiplies the global one; CRLF on the first lines is tolerated."""
    from eipgs.mtp import radial_basis

    data = w_path.read_bytes().replace(b"MTP\nversion = 1.1.0\n", b"MTP\r\nversion = 1.1.0\r\n", 1)
    data = data.replace(b"radial_basis_type = RBChebyshev\n", b"radial_basis_type = RBChebyshev\n\tscaling = 2.5e-01\n")
    path = _write(tmp_path, data)
    pot = read_almtp(path, configurations=False)
    assert pot.basis_scaling == 0.25 and pot.scaling == 4.097567646393594e-02
    assert pot.effective_scaling == pytest.approx(0.25 * 4.097567646393594e-02, rel=1e-15)
    ref = read_almtp(w_path, configurations=False)
    r = np.linspace(2.0, 4.9, 7)
    np.testing.assert_allclose(radial_basis(r, pot), 0.25 * radial_basis(r, ref), rtol=1e-13)
    assert "\tscaling = 2.500000000000000e-01\n" in format_mtp_text(pot)

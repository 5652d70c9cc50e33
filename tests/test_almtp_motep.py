# SPDX-License-Identifier: GPL-2.0-only
"""The .mtp dialect that motep writes (min/max/size inside the radial block, radial_funcs_count after
the coefficients) is read, gets an active set from `eipgs activeset`, and grades (issue 10, item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from eipgs.cli import main
from eipgs.io.almtp import AlmtpFormatError, format_mtp_text, read_almtp
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.mtp.templates import generate_template

motep_mtp = pytest.importorskip("motep.io.mlip.mtp", reason="motep (the 'train' extra) is not installed")


@pytest.fixture(scope="module")
def motep_file(tmp_path_factory):
    """A level-6 potential with random parameters, written by motep's own writer."""
    folder = tmp_path_factory.mktemp("motep")
    template = generate_template(6).potential(species_count=1, min_dist=1.9, max_dist=4.8, radial_basis_size=7)
    (folder / "init.mtp").write_text(format_mtp_text(template) + "\n")
    data = motep_mtp.read_mtp(folder / "init.mtp")
    data.species = [74]
    rng = np.random.default_rng(3)
    data.initialize(rng)  # random radial, species and moment coefficients
    data.moment_coeffs = rng.normal(size=data.alpha_scalar_moments)
    motep_mtp.write_mtp(folder / "motep.mtp", data)
    return folder, data


def test_motep_dialect_is_what_we_think(motep_file):
    folder, _ = motep_file
    text = (folder / "motep.mtp").read_text()
    # If motep changes its writer, this test says so instead of the reader test passing vacuously.
    assert "\tmin = " in text and "\tsize = 7" in text and "radial_basis_size" not in text
    assert text.index("radial_funcs_count") > text.index("radial_coeffs")


def test_reads_motep_dialect(motep_file):
    folder, data = motep_file
    pot = read_almtp(folder / "motep.mtp")
    assert (pot.min_dist, pot.max_dist, pot.R, pot.K, pot.C) == (1.9, 4.8, 7, data.radial_funcs_count, 1)
    assert pot.scaling == pytest.approx(data.scaling) and pot.basis_scaling is None
    np.testing.assert_allclose(pot.radial_coeffs, data.radial_coeffs, rtol=1e-14)
    np.testing.assert_allclose(pot.moment_coeffs, data.moment_coeffs, rtol=1e-14)
    np.testing.assert_allclose(pot.species_coeffs, data.species_coeffs, rtol=1e-14)
    np.testing.assert_array_equal(pot.alpha_index_times, data.alpha_index_times)
    # Our writer's MLIP-3 layout reads back to the same potential, and motep reads it too.
    (folder / "ours.mtp").write_text(format_mtp_text(pot) + "\n")
    again = motep_mtp.read_mtp(folder / "ours.mtp")
    np.testing.assert_allclose(again.radial_coeffs, data.radial_coeffs, rtol=1e-14)
    assert (again.radial_basis.min, again.radial_basis.max, again.radial_basis.size) == (1.9, 4.8, 7)


def test_motep_file_gets_active_set_and_grades(motep_file, tmp_path, capsys):
    folder, _ = motep_file
    rng = np.random.default_rng(0)
    train = []
    for k in range(4):
        atoms = bulk("W", "bcc", a=3.16, cubic=True) * (2, 2, 2)
        atoms.rattle(0.08, seed=k)
        atoms.arrays["type"] = np.zeros(len(atoms), dtype=int)
        train.append(atoms)
    write_cfg(tmp_path / "train.cfg", train, elements=["W"])
    assert main(["activeset", str(folder / "motep.mtp"), str(tmp_path / "train.cfg"), "-o", str(tmp_path / "pot.almtp"), "-q"]) == 0
    pot = read_almtp(tmp_path / "pot.almtp")
    assert pot.active_set is not None and pot.active_set.mode == "nbh"
    # MaxVol leaves every training neighbourhood interpolative (γ ≤ τ = 1.001) ...
    assert main(["grade", str(tmp_path / "pot.almtp"), str(tmp_path / "train.cfg"), "-o", str(tmp_path / "g.cfg"), "-q"]) == 0
    grades = np.concatenate([a.arrays["nbh_grades"] for a in read_cfg(tmp_path / "g.cfg", elements=["W"])])
    assert grades.max() <= 1.001 + 1e-9 and grades.max() > 0.5
    # ... and a compressed, strongly rattled cell is an extrapolation.
    far = bulk("W", "bcc", a=2.9, cubic=True) * (2, 2, 2)
    far.positions += rng.normal(scale=0.25, size=far.positions.shape)
    far.arrays["type"] = np.zeros(len(far), dtype=int)
    write_cfg(tmp_path / "far.cfg", [far], elements=["W"])
    assert main(["grade", str(tmp_path / "pot.almtp"), str(tmp_path / "far.cfg"), "-o", str(tmp_path / "gf.cfg"), "-q"]) == 0
    assert read_cfg(tmp_path / "gf.cfg", elements=["W"])[0].arrays["nbh_grades"].max() > 2.0


@pytest.mark.parametrize(
    "edit, message",
    [
        (("\tsize = 7", "\tsize = seven"), r"line 10: radial_basis_size must be an integer, got 'seven'"),
        (("\tmax = ", "\tmaxi = "), r"required key 'max_dist' is missing"),
        (("alpha_moment_mapping = {", "alpha_moment_mapping = {x, "), r"line \d+: bad number 'x' in alpha_moment_mapping"),
    ],
)
def test_malformed_motep_file_names_file_line_and_key(motep_file, tmp_path, capsys, edit, message):
    folder, _ = motep_file
    bad = tmp_path / "bad.mtp"
    bad.write_text((folder / "motep.mtp").read_text().replace(*edit, 1))
    with pytest.raises(AlmtpFormatError, match=f"{bad}: {message}"):
        read_almtp(bad)
    rc = main(["activeset", str(bad), str(tmp_path / "none.cfg"), "-o", str(tmp_path / "x.almtp")])
    err = capsys.readouterr().err
    assert rc != 0 and "eipgs activeset: error:" in err and str(bad) in err and "Traceback" not in err

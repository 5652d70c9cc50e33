# SPDX-License-Identifier: GPL-2.0-only
"""eipgs activeset (doc/design/mtp.md §4, §5): rebuilding the active set of the MLIP-3 W potential from its own
stored configurations, checked against the grades from the original A/S and MLIP-3's own grades."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import is_generated
from eipgs.cli import main
from eipgs.io.almtp import format_mtp_text, read_almtp
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.io.lammps import read_lammps_data
from eipgs.mtp import MaxVol, MTPEvaluator, evaluate_configuration

TOL = 2e-5  # MLIP-3 grades: |Δγ| ≤ 2e-5·max(1, γ) (tolerance stated with reference/grades)


@pytest.fixture(scope="module")
def w(mtp_reference, tmp_path_factory):
    d = tmp_path_factory.mktemp("aset")
    pot = read_almtp(mtp_reference / "W-mlip3-basic.almtp")
    write_cfg(d / "aset52.cfg", pot.active_set.configurations, no_loss=True)
    (d / "W.mtp").write_text(format_mtp_text(pot) + "\n")  # MTP text only, as MLIP-2/3 write .mtp files
    ev = MTPEvaluator(pot)
    rows = {}
    for name in ("v1", "v2"):
        at = read_lammps_data(mtp_reference / "grades" / f"{name}.data")
        res = evaluate_configuration(ev, at.positions, at.cell[:], at.pbc, np.zeros(len(at), int), grades=False, keep_rows=True)
        ids = np.asarray(at.arrays["id"])
        rows[name] = (ids, res.rows)
    return d, pot, rows


def _mlip3_grades(reference, name, ids):
    txt = np.loadtxt(reference / "grades" / f"{name}.grades.txt")
    lookup = dict(zip(txt[:, 0].astype(int), txt[:, 1]))
    return np.array([lookup[int(i)] for i in ids])


def test_rebuild_from_selected_rows_reproduces_grades(w, mtp_reference, tmp_path):
    d, pot, rows = w
    out = tmp_path / "rebuilt.almtp"
    assert main(["activeset", str(d / "W.mtp"), str(d / "aset52.cfg"), "-o", str(out), "--rows", "selected", "-q"]) == 0
    new = read_almtp(out)
    aset = new.active_set
    assert aset.mode == "nbh" and aset.weight_scaling == 2 and aset.site_en_weight == 1.0
    # MLIP-3's W: m = 125, 11 unfilled rows, 52 configurations
    assert aset.m == pot.active_set.m and len(aset.configurations) == len(pot.active_set.configurations)
    assert int((aset.links[:, 0] < 0).sum()) == int((pot.active_set.links[:, 0] < 0).sum())
    assert aset.inverse_error() < 1e-6
    # Same rows as the original (up to position), and identical MTP text.
    assert format_mtp_text(new) == format_mtp_text(pot)
    scale = np.abs(pot.active_set.A).max()
    key = lambda A: sorted(tuple(np.round(r / scale, 8)) for r in A if np.abs(r).max() > 1e-3)  # noqa: E731
    assert key(aset.A) == key(pot.active_set.A)
    orig, rebuilt = MaxVol.from_active_set(pot.active_set), MaxVol.from_active_set(aset)
    for name in ("v1", "v2"):
        ids, b = rows[name]
        g0, g1 = orig.grades(b), rebuilt.grades(b)
        assert np.abs(g1 - g0).max() <= 1e-6, name
        ref = _mlip3_grades(mtp_reference, name, ids)
        assert np.all(np.abs(g1 - ref) <= TOL * np.maximum(1.0, ref)), name


def test_rebuild_from_all_rows_is_a_maxvol_fixed_point(w, tmp_path):
    """MLIP-3's procedure (every atom, from 1e-6·I) on only these 52 configurations: a valid active set in
    which every training row is interpolated. It is not the original A, which MLIP-3 grew on a larger
    training set: greedy MaxVol is path dependent and here reaches a larger volume."""
    d, pot, rows = w
    out = tmp_path / "all.almtp"
    assert main(["activeset", str(d / "W.mtp"), str(d / "aset52.cfg"), "-o", str(out), "-q"]) == 0
    aset = read_almtp(out).active_set
    assert aset.inverse_error() < 1e-6
    new = MaxVol.from_active_set(aset)
    train_rows = []
    ev = MTPEvaluator(pot)
    for a in read_cfg(d / "aset52.cfg"):
        train_rows.append(evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, np.zeros(len(a), int), grades=False, keep_rows=True).rows)
    g = new.grades(np.concatenate(train_rows))
    assert g.max() <= 1.001 + 1e-9
    if not is_generated(Path(pot.source).parent):  # the bootstrap set was grown on more rows than its own configurations
        assert new.log_det >= MaxVol.from_active_set(pot.active_set).log_det
    # Links and selected_eqn_inds point at the rows of A.
    stored_rows = [
        evaluate_configuration(ev, c.positions, c.cell[:], c.pbc, np.zeros(len(c), int), grades=False, keep_rows=True).rows
        for c in aset.configurations
    ]
    for r, (c, e) in enumerate(aset.links):
        if c >= 0:
            conf = aset.configurations[c]
            assert str(e) in conf.info["features"]["selected_eqn_inds"].split(",")
            np.testing.assert_allclose(stored_rows[c][e - 3 * len(conf) - 10], aset.A[r], atol=1e-10)
    # .almtp input: its stored active set is ignored, same result as from the plain .mtp.
    out2 = tmp_path / "all2.almtp"
    assert main(["activeset", str(pot.source), str(d / "aset52.cfg"), "-o", str(out2), "-q"]) == 0
    np.testing.assert_array_equal(read_almtp(out2).active_set.A, aset.A)


def test_activeset_bad_input(w, tmp_path, capsys, mtp_reference):
    d, pot, rows = w
    a = read_cfg(d / "aset52.cfg")[1]
    t = a.arrays["type"].copy()
    t[3] = 1
    a.arrays["type"] = t
    write_cfg(tmp_path / "mixed.cfg", [a], no_loss=True)
    assert main(["activeset", str(d / "W.mtp"), str(tmp_path / "mixed.cfg"), "-o", str(tmp_path / "o.almtp"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "mixed.cfg: configuration 0" in err and "type(s) [1]" in err and "[0]" in err
    text = (tmp_path / "mixed.cfg").read_text()
    lines = text.split("\n")
    k = next(i for i, line in enumerate(lines) if line.startswith("    2 "))
    lines[k] = "    7 " + lines[k][6:]
    (tmp_path / "ids.cfg").write_text("\n".join(lines))
    assert main(["activeset", str(d / "W.mtp"), str(tmp_path / "ids.cfg"), "-o", str(tmp_path / "o.almtp"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "ids.cfg" in err and "wrong order of id's" in err
    for argv, name in [(["nothere.mtp", str(d / "aset52.cfg")], "nothere.mtp"), ([str(d / "W.mtp"), "nothere.cfg"], "nothere.cfg")]:
        assert main(["activeset", *argv, "-o", str(tmp_path / "o.almtp"), "-q"]) == 1
        assert name in capsys.readouterr().err
    # An untrained MTP (no radial_coeffs) is refused with the file named.
    text = (d / "W.mtp").read_text()
    start = text.index("\tradial_coeffs")
    end = text.index("alpha_moments_count")
    (tmp_path / "untrained.mtp").write_text(text[:start] + text[end:])
    assert main(["activeset", str(tmp_path / "untrained.mtp"), str(d / "aset52.cfg"), "-o", str(tmp_path / "o.almtp"), "-q"]) == 1
    assert "untrained.mtp" in capsys.readouterr().err


def test_two_species_rebuild_cuni(mtp_reference, tmp_path):
    """Two species (species labels, radial blocks per pair): rebuilding CuNi-mtp10's active set from its own
    configurations with --rows selected reproduces the original grades and MLIP-3's on cuni_v.data."""
    pot = read_almtp(mtp_reference / "CuNi-mtp10.almtp")
    write_cfg(tmp_path / "train.cfg", pot.active_set.configurations, no_loss=True)
    assert main(["activeset", str(mtp_reference / "CuNi-mtp10.almtp"), str(tmp_path / "train.cfg"), "-o", str(tmp_path / "r.almtp"), "--rows", "selected", "-q"]) == 0
    aset = read_almtp(tmp_path / "r.almtp").active_set
    assert int((aset.links[:, 0] < 0).sum()) == int((pot.active_set.links[:, 0] < 0).sum())
    at = read_lammps_data(mtp_reference / "grades" / "cuni_v.data")
    b = evaluate_configuration(MTPEvaluator(pot), at.positions, at.cell[:], at.pbc, at.arrays["type"] - 1, grades=False, keep_rows=True).rows
    g0 = MaxVol.from_active_set(pot.active_set).grades(b)
    g1 = MaxVol.from_active_set(aset).grades(b)
    assert np.abs(g1 - g0).max() <= 1e-6
    ref = _mlip3_grades(mtp_reference, "cuni_v", at.arrays["id"])
    assert np.all(np.abs(g1 - ref) <= TOL * np.maximum(1.0, ref))

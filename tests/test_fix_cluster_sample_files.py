# SPDX-License-Identifier: GPL-2.0-only
"""fix cluster/sample and the files it writes, needing nothing outside the repository: every path is
checked at the fix command (before anything is written), a setup error leaves an existing output file
as it was, two fixes cannot write one file, `elements` takes only chemical symbols, and a centre with
a non-finite grade is written but never swapped into the active set (doc/fix_cluster_sample.md).
"""

from __future__ import annotations

import pytest

from generated import bootstrap_w8, core_check

A_W = 3.16485  # bcc W lattice constant (Zhou 2004)

ZERO_DECK = f"""units metal
lattice bcc {A_W}
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 183.84
pair_style zero 3.0
pair_coeff * *
variable r atom x
"""


@pytest.fixture(scope="module")
def w8(tmp_path_factory):
    return bootstrap_w8(tmp_path_factory)


def _zero_deck_error(lines, setup=ZERO_DECK):
    """The LammpsError message of `lines` after `setup`, and the instance's commands that ran."""
    from eipgs.lmp import LammpsError, create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, setup)
        with pytest.raises(LammpsError) as err:
            run(lmp, lines)
    finally:
        lmp.close()
    return str(err.value)


@pytest.mark.parametrize("ext", ["extxyz", "cfg"])
def test_setup_error_leaves_an_existing_file_untouched(tmp_path, ext):
    """radius 7 + skin 2 exceeds the communication cutoff: init() fails, and the file that was there
    must still be there (it used to be truncated at the fix command already)."""
    out = tmp_path / f"precious.{ext}"
    out.write_text("clusters from an earlier job\n")
    msg = _zero_deck_error([f"fix s all cluster/sample 5 v_r 1.0 7.0 {out}", "run 0"])
    assert "exceeds the communication cutoff" in msg
    assert out.read_text() == "clusters from an earlier job\n"


def test_unwritable_write_active_fails_at_the_fix_command(tmp_path, w8):
    """Reported at the fix command, before the run and before the cluster file exists (it used to
    surface only at the end of the run, after all the sampling)."""
    out = tmp_path / "a.extxyz"
    (tmp_path / "plain_file").write_text("")
    for target, why in [("/nonexistent/dir/b.almtp", "directory '/nonexistent/dir' does not exist"),
                        (f"{tmp_path}/plain_file/b.almtp", f"directory '{tmp_path}/plain_file' does not exist"),
                        (f"{tmp_path}", "is a directory")]:
        if target == f"{tmp_path}":
            target = str(tmp_path / "sub.almtp")
            (tmp_path / "sub.almtp").mkdir(exist_ok=True)
        msg = _zero_deck_error([
            f"fix g all mtp/grade 5 {w8}",
            f"fix s all cluster/sample 5 f_g 2.0 5.0 {out} update_active yes write_active {target}",
        ], setup=ZERO_DECK.replace("zero 3.0", "zero 5.5"))
        assert f"Fix cluster/sample: write_active '{target}'" in msg and why in msg, msg
        assert "Last input line: fix s all cluster/sample" in msg
    assert not out.exists()


def test_second_fix_on_the_same_file_is_refused(tmp_path):
    (tmp_path / "sub").mkdir()
    same = tmp_path / "sub" / ".." / "a.extxyz"  # another spelling of the same file
    msg = _zero_deck_error([
        f"fix s1 all cluster/sample 5 v_r 1.0 3.0 {tmp_path / 'a.extxyz'}",
        f"fix s2 all cluster/sample 5 v_r 1.0 3.0 {same}",
    ])
    assert f"file '{same}' is already written by fix cluster/sample 's1'" in msg
    (tmp_path / "a.extxyz").write_text("")
    (tmp_path / "link.extxyz").symlink_to(tmp_path / "a.extxyz")
    msg = _zero_deck_error([
        f"fix s1 all cluster/sample 5 v_r 1.0 3.0 {tmp_path / 'a.extxyz'}",
        f"fix s2 all cluster/sample 5 v_r 1.0 3.0 {tmp_path / 'link.extxyz'}",
    ])
    assert "link.extxyz' is already written by fix cluster/sample 's1'" in msg
    # Redefining a fix with the same ID replaces it: no conflict with itself.
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, ZERO_DECK + f"fix s1 all cluster/sample 5 v_r 1.0 3.0 {tmp_path / 'a.extxyz'}\n"
                             f"fix s1 all cluster/sample 5 v_r 1.0 3.0 {same}\nrun 0")
    finally:
        lmp.close()


@pytest.mark.parametrize("symbols, bad", [("Xx", "Xx"), ("w", "w"), ("exclude", "exclude")])
def test_unknown_element_symbol_is_refused(tmp_path, symbols, bad):
    msg = _zero_deck_error([f"fix s all cluster/sample 5 v_r 1.0 3.0 {tmp_path / 'a.extxyz'} elements {symbols} exclude 1.0"])
    assert f"elements: '{bad}' (atom type 1) is not a chemical symbol" in msg


def test_overlapping_centre_is_written_but_never_swapped_in(tmp_path, w8):
    """Atom 55 on atom 1 grades +inf: both clusters are written (center_grade inf), but no NaN row
    enters the active set, which stays a valid inverse pair (written and read back)."""
    from eipgs.lmp import create_lammps, run

    out, active = tmp_path / "a.extxyz", tmp_path / "updated.almtp"
    lmp = create_lammps()
    try:
        run(lmp, ZERO_DECK.replace("zero 3.0", "zero 5.5") + "\n".join([
            "create_atoms 1 single 0 0 0 units box",
            "displace_atoms all random 0.05 0.05 0.05 99",
            f"fix g all mtp/grade 1 {w8}",
            f"fix s all cluster/sample 1 f_g 1.5 5.5 {out} update_active yes write_active {active} exclude 0.0",
            "run 0",
        ]))
        written = lmp.extract_fix("s", 0, 1, 1)
    finally:
        lmp.close()
    text = out.read_text()
    assert "center_id=1 center_grade=inf" in text and "center_id=55 center_grade=inf" in text
    assert written == text.count("center_id=") >= 3
    before = dict(line.split(None, 1) for line in core_check("info", w8).stdout.splitlines())
    info = core_check("info", active)
    assert info.returncode == 0, info.stderr
    after = dict(line.split(None, 1) for line in info.stdout.splitlines())
    # one new active-set configuration per swap: the finite extrapolative centres, not atoms 1, 55
    assert 1 <= int(after["configurations"]) - int(before["configurations"]) <= written - 2
    assert float(after["identity_error"]) < 1e-6

# SPDX-License-Identifier: GPL-2.0-only
"""fix cluster/sample against brute force: every written cluster is the exact sphere of all periodic
images within the radius (NumPy, from a dump of the same step), the centres are the greedy
selection by decreasing ref with exclusion / max_per_step / max_total, 1 and 2 MPI ranks write the
same bytes, the files read back with ASE and eipgs.io.cfg, and bad input stops with clear errors.

These tests use a per-atom variable of the positions as ref, so they do not need fix mtp/grade.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import is_generated, lmp_executable, run_mpi

A_W = 3.16485    # bcc W lattice constant (Zhou 2004)

# The ref: a plane sweep through the box, so the highest values sit next to a periodic boundary.
REF = "x+0.37*y-0.21*z"


def deck(
    reference: Path,
    fix: str,
    *,
    triclinic: bool = False,
    cells: int = 5,
    steps: int = 10,
    every: int = 5,
    extra: str = "",
) -> str:
    """W bcc under Zhou EAM at 600 K, a per-atom variable ref, a dump on every sampling step."""
    region = (
        f"region box prism 0 {cells} 0 {cells} 0 {cells} 1 1 -1"
        if triclinic
        else f"region box block 0 {cells} 0 {cells} 0 {cells}"
    )
    return f"""
units metal
atom_modify map array
lattice bcc {A_W}
{region}
create_box 1 box
create_atoms 1 box
mass 1 183.84
pair_style eam/alloy
pair_coeff * * {reference / 'W_Zhou04.eam.alloy'} W
displace_atoms all random 0.08 0.08 0.08 4711
velocity all create 600 12345 loop geom
variable r atom {REF}
{extra}
fix nve all nve
{fix}
dump d all custom {every} snap.*.dump id type x y z
dump_modify d format float %.17g sort id
thermo {every}
run {steps}
"""


def read_dump(path: Path):
    lines = path.read_text().splitlines()
    step = int(lines[1])
    natoms = int(lines[3])
    header = lines[4]
    b = np.array([[float(v) for v in lines[5 + k].split()] for k in range(3)])
    if "xy" in header:
        xlo_b, xhi_b, xy = b[0]
        ylo_b, yhi_b, xz = b[1]
        zlo, zhi, yz = b[2]
        xlo = xlo_b - min(0.0, xy, xz, xy + xz)
        xhi = xhi_b - max(0.0, xy, xz, xy + xz)
        ylo = ylo_b - min(0.0, yz)
        yhi = yhi_b - max(0.0, yz)
    else:
        (xlo, xhi), (ylo, yhi), (zlo, zhi) = b[:, :2]
        xy = xz = yz = 0.0
    cell = np.array([[xhi - xlo, 0, 0], [xy, yhi - ylo, 0], [xz, yz, zhi - zlo]])
    data = np.array([[float(v) for v in line.split()] for line in lines[9 : 9 + natoms]])
    return step, data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2:5], cell


def sphere(ids, pos, cell, centre_id, radius):
    """All (id, vector) with |x_j + n·cell − x_c| < radius over periodic images n (brute force)."""
    xc = pos[ids == centre_id][0]
    out = []
    for n in itertools.product(range(-2, 3), repeat=3):
        d = pos + np.array(n) @ cell - xc
        r = np.linalg.norm(d, axis=1)
        for k in np.nonzero(r < radius)[0]:
            out.append((int(ids[k]), d[k]))
    return out


def min_image_distance(a, b, cell):
    return min(np.linalg.norm(b + np.array(n) @ cell - a) for n in itertools.product(range(-1, 2), repeat=3))


def expected_centres(ids, pos, cell, threshold, exclude, max_per_step, budget=None, ref=None):
    """The greedy selection of the fix, recomputed: decreasing ref, ties by id, exclusion, limits."""
    if ref is None:
        ref = pos[:, 0] + 0.37 * pos[:, 1] - 0.21 * pos[:, 2]
    cand = [k for k in np.argsort(ids) if ref[k] > threshold]
    cand.sort(key=lambda k: (-ref[k], ids[k]))
    chosen = []
    for k in cand:
        if len(chosen) >= max_per_step or (budget is not None and len(chosen) >= budget):
            break
        if all(min_image_distance(pos[j], pos[k], cell) >= exclude for j in chosen):
            chosen.append(k)
    return [int(ids[k]) for k in chosen], ref, len(cand)


def run_serial(tmp: Path, text: str) -> subprocess.CompletedProcess:
    (tmp / "in.lmp").write_text(text)
    proc = subprocess.run([lmp_executable(), "-in", "in.lmp"], cwd=tmp, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"lmp failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def outputs_on_1_and_2_ranks(tmp: Path, text: str, files: tuple[str, ...]) -> dict[int, tuple[bytes, ...]]:
    """Run the same deck on 1 and 2 MPI ranks in np1/ and np2/; the bytes of `files` from each run."""
    outputs = {}
    for n in (1, 2):
        d = tmp / f"np{n}"
        d.mkdir()
        (d / "in.lmp").write_text(text)
        proc = run_mpi(n, [lmp_executable(), "-in", "in.lmp"], cwd=d)
        assert f"with {n} MPI tasks" in proc.stdout
        outputs[n] = tuple((d / name).read_bytes() for name in files)
    return outputs


def frames_by_step(path: Path):
    import ase.io

    frames = ase.io.read(path, ":")
    by_step: dict[int, list] = {}
    for f in frames:
        by_step.setdefault(int(f.info["step"]), []).append(f)
    return frames, by_step


@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
def test_clusters_equal_brute_force_spheres(tmp_path, generated_reference, triclinic):
    radius, threshold, exclude, mps = 6.0, 14.0, 2.9, 4
    fix = f"fix s all cluster/sample 5 v_r {threshold} {radius} clusters.extxyz exclude {exclude} max_per_step {mps}"
    run_serial(tmp_path, deck(generated_reference, fix, triclinic=triclinic))
    frames, by_step = frames_by_step(tmp_path / "clusters.extxyz")
    assert sorted(by_step) == [0, 5, 10]
    near_boundary = excluded_some = 0
    for step, written in by_step.items():
        _, ids, types, pos, cell = read_dump(tmp_path / f"snap.{step}.dump")
        if triclinic:
            assert abs(cell[1, 0]) > 1 and abs(cell[2, 1]) > 1
        want, ref, ncand = expected_centres(ids, pos, cell, threshold, exclude, mps)
        assert [int(f.info["center_id"]) for f in written] == want
        excluded_some += want != expected_centres(ids, pos, cell, threshold, 0.0, mps)[0]
        assert len(want) == mps    # the limit is what stopped the selection
        grades = [f.info["center_grade"] for f in written]
        assert grades == sorted(grades, reverse=True)
        for f in written:
            cid = int(f.info["center_id"])
            assert f.info["center_grade"] == pytest.approx(ref[ids == cid][0], abs=1e-9)
            assert f.info["radius"] == radius
            np.testing.assert_allclose(f.info["source_cell"].reshape(3, 3), cell, atol=1e-9)
            assert list(f.info["source_pbc"]) == [True, True, True]
            assert not f.pbc.any()
            brute = sphere(ids, pos, cell, cid, radius)
            assert len(f) == len(brute) >= 50
            # centre first, at the origin
            assert f.arrays["id"][0] == cid and np.all(f.positions[0] == 0.0)
            got = sorted(zip(f.arrays["id"].tolist(), map(tuple, np.round(f.positions, 6))))
            exp = sorted((i, tuple(np.round(d, 6))) for i, d in brute)
            assert [g[0] for g in got] == [e[0] for e in exp]
            np.testing.assert_allclose([g[1] for g in got], [e[1] for e in exp], atol=2e-6)
            np.testing.assert_array_equal(f.arrays["type"], 1)
            assert set(f.get_chemical_symbols()) == {"W"}
            np.testing.assert_array_equal(f.arrays["core"], np.linalg.norm(f.positions, axis=1) < radius / 2)
            # a sphere reaching through a periodic boundary: images of atoms on the far side
            xc = pos[ids == cid][0]
            frac = np.linalg.solve(cell.T, xc)
            if np.any(frac < radius / np.diag(cell)) or np.any(frac > 1 - radius / np.diag(cell)):
                near_boundary += 1
    assert near_boundary >= 3
    assert excluded_some >= 1    # the exclusion radius changed the choice


def test_ties_are_broken_by_atom_id(tmp_path, generated_reference):
    # ref = the index of the bcc (100) layer along x: the 25 atoms of a layer share one value; the
    # fix must take the smallest ids first.
    fix = "fix s all cluster/sample 5 v_layer 6.0 5.0 ties.xyz exclude 0 max_per_step 7"
    extra = "variable layer atom floor(2*x/3.16485+0.5)"
    text = deck(generated_reference, fix, steps=0, extra=extra).replace("displace_atoms", "#displace_atoms")
    run_serial(tmp_path, text)
    frames, by_step = frames_by_step(tmp_path / "ties.xyz")
    _, ids, _, pos, cell = read_dump(tmp_path / "snap.0.dump")
    layer = np.floor(2 * pos[:, 0] / A_W + 0.5)
    want, _, ncand = expected_centres(ids, pos, cell, 6.0, 0.0, 7, ref=layer)
    assert ncand > 7 and len(set(layer[layer > 6.0])) < ncand    # ties among the candidates
    assert [int(f.info["center_id"]) for f in by_step[0]] == want
    assert len(want) == 7


def test_small_cell_includes_every_periodic_image(tmp_path, generated_reference):
    # 3x3x3 bcc cell (9.5 Å) and radius 7 Å > half the box: an atom appears once per image.
    fix = "fix s all cluster/sample 5 v_r 8.0 7.0 small.extxyz max_per_step 2"
    run_serial(tmp_path, deck(generated_reference, fix, cells=3, steps=5, extra="comm_modify cutoff 9.5"))
    frames, by_step = frames_by_step(tmp_path / "small.extxyz")
    for step, written in by_step.items():
        _, ids, _, pos, cell = read_dump(tmp_path / f"snap.{step}.dump")
        for f in written:
            brute = sphere(ids, pos, cell, int(f.info["center_id"]), 7.0)
            assert len(f) == len(brute)
            assert len(set(f.arrays["id"])) < len(f)    # repeated ids = periodic images
            got = np.array(sorted(map(tuple, np.round(f.positions, 5))))
            exp = np.array(sorted(tuple(np.round(d, 5)) for _, d in brute))
            np.testing.assert_allclose(got, exp, atol=2e-5)


def test_max_total_and_global_vector(tmp_path, generated_reference, monkeypatch):
    import ase.io

    from eipgs.lmp import create_lammps, run

    monkeypatch.chdir(tmp_path)
    text = deck(generated_reference, "fix s all cluster/sample 5 v_r 14.0 6.0 total.extxyz max_per_step 3 max_total 5", steps=0)
    lmp = create_lammps(log=str(tmp_path / "log.lammps"))
    try:
        run(lmp, text)
        vec = [lmp.extract_fix("s", 0, 1, k) for k in range(3)]
        _, ids, _, pos, cell = read_dump(tmp_path / "snap.0.dump")
        _, _, ncand = expected_centres(ids, pos, cell, 14.0, 3.0, 3)
        assert ncand > 3
        assert vec == [3.0, 3.0, float(ncand)]
        run(lmp, "run 10")
        assert [lmp.extract_fix("s", 0, 1, k) for k in range(2)] == [0.0, 5.0]
    finally:
        lmp.close()
    log = (tmp_path / "log.lammps").read_text()
    assert "max_total 5 clusters reached at step 5" in log
    frames = ase.io.read(tmp_path / "total.extxyz", ":")
    assert [int(f.info["step"]) for f in frames] == [0, 0, 0, 5, 5]


@pytest.mark.mpi
@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
def test_one_and_two_ranks_write_identical_files(tmp_path, generated_reference, triclinic):
    fix = (
        "fix s all cluster/sample 5 v_r 12.0 6.0 clusters.extxyz exclude 2.0 max_per_step 6\n"
        "fix c all cluster/sample 5 v_r 12.0 6.0 clusters.cfg exclude 2.0 max_per_step 6"
    )
    # create_atoms numbers atoms rank by rank: make the ids once (1 rank), read them on both runs. So
    # that both runs see the same positions to the last bit, velocities come from that data file and
    # atoms move ballistically (see test_update_active_one_and_two_ranks_identical).
    setup = deck(generated_reference, "", triclinic=triclinic, steps=0).split("variable r")[0] + "write_data start.data\n"
    run_serial(tmp_path, setup)
    text = deck(generated_reference, fix, triclinic=triclinic, steps=20)
    text = re.sub(r"lattice.*?create_atoms 1 box", f"read_data {tmp_path / 'start.data'}", text, flags=re.S)
    text = text.replace("displace_atoms", "#displace_atoms").replace("velocity", "#velocity")
    text = text.replace("fix nve all nve", "fix nve all nve/noforce")
    outputs = outputs_on_1_and_2_ranks(tmp_path, text, ("snap.20.dump", "clusters.extxyz", "clusters.cfg"))
    assert outputs[1][0] == outputs[2][0], "the two runs saw different positions"
    assert outputs[1][1].count(b"center_id=") == 5 * 6
    assert outputs[1] == outputs[2]


def test_cfg_output_format_and_reader(tmp_path, generated_reference):
    import ase.io

    from eipgs.io.cfg import read_cfg

    fix = (
        "fix s all cluster/sample 5 v_r 14.0 6.0 clusters.extxyz max_per_step 3\n"
        "fix c all cluster/sample 5 v_r 14.0 6.0 clusters.cfg max_per_step 3"
    )
    run_serial(tmp_path, deck(generated_reference, fix))
    xyz = ase.io.read(tmp_path / "clusters.extxyz", ":")
    cfgs = read_cfg(tmp_path / "clusters.cfg", elements=["W"])
    assert len(cfgs) == len(xyz) == 9
    text = (tmp_path / "clusters.cfg").read_text()
    block = text.split("END_CFG")[0]
    lines = block.splitlines()
    assert lines[:3] == ["BEGIN_CFG", " Size", f"    {len(xyz[0])}"]
    assert lines[3] == " AtomData:  id type       cartes_x      cartes_y      cartes_z"
    assert lines[4] == "             1    0       0.000000      0.000000      0.000000"
    assert "Supercell" not in text    # non-periodic (doc/design/mtp.md §8)
    keys = [ln.split()[1] for ln in lines if ln.startswith(" Feature")]
    assert keys == sorted(keys)
    assert {"cfg#", "nbh#", "extrapolation_grade", "center_id", "step"} <= set(keys)
    for k, (c, x) in enumerate(zip(cfgs, xyz)):
        assert not c.pbc.any()
        assert len(c) == len(x)
        np.testing.assert_allclose(c.positions, x.positions, atol=6e-7)
        feats = c.info["features"]
        assert int(feats["cfg#"]) == k
        assert int(feats["center_id"]) == x.info["center_id"] and int(feats["nbh#"]) == x.info["center_id"] - 1
        assert int(feats["step"]) == x.info["step"]
        assert float(feats["extrapolation_grade"]) == pytest.approx(x.info["center_grade"], abs=5e-7)


@pytest.mark.parametrize("ext", ["extxyz", "cfg"])
def test_append_continues_without_duplicates(tmp_path, generated_reference, ext):
    fix = f"fix s all cluster/sample 5 v_r 14.0 6.0 out.{ext} max_per_step 3"
    one = tmp_path / "one"
    one.mkdir()
    run_serial(one, deck(generated_reference, fix, steps=20))
    full = (one / f"out.{ext}").read_text()

    two = tmp_path / "two"
    two.mkdir()
    run_serial(two, deck(generated_reference, fix, steps=10))
    first = (two / f"out.{ext}").read_text()
    assert full.startswith(first) and len(first) < len(full)
    # the same trajectory again from step 0 to 20, appending: steps 0-10 are already there
    proc = run_serial(two, deck(generated_reference, fix + " append yes", steps=20))
    assert (two / f"out.{ext}").read_text() == full
    # and once more: nothing new at all
    run_serial(two, deck(generated_reference, fix + " append yes", steps=20))
    assert (two / f"out.{ext}").read_text() == full
    assert proc.returncode == 0


def _error_of(reference: Path, tmp: Path, fix: str, *, extra: str = "", run_steps: int = 0) -> str:
    from eipgs.lmp import LammpsError, create_lammps, run

    text = deck(reference, "", steps=run_steps, extra=extra).replace("\ndump", "\n#dump").replace(
        f"run {run_steps}", ""
    )
    lmp = create_lammps()
    try:
        run(lmp, text)
        with pytest.raises(LammpsError) as err:
            run(lmp, [fix, f"run {run_steps}"])
        return str(err.value)
    finally:
        lmp.close()


@pytest.mark.parametrize(
    "fix, message",
    [
        ("fix s all cluster/sample 5 v_r 1.0 7.0 {d}/a.extxyz", r"radius 7 \+ neighbor skin 2 = 9 exceeds the communication cutoff 8.12\d*; add `comm_modify cutoff 9`"),
        ("fix s all cluster/sample 5 c_t 1.0 5.0 {d}/a.extxyz", "compute 't' \\(style temp\\) in ref 'c_t' does not compute per-atom values"),
        ("fix s all cluster/sample 5 v_e 1.0 5.0 {d}/a.extxyz", "variable 'e' in ref 'v_e' is not an atom-style variable"),
        ("fix s all cluster/sample 5 c_nope 1.0 5.0 {d}/a.extxyz", "compute ID 'nope' in ref 'c_nope' does not exist"),
        ("fix s all cluster/sample 5 f_nve 1.0 5.0 {d}/a.extxyz", "fix 'nve' \\(style nve\\) in ref 'f_nve' does not compute per-atom values"),
        ("fix s all cluster/sample 5 c_c 1.0 5.0 {d}/a.extxyz", "compute 'c' computes a per-atom array; use c_c\\[k\\] with k in 1..3"),
        ("fix s all cluster/sample 5 c_c[4] 1.0 5.0 {d}/a.extxyz", "column 4 is beyond the 3 columns of compute 'c'"),
        ("fix s all cluster/sample 5 x 1.0 5.0 {d}/a.extxyz", "ref 'x' must be a per-atom c_ID"),
        ("fix s all cluster/sample 5 v_r 2.0 5.0 {d}/a.extxyz update_active yes", "update_active yes needs ref = f_ID of a fix mtp/grade"),
        ("fix s all cluster/sample 5 v_r 2.0 5.0 {d}/a.extxyz write_active b.almtp", "write_active needs update_active yes"),
        ("fix s all cluster/sample 5 v_r 2.0 5.0 {d}/a.extxyz regrade no", "regrade applies only with update_active yes"),
        ("fix g all mtp/grade 5 {a}\nfix s all cluster/sample 5 f_g 1.0 5.5 {d}/a.extxyz update_active yes", "update_active needs threshold > 1"),
        ("fix g all mtp/grade 10 {a}\nfix s all cluster/sample 5 f_g 2.0 5.5 {d}/a.extxyz", "N = 5 must be a multiple of the N = 10 of fix mtp/grade 'g'"),
        ("fix x all store/state 5 x\nfix s all cluster/sample 5 f_x 2.0 5.5 {d}/a.extxyz update_active yes", "update_active yes needs ref = f_ID of a fix mtp/grade; fix 'x' is style 'store/state'"),
        ("fix g all mtp/grade 5 {a}\nfix s all cluster/sample 5 f_g 2.0 5.5 {d}/a.extxyz update_active yes write_active b.txt", "write_active file 'b.txt' must end in .almtp"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 /nonexistent/dir/a.extxyz", "file '/nonexistent/dir/a.extxyz': directory '/nonexistent/dir' does not exist"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.txt", "must end in .extxyz, .xyz"),
        ("fix s all cluster/sample 0 v_r 1.0 5.0 {d}/a.extxyz", "N = 0 must be > 0"),
        ("fix s all cluster/sample -5 v_r 1.0 5.0 {d}/a.extxyz", "N = -5 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 0 {d}/a.extxyz", "radius = 0 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 -3 {d}/a.extxyz", "radius = -3 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.extxyz max_per_step 0", "max_per_step = 0 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.extxyz max_total -1", "max_total = -1 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.extxyz core 0", "core = 0 must be > 0"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.extxyz exclude -1", "exclude = -1 must be >= 0"),
        ("fix s all cluster/sample 5 v_r 1.0 5.0 {d}/a.extxyz radius 3", "unknown keyword 'radius'"),
        ("fix s all cluster/sample 5 v_r 1.0 abc {d}/a.extxyz", "Expected floating point parameter"),
        ("fix late all store/state 5 x\nfix s all cluster/sample 5 f_late 1.0 5.0 {d}/a.extxyz\nunfix late\nfix late all store/state 5 x", "fix 'late' \\(ref 'f_late'\\) must be defined before fix cluster/sample"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, generated_reference, fix, message):
    extra = "compute t all temp\ncompute c all property/atom x y z\nvariable e equal 1.0"
    lines = fix.format(d=tmp_path, a=generated_reference / "W-mlip3-basic.almtp").split("\n")
    if len(lines) > 1:
        from eipgs.lmp import LammpsError, create_lammps, run

        text = deck(generated_reference, "", extra=extra).replace("\ndump", "\n#dump").replace("run 10", "")
        lmp = create_lammps()
        try:
            run(lmp, text)
            with pytest.raises(LammpsError) as err:
                run(lmp, [*lines, "run 0"])
            msg = str(err.value)
        finally:
            lmp.close()
    else:
        msg = _error_of(generated_reference, tmp_path, lines[0], extra=extra)
    assert re.search(message, msg), msg


@pytest.mark.parametrize("name, text", [
    ("a.extxyz", "1\nProperties=species:S:1:pos:R:3 pbc=\"F F F\" step=abc center_id=1\nW 0 0 0\n"),
    ("a.cfg", "BEGIN_CFG\n Size\n    1\n AtomData:  id type cartes_x cartes_y cartes_z\n    1 0 0 0 0\n"
              " Feature   step\tx\n Feature   center_id\t1\nEND_CFG\n\n"),
])
def test_append_to_a_malformed_file_is_a_clear_error(tmp_path, generated_reference, name, text):
    (tmp_path / name).write_text(text)
    msg = _error_of(generated_reference, tmp_path, f"fix s all cluster/sample 5 v_r 1.0 5.0 {tmp_path / name} append yes")
    assert f"cannot continue '{tmp_path / name}' with append yes: malformed" in msg, msg


# ------------------------------------------------------------------ with fix mtp/grade


def slab_deck(reference: Path, fixes: str, *, steps: int = 20, every: int = 5, temp: float = 1200) -> str:
    """A W (001) slab with two free surfaces (vacuum in z): many equivalent high-γ surface atoms."""
    return f"""
units metal
atom_modify map array
lattice bcc {A_W}
region box block 0 4 0 4 0 8
region crystal block 0 4 0 4 0 4
create_box 1 box
create_atoms 1 region crystal
mass 1 183.84
pair_style eam/alloy
pair_coeff * * {reference / 'W_Zhou04.eam.alloy'} W
neighbor 1.0 bin
displace_atoms all random 0.05 0.05 0.05 4711
velocity all create {temp} 12345 loop geom
fix nve all nve
fix g all mtp/grade {every} {reference / 'W-mlip3-basic.almtp'}
{fixes}
dump d all custom {every} snap.*.dump id type x y z f_g
dump_modify d format float %.17g sort id
thermo {every}
run {steps}
"""


def test_update_active_dedup_matches_numpy_maxvol_replay(tmp_path, mtp_reference):
    """update_active writes far fewer clusters than there are candidates, and its choices and
    grades equal a NumPy replay: grade all atoms against the current set (H1's evaluator), walk
    the candidates by decreasing γ, regrade, select if γ > threshold, swap the row in (MaxVol)."""
    import ase.io

    from eipgs.io.almtp import read_almtp
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration
    from eipgs.mtp.maxvol import MaxVol

    thr = 2.0
    dedup = tmp_path / "dedup"
    plain = tmp_path / "plain"
    dedup.mkdir()
    plain.mkdir()
    run_serial(dedup, slab_deck(mtp_reference, f"fix s all cluster/sample 5 f_g {thr} 5.5 c.extxyz exclude 0 max_per_step 1000 update_active yes write_active next.almtp"))
    run_serial(plain, slab_deck(mtp_reference, f"fix s all cluster/sample 5 f_g {thr} 5.5 c.extxyz exclude 0 max_per_step 1000"))
    written = ase.io.read(dedup / "c.extxyz", ":")
    every_candidate = ase.io.read(plain / "c.extxyz", ":")
    assert len(every_candidate) >= 50
    assert 1 <= len(written) <= len(every_candidate) / 5
    assert all(f.info["center_grade"] > thr for f in written)

    pot = read_almtp(mtp_reference / "W-mlip3-basic.almtp")
    ev = MTPEvaluator(pot)
    mv = MaxVol.from_active_set(pot.active_set)
    replayed = []
    for step in range(0, 25, 5):
        _, ids, _, pos, cell = read_dump(dedup / f"snap.{step}.dump")
        res = evaluate_configuration(ev, pos, cell, [True] * 3, np.zeros(len(ids), dtype=int), keep_rows=True)
        rows = res.rows
        gamma0 = mv.grades(rows)
        order = sorted(np.flatnonzero(gamma0 > thr), key=lambda k: (-gamma0[k], ids[k]))
        for k in order:
            g = float(mv.grades(rows[k])[0])
            if g > thr:
                assert mv.add(rows[k][None, :], threshold=1.0, swap_limit=1) == 1
                replayed.append((step, int(ids[k]), g))
        # f_g of a sampling step is the regrade (from the grade fix's kept rows) against the set
        # after this step's swaps
        dumped = (dedup / f"snap.{step}.dump").read_text().splitlines()[9 : 9 + len(ids)]
        f_g = np.array([float(line.split()[5]) for line in dumped])
        np.testing.assert_allclose(f_g, mv.grades(rows), rtol=1e-7, atol=1e-9)
    got = [(int(f.info["step"]), int(f.info["center_id"]), f.info["center_grade"]) for f in written]
    assert [r[:2] for r in got] == [r[:2] for r in replayed]
    np.testing.assert_allclose([r[2] for r in got], [r[2] for r in replayed], rtol=1e-7)

    # write_active: the C++ active set after the run equals the replayed one, and the written
    # clusters became active-set configurations linked to the centre's site-energy equation.
    nxt = read_almtp(dedup / "next.almtp")
    np.testing.assert_allclose(nxt.active_set.A, mv.A, rtol=0, atol=1e-14 * np.abs(mv.A).max())
    assert np.max(np.abs(nxt.active_set.A @ nxt.active_set.S.T - np.eye(mv.m))) < 1e-6
    text = (dedup / "next.almtp").read_bytes()
    assert text.count(b"BEGIN_CFG") == len(pot.active_set.configurations) + len(written)
    for f in written:
        assert f"Feature   center_id\t{int(f.info['center_id'])}\n Feature   selected_eqn_inds\t{3 * len(f) + 10}".encode() in text

    # fix mtp/grade of a later run continues from it: the environments sampled at step 0 are covered
    if not is_generated(mtp_reference):
        assert {int(f.info["step"]) for f in written} == {0}  # MLIP-3's W: all are sampled at once
    cont = tmp_path / "continue"
    cont.mkdir()
    text = slab_deck(mtp_reference, "", steps=0).replace(str(mtp_reference / "W-mlip3-basic.almtp"), str(dedup / "next.almtp"))
    proc = run_serial(cont, text + "print 'MAXGRADE $(f_g:%.6f)'\n")
    assert 1.0 < float(re.search(r"MAXGRADE ([\d.]+)", proc.stdout).group(1)) < thr


def test_round_trip_center_grade_with_eipgs_grade(tmp_path, mtp_reference):
    """γ of each centre recomputed by `eipgs grade` (independent NumPy MTP) on the written
    non-periodic cluster (radius 5.5 ≥ MTP cutoff 5) equals center_grade."""
    import ase.io

    from eipgs.io.cfg import read_cfg

    fixes = (
        "fix s all cluster/sample 5 f_g 1.5 5.5 c.extxyz max_per_step 6\n"
        "fix c all cluster/sample 5 f_g 1.5 5.5 c.cfg max_per_step 6"
    )
    run_serial(tmp_path, slab_deck(mtp_reference, fixes, steps=10))
    frames = ase.io.read(tmp_path / "c.extxyz", ":")
    assert len(frames) >= 10
    for f in frames:
        assert f.info["core_radius"] == 5.0    # default core = MTP cutoff
        np.testing.assert_array_equal(f.arrays["core"], np.linalg.norm(f.positions, axis=1) < 5.0)
        assert f.arrays["grade"][0] == pytest.approx(f.info["center_grade"], abs=1e-9)
        # per-atom grades of every cluster atom (owned or ghost) = f_g of that atom in the dump
        lines = (tmp_path / f"snap.{int(f.info['step'])}.dump").read_text().splitlines()[9:]
        f_g = {int(ln.split()[0]): float(ln.split()[5]) for ln in lines}
        np.testing.assert_allclose(f.arrays["grade"], [f_g[i] for i in f.arrays["id"]], rtol=0, atol=1e-9)
    cli = [str(Path(lmp_executable()).parent / "eipgs"), "grade", str(mtp_reference / "W-mlip3-basic.almtp")]
    # the extxyz `type` column holds LAMMPS types: type 1 -> species 0 with no --species needed
    subprocess.run([*cli, "c.extxyz", "-o", "xyz_graded.cfg", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*cli, "c.cfg", "-o", "cfg_graded.cfg", "-q"], cwd=tmp_path, check=True)
    from_xyz = read_cfg(tmp_path / "xyz_graded.cfg")
    from_cfg = read_cfg(tmp_path / "cfg_graded.cfg")
    want = np.array([f.info["center_grade"] for f in frames])
    # the CLI prints 5 decimals (as mlp does)
    np.testing.assert_allclose([c.arrays["nbh_grades"][0] for c in from_xyz], want, rtol=0, atol=5.01e-6)
    # full precision from the same library call: C++ (LAMMPS, periodic system) vs NumPy (cluster)
    from eipgs.grade import grade

    exact = grade(mtp_reference / "W-mlip3-basic.almtp", tmp_path / "c.extxyz", None, progress=False)
    np.testing.assert_allclose([c.arrays["nbh_grades"][0] for c in exact], want, rtol=1e-9)
    # the .cfg keeps 6 decimals of the positions: γ agrees to the printed grade precision
    np.testing.assert_allclose([c.arrays["nbh_grades"][0] for c in from_cfg], want, rtol=1e-4)
    assert want.max() > 2.0


def test_break_step_is_sampled(tmp_path, mtp_reference):
    """fix mtp/grade break stops the run on a step that is not a multiple of cluster/sample's N;
    the clusters of that step are written before the run ends."""
    import ase.io

    from eipgs.lmp import create_lammps, run

    # probe: max γ at every grading step, without a break
    lmp = create_lammps()
    maxima = {}
    try:
        cwd = Path.cwd()
        import os

        os.chdir(tmp_path)
        try:
            text = slab_deck(mtp_reference, "", steps=0, temp=1800).replace("run 0", "").replace("\ndump", "\n#dump")
            run(lmp, text)
            for step in range(0, 105, 5):
                run(lmp, "run 0" if step == 0 else "run 5")
                maxima[step] = lmp.extract_fix("g", 0, 0)
        finally:
            os.chdir(cwd)
    finally:
        lmp.close()
    # the first step, off the sampling grid (N = 10), where max γ exceeds every earlier value
    steps = sorted(maxima)
    brk = next(s for s in steps if s % 10 and maxima[s] > max(maxima[t] for t in steps if t < s))
    level = 0.5 * (maxima[brk] + max(maxima[t] for t in steps if t < brk))
    fixes = f"fix s all cluster/sample 10 f_g {level} 5.5 c.extxyz"
    text = slab_deck(mtp_reference, fixes, steps=100, temp=1800).replace(
        "mtp/grade 5 " + str(mtp_reference / "W-mlip3-basic.almtp"),
        f"mtp/grade 5 {mtp_reference / 'W-mlip3-basic.almtp'} break {level}",
    )
    proc = run_serial(tmp_path, text)
    stop = re.search(r"exceeds break (\S+) on step (\d+)", proc.stdout)
    assert stop, proc.stdout[-3000:]
    assert float(stop[1]) == level and int(stop[2]) == brk  # the shortest repr round-trips exactly
    assert re.search(rf"Loop time of [\d.e-]+ on 1 procs for {brk} steps", proc.stdout)
    frames = ase.io.read(tmp_path / "c.extxyz", ":")
    assert frames and int(frames[-1].info["step"]) == brk
    assert max(f.info["center_grade"] for f in frames if f.info["step"] == brk) == pytest.approx(maxima[brk], rel=1e-9)


@pytest.mark.mpi
def test_update_active_one_and_two_ranks_identical(tmp_path, mtp_reference):
    """The live active-set update is decided identically on every rank: 1 and 2 MPI ranks write
    the same clusters (.extxyz and .cfg) and the same updated .almtp, byte for byte.

    Both runs must see the same positions to the last bit. An MD run does not give that: the
    force sums (pair eam/alloy, reverse communication) and velocity create's normalisation add in
    an order that depends on the domain decomposition, so the trajectories of 1 and 2 ranks part
    in the last digit within a few steps. Hence velocities are created once (serial, saved in the
    data file) and atoms move ballistically (nve/noforce: x += v dt, atom by atom), which is exact
    on any number of ranks; the dumps check that premise."""
    setup = slab_deck(mtp_reference, "", steps=0).split("fix nve")[0] + "write_data start.data\n"
    run_serial(tmp_path, setup)
    fixes = (
        # first, so that it sees the grades before this step's swaps
        "fix plain all cluster/sample 5 f_g 2.0 5.5 c.cfg exclude 2.0\n"
        "fix s all cluster/sample 5 f_g 2.0 5.5 c.extxyz exclude 2.0 update_active yes write_active next.almtp"
    )
    text = slab_deck(mtp_reference, fixes, steps=20)
    text = re.sub(r"lattice.*?create_atoms 1 region crystal", f"read_data {tmp_path / 'start.data'}", text, flags=re.S)
    text = text.replace("displace_atoms", "#displace_atoms").replace("velocity", "#velocity")
    text = text.replace("fix nve all nve", "fix nve all nve/noforce")
    # split the slab itself between the ranks (not the vacuum): centres live on both
    text = text.replace("read_data", "processors * * 1\nread_data")
    names = ("snap.20.dump", "c.extxyz", "c.cfg", "next.almtp")
    out = outputs_on_1_and_2_ranks(tmp_path, text, names)
    assert out[1][0] == out[2][0], "the two runs saw different positions: the comparison below would mean nothing"
    assert out[1][1].count(b"center_id=") >= 2 and out[1][2].count(b"BEGIN_CFG") >= 2
    for name, one, two in zip(names[1:], out[1][1:], out[2][1:]):
        assert one == two, f"{name} differs between 1 and 2 ranks"


@pytest.mark.mpi
def test_triclinic_small_cell_images_one_and_two_ranks_identical(tmp_path, generated_reference):
    """Ghost images reached through several swaps (tilted cell, radius larger than half the box,
    so atoms appear once per image, comm cutoff beyond a sub-domain): the 17-digit positions of
    write_active and both cluster files are the same on 1 and 2 ranks."""
    ref = generated_reference
    run_serial(tmp_path, f"""
units metal
lattice bcc {A_W}
region box prism 0 3 0 3 0 3 1.1 0.4 -0.7
create_box 1 box
create_atoms 1 box
mass 1 183.84
displace_atoms all random 0.2 0.2 0.2 4711
velocity all create 3000 12345 loop geom
write_data start.data
""")
    text = f"""
units metal
atom_modify map array
read_data {tmp_path / 'start.data'}
pair_style eam/alloy
pair_coeff * * {ref / 'W_Zhou04.eam.alloy'} W
comm_modify cutoff 12
neighbor 1.0 bin
fix nve all nve/noforce
fix g all mtp/grade 5 {ref / 'W-mlip3-basic.almtp'}
fix p all cluster/sample 5 f_g 1.2 7.5 c.cfg exclude 1.0
fix s all cluster/sample 5 f_g 1.2 7.5 c.extxyz exclude 1.0 update_active yes write_active next.almtp
run 10
"""
    names = ("c.cfg", "c.extxyz", "next.almtp")
    out = outputs_on_1_and_2_ranks(tmp_path, text, names)
    frame = out[1][1].split(b"\n")
    natoms = int(frame[0])
    ids = [line.split()[4] for line in frame[2:2 + natoms]]
    assert len(ids) > len(set(ids)), "the cluster should hold several images of one atom"
    assert out[1][2].count(b"BEGIN_CFG") > 2
    for name, one, two in zip(names, out[1], out[2]):
        assert one == two, f"{name} differs between 1 and 2 ranks"


def test_example_deck_sample_W(tmp_path, mtp_reference):
    import ase.io

    deck_path = Path(__file__).resolve().parents[1] / "lammps_inputs" / "sample_W.in"
    args = [
        lmp_executable(), "-in", str(deck_path),
        "-var", "potential", str(mtp_reference / "W_Zhou04.eam.alloy"),
        "-var", "almtp", str(mtp_reference / "W-mlip3-basic.almtp"),
        "-var", "ncell", "4", "-var", "steps", "100", "-var", "every", "50",
    ]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    frames = ase.io.read(tmp_path / "clusters.extxyz", ":")
    assert frames and all(f.info["center_grade"] > 2.0 for f in frames)
    assert set(frames[0].get_chemical_symbols()) == {"W"}
    assert (tmp_path / "W-next.almtp").stat().st_size > (mtp_reference / "W-mlip3-basic.almtp").stat().st_size
    m = re.search(r"Fix cluster/sample sample: (\d+) clusters written", proc.stdout)
    assert m and int(m.group(1)) == len(frames)


@pytest.mark.parametrize(
    "ref, column",
    [("c_csym", 5), ("c_pos[1]", 2), ("f_st[2]", 3)],
    ids=["compute-vector", "compute-array-column", "fix-array-column"],
)
def test_compute_and_fix_refs(tmp_path, generated_reference, ref, column):
    """ref from a per-atom compute (centro/atom around a vacancy), a compute array column and a fix
    array column select the same centres as the greedy selection recomputed from a dump of them."""
    extra = (
        "region vac sphere 2.5 2.5 2.5 0.1 units lattice\ndelete_atoms region vac\n"
        "compute csym all centro/atom bcc\ncompute pos all property/atom x y\n"
        "fix st all store/state 5 x y"
    )
    threshold = {"c_csym": 1.0, "c_pos[1]": 12.0, "f_st[2]": 12.0}[ref]
    fix = f"fix s all cluster/sample 5 {ref} {threshold} 5.0 refs.extxyz max_per_step 5 exclude 2.0"
    text = deck(generated_reference, fix, extra=extra).replace("id type x y z", "id type x y z c_csym")
    run_serial(tmp_path, text)
    frames, by_step = frames_by_step(tmp_path / "refs.extxyz")
    assert sorted(by_step) == [0, 5, 10]
    for step, written in by_step.items():
        lines = (tmp_path / f"snap.{step}.dump").read_text().splitlines()[9:]
        table = np.array([[float(v) for v in ln.split()] for ln in lines])
        _, ids, _, pos, cell = read_dump(tmp_path / f"snap.{step}.dump")
        values = table[:, column]
        want, _, ncand = expected_centres(ids, pos, cell, threshold, 2.0, 5, ref=values)
        assert ncand >= 5
        assert [int(f.info["center_id"]) for f in written] == want
        np.testing.assert_allclose([f.info["center_grade"] for f in written], [values[ids == i][0] for i in want], atol=1e-8)

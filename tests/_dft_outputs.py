# SPDX-License-Identifier: GPL-2.0-only
"""Fake-but-real VASP outputs for the collect tests.

ASE (3.29) reads vasprun.xml and OUTCAR but has no writer for either (``ase.io.write(format='vasp-xml')``
is not available), so these helpers write the parts of both files that VASP writes and that ASE's
readers use, with known numbers. The layout follows VASP's files (vasprun.xml schema: <modeling>,
<parameters>, <atominfo>, <structure name="initialpos">, <calculation> with <scstep>s; OUTCAR: POTCAR
lines, ions per type, Iteration banners, FORCE/STRESS blocks, FREE ENERGIE block, timing section).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.units import GPa

KBAR_PER_EV_A3 = 1.0 / (0.1 * GPa)  # 1 eV/Å³ = 1602.1766 kbar


def _v(values) -> str:
    return "<v>" + " ".join(f"{x:.12f}" for x in values) + "</v>"


def write_vasprun(path: Path, atoms: Atoms, *, free_energy: float, sigma0_energy: float, forces: np.ndarray,
                  stress_kbar: np.ndarray | None, nelm: int = 60, n_scf: int = 12, complete: bool = True) -> None:
    """vasprun.xml of a single point. ``stress_kbar`` is VASP's 3×3 tensor in kB (positive = compressive)."""
    symbols = atoms.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    frac = atoms.get_scaled_positions(wrap=False)
    cell = atoms.cell[:]
    lines = ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<modeling>",
             ' <generator><i name="program" type="string">vasp </i><i name="version" type="string">6.4.2 </i></generator>',
             " <incar>", '  <i name="ENCUT">    520.0</i>', '  <i type="int" name="NELM">' + str(nelm) + "</i>", " </incar>",
             ' <kpoints>', '  <varray name="kpointlist">', '   <v>0.0 0.0 0.0</v>', "  </varray>",
             '  <varray name="weights">', "   <v>1.0</v>", "  </varray>", " </kpoints>",
             " <parameters>", '  <separator name="electronic">', '   <i name="ENCUT">    520.0</i>',
             '   <separator name="electronic convergence">', f'    <i type="int" name="NELM">{nelm}</i>',
             '    <i name="EDIFF">1e-06</i>', "   </separator>", "  </separator>", " </parameters>",
             " <atominfo>", f"  <atoms>{len(atoms)}</atoms>", f"  <types>{len(species)}</types>",
             '  <array name="atoms">', '   <dimension dim="1">ion</dimension>',
             '   <field type="string">element</field>', '   <field type="int">atomtype</field>', "   <set>"]
    for s in symbols:
        lines.append(f"    <rc><c>{s:<2}</c><c>{species.index(s) + 1}</c></rc>")
    lines += ["   </set>", "  </array>", " </atominfo>"]

    def structure(name_attr: str) -> list[str]:
        out = [f" <structure{name_attr}>", "  <crystal>", '   <varray name="basis">']
        out += ["    " + _v(row) for row in cell]
        out += ["   </varray>", f'   <i name="volume">{atoms.get_volume():.12f}</i>', "  </crystal>",
                '  <varray name="positions">']
        out += ["   " + _v(row) for row in frac]
        out += ["  </varray>", " </structure>"]
        return out

    lines += structure(' name="initialpos"')
    lines.append(" <calculation>")
    for k in range(n_scf):
        # Earlier SCF steps have other energies; ASE takes the σ→0 correction from the last one.
        shift = 0.5 ** (n_scf - 1 - k) - (1.0 if k == n_scf - 1 else 0.0)
        lines += ["  <scstep>", "   <energy>",
                  f'    <i name="e_fr_energy">{free_energy + shift:.8f}</i>',
                  f'    <i name="e_wo_entrp">{sigma0_energy + shift:.8f}</i>',
                  f'    <i name="e_0_energy">{sigma0_energy + shift:.8f}</i>',
                  "   </energy>", "  </scstep>"]
    if complete:
        lines += ["  " + s for s in structure("")]
        lines.append('  <varray name="forces">')
        lines += ["   " + _v(f) for f in forces]
        lines.append("  </varray>")
        if stress_kbar is not None:
            lines.append('  <varray name="stress">')
            lines += ["   " + _v(row) for row in stress_kbar]
            lines.append("  </varray>")
        lines += ["  <energy>", f'   <i name="e_fr_energy">{free_energy:.8f}</i>',
                  f'   <i name="e_wo_entrp">{sigma0_energy:.8f}</i>',
                  f'   <i name="e_0_energy">{sigma0_energy:.8f}</i>', "  </energy>", " </calculation>",
                  "</modeling>"]
    path.write_text("\n".join(lines) + "\n")


def write_outcar(path: Path, atoms: Atoms, *, free_energy: float, sigma0_energy: float, forces: np.ndarray,
                 stress_kbar: np.ndarray, nelm: int = 60, n_scf: int = 12, converged: bool = True,
                 finished: bool = True) -> None:
    """OUTCAR of a single point with the blocks ASE's parser reads (stress in kB, VASP's XX YY ZZ XY YZ ZX)."""
    symbols = atoms.get_chemical_symbols()
    species = list(dict.fromkeys(symbols))
    counts = [symbols.count(s) for s in species]
    out = [" vasp.6.4.2 18Apr23 (build Nov 26 2026) complex", ""]
    for s in species:
        out.append(f"   POTCAR:    PAW_PBE {s}_sv 04Sep2015")
    for s in species:
        out.append(f"   POTCAR:    PAW_PBE {s}_sv 04Sep2015")
    out += ["   ions per type =  " + "  ".join(str(c) for c in counts),
            f"   NELM   =     {nelm};   NELMIN=  2; NELMDL=  -5     # of ELM steps",
            "   ISPIN  =      1    spin polarized calculation?",
            f"   k-points           NKPTS =      1   k-points in BZ     NKDIM =      1   number of bands    NBANDS=     {8 * len(atoms)}",
            "",
            " k-points in reciprocal lattice and weights: eipgs test",
            "   0.00000000  0.00000000  0.00000000       1.000",
            ""]
    for k in range(1, n_scf + 1):
        out += [f"--------------------------------------- Iteration      1({k:4d})  ---------------------------------------",
                "", f"  free energy    TOTEN  =     {free_energy + 0.1 / k:.8f} eV", ""]
    if converged:
        out += ["------------------------ aborting loop because EDIFF is reached ----------------------------------------", ""]
    s = stress_kbar
    voigt_vasp = [s[0, 0], s[1, 1], s[2, 2], s[0, 1], s[1, 2], s[2, 0]]
    out += ["  FORCE on cell =-STRESS in cart. coord.  units (eV):",
            "  Direction    XX          YY          ZZ          XY          YZ          ZX",
            "  --------------------------------------------------------------------------------------",
            "  in kB  " + " ".join(f"{x:11.5f}" for x in voigt_vasp),
            "",
            "      direct lattice vectors                 reciprocal lattice vectors"]
    rec = atoms.cell.reciprocal()
    for r in range(3):
        out.append("   " + " ".join(f"{x:12.9f}" for x in atoms.cell[r]) + "    " + " ".join(f"{x:12.9f}" for x in rec[r]))
    out += ["", " POSITION                                       TOTAL-FORCE (eV/Angst)",
            " -----------------------------------------------------------------------------------"]
    for p, f in zip(atoms.positions, forces):
        out.append(" " + " ".join(f"{x:12.8f}" for x in p) + "   " + " ".join(f"{x:13.8f}" for x in f))
    out += [" -----------------------------------------------------------------------------------", "",
            "  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)", "  ---------------------------------------------------",
            f"  free  energy   TOTEN  =     {free_energy:.8f} eV", "",
            f"  energy  without entropy=     {sigma0_energy:.8f}  energy(sigma->0) =     {sigma0_energy:.8f}", "", ""]
    if finished:
        out += [" General timing and accounting informations for this job:", " ========================================================", ""]
    path.write_text("\n".join(out) + "\n")


def fake_single_point(folder: Path, atoms: Atoms, seed: int, *, outcar_only: bool = False, **kw):
    """Write a run with random-but-known energies/forces/stress into ``folder``; returns the truth."""
    rng = np.random.default_rng(seed)
    n = len(atoms)
    truth = {
        "free_energy": float(-12.9 * n + rng.normal()),
        "forces": rng.normal(scale=0.5, size=(n, 3)),
        "stress_kbar": None,
    }
    truth["sigma0_energy"] = truth["free_energy"] + 0.00123
    s = rng.normal(scale=20.0, size=(3, 3))
    truth["stress_kbar"] = 0.5 * (s + s.T)
    # The files print 8 (OUTCAR) / 12 (vasprun) decimals; the truth is what is printed.
    truth["forces"] = np.round(truth["forces"], 8)
    truth["stress_kbar"] = np.round(truth["stress_kbar"], 5)
    truth["free_energy"] = round(truth["free_energy"], 8)
    truth["sigma0_energy"] = round(truth["sigma0_energy"], 8)
    folder.mkdir(parents=True, exist_ok=True)
    if outcar_only:
        write_outcar(folder / "OUTCAR", atoms, **truth, **kw)
    else:
        write_vasprun(folder / "vasprun.xml", atoms, **truth, **kw)
    return truth


def write_pw_out(path: Path, atoms: Atoms, *, energy_ry: float, forces_ry_bohr: np.ndarray,
                 stress_ry_bohr3: np.ndarray, converged: bool = True, finished: bool = True) -> None:
    """pw.x output of an SCF with forces and stress, in the layout of QE 7 (the lines ASE's reader uses).

    ``stress_ry_bohr3`` is QE's printed tensor (positive = compressive), energies and forces in Ry, Ry/bohr.
    """
    from ase.units import Bohr

    alat = float(np.linalg.norm(atoms.cell[0]))
    species = list(dict.fromkeys(atoms.get_chemical_symbols()))
    out = ["", "     Program PWSCF v.7.2 starts on 26Nov2026 at 14:40:00 ", "",
           "     bravais-lattice index     =            0",
           f"     lattice parameter (alat)  =  {alat / Bohr:12.4f}  a.u.",
           f"     number of atoms/cell      = {len(atoms):12d}",
           f"     number of atomic types    = {len(species):12d}", "",
           f"     celldm(1)= {alat / Bohr:11.6f}  celldm(2)=   0.000000  celldm(3)=   0.000000", "",
           "     crystal axes: (cart. coord. in units of alat)"]
    for r in range(3):
        v = atoms.cell[r] / alat
        out.append(f"               a({r + 1}) = ( {v[0]:10.6f} {v[1]:10.6f} {v[2]:10.6f} )  ")
    out += ["", "     site n.     atom                  positions (alat units)"]
    for k, (s, p) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions / alat), 1):
        out.append(f"     {k:5d}           {s:<2}  tau({k:4d}) = (  {p[0]:10.7f}  {p[1]:10.7f}  {p[2]:10.7f}  )")
    out += ["", "     Self-consistent Calculation", ""]
    if converged:
        out += ["     convergence has been achieved in  11 iterations", ""]
    else:
        out += ["     convergence NOT achieved after 100 iterations: stopping", ""]
    out += [f"!    total energy              = {energy_ry:17.8f} Ry", "",
            "     Forces acting on atoms (cartesian axes, Ry/au):", ""]
    for k, f in enumerate(forces_ry_bohr, 1):
        out.append(f"     atom {k:4d} type  1   force = {f[0]:14.8f}{f[1]:14.8f}{f[2]:14.8f}")
    s = stress_ry_bohr3
    out += ["", "     total   stress  (Ry/bohr**3)                   (kbar)     P=        0.00"]
    for r in range(3):
        out.append(f"  {s[r, 0]:12.8f}  {s[r, 1]:12.8f}  {s[r, 2]:12.8f}          0.00        0.00        0.00")
    out.append("")
    if finished:
        out += ["     JOB DONE.", ""]
    path.write_text("\n".join(out) + "\n")

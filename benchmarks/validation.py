#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The B / B+C / B+P experiment (issue 11 item 4; the logic of Shuang et al. 2025, Figs. 3e and 6)
with SNAP-W as the oracle, the Zhou 2004 EAM as the sampling driver and motep as the trainer.

Stages (each timed):

1. **B**: the bootstrap basic set of ``eipgs bootstrap W`` (strained bcc/fcc/hcp, NVT bulk
   300–3000 K, vacancy, (100) slab), relabelled by the oracle; MTP_B is trained on it.
2. **Sampling, round 1**: EAM MD of a W slab with two (110) surfaces, a vacancy and a
   self-interstitial (the ``eipgs demo`` system) with ``fix mtp/grade`` + ``fix cluster/sample`` on
   MTP_B's active set. The written clusters (8 Å, vacuum) are **C**; ``eipgs pcc`` rebuilds periodic
   cells around the same centres, **P**. Only clusters whose cell succeeded are used, so C and P have
   the same centres and similar atom counts. Both are labelled by the oracle.
3. **Training**: MTP_{B+C} and MTP_{B+P}, same level, weights (1, 0.01, 0), iterations, for each seed.
4. **Test set T**: oracle-labelled periodic EAM-MD snapshots of *other* defects: a (100) slab at
   1200 K, a divacancy at 1500 K, a di-interstitial at 600 K. Defect atoms are those that LAMMPS's
   ``compute cna/atom`` does not call bcc. Each model: energy and force RMSE on T (all atoms, defect
   atoms), and the grades γ of T against its own active set.
5. **Rounds**: sampling again with MTP_{B+P…}'s active set, new clusters → cells → labels → refit, for
   ``--rounds`` rounds; the stopping criterion is a round that writes no new cluster.

Run (the full experiment as in doc/validation.md; ~20 min on the shared 2-core machine):

    nice .venv/bin/python benchmarks/validation.py -o validation_run --figures doc/figures

``--quick`` is the reduced version the test suite runs (level 6, one round, small sizes, < 60 s).
Results: ``OUTDIR/results.json`` and a Markdown table on stdout (``OUTDIR/results.md``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from ase import Atoms

# The DFT-fitted W SNAP of Wood & Thompson (2017) as the wheel's W_2940_2017_2.snap defines it: SNAP on top
# of a ZBL repulsion switched off between 4 and 4.8 Å (SNAP alone lacks that repulsion and is not the model).
SNAP = ("hybrid/overlay zbl 4.0 4.8 snap",
        ["1 1 zbl 74 74", "* * snap {potentials}/W_2940_2017_2.snapcoeff {potentials}/W_2940_2017_2.snapparam W"])
A_W = 3.16485  # Å, bcc W with the Zhou 2004 EAM
GAMMA_SELECT = 2.0


class Timer(dict):
    def stage(self, name):
        timer = self

        class _Stage:
            def __enter__(self):
                self.t = time.perf_counter()
                print(f"[{name}] ...", flush=True)

            def __exit__(self, *exc):
                dt = time.perf_counter() - self.t
                timer[name] = timer.get(name, 0.0) + dt
                print(f"[{name}] {dt:.1f} s", flush=True)

        return _Stage()


def plain(atoms: Atoms) -> Atoms:
    out = Atoms(atoms.get_chemical_symbols(), positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    for key in ("core", "inserted"):
        if key in atoms.arrays:
            out.arrays[key] = np.asarray(atoms.arrays[key], dtype=bool)
    return out


def oracle_label(oracle, images, what: str) -> list[Atoms]:
    return [oracle.label(a, f"{what} {k}") for k, a in enumerate(images)]


# ------------------------------------------------------------------------------------------ B


def basic_set(oracle, workdir: Path, structures: int, seed: int) -> list[Atoms]:
    from eipgs.bootstrap import basic_training_set

    configs = basic_training_set(["W"], workdir, seed=seed, structures=structures)
    return oracle_label(oracle, [plain(Atoms("W" * len(a), positions=a.positions, cell=a.cell, pbc=True))
                                 for a in configs], "basic structure")


# ------------------------------------------------------------------------------------------ T


def _lammps_snapshots(eam: Path, setup: list[str], temperature: float, seed: int, snapshots: int,
                      equilibrate: int, every: int) -> list[Atoms]:
    """EAM NVT snapshots with a per-atom non-bcc flag from compute cna/atom (bcc = 3)."""
    from eipgs.lmp import atoms_from_lammps, create_lammps, run

    lmp = create_lammps()
    try:
        run(lmp, ["units metal", "boundary p p p", "atom_style atomic", "atom_modify map array sort 0 0",
                  f"lattice bcc {A_W}"] + setup + [
            "mass * 183.84", "pair_style eam/alloy", f"pair_coeff * * {eam} W", "neighbor 1.0 bin",
            "minimize 0 1e-4 200 2000", "reset_timestep 0",
            f"compute cna all cna/atom {1.207 * A_W:.4f}",
            f"velocity all create {2 * temperature} {seed} mom yes rot no dist gaussian",
            f"fix nvt all nvt temp {temperature} {temperature} 0.1", "timestep 0.001", f"run {equilibrate}"])
        frames = []
        for _ in range(snapshots):
            run(lmp, f"run {every}")
            atoms = atoms_from_lammps(lmp, ["W"], per_atom={"cna": "c_cna"})
            atoms.arrays["core"] = atoms.arrays.pop("cna") != 3  # the defect atoms: not bcc by CNA
            frames.append(atoms)
        return frames
    finally:
        lmp.close()


def test_scenarios(quick: bool) -> dict[str, tuple[list[str], float]]:
    """Defects *not* sampled (the sampled system has (110) surfaces, one vacancy, one interstitial at 800 K)."""
    n = 3 if quick else 4
    return {
        "(100) slab 1200 K": ([f"region box block 0 {n} 0 {n} -3 {n + 3}", "create_box 1 box",
                               f"region crystal block INF INF INF INF -0.01 {n - 0.01}",
                               "create_atoms 1 region crystal"], 1200.0),
        "divacancy 1500 K": ([f"region box block 0 {n} 0 {n} 0 {n}", "create_box 1 box", "create_atoms 1 box",
                              "region v1 sphere 1 1 1 0.1 units lattice", "region v2 sphere 1.5 1.5 1.5 0.1 units lattice",
                              "delete_atoms region v1", "delete_atoms region v2"], 1500.0),
        "di-interstitial 600 K": ([f"region box block 0 {n} 0 {n} 0 {n}", "create_box 1 box", "create_atoms 1 box",
                                   "create_atoms 1 single 1.5 1.0 1.0 units lattice",
                                   "create_atoms 1 single 1.0 1.5 2.0 units lattice"], 600.0),
    }


def test_set(oracle, eam: Path, quick: bool, seed: int) -> list[Atoms]:
    images = []
    for k, (name, (setup, T)) in enumerate(test_scenarios(quick).items()):
        frames = _lammps_snapshots(eam, setup, T, seed + k, snapshots=2 if quick else 3,
                                   equilibrate=200 if quick else 500, every=100 if quick else 300)
        for f in frames:
            f.info["scenario"] = name
        images += frames
    labelled = oracle_label(oracle, images, "test structure")
    for a, b in zip(images, labelled):
        b.arrays["core"] = a.arrays["core"]
        b.info["scenario"] = a.info["scenario"]
    return labelled


# ------------------------------------------------------------------------------------------ sampling


def sample(round_dir: Path, eam: Path, almtp: Path, args) -> tuple[dict, list[Atoms], list[Atoms]]:
    """One sampling round: clusters (C) and their periodic cells (P), same centres, oracle-unlabelled."""
    from ase.io import read

    from eipgs.demo import DemoContext, stage_cells, stage_sampling

    round_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(eam, round_dir / eam.name)
    shutil.copy(almtp, round_dir / "sampling.almtp")
    ctx = DemoContext(outdir=round_dir, size=args.size, steps=args.steps, temperature=800.0, every=100,
                      nprocs=args.nprocs, cells=args.cells, seed=args.seed + 4928459)
    ctx.results["potential"] = {"potential": round_dir / eam.name}
    ctx.results["bootstrap"] = {"potential": round_dir / "sampling.almtp"}
    s = stage_sampling(ctx)
    info = {"clusters": s["clusters"], "gamma_max_run": s["gamma_max_run"], "gamma_max_initial": float(s["gamma_initial"].max()),
            "above_initial": s["above_initial"], "candidates": s["candidates"], "sampling_wall_s": s["wall_s"]}
    ctx.results["sampling"] = s
    if not s["clusters"]:
        return info, [], []
    c = stage_cells(ctx)
    info["cells_tried"] = c.get("tried", 0)
    info["cells_ok"] = c.get("cells", 0)
    info["pcc_wall_s"] = c["wall_s"]
    clusters = read(round_dir / "clusters.extxyz", ":")
    C, P = [], []
    for row in c.get("rows", []):
        if row.get("status") != "ok":
            continue
        cl = plain(clusters[row["cluster_index"]])
        cl.pbc = False
        C.append(cl)
        P.append(plain(read(round_dir / "cells" / row["file"])))
    return info, C, P


# ------------------------------------------------------------------------------------------ training


def train(images: list[Atoms], folder: Path, args, seed: int) -> dict:
    from eipgs.io.formats import write_structures
    from eipgs.train import train_mtp

    folder.mkdir(parents=True, exist_ok=True)
    write_structures(folder / "train_in.extxyz", images)
    t = time.perf_counter()
    plan = train_mtp([folder / "train_in.extxyz"], folder, level=args.level, elements=["W"], engine="motep",
                     iteration_limit=args.iterations, seed=seed, min_dist=1.9, max_dist=5.0,
                     radial_basis_size=args.radial_basis_size, progress=False)
    plan["wall_s"] = time.perf_counter() - t
    plan["n_configs"] = len(images)
    plan["n_atoms"] = sum(len(a) for a in images)
    return plan


def assess(plan: dict, T: list[Atoms]) -> dict:
    from eipgs.evaluate import evaluate
    from eipgs.io.almtp import read_almtp
    from eipgs.mtp.grading import grade_atoms

    pot = read_almtp(plan["almtp"], configurations=False)
    summary, _ = evaluate(pot, T, elements=["W"])
    gammas = []
    for a in T:
        b = a.copy()
        b.arrays["type"] = np.zeros(len(b), dtype=int)
        gammas.append(grade_atoms(pot, b).grades)
    g = np.concatenate(gammas)
    core = np.concatenate([a.arrays["core"] for a in T])
    return {
        "energy_rmse_meV": 1000 * summary["energy_rmse_per_atom"],
        "force_rmse": summary["force_rmse"],
        "force_rmse_defect": summary["core"]["force_rmse"] if "core" in summary else float("nan"),
        "gamma_max": float(g.max()),
        "gamma_median": float(np.median(g)),
        "gamma_p95": float(np.percentile(g, 95)),
        "gamma_defect_median": float(np.median(g[core])) if core.any() else float("nan"),
        "frac_above_2": float(np.mean(g > GAMMA_SELECT)),
        "gammas": g.tolist(),
        "train_energy_rmse_meV": 1000 * plan["errors"]["energy_rmse_per_atom"],
        "train_force_rmse": plan["errors"]["force_rmse"],
        "n_train_configs": plan["n_configs"],
        "n_train_atoms": plan["n_atoms"],
        "train_wall_s": plan["wall_s"],
    }


# ------------------------------------------------------------------------------------------ report


def _mean_std(rows: list[dict], key: str) -> str:
    v = np.array([r[key] for r in rows], dtype=float)
    return f"{v.mean():.3f}" if len(v) == 1 else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"


def table(models: dict[str, list[dict]]) -> str:
    head = ("| model | training configs / atoms | E RMSE on T (meV/atom) | F RMSE on T (eV/Å) | "
            "F RMSE, defect atoms (eV/Å) | γ median / p95 on T | γ_max on T | atoms of T with γ > 2 |")
    out = [head, "|" + "---|" * 8]
    for name, rows in models.items():
        r0 = rows[0]
        out.append(
            f"| {name} | {r0['n_train_configs']} / {r0['n_train_atoms']} | {_mean_std(rows, 'energy_rmse_meV')} | "
            f"{_mean_std(rows, 'force_rmse')} | {_mean_std(rows, 'force_rmse_defect')} | "
            f"{np.mean([r['gamma_median'] for r in rows]):.2f} / {np.mean([r['gamma_p95'] for r in rows]):.2f} | "
            f"{_mean_std(rows, 'gamma_max')} | {100 * np.mean([r['frac_above_2'] for r in rows]):.1f} % |")
    return "\n".join(out)


def figures(results: dict, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    names = list(results["models"])
    fig, axes = plt.subplots(1, 3, figsize=(9, 2.8))
    for ax, key, label in zip(axes, ("energy_rmse_meV", "force_rmse", "force_rmse_defect"),
                              ("E RMSE on T (meV/atom)", "F RMSE on T (eV/Å)", "F RMSE, defect atoms (eV/Å)")):
        vals = [[r[key] for r in results["models"][n]] for n in names]
        ax.bar(range(len(names)), [np.mean(v) for v in vals], yerr=[np.std(v) for v in vals], color="0.6", capsize=3)
        for i, v in enumerate(vals):
            ax.plot([i] * len(v), v, "k.", ms=4)
        ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
        ax.set_title(label, fontsize=8)
    fig.tight_layout()
    paths.append(folder / "validation_rmse.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4.5, 3))
    bins = np.logspace(-3, 3, 50)
    for n in names:
        g = np.maximum(np.asarray(results["models"][n][0]["gammas"]), 1e-3)
        ax.hist(g, bins=bins, histtype="step", label=n)
    ax.axvline(GAMMA_SELECT, color="k", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")  # the extrapolative tail (γ > 2) is a few atoms out of ~1000
    ax.set_xlabel("γ on the test set T (first seed)")
    ax.set_ylabel("atoms")
    ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(folder / "validation_gamma.png")
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    rounds = results["rounds"]
    if rounds:
        fig, ax = plt.subplots(figsize=(4.5, 3))
        r = [x["round"] for x in rounds]
        ax.plot(r, [x["gamma_max_run"] for x in rounds], "o-", label="γ_max during sampling")
        ax.set_yscale("log")
        ax.set_xlabel("round")
        ax.set_ylabel("γ_max")
        ax2 = ax.twinx()
        ax2.bar(r, [x["clusters"] for x in rounds], alpha=0.3, color="C1", label="new clusters")
        ax2.set_ylabel("new clusters")
        ax.set_xticks(r)
        fig.legend(fontsize=7, loc="upper right")
        fig.tight_layout()
        paths.append(folder / "validation_rounds.png")
        fig.savefig(paths[-1], dpi=80)
        plt.close(fig)
    return paths


# ------------------------------------------------------------------------------------------ main


def run(args) -> dict:
    from eipgs.label import LammpsOracle
    from eipgs.potentials.zhou04 import zhou04_eam_file

    out = Path(args.outdir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    eam = zhou04_eam_file(["W"], out).resolve()
    oracle = LammpsOracle(*SNAP, ["W"])
    results: dict = {"settings": vars(args).copy(), "models": {}, "rounds": []}
    try:
        with timer.stage("B: basic set (EAM) + oracle labels"):
            B = basic_set(oracle, out / "basic", structures=args.structures, seed=args.seed)
        with timer.stage("T: test-set MD (EAM) + oracle labels"):
            T = test_set(oracle, eam, args.quick, args.seed)
        results["B"] = {"configs": len(B), "atoms": sum(len(a) for a in B)}
        results["T"] = {"configs": len(T), "atoms": sum(len(a) for a in T),
                        "defect_atoms": int(sum(a.arrays["core"].sum() for a in T)),
                        "scenarios": sorted({a.info["scenario"] for a in T})}
        plans = {}
        with timer.stage("train MTP_B"):
            plans["B"] = [train(B, out / f"B_s{s}", args, s) for s in range(1, args.seeds + 1)]
        results["models"]["B"] = [assess(p, T) for p in plans["B"]]
        P_all: list[Atoms] = []
        current = Path(plans["B"][0]["almtp"])
        for rnd in range(1, args.rounds + 1):
            with timer.stage(f"round {rnd}: sampling (EAM MD + fix mtp/grade + cluster/sample) and eipgs pcc"):
                info, C, P = sample(out / f"round{rnd}", eam, current, args)
            info["round"] = rnd
            info["model"] = "B" if rnd == 1 else "B+P" + "".join(f"{k}" for k in range(1, rnd))
            results["rounds"].append(info)
            print(f"round {rnd}: {info['clusters']} new clusters, γ_max {info['gamma_max_run']:.2f}, "
                  f"{len(P)} cells", flush=True)
            if not info["clusters"]:
                print(f"round {rnd}: no new clusters: the stopping criterion is met", flush=True)
                break
            if not P:
                print(f"round {rnd}: no periodic cell succeeded; stopping", flush=True)
                break
            with timer.stage(f"round {rnd}: oracle labels of C and P"):
                C_l = oracle_label(oracle, C, f"round {rnd} cluster")
                P_l = oracle_label(oracle, P, f"round {rnd} cell")
            info["C_atoms"] = sum(len(a) for a in C_l)
            info["P_atoms"] = sum(len(a) for a in P_l)
            if rnd == 1:
                with timer.stage("train MTP_B+C"):
                    plans["B+C"] = [train(B + C_l, out / f"BC_s{s}", args, s) for s in range(1, args.seeds + 1)]
                results["models"]["B+C"] = [assess(p, T) for p in plans["B+C"]]
            P_all += P_l
            name = "B+P" if rnd == 1 else "B+P" + "".join(f"+P{k}" for k in range(2, rnd + 1))
            seeds = range(1, args.seeds + 1) if rnd == 1 else range(1, 2)
            with timer.stage(f"train MTP_{name}"):
                plans[name] = [train(B + P_all, out / f"{name.replace('+', '')}_s{s}", args, s) for s in seeds]
            results["models"][name] = [assess(p, T) for p in plans[name]]
            current = Path(plans[name][0]["almtp"])
    finally:
        oracle.close()
    results["timings_s"] = dict(timer)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=float) + "\n")
    md = [table(results["models"]), "",
          "| round | sampled with | γ_max at start | γ_max during MD | new clusters | cells ok / tried | C atoms | P atoms |",
          "|---|---|---|---|---|---|---|---|"]
    for r in results["rounds"]:
        md.append(f"| {r['round']} | MTP_{r['model']} | {r['gamma_max_initial']:.2f} | {r['gamma_max_run']:.2f} | "
                  f"{r['clusters']} | {r.get('cells_ok', 0)} / {r.get('cells_tried', 0)} | {r.get('C_atoms', '')} | "
                  f"{r.get('P_atoms', '')} |")
    md += ["", "| stage | wall time (s) |", "|---|---|"] + [f"| {k} | {v:.1f} |" for k, v in timer.items()]
    text = "\n".join(md)
    (out / "results.md").write_text(text + "\n")
    print(text)
    if args.figures:
        for p in figures(results, Path(args.figures)):
            print(f"wrote {p}")
    return results


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--outdir", default="validation_run")
    p.add_argument("--quick", action="store_true", help="the reduced test-suite version")
    p.add_argument("--level", type=int)
    p.add_argument("--radial-basis-size", type=int)
    p.add_argument("--iterations", type=int)
    p.add_argument("--seeds", type=int)
    p.add_argument("--rounds", type=int)
    p.add_argument("--structures", type=int, help="snapshots per MD run of the basic set")
    p.add_argument("--size", type=int, help="sampled slab thickness in (110) lattice units")
    p.add_argument("--steps", type=int, help="MD steps per sampling round")
    p.add_argument("--cells", type=int, help="clusters rebuilt into periodic cells per round")
    p.add_argument("--nprocs", type=int, default=2, help="MPI ranks of the sampling MD")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--figures", help="folder for the PNG figures (doc/figures)")
    args = p.parse_args(argv)
    defaults = (dict(level=6, radial_basis_size=6, iterations=30, seeds=1, rounds=1, structures=1, size=4, steps=600,
                     cells=2)
                if args.quick else
                dict(level=10, radial_basis_size=8, iterations=300, seeds=3, rounds=3, structures=3, size=6, steps=3000,
                     cells=8))
    for k, v in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    return args


if __name__ == "__main__":
    run(parse_args())
    sys.exit(0)

# SPDX-License-Identifier: GPL-2.0-only
"""Training (``eipgs train mtp|ace``).

- MTP with motep (PyPI, the ``train`` extra): a fresh template of our basis (``--level``) or a
  ``.mtp``/``.almtp`` to continue from (``--init``) is fitted in-process (linear least squares for the
  linear coefficients, then BFGS over all parameters, then LLS again) with the paper's weights
  (energy 1, force 0.01, stress 0). OUTDIR gets ``pot.mtp`` (MLIP-3 layout, our writer), ``pot.almtp``
  (the same with a neighbourhood-mode active set over the training set, doc/design/mtp.md §5),
  ``train.log`` and the training errors from our own evaluator (``train_errors.json``/``.csv``).
- MTP with MLIP-3: ``mlp train init.almtp train.cfg --save_to=pot.almtp`` with the same weights and
  ``--al_mode=nbh``, because the eipgs grade fixes need a neighbourhood-mode active set
  (doc/design/mtp.md §3.2).
- ACE (pacemaker): ``input.yaml`` with a 5 Å cutoff and the dataset as a pacemaker pickle, then
  ``pace_activeset`` for the extrapolation-grade active set.

The external launchers (mlp, pacemaker) write their folder (training set in the code's format, inputs,
``run.sh``) and run ``run.sh`` when the executable is on PATH; a run that was asked for but cannot happen
is an error, so nothing exits 0 without a trained potential unless ``dry_run`` was asked for.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = ["MTP_WEIGHTS", "ENGINES", "train_mtp", "train_ace", "pacemaker_input_yaml", "mlp_train_command", "TrainPlan",
           "check_training_set", "resolve_engine", "TrainingDataError", "ace_active_set"]

MTP_WEIGHTS = {"energy_weight": 1.0, "force_weight": 0.01, "stress_weight": 0.0}  # paper


class TrainPlan(dict):
    """``folder``, ``commands`` (list of shell lines), ``ran`` (bool), ``returncode`` (int or None)."""


def mlp_train_command(init: str, train: str, save_to: str, *, weights: Mapping[str, float] = MTP_WEIGHTS,
                      iteration_limit: int = 1000, al_mode: str = "nbh", mpi: int = 1,
                      extra: Sequence[str] = ()) -> str:
    args = ["mlp", "train", init, train, f"--save_to={save_to}"]
    args += [f"--{k}={v:g}" for k, v in weights.items()]
    args += [f"--iteration_limit={iteration_limit}", f"--al_mode={al_mode}", *extra]
    if mpi > 1:
        args = ["mpirun", "-n", str(mpi), *args]
    return " ".join(shlex.quote(a) for a in args)


def _prepare_training_set(train: Sequence[str | os.PathLike], dest: Path, elements) -> int:
    from eipgs.convert import convert

    return convert(list(train), dest, elements=elements, no_loss=True)


def _template_for_species(data: bytes, nspecies: int, source: Path) -> bytes:
    """An untrained MLIP-3 template (no ``radial_coeffs``) gets ``species_count`` = our element count.

    Only the text part before the first ``#`` is touched: the selection block after it is binary
    (doc/design/mtp.md §4) and is copied byte for byte.
    """
    cut = data.find(b"#")
    head, tail = (data, b"") if cut < 0 else (data[:cut], data[cut:])
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: not an MLIP-3 .almtp/.mtp potential (non-text header)") from None
    if not text.startswith("MTP"):
        raise ValueError(f"{source}: not an MLIP-3 .almtp/.mtp potential (first line must be 'MTP')")
    m = re.search(r"species_count\s*=\s*(\d+)", text)
    if m is None:
        raise ValueError(f"{source}: no species_count line")
    if "radial_coeffs" in text:
        if int(m.group(1)) != nspecies:
            raise ValueError(
                f"{source}: a trained potential for {m.group(1)} species cannot be refitted to {nspecies} species; "
                "start from an untrained template (MLIP-3's MTP_templates/NN.almtp)"
            )
        return data
    text = text[: m.start()] + f"species_count = {nspecies}" + text[m.end():]
    return text.encode("ascii") + tail


def _write_run_script(folder: Path, commands: Sequence[str]) -> Path:
    script = folder / "run.sh"
    script.write_text("#!/bin/bash\n# Written by eipgs train. Run from this folder.\nset -euo pipefail\n"
                      + "\n".join(commands) + "\n")
    script.chmod(0o755)
    return script


def _maybe_run(folder: Path, script: Path, executables: Sequence[str], run: bool) -> tuple[bool, int | None]:
    if not run or any(shutil.which(exe) is None for exe in executables):
        return False, None
    proc = subprocess.run(["bash", script.name], cwd=folder)
    return True, proc.returncode


ENGINES = ("auto", "mlp", "motep")


class TrainingDataError(ValueError):
    """A training structure is unusable; the message names its index and source file."""


def _motep_available() -> bool:
    try:
        import motep  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_engine(engine: str) -> str:
    """``auto`` → ``mlp`` when MLIP-3 is on PATH, else ``motep``; errors when the choice cannot run."""
    if engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine == "auto":
        if shutil.which("mlp"):
            return "mlp"
        engine = "motep"
    if engine == "motep" and not _motep_available():
        raise RuntimeError(
            "no MTP trainer available: motep is not installed and MLIP-3's `mlp` is not on PATH. "
            "Install motep (`pip install 'eipgs[train]'`, Python >= 3.11) or put `mlp` on PATH; "
            "`--dry-run` writes the inputs without training"
        )
    return engine


def check_training_set(images, sources: Sequence[str], *, min_dist: float | None, elements: Sequence[str]) -> None:
    """Refuse structures a fit cannot use: no or non-finite energy, non-finite forces or positions,
    atoms closer than the template's ``min_dist``, and an element of ``elements`` absent from all."""
    import numpy as np

    from eipgs.mtp.neighbours import neighbour_pairs

    seen = set()
    for k, atoms in enumerate(images):
        where = sources[k]
        results = getattr(atoms.calc, "results", {}) if atoms.calc is not None else {}
        if "energy" not in results or results["energy"] is None:
            raise TrainingDataError(f"{where}: no energy (unlabelled structure); label it or remove it")
        if not np.isfinite(float(results["energy"])):
            raise TrainingDataError(f"{where}: the energy is {results['energy']}")
        forces = results.get("forces")
        if forces is not None and not np.all(np.isfinite(forces)):
            bad = int(np.flatnonzero(~np.all(np.isfinite(forces), axis=1))[0])
            raise TrainingDataError(f"{where}: non-finite force on atom {bad}")
        if not np.all(np.isfinite(atoms.positions)):
            raise TrainingDataError(f"{where}: non-finite positions")
        if min_dist is not None and len(atoms) > 1:
            i, j, D = neighbour_pairs(atoms.positions, atoms.cell[:], atoms.pbc, min_dist)
            if len(i):
                r = np.linalg.norm(D, axis=1)
                p = int(np.argmin(r))
                raise TrainingDataError(
                    f"{where}: atoms {int(i[p])} and {int(j[p])} are {r[p]:.3f} Å apart, closer than the template's "
                    f"min_dist {min_dist:g} Å (lower --min-dist or remove the structure)"
                )
        seen.update(atoms.get_chemical_symbols())
    missing = [e for e in elements if e not in seen]
    if missing:
        raise TrainingDataError(
            f"element(s) {', '.join(missing)} of --elements {' '.join(elements)} occur in no training structure; "
            "their parameters would be undetermined (add such structures or drop the element)"
        )


def _read_training_set(train: Sequence[str | os.PathLike], elements: Sequence[str] | None):
    from eipgs.io.formats import read_structures_from

    images, sources = read_structures_from(train, elements)
    if not images:
        raise TrainingDataError(f"no structures in {', '.join(map(str, train))}")
    if elements is None:
        symbols = sorted({s for a in images for s in a.get_chemical_symbols()})
        if len(symbols) != 1 or symbols[0] == "X":
            raise ValueError("give --elements (the element of MTP species 0, 1, ...) for this training set")
        elements = symbols
    for a in images:
        a.arrays["type"] = np.array([list(elements).index(s) for s in a.get_chemical_symbols()])
    return images, sources, list(elements)


def _initial_potential(level: int | None, init, nspecies: int, *, min_dist: float, max_dist: float,
                       radial_basis_size: int):
    """An untrained potential of our basis (``level``) or the one in ``init`` (trained or not)."""
    from eipgs.io.almtp import read_almtp

    if (level is None) == (init is None):
        raise ValueError("give exactly one of --level L (a fresh template of our basis) or --init POT")
    if level is not None:
        from eipgs.mtp.templates import generate_template

        if not 2 <= level <= 28:
            raise ValueError(f"--level must be between 2 and 28, got {level}")
        if not 0 < min_dist < max_dist:
            raise ValueError(f"need 0 < --min-dist < --cutoff, got {min_dist}, {max_dist}")
        template = generate_template(level)
        pot = template.potential(species_count=nspecies, min_dist=min_dist, max_dist=max_dist,
                                 radial_basis_size=radial_basis_size, potential_name=f"eipgs_level{level}")
        pot.radial_coeffs = None
        return pot
    pot = read_almtp(init, require_trained=False, configurations=False)
    if pot.is_trained and pot.C != nspecies:
        raise ValueError(f"{init}: a trained potential for {pot.C} species cannot be refitted to {nspecies} species; "
                         "start from --level L instead")
    if not pot.is_trained and pot.C != nspecies:
        pot = pot.replace(species_count=nspecies, species_labels=list(range(nspecies)),
                          species_coeffs=np.zeros(nspecies))
    return pot.replace(active_set=None)


class _MotepLog:
    """Routes motep's log records to ``train.log``; follows the optimiser's "loss N: value" lines for the
    progress display and for divergence."""

    PATTERN = re.compile(r"^loss (\d+): (\S+)")

    def __init__(self, path: Path, progress: bool, every: int = 25):
        import logging

        self.logger = logging.getLogger("motep")
        self.file = logging.FileHandler(path, mode="a")
        self.file.setFormatter(logging.Formatter("%(message)s"))
        self.progress = progress
        self.every = every
        self.last: tuple[int, float] | None = None
        self.nonfinite = False
        watcher = logging.Handler()
        watcher.emit = self._watch
        self.watcher = watcher
        self._saved = (self.logger.level, self.logger.propagate)

    def _watch(self, record) -> None:
        m = self.PATTERN.match(record.getMessage())
        if not m:
            return
        step = int(m.group(1))
        try:
            loss = float(m.group(2))
        except ValueError:
            loss = float("nan")
        if loss != loss or loss in (float("inf"), float("-inf")):
            self.nonfinite = True
        self.last = (step, loss)
        if self.progress and (step % self.every == 0):
            print(f"train: step {step}  loss {loss:.6g}", flush=True)

    def __enter__(self):
        import logging

        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.logger.addHandler(self.file)
        self.logger.addHandler(self.watcher)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.file)
        self.logger.removeHandler(self.watcher)
        self.file.close()
        self.logger.setLevel(self._saved[0])
        self.logger.propagate = self._saved[1]


OPTIMIZERS = ("BFGS", "L-BFGS-B")


def _motep_fit(pot, images, elements: Sequence[str], folder: Path, *, weights: Mapping[str, float], iteration_limit: int,
               seed: int, progress: bool, optimizer: str = "BFGS"):
    """Fit ``pot`` with motep on ``images``; return the trained :class:`MTPPotential` (read back from
    motep's own .mtp file, so the two codes meet only through the file format)."""
    import tempfile

    import numpy as np
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.data import atomic_numbers
    from motep.io.mlip.mtp import read_mtp, write_mtp
    from motep.loss import ErrorPrinter, LossFunction, LossSetting
    from motep.optimizers import make_optimizer
    from motep.parallel import DummyMPIComm

    from eipgs.io.almtp import format_mtp_text, read_almtp

    with tempfile.TemporaryDirectory(prefix="eipgs-motep-") as tmp:
        init_path = Path(tmp) / "init.mtp"
        init_path.write_text(format_mtp_text(pot) + "\n")
        data = read_mtp(init_path)
        if not pot.is_trained:
            data.radial_coeffs = None  # motep draws them (seeded) in its first step
        data.species = [atomic_numbers[e] for e in elements]
        fit_images = []
        for atoms in images:
            work = atoms.copy()
            results = {k: v for k, v in atoms.calc.results.items() if k in ("energy", "forces", "stress")}
            if not np.all(work.pbc) or weights["stress_weight"] == 0.0:
                results.pop("stress", None)
            work.calc = SinglePointCalculator(work, **results)
            fit_images.append(work)
        setting = LossSetting(energy_weight=weights["energy_weight"], forces_weight=weights["force_weight"],
                              stress_weight=weights["stress_weight"])
        rng = np.random.default_rng(seed)
        # Serial on purpose: under mpiexec every rank would run this whole command and write OUTDIR.
        loss = LossFunction(fit_images, data, setting, engine="cext", comm=DummyMPIComm())
        steps = [{"method": "LLS"}]
        if iteration_limit > 0:
            options = {"maxiter": iteration_limit}
            if optimizer == "L-BFGS-B":
                options["ftol"] = 1e-15  # scipy's default (2e-9 relative) stops long before MLIP-3's BFGS would
            else:
                options["gtol"] = 1e-10
            steps.append({"method": "minimize", "kwargs": {"method": optimizer, "options": options}})
            steps.append({"method": "LLS"})
        with _MotepLog(folder / "train.log", progress) as log:
            for k, step in enumerate(steps):
                data.initialize(rng)
                stepper = make_optimizer(step["method"])(loss, **step)
                stepper.optimize(**step.get("kwargs", {}))
                loss.broadcast_results()
                value = float(loss(data.parameters))
                log.logger.info("after step %d (%s): loss %s", k, step["method"], value)
                if progress:
                    print(f"train: after {step['method']} loss {value:.6g}", flush=True)
                if not np.isfinite(value) or not np.all(np.isfinite(data.parameters)) or log.nonfinite:
                    raise RuntimeError(
                        f"the fit diverged (loss {value} after step {k} {step['method']}); see {folder / 'train.log'}. "
                        "Check the training data and weights, or start from --level with fewer parameters"
                    )
            ErrorPrinter(loss.images).log(log.logger)
        out = Path(tmp) / "motep.mtp"
        write_mtp(out, data)
        trained = read_almtp(out)
    trained.source = str(folder / "pot.mtp")
    trained.potential_name = pot.potential_name or trained.potential_name
    return trained


def train_mtp(train: Sequence[str | os.PathLike], outdir: str | os.PathLike, *, init: str | os.PathLike | None = None,
              level: int | None = None, elements: Sequence[str] | None = None,
              weights: Mapping[str, float] | None = None, iteration_limit: int = 1000, engine: str = "auto",
              seed: int = 1, min_dist: float = 2.0, max_dist: float = 5.0, radial_basis_size: int = 8,
              mpi: int = 1, run: bool = True, progress: bool = False, extra: Sequence[str] = (),
              optimizer: str = "BFGS") -> TrainPlan:
    """Train an MTP on ``train`` into ``outdir`` (see the module docstring); ``run=False`` writes inputs only.

    Returns the plan: ``folder``, ``engine``, ``ran``, ``structures``, and for a motep fit ``potential``,
    ``almtp``, ``errors`` (training-set errors by our evaluator).
    """
    from eipgs.io.almtp import write_almtp

    folder = Path(outdir)
    if init is not None and not Path(init).is_file():
        raise FileNotFoundError(f"initial potential not found: {init} (give --level L for a fresh template)")
    if iteration_limit < 0:
        raise ValueError(f"--iteration-limit must be >= 0, got {iteration_limit}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, not {optimizer!r}")
    w = dict(MTP_WEIGHTS)
    w.update(weights or {})
    images, sources, elements = _read_training_set(train, list(elements) if elements else None)
    pot = _initial_potential(level, init, len(elements), min_dist=min_dist, max_dist=max_dist,
                             radial_basis_size=radial_basis_size)
    check_training_set(images, sources, min_dist=pot.min_dist, elements=elements)
    chosen = resolve_engine(engine) if run else (engine if engine != "auto" else ("mlp" if shutil.which("mlp") else "motep"))
    folder.mkdir(parents=True, exist_ok=True)
    from eipgs.io.cfg import write_cfg
    from eipgs.io.almtp import format_mtp_text

    write_cfg(folder / "train.cfg", images, no_loss=True)
    plan = TrainPlan(folder=str(folder), engine=chosen, ran=False, returncode=None, structures=len(images), commands=[])
    if chosen == "mlp":
        text = format_mtp_text(pot) + "\n"
        if init is not None and pot.is_trained:
            (folder / "init.almtp").write_bytes(_template_for_species(Path(init).read_bytes(), len(elements), Path(init)))
        else:
            (folder / "init.almtp").write_text(text)
        commands = [mlp_train_command("init.almtp", "train.cfg", "pot.almtp", weights=w,
                                      iteration_limit=iteration_limit, mpi=mpi, extra=extra)]
        plan["commands"] = commands
        script = _write_run_script(folder, commands)
        if not run:
            return plan
        ran, rc = _maybe_run(folder, script, ["mlp"] + (["mpirun"] if mpi > 1 else []), True)
        plan.update(ran=ran, returncode=rc)
        if rc != 0:
            raise RuntimeError(f"mlp train failed with exit status {rc} in {folder}")
        if not (folder / "pot.almtp").is_file():
            raise RuntimeError(f"mlp train exited 0 but wrote no {folder / 'pot.almtp'}")
        return plan
    # motep
    (folder / "init.mtp").write_text(format_mtp_text(pot) + "\n")
    plan["commands"] = [f"(in-process motep fit: LLS, {optimizer} up to {iteration_limit} iterations, LLS; weights "
                        + ", ".join(f"{k}={v:g}" for k, v in w.items()) + ")"]
    if not run:
        return plan
    (folder / "train.log").write_text(
        f"eipgs train mtp --engine motep: {len(images)} structures, {sum(len(a) for a in images)} atoms, elements "
        f"{' '.join(elements)}, m = {pot.m} parameters, weights {w}, iteration limit {iteration_limit}, seed {seed}\n")
    for stale in ("pot.mtp", "pot.almtp"):
        (folder / stale).unlink(missing_ok=True)  # an earlier run's result must not look like this run's
    trained = _motep_fit(pot, images, elements, folder, weights=w, iteration_limit=iteration_limit, seed=seed,
                         progress=progress, optimizer=optimizer)
    write_almtp(folder / "pot.mtp", trained.replace(active_set=None))
    from eipgs.activeset import build_active_set

    aset, _ = build_active_set(trained, images, [a.arrays["type"] for a in images], progress=progress)
    write_almtp(folder / "pot.almtp", trained.replace(active_set=aset))
    from eipgs.evaluate import evaluate, format_summary

    summary, rows = evaluate(trained, images, elements=elements, sources=sources)
    import json

    (folder / "train_errors.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")
    table = format_summary(summary)
    with (folder / "train.log").open("a") as fh:
        fh.write("\ntraining errors (eipgs evaluate):\n" + table + "\n")
    plan.update(ran=True, returncode=0, potential=str(folder / "pot.mtp"), almtp=str(folder / "pot.almtp"),
                errors=summary, table=table, m=trained.m, active_set_filled=int((aset.links[:, 0] >= 0).sum()))
    return plan


def pacemaker_input_yaml(elements: Sequence[str], *, cutoff: float = 5.0, dataset: str = "train.pckl.gzip",
                         test_size: float = 0.05, number_of_functions: int = 700, kappa: float = 0.3,
                         maxiter: int = 2000, seed: int = 42) -> str:
    """pacemaker input: single-species or multi-species B-basis with ``rcut`` = ``cutoff`` for every bond.

    Weights: the pickle written by eipgs carries normalised ``w_energy``/``w_forces`` columns, which
    pacemaker uses as given (``data::ignore_weights`` is False by default).
    """
    elist = ", ".join(elements)
    return f"""# pacemaker input written by eipgs train ace
cutoff: {cutoff:g}  # Å (older pacemaker versions read the global cutoff; newer ones use bonds::rcut)
seed: {seed}
metadata:
  origin: "eipgs train ace"
data:
  filename: {dataset}
  test_size: {test_size:g}
potential:
  deltaSplineBins: 0.001
  elements: [{elist}]
  embeddings:
    ALL: {{npot: FinnisSinclairShiftedScaled, fs_parameters: [1, 1, 1, 0.5], ndensity: 2}}
  bonds:
    ALL: {{radbase: SBessel, radparameters: [5.25], rcut: {cutoff:g}, dcut: 0.01}}
  functions:
    number_of_functions_per_element: {number_of_functions}
    ALL: {{nradmax_by_orders: [15, 6, 4, 3, 2, 2], lmax_by_orders: [0, 3, 3, 2, 2, 1]}}
fit:
  loss: {{kappa: {kappa:g}, L1_coeffs: 1e-8, L2_coeffs: 1e-8}}
  optimizer: BFGS
  maxiter: {maxiter}
  repulsion: auto
backend:
  evaluator: tensorpot
  batch_size: 50
  display_step: 50
"""


def train_ace(train: Sequence[str | os.PathLike], outdir: str | os.PathLike, *, elements: Sequence[str] | None = None,
              e0: Mapping[str, float] | None = None, cutoff: float = 5.0, run: bool = True,
              yaml_options: Mapping[str, object] | None = None, backend: str = "auto") -> TrainPlan:
    """Write ``outdir`` with ``train.pckl.gzip``, ``input.yaml`` and ``run.sh``; with ``run``, fit with pacemaker
    from python-ace and build the ``.asi`` active set (:func:`eipgs.ace.fit`; an error if python-ace is absent)."""
    from eipgs.convert import convert
    from eipgs.io.formats import read_structures

    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    n = convert(list(train), folder / "train.pckl.gzip", elements=elements, e0=e0)
    if elements is None:
        seen = []
        for atoms in read_structures(folder / "train.pckl.gzip"):
            for s in atoms.get_chemical_symbols():
                if s not in seen:
                    seen.append(s)
        elements = sorted(seen)
    (folder / "input.yaml").write_text(pacemaker_input_yaml(list(elements), cutoff=cutoff, **dict(yaml_options or {})))
    commands = [
        "pacemaker input.yaml",
        "pace_activeset -d fitting_data_info.pckl.gzip output_potential.yaml  # active set for extrapolation grades",
    ]
    _write_run_script(folder, commands)
    if not run:
        return TrainPlan(folder=str(folder), commands=commands, ran=False, returncode=None, structures=n)
    from eipgs.ace import fit

    result = fit(folder, list(elements), cutoff=cutoff, backend=backend, yaml_options=yaml_options)
    return TrainPlan(folder=str(folder), commands=commands, ran=True, returncode=0, structures=n, **result)


def ace_active_set(potential_yaml: str | os.PathLike, dataset: Sequence[str | os.PathLike],
                   output: str | os.PathLike | None = None, *, elements: Sequence[str] | None = None,
                   e0: Mapping[str, float] | None = None) -> Path:
    """The ACE extrapolation-grade active set (``.asi``) of ``potential_yaml`` over ``dataset``, by python-ace's
    ``pace_activeset`` (:func:`eipgs.ace.build_active_set`). Returns the ``.asi`` path (default: next to the
    potential)."""
    from eipgs.ace import build_active_set

    return build_active_set(potential_yaml, list(dataset), output, elements=elements, e0=e0)


def _cmd_train(args) -> int:
    from eipgs.io.formats import parse_elements
    from eipgs.io.pacemaker import parse_e0

    elements = parse_elements(args.elements)
    if args.model == "mtp":
        weights = None
        if args.weights:
            weights = dict(zip(("energy_weight", "force_weight", "stress_weight"), args.weights))
        plan = train_mtp(args.train, args.outdir, init=args.init, level=args.level, elements=elements,
                         weights=weights, iteration_limit=args.iteration_limit, engine=args.engine, seed=args.seed,
                         optimizer=args.optimizer,
                         min_dist=args.min_dist, max_dist=args.cutoff, radial_basis_size=args.radial_basis_size,
                         mpi=args.mpi, run=not args.dry_run, progress=not args.quiet)
        if args.dry_run:
            print(f"wrote {plan['folder']} ({plan['structures']} structures; engine {plan['engine']}); not run (--dry-run)")
            for line in plan["commands"]:
                print(f"  {line}")
            return 0
        if plan["engine"] == "mlp":
            print(f"ran {plan['folder']}/run.sh (mlp): wrote {plan['folder']}/pot.almtp")
            return 0
        print(plan["table"])
        print(f"wrote {plan['potential']} and {plan['almtp']} (active set {plan['active_set_filled']}/{plan['m']} rows "
              f"filled), {plan['folder']}/train.log")
        return 0
    plan = train_ace(args.train, args.outdir, elements=elements, e0=parse_e0(args.e0), cutoff=args.cutoff,
                     run=not args.dry_run, backend=args.backend)
    if plan["ran"]:
        print(f"fitted {plan['potential']} (pacemaker, {plan['backend']} evaluator) and its active set "
              f"{plan['active_set']}; log {plan['log']}")
        return 0
    print(f"wrote {plan['folder']} ({plan['structures']} structures); not run (--dry-run). Run there:")
    print(f"  cd {plan['folder']}")
    for line in plan["commands"]:
        print(f"  {line}")
    return 0


def _add_train(sub) -> None:
    from eipgs.ace import BACKENDS

    p = sub.add_parser("train", help="train an MTP (motep or MLIP-3) or an ACE potential (pacemaker from python-ace)")
    tsub = p.add_subparsers(dest="model", metavar="MODEL")
    tsub.required = True
    q = tsub.add_parser("mtp", help="fit an MTP with motep (or MLIP-3 mlp): pot.mtp, pot.almtp with its active set",
                        description="Fit an MTP with the paper's weights (energy 1, force 0.01, stress 0) and build its "
                        "neighbourhood-mode active set. See doc/cli_train.md.")
    q.add_argument("train", nargs="+", metavar="TRAIN", help="labelled training set file(s), any format eipgs reads")
    q.add_argument("-o", "--outdir", required=True, help="output folder")
    q.add_argument("--elements", nargs="+", metavar="EL", help="element of MTP species 0, 1, ... (`W` or `W,Cu`)")
    start = q.add_mutually_exclusive_group(required=True)
    start.add_argument("--level", type=int, help="start from a fresh template of our basis of this level (e.g. 8, 16)")
    start.add_argument("--init", metavar="POT", help="start from this .mtp/.almtp (trained: continue; untrained: template)")
    q.add_argument("--engine", choices=ENGINES, default="auto", help="auto (default): mlp if on PATH, else motep")
    q.add_argument("--iteration-limit", type=int, default=1000, help="BFGS iterations, motep or mlp (default 1000)")
    q.add_argument("--weights", nargs=3, type=float, metavar=("E", "F", "S"), help="energy, force, stress weights (default 1 0.01 0)")
    q.add_argument("--seed", type=int, default=1, help="seed of the initial radial coefficients (motep, default 1)")
    q.add_argument("--optimizer", choices=OPTIMIZERS, default="BFGS", help="motep's scipy optimiser (default BFGS, as MLIP-3)")
    q.add_argument("--min-dist", type=float, default=2.0, help="--level: radial basis min_dist in Å (default 2)")
    q.add_argument("--cutoff", type=float, default=5.0, help="--level: cutoff in Å (default 5, the paper's)")
    q.add_argument("--radial-basis-size", type=int, default=8, help="--level: Chebyshev polynomials per radial function (default 8)")
    q.add_argument("--mpi", type=int, default=1, help="mlp only: run under mpirun -n N (default 1)")
    q.add_argument("--dry-run", action="store_true", help="only write the inputs (train.cfg, init.mtp / run.sh)")
    q.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    q.set_defaults(func=_cmd_train)
    q = tsub.add_parser("ace", help="fit an ACE potential with pacemaker (cutoff 5 Å) and build its .asi active set")
    q.add_argument("train", nargs="+", metavar="TRAIN", help="training set file(s), any format eipgs reads")
    q.add_argument("-o", "--outdir", required=True, help="training folder")
    q.add_argument("--elements", nargs="+", metavar="EL", help="type → element map (`W Cu` or `W,Cu`)")
    q.add_argument("--dry-run", action="store_true", help="only write the folder and print the commands")
    q.add_argument("--cutoff", type=float, default=5.0, help="radial cutoff in Å (default 5, the paper's)")
    q.add_argument("--e0", action="append", metavar="EL=EV", help="reference energies for energy_corrected")
    q.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="pacemaker's evaluator: tensorpot (TensorFlow) if usable, else pyace (scipy, CPU) (default auto)")
    q.set_defaults(func=_cmd_train)

"""Training launchers (``eipgs train mtp|ace``): write the exact inputs and commands, run them if possible.

- MTP (MLIP-3): ``mlp train init.almtp train.cfg --save_to=pot.almtp`` with the paper's weights (energy 1,
  force 0.01, stress 0; pcc-method.md "Parameters") and ``--al_mode=nbh``, because the eipgs grade fixes
  need a neighbourhood-mode active set (mtp-grade.md §3.2).
- ACE (pacemaker): ``input.yaml`` with a 5 Å cutoff and the dataset as a pacemaker pickle, then
  ``pace_activeset`` for the extrapolation-grade active set.

Each launcher writes its folder (training set in the code's format, inputs, ``run.sh``) and runs
``run.sh`` only when the executable is on PATH and ``run`` is requested; otherwise it returns the
commands so they can be run elsewhere.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Mapping, Sequence

__all__ = ["MTP_WEIGHTS", "train_mtp", "train_ace", "pacemaker_input_yaml", "mlp_train_command", "TrainPlan"]

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
    (mtp-grade.md §4) and is copied byte for byte.
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


def train_mtp(train: Sequence[str | os.PathLike], outdir: str | os.PathLike, *, init: str | os.PathLike,
              elements: Sequence[str] | None = None, weights: Mapping[str, float] | None = None,
              iteration_limit: int = 1000, mpi: int = 1, run: bool = True, extra: Sequence[str] = ()) -> TrainPlan:
    """Write ``outdir`` with ``train.cfg``, ``init.almtp`` and ``run.sh`` (``mlp train``); run it if possible."""
    from eipgs.io.formats import read_structures

    folder = Path(outdir)
    folder.mkdir(parents=True, exist_ok=True)
    init = Path(init)
    if not init.is_file():
        raise FileNotFoundError(
            f"initial potential not found: {init} (use an MLIP-3 template such as MTP_templates/16.almtp, "
            "or a previous .almtp to continue from)"
        )
    n = _prepare_training_set(train, folder / "train.cfg", elements)
    nspecies = len(elements) if elements else len({int(t) for a in read_structures(folder / "train.cfg")
                                                   for t in a.arrays["type"]})
    (folder / "init.almtp").write_bytes(_template_for_species(init.read_bytes(), nspecies, init))
    w = dict(MTP_WEIGHTS)
    w.update(weights or {})
    commands = [mlp_train_command("init.almtp", "train.cfg", "pot.almtp", weights=w,
                                  iteration_limit=iteration_limit, mpi=mpi, extra=extra)]
    script = _write_run_script(folder, commands)
    ran, rc = _maybe_run(folder, script, ["mlp"] + (["mpirun"] if mpi > 1 else []), run)
    return TrainPlan(folder=str(folder), commands=commands, ran=ran, returncode=rc, structures=n)


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

# SPDX-License-Identifier: GPL-2.0-only
"""ACE potentials with pacemaker from pip (``python-ace``): fits and their extrapolation-grade active sets.

``python-ace`` (PyPI, a binary wheel) installs ``pyace`` and the ``pacemaker`` / ``pace_activeset``
commands. pacemaker fits with one of two evaluators (``backend::evaluator`` in ``input.yaml``):

- ``tensorpot``: ``tensorpotential`` + TensorFlow, pacemaker's default and the fast one; not part of
  python-ace, several GB with the CUDA libraries pip pulls in (doc/pacemaker.md);
- ``pyace``: python-ace's own C++ evaluator driven by scipy's optimiser. Slower, CPU only, but it needs
  nothing beyond python-ace, so a fit always runs where pyace imports.

``backend="auto"`` takes ``tensorpot`` when it is usable and ``pyace`` otherwise. The active set
(``.asi``, MaxVol over the per-atom B-projections) is always built by python-ace's own
``pace_activeset``, so that its grades are exactly those pyace, LAMMPS ``pair_style pace`` and
pacemaker's tools compute.

pacemaker and pace_activeset are run as ``python -m pyace.cli.<tool>`` with this interpreter, so the
installation checked here is the one that runs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = [
    "AceError",
    "BACKENDS",
    "PIP_PYACE",
    "PIP_TENSORPOT",
    "pyace_available",
    "tensorpot_problem",
    "resolve_backend",
    "write_input",
    "run_pacemaker",
    "build_active_set",
    "grades",
    "fit",
]

BACKENDS = ("auto", "tensorpot", "pyace")
PIP_PYACE = "pip install python-ace   (or: pip install 'eipgs[train]')"
# tensorpotential 0.6.2.1's pacemaker compatibility layer calls float() on 1-element arrays, which
# NumPy 2.4 refuses (TypeError in fitmetrics.to_FitMetricsDict): hence the NumPy cap.
PIP_TENSORPOT = "pip install tensorpotential 'numpy<2.4'"
POTENTIAL = "output_potential.yaml"
FITTING_DATA = "fitting_data_info.pckl.gzip"
_ITERATION = re.compile(r"Iteration\s+#(\d+).*?Loss:\s*([-+0-9.eE]+)")


class AceError(RuntimeError):
    """pacemaker or pace_activeset cannot run or failed; the message names the missing piece or the log."""


def pyace_available() -> bool:
    return importlib.util.find_spec("pyace") is not None


def _require_pyace(what: str) -> None:
    if not pyace_available():
        raise AceError(f"{what} needs python-ace (pyace, pacemaker, pace_activeset), which is not installed: {PIP_PYACE}")


def tensorpot_problem() -> str | None:
    """Why pacemaker's ``tensorpot`` evaluator cannot fit in this interpreter, or None when it can."""
    for module, package in (("tensorpotential", "tensorpotential"), ("tensorflow", "tensorflow")):
        if importlib.util.find_spec(module) is None:
            return f"`{package}` is not installed ({PIP_TENSORPOT})"
    try:
        float(np.ones(1))
    except TypeError:
        return (f"NumPy {np.__version__} refuses float() of 1-element arrays, which tensorpotential's pacemaker "
                f"layer needs ({PIP_TENSORPOT})")
    return None


def resolve_backend(backend: str = "auto") -> str:
    """``auto`` → ``tensorpot`` if usable, else ``pyace``; an explicit ``tensorpot`` that cannot run is an error."""
    if backend not in BACKENDS:
        raise ValueError(f"ACE backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "pyace":
        return backend
    problem = tensorpot_problem()
    if backend == "tensorpot" and problem:
        raise AceError(f"pacemaker's tensorpot evaluator cannot run: {problem}; or use the pyace evaluator "
                       "(backend='pyace': scipy, CPU only, slower)")
    return "pyace" if problem else "tensorpot"


def write_input(folder: str | os.PathLike, elements: Sequence[str], *, cutoff: float = 5.0, backend: str = "tensorpot",
                dataset: str = "train.pckl.gzip", yaml_options: Mapping[str, object] | None = None) -> Path:
    """``input.yaml`` from :func:`eipgs.train.pacemaker_input_yaml` with ``backend::evaluator`` = ``backend``.

    ``test_size: 0`` is left out of the file: pacemaker 0.4.0rc1 crashes on it (UnboundLocalError in
    train_test_split), and no line means no test set.
    """
    from eipgs.train import pacemaker_input_yaml

    if backend not in ("tensorpot", "pyace"):
        raise ValueError(f"evaluator {backend!r}: expected tensorpot or pyace (resolve 'auto' first)")
    text = pacemaker_input_yaml(list(elements), cutoff=cutoff, dataset=dataset, **dict(yaml_options or {}))
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("evaluator:"):
            line = line[: len(line) - len(line.lstrip())] + f"evaluator: {backend}"
        if stripped.startswith("test_size:") and float(stripped.split(":", 1)[1].split("#")[0]) == 0.0:
            continue
        lines.append(line)
    path = Path(folder) / "input.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _maxiter(input_yaml: Path) -> int | None:
    m = re.search(r"^\s*maxiter:\s*(\d+)", input_yaml.read_text(), re.M)
    return int(m.group(1)) if m else None


def _tail(path: Path, n: int = 25) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
    return "\n".join(lines[-n:])


def run_pacemaker(folder: str | os.PathLike, *, input_yaml: str = "input.yaml", log: str = "train.log",
                  progress: bool = True) -> Path:
    """Run ``pacemaker input.yaml`` in ``folder`` with a progress bar (iteration, loss); return the potential.

    Everything pacemaker prints goes to ``folder/log``. A non-zero exit or a missing
    ``output_potential.yaml`` is an :class:`AceError` quoting the end of the log.
    """
    from tqdm import tqdm

    _require_pyace("fitting an ACE potential")
    folder = Path(folder)
    if not (folder / input_yaml).is_file():
        raise FileNotFoundError(f"pacemaker input not found: {folder / input_yaml}")
    potential = folder / POTENTIAL
    if potential.exists():
        potential.unlink()  # a stale potential from an earlier run must not pass for this run's result
    log_path = folder / log
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    bar = tqdm(total=_maxiter(folder / input_yaml), desc="pacemaker", unit="it", disable=not progress)
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "pyace.cli.pacemaker", input_yaml], cwd=folder, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        try:
            seen = 0
            for line in proc.stdout:
                log_file.write(line)
                m = _ITERATION.search(line)
                if m:  # pacemaker may log an iteration twice (two log handlers): count each once
                    it = int(m.group(1))
                    if it > seen:
                        bar.update(it - seen)
                        seen = it
                    bar.set_postfix(loss=m.group(2))
            rc = proc.wait()
        except BaseException:
            proc.kill()  # an interrupted fit leaves no output_potential.yaml behind (removed above)
            proc.wait()
            raise
        finally:
            bar.close()
    if rc != 0 or not potential.is_file():
        raise AceError(f"pacemaker failed in {folder} (exit status {rc}); last lines of {log_path}:\n{_tail(log_path)}")
    return potential


def _as_pacemaker_pickle(data: str | os.PathLike, workdir: Path, k: int, elements, e0) -> Path:
    from eipgs.convert import convert

    data = Path(data)
    if data.name.endswith((".pckl.gzip", ".pkl.gz")):
        return data.resolve()
    out = workdir / f"data{k}.pckl.gzip"
    convert([data], out, elements=elements, e0=e0)
    return out


def build_active_set(potential_yaml: str | os.PathLike, datasets: Sequence[str | os.PathLike] | str | os.PathLike,
                     output: str | os.PathLike | None = None, *, all_atoms: bool = False, gamma_tolerance: float = 1.01,
                     elements: Sequence[str] | None = None, e0: Mapping[str, float] | None = None,
                     log: str | os.PathLike | None = None) -> Path:
    """The ``.asi`` active set of an ACE B-basis potential (``.yaml``) by python-ace's ``pace_activeset``.

    ``datasets``: pacemaker pickles (pacemaker's ``fitting_data_info.pckl.gzip``) or any file eipgs reads
    (converted to a pickle first). ``all_atoms=False`` is pace_activeset's default: atoms whose force
    error is an outlier (above Q3 + 1.5 IQR) are left out, so that badly fitted neighbourhoods keep a
    high grade; that needs reference forces and a fitted model. ``all_atoms=True`` takes every atom
    (for an unfitted model, or grades as pure novelty). Returns ``output`` (default: the potential with
    ``.asi``).
    """
    _require_pyace("building an ACE active set")
    potential_yaml = Path(potential_yaml)
    if not potential_yaml.is_file():
        raise FileNotFoundError(f"ACE potential not found: {potential_yaml}")
    if potential_yaml.suffix != ".yaml":
        raise ValueError(f"{potential_yaml}: pace_activeset needs the B-basis .yaml potential (not .yace/.ace)")
    if isinstance(datasets, (str, os.PathLike)):
        datasets = [datasets]
    if not datasets:
        raise ValueError("build_active_set: no dataset given")
    out = Path(output) if output else potential_yaml.with_suffix(".asi")
    with tempfile.TemporaryDirectory(prefix="eipgs-ace-") as tmp:
        tmp_path = Path(tmp)
        pickles = [_as_pacemaker_pickle(d, tmp_path, k, elements, e0) for k, d in enumerate(datasets)]
        # pace_activeset writes NAME.asi next to NAME.yaml: work on a copy so a failed run leaves nothing half-written.
        work = tmp_path / "potential.yaml"
        shutil.copyfile(potential_yaml, work)
        cmd = [sys.executable, "-m", "pyace.cli.pace_activeset", work.name, "-g", f"{gamma_tolerance:g}"]
        for p in pickles:
            cmd += ["-d", str(p)]
        if all_atoms:
            cmd.append("--all-atoms")
        proc = subprocess.run(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        if log is not None:
            Path(log).write_text(proc.stdout)
        produced = tmp_path / "potential.asi"
        if proc.returncode != 0 or not produced.is_file():
            tail = "\n".join(proc.stdout.splitlines()[-20:])
            raise AceError(f"pace_activeset failed on {potential_yaml} (exit status {proc.returncode}):\n{tail}")
        part = out.with_name(f".{out.name}.part")
        shutil.copyfile(produced, part)
        os.replace(part, out)
    return out


def grades(potential_yaml: str | os.PathLike, active_set: str | os.PathLike, structures) -> list[np.ndarray]:
    """Per-atom extrapolation grades γ of each structure, by pyace's ASE calculator with the ``.asi`` loaded."""
    _require_pyace("ACE extrapolation grades")
    from pyace import PyACECalculator

    calc = PyACECalculator(str(potential_yaml))
    calc.set_active_set(str(active_set))
    out = []
    for atoms in structures:
        work = atoms.copy()
        work.calc = calc
        work.get_potential_energy()
        out.append(np.array(calc.results["gamma"], dtype=float))
    return out


def fit(folder: str | os.PathLike, elements: Sequence[str], *, cutoff: float = 5.0, backend: str = "auto",
        yaml_options: Mapping[str, object] | None = None, all_atoms: bool = False, progress: bool = True,
        message: Callable[[str], None] | None = print) -> dict:
    """Fit ``folder/train.pckl.gzip`` with pacemaker and build the active set; the folder must hold the data.

    Returns ``{"backend", "potential", "active_set", "log"}``. Writes ``input.yaml`` (evaluator set to
    the resolved backend), ``train.log`` (pacemaker), ``output_potential.yaml`` and
    ``output_potential.asi`` (pace_activeset over pacemaker's ``fitting_data_info.pckl.gzip``; its log
    in ``activeset.log``).
    """
    _require_pyace("eipgs train ace")
    folder = Path(folder)
    chosen = resolve_backend(backend)
    if backend == "auto" and chosen == "pyace" and message:
        message(f"eipgs train ace: tensorpot evaluator unavailable ({tensorpot_problem()}); "
                "fitting with pacemaker's pyace evaluator (scipy, CPU only, slower)")
    write_input(folder, elements, cutoff=cutoff, backend=chosen, yaml_options=yaml_options)
    potential = run_pacemaker(folder, progress=progress)
    data = folder / FITTING_DATA
    if not data.is_file():
        raise AceError(f"pacemaker finished without {data}; cannot build the active set")
    asi = build_active_set(potential, [data], all_atoms=all_atoms, log=folder / "activeset.log")
    return {"backend": chosen, "potential": potential, "active_set": asi, "log": folder / "train.log"}

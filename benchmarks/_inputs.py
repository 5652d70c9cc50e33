# SPDX-License-Identifier: GPL-2.0-only
"""Inputs shared by the benchmarks: the W potentials and a test structure.

The third-party reference folder is used where present ($EIPGS_REFERENCE_DIR, else
../shared/reference beside the clone), so numbers stay comparable with earlier runs; otherwise the
same kinds of files are generated from the repository alone (the Zhou04 W EAM, an `eipgs bootstrap`
W MTP at the default level 16, a bcc W crystal with a vacancy), and the benchmark says so.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    env = os.environ.get("EIPGS_REFERENCE_DIR")
    return Path(env).expanduser() if env else REPO.parent / "shared" / "reference"


def w_potentials(reference: Path | None, workdir: Path) -> tuple[Path, Path]:
    """(W EAM setfl file, W .almtp with an active set): the reference ones if both exist, else
    generated into ``workdir``."""
    folder = reference or reference_dir()
    eam, almtp = folder / "W_Zhou04.eam.alloy", folder / "W-mlip3-basic.almtp"
    if eam.is_file() and almtp.is_file():
        return eam, almtp
    from eipgs.bootstrap import bootstrap
    from eipgs.potentials.zhou04 import write_eam_alloy

    print(f"no reference W files in {folder}: generating the Zhou04 EAM and a bootstrap MTP in {workdir}")
    eam = write_eam_alloy(["W"], Path(workdir) / "W_Zhou04.eam.alloy")
    almtp = bootstrap(["W"], Path(workdir) / "W-bootstrap.almtp").potential_path
    return Path(eam), Path(almtp)


def w_structure(reference: Path | None, workdir: Path) -> Path:
    """A LAMMPS data file of about 1000 W atoms: the reference ``grades/v1.data`` if present, else
    a thermally rattled 8x8x8 bcc crystal with a vacancy (1023 atoms)."""
    data = (reference or reference_dir()) / "grades" / "v1.data"
    if data.is_file():
        return data
    import numpy as np
    from ase.build import bulk

    from eipgs.io.lammps import write_lammps_data

    atoms = bulk("W", "bcc", a=3.16485, cubic=True).repeat((8, 8, 8))
    del atoms[100]
    atoms.positions += np.random.default_rng(1).normal(scale=0.07, size=atoms.positions.shape)
    path = Path(workdir) / "W_bcc_vacancy.data"
    write_lammps_data(path, atoms, elements=["W"])
    return path

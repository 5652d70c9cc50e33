# SPDX-License-Identifier: GPL-2.0-only
"""File formats: one module per format. Readers return ASE ``Atoms``; writers accept them.

:func:`read_structures` / :func:`write_structures` (eipgs.io.formats) are the entry points every command
uses, with the format from the file name; :func:`atomic_write` is how every writer publishes a file.
"""

from eipgs.io.atomic import atomic_path, atomic_write
from eipgs.io.almtp import ActiveSetData, AlmtpFormatError, MTPPotential, read_almtp, write_almtp
from eipgs.io.cfg import CfgFormatError, read_cfg, write_cfg
from eipgs.io.formats import detect_format, parse_elements, read_structures, write_structures
from eipgs.io.lammps import LammpsFormatError, read_lammps_data, read_lammps_dump, write_lammps_data

__all__ = [
    "read_structures",
    "write_structures",
    "detect_format",
    "parse_elements",
    "atomic_write",
    "atomic_path",
    "read_cfg",
    "write_cfg",
    "CfgFormatError",
    "read_almtp",
    "write_almtp",
    "MTPPotential",
    "ActiveSetData",
    "AlmtpFormatError",
    "read_lammps_data",
    "read_lammps_dump",
    "write_lammps_data",
    "LammpsFormatError",
]

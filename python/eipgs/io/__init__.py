"""File formats: one module per format. Readers return ASE ``Atoms``; writers accept them."""

from eipgs.io.almtp import ActiveSetData, AlmtpFormatError, MTPPotential, read_almtp, write_almtp
from eipgs.io.cfg import CfgFormatError, read_cfg, write_cfg
from eipgs.io.lammps import LammpsFormatError, read_lammps_data, read_lammps_dump, write_lammps_data

__all__ = [
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

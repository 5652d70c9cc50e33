"""File formats: one module per format. Readers return ASE ``Atoms``; writers accept them."""

from eipgs.io.cfg import read_cfg, write_cfg

__all__ = ["read_cfg", "write_cfg"]

# SPDX-License-Identifier: GPL-2.0-only
"""Periodic configuration construction (PCC): clusters → periodic cells around a frozen core.

``reconstruct`` turns ASE Atoms clusters into cells (no files); ``pcc`` is its file/CLI wrapper;
``fill_cell``/``fill_box`` run one cell with ``fix gcmc/pcc`` and relaxation (doc/design/pcc.md §12).
"""

from eipgs.pcc.cell import BoxResult, FillSettings, fill_box, fill_cell
from eipgs.pcc.cluster import ClusterError, cut_core, find_center, read_clusters
from eipgs.pcc.cna import adaptive_cna, bulk_fraction
from eipgs.pcc.driver import PccResult, PccSettings, box_grid, pcc, reconstruct
from eipgs.pcc.lattice import LatticeFit, fit_lattice

__all__ = ["BoxResult", "ClusterError", "FillSettings", "LatticeFit", "PccResult", "PccSettings", "adaptive_cna",
           "box_grid", "bulk_fraction", "cut_core", "fill_box", "fill_cell", "find_center", "fit_lattice", "pcc",
           "read_clusters", "reconstruct"]

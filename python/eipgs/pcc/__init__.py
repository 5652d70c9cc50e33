"""Periodic configuration construction (PCC): clusters → periodic cells around a frozen core.

``fill_box`` runs one box with ``fix gcmc/pcc`` and relaxation; ``pcc`` runs the grid of boxes for
every cluster of a file and keeps the lowest-energy valid cell (pcc-method.md §12).
"""

from eipgs.pcc.cell import BoxResult, FillSettings, fill_box
from eipgs.pcc.cluster import cut_core, find_center, read_clusters
from eipgs.pcc.driver import PccSettings, box_grid, pcc

__all__ = ["BoxResult", "FillSettings", "PccSettings", "box_grid", "cut_core", "fill_box", "find_center", "pcc", "read_clusters"]

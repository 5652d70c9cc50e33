# SPDX-License-Identifier: GPL-2.0-only
"""eipgs: EIP-guided sampling of extended-defect environments for MLIP training data.

Shuang et al., npj Comput. Mater. 11, 118 (2025): a classical potential drives large MD runs,
the MLIP-3 extrapolation grade of a moment tensor potential is evaluated live on every atom,
new environments are cut out as clusters, rebuilt into periodic cells and sent to DFT.
"""

__version__ = "0.1.0"

from eipgs.lmp import get_plugin_dir, get_plugin_path

__all__ = ["__version__", "get_plugin_dir", "get_plugin_path"]

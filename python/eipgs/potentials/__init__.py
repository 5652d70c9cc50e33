# SPDX-License-Identifier: GPL-2.0-only
"""Classical potentials eipgs can generate, so that examples and tests need no downloads."""

from eipgs.potentials.zhou04 import supported_elements, write_eam_alloy, zhou04_eam_file

__all__ = ["supported_elements", "write_eam_alloy", "zhou04_eam_file"]

# SPDX-License-Identifier: GPL-2.0-only
"""DFT inputs for sampled structures: VASP (:mod:`eipgs.dft.vasp`) and Quantum ESPRESSO (:mod:`eipgs.dft.qe`)."""

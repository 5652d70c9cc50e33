# SPDX-License-Identifier: GPL-2.0-only
"""Structure builders for the sampling decks: ``eipgs build polycrystal|slab|dislocation|crack``.

One module per builder (``eipgs.build.polycrystal.polycrystal``, ``.slab.slab``,
``.dislocation.screw_dislocation``, ``.crack.crack``); each returns an ASE ``Atoms`` (with per-atom ``type`` where the decks need
more than one LAMMPS type) and the CLI writes it as a LAMMPS data file (``eipgs.io.lammps``).
The lattice constant and cubic elastic constants default to those of the Zhou 2004 EAM for W that
``eipgs potential zhou04 W`` writes (doc/design/zhou04.md §6).
"""

from __future__ import annotations

W_LATTICE_CONSTANT = 3.16485  # Å, bcc W with the Zhou04 file at 0 K
# GPa, C11, C12, C44 of bcc W with the generated Zhou04 file (finite strains of ±1e-4 in LAMMPS, see
# tests/test_build_structures.py); Zener ratio 2 C44 / (C11 - C12) = 1.01: nearly isotropic.
W_ELASTIC_CONSTANTS = (522.5, 204.2, 160.8)

# SPDX-License-Identifier: GPL-2.0-only
"""Figures of PCC results: the reconstructed cell (core vs inserted atoms)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms


def plot_cell(atoms: Atoms, path: str | Path, cutoff: float | None = None) -> Path:
    """3D view of a PCC cell: core atoms blue, inserted atoms orange, the centre black, cell edges grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    core = np.asarray(atoms.arrays["core"], dtype=bool)
    pos = atoms.positions
    fig = plt.figure(figsize=(5.5, 5))
    ax = fig.add_subplot(projection="3d")
    ax.scatter(*pos[core].T, s=60, c="tab:blue", edgecolors="k", linewidths=0.3, label=f"core ({core.sum()})")
    ax.scatter(*pos[~core].T, s=60, c="tab:orange", edgecolors="k", linewidths=0.3,
               label=f"inserted ({(~core).sum()})")
    center = int(atoms.info.get("center_index", 0))
    ax.scatter(*pos[center], s=120, c="k", label="centre")
    cell = np.asarray(atoms.cell)
    index = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    corners = index @ cell
    for a in range(8):
        for b in range(a + 1, 8):
            if np.count_nonzero(index[a] != index[b]) == 1:  # an edge of the (possibly triclinic) cell
                ax.plot(*np.array([corners[a], corners[b]]).T, c="0.6", lw=0.8)
    title = f"{len(atoms)} atoms"
    if "pe_per_atom" in atoms.info:
        title += f", pe/atom {float(atoms.info['pe_per_atom']):.3f} eV"
    ax.set_title(title)
    ax.set_xlabel("x (Å)")
    ax.set_ylabel("y (Å)")
    ax.set_zlabel("z (Å)")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

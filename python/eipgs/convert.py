# SPDX-License-Identifier: GPL-2.0-only
"""``eipgs convert IN... -o OUT``: any structure format to any other (see :mod:`eipgs.io.formats`)."""

from __future__ import annotations

import os
from typing import Sequence

from eipgs.io.formats import TYPE_ONLY_FORMATS, detect_format, read_structures, write_structures

__all__ = ["convert"]


def convert(inputs: Sequence[str | os.PathLike] | str | os.PathLike, output: str | os.PathLike, *,
            elements: Sequence[str] | None = None, no_loss: bool = True, e0=None) -> int:
    """Read every structure of ``inputs`` and write them to ``output``; returns the number written.

    Energies, forces, stress, features (cfg ``Feature`` lines, extxyz/pacemaker ``features``) and per-atom
    arrays go along wherever the target format can hold them. The type → element map ``elements`` is
    required when a type-only input (cfg, LAMMPS) goes to a format with chemical symbols.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    out_fmt = detect_format(output)
    needs_symbols = out_fmt not in TYPE_ONLY_FORMATS
    images = []
    for path in inputs:
        images += read_structures(path, elements=elements, require_symbols=needs_symbols)
    if not images:
        raise ValueError(f"no structures in {', '.join(map(str, inputs))}")
    from eipgs.io.atomic import same_file

    for path in inputs:
        if same_file(output, path):
            raise ValueError(f"-o {output} is the input {path}: refusing to overwrite it; choose another output name")
    return write_structures(output, images, elements=elements, no_loss=no_loss, e0=e0)

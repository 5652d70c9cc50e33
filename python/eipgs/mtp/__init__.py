# SPDX-License-Identifier: GPL-2.0-only
"""NumPy MTP evaluator (site energies, parameter gradient, grades) and MaxVol: the independent
Python reference for the C++ core in plugin/mtp (doc/design/mtp.md)."""

from eipgs.mtp.evaluator import MTPEvaluator, SiteResult, radial_basis
from eipgs.mtp.grading import ConfigurationResult, evaluate_configuration, grade_atoms, grade_rows, species_for_types
from eipgs.mtp.maxvol import MaxVol
from eipgs.mtp.neighbours import neighbour_pairs

__all__ = [
    "MTPEvaluator",
    "SiteResult",
    "radial_basis",
    "ConfigurationResult",
    "evaluate_configuration",
    "grade_atoms",
    "grade_rows",
    "species_for_types",
    "MaxVol",
    "neighbour_pairs",
]

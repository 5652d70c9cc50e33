# SPDX-License-Identifier: GPL-2.0-only
"""Zhou–Johnson–Wadley 2004 EAM potentials, tabulated as LAMMPS ``eam/alloy`` (setfl) files.

X. W. Zhou, R. A. Johnson, H. N. G. Wadley, Phys. Rev. B 69, 144113 (2004). The functional forms
(doc/design/zhou04.md §1), the alloy cross pair rule (§2), the 16-element parameter table (§4) and the
tabulation rules of the LAMMPS EAM database tool, NIST "Zhou04_create_v2" revision (§5), are
implemented from the formulas. The generated W file reproduces the NIST/LAMMPS
``W_Zhou04.eam.alloy`` digit for digit except one value in the 16th digit.

Chromium (Lin, Johnson & Zhigilei, Phys. Rev. B 77, 214108 (2008)) is offered as an extra, as
in the tool's Python database; it is not part of the 2004 paper.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

CITATION = "X. W. Zhou, R. A. Johnson, H. N. G. Wadley, Phys. Rev. B, 69, 144113(2004)"
CR_CITATION = "Cr: X. W. Lin, R. A. Johnson, L. V. Zhigilei, Phys. Rev. B, 77, 214108(2008)"

# Tabulation constants of the database tool (doc/design/zhou04.md §5).
R_CLAMP = 0.5  # Å: f and φ are evaluated at 0.5 Å below it
RHO_MAX_FLOOR = 100.0
N_GRID_DEFAULT = 2000


@dataclass(frozen=True)
class Zhou04Element:
    """The 27 values of one element in the order of the tool's ``EAM_code`` (doc/design/zhou04.md §3)."""

    re: float
    fe: float
    rhoe: float
    rhos: float
    alpha: float
    beta: float
    A: float
    B: float
    kappa: float  # "cai"
    lam: float  # "ramda"
    Fn0: float
    Fn1: float
    Fn2: float
    Fn3: float
    F0: float
    F1: float
    F2: float
    F3: float  # cubic coefficient for rho_n <= rho < rho_e
    eta: float  # "fnn"
    Fe: float  # "Fn"
    Z: int
    mass: float
    F3_above: float  # "Fm4": cubic coefficient for rho_e <= rho < rho_0
    beta1: float
    lam1: float  # "ramda1"
    rhol: float  # rho_n / rho_e
    rhoh: float  # rho_0 / rho_e

    @property
    def lattice_parameter(self) -> float:
        """The tool's nominal fcc lattice constant blat = √2·r_e (written to the setfl header)."""
        return math.sqrt(2.0) * self.re

    @property
    def rho_n(self) -> float:
        return self.rhol * self.rhoe

    @property
    def rho_0(self) -> float:
        return self.rhoh * self.rhoe


def _element(*values: float) -> Zhou04Element:
    if len(values) != 27:
        raise AssertionError(f"a Zhou04 element needs 27 values, got {len(values)}")
    kwargs = {f.name: v for f, v in zip(fields(Zhou04Element), values)}
    kwargs["Z"] = int(kwargs["Z"])
    return Zhou04Element(**kwargs)


# doc/design/zhou04.md §4, columns 1–27 of EAM_code, in the paper's element order.
ZHOU04_PARAMETERS: dict[str, Zhou04Element] = {
    "Cu": _element(2.556162, 1.554485, 21.175871, 21.175395, 8.127620, 4.334731, 0.396620, 0.548085, 0.308782, 0.756515,
                   -2.170269, -0.263788, 1.088878, -0.817603, -2.19, 0.00, 0.561830, -2.100595, 0.310490, -2.186568,
                   29, 63.546, -2.100595, 4.334731, 0.756515, 0.85, 1.15),
    "Ag": _element(2.891814, 1.106232, 14.604100, 14.604144, 9.132010, 4.870405, 0.277758, 0.419611, 0.339710, 0.750758,
                   -1.729364, -0.255882, 0.912050, -0.561432, -1.75, 0.00, 0.744561, -1.150650, 0.783924, -1.748423,
                   47, 107.8682, -1.150650, 4.870405, 0.750758, 0.85, 1.15),
    "Au": _element(2.885034, 1.529021, 19.991632, 19.991509, 9.516052, 5.075228, 0.229762, 0.356666, 0.356570, 0.748798,
                   -2.937772, -0.500288, 1.601954, -0.835530, -2.98, 0.00, 1.706587, -1.134778, 1.021095, -2.978815,
                   79, 196.96654, -1.134778, 5.075228, 0.748798, 0.85, 1.15),
    "Ni": _element(2.488746, 2.007018, 27.562015, 27.562031, 8.383453, 4.471175, 0.429046, 0.633531, 0.443599, 0.820658,
                   -2.693513, -0.076445, 0.241442, -2.375626, -2.70, 0.00, 0.265390, -0.152856, 0.445470, -2.7,
                   28, 58.6934, -0.152856, 4.471175, 0.820658, 0.85, 1.15),
    "Pd": _element(2.750897, 1.595417, 21.335246, 21.940073, 8.697397, 4.638612, 0.406763, 0.598880, 0.397263, 0.754799,
                   -2.321006, -0.473983, 1.615343, -0.231681, -2.36, 0.00, 1.481742, -1.675615, 1.130000, -2.352753,
                   46, 106.42, -1.675615, 4.638612, 0.754799, 0.85, 1.15),
    "Pt": _element(2.771916, 2.336509, 33.367564, 35.205357, 7.105782, 3.789750, 0.556398, 0.696037, 0.385255, 0.770510,
                   -1.455568, -2.149952, 0.528491, 1.222875, -4.17, 0.00, 3.010561, -2.420128, 1.450000, -4.145597,
                   78, 195.08, -2.420128, 3.789750, 0.770510, 0.25, 1.15),
    "Al": _element(2.863924, 1.403115, 20.418205, 23.195740, 6.613165, 3.527021, 0.314873, 0.365551, 0.379846, 0.759692,
                   -2.807602, -0.301435, 1.258562, -1.247604, -2.83, 0.00, 0.622245, -2.488244, 0.785902, -2.824528,
                   13, 26.981539, -2.488244, 3.527021, 0.759692, 0.85, 1.15),
    "Pb": _element(3.499723, 0.647872, 8.450154, 8.450063, 9.121799, 5.212457, 0.161219, 0.236884, 0.250805, 0.764955,
                   -1.422370, -0.210107, 0.682886, -0.529378, -1.44, 0.00, 0.702726, -0.538766, 0.935380, -1.439436,
                   82, 207.2, -0.538766, 5.212457, 0.764955, 0.85, 1.15),
    "Fe": _element(2.481987, 1.885957, 20.041463, 20.041463, 9.818270, 5.236411, 0.392811, 0.646243, 0.170306, 0.340613,
                   -2.534992, -0.059605, 0.193065, -2.282322, -2.54, 0.00, 0.200269, -0.148770, 0.391750, -2.539945,
                   26, 55.847, -0.148770, 5.236411, 0.340613, 0.85, 1.15),
    "Mo": _element(2.728100, 2.723710, 29.354065, 29.354065, 8.393531, 4.476550, 0.708787, 1.120373, 0.137640, 0.275280,
                   -3.692913, -0.178812, 0.380450, -3.133650, -3.71, 0.00, 0.875874, 0.776222, 0.790879, -3.712093,
                   42, 95.94, 0.776222, 4.476550, 0.275280, 0.85, 1.15),
    "Ta": _element(2.860082, 3.086341, 33.787168, 33.787168, 8.489528, 4.527748, 0.611679, 1.032101, 0.176977, 0.353954,
                   -5.103845, -0.405524, 1.112997, -3.585325, -5.14, 0.00, 1.640098, 0.221375, 0.848843, -5.141526,
                   73, 180.9479, 0.221375, 4.527748, 0.353954, 0.85, 1.15),
    "W": _element(2.740840, 3.487340, 37.234847, 37.234847, 8.900114, 4.746728, 0.882435, 1.394592, 0.139209, 0.278417,
                  -4.946281, -0.148818, 0.365057, -4.432406, -4.96, 0.00, 0.661935, 0.348147, 0.582714, -4.961306,
                  74, 183.84, 0.348147, 4.746728, 0.278417, 0.85, 1.15),
    "Mg": _element(3.196291, 0.544323, 7.132600, 7.132600, 10.228708, 5.455311, 0.137518, 0.225930, 0.5, 1.0,
                   -0.896473, -0.044291, 0.162232, -0.689950, -0.90, 0.00, 0.122838, -0.226010, 0.431425, -0.899702,
                   12, 24.305, -0.226010, 5.455311, 1.0, 0.85, 1.15),
    "Co": _element(2.505979, 1.975299, 27.206789, 27.206789, 8.679625, 4.629134, 0.421378, 0.640107, 0.5, 1.0,
                   -2.541799, -0.219415, 0.733381, -1.589003, -2.56, 0.00, 0.705845, -0.687140, 0.694608, -2.559307,
                   27, 58.9332, -0.687140, 4.629134, 1.0, 0.85, 1.15),
    "Ti": _element(2.933872, 1.863200, 25.565138, 25.565138, 8.775431, 4.680230, 0.373601, 0.570968, 0.5, 1.0,
                   -3.203773, -0.198262, 0.683779, -2.321732, -3.22, 0.00, 0.608587, -0.750710, 0.558572, -3.219176,
                   22, 47.88, -0.750710, 4.680230, 1.0, 0.85, 1.15),
    "Zr": _element(3.199978, 2.230909, 30.879991, 30.879991, 8.559190, 4.564902, 0.424667, 0.640054, 0.5, 1.0,
                   -4.485793, -0.293129, 0.990148, -3.202516, -4.51, 0.00, 0.928602, -0.981870, 0.597133, -4.509025,
                   40, 91.224, -0.981870, 4.564902, 1.0, 0.85, 1.15),
}

# Extra, not in the 2004 paper: Cr of Lin, Johnson & Zhigilei 2008, as in the tool's Python database.
EXTRA_PARAMETERS: dict[str, Zhou04Element] = {
    "Cr": _element(2.493879, 1.793835, 17.641302, 19.60545, 8.604593, 7.170494, 1.551848, 1.827556, 0.18533, 0.277995,
                   -2.022754, 0.039608, -0.183611, -2.245972, -2.02, 0.00, -0.056517, 0.439144, 0.456, -2.020038,
                   24, 51.9961, 0.439144, 7.170494, 0.277995, 0.85, 1.15),
}

PARAMETERS: dict[str, Zhou04Element] = {**ZHOU04_PARAMETERS, **EXTRA_PARAMETERS}


def supported_elements() -> list[str]:
    """The 16 elements of Zhou 2004, then the extras (Cr)."""
    return list(PARAMETERS)


def element_parameters(element: str) -> Zhou04Element:
    """Parameters of ``element`` (case-sensitive chemical symbol); ValueError lists the supported ones."""
    try:
        return PARAMETERS[element]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown element {element!r} for the Zhou 2004 EAM database; supported: "
            f"{', '.join(ZHOU04_PARAMETERS)} (Zhou et al. 2004) and {', '.join(EXTRA_PARAMETERS)} (Lin et al. 2008)"
        ) from None


def _params(element: str | Zhou04Element) -> Zhou04Element:
    return element if isinstance(element, Zhou04Element) else element_parameters(element)


# --------------------------------------------------------------------------- doc/design/zhou04.md §1
def _pow20(y: np.ndarray) -> np.ndarray:
    """y^20 by repeated squaring, as Fortran evaluates an integer power: the tables then match the
    tool's to the last written digit (numpy's pow differs in the last bit)."""
    y2 = y * y
    y4 = y2 * y2
    y16 = (y4 * y4) * (y4 * y4)
    return y16 * y4


def _cubic(c0: float, c1: float, c2: float, c3, x: np.ndarray) -> np.ndarray:
    """c0 + c1·x + c2·x² + c3·x³ in the tool's term order (x² = x·x, x³ = x·x·x, as Fortran's x**2, x**3)."""
    return c0 + c1 * x + c2 * (x * x) + c3 * (x * x * x)


def _screened_exp(x: np.ndarray, prefactor: float, exponent: float, shift: float) -> np.ndarray:
    """prefactor·exp[−exponent(x − 1)] / (1 + (x − shift)^20), x = r/r_e: the building block of f and φ."""
    return prefactor * np.exp(-exponent * (x - 1.0)) / (1.0 + _pow20(x - shift))


def density(element: str | Zhou04Element, r) -> np.ndarray:
    """Electron density contribution f(r) of one neighbour at distance r (Å)."""
    p = _params(element)
    x = np.asarray(r, dtype=float) / p.re
    return _screened_exp(x, p.fe, p.beta1, p.lam1)


def pair(element: str | Zhou04Element, r) -> np.ndarray:
    """Pair potential φ(r) in eV, r in Å."""
    p = _params(element)
    x = np.asarray(r, dtype=float) / p.re
    return _screened_exp(x, p.A, p.alpha, p.kappa) - _screened_exp(x, p.B, p.beta, p.lam)


def embedding(element: str | Zhou04Element, rho) -> np.ndarray:
    """Embedding energy F(ρ) in eV: the three branches of doc/design/zhou04.md §1."""
    p = _params(element)
    rho = np.asarray(rho, dtype=float)
    xn = rho / p.rho_n - 1.0
    low = _cubic(p.Fn0, p.Fn1, p.Fn2, p.Fn3, xn)
    xe = rho / p.rhoe - 1.0
    middle = _cubic(p.F0, p.F1, p.F2, np.where(rho < p.rhoe, p.F3, p.F3_above), xe)
    # ρ = 0 only occurs in the low branch; guard the log so that numpy does not warn there.
    s = np.where(rho > 0.0, rho, p.rhos) / p.rhos
    high = p.Fe * (1.0 - p.eta * np.log(s)) * s**p.eta
    return np.where(rho < p.rho_n, low, np.where(rho < p.rho_0, middle, high))


# --------------------------------------------------------------------------- doc/design/zhou04.md §2
def cross_pair(element_a: str | Zhou04Element, element_b: str | Zhou04Element, r) -> np.ndarray:
    """φ_ab(r) = ½[(f_b/f_a)·φ_aa + (f_a/f_b)·φ_bb]; φ_aa for a = b. Not fitted to alloy properties."""
    a, b = _params(element_a), _params(element_b)
    if a is b:
        return pair(a, r)
    fa, fb = density(a, r), density(b, r)
    return 0.5 * (fb / fa * pair(a, r) + fa / fb * pair(b, r))


# --------------------------------------------------------------------------- doc/design/zhou04.md §5
@dataclass(frozen=True)
class Zhou04Tables:
    """Everything a setfl file holds: grids, F(ρ) and f(r) per element, r·φ per pair (i ≥ j)."""

    elements: tuple[str, ...]
    nrho: int
    drho: float
    nr: int
    dr: float
    cutoff: float
    embedding: dict[str, np.ndarray]
    density: dict[str, np.ndarray]
    r_times_pair: dict[tuple[str, str], np.ndarray]


def _check_elements(elements: Sequence[str]) -> list[str]:
    if isinstance(elements, str):
        elements = [elements]
    elements = list(elements)
    if not elements:
        raise ValueError(f"no element given; supported: {', '.join(PARAMETERS)}")
    for el in elements:
        element_parameters(el)
    if len(set(elements)) != len(elements):
        raise ValueError(f"duplicate element in {elements}: list each element once")
    return elements


def tabulate(elements: Sequence[str], *, nr: int = N_GRID_DEFAULT, nrho: int = N_GRID_DEFAULT) -> Zhou04Tables:
    """The setfl tables of the database tool for ``elements`` (in that order)."""
    elements = _check_elements(elements)
    if nr < 2 or nrho < 2:
        raise ValueError(f"nr and nrho must be >= 2 (got nr={nr}, nrho={nrho})")
    params = [element_parameters(el) for el in elements]
    # r_c = (√10/2)·max blat = √5·max r_e: past the 5th bcc / 4th fcc shell; the (…)^20 terms have
    # already screened f and φ there.
    # (The product order matters for the last bit of dr, which every r_k inherits.)
    cutoff = math.sqrt(10.0) / 2.0 * max(p.lattice_parameter for p in params)
    dr = cutoff / (nr - 1)
    r = np.arange(nr) * dr
    r[-1] = cutoff
    r_eval = np.maximum(r, R_CLAMP)  # the tool's clamp: flat tables below 0.5 Å

    dens = {el: density(p, r_eval) for el, p in zip(elements, params)}
    rho_max = max(max(float(d.max()) for d in dens.values()), 2.0 * max(p.rhoe for p in params), RHO_MAX_FLOOR)
    drho = rho_max / (nrho - 1)
    rho = np.arange(nrho) * drho
    emb = {el: embedding(p, rho) for el, p in zip(elements, params)}
    for el in elements:
        # F(0) = Fn0 − Fn1 + Fn2 − Fn3 is 0 in the 6-decimal parameters; the v2 tool writes it as
        # exactly 0 (an isolated atom has no embedding energy), not as the round-off residue.
        if abs(emb[el][0]) < 1e-12:
            emb[el][0] = 0.0

    rphi: dict[tuple[str, str], np.ndarray] = {}
    for i, (ei, pi) in enumerate(zip(elements, params)):
        for ej, pj in zip(elements[: i + 1], params[: i + 1]):
            rphi[(ei, ej)] = r_eval * cross_pair(pi, pj, r_eval)
    return Zhou04Tables(tuple(elements), nrho, drho, nr, dr, cutoff, emb, dens, rphi)


def _fortran_e(x: float, digits: int = 16) -> str:
    """Fortran ``E(digits+8).digits``: 0.dddd…E±XX, mantissa in [0.1, 1)."""
    if x == 0.0:
        return "0." + "0" * digits + "E+00"
    mantissa, exp = f"{abs(x):.{digits - 1}e}".split("e")
    exponent = int(exp) + 1
    text = "0." + mantissa.replace(".", "")
    # Fortran drops the 'E' for three-digit exponents: 0.1234-100.
    text += f"E{exponent:+03d}" if abs(exponent) < 100 else f"{exponent:+04d}"
    return ("-" if x < 0 else "") + text


def _fortran_g(x: float, width: int = 15, digits: int = 5) -> str:
    """Fortran ``G15.5`` for header numbers in [0.1, 10^5): fixed notation, 4 trailing blanks."""
    if not 0.1 <= abs(x) < 10.0**digits:
        return f"{x:{width}.{digits - 1}E}"
    k = math.floor(math.log10(abs(x))) + 1
    decimals = digits - k
    if abs(round(x, decimals)) >= 10.0**k:  # rounding bumps into the next decade
        decimals -= 1
    return f"{x:{width - 4}.{max(decimals, 0)}f}" + " " * 4


def _format_block(values: np.ndarray, per_line: int = 5) -> str:
    """Values as Fortran ``5e24.16`` lines."""
    cells = [f"{_fortran_e(float(v)):>24}" for v in values]
    return "".join("".join(cells[i : i + per_line]) + "\n" for i in range(0, len(cells), per_line))


def write_eam_alloy(
    elements: Sequence[str],
    path: str | os.PathLike,
    *,
    nr: int = N_GRID_DEFAULT,
    nrho: int = N_GRID_DEFAULT,
) -> Path:
    """Write the eam/alloy (setfl) file of ``elements`` exactly as the Zhou04_create_v2 tool tabulates it.

    Use it in LAMMPS with ``pair_style eam/alloy`` and ``pair_coeff * * <path> <El per type>``.
    """
    tables = tabulate(elements, nr=nr, nrho=nrho)
    path = Path(path)
    extra = [el for el in tables.elements if el in EXTRA_PARAMETERS]
    lines = [
        f"  Zhou04 EAM {' '.join(tables.elements)} generated by eipgs (Zhou04_create_v2 tabulation) CITATION: {CITATION}",
        "  Cross pairs: phi_ab = (f_b/f_a phi_aa + f_a/f_b phi_bb)/2, not fitted to alloy properties"
        if len(tables.elements) > 1
        else "  Single element: no cross pairs",
        f"  {CR_CITATION}" if extra else "  Nominal header lattice: blat = sqrt(2) re, fcc (informational)",
        f"{len(tables.elements):5d}" + "".join(f" {el:<24}" for el in tables.elements),
        f"{tables.nrho:5d}{_fortran_e(tables.drho):>24}{tables.nr:5d}{_fortran_e(tables.dr):>24}{_fortran_e(tables.cutoff):>24}",
    ]
    text = "\n".join(lines) + "\n"
    body = []
    for el in tables.elements:
        p = element_parameters(el)
        body.append(f"{p.Z:5d}{_fortran_g(p.mass)}{_fortran_g(p.lattice_parameter)}{'fcc':<8}\n")
        body.append(_format_block(tables.embedding[el]))
        body.append(_format_block(tables.density[el]))
    for key in tables.r_times_pair:
        body.append(_format_block(tables.r_times_pair[key]))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "".join(body))
    tmp.replace(path)
    return path


def eam_filename(elements: Sequence[str]) -> str:
    """``<El1><El2>..._Zhou04.eam.alloy``, the naming of the NIST repository files."""
    if isinstance(elements, str):
        elements = [elements]
    return "".join(elements) + "_Zhou04.eam.alloy"


def zhou04_eam_file(elements: Sequence[str], directory: str | os.PathLike) -> Path:
    """Path of ``<El1><El2>..._Zhou04.eam.alloy`` in ``directory``, written there first if absent."""
    elements = _check_elements(elements)
    path = Path(directory) / eam_filename(elements)
    if not path.is_file():
        write_eam_alloy(elements, path)
    return path

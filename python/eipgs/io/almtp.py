# SPDX-License-Identifier: GPL-2.0-only
"""MLIP-3 ``.almtp`` files: the MTP text part, the ``#MVS_v1.1`` selection block and the active-set
configurations (doc/design/mtp.md §1, §4). Reader and writer; the writer reproduces MLIP-3's layout.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from ase import Atoms

from eipgs.io.cfg import CfgFormatError, format_cfg, parse_cfg_text

__all__ = [
    "AlmtpFormatError",
    "MTPPotential",
    "ActiveSetData",
    "read_almtp",
    "write_almtp",
    "format_mtp_text",
    "SUPPORTED_RADIAL_BASES",
]

SUPPORTED_RADIAL_BASES = ("RBChebyshev", "RBChebyshev_repuls")
_KNOWN_RADIAL_BASES = SUPPORTED_RADIAL_BASES + ("BChebyshev", "BChebyshev_repuls", "RBShapeev", "RBTaylor")
_WEIGHT_KEYS = ("energy_weight", "force_weight", "stress_weight", "site_en_weight", "weight_scaling")
# Keys inside the radial-basis block that other writers use for min_dist / max_dist / radial_basis_size.
_RADIAL_BLOCK_ALIASES = {
    "min": "min_dist", "max": "max_dist", "size": "radial_basis_size",
    "min_val": "min_dist", "max_val": "max_dist", "basis_size": "radial_basis_size",
}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)", re.IGNORECASE)


class AlmtpFormatError(ValueError):
    """A ``.almtp`` / ``.mtp`` file is malformed or unsupported; the message names the file."""


@dataclass
class ActiveSetData:
    """The ``#MVS_v1.1`` block (doc/design/mtp.md §4): weights, A, S = (A⁻¹)ᵀ, links, configurations."""

    energy_weight: float
    force_weight: float
    stress_weight: float
    site_en_weight: float
    weight_scaling: int
    A: np.ndarray  # (m, m), row r = the selected row r
    S: np.ndarray  # (m, m), (A^-1)^T as stored
    links: np.ndarray  # (m, 2) int: (cfg_index, eqn_index); -1 -1 = unfilled row
    configurations: list[Atoms] = field(default_factory=list)
    # Raw text of the configurations when read with configurations=False (kept for write_almtp).
    configurations_text: Optional[str] = None

    @property
    def m(self) -> int:
        return int(self.A.shape[0])

    @property
    def mode(self) -> str:
        """'nbh' (one row per atom) when site_en_weight ≠ 0, else 'cfg' (doc/design/mtp.md §3.2)."""
        return "nbh" if self.site_en_weight != 0.0 else "cfg"

    def inverse_error(self) -> float:
        """max |A·Sᵀ − I| (A·Sᵀ is the well-conditioned product, doc/design/mtp.md §4)."""
        return float(np.max(np.abs(self.A @ self.S.T - np.eye(self.m)))) if self.m else 0.0

    def require_nbh_mode(self, source: str = "the .almtp file") -> None:
        if self.mode != "nbh":
            raise AlmtpFormatError(
                f"{source}: the active set is in configuration mode (energy_weight={self.energy_weight:g}, "
                f"site_en_weight={self.site_en_weight:g}); per-atom grades need a neighbourhood-mode active set. "
                "Rebuild it with site_en_weight=1 (e.g. `eipgs activeset` or MLIP-3 `mlp train ... --al_mode=nbh`)."
            )


class MomentBasisCounts:
    """N_basic, N_times, N_lin of anything holding the three ``alpha_*`` index arrays (doc/design/mtp.md §1.1)."""

    alpha_index_basic: np.ndarray
    alpha_index_times: np.ndarray
    alpha_moment_mapping: np.ndarray

    @property
    def n_basic(self) -> int:
        return int(len(self.alpha_index_basic))

    @property
    def n_times(self) -> int:
        return int(len(self.alpha_index_times))

    @property
    def n_lin(self) -> int:
        return int(len(self.alpha_moment_mapping))


@dataclass
class MTPPotential(MomentBasisCounts):
    """An MTP (doc/design/mtp.md §1) plus, for ``.almtp`` files, its active set.

    ``radial_coeffs[tc, to, mu, beta]`` is indexed by *species index* (the position of the label in
    ``species_labels``); ``species_labels`` are the integer labels of the ``s1-s2`` blocks in order of
    first appearance (cfg type t maps to ``species_labels.index(t)``).
    """

    species_count: int
    radial_basis_type: str
    min_dist: float
    max_dist: float
    radial_basis_size: int
    radial_funcs_count: int
    radial_coeffs: Optional[np.ndarray]  # (C, C, K, R); None = untrained
    species_labels: list[int]
    alpha_moments_count: int
    alpha_index_basic: np.ndarray  # (N_basic, 4) int: mu, a, b, c
    alpha_index_times: np.ndarray  # (N_times, 4) int: i0, i1, mult, i3
    alpha_moment_mapping: np.ndarray  # (N_lin,) int
    species_coeffs: np.ndarray  # (C,)
    moment_coeffs: np.ndarray  # (N_lin,)
    scaling: float = 1.0
    basis_scaling: Optional[float] = None
    potential_name: Optional[str] = None
    potential_tag: Optional[str] = None
    active_set: Optional[ActiveSetData] = None
    source: str = "<memory>"

    # Derived sizes ------------------------------------------------------------------------------
    @property
    def C(self) -> int:
        return self.species_count

    @property
    def K(self) -> int:
        return self.radial_funcs_count

    @property
    def R(self) -> int:
        return self.radial_basis_size

    @property
    def n_radial_params(self) -> int:
        return self.C * self.C * self.K * self.R

    @property
    def m(self) -> int:
        """Number of parameters = active-set size: C²KR + C + N_lin (doc/design/mtp.md §1.4)."""
        return self.n_radial_params + self.C + self.n_lin

    @property
    def effective_scaling(self) -> float:
        """Global scaling times the radial-basis scaling (MLIP-3 folds the two, §1.1)."""
        return self.scaling * (self.basis_scaling if self.basis_scaling is not None else 1.0)

    @property
    def is_trained(self) -> bool:
        return self.radial_coeffs is not None

    def species_of_label(self, label: int) -> int:
        try:
            return self.species_labels.index(int(label))
        except ValueError:
            raise ValueError(
                f"{self.source}: type {label} is not among the potential's species labels {self.species_labels} "
                "(too few species in the MTP)"
            ) from None

    def parameters(self) -> np.ndarray:
        """θ in MLIP-3 order: radial (C·C·K·R), species (C), moment (N_lin) (doc/design/mtp.md §1.4)."""
        return np.concatenate([self.radial_coeffs.ravel(), self.species_coeffs, self.moment_coeffs])

    def require_trained(self) -> None:
        if self.radial_coeffs is None:
            raise AlmtpFormatError(
                f"{self.source}: the potential is untrained (no radial_coeffs); grades need a trained MTP — "
                "train it first (`mlp train`)"
            )

    def require_active_set(self, mode: str = "nbh") -> ActiveSetData:
        self.require_trained()
        if self.active_set is None:
            raise AlmtpFormatError(
                f"{self.source}: no #MVS_v1.1 selection block (a plain .mtp, not an .almtp); grades need the "
                "active set — build one with `mlp train` / `eipgs activeset`"
            )
        if mode == "nbh":
            self.active_set.require_nbh_mode(self.source)
        return self.active_set

    def replace(self, **changes) -> "MTPPotential":
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------------------- reader


def _err(source: str, msg: str) -> AlmtpFormatError:
    return AlmtpFormatError(f"{source}: {msg}")


def _numbers(text: str, source: str, key: str, where: str = "") -> list[str]:
    inner = text.replace("{", " ").replace("}", " ").replace(",", " ").split()
    for tok in inner:
        if not _NUMBER.fullmatch(tok):
            raise _err(source, f"{where}bad number {tok!r} in {key}")
    return inner


def _parse_mtp_text(text: str, source: str, require_trained: bool) -> MTPPotential:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "MTP":
        raise _err(source, f"not an MTP file: the first line must be 'MTP', found {lines[0][:40]!r}")
    version_line = lines[1].strip() if len(lines) > 1 else ""
    if not re.fullmatch(r"version\s*=\s*\S+", version_line):
        raise _err(source, "second line must be 'version = 1.1.0'")
    version = version_line.split("=", 1)[1].strip()
    if version != "1.1.0":
        raise _err(source, f"unsupported MTP version {version!r}; only 'version = 1.1.0' (MLIP-3) is supported")

    values: dict[str, str] = {}
    line_of: dict[str, int] = {}  # key -> 1-based line number, so errors can point at the line
    radial_blocks: list[tuple[str, list[str]]] = []
    has_radial = False
    i = 2
    n = len(lines)

    def gather(start: int, first: str) -> tuple[str, int]:
        # Brace values may span lines: gather until braces balance.
        buf = first
        j = start
        while buf.count("{") > buf.count("}"):
            j += 1
            if j >= n:
                raise _err(source, f"unbalanced braces starting at line {start + 1} (truncated file?)")
            buf += " " + lines[j]
        return buf, j

    while i < n:
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line == "radial_coeffs":
            has_radial = True
            i += 1
            while i < n:
                label = lines[i].strip()
                if not re.fullmatch(r"\d+\s*-\s*\d+", label):
                    break
                coeff_lines = []
                i += 1
                while i < n and lines[i].strip().startswith("{"):
                    buf, i = gather(i, lines[i].strip())
                    coeff_lines.append(buf)
                    i += 1
                radial_blocks.append((label.replace(" ", ""), coeff_lines))
            continue
        if "=" not in line:
            raise _err(source, f"line {i + 1}: expected 'key = value', found {line[:60]!r}")
        key, value = (s.strip() for s in line.split("=", 1))
        key_line = i + 1
        if "{" in value:
            value, i = gather(i, value)
        if key in ("scaling",) and "radial_basis_type" in values:
            key = "basis_scaling"  # the tab-indented scaling inside the radial basis block (§1.1)
        if key in _RADIAL_BLOCK_ALIASES and "radial_basis_type" in values:
            # motep writes min/max/size inside the radial block (and radial_funcs_count after the
            # coefficients, which the key = value loop accepts anywhere); older tools wrote
            # min_val/max_val/basis_size. All name the same three quantities (doc/design/mtp.md §1.1).
            key = _RADIAL_BLOCK_ALIASES[key]
        if key in values:
            raise _err(source, f"line {key_line}: key {key!r} given twice (first on line {line_of[key]})")
        values[key] = value
        line_of[key] = key_line
        i += 1
    if "magnetic_basis_type" in values:
        raise _err(source, "magnetic MTPs (magnetic_basis_type) are not supported")

    def at(key: str) -> str:
        return f"line {line_of[key]}: " if key in line_of else ""

    def need(key: str) -> str:
        if key not in values:
            raise _err(source, f"required key {key!r} is missing")
        return values[key]

    def need_int(key: str) -> int:
        text = need(key)  # outside the try: its AlmtpFormatError is a ValueError too
        try:
            return int(text)
        except ValueError:
            raise _err(source, f"{at(key)}{key} must be an integer, got {values[key]!r}") from None

    def need_float(key: str, default: float | None = None) -> float:
        if default is not None and key not in values:
            return default
        text = need(key)
        try:
            v = float(text)
        except ValueError:
            raise _err(source, f"{at(key)}{key} must be a number, got {values[key]!r}") from None
        if not math.isfinite(v):
            raise _err(source, f"{at(key)}{key} is not finite ({v})")
        return v

    rbt = need("radial_basis_type")
    if rbt not in SUPPORTED_RADIAL_BASES:
        known = "known but unsupported" if rbt in _KNOWN_RADIAL_BASES else "unknown"
        raise _err(
            source,
            f"radial_basis_type {rbt!r} is {known}; supported: {', '.join(SUPPORTED_RADIAL_BASES)}",
        )
    C = need_int("species_count")
    R = need_int("radial_basis_size")
    K = need_int("radial_funcs_count")
    if C < 1 or R < 2 or K < 1:
        raise _err(source, f"bad sizes species_count={C}, radial_basis_size={R}, radial_funcs_count={K}")
    r_min = need_float("min_dist")
    r_cut = need_float("max_dist")
    if not r_cut > r_min:
        raise _err(source, f"max_dist {r_cut} must exceed min_dist {r_min}")

    def int_table(key: str, count_key: str, width: int) -> np.ndarray:
        count = need_int(count_key)
        toks = _numbers(need(key), source, key, at(key))
        if len(toks) != count * width:
            raise _err(source, f"{at(key)}{key} has {len(toks)} numbers, expected {count_key} × {width} = {count * width} (wrong counts)")
        try:
            arr = np.array([int(t) for t in toks], dtype=np.int64)
        except ValueError:
            raise _err(source, f"{at(key)}{key} must hold integers") from None
        return arr.reshape(count, width) if width > 1 else arr

    def float_list(key: str, count: int) -> np.ndarray:
        toks = _numbers(need(key), source, key, at(key))
        if len(toks) != count:
            raise _err(source, f"{at(key)}{key} has {len(toks)} values, expected {count} (wrong counts)")
        arr = np.array([float(t) for t in toks])
        if not np.all(np.isfinite(arr)):
            raise _err(source, f"{at(key)}{key} contains NaN or inf")
        return arr

    n_mom = need_int("alpha_moments_count")
    basic = int_table("alpha_index_basic", "alpha_index_basic_count", 4)
    times = int_table("alpha_index_times", "alpha_index_times_count", 4)
    n_lin = need_int("alpha_scalar_moments")
    mapping = int_table("alpha_moment_mapping", "alpha_scalar_moments", 1)
    species_coeffs = float_list("species_coeffs", C)
    moment_coeffs = float_list("moment_coeffs", n_lin)

    if len(basic) and (basic[:, 0].max() != K - 1 or basic[:, 0].min() < 0):
        raise _err(source, f"largest radial index mu in alpha_index_basic is {basic[:, 0].max()}, must be radial_funcs_count-1 = {K - 1}")
    if len(basic) and basic[:, 1:].min() < 0:
        raise _err(source, "negative exponent in alpha_index_basic")
    if len(times) and (times[:, [0, 1, 3]].min() < 0 or times[:, [0, 1, 3]].max() >= n_mom):
        raise _err(source, f"alpha_index_times refers to a moment outside 0..{n_mom - 1}")
    if len(times) and times[:, 3].min() < len(basic):
        raise _err(source, "alpha_index_times writes into a basic moment")
    if len(mapping) and (mapping.min() < 0 or mapping.max() >= n_mom):
        raise _err(source, f"alpha_moment_mapping refers to a moment outside 0..{n_mom - 1}")
    if n_mom < len(basic):
        raise _err(source, f"alpha_moments_count {n_mom} < alpha_index_basic_count {len(basic)}")

    radial = None
    labels: list[int] = []
    if has_radial:
        if len(radial_blocks) != C * C:
            raise _err(source, f"radial_coeffs has {len(radial_blocks)} species-pair blocks, expected species_count² = {C * C}")
        for lab, _ in radial_blocks:
            for part in lab.split("-"):
                if int(part) not in labels:
                    labels.append(int(part))
        if len(labels) != C:
            raise _err(source, f"radial_coeffs labels {labels} do not name species_count = {C} species")
        radial = np.zeros((C, C, K, R))
        seen = set()
        for lab, coeff_lines in radial_blocks:
            s1, s2 = (labels.index(int(p)) for p in lab.split("-"))
            if (s1, s2) in seen:
                raise _err(source, f"radial_coeffs block {lab} given twice")
            seen.add((s1, s2))
            if len(coeff_lines) != K:
                raise _err(source, f"radial_coeffs block {lab} has {len(coeff_lines)} functions, expected radial_funcs_count = {K}")
            for mu, cl in enumerate(coeff_lines):
                toks = _numbers(cl, source, f"radial_coeffs {lab}")
                if len(toks) != R:
                    raise _err(source, f"radial_coeffs {lab} function {mu} has {len(toks)} coefficients, expected radial_basis_size = {R}")
                radial[s1, s2, mu] = [float(t) for t in toks]
        if not np.all(np.isfinite(radial)):
            raise _err(source, "radial_coeffs contain NaN or inf")
    else:
        labels = list(range(C))
        if require_trained:
            raise _err(source, "the potential is untrained (no radial_coeffs); grades need a trained MTP — train it first")

    basis_scaling = need_float("basis_scaling") if "basis_scaling" in values else None
    return MTPPotential(
        species_count=C,
        radial_basis_type=rbt,
        min_dist=r_min,
        max_dist=r_cut,
        radial_basis_size=R,
        radial_funcs_count=K,
        radial_coeffs=radial,
        species_labels=labels,
        alpha_moments_count=n_mom,
        alpha_index_basic=basic,
        alpha_index_times=times,
        alpha_moment_mapping=mapping,
        species_coeffs=species_coeffs,
        moment_coeffs=moment_coeffs,
        scaling=need_float("scaling", 1.0),
        basis_scaling=basis_scaling,
        potential_name=values.get("potential_name"),
        potential_tag=values.get("potential_tag"),
        source=source,
    )


MAX_INVERSE_ERROR = 1e-4  # max|A·Sᵀ − I| accepted when reading an active set (as the C++ reader)


def _parse_selection(data: bytes, pos: int, m: int, source: str, parse_configurations: bool = True) -> ActiveSetData:
    """Parse from the first '#' (at ``pos``) to the end of the file (doc/design/mtp.md §4)."""
    nl = data.find(b"\n", pos)
    tag = data[pos + 1 : nl if nl >= 0 else len(data)].strip()
    if tag != b"MVS_v1.1":
        raise _err(source, f"selection block must start with '#MVS_v1.1', found {tag[:30]!r} (legacy or corrupt file)")
    hash2 = data.find(b"#", nl)
    if hash2 < 0:
        raise _err(source, "truncated file: the selection block ends before the matrices")
    toks = data[nl:hash2].split()
    if len(toks) != 10:
        raise _err(source, f"selection block needs the five weights {', '.join(_WEIGHT_KEYS)}")
    weights = {}
    for k, key in enumerate(_WEIGHT_KEYS):
        name = toks[2 * k].decode(errors="replace")
        if name != key:
            raise _err(source, f"selection block: expected key {key!r}, found {name!r}")
        try:
            weights[key] = int(toks[2 * k + 1]) if key == "weight_scaling" else float(toks[2 * k + 1])
        except ValueError:
            raise _err(source, f"selection block: bad value for {key}: {toks[2 * k + 1]!r}") from None
        if key != "weight_scaling" and not math.isfinite(weights[key]):
            raise _err(source, f"selection block: {key} is not finite")
    start = hash2 + 1
    nbytes = 2 * m * m * 8
    if len(data) < start + nbytes:
        raise _err(
            source,
            f"truncated file: the selection matrices need 2·m²·8 = {nbytes} bytes for m = {m}, "
            f"only {len(data) - start} remain (cut mid-matrix?)",
        )
    mats = np.frombuffer(data, dtype="<f8", count=2 * m * m, offset=start).reshape(2, m, m).copy()
    end = start + nbytes
    if data[end : end + 3] != b"\n#\n":
        raise _err(
            source,
            f"after the 2·m² doubles for m = {m} (from the MTP text: C²KR + C + N_lin) the marker '\\n#\\n' is missing; "
            "the matrices do not have the size the MTP implies (wrong counts) or the file is corrupt",
        )
    if not np.all(np.isfinite(mats)):
        which = "A" if not np.all(np.isfinite(mats[0])) else "S"
        raise _err(source, f"the active-set matrix {which} contains NaN or inf")
    pos = end + 3
    links = np.empty((m, 2), dtype=np.int64)
    for r in range(m):
        nl = data.find(b"\n", pos)
        if nl < 0:
            raise _err(source, f"truncated file: {r} of {m} link lines")
        parts = data[pos:nl].split()
        try:
            if len(parts) != 2:
                raise ValueError
            links[r] = int(parts[0]), int(parts[1])
        except ValueError:
            raise _err(source, f"link line {r + 1} of {m} is not two integers: {data[pos:nl][:40]!r} (wrong counts?)") from None
        pos = nl + 1
    if data[pos : pos + 1] != b"#":
        raise _err(source, f"expected '#' after the {m} link lines (wrong counts?)")
    nl = data.find(b"\n", pos)
    cfg_bytes = data[nl + 1 :] if nl >= 0 else b""
    try:
        text = cfg_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise _err(source, "the active-set configurations are not text") from None
    raw_text = None
    if parse_configurations:
        try:
            configurations = parse_cfg_text(text, source=f"{source} (active-set configurations)")
        except CfgFormatError as exc:
            raise _err(source, f"bad active-set configuration: {exc}") from None
        n_cfg = len(configurations)
    else:
        configurations, raw_text = [], text
        n_cfg = sum(1 for line in text.split("\n") if line.strip() == "BEGIN_CFG")
    bad = (links[:, 0] >= n_cfg) | (links[:, 0] < -1) | ((links[:, 0] == -1) != (links[:, 1] == -1))
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise _err(source, f"link line {r + 1} ({links[r, 0]} {links[r, 1]}) refers to no stored configuration (there are {n_cfg})")
    aset = ActiveSetData(
        A=mats[0], S=mats[1], links=links, configurations=configurations, configurations_text=raw_text, **weights
    )
    err = aset.inverse_error()
    # MLIP-3's own files reach a few 1e-6 (CuNi-mtp10: 3.1e-6); far above that S is not A's inverse
    # and every grade would be wrong. Same limit as the C++ reader (plugin/mtp/active_set.h).
    if not err <= MAX_INVERSE_ERROR:
        raise _err(
            source,
            f"the active set is corrupted: max|A·Sᵀ − I| = {err:.3g} (limit {MAX_INVERSE_ERROR:g}); "
            "S is not the inverse of A. Rebuild the active set (eipgs activeset, or MLIP-3 mlp select_add)",
        )
    return aset


def _check_first_hash(data: bytes, hash_pos: int, source: str) -> None:
    """MLIP-3 starts the selection block at the first '#' of the file (doc/design/mtp.md §1), so a '#'
    inside a value or a '#' comment line would cut the MTP text short there and surface later as a
    puzzling missing key: refuse it, naming the line (and key), as the C++ reader does."""
    if hash_pos < 0:
        return
    line_no = data.count(b"\n", 0, hash_pos) + 1
    line_start = data.rfind(b"\n", 0, hash_pos) + 1
    if hash_pos > line_start:
        before = data[line_start:hash_pos].decode("utf-8", "replace")
        key = before.split("=", 1)[0].strip() if "=" in before else ""
        where = f"line {line_no}" + (f" ({key})" if key else "")
        raise _err(
            source,
            f"{where}: '#' inside the MTP text part; MLIP-3 reads the first '#' as the start of the "
            "selection block, so the potential would be cut short there. Remove the '#'",
        )
    if not data.startswith(b"#MVS", hash_pos) and data.find(b"\n#MVS", hash_pos) >= 0:
        line_end = data.find(b"\n", hash_pos)
        line = data[hash_pos : line_end if line_end >= 0 else None][:40].decode("utf-8", "replace")
        raise _err(
            source,
            f"line {line_no}: {line!r} before the '#MVS_v1.1' selection block; MLIP-3 starts the "
            "selection block at the first '#' of the file, so MTP files cannot have comment lines. "
            "Remove the line",
        )


def read_almtp(path: str | os.PathLike, *, require_trained: bool = True, configurations: bool = True) -> MTPPotential:
    """Read an ``.almtp`` (or plain ``.mtp``) file; ``potential.active_set`` is None for a plain MTP.

    ``configurations=False`` skips parsing the stored active-set configurations (grading does not
    need them); their text is kept in ``active_set.configurations_text`` so the file can be rewritten.
    """
    path = Path(path)
    source = str(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not an MTP potential file (.mtp/.almtp)")
    if not path.is_file():
        raise FileNotFoundError(f"MTP potential file not found: {path}")
    data = path.read_bytes()
    hash_pos = data.find(b"#")
    _check_first_hash(data, hash_pos, source)
    text_part = data if hash_pos < 0 else data[:hash_pos]
    try:
        text = text_part.decode("utf-8").replace("\r", "")
    except UnicodeDecodeError:
        raise _err(source, "the MTP text part is not text (corrupt file?)") from None
    pot = _parse_mtp_text(text.rstrip("\n"), source, require_trained)
    if hash_pos >= 0:
        pot.active_set = _parse_selection(data, hash_pos, pot.m, source, configurations)
    return pot


# ----------------------------------------------------------------------------------------- writer


def _fmt(x: float) -> str:
    return "%.15e" % x


def format_mtp_text(pot: MTPPotential) -> str:
    """The MTP text part as MLIP-3 writes it (no trailing newline, doc/design/mtp.md §1.1)."""
    out = ["MTP", "version = 1.1.0"]
    if pot.potential_name is not None:
        out.append(f"potential_name = {pot.potential_name}")
    out.append(f"scaling = {_fmt(pot.scaling)}")
    out.append(f"species_count = {pot.species_count}")
    out.append(f"potential_tag = {pot.potential_tag or ''}")
    out.append(f"radial_basis_type = {pot.radial_basis_type}")
    if pot.basis_scaling is not None:
        out.append(f"\tscaling = {_fmt(pot.basis_scaling)}")
    out.append(f"\tmin_dist = {_fmt(pot.min_dist)}")
    out.append(f"\tmax_dist = {_fmt(pot.max_dist)}")
    out.append(f"\tradial_basis_size = {pot.radial_basis_size}")
    out.append(f"\tradial_funcs_count = {pot.radial_funcs_count}")
    if pot.radial_coeffs is not None:
        out.append("\tradial_coeffs")
        for s1 in range(pot.C):
            for s2 in range(pot.C):
                out.append(f"\t\t{pot.species_labels[s1]}-{pot.species_labels[s2]}")
                for mu in range(pot.K):
                    out.append("\t\t\t{" + ", ".join(_fmt(v) for v in pot.radial_coeffs[s1, s2, mu]) + "}")
    out.append(f"alpha_moments_count = {pot.alpha_moments_count}")
    out.append(f"alpha_index_basic_count = {pot.n_basic}")
    out.append("alpha_index_basic = {" + ", ".join("{%d, %d, %d, %d}" % tuple(r) for r in pot.alpha_index_basic) + "}")
    out.append(f"alpha_index_times_count = {pot.n_times}")
    out.append("alpha_index_times = {" + ", ".join("{%d, %d, %d, %d}" % tuple(r) for r in pot.alpha_index_times) + "}")
    out.append(f"alpha_scalar_moments = {pot.n_lin}")
    out.append("alpha_moment_mapping = {" + ", ".join(str(int(v)) for v in pot.alpha_moment_mapping) + "}")
    out.append("species_coeffs = {" + ", ".join(_fmt(v) for v in pot.species_coeffs) + "}")
    out.append("moment_coeffs = {" + ", ".join(_fmt(v) for v in pot.moment_coeffs) + "}")
    return "\n".join(out)


def write_almtp(path: str | os.PathLike, pot: MTPPotential, active_set: ActiveSetData | None = None) -> None:
    """Write ``pot`` (and ``active_set``, default ``pot.active_set``) in MLIP-3's exact layout (§4)."""
    aset = active_set if active_set is not None else pot.active_set
    chunks = [format_mtp_text(pot).encode()]
    if aset is not None:
        m = pot.m
        if aset.A.shape != (m, m) or aset.S.shape != (m, m) or aset.links.shape != (m, 2):
            raise ValueError(f"active set has size {aset.A.shape[0]}, but the potential has m = {m} parameters")
        head = (
            "\n#MVS_v1.1\n"
            f"energy_weight {aset.energy_weight:.16e}\n"
            f"force_weight {aset.force_weight:.16e}\n"
            f"stress_weight {aset.stress_weight:.16e}\n"
            f"site_en_weight {aset.site_en_weight:.16e}\n"
            f"weight_scaling {int(aset.weight_scaling)}\n"
            "#"
        )
        chunks.append(head.encode())
        chunks.append(np.ascontiguousarray(aset.A, dtype="<f8").tobytes())
        chunks.append(np.ascontiguousarray(aset.S, dtype="<f8").tobytes())
        chunks.append(b"\n#\n")
        chunks.append("".join(f"{int(c)} {int(e)}\n" for c, e in aset.links).encode())
        chunks.append(b"#\n")
        if aset.configurations_text is not None and not aset.configurations:
            chunks.append(aset.configurations_text.encode())
        else:
            chunks.append("".join(format_cfg(a, no_loss=True, index=k) for k, a in enumerate(aset.configurations)).encode())
    from eipgs.io.atomic import write_bytes_atomic

    write_bytes_atomic(path, b"".join(chunks))

# SPDX-License-Identifier: GPL-2.0-only
"""NumPy MTP evaluator: radial basis, moments, site energies and the per-atom parameter gradient
b_i = ∂V_i/∂θ in MLIP-3's parameter order (doc/design/mtp.md §1.2–§2), and the grade γ (§3).

Everything is vectorised over all (centre, neighbour) pairs of a batch of atoms; the moment
products of ``alpha_index_times`` are applied level by level (entries whose inputs are final),
so the Python loop runs over a handful of dependency levels, not over the ~10³ entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from eipgs.io.almtp import MTPPotential

__all__ = ["MTPEvaluator", "SiteResult", "EFSResult", "radial_basis", "radial_basis_derivative", "energy_forces_stress", "site_energy_gradients"]


def radial_basis(r: np.ndarray, pot: MTPPotential) -> np.ndarray:
    """Q_β(r), β = 0..R−1: s·T_β(ξ)·(r − R_cut)² (doc/design/mtp.md §1.2). Shape (len(r), R).

    Nothing is clamped for RBChebyshev (r < R_min extrapolates); RBChebyshev_repuls clamps r at R_min.
    """
    r = np.asarray(r, dtype=float)
    r_min, r_cut = pot.min_dist, pot.max_dist
    if pot.radial_basis_type == "RBChebyshev_repuls":
        r = np.maximum(r, r_min)
    xi = (2.0 * r - (r_min + r_cut)) / (r_cut - r_min)
    env = pot.effective_scaling * (r - r_cut) ** 2
    Q = np.empty(r.shape + (pot.R,))
    Q[..., 0] = env
    Q[..., 1] = xi * env
    for beta in range(2, pot.R):
        Q[..., beta] = 2.0 * xi * Q[..., beta - 1] - Q[..., beta - 2]
    return Q


@dataclass
class SiteResult:
    """Per-centre results of one batch."""

    energy: np.ndarray  # (N,) site energies V_i
    basis: np.ndarray  # (N, N_lin) B_α
    rows: np.ndarray | None  # (N, m) b_i = ∂V_i/∂θ, or None


def _levels(times: np.ndarray, n_basic: int, n_mom: int) -> list[np.ndarray] | None:
    """Group ``alpha_index_times`` entries into dependency levels (entry indices, file order kept).

    Valid when the file order is topological (every write into a moment precedes its reads), which
    is how MLIP-3 writes them; returns None otherwise and the caller falls back to the sequential loop.
    """
    last_write = np.full(n_mom, -1)
    for e, (_, _, _, i3) in enumerate(times):
        last_write[i3] = e
    level_of_moment = np.zeros(n_mom, dtype=np.int64)
    entry_level = np.empty(len(times), dtype=np.int64)
    for e, (i0, i1, _, i3) in enumerate(times):
        if last_write[i0] > e or last_write[i1] > e:
            return None  # reads a moment that is written later: keep strict file order
        lev = max(level_of_moment[i0], level_of_moment[i1]) + 1
        entry_level[e] = lev
        level_of_moment[i3] = max(level_of_moment[i3], lev)
    return [np.flatnonzero(entry_level == lev) for lev in range(1, int(entry_level.max(initial=0)) + 1)]


def _parent_monomial(t: tuple[int, int, int]) -> tuple[tuple[int, int, int] | None, int]:
    """(a, b, c) = parent · (x̂, ŷ or ẑ): the parent exponents and the component index (−1 for 1)."""
    for axis in range(3):
        if t[axis] > 0:
            p = list(t)
            p[axis] -= 1
            return tuple(p), axis
    return None, -1


class MTPEvaluator:
    """Evaluate an :class:`MTPPotential` on neighbourhoods given as pair lists."""

    def __init__(self, pot: MTPPotential):
        pot.require_trained()
        self.pot = pot
        basic = pot.alpha_index_basic
        self.mu = basic[:, 0].copy()
        self.n_basic = pot.n_basic
        self.n_mom = pot.alpha_moments_count
        self.mapping = pot.alpha_moment_mapping
        # Distinct angular parts (a, b, c), closed under "remove one factor" so that every monomial is
        # its parent times one unit-vector component; basic moment k is entry (μ_k, angular index)
        # of the (K × n_ang) table of moment sums. MLIP-3 templates have no repeated (μ, a, b, c).
        closure = set()
        for t in map(tuple, basic[:, 1:].tolist()):
            while t is not None and t not in closure:
                closure.add(t)
                t = _parent_monomial(t)[0]
        self.ang = np.array(sorted(closure, key=lambda t: (sum(t), t)), dtype=np.int64).reshape(-1, 3)
        self.n_ang = len(self.ang)
        lookup = {tuple(t): k for k, t in enumerate(self.ang.tolist())}
        self.ang_recursion = []
        for t in self.ang.tolist():
            parent, axis = _parent_monomial(tuple(t))
            self.ang_recursion.append((lookup[parent] if parent is not None else -1, axis))
        ang_index = np.array([lookup[tuple(t)] for t in basic[:, 1:].tolist()], dtype=np.int64)
        self.basic_slot = self.mu * self.n_ang + ang_index
        if len(np.unique(self.basic_slot)) != self.n_basic:
            raise ValueError(f"{pot.source}: alpha_index_basic repeats a (mu, a, b, c) quadruple")
        # coeff_by_centre[tc] maps (to, β) → μ: c[tc, to, μ, β] as a (C·R × K) matrix.
        self.coeff_by_centre = pot.radial_coeffs.transpose(0, 1, 3, 2).reshape(pot.C, pot.C * pot.R, pot.K).copy()
        # ∂V/∂M seed: g[map[α]] += w_α, accumulated in case a moment repeats (§2 step 2).
        self.seed = np.zeros(self.n_mom)
        np.add.at(self.seed, self.mapping, pot.moment_coeffs)
        times = pot.alpha_index_times
        self.times = times
        levels = _levels(times, self.n_basic, self.n_mom)
        self._levels = []
        if levels is not None:
            for ent in levels:
                i0, i1, mult, i3 = (times[ent, c] for c in range(4))
                n_e = len(ent)
                fwd = sp.csr_matrix((mult.astype(float), (i3, np.arange(n_e))), shape=(self.n_mom, n_e))
                # Reverse sweep: g[i0] += mult·M[i1]·g[i3]; g[i1] += mult·M[i0]·g[i3].
                back = sp.csr_matrix(
                    (np.ones(2 * n_e), (np.concatenate([i0, i1]), np.arange(2 * n_e))), shape=(self.n_mom, 2 * n_e)
                )
                self._levels.append((i0, i1, mult.astype(float)[:, None], i3, fwd, back))
        self._sequential = levels is None

    # ------------------------------------------------------------------------------------------
    def evaluate(
        self,
        n_centres: int,
        centre_species: np.ndarray,
        pair_centre: np.ndarray,
        pair_species: np.ndarray,
        D: np.ndarray,
        rows: bool = True,
    ) -> SiteResult:
        """Site energies, basis values and (optionally) rows b_i for ``n_centres`` atoms.

        ``pair_centre[p]`` ∈ [0, n_centres) is the centre of pair p, ``pair_species[p]`` the species
        index of the neighbour, ``D[p]`` the vector neighbour − centre (|D| < R_cut).

        A centre with a neighbour at distance 0 (two atoms on one site) has no defined row: its
        energy and row are NaN, which the grading reports as γ = inf (doc/design/mtp.md §3.1).
        """
        pot = self.pot
        C, K, R = pot.C, pot.K, pot.R
        N = int(n_centres)
        centre_species = np.asarray(centre_species, dtype=np.int64)
        pair_centre = np.asarray(pair_centre, dtype=np.int64)
        npair = len(pair_centre)
        # Pad each centre's neighbours to n_max slots so every per-atom sum is a small batched GEMM.
        # Pairs must be grouped by centre (neighbour_pairs sorts them).
        if npair and np.any(np.diff(pair_centre) < 0):
            order = np.argsort(pair_centre, kind="stable")
            pair_centre, pair_species, D = pair_centre[order], np.asarray(pair_species)[order], D[order]
        counts = np.bincount(pair_centre, minlength=N)
        n_max = int(counts.max(initial=0))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        slot = np.arange(npair) - starts[pair_centre]

        r = np.sqrt(np.einsum("ij,ij->i", D, D))
        overlap = r == 0.0
        if overlap.any():
            r = np.where(overlap, 1.0, r)  # any finite value; these centres are set to NaN below
        Q = radial_basis(r, pot)  # (P, R)
        # Q placed in the block of the neighbour's species: (N, n_max, C·R).
        Qs = np.zeros((N, n_max, C, R))
        Qs[pair_centre, slot, pair_species] = Q
        Qs = Qs.reshape(N, n_max, C * R)
        # Angular factors x^a y^b z^c / r^(a+b+c) = x̂^a ŷ^b ẑ^c for each distinct (a, b, c) (§1.3).
        # Each monomial is its parent monomial times one unit-vector component (one pass per column).
        unit_t = (D / r[:, None]).T if npair else np.zeros((3, 0))
        mono = np.empty((self.n_ang, npair))
        for k, (parent, axis) in enumerate(self.ang_recursion):
            if parent < 0:
                mono[k] = 1.0
            else:
                np.multiply(mono[parent], unit_t[axis], out=mono[k])
        Ua = np.zeros((N * n_max, self.n_ang))
        Ua[pair_centre * n_max + slot] = mono.T
        Ua = Ua.reshape(N, n_max, self.n_ang)
        # F[i, j, μ] = Σ_{to, β} c[tc_i, to, μ, β] Q_s[i, j, (to, β)]
        F = Qs @ self.coeff_by_centre[centre_species]  # (N, n_max, K)
        # All (μ, angular) moment sums at once; the basic moments are a subset of them.
        Mfull = (F.transpose(0, 2, 1) @ Ua).reshape(N, K * self.n_ang)
        MT = np.zeros((self.n_mom, N))
        MT[: self.n_basic] = Mfull[:, self.basic_slot].T
        self._forward(MT)
        basis = MT[self.mapping].T  # (N, N_lin)
        energy = pot.species_coeffs[centre_species] + basis @ pot.moment_coeffs
        broken = np.unique(pair_centre[overlap]) if overlap.any() else None
        if broken is not None:
            energy[broken] = np.nan
            basis[broken] = np.nan
        if not rows:
            return SiteResult(energy=energy, basis=basis, rows=None)

        g = np.repeat(self.seed[:, None], N, axis=1)
        self._backward(MT, g)
        # ∂V/∂c[tc, to, μ, β] = Σ_{k: μ_k=μ} g[k] Σ_{j: t_j=to} Q_β(r_j) U_k(j)  (§2 step 4)
        gM = np.zeros((N, K * self.n_ang))
        gM[:, self.basic_slot] = g[: self.n_basic].T
        H = Ua @ gM.reshape(N, K, self.n_ang).transpose(0, 2, 1)  # (N, n_max, K)
        radial = (H.transpose(0, 2, 1) @ Qs).reshape(N, K, C, R).transpose(0, 2, 1, 3)  # (N, C_to, K, R)
        m = pot.m
        nr = pot.n_radial_params
        b = np.zeros((N, m))
        # Radial entries with first species ≠ tc are exactly zero (§2 step 5).
        rad_view = b[:, :nr].reshape(N, C, C, K, R)
        rad_view[np.arange(N), centre_species] = radial
        b[np.arange(N), nr + centre_species] = 1.0
        b[:, nr + C :] = basis
        if broken is not None:
            b[broken] = np.nan
        return SiteResult(energy=energy, basis=basis, rows=b)

    def _forward(self, MT: np.ndarray) -> None:
        if self._sequential:
            for i0, i1, mult, i3 in self.times:
                MT[i3] += mult * MT[i0] * MT[i1]
            return
        for i0, i1, mult, i3, fwd, _ in self._levels:
            MT += fwd @ (MT[i0] * MT[i1])

    def _backward(self, MT: np.ndarray, g: np.ndarray) -> None:
        if self._sequential:
            for i0, i1, mult, i3 in self.times[::-1]:
                g[i0] += mult * MT[i1] * g[i3]
                g[i1] += mult * MT[i0] * g[i3]
            return
        for i0, i1, mult, i3, _, back in reversed(self._levels):
            t = mult * g[i3]
            g += back @ np.concatenate([t * MT[i1], t * MT[i0]])


def radial_basis_derivative(r: np.ndarray, pot: MTPPotential) -> tuple[np.ndarray, np.ndarray]:
    """(Q_β(r), dQ_β/dr), each of shape (len(r), R): the derivative of :func:`radial_basis`.

    dQ_β/dr = s·[T′_β(ξ)·dξ/dr·(r − R_cut)² + 2·T_β(ξ)·(r − R_cut)], with T′ from the Chebyshev
    recursion T′_β = 2·T_{β−1} + 2ξ·T′_{β−1} − T′_{β−2}. Below R_min RBChebyshev_repuls is constant
    (clamped), so its derivative there is zero.
    """
    r_in = np.asarray(r, dtype=float)
    r_min, r_cut = pot.min_dist, pot.max_dist
    r = np.maximum(r_in, r_min) if pot.radial_basis_type == "RBChebyshev_repuls" else r_in
    xi = (2.0 * r - (r_min + r_cut)) / (r_cut - r_min)
    dxi = 2.0 / (r_cut - r_min)
    s = pot.effective_scaling
    env, denv = s * (r - r_cut) ** 2, 2.0 * s * (r - r_cut)
    T = np.empty(r.shape + (pot.R,))
    dT = np.empty_like(T)
    T[..., 0], dT[..., 0] = 1.0, 0.0
    T[..., 1], dT[..., 1] = xi, 1.0
    for beta in range(2, pot.R):
        T[..., beta] = 2.0 * xi * T[..., beta - 1] - T[..., beta - 2]
        dT[..., beta] = 2.0 * T[..., beta - 1] + 2.0 * xi * dT[..., beta - 1] - dT[..., beta - 2]
    Q = T * env[..., None]
    dQ = dT * (dxi * env)[..., None] + T * denv[..., None]
    if pot.radial_basis_type == "RBChebyshev_repuls":
        dQ[r_in < r_min] = 0.0
    return Q, dQ


def site_energy_gradients(self: MTPEvaluator, n_centres, centre_species, pair_centre, pair_species, D):
    """Site energies V_i and, per pair p = (i, j), g_p = ∂V_i/∂D_p (D_p = r_j − r_i), in input order.

    ``self`` is an :class:`MTPEvaluator`. Reverse mode through the moment tensors of its ``evaluate``: the seed
    g = ∂V/∂M is swept back through ``alpha_index_times``; for a basic moment
    M_{μ,a} = Σ_j f_μ(r_j)·U_a(û_j) with U_a = x̂^a1 ŷ^a2 ẑ^a3 of degree ν_a,

        ∂M/∂D = f′_μ U_a û + f_μ (∇_û U_a − ν_a U_a û) / r

    (the projection (I − ûûᵀ)/r of the gradient on the unit sphere, with û·∇_û U_a = ν_a U_a).
    """
    pot = self.pot
    C, K, R = pot.C, pot.K, pot.R
    N = int(n_centres)
    centre_species = np.asarray(centre_species, dtype=np.int64)
    pair_centre = np.asarray(pair_centre, dtype=np.int64)
    pair_species = np.asarray(pair_species, dtype=np.int64)
    D = np.asarray(D, dtype=float).reshape(-1, 3)
    npair = len(pair_centre)
    order = None
    if npair and np.any(np.diff(pair_centre) < 0):
        order = np.argsort(pair_centre, kind="stable")
        pair_centre, pair_species, D = pair_centre[order], pair_species[order], D[order]
    counts = np.bincount(pair_centre, minlength=N)
    n_max = int(counts.max(initial=0))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(npair) - starts[pair_centre]

    r = np.sqrt(np.einsum("ij,ij->i", D, D))
    Q, dQ = radial_basis_derivative(r, pot)
    Qs = np.zeros((N, n_max, C, R))
    Qs[pair_centre, slot, pair_species] = Q
    dQs = np.zeros((N, n_max, C, R))
    dQs[pair_centre, slot, pair_species] = dQ
    Qs, dQs = Qs.reshape(N, n_max, C * R), dQs.reshape(N, n_max, C * R)
    u = D / r[:, None] if npair else np.zeros((0, 3))
    # Monomials and their gradients in û from powers of the components.
    deg = int(self.ang.max(initial=0))
    pw = np.ones((3, deg + 1, npair))
    for k in range(1, deg + 1):
        pw[:, k] = pw[:, k - 1] * u.T
    a, b, c = self.ang[:, 0], self.ang[:, 1], self.ang[:, 2]
    mono = pw[0, a] * pw[1, b] * pw[2, c]  # (n_ang, P)
    dmono = np.zeros((self.n_ang, npair, 3))
    dmono[..., 0] = (a[:, None] * pw[0, np.maximum(a - 1, 0)] * pw[1, b] * pw[2, c])
    dmono[..., 1] = (b[:, None] * pw[0, a] * pw[1, np.maximum(b - 1, 0)] * pw[2, c])
    dmono[..., 2] = (c[:, None] * pw[0, a] * pw[1, b] * pw[2, np.maximum(c - 1, 0)])
    nu = (a + b + c).astype(float)
    Ua = np.zeros((N * n_max, self.n_ang))
    Ua[pair_centre * n_max + slot] = mono.T
    Ua = Ua.reshape(N, n_max, self.n_ang)
    coeff = self.coeff_by_centre[centre_species]  # (N, C·R, K)
    F = Qs @ coeff
    dF = dQs @ coeff
    Mfull = (F.transpose(0, 2, 1) @ Ua).reshape(N, K * self.n_ang)
    MT = np.zeros((self.n_mom, N))
    MT[: self.n_basic] = Mfull[:, self.basic_slot].T
    self._forward(MT)
    energy = pot.species_coeffs[centre_species] + MT[self.mapping].T @ pot.moment_coeffs
    g = np.repeat(self.seed[:, None], N, axis=1)
    self._backward(MT, g)
    gM = np.zeros((N, K * self.n_ang))
    gM[:, self.basic_slot] = g[: self.n_basic].T
    gM = gM.reshape(N, K, self.n_ang)
    H = Ua @ gM.transpose(0, 2, 1)  # (N, n_max, K): Σ_a gM[μ, a] U_a
    radial_term = np.einsum("ijk,ijk->ij", dF, H)[pair_centre, slot]  # Σ_μ f′_μ Σ_a gM U_a
    Ga = (F @ gM)[pair_centre, slot]  # (P, n_ang): Σ_μ f_μ gM[μ, a]
    tangential = np.einsum("pa,apx->px", Ga, dmono)
    radial_of_angular = np.einsum("pa,ap->p", Ga * nu, mono)
    grad = (radial_term - radial_of_angular / r)[:, None] * u + tangential / r[:, None]
    if order is not None:
        back = np.empty_like(grad)
        back[order] = grad
        grad = back
    return energy, grad



@dataclass
class EFSResult:
    """Energy, forces and (periodic cells) stress of one configuration, ASE conventions."""

    energy: float
    site_energies: np.ndarray  # (N,)
    forces: np.ndarray  # (N, 3), −∂E/∂r
    stress: np.ndarray | None  # (3, 3) eV/Å³, (1/V)·∂E/∂ε; None without a 3-D periodic cell


def energy_forces_stress(evaluator: MTPEvaluator, positions: np.ndarray, cell: np.ndarray, pbc,
                         species: np.ndarray, chunk: int = 2048) -> EFSResult:
    """E = Σ_i V_i, F = −∇E and σ = (1/V)·Σ_p g_p ⊗ D_p of a configuration (species index per atom ≥ 0).

    Each pair p = (i, j) moves V_i by g_p·dD_p with D_p = r_j − r_i, so it adds g_p to F_j's negative
    and to F_i; under a homogeneous strain D_p → (1 + ε)D_p, which gives the virial sum.
    """
    from eipgs.mtp.neighbours import neighbour_pairs

    pot = evaluator.pot
    species = np.asarray(species, dtype=np.int64)
    n = len(species)
    if n and (species.min() < 0 or species.max() >= pot.C):
        raise ValueError(f"species indices must be in 0..{pot.C - 1} for {pot.source}")
    i, j, D = neighbour_pairs(positions, cell, pbc, pot.max_dist)
    site = np.zeros(n)
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    bounds = np.append(np.searchsorted(i, np.arange(n)), len(i))
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        p0, p1 = bounds[start], bounds[stop]
        e, grad = site_energy_gradients(evaluator, stop - start, species[start:stop], i[p0:p1] - start,
                                                  species[j[p0:p1]], D[p0:p1])
        site[start:stop] = e
        np.add.at(forces, i[p0:p1], grad)
        np.add.at(forces, j[p0:p1], -grad)
        virial += grad.T @ D[p0:p1]
    stress = None
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    if pbc.all():
        volume = abs(np.linalg.det(np.asarray(cell, dtype=float)))
        stress = 0.5 * (virial + virial.T) / volume
    return EFSResult(energy=float(site.sum()), site_energies=site, forces=forces, stress=stress)

# SPDX-License-Identifier: GPL-2.0-only
"""Our own MTP basis (python/eipgs/mtp/templates.py) checked numerically with the NumPy evaluator:
values against brute-force einsum over full Cartesian moment tensors, rotation/permutation
invariance, linear independence, and the .almtp semantics (doc/design/mtp.md §1.3)."""

from __future__ import annotations

import functools
import itertools
import math
import string

import numpy as np
import pytest

from eipgs.io.almtp import read_almtp, write_almtp
from eipgs.mtp.evaluator import MTPEvaluator, radial_basis
from eipgs.mtp.templates import contraction_terms, symmetric_components
from eipgs.mtp.templates import generate_template as _generate

generate_template = functools.lru_cache(maxsize=None)(_generate)  # level 20 takes ~2 s; share it

R_MIN, R_CUT, R_SIZE = 2.0, 5.0, 8

# MLIP-3's counts (doc/design/mtp.md §1.4): ours agree in N_basic and, before dropping linearly dependent
# functions, in N_lin — the "≤ 4 moment tensors, level ≤ L" rule; N_times differs (our own
# factorisation into pairwise products). From level 16 on some contractions are dependent in 3-D
# (tr T⁴ by Cayley–Hamilton) and are dropped.
MLIP_COUNTS = {6: (5, 5), 8: (9, 11), 10: (16, 25), 12: (29, 46), 14: (52, 81), 16: (92, 130), 18: (163, 201)}
OUR_COUNTS = {  # level: (K, N_lin, N_basic, N_times, N_mom)
    8: (2, 9, 11, 14, 18),
    10: (3, 16, 25, 42, 41),
    12: (3, 29, 46, 120, 87),
    16: (4, 91, 130, 882, 334),
}


def random_potential(template, rng, scaling=None):
    K = template.radial_funcs_count
    coeffs = rng.normal(size=(1, 1, K, R_SIZE)) / (1.0 + np.arange(R_SIZE))
    return template.potential(
        min_dist=R_MIN,
        max_dist=R_CUT,
        radial_basis_size=R_SIZE,
        radial_coeffs=coeffs,
        species_coeffs=np.array([0.0]),
        moment_coeffs=rng.normal(size=template.n_lin),
        scaling=scaling if scaling is not None else 1.0 / (R_CUT - R_MIN) ** 2,
    )


def random_neighbourhood(rng, n):
    u = rng.normal(size=(n, 3))
    u /= np.linalg.norm(u, axis=1)[:, None]
    r = rng.uniform(R_MIN, R_CUT - 0.05, size=n)
    return u * r[:, None]


def evaluate(ev, neighbourhoods):
    """Basis values B_α of one centre per neighbourhood (list of (n_j, 3) arrays)."""
    D = np.concatenate(neighbourhoods)
    centre = np.repeat(np.arange(len(neighbourhoods)), [len(d) for d in neighbourhoods])
    res = ev.evaluate(len(neighbourhoods), np.zeros(len(neighbourhoods), dtype=int), centre, np.zeros(len(D), dtype=int), D, rows=False)
    return res.basis


# --------------------------------------------------------------------------- brute-force reference


def cartesian_moments(pot, D, max_rank):
    """T[μ][ν] = Σ_j f_μ(r_j) r̂_j^{⊗ν} as full (3,)*ν arrays."""
    r = np.linalg.norm(D, axis=1)
    f = radial_basis(r, pot) @ pot.radial_coeffs[0, 0].T  # (n, K)
    u = D / r[:, None]
    out = []
    for mu in range(pot.K):
        per_nu = []
        power = np.ones((len(D),))
        for nu in range(max_rank + 1):
            per_nu.append(np.einsum("j,j...->...", f[:, mu], power))
            power = np.einsum("j...,ja->j...a", power, u)
        out.append(per_nu)
    return out


def graph_einsum(graph, T):
    """Plain full contraction of a connected graph: one einsum letter per contracted index pair."""
    if graph.n_nodes == 1:
        return float(T[graph.mus[0]][0])
    letters = iter(string.ascii_letters)
    subs = [[] for _ in graph.mus]
    for i, j, k in graph.edges:
        for _ in range(k):
            c = next(letters)
            subs[i].append(c)
            subs[j].append(c)
    spec = ",".join("".join(s) for s in subs) + "->"
    return float(np.einsum(spec, *[T[m][v] for m, v in zip(graph.mus, graph.nus)]))


def symmetrise(V):
    n = V.ndim
    if n < 2:
        return V
    return sum(np.transpose(V, p) for p in itertools.permutations(range(n))) / math.factorial(n)


def chain_value(graph, order, T):
    """The evaluation chain in full Cartesian form: contract, symmetrise, times C(n, p−k) per step."""
    nus = graph.nus
    V = T[graph.mus[order[0]]][nus[order[0]]]
    group = [order[0]]
    for x in order[1:]:
        k = sum(graph.multiplicity(x, y) for y in group)
        X = T[graph.mus[x]][nus[x]]
        p = V.ndim
        W = np.tensordot(V, X, axes=(list(range(p - k, p)), list(range(k))))
        V = math.comb(W.ndim, p - k) * symmetrise(W)
        group.append(x)
    return float(V)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("level", sorted(OUR_COUNTS))
def test_counts_and_mlip_table(level):
    t = generate_template(level)
    assert (t.radial_funcs_count, t.n_lin, t.n_basic, t.n_times, t.alpha_moments_count) == OUR_COUNTS[level]
    assert (t.n_lin + len(t.dependent_dropped), t.n_basic) == MLIP_COUNTS[level]
    assert t.n_params() == {8: 26, 10: 41, 12: 54, 16: 124}[level]  # §1.4: 26, 41, 54, 125 (MLIP-3)
    if level == 16:
        assert t.dependent_dropped == ["4 * [M0,2 M0,2 M0,2 M0,2 | 0-2 0-3 1-2 1-3]"]  # tr T⁴, T = M_0,2


@pytest.mark.parametrize("level", [8, 10, 12, 16, 18])
def test_almtp_semantics(level, tmp_path):
    """Integer multiplicities ≥ 1, entries in dependency order, indices in range, max μ = K−1,
    components in MLIP-3 order; a potential with the template round-trips through the writer/reader."""
    t = generate_template(level)
    times = t.alpha_index_times
    assert times.dtype.kind == "i" and np.all(times[:, 2] >= 1)
    assert np.all(times[:, 3] >= t.n_basic) and times[:, [0, 1, 3]].max() < t.alpha_moments_count
    last_write = {}
    for e, (i0, i1, _, i3) in enumerate(times):
        last_write[int(i3)] = e
    for e, (i0, i1, _, _) in enumerate(times):
        assert last_write.get(int(i0), -1) < e and last_write.get(int(i1), -1) < e, "read before its last write"
    assert t.alpha_index_basic[:, 0].max() == t.radial_funcs_count - 1
    assert len(set(map(tuple, t.alpha_index_basic.tolist()))) == t.n_basic
    assert len(set(t.alpha_moment_mapping.tolist())) == t.n_lin
    pot = random_potential(t, np.random.default_rng(level))
    path = tmp_path / "t.mtp"
    write_almtp(path, pot)
    back = read_almtp(path)
    assert np.array_equal(back.alpha_index_times, times) and back.m == t.n_params()
    assert symmetric_components(2) == ((2, 0, 0), (1, 1, 0), (1, 0, 1), (0, 2, 0), (0, 1, 1), (0, 0, 2))


def test_contraction_weights_small_cases():
    """Hand-derived: T_i U_i = Σ T[x]U[x]; T_ij U_ij has weight 2 on off-diagonal pairs;
    V = T_ij U_jk symmetrised over (i, k) stored as 2·Sym(V): V[xx] = 2·T[xx]U[xx] + 2·T[xy]U[xy] + 2·T[xz]U[xz]."""
    assert contraction_terms(1, 1, 1) == (((0, 0, 1), (1, 1, 1), (2, 2, 1)),)
    (terms,) = contraction_terms(2, 2, 2)
    assert dict(((a, b), w) for a, b, w in terms) == {(0, 0): 1, (1, 1): 2, (2, 2): 2, (3, 3): 1, (4, 4): 2, (5, 5): 1}
    xx = contraction_terms(2, 2, 1)[0]
    assert dict(((a, b), w) for a, b, w in xx) == {(0, 0): 2, (1, 1): 2, (2, 2): 2}


@pytest.mark.parametrize("level", [10, 16, 20])
def test_values_equal_brute_force_einsum(level):
    """Every basis function equals scale × plain einsum over full Cartesian tensors (exact chains) and
    the explicitly symmetrised chain (all chains, the four non-exact level-20 graphs included)."""
    rng = np.random.default_rng(100 + level)
    t = generate_template(level)
    pot = random_potential(t, rng)
    ev = MTPEvaluator(pot)
    max_rank = max(max(g.nus, default=0) for f in t.functions for g in f.factors)
    hoods = [random_neighbourhood(rng, n) for n in (1, 7, 16)]
    B = evaluate(ev, hoods)
    n_exact = 0
    for h, D in enumerate(hoods):
        T = cartesian_moments(pot, D, max_rank)
        for a, f in enumerate(t.functions):
            chain = np.prod([chain_value(g, o, T) for g, o in zip(f.factors, f.orders)])
            assert B[h, a] == pytest.approx(chain, rel=1e-10, abs=1e-12 * (1 + abs(chain))), str(f)
            if f.exact:
                plain = f.scale * np.prod([graph_einsum(g, T) for g in f.factors])
                assert B[h, a] == pytest.approx(plain, rel=1e-10, abs=1e-12 * (1 + abs(plain))), str(f)
                n_exact += 1
    n_inexact = sum(not f.exact for f in t.functions)
    assert n_inexact == {10: 0, 16: 0, 20: 4}[level]
    assert n_exact == len(hoods) * (t.n_lin - n_inexact)


@pytest.mark.parametrize("level", [8, 10, 16, 20])
def test_invariance_rotation_permutation(level):
    rng = np.random.default_rng(7 + level)
    t = generate_template(level)
    ev = MTPEvaluator(random_potential(t, rng))
    hoods = [random_neighbourhood(rng, n) for n in (5, 12, 20)]
    B = evaluate(ev, hoods)
    for _ in range(3):
        Q, _r = np.linalg.qr(rng.normal(size=(3, 3)))
        Q *= np.sign(np.linalg.det(Q))  # proper rotation
        moved = [D[rng.permutation(len(D))] @ Q.T for D in hoods]
        B2 = evaluate(ev, moved)
        scale = np.maximum(np.abs(B), 1e-300)
        rel = np.abs(B2 - B) / np.maximum(scale, 1e-12 * np.abs(B).max(axis=0))
        assert rel.max() < 1e-10


@pytest.mark.parametrize("level", [8, 10, 12, 16, 20])
def test_linear_independence(level):
    """The N_lin functions are linearly independent over random neighbourhoods: full column rank of
    the sample matrix, with a wide gap to rounding (dependent columns would sit near 1e-15)."""
    rng = np.random.default_rng(3 + level)
    t = generate_template(level)
    ev = MTPEvaluator(random_potential(t, rng))
    hoods = [random_neighbourhood(rng, int(n)) for n in rng.integers(3, 24, size=3 * t.n_lin + 20)]
    B = evaluate(ev, hoods)
    B = B / np.linalg.norm(B, axis=0)
    s = np.linalg.svd(B, compute_uv=False)
    assert np.linalg.matrix_rank(B, tol=1e-9 * s[0]) == t.n_lin
    assert s[-1] / s[0] > 1e-8, f"smallest relative singular value {s[-1] / s[0]:.2e}"


def test_bad_level():
    with pytest.raises(ValueError, match="level must be >= 2"):
        generate_template(1)

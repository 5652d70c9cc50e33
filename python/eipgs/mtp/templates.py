# SPDX-License-Identifier: GPL-2.0-only
"""Our own MTP basis ("template") of a given level, generated from the contraction algebra.

MLIP-3's template files cannot be redistributed, so the basis is built here from scratch in the
``.almtp`` semantics of doc/design/mtp.md §1.3:

* **Basic moments** M_{μ,ν} = Σ_j f_μ(r_j) r̂_j^{⊗ν} (level 2 + 4μ + ν) are stored as their symmetric
  Cartesian components {μ, a, b, c}, a + b + c = ν (``alpha_index_basic``).
* **Basis functions** are full contractions of products of moment tensors, described by a
  *contraction graph*: one node per factor (its radial index μ), an edge of multiplicity k between two
  factors that share k index pairs. A node's tensor rank ν is its degree; the level of a function is
  the sum of its factors' levels, 2n + 4Σμ + 2·(number of contracted index pairs). Disconnected
  graphs are products of connected invariants. Self-loops are excluded: r̂·r̂ = 1 turns a traced
  M_{μ,ν} into M_{μ,ν−2}, a duplicate.
* **Evaluation** (``alpha_index_times``, entries {i0, i1, mult, i3}: M[i3] += mult·M[i0]·M[i1], in
  order). A connected graph is evaluated by absorbing its factors one at a time into a running
  intermediate V. Contracting symmetric tensors T (rank p) and U (rank q) over k index pairs gives
  V_{IJ} = Σ_K T_{IK} U_{KJ} (|I| = p−k, |J| = q−k, n = p+q−2k), which is symmetric in I and in J but
  not across them. We store the components of the symmetric tensor

      Ṽ[γ] = Σ_{β ≤ γ, |β| = p−k} Π_i C(γ_i, β_i) · Σ_{|κ| = k} (k! / κ_x! κ_y! κ_z!) · T[β+κ] · U[γ−β+κ]

  which equals C(n, p−k)·Sym(V) (the binomial ratio is the share of index orderings that put the
  counts β in the I slots); all weights are integers, as the file format requires. V is symmetric,
  so Ṽ = C(n, p−k)·V, when k = p or k = q (then Ṽ = V) or when both operands are the same tensor and
  p = q = k+1 (V_ab = Σ T_aK T_Kb = V_ba). Replacing V by its
  symmetrisation is exact when V is next contracted over *all* its indices with a symmetric tensor, so
  each graph gets an absorption order in which every non-symmetric intermediate is fully absorbed by
  the next factor when one exists; its function is then the plain contraction times the integer
  ``scale`` = Π C(n, p−k) (``BasisFunction.exact``). The few graphs without such an order (none up
  to level 16; from level 18, e.g. two M_0,2 and two M_0,3 joined by five single edges) keep the invariant of their
  symmetrised chain — still rotation- and permutation-invariant, but not the plain contraction.

Graphs are deduplicated by a canonical form (minimum over node permutations) and intermediates are
shared between functions, so equal functions and equal partial contractions appear once. Functions
that are linear combinations of earlier ones (3-D identities such as Cayley–Hamilton) are dropped.
With at most 4 moment tensors per function, N_basic and (before that filter) N_lin equal MLIP-3's
template counts of doc/design/mtp.md §1.4 (see doc/cli_bootstrap.md).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from eipgs.io.almtp import MomentBasisCounts

__all__ = [
    "ContractionGraph",
    "BasisFunction",
    "MTPTemplate",
    "generate_template",
    "moment_level",
    "radial_funcs_for_level",
    "symmetric_components",
]


def moment_level(mu: int, nu: int) -> int:
    """lev(M_{μ,ν}) = 2 + 4μ + ν (doc/design/mtp.md §1.3)."""
    return 2 + 4 * mu + nu


def radial_funcs_for_level(level: int) -> int:
    """K = number of radial functions: every μ whose scalar moment M_{μ,0} fits the level (as MLIP-3, capped at 6)."""
    return min((level - 2) // 4 + 1, 6)


@lru_cache(maxsize=None)
def symmetric_components(n: int) -> tuple[tuple[int, int, int], ...]:
    """Exponent triples (a, b, c), a+b+c = n, in MLIP-3's order: a descending, then b descending."""
    return tuple((a, b, n - a - b) for a in range(n, -1, -1) for b in range(n - a, -1, -1))


@lru_cache(maxsize=None)
def _component_index(n: int) -> dict[tuple[int, int, int], int]:
    return {t: i for i, t in enumerate(symmetric_components(n))}


def _multinomial(t: tuple[int, int, int]) -> int:
    return math.factorial(sum(t)) // (math.factorial(t[0]) * math.factorial(t[1]) * math.factorial(t[2]))


@lru_cache(maxsize=None)
def contraction_terms(p: int, q: int, k: int) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """Ṽ[γ] = Σ weight · T[iT] · U[iU] for each output component γ (module docstring), as tuples
    (iT, iU, weight) of component indices of ranks p and q; the outer tuple follows symmetric_components(n)."""
    if not 0 <= k <= min(p, q):
        raise ValueError(f"cannot contract ranks {p} and {q} over {k} index pairs")
    n = p + q - 2 * k
    idx_p, idx_q = _component_index(p), _component_index(q)
    out = []
    for g in symmetric_components(n):
        terms: dict[tuple[int, int], int] = {}
        for b in symmetric_components(p - k):
            if any(bi > gi for bi, gi in zip(b, g)):
                continue
            w_split = math.comb(g[0], b[0]) * math.comb(g[1], b[1]) * math.comb(g[2], b[2])
            rest = (g[0] - b[0], g[1] - b[1], g[2] - b[2])
            for kap in symmetric_components(k):
                iT = idx_p[(b[0] + kap[0], b[1] + kap[1], b[2] + kap[2])]
                iU = idx_q[(rest[0] + kap[0], rest[1] + kap[1], rest[2] + kap[2])]
                terms[(iT, iU)] = terms.get((iT, iU), 0) + w_split * _multinomial(kap)
        out.append(tuple((iT, iU, w) for (iT, iU), w in sorted(terms.items())))
    return tuple(out)


# ----------------------------------------------------------------------------------- graphs


@dataclass(frozen=True)
class ContractionGraph:
    """A connected full contraction of moment tensors: node i is M_{mus[i], ν_i}, ``edges`` are
    (i, j, k) with i < j: factors i and j share k index pairs. ν_i = sum of k over i's edges."""

    mus: tuple[int, ...]
    edges: tuple[tuple[int, int, int], ...]

    @property
    def n_nodes(self) -> int:
        return len(self.mus)

    @property
    def nus(self) -> tuple[int, ...]:
        nu = [0] * len(self.mus)
        for i, j, k in self.edges:
            nu[i] += k
            nu[j] += k
        return tuple(nu)

    @property
    def level(self) -> int:
        return sum(moment_level(m, v) for m, v in zip(self.mus, self.nus))

    def multiplicity(self, i: int, j: int) -> int:
        for a, b, k in self.edges:
            if (a, b) == (min(i, j), max(i, j)):
                return k
        return 0

    def __str__(self) -> str:
        if self.n_nodes == 1:
            return f"M{self.mus[0]},0"
        nodes = " ".join(f"M{m},{v}" for m, v in zip(self.mus, self.nus))
        links = " ".join(f"{i}-{j}" + (f"x{k}" if k > 1 else "") for i, j, k in self.edges)
        return f"[{nodes} | {links}]"


def _canonical(mus: tuple[int, ...], adj: np.ndarray) -> tuple:
    """Minimum over node permutations of (μ labels, upper-triangular multiplicities)."""
    n = len(mus)
    iu = np.triu_indices(n, 1)
    best = None
    for perm in itertools.permutations(range(n)):
        p = list(perm)
        key = (tuple(mus[i] for i in p), tuple(adj[np.ix_(p, p)][iu].tolist()))
        if best is None or key < best:
            best = key
    return best


def _graph_from_key(key: tuple) -> ContractionGraph:
    mus, upper = key
    n = len(mus)
    edges = []
    for (i, j), k in zip(zip(*np.triu_indices(n, 1)), upper):
        if k:
            edges.append((int(i), int(j), int(k)))
    return ContractionGraph(tuple(mus), tuple(edges))


def _connected(n: int, adj: np.ndarray) -> bool:
    seen = {0}
    stack = [0]
    while stack:
        i = stack.pop()
        for j in range(n):
            if adj[i, j] and j not in seen:
                seen.add(j)
                stack.append(j)
    return len(seen) == n


def _compositions(total: int, parts: int):
    """All tuples of ``parts`` non-negative integers summing to ``total``."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(total - first, parts - 1):
            yield (first,) + rest


def connected_graphs(level: int, n_radial: int, max_nodes: int) -> list[ContractionGraph]:
    """Every connected contraction graph (no self-loops) of level ≤ ``level`` with μ < n_radial, up to isomorphism."""
    found: dict[tuple, ContractionGraph] = {}
    for mu in range(n_radial):
        if moment_level(mu, 0) <= level:
            g = ContractionGraph((mu,), ())
            found[((mu,), ())] = g
    for n in range(2, max_nodes + 1):
        pairs = list(itertools.combinations(range(n), 2))
        for mus in itertools.combinations_with_replacement(range(n_radial), n):
            budget = level - 2 * n - 4 * sum(mus)  # = 2 · (contracted index pairs)
            e_max = budget // 2
            for e in range(n - 1, e_max + 1):
                for mult in _compositions(e, len(pairs)):
                    adj = np.zeros((n, n), dtype=np.int64)
                    for (i, j), k in zip(pairs, mult):
                        adj[i, j] = adj[j, i] = k
                    if not _connected(n, adj):
                        continue
                    key = _canonical(mus, adj)
                    if key not in found:
                        found[key] = _graph_from_key(key)
    return sorted(found.values(), key=lambda g: (g.level, g.n_nodes, g.mus, g.edges))


def absorption_order(graph: ContractionGraph) -> tuple[tuple[int, ...], int, bool] | None:
    """An order of absorbing the factors one at a time (each new factor linked to the ones before), its
    integer scale Π C(n, p−k), and whether it is *exact*: every non-symmetric intermediate is
    contracted over all its indices by the next factor, so storing its symmetrisation does not change
    the value and B = scale · (plain contraction of the graph).

    A contraction V of two tensors is symmetric when k = p or k = q, or when both operands are the same
    tensor and p = q = k + 1 (V_ab = Σ T_aK T_Kb = V_ba). Exact orders are preferred, then the smallest
    scale. A graph without an exact order (e.g. tr(T·U·W·X) of distinct tensors) still gets a valid
    invariant from the symmetrised chain; None only for a disconnected graph.
    """
    n = graph.n_nodes
    if n == 1:
        return (0,), 1, True
    nus = graph.nus
    best = None
    for order in itertools.permutations(range(n)):
        group = {order[0]}
        rank = nus[order[0]]
        operand = ("b", graph.mus[order[0]], rank)  # identity of the running tensor (for the same-tensor rule)
        symmetric = True
        exact = True
        scale = 1
        ok = True
        for x in order[1:]:
            k = sum(graph.multiplicity(x, g) for g in group)
            if k == 0:  # a tensor product: keep the prefix connected
                ok = False
                break
            if not symmetric and k != rank:
                exact = False
            q = nus[x]
            new_rank = rank + q - 2 * k
            scale *= math.comb(new_rank, rank - k)
            same = operand == ("b", graph.mus[x], q) and rank == q == k + 1
            symmetric = k == rank or k == q or same
            operand = ("v", operand, x)
            rank = new_rank
            group.add(x)
        if not ok:
            continue
        cand = (not exact, scale, order)
        if best is None or cand < best:
            best = cand
    if best is None:
        return None
    return best[2], best[1], not best[0]


# ----------------------------------------------------------------------------------- template


@dataclass(frozen=True)
class BasisFunction:
    """B = scale · Π_factors (plain contraction of the factor's graph)."""

    factors: tuple[ContractionGraph, ...]
    scale: int
    # Per factor, its absorption order (node indices of the graph) — the evaluation chain.
    orders: tuple[tuple[int, ...], ...] = ()
    # True: B = scale · Π plain contractions; False: some intermediate is a genuine symmetrisation,
    # and B is defined by the chain (each step: contract, symmetrise, times C(n, p−k)).
    exact: bool = True

    @property
    def level(self) -> int:
        return sum(f.level for f in self.factors)

    @property
    def n_moments(self) -> int:
        """Degree of B as a polynomial in the moment tensors."""
        return sum(f.n_nodes for f in self.factors)

    def radial_degree(self, mu: int) -> int:
        """How many factors use radial function μ (B is homogeneous of this degree in f_μ)."""
        return sum(f.mus.count(mu) for f in self.factors)

    def __str__(self) -> str:
        body = " * ".join(str(f) for f in self.factors)
        return body if self.scale == 1 else f"{self.scale} * {body}"


@dataclass
class MTPTemplate(MomentBasisCounts):
    """An MTP basis in ``.almtp`` form plus the description of every basis function."""

    level: int
    radial_funcs_count: int
    alpha_index_basic: np.ndarray  # (N_basic, 4)
    alpha_index_times: np.ndarray  # (N_times, 4)
    alpha_moment_mapping: np.ndarray  # (N_lin,)
    alpha_moments_count: int
    functions: list[BasisFunction] = field(default_factory=list)
    skipped_graphs: list[ContractionGraph] = field(default_factory=list)
    dependent_dropped: list[str] = field(default_factory=list)

    def n_params(self, species_count: int = 1, radial_basis_size: int = 8) -> int:
        """m = C²KR + C + N_lin (doc/design/mtp.md §1.4)."""
        C = species_count
        return C * C * self.radial_funcs_count * radial_basis_size + C + self.n_lin

    def potential(
        self,
        *,
        species_count: int = 1,
        min_dist: float = 2.0,
        max_dist: float = 5.0,
        radial_basis_size: int = 8,
        radial_coeffs: np.ndarray | None = None,
        species_coeffs: np.ndarray | None = None,
        moment_coeffs: np.ndarray | None = None,
        scaling: float = 1.0,
        species_labels: list[int] | None = None,
        potential_name: str | None = None,
    ):
        """An :class:`~eipgs.io.almtp.MTPPotential` with this basis (untrained when radial_coeffs is None)."""
        from eipgs.io.almtp import MTPPotential

        C = species_count
        return MTPPotential(
            species_count=C,
            radial_basis_type="RBChebyshev",
            min_dist=float(min_dist),
            max_dist=float(max_dist),
            radial_basis_size=radial_basis_size,
            radial_funcs_count=self.radial_funcs_count,
            radial_coeffs=None if radial_coeffs is None else np.asarray(radial_coeffs, dtype=float),
            species_labels=list(range(C)) if species_labels is None else list(species_labels),
            alpha_moments_count=self.alpha_moments_count,
            alpha_index_basic=self.alpha_index_basic.copy(),
            alpha_index_times=self.alpha_index_times.copy(),
            alpha_moment_mapping=self.alpha_moment_mapping.copy(),
            species_coeffs=np.zeros(C) if species_coeffs is None else np.asarray(species_coeffs, dtype=float),
            moment_coeffs=np.zeros(self.n_lin) if moment_coeffs is None else np.asarray(moment_coeffs, dtype=float),
            scaling=float(scaling),
            potential_name=potential_name,
        )


class _MomentBuilder:
    """Assigns moment indices and emits ``alpha_index_times`` entries, sharing equal intermediates."""

    def __init__(self, basic_tensors: list[tuple[int, int]]):
        self.basic_start: dict[tuple[int, int], int] = {}
        basic = []
        for mu, nu in basic_tensors:
            self.basic_start[(mu, nu)] = len(basic)
            basic.extend((mu, a, b, c) for a, b, c in symmetric_components(nu))
        self.basic = np.array(basic, dtype=np.int64).reshape(-1, 4)
        self.n_mom = len(basic)
        self.times: list[tuple[int, int, int, int]] = []
        self.derived: dict[tuple, tuple[int, int]] = {}  # key → (first moment index, rank)

    def basic_tensor(self, mu: int, nu: int) -> tuple[tuple, int, int]:
        return ("b", mu, nu), self.basic_start[(mu, nu)], nu

    def _node(self, key: tuple, rank: int, terms_by_component) -> tuple[tuple, int, int]:
        start = self.n_mom
        self.n_mom += len(symmetric_components(rank))
        for comp, terms in enumerate(terms_by_component):
            acc: dict[tuple[int, int], int] = {}
            for i0, i1, w in terms:
                pair = (min(i0, i1), max(i0, i1))  # M[x]·M[y] = M[y]·M[x]: one entry
                acc[pair] = acc.get(pair, 0) + w
            for (i0, i1), w in sorted(acc.items()):
                self.times.append((i0, i1, w, start + comp))
        self.derived[key] = (start, rank)
        return key, start, rank

    def contract(self, left: tuple[tuple, int, int], right: tuple[tuple, int, int], k: int) -> tuple[tuple, int, int]:
        (kl, sl, p), (kr, sr, q) = sorted([left, right], key=lambda t: repr(t[0]))
        key = ("c", kl, kr, k)
        if key in self.derived:
            start, rank = self.derived[key]
            return key, start, rank
        terms = [
            [(sl + iT, sr + iU, w) for iT, iU, w in comp_terms] for comp_terms in contraction_terms(p, q, k)
        ]
        return self._node(key, p + q - 2 * k, terms)


def _products(connected: list[tuple[ContractionGraph, int]], level: int, max_factors: int | None):
    """Multisets of connected invariants (sorted index tuples) with total level ≤ level."""
    lev = [g.level for g, _ in connected]
    nodes = [g.n_nodes for g, _ in connected]
    out = []

    def rec(start: int, chosen: list[int], total: int, n_nodes: int):
        if chosen:
            out.append(tuple(chosen))
        for i in range(start, len(connected)):
            if total + lev[i] > level:
                continue
            if max_factors is not None and n_nodes + nodes[i] > max_factors:
                continue
            chosen.append(i)
            rec(i, chosen, total + lev[i], n_nodes + nodes[i])
            chosen.pop()

    rec(0, [], 0, 0)
    return out


def generate_template(
    level: int,
    *,
    max_nodes: int = 4,
    max_factors: int | None = 4,
    symmetrised: bool = True,
    independent: bool = True,
) -> MTPTemplate:
    """The basis of all full contractions of level ≤ ``level`` (module docstring).

    ``max_nodes`` bounds the factors of a connected contraction, ``max_factors`` the total number of
    moment tensors in a product (4, as the MLIP-3 counts of doc/design/mtp.md §1.4 imply; None: no bound).
    ``symmetrised=False`` leaves out graphs without an exact absorption order instead of using their
    symmetrised chain. ``independent`` drops functions that are linear combinations of earlier ones
    (checked numerically, see :func:`_dependent_functions`).
    """
    level = int(level)
    if level < 2:
        raise ValueError(f"MTP level must be >= 2 (the scalar moment M_0,0 has level 2), got {level}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
    K = radial_funcs_for_level(level)
    graphs = connected_graphs(level, K, max_nodes)
    usable: list[tuple[ContractionGraph, tuple[int, ...], int, bool]] = []
    skipped = []
    for g in graphs:
        plan = absorption_order(g)
        if plan is None or (not plan[2] and not symmetrised):
            skipped.append(g)
        else:
            usable.append((g, plan[0], plan[1], plan[2]))
    products = _products([(g, s) for g, _, s, _ in usable], level, max_factors)
    functions = []
    for prod in products:
        facs = tuple(usable[i][0] for i in prod)
        scale = math.prod(usable[i][2] for i in prod)
        orders = tuple(usable[i][1] for i in prod)
        exact = all(usable[i][3] for i in prod)
        functions.append((prod, BasisFunction(facs, scale, orders, exact)))
    # Within a level: fewer moment tensors first, products before connected contractions (so the
    # independence filter drops e.g. tr T⁴ rather than (T:T)²).
    functions.sort(key=lambda t: (t[1].level, t[1].n_moments, -len(t[0]), t[0]))

    template, kept = _build(level, K, usable, functions, skipped)
    if independent:
        dependent = _dependent_functions(template)
        if dependent:
            # Rebuild without them so that no unused moments or products remain in the file.
            drop = {id(template.functions[a]) for a in dependent}
            kept = [(prod, f) for prod, f in kept if id(f) not in drop]
            template, _ = _build(level, K, usable, kept, skipped)
            template.dependent_dropped = [str(f) for f in (fn for _, fn in functions) if id(f) in drop]
    return template


def _build(level, K, usable, functions, skipped) -> tuple[MTPTemplate, list]:
    used = sorted({(m, v) for _, f in functions for g in f.factors for m, v in zip(g.mus, g.nus)})
    mus_used = {m for m, _ in used}
    if mus_used != set(range(K)):
        raise AssertionError(f"level {level}: radial indices {sorted(mus_used)} do not cover 0..{K - 1}")
    builder = _MomentBuilder(used)

    scalar_of_graph: dict[int, tuple[tuple, int, int]] = {}

    def graph_moment(i: int) -> tuple[tuple, int, int]:
        g, order, _, _ = usable[i]
        if i in scalar_of_graph:
            return scalar_of_graph[i]
        current = builder.basic_tensor(g.mus[order[0]], g.nus[order[0]])
        group = [order[0]]
        for x in order[1:]:
            k = sum(g.multiplicity(x, y) for y in group)
            current = builder.contract(current, builder.basic_tensor(g.mus[x], g.nus[x]), k)
            group.append(x)
        scalar_of_graph[i] = current
        return current

    mapping = []
    kept = []
    prefix: dict[tuple[int, ...], tuple[tuple, int, int]] = {}
    for prod, f in functions:
        current = None
        for n_f in range(1, len(prod) + 1):
            key = prod[:n_f]
            if key in prefix:
                current = prefix[key]
                continue
            factor = graph_moment(prod[n_f - 1])
            current = factor if current is None else builder.contract(current, factor, 0)
            prefix[key] = current
        if current[1] in mapping:
            continue  # two graphs with the same evaluation chain are the same function
        mapping.append(current[1])
        kept.append((prod, f))
    template = MTPTemplate(
        level=level,
        radial_funcs_count=K,
        alpha_index_basic=builder.basic,
        alpha_index_times=np.array(builder.times, dtype=np.int64).reshape(-1, 4),
        alpha_moment_mapping=np.array(mapping, dtype=np.int64),
        alpha_moments_count=builder.n_mom,
        functions=[f for _, f in kept],
        skipped_graphs=skipped,
    )
    return template, kept


def _dependent_functions(template: MTPTemplate, seed: int = 20250118, tol: float = 1e-8) -> list[int]:
    """Indices of basis functions that are linear combinations of earlier ones, found numerically on
    random neighbourhoods (Gram–Schmidt on unit-norm columns). In 3-D some contractions are linearly
    dependent, e.g. Cayley–Hamilton makes tr(T⁴) of T = M_{0,2} a combination of products of
    tr T = M_{0,0}, tr T², tr T³; such a column could never be spanned by data and would only
    leave an unfillable row in the active set. Residuals are ~1e-15 for dependent and ≥ 1e-4
    for independent columns at the levels tested, so the threshold is not delicate."""
    from eipgs.mtp.evaluator import MTPEvaluator

    rng = np.random.default_rng(seed)
    K, R = template.radial_funcs_count, 8
    r_min, r_cut = 2.0, 5.0
    pot = template.potential(
        min_dist=r_min,
        max_dist=r_cut,
        radial_basis_size=R,
        radial_coeffs=rng.normal(size=(1, 1, K, R)) / (1.0 + np.arange(R)),
        scaling=1.0 / (r_cut - r_min) ** 2,
    )
    ev = MTPEvaluator(pot)
    counts = rng.integers(3, 24, size=3 * template.n_lin + 20)
    n = int(counts.sum())
    u = rng.normal(size=(n, 3))
    D = u / np.linalg.norm(u, axis=1)[:, None] * rng.uniform(r_min, r_cut - 0.05, size=n)[:, None]
    centre = np.repeat(np.arange(len(counts)), counts)
    B = ev.evaluate(len(counts), np.zeros(len(counts), dtype=int), centre, np.zeros(n, dtype=int), D, rows=False).basis
    B = B / np.linalg.norm(B, axis=0)
    basis = np.zeros((len(B), 0))
    dependent = []
    for a in range(B.shape[1]):
        v = B[:, a].copy()
        for _ in range(2):  # re-orthogonalise once (classical Gram–Schmidt twice)
            v -= basis @ (basis.T @ v)
        norm = float(np.linalg.norm(v))
        if norm < tol:
            dependent.append(a)
        else:
            basis = np.hstack([basis, (v / norm)[:, None]])
    return dependent

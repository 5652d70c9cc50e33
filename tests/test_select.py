# SPDX-License-Identifier: GPL-2.0-only
"""eipgs select (doc/design/mtp.md §6): select_add semantics against an independent brute-force D-optimal
greedy (explicit determinants), identical candidates, outsorting, features, batching, --nbh clusters."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ase import Atoms

from eipgs.activeset import build_active_set
from eipgs.cli import main
from eipgs.io.almtp import read_almtp, write_almtp
from eipgs.io.cfg import read_cfg, write_cfg
from eipgs.mtp import MaxVol, MTPEvaluator, evaluate_configuration
from eipgs.mtp.streaming import stream_maxvol
from eipgs.select import select, select_configurations

# A tiny MTP (C=1, K=2, R=3, moments M0, M1, |v|², M0·M1): m = 1·2·3 + 1 + 4 = 11, small enough for
# brute-force determinants.
TINY_MTP = """MTP
version = 1.1.0
potential_name = tiny
scaling = 1.000000000000000e+00
species_count = 1
potential_tag = 
radial_basis_type = RBChebyshev
\tmin_dist = 1.500000000000000e+00
\tmax_dist = 4.000000000000000e+00
\tradial_basis_size = 3
\tradial_funcs_count = 2
\tradial_coeffs
\t\t0-0
\t\t\t{7.0e-01, -3.0e-01, 2.0e-01}
\t\t\t{-4.0e-01, 5.0e-01, 3.0e-01}
alpha_moments_count = 7
alpha_index_basic_count = 5
alpha_index_basic = {{0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}
alpha_index_times_count = 4
alpha_index_times = {{2, 2, 1, 5}, {3, 3, 1, 5}, {4, 4, 1, 5}, {0, 1, 1, 6}}
alpha_scalar_moments = 4
alpha_moment_mapping = {0, 1, 5, 6}
species_coeffs = {-1.0e+00}
moment_coeffs = {3.0e-01, -2.0e-01, 1.0e-01, 5.0e-02}
"""
TAU = 1.001


def _cluster(rng, n, box=4.5, dmin=1.8) -> Atoms:
    pos = []
    while len(pos) < n:
        p = rng.uniform(0, box, 3)
        if all(np.linalg.norm(p - q) > dmin for q in pos):
            pos.append(p)
    a = Atoms(numbers=[0] * n, positions=pos, pbc=False)
    a.arrays["type"] = np.zeros(n, dtype=int)
    return a


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny MTP, training set, an .almtp whose active set covers the first half of the training set."""
    d = tmp_path_factory.mktemp("tiny")
    (d / "tiny.mtp").write_text(TINY_MTP)
    pot = read_almtp(d / "tiny.mtp")
    rng = np.random.default_rng(11)
    train = [_cluster(rng, int(rng.integers(3, 7))) for _ in range(10)]
    for k, a in enumerate(train):
        a.info["features"] = {"from": f"train{k}"}
    aset, _ = build_active_set(pot, train[:5])
    write_almtp(d / "tiny.almtp", pot.replace(active_set=aset))
    write_cfg(d / "train.cfg", train, no_loss=True)
    return d, read_almtp(d / "tiny.almtp"), read_cfg(d / "train.cfg")


def _rows(pot, configs):
    ev = MTPEvaluator(pot)
    out = []
    for a in configs:
        res = evaluate_configuration(ev, a.positions, a.cell[:], a.pbc, np.zeros(len(a), int), grades=False, keep_rows=True)
        out.append(res.rows)
    return out


# ------------------------------------------------------------------------- brute-force reference


def _bf_maxvol(A, labels, cand, cand_labels, tau, entered):
    """Greedy D-optimal design by explicit determinants: repeatedly make the single swap (candidate i ↔ row j)
    with the largest |det A'| / |det A|, while that ratio exceeds τ. Outgoing rows become candidates."""
    A = A.copy()
    labels = list(labels)
    cand = [c.copy() for c in cand]
    cand_labels = list(cand_labels)
    while cand:
        _, base = np.linalg.slogdet(A)
        best, arg = -np.inf, None
        for i, j in itertools.product(range(len(cand)), range(len(A))):
            A2 = A.copy()
            A2[j] = cand[i]
            sign, ld = np.linalg.slogdet(A2)
            if sign != 0 and ld - base > best + 1e-12:
                best, arg = ld - base, (i, j)
        if arg is None or np.exp(best) <= tau:
            break
        i, j = arg
        A[j], cand[i] = cand[i].copy(), A[j].copy()
        labels[j], cand_labels[i] = cand_labels[i], labels[j]
        entered.add(labels[j])
    return A, labels


def _bf_select(pot, train_rows, cand_rows, tau, batch_size):
    """select_add (doc/design/mtp.md §6) on the reference greedy; labels ('t'|'c', cfg, atom)."""
    aset = pot.active_set
    A = aset.A.copy()
    labels = [("p", r) if aset.links[r, 0] >= 0 else None for r in range(pot.m)]
    t_rows = [r for rows in train_rows for r in rows]
    t_lab = [("t", k, i) for k, rows in enumerate(train_rows) for i in range(len(rows))]
    entered: set = set()
    A, labels = _bf_maxvol(A, labels, t_rows, t_lab, 1.001, entered)
    for start in range(0, len(cand_rows), batch_size):
        ks = range(start, min(start + batch_size, len(cand_rows)))
        c_rows = [r for k in ks for r in cand_rows[k]]
        c_lab = [("c", k, i) for k in ks for i in range(len(cand_rows[k]))]
        A, labels = _bf_maxvol(A, labels, c_rows, c_lab, tau, entered)
    A, labels = _bf_maxvol(A, labels, t_rows, t_lab, 1.001, entered)
    final = {lab for lab in labels if lab and lab[0] == "c"}
    sel = {}
    for _, k, i in sorted(final):
        sel.setdefault(k, []).append(i)
    outsorted = {lab[1] for lab in entered if lab and lab[0] == "c"} - set(sel)
    return sel, outsorted


def _as_dict(selection):
    return {k: v.tolist() for k, v in selection.selected.items()}


# ------------------------------------------------------------------------- tests


@pytest.mark.parametrize("batch_size", [100, 2])
def test_selection_equals_brute_force_greedy(tiny, batch_size):
    d, pot, train = tiny
    rng = np.random.default_rng(5)
    cands = [_cluster(rng, int(rng.integers(3, 6)), box=4.0, dmin=1.6) for _ in range(6)]
    sel = select_configurations(
        pot, train, [np.zeros(len(a), int) for a in train], cands, [np.zeros(len(a), int) for a in cands],
        threshold=TAU, batch_size=batch_size,
    )
    ref, _ = _bf_select(pot, _rows(pot, train), _rows(pot, cands), TAU, batch_size)
    assert _as_dict(sel) == ref
    assert sel.n_selected > 0 and sel.n_selected < len(cands)  # the case is not trivial
    # The written active set: A·Sᵀ = I, links point at stored configurations owning those rows.
    aset = sel.active_set
    assert aset.inverse_error() < 1e-8
    for r, (c, e) in enumerate(aset.links):
        if c < 0:
            continue
        conf = aset.configurations[c]
        i = e - 3 * len(conf) - 10
        assert str(e) in conf.info["features"]["selected_eqn_inds"].split(",")
        np.testing.assert_allclose(_rows(pot, [conf])[0][i], aset.A[r], atol=1e-12)


def test_identical_candidates_at_most_one_selected(tiny):
    d, pot, train = tiny
    rng = np.random.default_rng(8)
    c = _cluster(rng, 5, box=4.0, dmin=1.6)
    cands = [c, c.copy(), c.copy()]
    sel = select_configurations(pot, train, [np.zeros(len(a), int) for a in train], cands, [np.zeros(5, int)] * 3, progress=True)
    assert sel.n_selected == 1
    assert 0 in sel.selected  # the copy that comes first


def test_duplicate_rows_mask():
    from eipgs.mtp.streaming import _duplicates

    r = np.random.default_rng(0).normal(size=(10, 5))
    r[7] = r[2]
    r[9] = r[2]
    r[4] = r[1]
    r[6] = np.nextafter(r[3], np.inf)  # one ulp apart: not identical, kept
    labels = np.array([5, 3, 9, 1, 0, 8, 2, 4, 6, 7])
    np.testing.assert_array_equal(np.flatnonzero(_duplicates(r, labels, block=3)), [1, 2, 9])


def test_outsorting(tiny):
    """A candidate whose row entered A but was pushed out later (by a later batch or the re-added training
    set) is not selected; found with the reference on a few seeds, then checked against select."""
    d, pot, train = tiny
    t_rows = _rows(pot, train)
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        cands = [_cluster(rng, int(rng.integers(3, 6)), box=4.0, dmin=1.6) for _ in range(5)]
        ref, outsorted = _bf_select(pot, t_rows, _rows(pot, cands), TAU, batch_size=1)
        if outsorted:
            break
    else:
        pytest.fail("no outsorting case among the seeds")
    sel = select_configurations(
        pot, train, [np.zeros(len(a), int) for a in train], cands, [np.zeros(len(a), int) for a in cands], batch_size=1
    )
    assert _as_dict(sel) == ref
    assert not (outsorted & set(sel.selected))


def test_cli_features_preserved_and_selected_eqn_inds(tiny, tmp_path):
    d, pot, train = tiny
    rng = np.random.default_rng(5)
    cands = [_cluster(rng, int(rng.integers(3, 6)), box=4.0, dmin=1.6) for _ in range(6)]
    for k, a in enumerate(cands):
        a.info["features"] = {"from": f"md/run{k}.dump", "EFS_by": "nobody", "multi": "line1\nline2"}
    write_cfg(tmp_path / "cand.cfg", cands)
    out = tmp_path / "sel.cfg"
    rc = main(["select", str(d / "tiny.almtp"), str(d / "train.cfg"), str(tmp_path / "cand.cfg"), "-o", str(out),
               "-q", "--write-almtp", str(tmp_path / "new.almtp")])
    assert rc == 0
    got = read_cfg(out)
    cands_rt = read_cfg(tmp_path / "cand.cfg")
    ref, _ = _bf_select(pot, _rows(pot, read_cfg(d / "train.cfg")), _rows(pot, cands_rt), TAU, 9999)
    assert len(got) == len(ref)
    for a, (k, atoms_sel) in zip(got, sorted(ref.items())):
        f = a.info["features"]
        assert f["from"] == f"md/run{k}.dump" and f["EFS_by"] == "nobody" and f["multi"] == "line1\nline2"
        n = len(a)
        assert f["selected_eqn_inds"] == ",".join(str(3 * n + 10 + i) for i in atoms_sel)
        np.testing.assert_allclose(a.positions, cands_rt[k].positions, atol=1e-6)
    new = read_almtp(tmp_path / "new.almtp")
    assert new.active_set.inverse_error() < 1e-8
    # Every training and selected row is now interpolated (γ ≤ 1.001, the MaxVol fixed point after re-adding).
    g = MaxVol.from_active_set(new.active_set).grades(np.concatenate(_rows(pot, read_cfg(d / "train.cfg"))))
    assert g.max() <= 1.001 + 1e-9


def test_memory_bounded_batching(tiny):
    """Small chunks with a pool that holds the batch: identical to one joint MaxVol (the reference). A pool
    smaller than the batch (closure passes): still a MaxVol fixed point of the whole batch."""
    d, pot, train = tiny
    rng = np.random.default_rng(21)
    cands = [_cluster(rng, int(rng.integers(3, 6)), box=4.0, dmin=1.6) for _ in range(12)]
    rows = np.concatenate(_rows(pot, cands))
    labels = np.arange(len(rows), dtype=np.int64)

    def chunks(size):
        return lambda: ((rows[s : s + size], labels[s : s + size]) for s in range(0, len(rows), size))

    def start():  # loaded rows labelled by position (≥ 0), as eipgs.select does
        filled = pot.active_set.links[:, 0] >= 0
        return MaxVol.from_matrices(pot.active_set.A, pot.active_set.S, np.where(filled, 10_000 + np.arange(pot.m), -1))

    joint = start()
    joint.add(rows, labels, TAU)
    streamed = start()
    st = stream_maxvol(streamed, chunks(3), TAU, max_pool_rows=10_000)
    assert st.passes == 1
    np.testing.assert_array_equal(np.sort(streamed.labels), np.sort(joint.labels))
    np.testing.assert_allclose(streamed.A, joint.A)
    # Same through select_configurations with chunk_rows=3 vs the default.
    args = (pot, train, [np.zeros(len(a), int) for a in train], cands, [np.zeros(len(a), int) for a in cands])
    assert _as_dict(select_configurations(*args, chunk_rows=3)) == _as_dict(select_configurations(*args))

    small = start()
    log0 = small.log_det
    st = stream_maxvol(small, chunks(4), TAU, max_pool_rows=8)
    assert st.max_pool <= 8 + 4 and st.passes >= 2  # the closure path ran
    assert small.grades(rows[~np.isin(labels, small.labels)]).max() <= TAU + 1e-9
    assert small.log_det > log0 and small.inverse_error() < 1e-8
    assert all(h.factor > TAU or -h.factor > TAU for h in small.history)
    # Closure passes read the rows back from the spill file; re-evaluating them instead is identical.
    calls = []

    def counted():
        calls.append(1)
        return chunks(4)()

    again = start()
    st2 = stream_maxvol(again, counted, TAU, max_pool_rows=8, spill=False)
    assert len(calls) == st2.passes == st.passes
    np.testing.assert_array_equal(again.A, small.A)
    np.testing.assert_array_equal(again.labels, small.labels)


def _brute_sphere(a: Atoms, centre: int, cutoff: float):
    out = []
    cell = a.cell[:]
    for s in itertools.product(range(-3, 4), repeat=3):
        shift = np.asarray(s) @ cell
        for j in range(len(a)):
            v = a.positions[j] + shift - a.positions[centre]
            r = np.linalg.norm(v)
            if 0 < r < cutoff:
                out.append(v)
    return np.array(sorted(map(tuple, np.round(out, 6))))


def test_nbh_clusters_match_brute_force_spheres(tiny, tmp_path):
    d, pot, train = tiny
    rng = np.random.default_rng(3)
    cands = []
    for k in range(3):
        a = _cluster(rng, 3, box=3.5, dmin=1.7)
        a.cell = np.diag([4.2, 4.6, 5.0]) + np.array([[0, 0, 0], [0.7, 0, 0], [0, 0, 0]])
        a.pbc = True
        a.info["features"] = {"from": f"cell{k}"}
        cands.append(a)
    write_cfg(tmp_path / "cand.cfg", cands)
    cands = read_cfg(tmp_path / "cand.cfg")
    sel = select(d / "tiny.almtp", d / "train.cfg", [tmp_path / "cand.cfg"], tmp_path / "nbh.cfg", nbh=True, cutoff=6.0, progress=False)
    clusters = read_cfg(tmp_path / "nbh.cfg")
    assert len(clusters) == sum(len(v) for v in sel.selected.values()) > 1
    loaded = MaxVol.from_active_set(pot.active_set)
    for n, c in enumerate(clusters):
        f = c.info["features"]
        path, k = f["source"].rsplit(":", 1)
        k, centre = int(k), int(f["nbh#"])
        assert f["cfg#"] == str(n) and f["from"] == f"cell{k}" and centre in sel.selected[k]
        assert not c.pbc.any() and np.all(c.positions[0] == 0)
        np.testing.assert_allclose(np.array(sorted(map(tuple, np.round(c.positions[1:], 6)))), _brute_sphere(cands[k], centre, 6.0), atol=2e-6)
        gamma = loaded.grades(_rows(pot, [cands[k]])[0][centre])[0]
        assert abs(float(f["extrapolation_grade"]) - gamma) < 1e-5


def test_bad_input_messages(tiny, tmp_path, capsys):
    d, pot, train = tiny
    # Mixed species: type 1 is not a species of the one-species potential.
    a = _cluster(np.random.default_rng(0), 3)
    a.arrays["type"] = np.array([0, 1, 0])
    write_cfg(tmp_path / "mixed.cfg", [a])
    assert main(["select", str(d / "tiny.almtp"), str(d / "train.cfg"), str(tmp_path / "mixed.cfg"), "-o", str(tmp_path / "o.cfg"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "mixed.cfg: configuration 0" in err and "type(s) [1]" in err
    # Non-sequential ids.
    text = (tmp_path / "mixed.cfg").read_text().replace("\n             2    1", "\n             5    1", 1)
    assert "             5    1" in text
    (tmp_path / "ids.cfg").write_text(text)
    assert main(["select", str(d / "tiny.almtp"), str(d / "train.cfg"), str(tmp_path / "ids.cfg"), "-o", str(tmp_path / "o.cfg"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "ids.cfg" in err and "wrong order of id's" in err
    # Missing files: each is named.
    for argv, name in [
        (["missing.almtp", str(d / "train.cfg"), str(d / "train.cfg")], "missing.almtp"),
        ([str(d / "tiny.almtp"), str(tmp_path / "notrain.cfg"), str(d / "train.cfg")], "notrain.cfg"),
        ([str(d / "tiny.almtp"), str(d / "train.cfg"), str(tmp_path / "nocand.cfg")], "nocand.cfg"),
    ]:
        assert main(["select", *argv, "-o", str(tmp_path / "o.cfg"), "-q"]) == 1
        assert name in capsys.readouterr().err
    # A plain .mtp has no active set to select against.
    assert main(["select", str(d / "tiny.mtp"), str(d / "train.cfg"), str(d / "train.cfg"), "-o", str(tmp_path / "o.cfg"), "-q"]) == 1
    assert "tiny.mtp" in capsys.readouterr().err


def test_cli_small_memory_spills_and_stays_consistent(tiny, tmp_path):
    """--memory-mb far below the pool: closure passes from the spill file in --tmpdir; the selected rows are
    exactly the candidate rows of the written active set, and every training row is interpolated."""
    d, pot, train = tiny
    rng = np.random.default_rng(31)
    cands = [_cluster(rng, int(rng.integers(3, 6)), box=4.0, dmin=1.6) for _ in range(15)]
    for k, a in enumerate(cands):
        a.info["features"] = {"cand": str(k)}
    write_cfg(tmp_path / "cand.cfg", cands, no_loss=True)
    (tmp_path / "spill").mkdir()
    args = ["select", str(d / "tiny.almtp"), str(d / "train.cfg"), str(tmp_path / "cand.cfg"), "-o", str(tmp_path / "sel.cfg"), "-q",
            "--memory-mb", "0.0001", "--tmpdir", str(tmp_path / "spill"), "--write-almtp", str(tmp_path / "new.almtp")]
    assert main(args) == 0
    assert list((tmp_path / "spill").iterdir()) == []  # the spill file is gone
    new = read_almtp(tmp_path / "new.almtp").active_set
    cand_rows = _rows(pot, read_cfg(tmp_path / "cand.cfg"))
    selected = set()
    for a in read_cfg(tmp_path / "sel.cfg"):
        k = int(a.info["features"]["cand"])
        selected |= {(k, int(e) - 3 * len(a) - 10) for e in a.info["features"]["selected_eqn_inds"].split(",")}
    in_a = set()
    for r, (c, e) in enumerate(new.links):
        conf = new.configurations[c] if c >= 0 else None
        if conf is not None and "cand" in conf.info["features"]:
            k, i = int(conf.info["features"]["cand"]), int(e) - 3 * len(conf) - 10
            np.testing.assert_allclose(cand_rows[k][i], new.A[r], atol=1e-12)
            in_a.add((k, i))
    assert selected == in_a and selected
    g = MaxVol.from_active_set(new).grades(np.concatenate(_rows(pot, read_cfg(d / "train.cfg"))))
    assert g.max() <= 1.001 + 1e-9

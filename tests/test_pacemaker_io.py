# SPDX-License-Identifier: GPL-2.0-only
"""pacemaker pickles: the published W dataset, pckl → cfg → pckl, weights, bad files."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pandas as pd
import pytest
from ase import Atoms

from eipgs.io.formats import read_structures, write_structures
from eipgs.io.pacemaker import PacemakerFormatError, atoms_to_dataframe, read_pacemaker, write_pacemaker


@pytest.fixture(scope="module", params=[pytest.param("published", marks=pytest.mark.reference), "generated"])
def w_all(request, tmp_path_factory):
    """The published W DFT set, or the bootstrap's EAM training set in a pickle that pandas writes
    directly in pacemaker's column layout (not through our writer)."""
    if request.param == "published":
        return read_pacemaker(request.getfixturevalue("reference") / "W-all.pckl.gzip")
    images = read_structures(request.getfixturevalue("generated_reference") / "W-mlip3-basic.train.cfg", elements=["W"])
    energies = [a.get_potential_energy() for a in images]
    df = pd.DataFrame(
        {
            "ase_atoms": [Atoms(a.get_chemical_symbols(), positions=a.positions, cell=a.cell, pbc=a.pbc) for a in images],
            "energy": energies,
            "forces": [a.get_forces() for a in images],
            "energy_corrected": energies,
        }
    )
    path = tmp_path_factory.mktemp("pacemaker") / "W-eam.pckl.gzip"
    df.to_pickle(path, compression="gzip")
    return read_pacemaker(path)


def test_reads_published_w_dataset(reference):
    w_all = read_pacemaker(reference / "W-all.pckl.gzip")
    # Numbers from doc/design/pcc.md §6 (1026 structures, 94,516 atoms, 2–140 per structure, E/atom range).
    assert len(w_all) == 1026
    sizes = np.array([len(a) for a in w_all])
    assert sizes.sum() == 94516 and sizes.min() == 2 and sizes.max() == 140
    e_per_atom = np.array([a.get_potential_energy() / len(a) for a in w_all])
    assert e_per_atom.min() == pytest.approx(-12.957, abs=5e-4)
    assert e_per_atom.max() == pytest.approx(-11.804, abs=5e-4)
    assert all(set(a.get_chemical_symbols()) == {"W"} and a.pbc.all() for a in w_all)
    df = pd.read_pickle(reference / "W-all.pckl.gzip", compression="gzip")
    for k in (0, 500, 1025):
        np.testing.assert_array_equal(w_all[k].get_forces(), np.asarray(df["forces"][k]))
        assert w_all[k].info["energy_corrected"] == df["energy_corrected"][k]


def test_w_dataset_round_trip_through_cfg(w_all, tmp_path):
    """pckl → cfg → pckl keeps energies, forces, positions and cells of all structures (1026 in the
    published set) to 1e-8."""
    write_structures(tmp_path / "w.cfg", w_all)  # single species: the map W → type 0 is implied
    cfg = read_structures(tmp_path / "w.cfg", elements=["W"])
    write_structures(tmp_path / "w.pckl.gzip", cfg)
    back = read_pacemaker(tmp_path / "w.pckl.gzip")
    assert len(back) == len(w_all) > 1
    worst = 0.0
    for a, b in zip(w_all, back):
        assert a.get_chemical_symbols() == b.get_chemical_symbols()
        assert (a.pbc == b.pbc).all()
        worst = max(
            worst,
            abs(a.get_potential_energy() - b.get_potential_energy()),
            float(np.abs(a.get_forces() - b.get_forces()).max()),
            float(np.abs(a.positions - b.positions).max()),
            float(np.abs(a.cell[:] - b.cell[:]).max()),
        )
    assert worst <= 1e-8
    # And the file is still a pacemaker dataset: the four published columns, energy_corrected == energy (E0 = 0).
    df = pd.read_pickle(tmp_path / "w.pckl.gzip", compression="gzip")
    assert {"ase_atoms", "energy", "forces", "energy_corrected", "w_energy", "w_forces"} <= set(df.columns)
    np.testing.assert_array_equal(df["energy_corrected"].to_numpy(), df["energy"].to_numpy())


def test_reference_energies_and_weights(w_all, tmp_path):
    subset = w_all[:5]
    for atoms in subset:
        atoms.arrays["w_forces"] = np.linspace(0.5, 1.0, len(atoms))
    write_pacemaker(tmp_path / "s.pkl.gz", subset, e0={"W": -4.5})
    df = pd.read_pickle(tmp_path / "s.pkl.gz", compression="gzip")
    for k, atoms in enumerate(subset):
        n = len(atoms)
        assert df["energy_corrected"][k] == pytest.approx(atoms.get_potential_energy() + 4.5 * n, abs=1e-10)
        assert df["NUMBER_OF_ATOMS"][k] == n
    # Normalised as pacemaker's ExternalWeightingPolicy expects, ratios kept.
    assert df["w_energy"].sum() == pytest.approx(1.0)
    assert sum(w.sum() for w in df["w_forces"]) == pytest.approx(1.0)
    w0 = df["w_forces"][0]
    assert w0[-1] / w0[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"no reference energy for \['W'\]"):
        atoms_to_dataframe(subset, e0={"Cu": -3.0})


def test_merging_a_written_set_keeps_its_weight(w_all, tmp_path):
    """Read back, a normalised set has mean weight 1 again, so merging it with new structures and
    normalising once more weighs old and new structures alike (no silent down-weighting)."""
    old, new = w_all[:4], w_all[4:8]
    for atoms in old:
        atoms.arrays["w_forces"] = np.linspace(0.5, 1.0, len(atoms))
    write_pacemaker(tmp_path / "old.pckl.gzip", old)
    reread = read_pacemaker(tmp_path / "old.pckl.gzip")
    assert np.mean([a.info["w_energy"] for a in reread]) == pytest.approx(1.0)
    assert np.concatenate([a.arrays["w_forces"] for a in reread]).mean() == pytest.approx(1.0)
    assert reread[0].arrays["w_forces"][-1] / reread[0].arrays["w_forces"][0] == pytest.approx(2.0)
    for atoms in new:
        atoms.arrays.pop("w_forces", None)
        atoms.info.pop("w_energy", None)
    merged = atoms_to_dataframe([*reread, *new])
    w_e = merged["w_energy"].to_numpy()
    np.testing.assert_allclose(w_e, 1.0 / len(w_e))
    per_atom = [w.mean() for w in merged["w_forces"]]
    assert np.mean(per_atom[:4]) == pytest.approx(np.mean(per_atom[4:]), rel=1e-12)


def test_unknown_columns_survive(w_all, tmp_path):
    subset = [a.copy() for a in w_all[:3]]
    for k, (atoms, src) in enumerate(zip(subset, w_all[:3])):
        atoms.calc = src.calc
        atoms.info["name"] = f"cell-{k}"
        atoms.info["origin_tag"] = f"tag{k}"
    write_pacemaker(tmp_path / "a.pckl.gzip", subset)
    back = read_pacemaker(tmp_path / "a.pckl.gzip")
    assert [b.info["name"] for b in back] == ["cell-0", "cell-1", "cell-2"]
    assert [b.info["origin_tag"] for b in back] == ["tag0", "tag1", "tag2"]


def test_corrupted_pickle_names_the_file(w_all, tmp_path):
    good = tmp_path / "good.pckl.gzip"
    write_pacemaker(good, w_all[:20])
    data = good.read_bytes()
    truncated = tmp_path / "truncated.pckl.gzip"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(PacemakerFormatError, match="truncated.pckl.gzip"):
        read_pacemaker(truncated)
    garbage = tmp_path / "garbage.pckl.gzip"
    garbage.write_bytes(b"this is not a pickle at all\n" * 10)
    with pytest.raises(PacemakerFormatError, match="garbage.pckl.gzip.*not a readable"):
        read_pacemaker(garbage)
    not_frame = tmp_path / "list.pckl.gzip"
    with gzip.open(not_frame, "wb") as fh:
        pickle.dump([1, 2, 3], fh)
    with pytest.raises(PacemakerFormatError, match="list.pckl.gzip.*not a pandas DataFrame"):
        read_pacemaker(not_frame)
    no_forces = tmp_path / "noforces.pckl.gzip"
    pd.DataFrame({"ase_atoms": [w_all[0]], "energy": [1.0]}).to_pickle(no_forces, compression="gzip")
    with pytest.raises(PacemakerFormatError, match=r"noforces.pckl.gzip: missing column\(s\) \['forces'\]"):
        read_pacemaker(no_forces)


def test_cli_reports_corrupted_pickle(tmp_path, capsys):
    from eipgs.cli import main

    bad = tmp_path / "bad.pckl.gzip"
    bad.write_bytes(gzip.compress(b"\x80\x04garbage"))
    assert main(["convert", str(bad), "-o", str(tmp_path / "x.cfg")]) == 1
    err = capsys.readouterr().err
    assert "bad.pckl.gzip" in err and "error" in err

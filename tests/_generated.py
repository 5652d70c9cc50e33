# SPDX-License-Identifier: GPL-2.0-only
"""Session fixture ``generated_w_files``: the two files every W deck reads, made once per test session by
the commands the decks' headers name (nothing from the reference data)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def generated_w_files(tmp_path_factory) -> dict[str, Path]:
    """{"eam": W_Zhou04.eam.alloy, "almtp": W.almtp} from `eipgs potential zhou04 W` and `eipgs bootstrap W`
    (the default level 16 takes about a second)."""
    folder = tmp_path_factory.mktemp("generated_w")
    for args in (["potential", "zhou04", "W", "-o", "W_Zhou04.eam.alloy"], ["bootstrap", "W", "-o", "W.almtp", "-q"]):
        subprocess.run([sys.executable, "-m", "eipgs.cli", *args], cwd=folder, check=True, capture_output=True)
    return {"eam": folder / "W_Zhou04.eam.alloy", "almtp": folder / "W.almtp"}

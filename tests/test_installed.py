"""Which versive_client the suite tests: the installed wheel under scripts/test.sh, this tree otherwise."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import versive_client

WHEEL = os.environ.get("VERSIVE_TEST_WHEEL")
"""The wheel scripts/test.sh installed for this run (unset when pytest runs on its own, on this tree)."""


def imported_in_a_child() -> Path:
    """Where a fresh interpreter started by the tests (the CLI's, the scripts') imports the package from."""
    code = "import versive_client; print(versive_client.__file__)"
    return Path(
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    )


@pytest.mark.skipif(WHEEL is None, reason="scripts/test.sh runs the suite on the installed wheel")
def test_the_suite_imports_the_installed_wheel_not_this_tree() -> None:
    """Here and in every interpreter the tests start: site-packages, from the wheel that was built, at its version."""
    assert WHEEL is not None
    for location in (Path(versive_client.__file__), imported_in_a_child()):
        assert "site-packages" in location.parts, location
        assert ROOT / "versive_client" not in location.parents, location
    distribution = importlib.metadata.distribution("versive-client")
    origin = json.loads(distribution.read_text("direct_url.json") or "{}")
    assert origin["url"].endswith(Path(WHEEL).name), "installed from the wheel file, not from source"
    assert "dir_info" not in origin, "not an editable or directory install"
    assert distribution.version == versive_client.__version__
    assert Path(WHEEL).name.startswith(f"versive_client-{versive_client.__version__}-")


@pytest.mark.skipif(WHEEL is not None, reason="pytest on its own runs on this tree")
def test_on_its_own_the_suite_imports_this_tree() -> None:
    """Run directly (pytest, in the development environment), the tests see the tree being edited."""
    assert Path(versive_client.__file__).parent == ROOT / "versive_client"
    assert imported_in_a_child().parent == ROOT / "versive_client"

"""scripts/demo.py, the main job: one interview over loopback through VersiveClient."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_the_demo_creates_an_interview_against_the_fake() -> None:
    """Without VERSIVE_API_KEY it starts the fake, creates an interview over HTTP and prints its link."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERSIVE_")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "using the bundled fake Versive on loopback" in result.stdout
    assert "Link for the participant: https://getversive.com/s/study_demo?vid=vid_" in result.stdout
    assert "demo-key" not in result.stdout + result.stderr

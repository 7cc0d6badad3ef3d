"""The README's quickstart runs as printed, against the fake, and prints a link."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT

from versive_client.testing import FakeVersive


def test_the_quickstart_runs_against_the_fake() -> None:
    """The first Python block of the README, with VERSIVE_* pointing at the fake, creates an interview."""
    readme = (ROOT / "README.md").read_text()
    quickstart = re.search(r"## Quickstart\n\n```python\n(.*?)```", readme, re.DOTALL)
    assert quickstart is not None
    fake = FakeVersive(api_key="readme-key")
    with fake.serve_in_thread() as base_url:
        env = {**os.environ, "VERSIVE_API_KEY": "readme-key", "VERSIVE_BASE_URL": base_url}
        result = subprocess.run(
            [sys.executable, "-c", quickstart.group(1)], capture_output=True, text=True, check=False, env=env
        )
    assert result.returncode == 0, result.stderr
    assert re.search(r"https://getversive\.com/s/study_123\?vid=vid_[0-9a-f]+", result.stdout)
    assert [i.metadata.to_dict() for i in fake.interviews] == [{"participant_id": "p-42"}]  # type: ignore[union-attr]

"""The aiohttp backend: the extra's absence said plainly, and leaked sessions caught by the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

from conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path


def test_without_the_extra_the_backend_is_refused_naming_it(tmp_path: Path) -> None:
    """http_backend='aiohttp' with aiohttp missing: a ValueError naming the extra to install, at construction."""
    blocker = tmp_path / "aiohttp.py"
    blocker.write_text("raise ImportError('no aiohttp here', name='aiohttp')\n")
    code = (
        "from versive_client import VersiveClient\n"
        "try:\n"
        "    VersiveClient('k', http_backend='aiohttp')\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.strip() == (
        "http_backend='aiohttp' needs the aiohttp extra: pip install 'versive-client[aiohttp]'"
    )


def test_a_leaked_session_fails_the_suite(tmp_path: Path) -> None:
    """An aiohttp session left unclosed ("Unclosed client session") is an error under the suite's settings."""
    leaking = tmp_path / "test_leak.py"
    leaking.write_text(
        "import aiohttp, pytest\n"
        "@pytest.mark.asyncio\n"
        "async def test_leak():\n"
        "    session = aiohttp.ClientSession()\n"
        "    session.cycle = session  # collected late, as a real leak is\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", str(leaking)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout
    assert "Unclosed client session" in result.stdout + result.stderr

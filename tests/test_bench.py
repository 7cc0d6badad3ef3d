"""scripts/bench.py keeps working: one run with tiny counts (its figures are not asserted)."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT


def test_the_benchmark_runs_and_prints_its_tables() -> None:
    """--quick prints the throughput table for every client, the import times and the batch line."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    for client in (
        "raw httpx",
        "raw aiohttp",
        "generated function",
        "VersiveClient (httpx)",
        "VersiveClient (aiohttp)",
    ):
        assert f"| {client} |" in result.stdout
    assert "import versive_client" in result.stdout
    assert "create-batch, 200 rows at concurrency 16" in result.stdout
    assert "peak RSS" in result.stdout

"""scripts/bench.py keeps working: one run with tiny counts (its figures are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import TYPE_CHECKING

from conftest import ROOT

if TYPE_CHECKING:
    from pathlib import Path


def test_the_benchmark_runs_and_prints_its_tables(tmp_path: Path) -> None:
    """--quick prints the throughput table for every client, the import times, the batch lines and a plot."""
    plot = tmp_path / "pace.svg"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--plot", str(plot)],
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
    assert re.search(r"limit stated in RateLimit headers: \d+ rows/s \(\d\.\d\d of the limit\)", result.stdout)
    assert re.search(r"limit not stated \(no rate-limit headers\): \d+ rows/s", result.stdout)
    assert re.search(r"answered 429 Retry-After: 0 at random \(ratio \d\.\d\d\)", result.stdout)
    assert plot.read_text().startswith("<svg")
    assert "<polyline" in plot.read_text()
    for telemetry in ("telemetry=False", "the extra, no provider set", "SDK providers"):
        assert re.search(
            rf"^\| {telemetry}[^|]* \| [\d.]+ \| [+-][\d.]+ µs \| \d\.\d\d \|", result.stdout, re.MULTILINE
        )


def test_the_side_by_side_comparison_runs(tmp_path: Path) -> None:
    """--against DIR: this tree's client against another checkout's, and with the otel extra against without it."""
    bench = [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--against"]
    result = subprocess.run([*bench, str(ROOT)], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"otel extra against {ROOT}" in result.stdout
    for backend in ("httpx", "aiohttp"):
        for comparison in ("without otel vs other tree", "with otel vs without"):
            row = rf"^\| {backend} \| {comparison} \| [\d,]+ vs [\d,]+ \(\d\.\d\d\) \|"
            assert re.search(row, result.stdout, re.MULTILINE), (backend, comparison)
    refused = subprocess.run([*bench, str(tmp_path)], capture_output=True, text=True, check=False, timeout=60)
    assert refused.returncode == 2
    assert "no versive_client package there" in refused.stderr

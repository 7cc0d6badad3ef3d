"""Measure the SDK against the HTTP stacks under it, side by side, in one run.

    python scripts/bench.py                      # the full run (a few minutes on 2 cores)
    python scripts/bench.py --quick              # tiny counts: checks that the benchmark still works
    python scripts/bench.py --against ../other   # this tree's VersiveClient against another checkout's
    python scripts/bench.py --telemetry-only     # what the otel extra costs a call

A minimal create-interview server (uvicorn with httptools) runs in its own process on
loopback. Each round measures, interleaved, calls/s at each concurrency for: raw httpx,
raw aiohttp, the bare generated function, VersiveClient (httpx backend) and VersiveClient
(aiohttp backend); the table shows the median over rounds and the ratios to raw httpx and
raw aiohttp. Then: `import versive_client` against `import httpx` in fresh interpreters,
in a throwaway base install (built with uv from the lock) and in this environment; and
`versive interviews create-batch` against a plain aiohttp loop writing the same results,
at the same concurrency, interleaved, with the batch's peak RSS.

Then, batches under rate limits (``--limits-only`` runs just these): `create_interviews`
over 5,000 rows against the fake Versive limited to 200 requests/s (burst 20), with and
without rate-limit headers, giving goodput and the share of requests answered 429, and a
plot of the pace and the 429s over time (``--plot``, default docs/pace-under-limits.svg);
and the same batch against an unlimited fake that answers a random 2% with ``429
Retry-After: 0``, against the same batch with no 429s.

Last, what telemetry costs a call (``--telemetry-only`` runs just this): `create_interview`
in-process against a canned answer, with ``telemetry=False``, with the otel extra and no
provider set, and with the OpenTelemetry SDK's providers, interleaved.

With ``--against DIR``, it measures instead what a change costs: VersiveClient from this
tree and from the checkout in DIR (a worktree of an earlier commit, say), each in fresh
interpreters, interleaved round by round against the same server, on both backends, with
one warm-up call each, and prints the ratio of this tree's calls/s to the other's; this
tree runs twice, with opentelemetry-api made unimportable (as without the otel extra,
compared with DIR) and with it importable and no provider set (compared with without).
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import csv
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

import versive_client
from versive_client import Attempt, VersiveClient
from versive_client._generated import AuthenticatedClient
from versive_client._generated.api.interviews import create_interview
from versive_client.models import CreateInterviewReqV1
from versive_client.testing import FakeVersive, RateLimit, faults

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

KEY = "bench-key"
PATH = "/api/v1/interviews"
BODY = {"study_id": "study_bench", "title": "Benchmark", "metadata": {"participant_id": "p-1"}, "language": "English"}
INTERVIEW = json.dumps(
    {
        "id": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        "title": "Benchmark",
        "study_id": "study_bench",
        "metadata": {"participant_id": "p-1"},
        "link": "https://getversive.com/s/study_bench?vid=vid_123",
        "status": "open",
        "created_at": "2024-01-01T00:00:00Z",
    }
).encode()
ROOT = Path(__file__).resolve().parent.parent


# -- the server (its own process) -----------------------------------------------------


async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[dict[str, Any]]], send: Any) -> None:
    """A minimal ASGI app answering every request with the create-interview 200 body."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": INTERVIEW})


def serve(port: int) -> None:
    """Run the server until killed."""
    import uvicorn  # noqa: PLC0415 - only in the server process

    uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="asyncio", log_level="error", access_log=False)


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    """Start the server process; return it and its base URL once it accepts connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.05)
        else:
            return process, f"http://127.0.0.1:{port}"
    process.kill()
    raise SystemExit("bench: the server did not start")


# -- the clients ------------------------------------------------------------------------


async def run_calls(call: Callable[[], Awaitable[object]], total: int, concurrency: int) -> float:
    """Calls/s for `total` calls, `concurrency` at a time."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - started)


async def measure(name: str, base_url: str, total: int, concurrency: int) -> float:
    """Calls/s for one client kind, with its own fresh connection pool."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {KEY}"}
    if name == "raw httpx":
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits, timeout=60) as client:

            async def call() -> object:
                return (await client.post(PATH, json=BODY)).json()

            return await run_calls(call, total, concurrency)
    if name == "raw aiohttp":
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(base_url=base_url, headers=headers, connector=connector) as session:

            async def call() -> object:
                async with session.post(PATH, json=BODY) as response:
                    return await response.json()

            return await run_calls(call, total, concurrency)
    if name == "generated function":
        generated = AuthenticatedClient(
            base_url=base_url, token=KEY, timeout=httpx.Timeout(60), httpx_args={"limits": limits}
        )
        body = CreateInterviewReqV1.from_dict(BODY)
        async with generated:

            async def call() -> object:
                return await create_interview.asyncio(client=generated, body=body)

            return await run_calls(call, total, concurrency)
    backend = "aiohttp" if name.endswith("(aiohttp)") else "httpx"
    async with VersiveClient(KEY, base_url=base_url, http_backend=backend) as versive:

        async def call() -> object:
            return await versive.create_interview(
                study_id="study_bench", title="Benchmark", metadata={"participant_id": "p-1"}
            )

        return await run_calls(call, total, concurrency)


CLIENTS = (
    "raw httpx",
    "raw aiohttp",
    "generated function",
    "VersiveClient (httpx)",
    "VersiveClient (aiohttp)",
)


def throughput_table(base_url: str, concurrencies: list[int], total: int, rounds: int) -> list[str]:
    """Interleaved rounds; the median calls/s per client and concurrency, with ratios."""
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for concurrency in concurrencies:
            for name in CLIENTS:
                rate = asyncio.run(measure(name, base_url, total, concurrency))
                results.setdefault((name, concurrency), []).append(rate)
    lines = [
        f"calls/s, median of {rounds} interleaved round(s) of {total} calls (ratios: to raw httpx / to raw aiohttp)",
        "",
        "| client | " + " | ".join(f"c={c}" for c in concurrencies) + " |",
        "| --- |" + " --- |" * len(concurrencies),
    ]
    for name in CLIENTS:
        cells = []
        for concurrency in concurrencies:
            rate = statistics.median(results[name, concurrency])
            httpx_rate = statistics.median(results["raw httpx", concurrency])
            aiohttp_rate = statistics.median(results["raw aiohttp", concurrency])
            cells.append(f"{rate:,.0f} ({rate / httpx_rate:.2f} / {rate / aiohttp_rate:.2f})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


# -- this tree against another --------------------------------------------------------------

SIDE_BY_SIDE = """
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
if sys.argv[6] == "without-otel":
    sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
from versive_client import VersiveClient
async def main(url, backend, concurrency, total):
    async with VersiveClient("bench-key", base_url=url, http_backend=backend) as versive:
        remaining = total
        async def worker():
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await versive.create_interview(
                    study_id="study_bench", title="Benchmark", metadata={"participant_id": "p-1"}
                )
        await versive.create_interview(study_id="warm-up")
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(total / (time.perf_counter() - started))
asyncio.run(main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
"""


def against_table(other: Path, base_url: str, concurrencies: list[int], total: int, rounds: int) -> list[str]:
    """VersiveClient from this tree (without, then with opentelemetry-api) and from `other`, interleaved.

    Each in fresh interpreters. With opentelemetry-api importable, this tree's clients trace
    through the global providers; none is set here, so this measures what the extra costs
    an application that installs it without configuring OpenTelemetry.
    """
    variants = [(ROOT, "without-otel"), (ROOT, "with-otel"), (other, "without-otel")]
    results: dict[tuple[int, str, int], list[float]] = {}
    for _ in range(rounds):
        for backend in ("httpx", "aiohttp"):
            for concurrency in concurrencies:
                for index, (tree, otel) in enumerate(variants):
                    command = [sys.executable, "-c", SIDE_BY_SIDE, str(tree), base_url, backend, str(concurrency)]
                    command += [str(total), otel]
                    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=tree)
                    results.setdefault((index, backend, concurrency), []).append(float(done.stdout))
    lines = [
        f"VersiveClient calls/s, median of {rounds} interleaved round(s) of {total} calls: this tree without the",
        f"otel extra against {other}, and this tree with opentelemetry-api (no provider set) against without it",
        "",
        "| backend | comparison | " + " | ".join(f"c={c}" for c in concurrencies) + " |",
        "| --- | --- |" + " --- |" * len(concurrencies),
    ]
    for backend in ("httpx", "aiohttp"):
        for label, ours, theirs in (("without otel vs other tree", 0, 2), ("with otel vs without", 1, 0)):
            cells = []
            for concurrency in concurrencies:
                mine = statistics.median(results[ours, backend, concurrency])
                base = statistics.median(results[theirs, backend, concurrency])
                cells.append(f"{mine:,.0f} vs {base:,.0f} ({mine / base:.2f})")
            lines.append(f"| {backend} | {label} | " + " | ".join(cells) + " |")
    return lines


# -- what telemetry costs per call ----------------------------------------------------------


class Canned(httpx.AsyncBaseTransport):
    """Answers every request with the create-interview 200 body, in-process: only the client's own work is timed."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The canned answer."""
        await request.aread()
        return httpx.Response(200, headers={"content-type": "application/json"}, content=INTERVIEW)


def telemetry_table(total: int, rounds: int) -> list[str]:
    """Microseconds per create_interview call, in-process, by what telemetry is on; interleaved, median of rounds."""
    from opentelemetry.sdk.metrics import MeterProvider  # noqa: PLC0415 - dev tools, only here
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: PLC0415

    from versive_client.otel import Telemetry  # noqa: PLC0415

    def recording() -> Telemetry:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
        return Telemetry(tracer_provider=provider, meter_provider=MeterProvider())

    variants: dict[str, Callable[[], Any]] = {
        "telemetry=False (as without the extra)": lambda: False,
        "the extra, no provider set (the default)": lambda: True,
        "SDK providers, spans kept in memory": recording,
    }

    async def per_call(telemetry: Any) -> float:
        async with VersiveClient(KEY, base_url="https://api.versive.test", transport=Canned(),
                                 telemetry=telemetry) as versive:  # fmt: skip
            await versive.create_interview(study_id="warm-up")
            started = time.perf_counter()
            for _ in range(total):
                await versive.create_interview(
                    study_id="study_bench", title="Benchmark", metadata={"participant_id": "p-1"}
                )
            return (time.perf_counter() - started) / total * 1e6

    results: dict[str, list[float]] = {}
    for _ in range(rounds):
        for name, make in variants.items():
            results.setdefault(name, []).append(asyncio.run(per_call(make())))
    base = statistics.median(results[next(iter(variants))])
    lines = [
        f"create_interview in-process (a canned answer), µs per call, median of {rounds} interleaved rounds",
        f"of {total:,} calls",
        "",
        "| telemetry | µs per call | cost per call | ratio |",
        "| --- | --- | --- | --- |",
    ]
    for name in variants:
        micros = statistics.median(results[name])
        lines.append(f"| {name} | {micros:.1f} | {micros - base:+.1f} µs | {micros / base:.2f} |")
    return lines


# -- batches under rate limits --------------------------------------------------------------

LIMIT_PER_SECOND = 200
LIMIT_BURST = 20
SAMPLE_SECONDS = 0.25


class Timeline:
    """Every `SAMPLE_SECONDS` of a batch: the pace, the requests answered, and those answered 429."""

    def __init__(self) -> None:
        """Start now."""
        self.started = time.monotonic()
        self.points: list[tuple[float, float | None, int, int]] = []  # (seconds, pace, answered, refused)
        self._answered = self._refused = 0

    def observe(self, attempt: Attempt) -> None:
        """A client's on_attempt hook: count the answer."""
        self._answered += attempt.status_code is not None
        self._refused += attempt.status_code == 429  # noqa: PLR2004

    def sample(self, pace: float | None) -> None:
        """Record this moment's pace and the counts since the last sample."""
        self.points.append((time.monotonic() - self.started, pace, self._answered, self._refused))
        self._answered = self._refused = 0


async def limited_batch(fake: FakeVersive, rows: int, timeline: Timeline | None = None) -> tuple[float, int, int]:
    """Create `rows` interviews through `create_interviews` against `fake`: rows/s, requests, and 429s among them."""
    hooks = [timeline.observe] if timeline is not None else []
    items = ({"study_id": "study_bench", "metadata": {"participant_id": f"p-{n}"}} for n in range(rows))
    with fake.serve_in_thread() as base_url:
        async with VersiveClient(
            KEY, base_url=base_url, http_backend="aiohttp", max_retries=8, on_attempt=hooks
        ) as client:
            started = time.monotonic()
            async with client.create_interviews(items, concurrency=16) as results:
                sampler = asyncio.create_task(_sample(results.pacer, timeline)) if timeline else None
                created = sum([result.ok async for result in results])
                if sampler is not None:
                    sampler.cancel()
            seconds = time.monotonic() - started
    if created != rows:
        raise SystemExit(f"bench: {rows - created} row(s) of the batch failed")
    refused = sum(1 for request in fake.requests if request.status == 429)  # noqa: PLR2004
    return created / seconds, len(fake.requests), refused


async def _sample(pacer: Any, timeline: Timeline) -> None:
    while True:
        await asyncio.sleep(SAMPLE_SECONDS)
        timeline.sample(pacer.rate)


def limits_table(rows: int, plot: Path | None) -> list[str]:
    """Goodput and 429s under a 200 requests/s limit (stated, then not), and random 429s against none."""
    lines = []
    for headers in (True, False):
        timeline = Timeline() if plot is not None and not headers else None
        limit = RateLimit(LIMIT_PER_SECOND, burst=LIMIT_BURST, headers=headers)
        rate, requests, refused = asyncio.run(limited_batch(FakeVersive(api_key=KEY, rate_limit=limit), rows, timeline))
        stated = "stated in RateLimit headers" if headers else "not stated (no rate-limit headers)"
        lines.append(
            f"create_interviews, {rows:,} rows, fake limited to {LIMIT_PER_SECOND} requests/s (burst {LIMIT_BURST}), "
            f"limit {stated}: {rate:.0f} rows/s ({rate / LIMIT_PER_SECOND:.2f} of the limit); "
            f"{refused} of {requests} requests answered 429 ({refused / requests:.1%})"
        )
        if timeline is not None and plot is not None:
            plot.write_text(pace_svg(timeline, rows))
            lines.append(f"plot of that batch's pace and 429s: {plot}")
    quiet, _, _ = asyncio.run(limited_batch(FakeVersive(api_key=KEY), rows))
    noisy_fake = FakeVersive(api_key=KEY, seed=1)
    noisy_fake.faults.add_rule(faults.Status(429, retry_after=0), probability=0.02)
    noisy, requests, refused = asyncio.run(limited_batch(noisy_fake, rows))
    lines.append(
        f"create_interviews, {rows:,} rows, unlimited fake: {quiet:.0f} rows/s with no 429s, {noisy:.0f} rows/s with "
        f"{refused} of {requests} requests answered 429 Retry-After: 0 at random (ratio {noisy / quiet:.2f})"
    )
    return lines


def pace_svg(timeline: Timeline, rows: int) -> str:
    """The pace, the requests answered and those answered 429 each second, over the batch, as an SVG line chart.

    Hand-written rather than with a plotting library: three polylines and their axes do
    not need one, and the benchmark stays on the project's own dependencies.
    """
    width, height, left, bottom = 800, 320, 60, 40
    end = max(point[0] for point in timeline.points) if timeline.points else 1.0
    top = LIMIT_PER_SECOND * 1.5

    def x(seconds: float) -> float:
        return left + (width - left - 20) * seconds / end

    def y(per_second: float) -> float:
        return height - bottom - (height - bottom - 20) * min(per_second, top) / top

    def line(values: list[tuple[float, float]], colour: str) -> str:
        points = " ".join(f"{x(at):.1f},{y(value):.1f}" for at, value in values)
        return f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'

    pace = [(at, rate) for at, rate, _, _ in timeline.points if rate is not None]
    answered = [(at, count / SAMPLE_SECONDS) for at, _, count, _ in timeline.points]
    refused = [(at, count / SAMPLE_SECONDS) for at, _, _, count in timeline.points]
    ticks = "".join(
        f'<line x1="{left}" x2="{width - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
        f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v}</text>'
        for v in range(0, int(top) + 1, 50)
    )
    seconds = "".join(
        f'<text x="{x(t):.1f}" y="{height - bottom + 18}" text-anchor="middle">{t}</text>'
        for t in range(0, int(end) + 1, 5)
    )
    limit = (
        f'<line x1="{left}" x2="{width - 20}" y1="{y(LIMIT_PER_SECOND)}" y2="{y(LIMIT_PER_SECOND)}" '
        'stroke="#888" stroke-dasharray="6 4"/>'
    )
    title = (
        f"create_interviews, {rows:,} rows, against a limit of {LIMIT_PER_SECOND} requests/s "
        f"(burst {LIMIT_BURST}) the server does not state: requests/s over seconds"
    )
    legend = (
        '<text x="70" y="16" fill="#1f77b4">pace</text><text x="120" y="16" fill="#2ca02c">answered</text>'
        '<text x="200" y="16" fill="#d62728">answered 429</text><text x="300" y="16" fill="#888">the limit</text>'
        f'<text x="{width - 20}" y="16" text-anchor="end">requests per second, over seconds of the batch</text>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        f'font-size="11"><title>{title}</title><rect width="100%" height="100%" fill="white"/>{ticks}{seconds}'
        f"{limit}{line(answered, '#2ca02c')}{line(refused, '#d62728')}{line(pace, '#1f77b4')}{legend}</svg>\n"
    )


# -- import time --------------------------------------------------------------------------


def import_microseconds(python: str, module: str, cwd: Path) -> int:
    """The cumulative import time of `module` in a fresh interpreter (-X importtime)."""
    result = subprocess.run(
        [python, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True, cwd=cwd
    )
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S+)$", line)
        if match and match.group(2) == module:
            return int(match.group(1))
    raise SystemExit(f"bench: no import time reported for {module}")


def base_install(scratch: Path) -> str:
    """A virtualenv holding versive-client as a plain install would (no extras); returns its python.

    At the locked versions, with compiled bytecode. The development environment alone is
    no place to time imports: it holds click and rich, and with them installed
    `import httpx` also imports httpx's own command-line tool.
    """
    uv = ROOT / ".uv" / "bin" / "uv"
    if not uv.exists():
        uv = Path(shutil.which("uv") or "")
    if not uv.name:
        raise SystemExit("bench: needs uv to build a base install (scripts/bootstrap.sh installs it into .uv/)")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    venv = scratch / "base-install"
    python = str(venv / "bin" / "python")
    requirements = scratch / "requirements.txt"
    for command in (
        [uv, "venv", "--quiet", "--python", sys.executable, venv],
        [uv, "export", "--quiet", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-o", requirements],
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, "-r", requirements],
        [uv, "pip", "install", "--quiet", "--compile-bytecode", "--no-deps", "--python", python, ROOT],
    ):
        done = subprocess.run(list(map(str, command)), check=False, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"bench: building the base install failed: {' '.join(map(str, command))}\n{done.stderr}")
    return python


def import_table(runs: int) -> list[str]:
    """Median import times over `runs` interleaved fresh interpreters, in a base install and here."""
    lines = []
    with tempfile.TemporaryDirectory(prefix="versive-bench-") as scratch:
        for where, python in (("base install", base_install(Path(scratch))), ("this environment", sys.executable)):
            times: dict[str, list[int]] = {"httpx": [], "versive_client": []}
            for _ in range(runs):
                for module, samples in times.items():
                    samples.append(import_microseconds(python, module, Path(scratch)))
            httpx_ms = statistics.median(times["httpx"]) / 1000
            ours_ms = statistics.median(times["versive_client"]) / 1000
            lines.append(
                f"import time ({where}), median of {runs} fresh interpreters: import httpx {httpx_ms:.1f} ms, "
                f"import versive_client {ours_ms:.1f} ms (ratio {ours_ms / httpx_ms:.2f})"
            )
    return lines


# -- create-batch against a plain aiohttp loop ----------------------------------------------


PLAIN_LOOP = """
import asyncio, csv, sys, aiohttp
async def main(path, out, url, concurrency):
    queue = asyncio.Queue(maxsize=concurrency)
    async def work(session, writer):
        while (row := await queue.get()) is not None:
            async with session.post("/api/v1/interviews", json={"study_id": "s", "metadata": row}) as r:
                interview = await r.json()
            writer.writerow([row["participant_id"], interview["id"], interview["link"], interview["status"],
                             interview["created_at"]])
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url=url, connector=connector,
                                     headers={"Authorization": "Bearer bench-key"}) as session:
        with open(out, "w", newline="") as results:
            writer = csv.writer(results)
            workers = [asyncio.create_task(work(session, writer)) for _ in range(concurrency)]
            with open(path, newline="") as handle:
                for row in csv.DictReader(handle):
                    await queue.put(row)
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
"""


def timed_child(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a child process."""
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def batch_table(base_url: str, rows: int, concurrency: int, rounds: int) -> list[str]:
    """create-batch (fast backend when installed) against a plain aiohttp loop, same server, interleaved."""
    loop_runs: list[float] = []
    batch_runs: list[float] = []
    with tempfile.TemporaryDirectory(prefix="versive-bench-") as scratch:
        participants = Path(scratch) / "participants.csv"
        with participants.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["participant_id", "email"])
            writer.writerows([f"p-{n:06d}", f"p{n}@example.com"] for n in range(rows))
        env = {**os.environ, "VERSIVE_API_KEY": KEY, "VERSIVE_BASE_URL": base_url}
        for round_ in range(rounds):
            out = Path(scratch) / f"results-{round_}.csv"
            loop_runs.append(timed_child([sys.executable, "-c", PLAIN_LOOP, str(participants), str(out) + ".loop",
                                          base_url, str(concurrency)], env))  # fmt: skip
            batch_runs.append(timed_child(
                [sys.executable, "-m", "versive_client", "interviews", "create-batch", str(participants),
                 "--study-id", "bench", "--out", str(out), "--concurrency", str(concurrency)],
                env,
            ))  # fmt: skip
    # ru_maxrss of children is the largest of any finished child: a batch (the plain loops
    # and the import-time interpreters peak far lower; the server is still running).
    batch_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    loop_seconds = statistics.median(loop_runs)
    batch_seconds = statistics.median(batch_runs)
    return [
        (
            f"create-batch, {rows:,} rows at concurrency {concurrency}, median of {rounds} interleaved run(s): "
            f"{batch_seconds:.2f} s (plain aiohttp loop writing the same results {loop_seconds:.2f} s; "
            f"ratio {batch_seconds / loop_seconds:.2f}); peak RSS {batch_rss:.0f} MB"
        )
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts, to check the benchmark runs")
    parser.add_argument("--against", type=Path, metavar="DIR", help="compare with the checkout in DIR instead")
    parser.add_argument("--limits-only", action="store_true", help="only the batches under rate limits")
    parser.add_argument("--telemetry-only", action="store_true", help="only what telemetry costs per call")
    parser.add_argument("--plot", type=Path, help="where to write the plot (default: docs/pace-under-limits.svg)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.against is not None and not (args.against / "versive_client" / "__init__.py").exists():
        parser.error(f"--against {args.against}: no versive_client package there")
    calls, rounds, imports, rows = (40, 1, 2, 200) if args.quick else (2000, 3, 15, 10_000)
    plot = args.plot if args.plot is not None or args.quick else ROOT / "docs" / "pace-under-limits.svg"
    if args.limits_only:
        print("\n".join(limits_table(300 if args.quick else 5000, plot)))
        return 0
    if args.telemetry_only:
        print("\n".join(telemetry_table(200 if args.quick else 20_000, 1 if args.quick else 5)))
        return 0
    concurrencies = [1, 4] if args.quick else [1, 32, 256]
    # Installed packages come with their bytecode compiled; so must ours, or every fresh
    # interpreter below would compile it again (and more so under PYTHONDONTWRITEBYTECODE).
    compileall.compile_dir(Path(versive_client.__file__).parent, quiet=1)
    process, base_url = start_server()
    try:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, server: uvicorn+httptools on {base_url}")
        print()
        if args.against is not None:
            compileall.compile_dir(args.against / "versive_client", quiet=1)
            side_by_side = (calls, 1) if args.quick else (3000, 5)
            print("\n".join(against_table(args.against.resolve(), base_url, concurrencies, *side_by_side)))
            return 0
        print("\n".join(throughput_table(base_url, concurrencies, calls, rounds)))
        print()
        print("\n".join(import_table(imports)))
        print("\n".join(batch_table(base_url, rows, 16, rounds)))
        print("\n".join(limits_table(300 if args.quick else 5000, plot)))
        print("\n".join(telemetry_table(200 if args.quick else 20_000, 1 if args.quick else 5)))
    finally:
        process.kill()
        process.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures: paths of the project's inputs and a way to run the regeneration script."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio
import yaml

from versive_client import RetryPolicy, VersiveClient
from versive_client.testing import FakeVersive

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    import trustme

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
OVERLAY = ROOT / "openapi.overlay.yaml"
GENERATED = ROOT / "versive_client" / "_generated"

PRISM = ROOT / "tests" / "prism" / "node_modules" / ".bin" / "prism"
PRISM_START_SECONDS = 60.0

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PATH = "/api/v1/interviews"

# A proxy named by the machine's environment would take loopback tests elsewhere (the
# client honours HTTP_PROXY and the like); the tests that want a proxy set their own.
for _name in [name for name in os.environ if name.lower() in {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}]:
    del os.environ[_name]


def run_regenerate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/regenerate.py as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "regenerate.py"), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


@pytest.fixture
def regenerate_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """The regeneration script as a subprocess."""
    return run_regenerate


@pytest.fixture
def spec_document() -> dict[str, Any]:
    """The vendored spec, parsed (a fresh copy for each test to change)."""
    document: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return document


@pytest.fixture
def generated_copy(tmp_path: Path) -> Path:
    """A copy of the committed generated tree, safe to edit."""
    copy = tmp_path / "_generated"
    shutil.copytree(GENERATED, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def write_yaml(path: Path, data: Any) -> Path:
    """Write `data` as YAML to `path` and return the path."""
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest_asyncio.fixture(params=["in-process", "loopback"])
async def fake_http(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeVersive, httpx.AsyncClient]]:
    """A fake with api_key KEY and an httpx client reaching it in-process or over loopback."""
    fake = FakeVersive(api_key=KEY)
    if request.param == "in-process":
        async with httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport()) as client:
            yield fake, client
    else:
        async with fake.serve() as base_url, httpx.AsyncClient(base_url=base_url) as client:
            yield fake, client


class Harness:
    """A fake, a VersiveClient reaching it, and the waits the client asked for (not slept)."""

    def __init__(
        self, fake: FakeVersive, base_url: str, transport: httpx.AsyncBaseTransport | None, backend: str = "httpx"
    ) -> None:
        self.fake = fake
        self.base_url = base_url
        self.transport = transport
        self.backend = backend
        self.sleeps: list[float] = []
        self.clients: list[VersiveClient] = []

    async def sleep(self, seconds: float) -> None:
        """Record a wait instead of sleeping."""
        self.sleeps.append(seconds)

    def client(self, api_key: str = KEY, **options: Any) -> VersiveClient:
        """A VersiveClient on this fake, on this harness's backend; closed when the test ends."""
        options.setdefault("sleep", self.sleep)
        if self.transport is not None:
            options.setdefault("transport", self.transport)
        elif "http_client" not in options:
            options.setdefault("http_backend", self.backend)
        client = VersiveClient(api_key, base_url=self.base_url, **options)
        self.clients.append(client)
        return client


@pytest_asyncio.fixture(params=["in-process", "loopback-httpx", "loopback-aiohttp"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The client against the fake: in-process, and over a real loopback connection on each backend."""
    fake = FakeVersive(api_key=KEY)
    if request.param == "in-process":
        built = Harness(fake, "https://api.versive.test", fake.transport())
        yield built
    else:
        async with fake.serve() as base_url:
            built = Harness(fake, base_url, None, backend=request.param.removeprefix("loopback-"))
            yield built
    for client in built.clients:
        await client.aclose()


@pytest.fixture
def no_wait() -> RetryPolicy:
    """Retries without waits, for tests that do not look at the delays."""
    return RetryPolicy.no_wait()


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def run_prism(spec: Path) -> Iterator[str]:
    """Prism mocking `spec` on loopback; yields its base URL. A missing Prism fails the test, never skips it."""
    if not PRISM.exists():
        pytest.fail(f"Prism is not installed at {PRISM.relative_to(ROOT)}; scripts/test.sh installs it (npm ci)")
    if shutil.which("node") is None:
        pytest.fail("Prism needs Node.js, which is not on PATH; scripts/test.sh installs it")
    port = free_port()
    process = subprocess.Popen(
        [str(PRISM), "mock", "--host", "127.0.0.1", "--port", str(port), str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + PRISM_START_SECONDS
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                pytest.fail(f"Prism exited with {process.returncode} before listening:\n{output}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Prism did not listen on 127.0.0.1:{port} within {PRISM_START_SECONDS:.0f} s")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture(params=["httpx", "aiohttp"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each HTTP backend of VersiveClient in turn."""
    value: str = request.param
    return value


class _LoopbackServer:
    """An asyncio server on 127.0.0.1 whose connection handlers are cancelled when it stops."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._track, "127.0.0.1", 0, ssl=self._tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    async def __aexit__(self, *_exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _track(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self.handle(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self._handlers.discard(task)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy bytes until the reader ends, then close the writer."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


class ForwardProxy(_LoopbackServer):
    """A loopback forward proxy, as on a corporate network: absolute-form HTTP requests and CONNECT tunnels.

    `seen` holds each request line it received, `credentials` each Proxy-Authorization.
    """

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.credentials: list[str | None] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:] if line]
        headers = {name.lower(): value for name, value in fields}
        self.seen.append(f"{method} {target}")
        self.credentials.append(headers.get("proxy-authorization"))
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
            return
        url = urlsplit(target)
        upstream_reader, upstream_writer = await asyncio.open_connection(url.hostname, url.port)
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        hop_by_hop = {"proxy-authorization", "proxy-connection", "connection"}
        kept = "".join(f"{name}: {value}\r\n" for name, value in fields if name.lower() not in hop_by_hop)
        upstream_writer.write(f"{method} {url.path} {version}\r\n{kept}connection: close\r\n\r\n".encode() + body)
        try:
            await _pipe(upstream_reader, writer)
        finally:
            upstream_writer.close()


class TlsInFront(_LoopbackServer):
    """https on loopback with a certificate for 127.0.0.1 from `ca`, relaying to a plain http server."""

    def __init__(self, ca: trustme.CA, base_url: str) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        super().__init__(context)
        self._target = urlsplit(base_url)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(self._target.hostname, self._target.port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))

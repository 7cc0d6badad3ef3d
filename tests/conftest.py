"""Shared fixtures: paths of the project's inputs and a way to run the regeneration script."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
import yaml

from versive_client import RetryPolicy, VersiveClient
from versive_client.testing import FakeVersive

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
OVERLAY = ROOT / "openapi.overlay.yaml"
GENERATED = ROOT / "versive_client" / "_generated"

KEY = "test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
PATH = "/api/v1/interviews"


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

    def __init__(self, fake: FakeVersive, base_url: str, transport: httpx.AsyncBaseTransport | None) -> None:
        self.fake = fake
        self.base_url = base_url
        self.transport = transport
        self.sleeps: list[float] = []
        self.clients: list[VersiveClient] = []

    async def sleep(self, seconds: float) -> None:
        """Record a wait instead of sleeping."""
        self.sleeps.append(seconds)

    def client(self, **options: Any) -> VersiveClient:
        """A VersiveClient on this fake; closed when the test ends."""
        options.setdefault("sleep", self.sleep)
        if self.transport is not None:
            options.setdefault("transport", self.transport)
        client = VersiveClient(KEY, base_url=self.base_url, **options)
        self.clients.append(client)
        return client


@pytest_asyncio.fixture(params=["in-process", "loopback"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The client against the fake, in-process and over a real loopback connection."""
    fake = FakeVersive(api_key=KEY)
    if request.param == "in-process":
        built = Harness(fake, "https://api.versive.test", fake.transport())
        yield built
    else:
        async with fake.serve() as base_url:
            built = Harness(fake, base_url, None)
            yield built
    for client in built.clients:
        await client.aclose()


@pytest.fixture
def no_wait() -> RetryPolicy:
    """Retries without waits, for tests that do not look at the delays."""
    return RetryPolicy.no_wait()

"""VersiveClient under trio: the library uses no asyncio-only primitive."""

from __future__ import annotations

import pytest

from versive_client import RetryPolicy, VersiveClient
from versive_client.testing import FakeVersive, faults

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """Run these tests under trio."""
    return "trio"


async def test_the_client_runs_under_trio() -> None:
    """Retries with real waits, a deadline, and a loopback call, all under trio."""
    fake = FakeVersive(api_key="k")
    fake.faults.queue(faults.Status(503), faults.Reset())
    async with (
        fake.serve() as base_url,
        VersiveClient("k", base_url=base_url, retry_policy=RetryPolicy(backoff_initial=0.01), deadline=30) as client,
    ):
        interview = await client.create_interview(study_id="study_trio")
    assert interview.study_id == "study_trio"
    assert len(fake.requests) == 3

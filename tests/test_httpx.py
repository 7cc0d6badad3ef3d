"""The httpx backend: the default pool, your transport, or your own httpx.AsyncClient with its settings."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest
from conftest import PATH, ForwardProxy

from versive_client import RetryPolicy, VersiveClient
from versive_client.testing import FakeVersive, faults

pytestmark = pytest.mark.asyncio


async def test_the_callers_own_httpx_client_is_used_and_left_open() -> None:
    """http_client=...: requests go through it (its transport, its hooks); closing the SDK leaves it open."""
    fake = FakeVersive(api_key="k")
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.url.path)

    async with fake.serve() as base_url, httpx.AsyncClient(event_hooks={"request": [hook]}) as own:
        async with VersiveClient("k", base_url=base_url, http_client=own) as client:
            await client.create_interview(study_id="s")
        assert not own.is_closed
        assert seen == [PATH]


async def test_the_callers_own_client_keeps_its_proxy_and_faults_are_retried_through_it() -> None:
    """Your AsyncClient's proxy is used (the SDK's environment handling is for its own pool); retries go through it."""
    fake = FakeVersive(api_key="k")
    fake.faults.queue(faults.Reset(), faults.CloseMidBody())
    proxy = ForwardProxy()
    async with fake.serve() as base_url, proxy as proxy_url, httpx.AsyncClient(proxy=proxy_url) as own:
        client = VersiveClient("k", base_url=base_url, http_client=own, retry_policy=RetryPolicy.no_wait())
        interview = await client.create_interview(study_id="s")
        await client.aclose()
    assert proxy.seen == [f"POST {base_url}{PATH}"] * 3
    assert [i.id for i in fake.interviews] == [interview.id]


async def test_a_transport_is_closed_with_the_client() -> None:
    """transport=...: the client closes it (it is the pool)."""
    closed: list[bool] = []

    class Closing(httpx.MockTransport):
        async def aclose(self) -> None:
            closed.append(True)

    async with VersiveClient("k", base_url="https://x.test", transport=Closing(lambda _: httpx.Response(204))):
        pass
    assert closed == [True]


async def test_a_compressed_answer_from_a_mock_transport_is_decoded_once() -> None:
    """A transport's gzip answer is read as it came and decoded by the loop, once (not again by httpx)."""
    interview = {
        "id": "i",
        "study_id": "s",
        "link": "https://getversive.com/s/s?vid=vid_1",
        "status": "open",
        "created_at": "2024-01-01T00:00:00Z",
    }
    body = gzip.compress(json.dumps(interview).encode())

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/json", "content-encoding": "gzip"}
        return httpx.Response(200, headers=headers, content=body)

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        assert (await client.create_interview(study_id="s")).link == interview["link"]

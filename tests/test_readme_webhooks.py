"""README's "When a participant is done: webhooks": its receivers, served on loopback, take the fake's deliveries."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import re
import socket
import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import pytest_asyncio
import uvicorn
from aiohttp import web
from conftest import ROOT
from svix.webhooks import Webhook

from versive_client import VersiveClient
from versive_client.testing import FakeVersive
from versive_client.webhooks import InterviewCompleted

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

SECTION = "When a participant is done: webhooks, or waiting"
RECEIVERS = ("FastAPI", "aiohttp.web")
SECRET = "whsec_" + base64.b64encode(b"the secret of the README's endpoint").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some other endpoint's secret").decode()
FAST = (0.02, 0.05)
TURNS = [("assistant", "What brought you here?"), ("user", "A friend told me.")]


def section_block(heading: str) -> str:
    """The first Python block under `### heading` in the webhooks section of README.md."""
    readme = (ROOT / "README.md").read_text()
    section = re.search(rf"^## {re.escape(SECTION)}\n(.*?)(?=^## )", readme, re.DOTALL | re.MULTILINE)
    assert section is not None, SECTION
    block = re.search(
        rf"^### {re.escape(heading)}\n(?:(?!^### ).)*?```python\n(.*?)```", section.group(1), re.DOTALL | re.MULTILINE
    )
    assert block is not None, heading
    return block.group(1)


def run_block(heading: str) -> dict[str, Any]:
    """Execute a README block as its own module would run; its globals."""
    namespace: dict[str, Any] = {"__name__": "readme_" + re.sub(r"\W", "_", heading.lower())}
    exec(compile(section_block(heading), f"README.md ### {heading}", "exec"), namespace)  # noqa: S102 - README code, run as a user would
    return namespace


class Served:
    """A README receiver on loopback: its URL, what it stored, and how many of its next answers become a 500."""

    def __init__(self, url: str, completed: dict[str, InterviewCompleted]) -> None:
        """`completed` is the receiver's own store, keyed by svix-id."""
        self.url = url
        self.completed = completed
        self.answers_to_lose = 0

    def lose_answer(self) -> bool:
        """Whether to replace this answer by a 500 (the receiver has run: the answer is lost on the way)."""
        if self.answers_to_lose:
            self.answers_to_lose -= 1
            return True
        return False


@contextlib.asynccontextmanager
async def serve_fastapi(namespace: dict[str, Any]) -> AsyncIterator[Served]:
    """The README's FastAPI app under uvicorn, in a thread of its own, on 127.0.0.1."""
    app = namespace["app"]

    async def losing(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not served.lose_answer():
            await app(scope, receive, send)
            return

        async def send_500(message: dict[str, Any]) -> None:
            await send({**message, "status": 500} if message["type"] == "http.response.start" else message)

        await app(scope, receive, send_500)

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()  # connections wait in the backlog until uvicorn accepts them: no wait for its start-up
    served = Served(f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/versive", namespace["completed"])
    server = uvicorn.Server(uvicorn.Config(losing, log_level="critical", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        sock.close()


@contextlib.asynccontextmanager
async def serve_aiohttp(namespace: dict[str, Any]) -> AsyncIterator[Served]:
    """The README's aiohttp.web app with AppRunner and TCPSite, in the test's own event loop, on 127.0.0.1."""
    app: web.Application = namespace["app"]

    @web.middleware
    async def losing(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        response = await handler(request)
        return web.Response(status=500) if served.lose_answer() else response

    app.middlewares.append(losing)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    served = Served(f"http://127.0.0.1:{port}/webhooks/versive", namespace["completed"])
    try:
        yield served
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(params=RECEIVERS)
async def receiver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Served]:
    """Each README receiver, its secret from VERSIVE_WEBHOOK_SECRET, served on loopback."""
    monkeypatch.setenv("VERSIVE_WEBHOOK_SECRET", SECRET)
    namespace = run_block(request.param)
    serve = serve_fastapi if request.param == "FastAPI" else serve_aiohttp
    async with serve(namespace) as served:
        yield served


async def complete_an_interview(fake: FakeVersive) -> str:
    """Create an interview through the client (the fake in-process), then complete it as its participant: its id."""
    study = fake.add_study(title="Onboarding")
    async with VersiveClient("test-key", transport=fake.transport()) as versive:
        created = await versive.interviews.create(study_id=study.id, metadata={"participant_id": "p-42"})
    fake.complete_interview(created.id, transcript=TURNS)
    return created.id


def signed(body: str, secret: str, event_id: str = "msg_readme_by_hand") -> dict[str, str]:
    """The Svix headers of `body` signed with `secret` now."""
    now = dt.datetime.now(dt.UTC)
    signature = Webhook(secret).sign(event_id, now, body)
    return {"svix-id": event_id, "svix-timestamp": str(int(now.timestamp())), "svix-signature": signature}


@pytest.mark.asyncio
async def test_each_receiver_stores_a_completed_interview_with_its_transcript(receiver: Served) -> None:
    """One delivery, answered 204: the receiver holds one InterviewCompleted, under its svix-id, with the transcript."""
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    interview_id = await complete_an_interview(fake)
    deliveries = await asyncio.to_thread(fake.wait_for_deliveries)

    assert [(d.attempt, d.status) for d in deliveries] == [(1, 204)]
    assert list(receiver.completed) == [deliveries[0].event_id]
    event = receiver.completed[deliveries[0].event_id]
    assert isinstance(event, InterviewCompleted)
    assert event.id == deliveries[0].event_id
    assert event.interview.id == interview_id
    assert event.interview.status == "closed"
    assert event.interview.transcript == "assistant: What brought you here?\nuser: A friend told me."
    turns = event.interview.parsed_conversation_json
    assert isinstance(turns, list)
    assert [(turn.role, turn.content) for turn in turns] == TURNS
    assert event.interview.recording_url is None
    assert event.study.title == "Onboarding"


@pytest.mark.asyncio
async def test_a_redelivery_after_a_lost_answer_is_not_stored_twice(receiver: Served) -> None:
    """The receiver stores, its 204 becomes a 500: the fake redelivers the same svix-id, answered 204, stored once."""
    receiver.answers_to_lose = 1
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    interview_id = await complete_an_interview(fake)
    deliveries = await asyncio.to_thread(fake.wait_for_deliveries)

    assert [(d.attempt, d.status) for d in deliveries] == [(1, 500), (2, 204)]
    assert len({d.event_id for d in deliveries}) == 1
    assert list(receiver.completed) == [deliveries[0].event_id]
    assert receiver.completed[deliveries[0].event_id].interview.id == interview_id


@pytest.mark.asyncio
@pytest.mark.parametrize("forgery", ["another secret", "a changed body"])
async def test_a_delivery_that_does_not_verify_is_refused_400_and_not_stored(receiver: Served, forgery: str) -> None:
    """A real event's body, signed with another endpoint's secret or changed after signing: 400, nothing stored.

    The same body, signed with the receiver's secret under a new svix-id, is stored: the refusal is the signature's.
    """
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    await complete_an_interview(fake)
    [delivery] = await asyncio.to_thread(fake.wait_for_deliveries)
    body = json.dumps(receiver.completed[delivery.event_id].payload.to_dict())

    if forgery == "another secret":
        headers = signed(body, OTHER_SECRET, "msg_forged")
    else:
        headers = signed(body, SECRET, "msg_forged")
        body = body.replace("A friend told me.", "Nobody told me.")
    async with httpx.AsyncClient(trust_env=False) as client:
        refused = await client.post(receiver.url, content=body, headers=headers)
        assert refused.status_code == 400
        assert list(receiver.completed) == [delivery.event_id]

        genuine = await client.post(receiver.url, content=body, headers=signed(body, SECRET, "msg_genuine"))
    assert genuine.status_code == 204
    assert list(receiver.completed) == [delivery.event_id, "msg_genuine"]


@pytest.mark.asyncio
async def test_an_event_type_the_sdk_does_not_know_is_acknowledged_and_not_stored(receiver: Served) -> None:
    """A verified event of another type (an UnknownEvent): 204, so Svix does not retry it, and nothing stored."""
    body = json.dumps({"event_type": "interview.archived", "interview": {"id": "i-1"}})
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.post(receiver.url, content=body, headers=signed(body, SECRET, "msg_unknown"))
    assert answer.status_code == 204
    assert receiver.completed == {}


@pytest.mark.asyncio
async def test_the_testing_example_passes_against_the_fastapi_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's example test, run against the README's FastAPI receiver given the example's secret."""
    example = run_block("Testing your receiver with the fake")
    monkeypatch.setenv("VERSIVE_WEBHOOK_SECRET", example["SECRET"])
    async with serve_fastapi(run_block("FastAPI")) as served:
        await example["test_a_completed_interview_is_stored_once"](served.url)
    assert len(served.completed) == 1

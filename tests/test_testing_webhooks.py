"""FakeVersive completes interviews and delivers the signed ``interview.completed`` webhook, as Svix does."""

from __future__ import annotations

import base64
import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import anyio.to_thread
import attrs
import httpx
import pytest
from conftest import AUTH, KEY, PATH
from svix.webhooks import Webhook

from versive_client import VersiveClient
from versive_client.testing import FakeVersive, WebhookDelivery

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "whsec_" + base64.b64encode(b"a test secret of the fake's endpoint").decode()
FAST = (0.01, 0.02, 0.03)
TURNS = [("assistant", "What brought you here?"), ("user", "A friend told me.")]


class Receiver:
    """A webhook endpoint on loopback that answers each request with the next scripted status (then 200)."""

    def __init__(self, statuses: list[int]) -> None:
        """Answer `statuses` in order, then 200."""
        self.statuses = statuses
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Semaphore(0)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("content-length", "0")
                self.end_headers()
                receiver.arrived.release()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/versive"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver answering 200 to everything; tests script its statuses."""
    endpoint = Receiver([])
    thread = threading.Thread(target=endpoint.server.serve_forever, daemon=True)
    thread.start()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


def unused_url() -> str:
    """A loopback URL where nothing listens: every connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks"


def client_of(fake: FakeVersive) -> VersiveClient:
    """A client answered by `fake` in-process."""
    return VersiveClient(KEY, base_url="https://fake.versive.test", transport=fake.transport())


@pytest.mark.asyncio
async def test_a_completed_interview_is_delivered_signed_and_reads_back_closed(receiver: Receiver) -> None:
    """The delivery verifies with the secret, holds the documented payload, and matches what interviews.get reads."""
    fake = FakeVersive(api_key=KEY, webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    study = fake.add_study(title="Onboarding")
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id=study.id, title="Ann", metadata={"p": "p-1"})
        completed = fake.complete_interview(created.id, transcript=TURNS)
        details = await versive.interviews.get(created.id)
    deliveries = fake.wait_for_deliveries(timeout=10)

    assert [(d.attempt, d.status, d.error) for d in deliveries] == [(1, 200, None)]
    ((headers, body),) = receiver.received
    Webhook(SECRET).verify(body, headers)
    assert headers["svix-id"] == deliveries[0].event_id
    assert headers["svix-id"].startswith("msg_")
    assert headers["content-type"] == "application/json"
    payload = json.loads(body)
    assert payload["event_type"] == "interview.completed"
    assert set(payload["interview"]) == {
        "id", "title", "status", "is_mock", "is_archived", "created_at", "started_at", "ended_at", "type",
        "metadata", "active_time", "recording_url", "transcript", "parsed_conversation_json", "vid",
        "used_fallback_transcription",
    }  # fmt: skip
    assert set(payload["study"]) == {"id", "title", "metadata", "type", "mode", "created_at"}
    interview = payload["interview"]
    assert (interview["id"], interview["status"], interview["title"], interview["metadata"]) == (
        created.id, "closed", "Ann", {"p": "p-1"},
    )  # fmt: skip
    assert interview["parsed_conversation_json"] == [{"role": r, "content": c} for r, c in TURNS]
    assert interview["transcript"] == "assistant: What brought you here?\nuser: A friend told me."
    assert interview["recording_url"] is None
    assert interview["used_fallback_transcription"] is False
    assert all(interview[name].endswith("Z") for name in ("created_at", "started_at", "ended_at"))
    assert (payload["study"]["id"], payload["study"]["title"]) == (study.id, "Onboarding")

    assert details.status == "closed"
    assert details.progress == 100
    assert details.transcript == interview["transcript"]
    assert [t.to_dict() for t in details.parsed_conversation_json] == interview["parsed_conversation_json"]  # type: ignore[union-attr]
    assert [t.to_dict() for t in details.conversation_json] == interview["parsed_conversation_json"]  # type: ignore[union-attr]
    assert isinstance(details.ended_at, dt.datetime)
    assert details.ended_at.isoformat().replace("+00:00", "Z") == interview["ended_at"]
    assert completed.to_dict() == details.to_dict()


@pytest.mark.asyncio
async def test_a_500_is_retried_with_the_same_svix_id_until_a_200(receiver: Receiver) -> None:
    """500, 500, then 200: three attempts, one svix-id, each re-signed, and no attempt after the 200."""
    receiver.statuses = [500, 503]
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=(0.01, 0.01, 0.01, 0.01))
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id="study_x")
    fake.complete_interview(created.id, transcript=TURNS)
    deliveries = fake.wait_for_deliveries(timeout=10)

    assert [(d.attempt, d.status) for d in deliveries] == [(1, 500), (2, 503), (3, 200)]
    assert len({d.event_id for d in deliveries}) == 1
    assert [headers["svix-id"] for headers, _ in receiver.received] == [deliveries[0].event_id] * 3
    for headers, body in receiver.received:
        Webhook(SECRET).verify(body, headers)
    assert [d.interview_id for d in deliveries] == [created.id] * 3


@pytest.mark.asyncio
async def test_a_connection_failure_is_retried_until_the_schedule_ends() -> None:
    """Nothing listening: one attempt plus one per delay, each recording the error, then the fake gives up."""
    fake = FakeVersive(webhook_url=unused_url(), webhook_secret=SECRET, webhook_retry_delays=FAST)
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id="s")
    fake.complete_interview(created.id, transcript=TURNS)
    deliveries = fake.wait_for_deliveries(timeout=10)

    assert [(d.attempt, d.status) for d in deliveries] == [(1, None), (2, None), (3, None), (4, None)]
    assert all(d.error is not None and "ConnectError" in d.error for d in deliveries)
    assert len({d.event_id for d in deliveries}) == 1


@pytest.mark.asyncio
async def test_a_screened_out_interview_sends_nothing(receiver: Receiver) -> None:
    """screened_out=True: it reads back screened_out with its turns, and no webhook is sent."""
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id="s")
        fake.complete_interview(created.id, transcript=TURNS[:1], screened_out=True)
        details = await versive.interviews.get(created.id)

    assert fake.wait_for_deliveries(timeout=10) == []
    assert receiver.received == []
    assert details.status == "screened_out"
    assert details.transcript == "assistant: What brought you here?"
    assert details.completed_at is None


@pytest.mark.asyncio
async def test_complete_interview_from_another_thread_while_the_fake_serves(receiver: Receiver) -> None:
    """The fake serving on loopback, the test's own thread completes an interview; a client reads it back."""
    fake = FakeVersive(api_key=KEY, webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    async with fake.serve() as base_url, VersiveClient(KEY, base_url=base_url, trust_env=False) as versive:
        created = await versive.interviews.create(study_id="s")
        await anyio.to_thread.run_sync(lambda: fake.complete_interview(created.id, transcript=TURNS))
        details = await versive.interviews.get(created.id)
        deliveries = await anyio.to_thread.run_sync(lambda: fake.wait_for_deliveries(timeout=10))

    assert details.status == "closed"
    assert [d.status for d in deliveries] == [200]


def test_the_control_endpoint_completes_an_interview_over_loopback(receiver: Receiver) -> None:
    """POST /_fake/interviews/{id}/complete: 200 with the interview; its errors; the API's faults untouched."""
    fake = FakeVersive(api_key=KEY, webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    with fake.serve_in_thread() as base_url, httpx.Client(base_url=base_url, trust_env=False) as client:
        created = client.post(PATH, headers=AUTH, json={"study_id": "s"}).json()
        control = f"/_fake/interviews/{created['id']}/complete"
        turns = [{"role": role, "content": content} for role, content in TURNS]

        answer = client.post(control, json={"transcript": turns})
        again = client.post(control, json={"transcript": turns})
        read = client.get(f"{PATH}/{created['id']}", headers=AUTH).json()
        unknown = client.post("/_fake/interviews/nope/complete", json={})
        wrong_method = client.get(control)
        bad_body = client.post(control, json={"transcript": [["user"]]})
        not_a_flag = client.post(control, json={"screened_out": "yes"})
        not_json = client.post(control, content=b"{", headers={"content-type": "application/json"})
        no_such = client.post("/_fake/else")

    assert answer.status_code == 200
    assert answer.json()["status"] == "closed"
    assert answer.json()["parsed_conversation_json"] == turns
    assert read == answer.json()
    assert (again.status_code, again.json()["detail"]) == (
        409,
        "the interview is closed: only an open, in_progress or paused one can be completed",
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Interview not found"})
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert (bad_body.status_code, not_a_flag.status_code) == (422, 422)
    assert bad_body.json()["detail"][0]["loc"] == ["body"]
    assert not_json.status_code == 422
    assert no_such.status_code == 404
    assert [d.status for d in fake.wait_for_deliveries(timeout=10)] == [200]
    assert [request.path for request in fake.requests] == [PATH, f"{PATH}/{created['id']}"]


def test_the_control_endpoint_screens_out_with_default_turns(receiver: Receiver) -> None:
    """An empty body completes with the fake's default conversation; screened_out: true sends nothing."""
    fake = FakeVersive(webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    with fake.serve_in_thread() as base_url, httpx.Client(base_url=base_url, trust_env=False) as client:
        first = client.post(PATH, headers=AUTH, json={"study_id": "s"}).json()["id"]
        second = client.post(PATH, headers=AUTH, json={"study_id": "s"}).json()["id"]
        closed = client.post(f"/_fake/interviews/{first}/complete")
        screened = client.post(f"/_fake/interviews/{second}/complete", json={"screened_out": True})

    assert closed.json()["status"] == "closed"
    assert closed.json()["transcript"]
    assert screened.json()["status"] == "screened_out"
    assert [d.interview_id for d in fake.wait_for_deliveries(timeout=10)] == [first]


def test_fake_server_delivers_from_the_command_line(receiver: Receiver) -> None:
    """`versive fake-server --webhook-url --webhook-secret --webhook-retry-delays`: a 500 is retried, then verified."""
    receiver.statuses = [500]
    process = subprocess.Popen(
        [sys.executable, "-m", "versive_client", "fake-server", "--port", "0",
         "--webhook-url", receiver.url, "--webhook-secret", SECRET, "--webhook-retry-delays", "0.01,0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        with httpx.Client(base_url=url, trust_env=False) as client:
            created = client.post(PATH, headers=AUTH, json={"study_id": "s"}).json()
            assert client.post(f"/_fake/interviews/{created['id']}/complete").status_code == 200
        assert receiver.arrived.acquire(timeout=10)
        assert receiver.arrived.acquire(timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    (first, _), (second, body) = receiver.received
    assert first["svix-id"] == second["svix-id"]
    Webhook(SECRET).verify(body, second)
    assert json.loads(body)["interview"]["id"] == created["id"]
    assert "attempt 2 -> 200" in stderr
    assert SECRET not in stderr


@pytest.mark.parametrize(
    "secret",
    ["not-a-secret", "whsec_***not base64***", ""],
    ids=["no-prefix", "not-base64", "empty"],
)
def test_a_bad_secret_is_refused_without_showing_it(secret: str) -> None:
    """A webhook_secret that is not whsec_ and base64 raises ValueError; the message does not hold it."""
    with pytest.raises(ValueError, match="webhook_secret must be") as caught:
        FakeVersive(webhook_url="http://127.0.0.1:9/hooks", webhook_secret=secret)
    assert secret.removeprefix("whsec_") not in str(caught.value) or not secret
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"webhook_url": "http://127.0.0.1:9/h"}, "webhook_url and webhook_secret go together"),
        ({"webhook_secret": SECRET}, "webhook_url and webhook_secret go together"),
        ({"webhook_url": "ftp://host/h", "webhook_secret": SECRET}, "webhook_url must be an http or https URL"),
        ({"webhook_url": b"http://h/h", "webhook_secret": SECRET}, "webhook_url must be an http or https URL"),
        (
            {"webhook_url": "http://h/h", "webhook_secret": SECRET, "webhook_retry_delays": (1, -1)},
            "webhook_retry_delays must be seconds >= 0",
        ),
    ],
)
def test_webhook_options_that_cannot_be_are_refused(options: dict[str, object], message: str) -> None:
    """The URL without the secret (or the reverse), a URL not http(s), a negative delay: ValueError."""
    with pytest.raises(ValueError, match=message) as caught:
        FakeVersive(**options)  # type: ignore[arg-type]
    assert SECRET not in str(caught.value)


def test_the_secret_is_never_shown() -> None:
    """Neither the fake's repr nor a delivery record holds the secret."""
    fake = FakeVersive(webhook_url="http://127.0.0.1:9/hooks", webhook_secret=SECRET)
    assert SECRET not in repr(fake)
    assert "whsec_" not in repr(fake)
    assert "webhook=http://127.0.0.1:9/hooks" in repr(fake)


def test_without_svix_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without svix installed: ImportError naming the webhooks extra, only when a webhook_url is given."""
    monkeypatch.setitem(sys.modules, "svix.webhooks", None)
    with pytest.raises(ImportError, match=r"versive-client\[webhooks\]"):
        FakeVersive(webhook_url="http://127.0.0.1:9/hooks", webhook_secret=SECRET)
    assert repr(FakeVersive())


@pytest.mark.asyncio
async def test_complete_interview_refuses_what_cannot_be_completed() -> None:
    """An unknown id is a LookupError; a canceled interview, a ValueError; turns that are not pairs, a TypeError."""
    fake = FakeVersive()
    async with client_of(fake) as versive:
        canceled = await versive.interviews.create(study_id="s")
        await versive.interviews.update(canceled.id, status="canceled")
        other = await versive.interviews.create(study_id="s")
    with pytest.raises(LookupError, match="Interview not found"):
        fake.complete_interview("nope")
    with pytest.raises(ValueError, match="the interview is canceled"):
        fake.complete_interview(canceled.id)
    with pytest.raises(TypeError, match=r"transcript must be \(role, content\) pairs of strings"):
        fake.complete_interview(other.id, transcript=[("user", 1)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="pairs"):
        fake.complete_interview(other.id, transcript=[("user",)])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="pairs"):
        fake.complete_interview(other.id, transcript="user: hi")  # type: ignore[arg-type]
    assert fake.complete_interview(other.id).status == "closed"
    assert fake.deliveries == []
    assert fake.wait_for_deliveries(timeout=0) == []


@pytest.mark.asyncio
async def test_wait_for_deliveries_times_out_while_retries_are_pending() -> None:
    """A retry scheduled later than the timeout: TimeoutError; reset() drops the pending retries."""
    fake = FakeVersive(webhook_url=unused_url(), webhook_secret=SECRET, webhook_retry_delays=(60,))
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id="s")
    fake.complete_interview(created.id)
    with pytest.raises(TimeoutError, match="1 webhook delivery still pending"):
        fake.wait_for_deliveries(timeout=0.2)
    fake.reset()
    assert fake.wait_for_deliveries(timeout=10) == []
    assert fake.deliveries == []


def test_the_delivery_record_is_exported() -> None:
    """WebhookDelivery is public, a frozen record."""
    record = WebhookDelivery(event_id="msg_1", interview_id="i", attempt=1, status=200, error=None)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.attempt = 2  # type: ignore[misc]
    assert record.attempt == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--webhook-url", "http://127.0.0.1:9/h", "--webhook-secret", "whsec_s3cret!"], "--webhook-secret must be"),
        (["--webhook-url", "http://127.0.0.1:9/h"], "--webhook-url and --webhook-secret go together"),
        (["--webhook-url", "http://h/h", "--webhook-secret", SECRET, "--webhook-retry-delays", "1,x"], "seconds"),
    ],
    ids=["bad-secret", "url-alone", "bad-delays"],
)
def test_fake_server_refuses_bad_webhook_options(args: list[str], message: str) -> None:
    """Exit 2 naming the option, before listening; the secret given is not printed."""
    result = subprocess.run(
        [sys.executable, "-m", "versive_client", "fake-server", "--port", "0", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "s3cret" not in result.stderr


@pytest.mark.asyncio
@pytest.mark.parametrize("held_study", ["held", "not held"])
async def test_the_sdks_own_unwrap_reads_the_fakes_delivery(receiver: Receiver, held_study: str) -> None:
    """End to end: what the fake delivers, versive_client.webhooks.unwrap verifies and reads as the typed event."""
    from versive_client.webhooks import InterviewCompleted, unwrap  # noqa: PLC0415 - the webhooks extra

    fake = FakeVersive(api_key=KEY, webhook_url=receiver.url, webhook_secret=SECRET, webhook_retry_delays=FAST)
    study_id = fake.add_study(title="Onboarding").id if held_study == "held" else "study_not_held"
    async with client_of(fake) as versive:
        created = await versive.interviews.create(study_id=study_id, title="Ann")
        fake.complete_interview(created.id, transcript=TURNS)
    fake.wait_for_deliveries(timeout=10)
    ((headers, body),) = receiver.received

    event = unwrap(body, headers, secret=SECRET)
    assert isinstance(event, InterviewCompleted)
    assert event.id == headers["svix-id"]
    assert (event.type, event.interview.id, event.interview.status) == ("interview.completed", created.id, "closed")
    turns = event.interview.parsed_conversation_json
    assert isinstance(turns, list)
    assert [(turn.role, turn.content) for turn in turns] == TURNS
    assert event.interview.recording_url is None
    assert event.study.id == study_id

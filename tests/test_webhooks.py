"""versive_client.webhooks: deliveries signed by Svix's own library are verified, then parsed."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from svix.webhooks import Webhook

import versive_client.webhooks
from versive_client import VersiveError
from versive_client.models import CompletedInterview, ConversationTurn, EventStudy, InterviewCompletedEvent
from versive_client.webhooks import InterviewCompleted, UnknownEvent, WebhookVerificationError, unwrap

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

SECRET = "whsec_" + base64.b64encode(b"versive-test-webhook-secret!").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-endpoints-secret!").decode()
MSG_ID = "msg_2mWmfJ1Y3Yk5pW0n"

# The body Versive documents for interview.completed (upstream/FACTS.md, "Webhooks").
PAYLOAD: dict[str, Any] = {
    "event_type": "interview.completed",
    "interview": {
        "id": "iv_123",
        "title": "Onboarding interview",
        "status": "closed",
        "is_mock": False,
        "is_archived": False,
        "created_at": "2026-11-30T09:00:00Z",
        "started_at": "2026-11-30T09:05:00+00:00",
        "ended_at": None,
        "type": "VERSIVE_INTERVIEW",
        "metadata": {"participant_id": "p-0042"},
        "active_time": 312.5,
        "recording_url": None,
        "transcript": "assistant: Hi\nuser: Hello",
        "parsed_conversation_json": [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "Hello"}],
        "vid": "vid_abc",
    },
    "study": {
        "id": "study_123",
        "title": "Onboarding",
        "metadata": {"team": "growth"},
        "type": "VERSIVE_STUDY",
        "mode": "TEXT_AND_VOICE",
        "created_at": "2026-11-01T12:00:00Z",
    },
}


def sign(
    body: str,
    *,
    secret: str = SECRET,
    msg_id: str = MSG_ID,
    at: dt.datetime | None = None,
) -> dict[str, str]:
    """The headers Svix sends with `body`, signed by Svix's own library."""
    timestamp = at or dt.datetime.now(tz=dt.UTC)
    signature = Webhook(secret).sign(msg_id, timestamp, body)
    return {"svix-id": msg_id, "svix-timestamp": str(int(timestamp.timestamp())), "svix-signature": signature}


def refused(body: str | bytes, headers: Mapping[str, str], *, secret: str = SECRET) -> WebhookVerificationError:
    """The error `unwrap` raises for this delivery, checked to hold neither the secret nor a signature."""
    with pytest.raises(WebhookVerificationError) as info:
        unwrap(body, headers, secret=secret)
    error = info.value
    signature = {k.lower(): v for k, v in headers.items()}.get("svix-signature", "")
    # Only what could identify them: "whsec_" or "v1" alone may well appear in an explanation.
    hidden = [
        s for s in (secret, secret.removeprefix("whsec_"), signature, signature.removeprefix("v1,")) if len(s) > 8
    ]
    for text in (str(error), repr(error), error.message, repr(error.args)):
        for value in hidden:
            assert value not in text
    return error


BODY = json.dumps(PAYLOAD)


@pytest.mark.parametrize("encode", [str, str.encode], ids=["str", "bytes"])
@pytest.mark.parametrize(
    "wrap",
    [
        dict,
        httpx.Headers,
        lambda h: {k.upper(): v for k, v in h.items()},
        lambda h: {k.title(): v for k, v in h.items()},
    ],
    ids=["dict", "httpx.Headers", "upper-case", "title-case"],
)
def test_a_signed_delivery_is_verified_and_parsed(
    encode: Callable[[str], str | bytes], wrap: Callable[[dict[str, str]], Mapping[str, str]]
) -> None:
    """A delivery Svix signed comes back typed, whatever the body's type and the headers' mapping or case."""
    event = unwrap(encode(BODY), wrap(sign(BODY)), secret=SECRET)
    assert isinstance(event, InterviewCompleted)
    assert event.id == MSG_ID
    assert event.type == "interview.completed"
    assert isinstance(event.payload, InterviewCompletedEvent)
    assert isinstance(event.interview, CompletedInterview)
    assert isinstance(event.study, EventStudy)
    assert event.interview.id == "iv_123"
    assert event.interview.status == "closed"
    assert event.interview.created_at == dt.datetime(2026, 11, 30, 9, tzinfo=dt.UTC)
    assert event.interview.started_at == dt.datetime(2026, 11, 30, 9, 5, tzinfo=dt.UTC)
    assert event.interview.ended_at is None
    assert event.interview.recording_url is None
    assert event.interview.parsed_conversation_json == [
        ConversationTurn(role="assistant", content="Hi"),
        ConversationTurn(role="user", content="Hello"),
    ]
    assert event.study.id == "study_123"
    assert event.study.mode == "TEXT_AND_VOICE"
    assert event.study.created_at == dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)


def test_new_fields_survive() -> None:
    """used_fallback_transcription is typed; a field the SDK does not know yet is kept, at every level."""
    payload = json.loads(BODY)
    payload["interview"]["used_fallback_transcription"] = True
    payload["interview"]["sentiment"] = "positive"
    payload["study"]["owner"] = "ops"
    payload["delivered_by"] = "versive"
    body = json.dumps(payload)
    event = unwrap(body, sign(body), secret=SECRET)
    assert isinstance(event, InterviewCompleted)
    assert event.interview.used_fallback_transcription is True
    assert event.interview["sentiment"] == "positive"
    assert event.study["owner"] == "ops"
    assert event.payload["delivered_by"] == "versive"
    assert event.payload.to_dict() == payload | {
        "interview": payload["interview"] | {"created_at": "2026-11-30T09:00:00+00:00"},
        "study": payload["study"] | {"created_at": "2026-11-01T12:00:00+00:00"},
    }


def test_an_unknown_event_type_comes_back_generic() -> None:
    """An event type the SDK does not know yet is returned with its type and raw data, never raised."""
    payload = {"event_type": "interview.reviewed", "interview": {"id": "iv_123"}, "score": 4}
    body = json.dumps(payload)
    event = unwrap(body, sign(body, msg_id="msg_other"), secret=SECRET)
    assert event == UnknownEvent(id="msg_other", type="interview.reviewed", data=payload)


def test_a_tampered_body_is_refused() -> None:
    """A body changed after signing fails the signature."""
    headers = sign(BODY)
    error = refused(BODY.replace("closed", "open"), headers)
    assert "signature" in str(error)
    assert isinstance(error, VersiveError)


def test_a_wrong_secret_is_refused() -> None:
    """A delivery signed for another endpoint fails the signature."""
    error = refused(BODY, sign(BODY, secret=OTHER_SECRET))
    assert "signature" in str(error)


@pytest.mark.parametrize(
    ("shift", "reason"),
    [(dt.timedelta(minutes=-6), "too old"), (dt.timedelta(minutes=6), "too new")],
    ids=["old", "future"],
)
def test_a_timestamp_out_of_tolerance_is_refused(shift: dt.timedelta, reason: str) -> None:
    """Svix's five-minute tolerance holds both ways, even for a correct signature."""
    at = dt.datetime.now(tz=dt.UTC) + shift
    error = refused(BODY, sign(BODY, at=at))
    assert reason in str(error)
    assert "svix-timestamp" in str(error)


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    """A svix-timestamp header that is not seconds since the epoch is named."""
    headers = sign(BODY) | {"svix-timestamp": "yesterday"}
    assert "svix-timestamp" in str(refused(BODY, headers))


@pytest.mark.parametrize("name", ["svix-id", "svix-timestamp", "svix-signature"])
def test_a_missing_header_is_named(name: str) -> None:
    """Each of Svix's three headers is required; the one missing is named."""
    headers = {k: v for k, v in sign(BODY).items() if k != name}
    error = refused(BODY, headers)
    assert name in str(error)
    assert "missing" in str(error)


@pytest.mark.parametrize("signature", ["garbage", "v1,not base64!", "v1"])
def test_a_malformed_signature_header_is_refused(signature: str) -> None:
    """A svix-signature header that is not Svix's format is refused, without being shown."""
    error = refused(BODY, sign(BODY) | {"svix-signature": signature})
    assert "svix-signature" in str(error)


def test_a_body_that_is_not_json_is_refused() -> None:
    """A signed body that is not JSON is refused after its signature is checked."""
    body = "<html>not json</html>"
    assert "not JSON" in str(refused(body, sign(body)))


def test_a_body_that_is_not_utf8_is_refused() -> None:
    """Bytes that are not UTF-8 text cannot be JSON, nor verified."""
    assert "UTF-8" in str(refused(b"\xff\xfe", sign("x")))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"interview": {}}, "event_type"),
        ([1, 2], "event_type"),
        ({"event_type": 7}, "event_type"),
        ({"event_type": "interview.completed", "study": PAYLOAD["study"]}, "interview"),
        ({"event_type": "interview.completed", "interview": {"id": "iv"}, "study": PAYLOAD["study"]}, "interview"),
        ({**PAYLOAD, "study": {**PAYLOAD["study"], "created_at": "last week"}}, "interview.completed"),
    ],
    ids=["no-event-type", "a-list", "event-type-not-a-string", "no-interview", "interview-incomplete", "bad-date"],
)
def test_json_that_is_not_an_event_is_refused(payload: object, reason: str) -> None:
    """Signed JSON that is not a Versive event, or not the event it says it is, is refused naming what."""
    body = json.dumps(payload)
    error = refused(body, sign(body))
    assert reason in str(error)
    assert "not" in str(error)


def test_a_signature_is_checked_before_the_body_is_read() -> None:
    """An unsigned body that is not even JSON is refused for its signature, not its content."""
    assert "signature" in str(refused("not json", sign(BODY)))


@pytest.mark.parametrize(
    "secret",
    ["", "whsec_", "sk_live_abcdef", base64.b64encode(b"no prefix").decode(), "whsec_not*base64!", "whsec_abcde"],
    ids=["empty", "prefix-only", "api-key", "no-prefix", "not-base64", "bad-padding"],
)
def test_a_secret_that_is_not_a_svix_secret_is_refused(secret: str) -> None:
    """Only a whsec_ secret is accepted, and the message does not repeat it."""
    error = refused(BODY, sign(BODY), secret=secret)
    assert "whsec_" in str(error)
    if len(secret) > len("whsec_"):
        assert secret not in str(error)


def test_the_returned_event_shows_no_secret_or_signature() -> None:
    """The event's repr carries the delivery, never the secret nor the signature."""
    headers = sign(BODY)
    event = unwrap(BODY, headers, secret=SECRET)
    assert MSG_ID in repr(event)
    assert SECRET.removeprefix("whsec_") not in repr(event)
    assert headers["svix-signature"].removeprefix("v1,") not in repr(event)


def test_a_body_of_another_type_is_a_type_error() -> None:
    """The body is the raw bytes or text of the request, nothing else."""
    with pytest.raises(TypeError, match="bytes or str"):
        unwrap(PAYLOAD, sign(BODY), secret=SECRET)  # type: ignore[arg-type]


def test_the_module_exports() -> None:
    """versive_client.webhooks exports unwrap, the events and the error, and nothing else."""
    assert set(versive_client.webhooks.__all__) == {
        "InterviewCompleted",
        "UnknownEvent",
        "WebhookEvent",
        "WaitTimeoutError",
        "WebhookVerificationError",
        "Webhooks",
        "unwrap",
        "wait_until",
    }
    assert all(hasattr(versive_client.webhooks, name) for name in versive_client.webhooks.__all__)


def without_svix(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`code` run by a fresh interpreter in which svix cannot be imported (the webhooks extra not installed)."""
    program = f"import sys; sys.modules['svix'] = None\n{code}"
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, env={**os.environ, **env}
    )


def test_without_svix_unwrap_names_the_extra() -> None:
    """Without svix the module still imports (the client needs it), and unwrap says which extra to install."""
    result = without_svix(
        f"from versive_client.webhooks import unwrap\nunwrap({BODY!r}, {sign(BODY)!r}, secret={SECRET!r})"
    )
    assert result.returncode == 1
    assert "ImportError" in result.stderr
    assert "pip install 'versive-client[webhooks]'" in result.stderr

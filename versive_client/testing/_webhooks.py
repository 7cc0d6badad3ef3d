"""The fake's webhooks: the ``interview.completed`` payload, signed as Svix signs it, delivered with Svix's retries.

Each event is delivered by a daemon thread of its own with httpx's sync client, so that
neither ``complete_interview`` nor the fake's server ever waits on the receiver. Every
attempt of one event carries the same ``svix-id`` and is signed afresh with the time it
is sent, as Svix does: a receiver refuses a timestamp more than five minutes old, and
Svix's retries come hours later.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import secrets
import string
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

logger = logging.getLogger("versive_client.testing")

# Svix's schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
DEFAULT_RETRY_DELAYS: tuple[float, ...] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DELIVERY_TIMEOUT = 5.0
EVENT_ID_ALPHABET = string.ascii_letters + string.digits
# The fields of the interview and the study in the payload, in the order FACTS.md lists them.
PAYLOAD_INTERVIEW = (
    "id", "title", "status", "is_mock", "is_archived", "created_at", "started_at", "ended_at", "type",
    "metadata", "active_time",
)  # fmt: skip
PAYLOAD_STUDY = ("id", "title", "metadata", "type", "mode", "created_at")


@frozen
class WebhookDelivery:
    """One attempt to deliver a webhook event: `status` is the receiver's answer, or `error` why there was none.

    Every attempt of one event has the same `event_id` (its ``svix-id``); `attempt` counts from 1.

    .. versionadded:: 0.6.0
    """

    event_id: str
    interview_id: str
    attempt: int
    status: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        """Whether the receiver answered 2xx, which ends the retries."""
        return self.status is not None and 200 <= self.status < 300  # noqa: PLR2004 - the 2xx range


def interview_completed(interview: Mapping[str, Any], study: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``interview.completed`` payload for a stored interview and its study (None when the fake does not hold it).

    A study the fake does not hold is described by its id alone: empty title and
    metadata, the API's default type and mode, created when the interview was.
    """
    held = study or {
        "id": interview["study_id"],
        "title": "",
        "metadata": {},
        "type": "VERSIVE_STUDY",
        "mode": "TEXT_AND_VOICE",
        "created_at": interview["created_at"],
    }
    return {
        "event_type": "interview.completed",
        "interview": {
            **{name: interview[name] for name in PAYLOAD_INTERVIEW},
            "recording_url": None,  # the fake records nothing
            "transcript": interview["transcript"],
            "parsed_conversation_json": interview["parsed_conversation_json"],
            "vid": interview["vid"],
            "used_fallback_transcription": False,
        },
        "study": {name: held.get(name) for name in PAYLOAD_STUDY},
    }


class Deliverer:
    """Delivers events to one endpoint with one secret, retrying on the schedule; records every attempt."""

    def __init__(self, url: object, secret: object, retry_delays: Iterable[object]) -> None:
        """Check the options (never showing the secret) and load Svix's signer."""
        if not isinstance(url, str) or (parts := urlsplit(url)).scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("webhook_url must be an http or https URL")
        delays: list[float] = []
        for delay in retry_delays:
            if not isinstance(delay, int | float) or not math.isfinite(delay) or delay < 0:
                raise ValueError("webhook_retry_delays must be seconds >= 0")
            delays.append(float(delay))
        try:  # svix only to send webhooks; the receiving side's check of a secret, so both agree on one
            from svix.webhooks import Webhook  # noqa: PLC0415

            from versive_client.webhooks import _secret_problem  # noqa: PLC0415
        except ImportError:
            message = 'the fake\'s webhooks need svix: pip install "versive-client[webhooks]"'
            raise ImportError(message) from None
        if not isinstance(secret, str) or _secret_problem(secret) is not None:
            raise ValueError("webhook_secret must be a Svix endpoint secret: 'whsec_' followed by base64")
        self._signer = Webhook(secret)
        self.url = url
        self.shown_url = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
        self._delays = delays
        self._changed = threading.Condition()
        self._records: list[WebhookDelivery] = []
        self._pending = 0
        self._stopped = threading.Event()

    def submit(self, interview_id: str, payload: Mapping[str, Any]) -> str:
        """Start delivering `payload` in the background; returns its event id (the ``svix-id``)."""
        event_id = "msg_" + "".join(secrets.choice(EVENT_ID_ALPHABET) for _ in range(27))
        body = json.dumps(payload, separators=(",", ":"))
        with self._changed:
            self._pending += 1
            stopped = self._stopped
        thread = threading.Thread(
            target=self._deliver, args=(event_id, interview_id, body, stopped), name=f"webhook-{event_id}", daemon=True
        )
        thread.start()
        return event_id

    @property
    def records(self) -> list[WebhookDelivery]:
        """Every attempt so far, in the order they ended."""
        with self._changed:
            return list(self._records)

    def wait(self, timeout: float) -> list[WebhookDelivery]:
        """Wait until no event is still being delivered; TimeoutError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._pending == 0, timeout):
                noun = "delivery" if self._pending == 1 else "deliveries"
                raise TimeoutError(f"{self._pending} webhook {noun} still pending after {timeout} s")
            return list(self._records)

    def stop(self) -> None:
        """Drop every pending retry and forget the attempts recorded."""
        with self._changed:
            self._stopped.set()
            self._stopped = threading.Event()
            self._pending = 0
            self._records.clear()
            self._changed.notify_all()

    def _deliver(self, event_id: str, interview_id: str, body: str, stopped: threading.Event) -> None:
        try:
            with httpx.Client(timeout=DELIVERY_TIMEOUT, trust_env=False) as client:
                for attempt, delay in enumerate((0.0, *self._delays), start=1):
                    if stopped.wait(delay):
                        return
                    status, error = self._attempt(client, event_id, body)
                    record = WebhookDelivery(event_id, interview_id, attempt, status, error)
                    logger.info("webhook interview.completed %s attempt %d -> %s", event_id, attempt, status or error)
                    with self._changed:
                        if stopped.is_set():
                            return
                        self._records.append(record)
                        self._changed.notify_all()
                    if record.succeeded:
                        return
        finally:
            with self._changed:
                if not stopped.is_set():
                    self._pending -= 1
                    self._changed.notify_all()

    def _attempt(self, client: httpx.Client, event_id: str, body: str) -> tuple[int | None, str | None]:
        sent_at = dt.datetime.now(dt.UTC)
        headers = {
            "svix-id": event_id,
            "svix-timestamp": str(math.floor(sent_at.timestamp())),
            "svix-signature": self._signer.sign(event_id, sent_at, body),
            "content-type": "application/json",
            "user-agent": "fake-versive-webhooks",
        }
        try:
            response = client.post(self.url, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

"""Verified webhook events: the ``webhooks`` extra (``pip install 'versive-client[webhooks]'``).

Versive delivers its events through Svix. `unwrap` checks a delivery's signature and
timestamp with Svix's own library (Svix's five-minute tolerance, both ways), and only then
reads the body into a typed event::

    from versive_client.webhooks import InterviewCompleted, WebhookVerificationError, unwrap

    async def versive_webhook(request: Request) -> Response:  # Starlette, say
        try:
            event = unwrap(await request.body(), request.headers, secret=WEBHOOK_SECRET)
        except WebhookVerificationError:
            return Response(status_code=400)
        if isinstance(event, InterviewCompleted) and not await seen(event.id):
            await store(event.interview.id, event.interview.transcript)
        return Response(status_code=204)

`event.id` is the delivery's ``svix-id``: the same for every redelivery of one event, so
it is the key to process each event once. Pass the body exactly as it arrived (bytes, or
the text of those bytes): the signature covers those bytes, not a re-encoding of the JSON.

.. versionadded:: 0.6.0
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

try:
    from svix.webhooks import Webhook
    from svix.webhooks import WebhookVerificationError as SvixVerificationError
except ImportError as exc:
    raise ImportError(
        f"versive_client.webhooks needs the webhooks extra ({exc.name} is missing): "
        "pip install 'versive-client[webhooks]'",
        name=exc.name,
    ) from exc

from versive_client._errors import VersiveError
from versive_client._generated.models import InterviewCompletedEvent

if TYPE_CHECKING:
    from collections.abc import Mapping

    from versive_client._generated.models import CompletedInterview, EventStudy

__all__ = ["InterviewCompleted", "UnknownEvent", "WebhookEvent", "WebhookVerificationError", "unwrap"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every Svix secret, not a secret
HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
INTERVIEW_COMPLETED: Final = "interview.completed"

# What Svix's library says, and what we say instead: the header concerned, and why.
SVIX_REASONS = {
    "No matching signature found": (
        "bad signature: no svix-signature matches the body with this secret "
        "(a changed body, another endpoint's secret, or not from Versive)"
    ),
    "Message timestamp too old": (
        "the svix-timestamp is too old: more than Svix's tolerance (5 minutes) in the past, "
        "a delayed or replayed delivery"
    ),
    "Message timestamp too new": (
        "the svix-timestamp is too new: more than Svix's tolerance (5 minutes) in the future; "
        "is this machine's clock right?"
    ),
    "Invalid Signature Headers": "the svix-timestamp header is not a time in seconds since the epoch",
}


class WebhookVerificationError(VersiveError):
    """A webhook delivery that cannot be trusted or read; the message says what is wrong.

    A bad or missing signature, a timestamp out of tolerance, a missing Svix header, a body
    that is not JSON or not a Versive event, or a secret that is not a Svix ``whsec_`` secret.
    Neither the secret nor the signature is ever part of the message. Answer the delivery
    with a 4xx: Svix retries it later.

    .. versionadded:: 0.6.0
    """

    def __init__(self, message: str) -> None:
        """`message` is the whole text: no request was sent, so there is no method, url or attempt."""
        super().__init__(message)


@dataclasses.dataclass(frozen=True)
class InterviewCompleted:
    """An ``interview.completed`` delivery: an interview's transcript is ready.

    `id` is the delivery's ``svix-id``, the same for every redelivery of this event; `payload`
    is the whole body as its generated model, fields the SDK does not declare included
    (``event.payload["new_field"]``); `interview` and `study` are the payload's.

    .. versionadded:: 0.6.0
    """

    id: str
    payload: InterviewCompletedEvent

    @property
    def type(self) -> Literal["interview.completed"]:
        """The event type, ``interview.completed``."""
        return INTERVIEW_COMPLETED

    @property
    def interview(self) -> CompletedInterview:
        """The completed interview, with its transcript and conversation."""
        return self.payload.interview

    @property
    def study(self) -> EventStudy:
        """The interview's study."""
        return self.payload.study


@dataclasses.dataclass(frozen=True)
class UnknownEvent:
    """A verified delivery of an event type this version of the SDK does not know yet.

    `id` is the delivery's ``svix-id``; `type` its ``event_type``; `data` the whole JSON body.
    Upgrading the SDK may turn it into a typed event; until then, it is never an error.

    .. versionadded:: 0.6.0
    """

    id: str
    type: str
    data: dict[str, Any]


WebhookEvent: TypeAlias = InterviewCompleted | UnknownEvent
"""What `unwrap` returns: a typed event, or `UnknownEvent` for a type the SDK does not know."""


def unwrap(body: bytes | str, headers: Mapping[str, str], *, secret: str) -> WebhookEvent:
    """Verify a webhook delivery with Svix's library, then parse its body into an event.

    `body` is the request's raw body (bytes, or their UTF-8 text); `headers` its headers, as
    any mapping (a dict, ``httpx.Headers``, Starlette's or aiohttp's), names in any case;
    `secret` the endpoint's ``whsec_...`` secret. Raises `WebhookVerificationError`, naming
    what is wrong, for any delivery that is not a genuine, current, readable Versive event.

    .. versionadded:: 0.6.0
    """
    if not isinstance(body, bytes | str):
        raise TypeError(f"body must be bytes or str (the request's raw body), not {type(body).__name__}")
    problem = _secret_problem(secret)
    if problem:
        raise WebhookVerificationError(problem)
    svix_headers = {name.lower(): value for name, value in headers.items() if name.lower() in HEADERS}
    missing = [name for name in HEADERS if not svix_headers.get(name)]
    if missing:
        raise WebhookVerificationError(f"the delivery is missing the {', '.join(missing)} header: is it from Svix?")
    try:
        text = body.decode() if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise WebhookVerificationError("the body is not UTF-8 text, so neither JSON nor signed by Versive") from None
    problem = _signature_problem(text, svix_headers, secret)
    if problem:
        raise WebhookVerificationError(problem)
    return _parse(text, svix_headers["svix-id"])


def _secret_problem(secret: str) -> str | None:
    """Why `secret` is not a Svix endpoint secret, without repeating it; None when it is one."""
    refusal = "the webhook secret is not a Svix endpoint secret: expected whsec_ followed by base64"
    if not secret.startswith(SECRET_PREFIX):
        return refusal + " (the endpoint's Signing Secret, not an API key)"
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Svix's own decoding skips what is not base64; this is stricter, so a typo is caught here.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        return refusal
    return None if key else refusal


def _signature_problem(text: str, headers: dict[str, str], secret: str) -> str | None:
    """Why Svix refuses the delivery, in our words; None when it verifies.

    The reason is returned rather than raised from here, so that the raised error chains
    none of Svix's frames: their local variables hold the key and the expected signature.
    """
    try:
        Webhook(secret).verify(text, headers)
    except SvixVerificationError as exc:
        reason = str(exc)
        return SVIX_REASONS.get(reason, f"the delivery is not verified: {reason}")
    except ValueError:  # Svix unpacks and decodes each "v1,<base64>" without checking it first
        return "the svix-signature header is malformed: expected Svix's space-separated v1,<base64> signatures"
    return None


def _parse(text: str, delivery_id: str) -> WebhookEvent:
    """The event a verified body holds."""
    try:
        data = json.loads(text)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    event_type = data.get("event_type") if isinstance(data, dict) else None
    if not isinstance(event_type, str):
        raise WebhookVerificationError("the body is not a Versive event: it has no event_type string")
    if event_type != INTERVIEW_COMPLETED:
        return UnknownEvent(id=delivery_id, type=event_type, data=data)
    try:
        payload = InterviewCompletedEvent.from_dict(data)
    except KeyError as exc:
        reason = f"a required field is missing ({exc.args[0]!r})"
    except (TypeError, ValueError, AttributeError) as exc:
        reason = f"a field is not what the event declares ({exc})"
    else:
        return InterviewCompleted(id=delivery_id, payload=payload)
    raise WebhookVerificationError(f"the body is not an interview.completed event: {reason}")

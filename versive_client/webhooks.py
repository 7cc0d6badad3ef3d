"""Learning that an interview is done: verified webhook events, or waiting.

Verifying needs the ``webhooks`` extra (``pip install 'versive-client[webhooks]'``);
waiting (``versive.interviews.wait``, built on `wait_until`) needs nothing more.

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
import dataclasses
import functools
import json
import math
import os
import random
import sys
import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, TypeVar

import httpx

from versive_client._errors import APIConnectionError, APIStatusError, APITimeoutError, VersiveError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from versive_client._generated.models import CompletedInterview, EventStudy, InterviewCompletedEvent

__all__ = [
    "InterviewCompleted",
    "UnknownEvent",
    "WaitTimeoutError",
    "WebhookEvent",
    "WebhookVerificationError",
    "Webhooks",
    "unwrap",
    "wait_until",
]

T = TypeVar("T")
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every Svix secret, not a secret
SECRET_ENV = "VERSIVE_WEBHOOK_SECRET"  # noqa: S105 - a variable's name
HEADERS = ("svix-id", "svix-timestamp", "svix-signature")
INTERVIEW_COMPLETED: Final = "interview.completed"
NOT_UTF8 = "the body is not UTF-8 text, so neither JSON nor signed by Versive"
EXTRA = "pip install 'versive-client[webhooks]'"

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
    With a client, ``versive.webhooks.unwrap(body, headers)`` uses the client's secret.

    .. versionadded:: 0.6.0
    """
    webhooks = Webhooks(secret, source="secret")
    del secret  # held by `webhooks` alone from here: no frame of a traceback below shows it
    if webhooks._problem is not None:  # noqa: SLF001 - this module's own
        raise WebhookVerificationError(webhooks._problem)  # noqa: SLF001
    return webhooks.unwrap(body, headers)


class Webhooks:
    """A webhook secret, and `unwrap` with it: ``versive.webhooks.unwrap(body, headers)``.

    ``VersiveClient(webhook_secret=...)`` (or ``$VERSIVE_WEBHOOK_SECRET``) makes one;
    the secret is held as the API key is: never in a repr, a message, a pickle, nor in a
    local variable of a frame that an error's traceback passes through. A secret given as
    an argument is checked at once; one from the environment (which a program may share
    with others that never unwrap) when it is first used, and an empty variable is unset.

    .. versionadded:: 0.6.0
    """

    __slots__ = ("_problem", "_secret", "_source")

    def __init__(self, secret: object = None, *, source: str = "webhook_secret") -> None:
        """Take `secret` (None: ``$VERSIVE_WEBHOOK_SECRET``, if set); what is wrong with it waits for `check`."""
        if secret is None and source == "webhook_secret":
            secret, source = os.environ.get(SECRET_ENV, "").strip() or None, SECRET_ENV
        self._secret = secret.strip() if isinstance(secret, str) else None
        self._source = source
        self._problem = None if secret is None and source == SECRET_ENV else _secret_problem(secret)

    def check(self) -> Webhooks:
        """These webhooks, or the error saying what is wrong with a secret given as an argument.

        Such a secret needs Svix's library (the ``webhooks`` extra): its absence is said here,
        at once. A secret from ``$VERSIVE_WEBHOOK_SECRET`` is checked by `unwrap`.
        """
        if self._source != SECRET_ENV:
            self._refuse()
            if self._secret is not None:
                _svix()
        return self

    def _refuse(self) -> None:
        """Raise what is wrong with the secret, naming where it came from (never the secret itself)."""
        if self._problem is not None:
            error = TypeError if self._secret is None else ValueError
            raise error(f"{self._source} {self._problem.removeprefix('the webhook secret ')}")

    def unwrap(self, body: bytes | str, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify a delivery with this secret, then parse its body into an event (see the module's `unwrap`).

        Raises ValueError when no webhook secret was given (nor ``$VERSIVE_WEBHOOK_SECRET`` set).
        """
        if not isinstance(body, bytes | str):
            raise TypeError(f"body must be bytes or str (the request's raw body), not {type(body).__name__}")
        self._refuse()
        if self._secret is None:
            raise ValueError(f"no webhook secret: pass VersiveClient(webhook_secret=...) or set {SECRET_ENV}")
        svix_headers = {name.lower(): value for name, value in headers.items() if name.lower() in HEADERS}
        missing = [name for name in HEADERS if not svix_headers.get(name)]
        if missing:
            raise WebhookVerificationError(f"the delivery is missing the {', '.join(missing)} header: is it from Svix?")
        try:
            text = body.decode() if isinstance(body, bytes) else body
        except UnicodeDecodeError:
            raise WebhookVerificationError(NOT_UTF8) from None
        problem = _signature_problem(text, svix_headers, self)
        if problem:
            raise WebhookVerificationError(problem)
        return _parse(text, svix_headers["svix-id"])

    def __repr__(self) -> str:
        """Whether there is a secret, never the secret."""
        return f"<Webhooks {'(no secret)' if self._secret is None else 'secret=[secure]'}>"

    def __reduce__(self) -> str:
        """Never pickled, nor copied (a process pool or a cache would hold the secret)."""
        raise TypeError("a webhook secret cannot be pickled or copied; make a client in each process")


def _secret_problem(secret: object) -> str | None:
    """Why `secret` is not a Svix endpoint secret, without repeating it; None when it is one."""
    if not isinstance(secret, str):
        return f"the webhook secret must be a string, got {type(secret).__name__}"
    refusal = "the webhook secret is not a Svix endpoint secret: expected whsec_ followed by base64"
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        return refusal + " (the endpoint's Signing Secret, not an API key)"
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Svix's own decoding skips what is not base64; this is stricter, so a typo is caught here.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        return refusal
    return None if key else refusal


@functools.cache
def _svix() -> Any:  # noqa: ANN401 - svix.webhooks, imported on first use
    """Svix's webhooks module: imported when first needed, so the client's start-up does not pay for it."""
    try:
        import svix.webhooks  # noqa: PLC0415 - the webhooks extra
    except ImportError as exc:
        raise ImportError(f"webhooks need the webhooks extra ({exc.name} is missing): {EXTRA}", name=exc.name) from None
    return svix.webhooks


def _signature_problem(text: str, headers: dict[str, str], webhooks: Webhooks) -> str | None:
    """Why Svix refuses the delivery, in our words; None when it verifies.

    The reason is returned rather than raised from here, so that the raised error chains
    none of Svix's frames: their local variables hold the key and the expected signature.
    """
    svix = _svix()
    try:
        svix.Webhook(webhooks._secret).verify(text, headers)  # noqa: SLF001 - this module's own
    except svix.WebhookVerificationError as exc:
        reason = str(exc)
        return SVIX_REASONS.get(reason, f"the delivery is not verified: {reason}")
    except ValueError:  # Svix unpacks and decodes each "v1,<base64>" without checking it first
        return "the svix-signature header is malformed: expected Svix's space-separated v1,<base64> signatures"
    except Exception as exc:  # noqa: BLE001 - whatever else Svix raises, its frames hold the key: not chained
        return f"the delivery is not verified: Svix's library failed ({type(exc).__name__})"
    return None


def _parse(text: str, delivery_id: str) -> WebhookEvent:
    """The event a verified body holds."""
    from versive_client._generated.models import InterviewCompletedEvent  # noqa: PLC0415 - the models load on use

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


# -- waiting, where no webhook can reach ------------------------------------------------


class WaitTimeoutError(VersiveError, TimeoutError):
    """A wait (``versive.interviews.wait(...)``) ran out of its timeout before a final status.

    The message says the last status seen, and why the last finished poll failed if it did (that
    error is the cause); `last` is the last answer read (None if no poll got one), `status`
    its status; `attempts` counts the polls. Also a ``TimeoutError``. Exported as
    ``versive_client.WaitTimeoutError``.

    .. versionadded:: 0.6.0
    """

    __module__ = "versive_client"  # where users import it from, and where tracebacks should say it is

    def __init__(self, message: str, *, last: Any = None, status: str | None = None, polls: int = 1) -> None:  # noqa: ANN401 - the polled operation's model
        """`message` is the whole text; `polls` how many polls the wait made."""
        super().__init__(message, attempts=polls)
        self.last = last
        self.status = status

    def __str__(self) -> str:
        """The message: it says what the wait saw (the polls it made are `attempts`)."""
        return self.message


FIRST_POLL = 1.0
"""Seconds between the first two polls of a wait, by default; each wait after doubles, to `LAST_POLL`."""
LAST_POLL = 30.0
"""The longest wait between two polls, by default."""
LAST_TURN = 1.0
"""When the next poll would come after the timeout, the last goes this long before it (at most half what is left)."""


async def wait_until(
    poll: Callable[[], Awaitable[T]],
    what: str,
    field: str,
    until: str | Collection[str],
    *,
    timeout: float,
    poll_interval: float = FIRST_POLL,
    max_poll_interval: float = LAST_POLL,
) -> T:
    """Call `poll` until its answer's `field` is one of `until`, and return that answer.

    The generated waiters (``versive.interviews.wait``) call this. Each poll is a call of the
    client, with its own options (retries, timeouts, its deadline, pacing, telemetry), cut
    short if it is still going when `timeout` runs out. Between polls it waits
    `poll_interval` seconds, doubling each time up to `max_poll_interval`, with jitter so
    that many waits started at once spread out, and at least what a ``Retry-After`` asked;
    when the next poll would come after the timeout, a last one goes just before it. A poll
    that fails for a while (a connection lost or refused, a timeout, 408, 429, any 5xx) is
    tried again at the next turn; any other error (404, 401, an unusable answer, a transport
    that cannot work) ends the wait at once. `what` names the polled thing in messages
    (``interviews.get('iv_123')``).

    Raises:
        WaitTimeoutError: `field` was not one of `until` within `timeout`; it says the last
            value seen (`.last` is the last answer, `.status` its `field`) or the last error.

    .. versionadded:: 0.6.0
    """
    final = _final_values(until)
    limit = _positive("timeout", timeout)
    delay = _positive("poll_interval", poll_interval)
    longest = _positive("max_poll_interval", max_poll_interval)
    if longest < delay:
        raise ValueError(f"max_poll_interval ({longest:g} s) must be >= poll_interval ({delay:g} s)")
    import anyio  # noqa: PLC0415 - as the client: only when a wait runs

    stop = time.monotonic() + limit
    seen = _Seen(what, field, final, limit)
    last_turn = False
    while True:
        seen.polls += 1
        try:
            with anyio.fail_after(stop - time.monotonic()):
                answer = await poll()
        except TimeoutError:  # the wait's end came first: the poll was still waiting for its answer
            seen.cut = True
        except (APIConnectionError, APIStatusError) as exc:
            if not _transient(exc):
                raise
            seen.failure, seen.cut = exc, False
        else:
            seen.last, seen.failure, seen.cut = answer, None, False
            if getattr(answer, field) in final:
                return answer
        remaining = stop - time.monotonic()
        asked = seen.failure.retry_after if isinstance(seen.failure, APIStatusError) else None
        if remaining <= 0 or last_turn or (asked or 0.0) >= remaining:  # no turn left, or none the API allows
            raise seen.timed_out()
        pause = max(delay * random.uniform(0.5, 1.0), asked or 0.0)  # noqa: S311 - jitter, not security
        if pause >= remaining:
            pause, last_turn = remaining - min(remaining / 2, LAST_TURN), True
        await anyio.sleep(pause)
        delay = min(delay * 2, longest)


@dataclasses.dataclass
class _Seen:
    """What a wait has seen so far, for the error that ends it."""

    what: str
    field: str
    final: tuple[str, ...]
    limit: float
    last: Any = None
    failure: VersiveError | None = None
    cut: bool = False
    polls: int = 0

    def timed_out(self) -> WaitTimeoutError:
        wanted = " or ".join([", ".join(self.final[:-1]), self.final[-1]] if len(self.final) > 1 else self.final)
        status = None if self.last is None else getattr(self.last, self.field)
        seen = "no answer" if self.last is None else f"{self.field} still {status!r}"
        message = f"{self.what}: {seen} after {self.limit:g} s, waiting for {wanted}"
        if self.failure is not None:
            message += f" (the last finished poll failed: {self.failure})"
        elif self.cut:
            message += " (the last poll was still waiting for its answer)"
        error = WaitTimeoutError(message, last=self.last, status=status, polls=self.polls)
        error.__cause__ = self.failure
        return error


def _transient(error: APIConnectionError | APIStatusError) -> bool:
    """Whether a later poll may get what this one did not: the API busy, slow, or out of reach for a while.

    Not a transport that cannot work (an unsupported scheme, a bug of its own), nor a body
    that does not decode: those fail every poll alike.
    """
    if isinstance(error, APIStatusError):
        return error.status_code >= 500 or error.status_code in {408, 429}  # noqa: PLR2004 - 5xx
    if isinstance(error, APITimeoutError):
        return True
    aiohttp = sys.modules.get("aiohttp")
    lost: tuple[type[BaseException], ...] = (httpx.NetworkError, httpx.RemoteProtocolError)
    if aiohttp is not None:
        lost += (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)
    return isinstance(error.__cause__, lost)


def _final_values(until: object) -> tuple[str, ...]:
    values = (until,) if isinstance(until, str) else until
    if not isinstance(values, Collection) or not all(isinstance(value, str) for value in values):
        raise TypeError(f"until must be a status or a collection of statuses (strings), got {type(until).__name__}")
    if not values or not all(values):
        raise ValueError("until must name at least one status, and no empty one")
    return tuple(dict.fromkeys(values))


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds, got {type(value).__name__}")
    try:
        seconds = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number of seconds, got an int too large for one") from None
    if not 0 < seconds < math.inf:
        raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
    return seconds

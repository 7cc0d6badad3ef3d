"""FakeVersive: what the fake API answers (routing, auth, validation, idempotency) and what it keeps."""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import math
import secrets
import threading
import time
import uuid
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from attrs import field, frozen

from versive_client.models import Interview

from .faults import (
    PRE_API_FAULTS,
    BadContentEncoding,
    Fault,
    FaultPlan,
    HtmlBadGateway,
    MissingField,
    NotJson,
    Reset,
    Status,
)

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator, Mapping, Sequence

    from ._transport import FakeVersiveTransport

INTERVIEWS_PATH = "/api/v1/interviews"
REDACTED = "[redacted]"
LINK_BASE = "https://getversive.com/s/"

HTML_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
HTML_NOT_JSON = b"<!doctype html><html><body><h1>Scheduled maintenance</h1></body></html>\n"


@frozen
class RecordedRequest:
    """One request as the fake received it.

    `headers` has lower-case names, with the ``authorization`` value replaced by
    ``[redacted]``; `body` is the parsed JSON, the text when it is not JSON, or `None`
    when empty. `status` is what the fake answered (`None` for a connection reset), and
    `fault` the fault it applied, if any.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    status: int | None
    fault: Fault | None

    @property
    def idempotency_key(self) -> str | None:
        """The request's ``Idempotency-Key`` header, if it sent one."""
        return self.headers.get("idempotency-key")


@frozen
class RateLimit:
    """A limit in front of the fake API: `per_second` requests a second, `burst` at once (a token bucket).

    A request over it is answered 429 before it reaches the API, with a ``Retry-After`` in
    whole seconds (at least 1, as HTTP has it). With `headers`, every answer states the
    limit, as the IETF httpapi draft does (``RateLimit-Policy: "default";q=200;w=1`` and
    ``RateLimit: "default";r=<remaining>;t=<seconds until full>``) and as many APIs do
    (``X-RateLimit-Limit``, ``X-RateLimit-Remaining``, ``X-RateLimit-Reset``).

    .. versionadded:: 0.2.0
    """

    per_second: float = field()
    burst: int = field(default=10)
    headers: bool = True

    @per_second.validator
    def _check_per_second(self, _attribute: object, value: float) -> None:
        if not value > 0:
            raise ValueError(f"per_second must be > 0, got {value!r}")

    @burst.validator
    def _check_burst(self, _attribute: object, value: int) -> None:
        if value < 1:
            raise ValueError(f"burst must be >= 1, got {value!r}")


@frozen
class Reply:
    """The fake's answer to one request, before any transport effect of `fault`."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fault: Fault | None = None


class FakeVersive:
    """A fake of the Versive API, faithful to its spec, with scriptable faults.

    Use it in-process through :meth:`transport` (no sockets), or on loopback through
    :meth:`serve` (a real HTTP server on 127.0.0.1)::

        fake = FakeVersive(api_key="test-key")
        async with fake.serve() as base_url:
            ...  # point the client at base_url
        assert len(fake.interviews) == 1

    With `api_key` `None` any non-empty bearer token is accepted. It also honours an
    ``Idempotency-Key`` header, which the real API does not document: the same key and
    body return the interview created the first time; the same key with another body is
    refused with a 422 naming the header. `seed` makes probabilistic faults reproducible.

    Safe to use from several threads: the loopback server runs in its own thread.

    .. versionadded:: 0.1.0
    """

    def __init__(self, api_key: str | None = None, *, seed: int = 0, rate_limit: RateLimit | None = None) -> None:
        """Create an empty fake; see the class docstring. `rate_limit` puts a `RateLimit` in front of it."""
        if api_key is not None and not api_key.strip():
            raise ValueError("api_key must be a non-empty string, or None to accept any bearer token")
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise TypeError(f"rate_limit must be a RateLimit or None, got {type(rate_limit).__name__}")
        self._api_key = api_key
        self.rate_limit = rate_limit
        self._tokens = float(rate_limit.burst) if rate_limit is not None else 0.0
        self._refilled_at = time.monotonic()
        self.faults = FaultPlan(seed=seed)
        self._lock = threading.Lock()
        self._interviews: list[dict[str, Any]] = []
        self._requests: list[RecordedRequest] = []
        self._idempotent: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        """Counts only: the API key is never shown."""
        return f"<FakeVersive interviews={len(self._interviews)} requests={len(self._requests)}>"

    # -- inspection -------------------------------------------------------------

    @property
    def interviews(self) -> list[Interview]:
        """Every interview created so far, oldest first."""
        with self._lock:
            return [Interview.from_dict(interview) for interview in self._interviews]

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def attempts(self, idempotency_key: str) -> int:
        """How many requests arrived with this ``Idempotency-Key``: 1 plus the retries."""
        return sum(1 for request in self.requests if request.idempotency_key == idempotency_key)

    @property
    def fired(self) -> list[Fault]:
        """The faults applied so far, in the order of the requests they hit."""
        return [request.fault for request in self.requests if request.fault is not None]

    def reset(self) -> None:
        """Forget interviews, requests, idempotency keys and scripted faults; refill the rate limit."""
        with self._lock:
            self._interviews.clear()
            self._requests.clear()
            self._idempotent.clear()
            self.faults.clear()
            self._tokens = float(self.rate_limit.burst) if self.rate_limit is not None else 0.0

    # -- ways to reach it -------------------------------------------------------

    def transport(self) -> FakeVersiveTransport:
        """An httpx transport that answers from this fake in-process, no sockets.

        >>> httpx.AsyncClient(base_url="https://fake.versive.test", transport=fake.transport())
        """
        from ._transport import FakeVersiveTransport  # noqa: PLC0415 - keeps the two modules apart

        return FakeVersiveTransport(self)

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serve this fake over HTTP on loopback; yields the base URL (``http://127.0.0.1:PORT``).

        Port 0 picks a free ephemeral port. The server runs in a thread of its own, so it
        works whatever the caller's event loop (asyncio or trio).
        """
        import anyio.to_thread  # noqa: PLC0415 - only needed when serving

        from ._server import BackgroundServer  # noqa: PLC0415 - h11 is only needed when serving

        server = BackgroundServer(self, host, port)
        base_url = await anyio.to_thread.run_sync(server.start)
        try:
            yield base_url
        finally:
            await anyio.to_thread.run_sync(server.stop)

    @contextlib.contextmanager
    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """:meth:`serve` for synchronous code: ``with fake.serve_in_thread() as base_url: ...``."""
        from ._server import BackgroundServer  # noqa: PLC0415 - h11 is only needed when serving

        server = BackgroundServer(self, host, port)
        base_url = server.start()
        try:
            yield base_url
        finally:
            server.stop()

    # -- the API ----------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes) -> Reply:
        """Answer one request: draw a fault, route, authenticate, validate, create, record."""
        path = urlsplit(target).path
        names = [(name.lower(), value) for name, value in headers]
        with self._lock:
            refused, limit_headers = self._take_token()
            fault = None if refused else self.faults.next_fault()
            if refused:
                reply = _json_reply(HTTPStatus.TOO_MANY_REQUESTS, {"detail": "Too Many Requests"}, **limit_headers)
            elif isinstance(fault, PRE_API_FAULTS) or (isinstance(fault, BadContentEncoding) and fault.status):
                reply = _fault_reply(fault)
            else:
                reply = self._answer(method.upper(), path, dict(names), body)
                reply = _corrupt(reply, fault)
            if limit_headers and not refused:
                reply = Reply(reply.status, reply.headers + _header_pairs(limit_headers), reply.body, reply.fault)
            self._requests.append(
                RecordedRequest(
                    method=method.upper(),
                    path=path,
                    headers=_redacted(names),
                    body=_parsed_body(body),
                    status=None if isinstance(fault, Reset) else reply.status,
                    fault=fault,
                )
            )
        return reply

    def _take_token(self) -> tuple[bool, dict[str, str]]:
        """Spend one of the rate limit's tokens: whether the request is refused, and the headers to state the limit."""
        limit = self.rate_limit
        if limit is None:
            return False, {}
        now = time.monotonic()
        self._tokens = min(float(limit.burst), self._tokens + (now - self._refilled_at) * limit.per_second)
        self._refilled_at = now
        refused = self._tokens < 1.0
        if not refused:
            self._tokens -= 1.0
        headers = {}
        if refused:
            headers["retry_after"] = str(max(1, math.ceil((1.0 - self._tokens) / limit.per_second)))
        if limit.headers:
            remaining = int(self._tokens)
            reset = math.ceil((limit.burst - self._tokens) / limit.per_second)
            per_second = f"{limit.per_second:g}"
            headers["ratelimit_policy"] = f'"default";q={per_second};w=1'
            headers["ratelimit"] = f'"default";r={remaining};t={reset}'
            headers.update(x_ratelimit_limit=per_second, x_ratelimit_remaining=str(remaining))
            headers["x_ratelimit_reset"] = str(reset)
        return refused, headers

    def _answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:  # noqa: PLR0911 - a router
        if path != INTERVIEWS_PATH:
            return _json_reply(HTTPStatus.NOT_FOUND, {"detail": "Not Found"})
        if method != "POST":
            return _json_reply(HTTPStatus.METHOD_NOT_ALLOWED, {"detail": "Method Not Allowed"}, allow="POST")
        token = _bearer_token(headers.get("authorization", ""))
        if token is None:
            return _json_reply(HTTPStatus.UNAUTHORIZED, {"detail": "Not authenticated"}, www_authenticate="Bearer")
        if self._api_key is not None and not hmac.compare_digest(token.encode(), self._api_key.encode()):
            return _json_reply(
                HTTPStatus.UNAUTHORIZED,
                {"detail": "Invalid authentication credentials"},
                www_authenticate="Bearer",
            )
        payload, problems = validate_create_interview(headers.get("content-type"), body)
        if problems:
            return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": problems})
        assert payload is not None  # noqa: S101 - no problems means a payload

        key = headers.get("idempotency-key")
        fingerprint = json.dumps(payload, sort_keys=True)
        if key:
            earlier = self._idempotent.get((token, key))
            if earlier is not None:
                if earlier[0] != fingerprint:
                    return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": [_IDEMPOTENCY_REUSED]})
                return _json_reply(HTTPStatus.OK, earlier[1])
        interview = self._create(payload)
        if key:
            self._idempotent[(token, key)] = (fingerprint, interview)
        return _json_reply(HTTPStatus.OK, interview)

    def _create(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        study_id: str = payload["study_id"]
        interview = {
            "id": str(uuid.uuid4()),
            "title": payload.get("title"),
            "study_id": study_id,
            "metadata": payload.get("metadata") or {},
            "link": f"{LINK_BASE}{quote(study_id, safe='')}?vid=vid_{secrets.token_hex(8)}",
            "status": "open",
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }
        self._interviews.append(interview)
        return interview


_IDEMPOTENCY_REUSED = {
    "loc": ["header", "Idempotency-Key"],
    "msg": "this Idempotency-Key was already used with a different request body",
    "type": "value_error.idempotency_key_reused",
}


def validate_create_interview(content_type: str | None, body: bytes) -> tuple[dict[str, Any] | None, list[Any]]:
    """Parse and check a Create Interview body as the API (FastAPI) does.

    Returns the payload, or the ``HTTPValidationError`` entries: one per problem, each
    with ``loc`` pointing at the field, worded as the spec's example is.

    Hand-written rather than a JSON Schema validator: FastAPI's messages and locations
    (``["body", "study_id"]``, ``value_error.missing``) are what clients see, and no
    schema validator produces them.
    """
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    if media_type and not is_json:
        return None, [_problem(["body"], "value is not a valid dict", "type_error.dict")]
    if not body.strip():
        return None, [_problem(["body"], "field required", "value_error.missing")]
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        return None, [_problem(["body", position], str(exc), "value_error.jsondecode")]
    if not isinstance(payload, dict):
        return None, [_problem(["body"], "value is not a valid dict", "type_error.dict")]

    problems = []
    if "study_id" not in payload:
        problems.append(_problem(["body", "study_id"], "field required", "value_error.missing"))
    for name, expected, nullable, msg, code in _FIELD_TYPES:
        value = payload.get(name)
        if value is None:
            if name in payload and not nullable:
                problems.append(_problem(["body", name], "none is not an allowed value", "type_error.none.not_allowed"))
        elif not isinstance(value, expected):
            problems.append(_problem(["body", name], msg, code))
    return (None, problems) if problems else (payload, [])


# CreateInterviewReqV1's fields in the spec's order (FastAPI reports problems in that order):
# name, JSON type, may be null, message and type of the error when it is not that type.
_FIELD_TYPES: tuple[tuple[str, type, bool, str, str], ...] = (
    ("study_id", str, False, "str type expected", "type_error.str"),
    ("metadata", dict, True, "value is not a valid dict", "type_error.dict"),
    ("language", str, False, "str type expected", "type_error.str"),
    ("title", str, True, "str type expected", "type_error.str"),
)


def _problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def _bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _json_reply(status: int, body: object, **headers: str) -> Reply:
    return Reply(
        status=int(status),
        headers=(("content-type", "application/json"), *_header_pairs(headers)),
        body=json.dumps(body, separators=(",", ":")).encode(),
    )


def _header_pairs(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``retry_after="1"`` as ``("Retry-After", "1")``."""
    return tuple((name.replace("_", "-").title(), value) for name, value in headers.items())


def _fault_reply(fault: Fault) -> Reply:
    if isinstance(fault, HtmlBadGateway):
        return Reply(502, (("content-type", "text/html"),), HTML_BAD_GATEWAY, fault)
    if isinstance(fault, Status | BadContentEncoding) and fault.status:
        reply = _json_reply(fault.status, {"detail": _phrase(fault.status)})
        headers = reply.headers
        retry_after = fault.retry_after if isinstance(fault, Status) else None
        if isinstance(retry_after, dt.datetime):
            headers += (("retry-after", _http_date(retry_after)),)
        elif retry_after is not None:
            headers += (("retry-after", str(retry_after)),)
        return Reply(reply.status, headers, reply.body, fault)
    return Reply(0, (), b"", fault)  # Reset: the transport drops the connection


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


def _corrupt(reply: Reply, fault: Fault | None) -> Reply:
    """Apply a fault that changes a successful answer's body; others travel with the reply."""
    if reply.status == HTTPStatus.OK and isinstance(fault, NotJson):
        return Reply(200, (("content-type", "text/html"),), HTML_NOT_JSON, fault)
    if reply.status == HTTPStatus.OK and isinstance(fault, MissingField):
        body = {k: v for k, v in json.loads(reply.body).items() if k != fault.field_name}
        return Reply(200, reply.headers, json.dumps(body, separators=(",", ":")).encode(), fault)
    return Reply(reply.status, reply.headers, reply.body, fault)


def _http_date(moment: dt.datetime) -> str:
    from email.utils import format_datetime  # noqa: PLC0415 - only for HTTP-date Retry-After

    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _redacted(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name, value in headers:
        shown = REDACTED if name == "authorization" else value
        merged[name] = f"{merged[name]}, {shown}" if name in merged else shown
    return merged


def _parsed_body(body: bytes) -> object:
    if not body:
        return None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return body.decode("utf-8", errors="replace")

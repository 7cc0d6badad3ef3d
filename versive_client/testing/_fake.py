"""FakeVersive: how the fake API answers (limits, faults, routing, auth, checks, idempotency) and what it keeps."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from attrs import field, frozen

from versive_client.models import Folder, Interview, InterviewDetails, Question, QuestionLogic, Study

from . import _spec
from ._store import JSON, Call, ConflictError, InvalidError, NotFoundError, Store, created_interview, interview_details
from ._webhooks import DEFAULT_RETRY_DELAYS, Deliverer, WebhookDelivery, interview_completed
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

REDACTED = "[redacted]"

HTML_BAD_GATEWAY = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
HTML_NOT_JSON = b"<!doctype html><html><body><h1>Scheduled maintenance</h1></body></html>\n"

# The fake's own control endpoints, beside the API's paths (none of which starts so).
CONTROL_PREFIX = "/_fake/"
COMPLETE_PATH = re.compile(r"/_fake/interviews/([^/]+)/complete")
# What the participant and the interviewer say when a test does not care.
DEFAULT_TURNS: tuple[tuple[str, str], ...] = (
    ("assistant", "Thanks for joining. What brought you to us?"),
    ("user", "A friend recommended you."),
)


@frozen
class RecordedRequest:
    """One request as the fake received it.

    `headers` has lower-case names, with the ``authorization`` value replaced by
    ``[redacted]``; `body` is the parsed JSON, the text when it is not JSON, or `None`
    when empty. `status` is what the fake answered (`None` for a connection reset), and
    `fault` the fault it applied, if any. `query` holds the query parameters, each name's
    values in order.

    .. versionchanged:: 0.4.0 `query`.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    status: int | None
    fault: Fault | None
    query: Mapping[str, list[str]] = field(factory=dict)

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
    """A fake of the Versive API that speaks every operation of its spec, statefully, with scriptable faults.

    Use it in-process through :meth:`transport` (no sockets), or on loopback through
    :meth:`serve` (a real HTTP server on 127.0.0.1)::

        fake = FakeVersive(api_key="test-key")
        study = fake.add_study(title="Onboarding")          # seed what the test needs
        async with fake.serve() as base_url:
            ...  # the code under test, pointed at base_url, adds a question to the study
        assert [q.content for q in fake.questions] == ["How did you hear of us?"]

    It keeps what the API would: folders, studies, their questions and logic rules
    (deleted ones stay deleted: reads no longer show them, and updating or deleting them
    again is a 404), and interviews, read back as InterviewDetails. Interviews can be
    created for any study id, held or not. Every answer matches the spec's schema; see
    the package docstring for what each operation does.

    With `api_key` `None` any non-empty bearer token is accepted. It also honours an
    ``Idempotency-Key`` header on every POST, which the real API does not document: the
    same key, path and body return the first answer again; the same key with another
    path or body is refused with a 422 naming the header. `seed` makes probabilistic
    faults reproducible.

    Safe to use from several threads: the loopback server runs in its own thread.

    With `webhook_url` and `webhook_secret` (a Svix endpoint secret, ``whsec_...``; the two
    go together, and need the ``webhooks`` extra) :meth:`complete_interview` delivers a
    signed ``interview.completed`` to the URL, as Svix does: in the background, retried
    after a non-2xx answer or a connection failure after each of `webhook_retry_delays`
    seconds in turn (Svix's schedule by default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    10 h; give short ones in tests), with the same ``svix-id`` on every attempt::

        fake = FakeVersive(webhook_url=url, webhook_secret=secret, webhook_retry_delays=(0.05, 0.1))
        fake.complete_interview(interview_id, transcript=[("assistant", "Hi"), ("user", "Hello")])
        assert [d.status for d in fake.wait_for_deliveries(timeout=5)] == [200]

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.4.0 every operation of the spec, with state to read and seed.
    .. versionchanged:: 0.6.0 `webhook_url`, `webhook_secret` and `webhook_retry_delays`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        seed: int = 0,
        rate_limit: RateLimit | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
    ) -> None:
        """Create an empty fake; see the class docstring. `rate_limit` puts a `RateLimit` in front of it."""
        if (webhook_url is None) != (webhook_secret is None):
            raise ValueError("webhook_url and webhook_secret go together: give both, or neither")
        self._webhooks = (
            None
            if webhook_url is None or webhook_secret is None
            else Deliverer(webhook_url, webhook_secret, webhook_retry_delays)
        )
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
        self._store = Store()
        self._requests: list[RecordedRequest] = []
        self._idempotent: dict[tuple[str, str], tuple[str, Reply]] = {}

    def __repr__(self) -> str:
        """Counts only: the API key is never shown."""
        held = f"interviews={len(self._store.interviews)} studies={len(self._store.studies)}"
        webhook = "" if self._webhooks is None else f" webhook={self._webhooks.shown_url}"
        return f"<FakeVersive {held} requests={len(self._requests)}{webhook}>"

    # -- inspection -------------------------------------------------------------

    @property
    def interviews(self) -> list[Interview]:
        """Every interview created so far, oldest first, in the shape Create Interview answers (status as it is now)."""
        with self._lock:
            return [Interview.from_dict(created_interview(interview)) for interview in self._store.interviews.values()]

    @property
    def folders(self) -> list[Folder]:
        """Every folder, oldest first.

        .. versionadded:: 0.4.0
        """
        with self._lock:
            return [Folder.from_dict(copy.deepcopy(folder)) for folder in self._store.folders.values()]

    @property
    def studies(self) -> list[Study]:
        """Every study, oldest first.

        .. versionadded:: 0.4.0
        """
        with self._lock:
            return [Study.from_dict(copy.deepcopy(study)) for study in self._store.studies.values()]

    @property
    def questions(self) -> list[Question]:
        """Every question not deleted, oldest first, each with its logic rules.

        .. versionadded:: 0.4.0
        """
        with self._lock:
            return [Question.from_dict(copy.deepcopy(question)) for question in self._store.live_questions()]

    @property
    def logic(self) -> list[QuestionLogic]:
        """Every logic rule not deleted (nor of a deleted question), oldest first.

        .. versionadded:: 0.4.0
        """
        with self._lock:
            return [QuestionLogic.from_dict(copy.deepcopy(rule)) for rule in self._store.live_logic()]

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

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every webhook delivery attempt so far, in the order they ended (none without a `webhook_url`).

        .. versionadded:: 0.6.0
        """
        return [] if self._webhooks is None else self._webhooks.records

    def wait_for_deliveries(self, timeout: float = 10.0) -> list[WebhookDelivery]:
        """Block until every webhook event has been delivered or has run out of retries; returns :attr:`deliveries`.

        Raises `TimeoutError` when some are still pending after `timeout` seconds. From
        async code, run it in a thread: ``await anyio.to_thread.run_sync(fake.wait_for_deliveries)``.

        .. versionadded:: 0.6.0
        """
        return [] if self._webhooks is None else self._webhooks.wait(timeout)

    def reset(self) -> None:
        """Forget everything held, requests, idempotency keys, faults and webhook deliveries; refill the rate limit.

        Webhook retries still pending are dropped.
        """
        if self._webhooks is not None:
            self._webhooks.stop()
        with self._lock:
            self._store = Store()
            self._requests.clear()
            self._idempotent.clear()
            self.faults.clear()
            self._tokens = float(self.rate_limit.burst) if self.rate_limit is not None else 0.0

    # -- seeding, for tests: as the API would create them, without a request --------

    def add_folder(self, name: str) -> Folder:
        """Create a folder, as ``POST /api/v1/folders`` would.

        .. versionadded:: 0.4.0
        """
        return Folder.from_dict(self._seed("create_folder", {"name": name}))

    def add_study(self, title: str, **fields: object) -> Study:
        """Create a study, as ``POST /api/v1/studies`` would with these fields (`folder_id`, `config`, ...).

        >>> study = fake.add_study(title="Onboarding", config={"primaryColor": "#0E9489"})

        Fields the API would refuse raise `ValueError` (a 422's problems), an unknown
        `folder_id` `LookupError`.

        .. versionadded:: 0.4.0
        """
        return Study.from_dict(self._seed("create_study", {"title": title, **fields}))

    def add_question(self, study_id: str, content: str, **fields: object) -> Question:
        """Add a question to a study, as ``POST /api/v1/questions/batch`` would (`type` "text" unless given).

        .. versionadded:: 0.4.0
        """
        item = {"study_id": study_id, "content": content, **fields}
        (question_id,) = self._seed("create_questions_batch", {"questions": [item]})["created_question_ids"]
        with self._lock:
            return Question.from_dict(copy.deepcopy(self._store.question_view(question_id)))

    def add_logic(
        self, study_id: str, question_id: str, *, operation: str, action_type: str, **fields: object
    ) -> QuestionLogic:
        """Add a logic rule to a question, as ``POST /api/v1/question-logic`` would.

        `comparison_value_type` is "text" unless given::

            fake.add_logic(study.id, q.id, operation="equals", comparison_value="Blue",
                           action_type="skip_to", next_question_id=other.id)

        .. versionadded:: 0.4.0
        """
        body = {"study_id": study_id, "question_id": question_id, "operation": operation, "action_type": action_type}
        defaults = {"comparison_value_type": "text"}
        return QuestionLogic.from_dict(self._seed("create_question_logic", {**defaults, **body, **fields}))

    def set_interview(self, interview_id: str, **fields: object) -> InterviewDetails:
        """Set fields of an interview as read back, as the participant and Versive would.

        >>> fake.set_interview(interview.id, status="closed", progress=100, transcript="...")

        Any InterviewDetails field but `id`; a value its schema refuses raises `ValueError`,
        an unknown interview `LookupError`.

        .. versionadded:: 0.4.0
        """
        with self._lock:
            try:
                details = self._store.set_interview(interview_id, fields)
            except NotFoundError as exc:
                raise LookupError(exc.detail) from None
            except InvalidError as exc:
                raise ValueError(_described(exc.problems)) from None
            return InterviewDetails.from_dict(copy.deepcopy(details))

    def complete_interview(
        self, interview_id: str, transcript: Sequence[tuple[str, str]] = DEFAULT_TURNS, *, screened_out: bool = False
    ) -> InterviewDetails:
        """Run an interview to its end as the participant and Versive would; returns it as read back.

        `transcript` is the conversation as ``(role, content)`` pairs (``"assistant"`` the
        interviewer, ``"user"`` the participant); the interview reads back with them as
        `conversation_json` and `parsed_conversation_json` (``{"role", "content"}`` turns) and
        as the text `transcript`, one ``role: content`` line a turn. It goes from open (or
        in_progress, or paused) through in_progress and processing to ``closed``, with
        progress 100 and `started_at`, `ended_at`, `completed_at` and `active_time` set, and
        with a `webhook_url` the signed ``interview.completed`` is sent in the background
        (see :meth:`wait_for_deliveries`). With `screened_out` it ends ``screened_out``
        instead, not completed, and sends nothing, as Versive does.

        >>> fake.complete_interview(interview.id, transcript=[("assistant", "Why us?"), ("user", "Price.")])

        An unknown interview raises `LookupError`; one already closed, screened out or
        canceled `ValueError`. Safe to call from any thread, while the fake serves.

        .. versionadded:: 0.6.0
        """
        turns = _checked_turns(transcript)
        return InterviewDetails.from_dict(self._complete(interview_id, turns, screened_out=screened_out))

    def _complete(self, interview_id: str, turns: list[tuple[str, str]], *, screened_out: bool) -> JSON:
        """Complete the interview with `turns` (checked by the caller); returns it as read back."""
        with self._lock:
            try:
                interview = self._store.complete_interview(interview_id, turns, screened_out=screened_out)
            except NotFoundError as exc:
                raise LookupError(exc.detail) from None
            except ConflictError as exc:
                raise ValueError(str(exc)) from None
            study = self._store.studies.get(interview["study_id"])
            payload = None if screened_out else interview_completed(copy.deepcopy(interview), copy.deepcopy(study))
            details = copy.deepcopy(interview_details(interview))
        if payload is not None and self._webhooks is not None:
            self._webhooks.submit(interview_id, payload)
        return details

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        """The fake's control endpoint, ``POST /_fake/interviews/{id}/complete``: no auth, faults, limit or record."""
        match = COMPLETE_PATH.fullmatch(path)
        if match is None:
            return _json_reply(HTTPStatus.NOT_FOUND, {"detail": "Not Found"})
        if method.upper() != "POST":
            return _json_reply(HTTPStatus.METHOD_NOT_ALLOWED, {"detail": "Method Not Allowed"}, allow="POST")
        try:
            request = json.loads(body) if body.strip() else {}
            given = request.get("transcript")
            turns = _checked_turns([(turn["role"], turn["content"]) for turn in given] if given else DEFAULT_TURNS)
            screened_out = request.get("screened_out", False)
            if not isinstance(screened_out, bool):
                raise TypeError("screened_out must be a boolean")  # noqa: TRY301 - one refusal for every bad body
        except (ValueError, TypeError, KeyError, AttributeError):
            return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": [_CONTROL_BODY_REFUSED]})
        try:
            answer = self._complete(unquote(match.group(1)), turns, screened_out=screened_out)
        except LookupError as exc:
            return _json_reply(HTTPStatus.NOT_FOUND, {"detail": str(exc)})
        except ValueError as exc:
            return _json_reply(HTTPStatus.CONFLICT, {"detail": str(exc)})
        return _json_reply(HTTPStatus.OK, answer)

    def _seed(self, operation_id: str, body: dict[str, Any]) -> Any:  # noqa: ANN401 - the operation's JSON answer
        """Run an operation without a request: the same checks and state, no auth, faults, limit or record."""
        route = _spec.route_of(operation_id)
        with self._lock:
            payload, problems = route.check({}, "application/json", json.dumps(body).encode())
            if problems:
                raise ValueError(_described(problems))
            reply = self._perform(route, Call({}, {}, payload))
        answer = json.loads(reply.body)
        if reply.status == HTTPStatus.NOT_FOUND:
            raise LookupError(answer["detail"])
        if reply.status == HTTPStatus.UNPROCESSABLE_ENTITY:
            raise ValueError(_described(answer["detail"]))
        return answer

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
        """Answer one request: spend a token, draw a fault, answer as the API would, record."""
        url = urlsplit(target)
        if url.path.startswith(CONTROL_PREFIX):
            return self._control(method, url.path, body)
        names = [(name.lower(), value) for name, value in headers]
        with self._lock:
            refused, limit_headers = self._take_token()
            fault = None if refused else self.faults.next_fault()
            if refused:
                reply = _json_reply(HTTPStatus.TOO_MANY_REQUESTS, {"detail": "Too Many Requests"}, **limit_headers)
            elif isinstance(fault, PRE_API_FAULTS) or (isinstance(fault, BadContentEncoding) and fault.status):
                reply = _fault_reply(fault)
            else:
                reply = self._answer(method.upper(), target, dict(names), body)
                reply = _corrupt(reply, fault)
            if limit_headers and not refused:
                reply = Reply(reply.status, reply.headers + _header_pairs(limit_headers), reply.body, reply.fault)
            self._requests.append(
                RecordedRequest(
                    method=method.upper(),
                    path=url.path,
                    query=parse_qs(url.query, keep_blank_values=True),
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

    def _answer(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Route by the spec's paths, authenticate, check the request against its schemas, then run the operation."""
        url = urlsplit(target)
        route, path_params, allowed = _spec.resolve(method, url.path)
        if route is None:
            return _unrouted(allowed)
        token = self._authenticated(headers.get("authorization", ""))
        if isinstance(token, Reply):
            return token
        query = dict(parse_qsl(url.query, keep_blank_values=True))  # the last of a repeated name, as FastAPI
        payload, problems = route.check(query, headers.get("content-type"), body)
        if problems:
            return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": problems})

        key = headers.get("idempotency-key") if method == "POST" else None
        fingerprint = f"{method} {url.path} {json.dumps(payload, sort_keys=True)}"
        if key:
            earlier = self._idempotent.get((token, key))
            if earlier is not None:
                if earlier[0] != fingerprint:
                    return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": [_IDEMPOTENCY_REUSED]})
                return earlier[1]
        reply = self._perform(route, Call(path_params, query, payload))
        if key and reply.status < HTTPStatus.MULTIPLE_CHOICES:
            self._idempotent[(token, key)] = (fingerprint, reply)
        return reply

    def _authenticated(self, authorization: str) -> str | Reply:
        """The bearer token, or the 401 to answer without a (valid) one."""
        token = _bearer_token(authorization)
        if token is None:
            return _json_reply(HTTPStatus.UNAUTHORIZED, {"detail": "Not authenticated"}, www_authenticate="Bearer")
        if self._api_key is not None and not hmac.compare_digest(token.encode(), self._api_key.encode()):
            detail = {"detail": "Invalid authentication credentials"}
            return _json_reply(HTTPStatus.UNAUTHORIZED, detail, www_authenticate="Bearer")
        return token

    def _perform(self, route: _spec.Route, call: Call) -> Reply:
        """Run a checked request's operation on the store: its answer with the spec's success status, or its error."""
        try:
            answer = self._store.answer(route.operation_id, call)
        except NotFoundError as exc:
            return _json_reply(HTTPStatus.NOT_FOUND, {"detail": exc.detail})
        except InvalidError as exc:
            return _json_reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"detail": exc.problems})
        except NotImplementedError:
            detail = f"the fake Versive does not answer {route.operation_id} yet"
            return _json_reply(HTTPStatus.NOT_IMPLEMENTED, {"detail": detail})
        return Reply(route.status, (), b"") if answer is None else _json_reply(route.status, answer)


_IDEMPOTENCY_REUSED = {
    "loc": ["header", "Idempotency-Key"],
    "msg": "this Idempotency-Key was already used with a different request body",
    "type": "value_error.idempotency_key_reused",
}


_CONTROL_BODY_REFUSED = {
    "loc": ["body"],
    "msg": 'expected {"transcript": [{"role": str, "content": str}, ...], "screened_out": bool}, both optional',
    "type": "value_error",
}


def _checked_turns(transcript: object) -> list[tuple[str, str]]:
    """`transcript` as a list of (role, content) pairs of strings; TypeError for anything else."""
    refusal = TypeError("transcript must be (role, content) pairs of strings")
    if isinstance(transcript, str | bytes) or not isinstance(transcript, Iterable):
        raise refusal
    checked: list[tuple[str, str]] = []
    for turn in transcript:
        pair = isinstance(turn, tuple | list) and len(turn) == 2  # noqa: PLR2004 - a pair
        if not pair or not all(isinstance(part, str) for part in turn):
            raise refusal
        checked.append((turn[0], turn[1]))
    return checked


def _unrouted(allowed: tuple[str, ...]) -> Reply:
    """FastAPI's router's answer, before any authentication: 405 when the path has other methods, else 404."""
    if allowed:
        return _json_reply(HTTPStatus.METHOD_NOT_ALLOWED, {"detail": "Method Not Allowed"}, allow=", ".join(allowed))
    return _json_reply(HTTPStatus.NOT_FOUND, {"detail": "Not Found"})


def _described(problems: list[_spec.Problem]) -> str:
    """A 422's problems in one line, for an exception message."""
    return "; ".join(f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}" for problem in problems)


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
    succeeded = HTTPStatus.OK <= reply.status < HTTPStatus.MULTIPLE_CHOICES and reply.body
    if succeeded and isinstance(fault, NotJson):
        return Reply(reply.status, (("content-type", "text/html"),), HTML_NOT_JSON, fault)
    if succeeded and isinstance(fault, MissingField):
        answer = json.loads(reply.body)
        items = answer if isinstance(answer, list) else [answer]
        for item in items:
            item.pop(fault.field_name, None)
        return Reply(reply.status, reply.headers, json.dumps(answer, separators=(",", ":")).encode(), fault)
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

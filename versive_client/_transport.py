"""The attempt loop: one way through for every call, whatever the backend.

A call is a `Request` (method, URL, headers, body) given to `Sender.send` with its
`Options`. Each attempt goes to the client's backend (``_httpx`` or ``_aiohttp``), which
answers with an `Answer` (status, its own headers, body as received) or raises `SendError`.
Everything else happens here, once for every backend: the Idempotency-Key and retry-count
headers, the deadline, decoding the body by its Content-Encoding, status → typed error,
retries with backoff and the retry budget, and what observers (``on_call``, ``on_attempt``,
logging, tracing) are told of each call and attempt.
Every resource method sends here, through ``VersiveClient.call``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import time
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from attrs import define, evolve, field, frozen

from versive_client._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    RateLimitError,
    request_id,
    status_error,
    validation_error,
)
from versive_client._generated.types import UNSET
from versive_client._retry import RETRY_STATUSES, RetryBudget, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
    from types import ModuleType

    import anyio

    from versive_client._errors import APIResponseValidationError, VersiveError

logger = logging.getLogger("versive_client")
T = TypeVar("T")

IDEMPOTENCY_HEADER = "idempotency-key"
RETRY_COUNT_HEADER = "x-versive-retry-count"
# Headers the loop sets on each call; a default for every request would be wrong.
CALL_HEADERS = frozenset({IDEMPOTENCY_HEADER, RETRY_COUNT_HEADER})
# Methods whose repetition could do the work twice: they get an Idempotency-Key.
NON_IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})


def require(name: str, value: object, kinds: type[T] | tuple[type[T], ...], expected: str) -> T:
    """`value`, unless it is not one of `kinds` (a bool is never a number): then a TypeError naming `name`."""
    if not isinstance(value, kinds) or (isinstance(value, bool) and kinds is not bool):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__}")
    return value


def _seconds(name: str, value: object, expected: str) -> float:
    seconds = float(require(name, value, (int, float), expected))
    if not seconds > 0:
        raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
    return seconds


def _to_timeout(value: object) -> httpx.Timeout:
    if isinstance(value, httpx.Timeout):
        return value
    return httpx.Timeout(_seconds("timeout", value, "a number of seconds or an httpx.Timeout"))


def _to_deadline(value: object) -> float | None:
    return None if value is None else _seconds("deadline", value, "a number of seconds or None")


def _to_max_retries(value: object) -> int:
    retries = require("max_retries", value, int, "an int")
    if retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {retries}")
    return retries


def _to_policy(value: object) -> RetryPolicy:
    return RetryPolicy() if value is None else require("retry_policy", value, RetryPolicy, "a RetryPolicy")


@frozen
class Options:
    """A client's options, or one call's.

    Checked here (by the converters) whether they come from the constructor,
    `with_options` or a call, so a bad value gets the same error everywhere.
    """

    timeout: httpx.Timeout = field(converter=_to_timeout)
    max_retries: int = field(converter=_to_max_retries)
    deadline: float | None = field(converter=_to_deadline)
    retry_policy: RetryPolicy = field(converter=_to_policy)

    def but(self, **changes: object) -> Options:
        """These options with each change that was given (not `NOT_GIVEN`), checked like the rest."""
        given = {name: value for name, value in changes.items() if value is not UNSET}
        return evolve(self, **given) if given else self


class Secret:
    """The API key, held for the backend to put in each request's Authorization header as it sends it.

    Applied at the edge, as httpx applies credentials in an ``Auth``: no request, header
    mapping or other object the SDK passes around holds the key. Error trackers (Sentry,
    rich and structlog tracebacks with locals) walk mappings and sequences item by item
    and show anything else by its ``repr``; this is neither, and its repr hides the key.
    """

    __slots__ = ("authorization", "problem")

    def __init__(self, key: object, source: str) -> None:
        """Take `key` (from `source`) as given; what is wrong with it waits in `problem` for `check`.

        Nothing is raised here: a traceback through a frame that holds the key would show it.
        """
        key = key.strip() if isinstance(key, str) else key
        self.authorization = f"Bearer {key}"
        """The Authorization header's value."""
        self.problem: Exception | None = None
        if key is None:
            self.problem = ValueError(f"no API key: pass api_key=... or set {source}")
        elif not isinstance(key, str):
            self.problem = TypeError(f"api_key must be a string, got {type(key).__name__}")
        elif problem := ("is empty" if not key else unsendable(key, allow_space=False)):
            self.problem = ValueError(f"{'api_key' if source == 'api_key' else f'api_key (from {source})'} {problem}")

    def check(self) -> Secret:
        """This secret, or the error that says what is wrong with the key (never the key itself)."""
        if self.problem is not None:
            raise self.problem
        return self

    def __repr__(self) -> str:
        """Never the key."""
        return "Secret('[secure]')"

    def __reduce__(self) -> str:
        """Never pickled, nor copied (a process pool or a cache would hold the key)."""
        raise TypeError("the API key cannot be pickled or copied; make a client in each process")


def unsendable(value: str, *, allow_space: bool) -> str | None:
    """What in `value` cannot go into an HTTP header (as the first such character's kind and place), or None."""
    for place, char in enumerate(value, start=1):
        if not ("!" <= char <= "~" or (allow_space and char in " \t")):
            kind = "a space" if char == " " else "a non-ASCII character" if char > "~" else "a control character"
            return f"has {kind} at position {place}, which cannot be sent in an HTTP header (a pasted typo?)"
    return None


class Request(NamedTuple):
    """One call's request, as every attempt and every backend sends it.

    `url` is absolute; `headers` has lower-case names and is the call's own (attempts set some).
    They never hold the API key: each backend adds the Authorization header as it sends.
    """

    method: str
    url: str
    headers: dict[str, str]
    content: bytes

    def __repr__(self) -> str:
        """Method and URL only: never the headers."""
        return f"<Request {self.method} {self.url}>"


class Answer:
    """One attempt's whole response as a backend read it: status, headers, body as received."""

    __slots__ = ("attempt", "content", "headers", "raw", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], raw: bytes) -> None:
        """`headers` looks names up without case (each library's own headers); `content` starts as `raw`.

        The loop decodes `content` by the Content-Encoding, if there is one.
        """
        self.status_code, self.headers = status_code, headers
        self.raw = self.content = raw
        self.attempt = 0
        """Which attempt of the call this answered (set by the loop)."""

    def to_httpx(self, request: httpx.Request | None = None) -> httpx.Response:
        """This answer as an ``httpx.Response``: the one place the SDK makes one (errors, decoding a body).

        httpx decodes the body by its Content-Encoding as it builds the response.
        """
        return httpx.Response(self.status_code, headers=self.headers, content=self.raw, request=request)


class SendError(Exception):
    """A backend's report of an attempt that got no usable response; ``__cause__`` is its library's exception."""

    def __init__(self, reason: str, *, timeout: bool = False, retryable: bool = True) -> None:
        """`reason` goes into the error's message; `timeout`: it timed out; `retryable`: another attempt may work."""
        super().__init__(reason)
        self.timeout, self.retryable = timeout, retryable


@define
class _Gate:
    """At most `limit` requests in the pool at once; the rest wait here, first come first served.

    httpcore's pool scans every queued request each time a connection frees up, so with
    a thousand calls queued on a hundred connections most of the time goes to the queue
    itself. Waiting here instead costs O(1) per call, and the wait is bounded by the
    pool timeout, as httpx's own pool wait would be. And a call takes its turn of a
    pace (``wait_turn``) only once it holds a place here: calls queued for a connection
    cannot all go at once when one frees up. Both backends; not your own `http_client`
    or `transport`, whose pool the SDK does not know. (The semaphore is made on first
    use, in the caller's event loop, asyncio or trio.)
    """

    limit: int
    _semaphore: anyio.Semaphore | None = field(default=None, init=False)

    async def enter(self, timeout: float | None) -> None:
        import anyio  # noqa: PLC0415 - keeps `import versive_client` light

        semaphore = self._semaphore = self._semaphore or anyio.Semaphore(self.limit)
        try:
            semaphore.acquire_nowait()  # the common case, without a cancel scope
        except anyio.WouldBlock:
            with anyio.move_on_after(timeout):
                await semaphore.acquire()
                return
            raise SendError("no connection of the pool was free within timeout.pool", timeout=True) from None

    def leave(self) -> None:
        assert self._semaphore is not None  # noqa: S101 - entered before
        self._semaphore.release()


class Backend(Protocol):
    """What the loop needs of an HTTP library: send one request and read the whole answer."""

    async def send(self, request: Request, timeout: httpx.Timeout, secret: Secret) -> Answer:
        """Send `request` once within `timeout`, with `secret`'s Authorization; `SendError` for no usable response."""

    async def aclose(self) -> None:
        """Close the connection pool, if the backend owns one."""


class Attempt(NamedTuple):
    """What one attempt of a call did, as ``VersiveClient(on_attempt=[...])`` hooks receive it after each one.

    ::

        def notice(attempt: Attempt) -> None:
            if attempt.status_code == 429:
                print(f"rate limited; next try in {attempt.wait} s")

    .. versionadded:: 0.2.0
    """

    method: str
    url: str
    number: int
    """1 for the call's first attempt, 2 for its first retry, and so on."""
    status_code: int | None
    """The status the attempt received, or None when it got no response."""
    error: VersiveError | None
    """The error the attempt ended in; None when it got a usable 2xx."""
    wait: float | None
    """Seconds until the next attempt, or None when this was the call's last."""
    retry_after: float | None
    """The seconds a ``Retry-After`` header asked for, if the response had one."""
    idempotency_key: str | None
    elapsed: float
    """Seconds the attempt took."""
    headers: Mapping[str, str] | None = None
    """The response's headers (names in any case), or None when it got no response."""

    @property
    def request_id(self) -> str | None:
        """The response's ``x-request-id`` (or ``request-id``), if it had one.

        .. versionadded:: 0.3.0
        """
        return None if self.headers is None else request_id(self.headers)


class Call(NamedTuple):
    """A call as it starts, as ``VersiveClient(on_call=[...])`` functions receive it.

    .. versionadded:: 0.3.0
    """

    operation: str | None
    """The operation's generated function name (``create_interview``); every call of a client has one."""
    method: str
    url: str
    route: str | None
    """The operation's path template (``/api/v1/interviews/{id}``)."""
    idempotency_key: str | None
    """The key every attempt sends (POST and PATCH), or None."""
    deadline: float | None
    """The call's total time limit in seconds, or None."""
    max_retries: int


class CallObserver:
    """Told of one call's attempts and its end; ``on_call`` functions return one (or None to not watch the call).

    Override what you need; each method does nothing by default. All run in the calling
    task. Observers nest like context managers: before each attempt, ``wait_turn`` then
    ``before_attempt`` in the order the observers were given; after it, ``after_attempt``
    in the reverse order; ``end`` exactly once, in the reverse order, also when the call is
    cancelled. What an observer raises is logged (``versive_client`` logger, ERROR) and
    changes nothing else: the call goes on, and every other observer is told as usual.

    .. versionadded:: 0.3.0
    .. versionchanged:: 0.5.0 ``wait_turn``; the reverse order on the way out; exceptions logged, not raised.
    """

    async def wait_turn(self, number: int) -> None:
        """Awaited before attempt `number` (1 for the first) is sent, retries too: a pacer waits here."""

    def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:
        """Attempt `number` (1 for the first) is about to be sent; headers set in `headers` go with it.

        `headers` are the request's, names in lower case; each attempt sends them as left.
        The API key is not among them: the backend adds it as it sends.
        """

    def after_attempt(self, attempt: Attempt) -> None:
        """An attempt ended: what it got, and the wait before the next (if any)."""

    def end(self, error: BaseException | None) -> None:
        """The call ended: None when it succeeded, else what it raised (a `VersiveError`, a cancellation)."""


@define
class AttemptHooks(CallObserver):
    """``on_attempt`` functions: one observer of every call, calling each after each attempt."""

    hooks: Sequence[Callable[[Attempt], object]]

    def __call__(self, call: Call) -> CallObserver:  # noqa: ARG002 - the same for every call
        return self

    def after_attempt(self, attempt: Attempt) -> None:
        for hook in self.hooks:
            _tell(hook, attempt)


def _tell(hook: Callable[..., T], *args: object) -> T | None:
    """`hook(*args)`; what it raises is logged, and neither ends the call nor keeps another hook from running."""
    try:
        return hook(*args)
    except Exception:
        logger.exception("%s raised; the call goes on", getattr(hook, "__qualname__", "a call observer"))
        return None


if TYPE_CHECKING:
    Observe = Callable[[Call], CallObserver | None]
    """What ``on_call`` takes: a function of a `Call` returning its observer, or None."""
    Route = tuple[str | None, str | None]
    """A call's operation name and path template, each None when unknown."""
    Watchers = Sequence[CallObserver]
    """The observers watching one call, in the order they were given."""


@define(eq=False, repr=False)
class Sender:
    """The attempt loop of one client; a derived client's shares the backend, budget, sleep and observers.

    Sends through `backend`; each of `observers` is asked to watch every call, in order; closed with `parent`.
    """

    backend: Backend
    secret: Secret
    budget: RetryBudget
    sleep: Callable[[float], Awaitable[object]] | None
    observers: tuple[Observe, ...]
    gate: _Gate | None = None
    parent: Sender | None = None
    closed: bool = field(default=False, init=False)
    # Not for security: jitter only needs to differ between clients and calls.
    _random: random.Random = field(factory=random.Random, init=False)

    def derive(self, observers: Sequence[Observe] = ()) -> Sender:
        """A sender sharing this one's backend, budget, sleep and observers (and `observers` after them)."""
        return evolve(self, observers=(*self.observers, *observers), parent=self)

    def check_open(self) -> None:
        """Raise if this client, or one it was derived from (they share the pool), has been closed."""
        if self.closed:
            raise RuntimeError("this VersiveClient is closed (closing a client closes the clients derived from it)")
        if self.parent is not None:
            self.parent.check_open()

    async def aclose(self) -> None:
        """Close this sender, and the backend if this sender is not derived from another."""
        if not self.closed:
            self.closed = True
            if self.parent is None:
                await self.backend.aclose()

    async def send(self, request: Request, options: Options, idempotency_key: str | None, route: Route) -> Answer:
        """Attempt `request` until a usable 2xx answer, a final error, or the deadline.

        A POST or PATCH without an Idempotency-Key gets one (`idempotency_key`, or a random
        one), the same on every attempt. Raises the typed error the last attempt ended in.
        `route` (operation name, path template) is what observers are told the call is.
        """
        self.check_open()
        if request.method in NON_IDEMPOTENT_METHODS and IDEMPOTENCY_HEADER not in request.headers:
            request.headers[IDEMPOTENCY_HEADER] = idempotency_key or _random_key()
        deadline = None if options.deadline is None else time.monotonic() + options.deadline
        if not self.observers:
            return await self._attempts(request, options, deadline, ())
        key = request.headers.get(IDEMPOTENCY_HEADER)
        call = Call(route[0], request.method, request.url, route[1], key, options.deadline, options.max_retries)
        watchers: list[CallObserver] = []
        error: BaseException | None = None
        try:
            for observe in self.observers:  # appended one by one: each made before an interruption hears the end
                watcher: object = _tell(observe, call)
                if isinstance(watcher, CallObserver):
                    watchers.append(watcher)
                elif watcher is not None:  # a duck, a coroutine: it would fail (or never run) mid-call
                    logger.error("%s returned a %s, not a CallObserver", observe, type(watcher).__name__)
            return await self._attempts(request, options, deadline, watchers)
        except BaseException as exc:  # cancellation too: every observer hears how the call ended
            error = exc
            raise
        finally:
            for watcher in reversed(watchers):  # left in the reverse order, as nested context managers are
                _tell(watcher.end, error)
            error = None  # no cycle through this frame

    async def _attempts(
        self, request: Request, options: Options, deadline: float | None, watchers: Sequence[CallObserver]
    ) -> Answer:
        attempt = 0
        while True:
            attempt += 1
            request.headers[RETRY_COUNT_HEADER] = str(attempt - 1)
            started = [time.monotonic()]  # when the attempt went: set again once it has had its turn
            answer, error, retryable = await self._attempt(request, options.timeout, deadline, watchers, started)
            wait = self._retry_wait(error, attempt, options, deadline) if retryable and error is not None else None
            if watchers or logger.isEnabledFor(logging.DEBUG):
                got = answer if answer is not None else error  # the response's status and headers, if any
                status, headers = getattr(got, "status_code", None), getattr(got, "headers", None)
                retry_after = error.retry_after if isinstance(error, APIStatusError) else None
                key, elapsed = request.headers.get(IDEMPOTENCY_HEADER), time.monotonic() - started[0]
                event = Attempt(
                    request.method, request.url, attempt, status, error, wait, retry_after, key, elapsed, headers
                )
                _log_attempt(event)  # logging is the first user of the attempts
                for watcher in reversed(watchers):
                    _tell(watcher.after_attempt, event)
            if answer is not None:
                return answer
            assert error is not None  # noqa: S101 - an attempt ends in an answer or an error
            if wait is None:
                raise error
            if wait > 0:
                await (self.sleep or _anyio().sleep)(wait)
            self.check_open()

    async def _attempt(
        self, request: Request, timeout: httpx.Timeout, deadline: float | None, watchers: Watchers, started: list[float]
    ) -> tuple[Answer | None, VersiveError | None, bool]:
        """One attempt: a usable answer, or the error it ended in and whether another attempt may help."""
        number = int(request.headers[RETRY_COUNT_HEADER]) + 1
        try:
            answer = await self._send(request, timeout, deadline, watchers, started)
        except SendError as exc:
            kind = APITimeoutError if exc.timeout else APIConnectionError
            what = f"timed out: {exc}" if exc.timeout else f"failed: {exc}"
            return None, _connection_error(kind, request, what, number, exc.__cause__), exc.retryable
        except TimeoutError as exc:  # the deadline's scope, or a transport's own timeout
            what = "ran out of its deadline" if deadline is not None else f"timed out: {str(exc) or 'TimeoutError'}"
            return None, _connection_error(APITimeoutError, request, what, number, exc), True
        except Exception as exc:  # noqa: BLE001 - the error tree is sealed: a transport's surprise ends here too
            what = f"failed: {type(exc).__name__}: {exc}"
            return None, _connection_error(APIConnectionError, request, what, number, exc), False
        if 200 <= answer.status_code < 300:  # noqa: PLR2004
            self.budget.refund()
            answer.attempt = number
            media_type = (answer.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
            if answer.content and not (media_type == "application/json" or media_type.endswith("+json")):
                problem = f"with a body that is not JSON ({media_type or 'no content type'})"
                return None, unusable(answer, request, problem), False
            return answer, None, False
        retry_after = parse_retry_after(answer.headers.get("retry-after"))
        error = status_error(error_response(answer, request), retry_after=retry_after, attempts=number)
        return None, error, answer.status_code in RETRY_STATUSES

    async def _send(
        self, request: Request, timeout: httpx.Timeout, deadline: float | None, watchers: Watchers, started: list[float]
    ) -> Answer:
        """A place in the pool, each observer's turn, then the request, all within the deadline."""
        number, handled = int(request.headers[RETRY_COUNT_HEADER]) + 1, sys.exc_info()[1]
        try:
            # The whole attempt, not only each phase: a slow trickle of bytes would outlive phase timeouts.
            with contextlib.nullcontext() if deadline is None else _anyio().fail_after(deadline - time.monotonic()):
                if self.gate is not None:
                    await self.gate.enter(timeout.pool)
                try:
                    for watcher in watchers:
                        await _wait_turn(watcher, number)
                    started[0] = time.monotonic()
                    for watcher in watchers:
                        _tell(watcher.before_attempt, number, request.headers)
                    answer = await self.backend.send(request, timeout, self.secret)
                finally:
                    if self.gate is not None:
                        self.gate.leave()
        except BaseException as exc:
            _frameless(exc, handled)  # the caller's own exception (`handled`) keeps its stack
            raise
        # Only when the server names one; httpx decodes what it names.
        if (coding := answer.headers.get("content-encoding")) is not None:
            try:
                answer.content = answer.to_httpx().content
            except httpx.DecodingError as exc:
                raise SendError(f"the body does not decode as its Content-Encoding ({coding}) says") from exc
        return answer

    def _retry_wait(self, error: VersiveError, attempt: int, options: Options, deadline: float | None) -> float | None:
        """Seconds to wait before the next attempt, or None when the call must fail now."""
        policy = options.retry_policy
        retry_after = error.retry_after if isinstance(error, APIStatusError) else None
        if attempt > options.max_retries or (retry_after is not None and retry_after > policy.retry_after_max):
            return None
        wait = policy.delay(attempt, retry_after, self._random)
        if deadline is not None and time.monotonic() + wait >= deadline:
            return None
        paced = isinstance(error, RateLimitError)  # a 429 is paced, not budgeted
        if not paced and not self.budget.try_spend(after_timeout=isinstance(error, APITimeoutError)):
            logger.debug("retry budget exhausted (%.0f tokens left): not retrying", self.budget.tokens)
            return None
        return wait


def error_response(answer: Answer, request: Request) -> httpx.Response:
    """`answer` as the ``httpx.Response`` an error carries: its request has the method and URL, no headers."""
    return answer.to_httpx(httpx.Request(request.method, request.url))


def _connection_error(
    kind: type[APIConnectionError], request: Request, what: str, attempts: int, cause: BaseException | None
) -> APIConnectionError:
    message = f"{request.method} {urlsplit(request.url).path} {what}"
    error = kind(message, method=request.method, url=request.url, attempts=attempts)
    error.__cause__ = cause and cause.with_traceback(None)  # what it chains lost its frames in Sender._send
    return error


def _frameless(exc: BaseException, handled: BaseException | None) -> None:
    """`exc`, and every exception chained to it up to `handled`, without stack frames or httpx requests.

    The HTTP libraries' frames (and an httpx exception's request) hold the request headers,
    so the API key; a traceback rendered with its locals (as error trackers do) would show
    them. The messages stay. `handled`, the exception the caller was handling when the
    call began (its own, chained beneath), and what lies beneath it are left as they are.
    """
    pending: list[BaseException | None] = [exc]
    seen = {id(handled)}
    while pending:
        current = pending.pop()
        if current is not None and id(current) not in seen:
            seen.add(id(current))
            current.__traceback__ = None
            if isinstance(current, httpx.HTTPError):
                current._request = None  # noqa: SLF001 - httpx keeps no other way to let it go
            pending += [current.__cause__, current.__context__]


def _anyio() -> ModuleType:
    """anyio, imported when first needed (a deadline, a wait): keeps `import versive_client` light."""
    import anyio  # noqa: PLC0415

    return anyio


async def _wait_turn(watcher: CallObserver, attempt: int) -> None:
    """`watcher.wait_turn(attempt)`, what it raises logged as `_tell` does."""
    try:
        await watcher.wait_turn(attempt)
    except Exception:
        logger.exception("%s raised; the call goes on", type(watcher).__qualname__ + ".wait_turn")


def _log_attempt(event: Attempt) -> None:
    """One DEBUG line per attempt: method, path, status or error, attempt number, the wait before the next.

    The fields are the record's attributes too (``extra``), for formatters that write them out (JSON).
    """
    if logger.isEnabledFor(logging.DEBUG):
        error = event.error
        error_type = None if error is None else type(error).__name__
        outcome = event.status_code if error is None or isinstance(error, APIStatusError) else error_type
        path = urlsplit(event.url).path
        then = "" if error is None else ", not retried" if event.wait is None else f", retrying in {event.wait:.2f}s"
        fields: dict[str, object] = {"method": event.method, "path": path, "status_code": event.status_code}
        fields.update(error_type=error_type, attempt=event.number, wait=event.wait, request_id=event.request_id)
        fields["idempotency_key"] = event.idempotency_key
        logger.debug("%s %s -> %s (attempt %d%s)", event.method, path, outcome, event.number, then, extra=fields)


def unusable(answer: Answer, request: Request, problem: str) -> APIResponseValidationError:
    """The error for a 2xx answer the SDK cannot use, saying why (`problem`)."""
    return validation_error(error_response(answer, request), problem, answer.attempt)


def _random_key() -> str:
    import uuid  # noqa: PLC0415 - a millisecond of `import versive_client` otherwise

    return str(uuid.uuid4())

"""RetryTransport: retries, timeouts, deadlines, idempotency keys and typed errors, under every endpoint.

Every generated endpoint function sends through ``httpx.AsyncClient.request``; this
transport sits beneath that client, so each of them, including endpoints the spec gains
later, gets the same behaviour with no code of its own. ``create_interview`` hands its
request to :meth:`RetryTransport.send_bytes` directly, with its per-call options, through
the same attempt loop.
"""

from __future__ import annotations

import abc
import contextlib
import json
import logging
import random
import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from versive_client._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    VersiveError,
    snippet,
    status_error,
)
from versive_client._retry import RETRY_STATUSES, RetryBudget, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence

    import anyio

logger = logging.getLogger("versive_client")

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_COUNT_HEADER = "X-Versive-Retry-Count"
# Methods whose repetition could do the work twice: they get an Idempotency-Key.
NON_IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})
# Transport failures worth another attempt; others (an unsupported URL scheme, a local
# protocol misuse) would fail the same way again.
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


# CallOptions and TransportOptions are plain classes rather than attrs classes: they are
# internal, and making an attrs class at import costs about 0.3 ms each.
class CallOptions:
    """Overrides for one call, and how many attempts it made."""

    __slots__ = ("attempts", "deadline", "idempotency_key", "max_retries", "timeout")

    def __init__(
        self,
        *,
        timeout: httpx.Timeout | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Options left at None take the client's."""
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline
        self.idempotency_key = idempotency_key
        self.attempts = 0


class TransportOptions:
    """A client's defaults: the per-attempt timeout, retries, total deadline and waits."""

    __slots__ = ("deadline", "max_retries", "policy", "timeout")

    def __init__(
        self, *, timeout: httpx.Timeout, max_retries: int, deadline: float | None, policy: RetryPolicy
    ) -> None:
        """Options already checked by the client."""
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline
        self.policy = policy


class ConcurrencyGate:
    """At most `limit` requests in the pool at once; the rest wait here, first come first served.

    httpcore's pool scans every queued request each time a connection frees up, so with
    a thousand calls queued on a hundred connections most of the time goes to the queue
    itself. Waiting here instead costs O(1) per call. (The semaphore is made on first use,
    in the caller's event loop, asyncio or trio.)
    """

    def __init__(self, limit: int) -> None:
        """Let `limit` requests through at once."""
        self.limit = limit
        self._semaphore: anyio.Semaphore | None = None

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `limit` slots for the duration of the block."""
        if self._semaphore is None:
            import anyio  # noqa: PLC0415 - keeps `import versive_client` light

            self._semaphore = anyio.Semaphore(self.limit)
        async with self._semaphore:
            yield


class Answer:
    """A whole response as a DirectTransport reads it: status, raw headers and body.

    What a successful call needs, at a fraction of the cost of an ``httpx.Response``
    (building one was a sixth of a call on the aiohttp backend); errors get the full
    ``httpx.Response`` from :func:`full_response`.
    """

    __slots__ = ("_content", "content_type", "raw_content", "raw_headers", "status_code")

    def __init__(
        self,
        status_code: int,
        raw_headers: Sequence[tuple[bytes, bytes]],
        raw_content: bytes,
        *,
        content_type: str,
        encoded: bool,
    ) -> None:
        """A response with `content_type` (its Content-Type, or "") and, if `encoded`, a Content-Encoding.

        An encoded body is decoded, as httpx would, when `content` is first read.
        """
        self.status_code = status_code
        self.content_type = content_type
        self.raw_headers = raw_headers
        self.raw_content = raw_content
        self._content = None if encoded else raw_content

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300  # noqa: PLR2004

    @property
    def content(self) -> bytes:
        """The body, decoded by its Content-Encoding as httpx would."""
        if self._content is None:
            self._content = self.to_httpx(None).content
        return self._content

    def json(self) -> Any:  # noqa: ANN401 - whatever the JSON holds, as httpx.Response.json
        """The body parsed as JSON."""
        return json.loads(self.content)

    def to_httpx(self, request: httpx.Request | None) -> httpx.Response:
        """The same response as an ``httpx.Response`` (with `request`, when given)."""
        return httpx.Response(self.status_code, headers=self.raw_headers, content=self.raw_content, request=request)


Received = TypeVar("Received", httpx.Response, Answer)
_Received_co = TypeVar("_Received_co", httpx.Response, Answer, covariant=True)


def full_response(received: httpx.Response | Answer, request: httpx.Request) -> httpx.Response:
    """`received` as an ``httpx.Response`` whose `request` is `request` (for errors)."""
    if isinstance(received, Answer):
        return received.to_httpx(request)
    received.request = request
    return received


class DirectTransport(httpx.AsyncBaseTransport, abc.ABC):
    """A transport that can also send a request given as parts, without httpx's models.

    `RetryTransport.send_bytes` uses `send_bytes` when the transport beneath it is one of
    these (the aiohttp backend): building an ``httpx.Request`` and ``httpx.Response`` and
    converting them for another HTTP library cost more than the rest of a call's work.
    """

    @abc.abstractmethod
    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        content: bytes,
        timeout: httpx.Timeout,
    ) -> Answer:
        """Send; return the whole response, read, its connection released.

        Raises the httpx exception a failure maps to, as `handle_async_request` does.
        """


class _Exchange(Protocol[_Received_co]):
    """One call's request, as each attempt sends it; `request()` describes it in errors."""

    def request(self) -> httpx.Request:
        """The request for errors and responses: its method and URL."""
        ...

    def send(self, attempt: int, timeout: httpx.Timeout) -> Awaitable[_Received_co]:
        """Send attempt number `attempt`; the response comes with its body read."""
        ...


class _SendRequest:
    """An httpx request through any httpx transport."""

    __slots__ = ("_inner", "_request")

    def __init__(self, inner: httpx.AsyncBaseTransport, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    def request(self) -> httpx.Request:
        return self._request

    async def send(self, attempt: int, timeout: httpx.Timeout) -> httpx.Response:
        request = self._request
        request.headers[RETRY_COUNT_HEADER] = str(attempt - 1)
        request.extensions = {**request.extensions, "timeout": timeout.as_dict()}
        response = await self._inner.handle_async_request(request)
        await _read_and_close(response)
        # The body is read and cached on the response (a later aread() returns it), and
        # the connection is back in the pool: the response can go up as it is.
        response.request = request
        return response


class _SendDirect:
    """A request as parts through a DirectTransport; an httpx request is made only for errors."""

    __slots__ = ("_content", "_headers", "_inner", "_method", "_request", "_url")

    def __init__(self, inner: DirectTransport, method: str, url: str, headers: dict[str, str], content: bytes) -> None:
        self._inner = inner
        self._url = url
        self._headers = headers
        self._content = content
        self._request: httpx.Request | None = None
        self._method = method

    def request(self) -> httpx.Request:
        # Method and URL only: what errors show. The headers (with the API key) stay out.
        if self._request is None:
            self._request = httpx.Request(self._method, self._url)
        return self._request

    def send(self, attempt: int, timeout: httpx.Timeout) -> Awaitable[Answer]:
        # The transport's coroutine itself, not one wrapping it: one frame less on every resume.
        self._headers[RETRY_COUNT_HEADER] = str(attempt - 1)
        return self._inner.send_bytes(self._method, self._url, self._headers, self._content, timeout)


class RetryTransport(httpx.AsyncBaseTransport):
    """Wraps another transport with the SDK's retries, timeouts and error mapping."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        options: TransportOptions,
        *,
        budget: RetryBudget,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        gate: ConcurrencyGate | None = None,
        owns_inner: bool = True,
    ) -> None:
        """Send through `inner` (at most `gate.limit` at once); `owns_inner`: closing this closes it."""
        self.inner = inner
        self.gate = gate
        self.options = options
        self.budget = budget
        self._sleep = sleep
        self._owns_inner = owns_inner
        self.on_status: Callable[[int], object] | None = None
        """Called with the status of every response an attempt receives, retried or not."""
        # Not for security: jitter only needs to differ between clients and calls.
        self._random = random.Random()  # noqa: S311

    def with_options(self, options: TransportOptions) -> RetryTransport:
        """Another transport with `options`, sharing this one's pool, budget, gate, sleep and on_status."""
        derived = RetryTransport(
            self.inner, options, budget=self.budget, sleep=self._sleep, gate=self.gate, owns_inner=False
        )
        derived.on_status = self.on_status
        return derived

    async def aclose(self) -> None:
        """Close the wrapped transport if this one owns it."""
        if self._owns_inner:
            await self.inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying as the policy allows; a non-2xx ends as a typed error."""
        await request.aread()  # a body read once can be sent again on a retry
        call = CallOptions()
        if request.method in NON_IDEMPOTENT_METHODS and IDEMPOTENCY_HEADER not in request.headers:
            request.headers[IDEMPOTENCY_HEADER] = call.idempotency_key or _random_key()
        return await self._run(_SendRequest(self.inner, request), call)

    def send_bytes(
        self, method: str, url: str, headers: dict[str, str], content: bytes, call: CallOptions
    ) -> Awaitable[httpx.Response | Answer]:
        """Send one request given as parts, with `call`'s options; the same retries, timeouts and errors.

        `headers` (a new dict, changed in place) must not hold an Idempotency-Key in another
        spelling. On a `DirectTransport` no httpx model is built unless the call fails: the
        answer is an `Answer` (see `full_response`). Returns the call's coroutine, to await.
        """
        method = method.upper()
        if method in NON_IDEMPOTENT_METHODS and IDEMPOTENCY_HEADER not in headers:
            headers[IDEMPOTENCY_HEADER] = call.idempotency_key or _random_key()
        if isinstance(self.inner, DirectTransport):
            return self._run(_SendDirect(self.inner, method, url, headers, content), call)
        return self._run(_SendRequest(self.inner, httpx.Request(method, url, headers=headers, content=content)), call)

    async def _run(self, exchange: _Exchange[Received], call: CallOptions) -> Received:
        """The attempts of one call, until a usable response, a final error, or the deadline."""
        timeout = call.timeout or self.options.timeout
        max_retries = self.options.max_retries if call.max_retries is None else call.max_retries
        deadline_seconds = self.options.deadline if call.deadline is None else call.deadline
        deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds

        attempt = 0
        while True:
            attempt += 1
            call.attempts = attempt
            error, received = await self._attempt(exchange, timeout, deadline, attempt)
            if received is not None:
                if logger.isEnabledFor(logging.DEBUG):  # the direct path builds no request unless asked to
                    logger.debug("%s -> %d (attempt %d)", _describe(exchange), received.status_code, attempt)
                return received
            assert error is not None  # noqa: S101 - an attempt gives a response or an error
            delay = self._retry_delay(error, attempt, max_retries, deadline)
            status = error.status_code if isinstance(error, APIStatusError) else type(error).__name__
            if delay is None:
                logger.debug("%s -> %s (attempt %d, not retried)", _describe(exchange), status, attempt)
                raise error
            logger.debug("%s -> %s (attempt %d, retrying in %.2fs)", _describe(exchange), status, attempt, delay)
            if delay > 0:
                await self._wait(delay)

    async def _attempt(
        self, exchange: _Exchange[Received], timeout: httpx.Timeout, deadline: float | None, attempt: int
    ) -> tuple[VersiveError | None, Received | None]:
        """One attempt: a usable 2xx response, or the error it ended in."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return APITimeoutError(
                _describe(exchange, "ran out of its deadline"), request=exchange.request(), attempts=attempt
            ), None
        try:
            if remaining is None and self.gate is None:  # the common case, without context managers
                received = await exchange.send(attempt, timeout)
            else:
                with _deadline_scope(remaining):
                    async with self.gate.slot() if self.gate is not None else contextlib.nullcontext():
                        received = await exchange.send(attempt, _shrink(timeout, remaining))
        except TimeoutError as exc:  # the deadline scope fired
            error: VersiveError = APITimeoutError(
                _describe(exchange, "ran out of its deadline"), request=exchange.request(), attempts=attempt
            )
            error.__cause__ = exc
            return error, None
        except httpx.TimeoutException as exc:
            error = APITimeoutError(_describe(exchange, _reason(exc)), request=exchange.request(), attempts=attempt)
            error.__cause__ = exc
            return error, None
        except RETRYABLE_ERRORS as exc:
            error = APIConnectionError(_describe(exchange, _reason(exc)), request=exchange.request(), attempts=attempt)
            error.__cause__ = exc
            return error, None
        except httpx.TransportError as exc:
            raise APIConnectionError(
                _describe(exchange, _reason(exc)), request=exchange.request(), attempts=attempt
            ) from exc

        if self.on_status is not None:
            self.on_status(received.status_code)
        if received.is_success:
            self.budget.refund()
            if received.content and not _is_json(received):
                raise _not_json(full_response(received, exchange.request()), attempt)
            return None, received
        response = full_response(received, exchange.request())
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return status_error(response, retry_after=retry_after, attempts=attempt), None

    def _retry_delay(  # noqa: PLR0911 - one decision, one exit per reason
        self, error: VersiveError, attempt: int, max_retries: int, deadline: float | None
    ) -> float | None:
        """Seconds to wait before retrying after `error`, or None when the call must fail now."""
        if isinstance(error, APIStatusError):
            if error.status_code not in RETRY_STATUSES:
                return None
            if error.retry_after is not None and error.retry_after > self.options.policy.retry_after_max:
                return None
        elif not isinstance(error, APIConnectionError):
            return None
        if attempt > max_retries:
            return None
        retry_after = error.retry_after if isinstance(error, APIStatusError) else None
        delay = self.options.policy.delay(attempt, retry_after, self._random)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        if not self.budget.try_spend(after_timeout=isinstance(error, APITimeoutError)):
            logger.debug("retry budget exhausted (%.0f tokens left): not retrying", self.budget.tokens)
            return None
        return delay

    async def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            await self._sleep(seconds)
            return
        import anyio  # noqa: PLC0415 - only when a retry waits: keeps `import versive_client` light

        await anyio.sleep(seconds)


async def _read_and_close(response: httpx.Response) -> None:
    """Read the whole body; the connection goes back to the pool (or is dropped) whatever happens."""
    try:
        await response.aread()
    except BaseException:
        import anyio  # noqa: PLC0415 - only on the failure path

        # Shielded: a cancelled task must still hand its connection back.
        with anyio.CancelScope(shield=True):
            await response.aclose()
        raise
    await response.aclose()


def _shrink(timeout: httpx.Timeout, remaining: float | None) -> httpx.Timeout:
    """Each phase's timeout, cut to the time the deadline leaves."""
    if remaining is None:
        return timeout

    def cut(value: float | None) -> float:
        return remaining if value is None else min(value, remaining)

    return httpx.Timeout(
        connect=cut(timeout.connect), read=cut(timeout.read), write=cut(timeout.write), pool=cut(timeout.pool)
    )


@contextlib.contextmanager
def _deadline_scope(remaining: float | None) -> Iterator[None]:
    """Bound a whole attempt by the deadline (phase timeouts alone let a slow trickle run on)."""
    if remaining is None:
        yield
        return
    import anyio  # noqa: PLC0415 - only for calls with a deadline

    with anyio.fail_after(remaining):
        yield


def _is_json(received: httpx.Response | Answer) -> bool:
    """Every operation of the API answers JSON; a 2xx with another body is unusable."""
    content_type = received.content_type if isinstance(received, Answer) else received.headers.get("content-type", "")
    media_type = _media_type(content_type)
    return media_type == "application/json" or media_type.endswith("+json")


def _media_type(content_type: str) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``."""
    return content_type.split(";", 1)[0].strip().lower()


def _not_json(response: httpx.Response, attempts: int) -> APIResponseValidationError:
    media_type = _media_type(response.headers.get("content-type", "")) or "no content type"
    request = response.request
    return APIResponseValidationError(
        f"{request.method} {request.url.path} answered {response.status_code} with a body that is not JSON"
        f" ({media_type}): {snippet(response.text)}",
        response=response,
        attempts=attempts,
    )


def _random_key() -> str:
    import uuid  # noqa: PLC0415 - a millisecond of `import versive_client` otherwise

    return str(uuid.uuid4())


def _describe(exchange: _Exchange[Any], what: str = "") -> str:
    request = exchange.request()
    return f"{request.method} {request.url.path} {what}".rstrip()


def _reason(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"timed out: {detail}" if isinstance(exc, httpx.TimeoutException) else f"failed: {detail}"

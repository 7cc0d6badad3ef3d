"""RetryTransport: retries, timeouts, deadlines, idempotency keys and typed errors, under every endpoint.

Every generated endpoint function sends through ``httpx.AsyncClient.request``; this
transport sits beneath that client, so each of them, including endpoints the spec gains
later, gets the same behaviour with no code of its own. Per-call overrides travel in a
context variable set by :func:`call_options`, which stays within the calling task.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import random
import time
import uuid
from typing import TYPE_CHECKING

import httpx
from attrs import define, frozen

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
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

    import anyio

logger = logging.getLogger("versive_client")

IDEMPOTENCY_HEADER = "Idempotency-Key"
RETRY_COUNT_HEADER = "X-Versive-Retry-Count"
# Methods whose repetition could do the work twice: they get an Idempotency-Key.
NON_IDEMPOTENT_METHODS = frozenset({"POST", "PATCH"})
# Transport failures worth another attempt; others (an unsupported URL scheme, a local
# protocol misuse) would fail the same way again.
RETRYABLE_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


@define
class CallOptions:
    """Overrides for one call, and what the transport learned during it."""

    timeout: httpx.Timeout | None = None
    max_retries: int | None = None
    deadline: float | None = None
    idempotency_key: str | None = None
    response: httpx.Response | None = None
    attempts: int = 0


_CALL: contextvars.ContextVar[CallOptions | None] = contextvars.ContextVar("versive_call", default=None)


@contextlib.contextmanager
def call_options(options: CallOptions) -> Iterator[CallOptions]:
    """Apply `options` to the requests sent in this block, in this task."""
    token = _CALL.set(options)
    try:
        yield options
    finally:
        _CALL.reset(token)


@frozen
class TransportOptions:
    """A client's defaults: the per-attempt timeout, retries, total deadline and waits."""

    timeout: httpx.Timeout
    max_retries: int
    deadline: float | None
    policy: RetryPolicy


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
        # Not for security: jitter only needs to differ between clients and calls.
        self._random = random.Random()  # noqa: S311

    def with_options(self, options: TransportOptions) -> RetryTransport:
        """Another transport with `options`, sharing this one's pool, budget, gate and sleep."""
        return RetryTransport(
            self.inner, options, budget=self.budget, sleep=self._sleep, gate=self.gate, owns_inner=False
        )

    async def aclose(self) -> None:
        """Close the wrapped transport if this one owns it."""
        if self._owns_inner:
            await self.inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, retrying as the policy allows; a non-2xx ends as a typed error."""
        call = _CALL.get() or CallOptions()
        timeout = call.timeout or self.options.timeout
        max_retries = self.options.max_retries if call.max_retries is None else call.max_retries
        deadline_seconds = self.options.deadline if call.deadline is None else call.deadline
        deadline = None if deadline_seconds is None else time.monotonic() + deadline_seconds

        await request.aread()  # a body read once can be sent again on a retry
        if request.method in NON_IDEMPOTENT_METHODS and IDEMPOTENCY_HEADER not in request.headers:
            request.headers[IDEMPOTENCY_HEADER] = call.idempotency_key or str(uuid.uuid4())

        attempt = 0
        while True:
            attempt += 1
            call.attempts = attempt
            request.headers[RETRY_COUNT_HEADER] = str(attempt - 1)
            error, response = await self._attempt(request, timeout, deadline, attempt)
            if response is not None:
                logger.debug(
                    "%s %s -> %d (attempt %d)", request.method, request.url.path, response.status_code, attempt
                )
                call.response = response
                return response
            assert error is not None  # noqa: S101 - an attempt gives a response or an error
            delay = self._retry_delay(error, attempt, max_retries, deadline)
            status = error.status_code if isinstance(error, APIStatusError) else type(error).__name__
            if delay is None:
                logger.debug("%s %s -> %s (attempt %d, not retried)", request.method, request.url.path, status, attempt)
                raise error
            logger.debug(
                "%s %s -> %s (attempt %d, retrying in %.2fs)", request.method, request.url.path, status, attempt, delay
            )
            if delay > 0:
                await self._wait(delay)

    async def _attempt(
        self, request: httpx.Request, timeout: httpx.Timeout, deadline: float | None, attempt: int
    ) -> tuple[VersiveError | None, httpx.Response | None]:
        """One attempt: a usable 2xx response, or the error it ended in."""
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return APITimeoutError(
                _describe(request, "ran out of its deadline"), request=request, attempts=attempt
            ), None
        request.extensions = {**request.extensions, "timeout": _shrink(timeout, remaining).as_dict()}
        try:
            with _deadline_scope(remaining):
                async with self.gate.slot() if self.gate is not None else contextlib.nullcontext():
                    response = await self.inner.handle_async_request(request)
                    await _read_and_close(response)
        except TimeoutError as exc:  # the deadline scope fired
            error: VersiveError = APITimeoutError(
                _describe(request, "ran out of its deadline"), request=request, attempts=attempt
            )
            error.__cause__ = exc
            return error, None
        except httpx.TimeoutException as exc:
            error = APITimeoutError(_describe(request, _reason(exc)), request=request, attempts=attempt)
            error.__cause__ = exc
            return error, None
        except RETRYABLE_ERRORS as exc:
            error = APIConnectionError(_describe(request, _reason(exc)), request=request, attempts=attempt)
            error.__cause__ = exc
            return error, None
        except httpx.TransportError as exc:
            raise APIConnectionError(_describe(request, _reason(exc)), request=request, attempts=attempt) from exc

        # The body is read and cached on the response (a later aread() returns it), and the
        # connection is back in the pool: the response can go up as it is.
        response.request = request
        if response.is_success:
            self.budget.refund()
            _check_json(response, attempt)
            return None, response
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


def _check_json(response: httpx.Response, attempts: int) -> None:
    """A 2xx with a body must be JSON: every operation of the API answers JSON."""
    if not response.content:
        return
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        return
    raise APIResponseValidationError(
        f"{_describe(response.request, f'answered {response.status_code} with a body that is not JSON')}"
        f" ({media_type or 'no content type'}): {snippet(response.text)}",
        response=response,
        attempts=attempts,
    )


def _describe(request: httpx.Request, what: str) -> str:
    return f"{request.method} {request.url.path} {what}"


def _reason(exc: httpx.TransportError) -> str:
    detail = str(exc) or type(exc).__name__
    return f"timed out: {detail}" if isinstance(exc, httpx.TimeoutException) else f"failed: {detail}"

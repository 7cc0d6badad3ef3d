"""The httpx backend: the loop's requests through an httpx transport (the default pool, or yours) or AsyncClient."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import httpx

from versive_client._transport import Answer, Request, SendError

if TYPE_CHECKING:
    import anyio

    from versive_client._transport import Secret


class HttpxBackend:
    """Sends each attempt as an ``httpx.Request`` and reads the whole answer, its connection released."""

    def __init__(self, via: httpx.AsyncBaseTransport | httpx.AsyncClient, *, gate: int | None = None) -> None:
        """Send through `via`; with `gate`, at most that many requests at once (the pool's size).

        A transport is closed with the backend; an ``AsyncClient`` is its owner's to close, and
        each request is built by it, so that its headers, params, cookies, auth and event hooks apply.
        """
        self._build = via.build_request if isinstance(via, httpx.AsyncClient) else httpx.Request
        self._send = (
            functools.partial(via.send, stream=True) if isinstance(via, httpx.AsyncClient) else via.handle_async_request
        )
        self._close = None if isinstance(via, httpx.AsyncClient) else via.aclose
        self._gate = None if gate is None else _Gate(gate)

    async def send(self, request: Request, timeout: httpx.Timeout, secret: Secret) -> Answer:
        """Send `request` once; raise `SendError` from httpx's exception when there is no whole answer."""
        method, url, headers, content = request
        outgoing = self._build(method, url, headers=headers, content=content, extensions={"timeout": timeout.as_dict()})
        outgoing.headers["authorization"] = secret.authorization()
        if self._gate is None:
            return await self._exchange(outgoing)
        await self._gate.enter(timeout.pool)
        try:
            return await self._exchange(outgoing)
        finally:
            self._gate.leave()

    async def _exchange(self, outgoing: httpx.Request) -> Answer:
        try:
            response = await self._send(outgoing)
            raw = await _read(response)
        except httpx.HTTPError as exc:
            timeout = isinstance(exc, httpx.TimeoutException)
            # Any other error is a local misuse (an unsupported scheme, a bad proxy): it would fail again.
            retryable = timeout or isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            raise SendError(str(exc) or type(exc).__name__, timeout=timeout, retryable=retryable) from exc
        return Answer(response.status_code, response.headers, raw)

    async def aclose(self) -> None:
        """Close the transport, if this backend owns it."""
        if self._close is not None:
            await self._close()


async def _read(response: httpx.Response) -> bytes:
    """The whole body as it came, not decoded (the loop decodes every backend's alike); the connection is released."""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError("an async transport answered with a synchronous stream")
    try:
        raw = b"".join([part async for part in stream])
    except BaseException:
        import anyio  # noqa: PLC0415 - only on the failure path

        # Shielded: a cancelled task must still hand its connection back.
        with anyio.CancelScope(shield=True):
            await response.aclose()
        raise
    await response.aclose()
    return raw


class _Gate:
    """At most `limit` requests in the pool at once; the rest wait here, first come first served.

    httpcore's pool scans every queued request each time a connection frees up, so with
    a thousand calls queued on a hundred connections most of the time goes to the queue
    itself. Waiting here instead costs O(1) per call, and the wait is bounded by the
    pool timeout, as httpx's own pool wait would be. (The semaphore is made on first
    use, in the caller's event loop, asyncio or trio.)
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphore: anyio.Semaphore | None = None

    async def enter(self, timeout: float | None) -> None:
        import anyio  # noqa: PLC0415 - keeps `import versive_client` light

        if self._semaphore is None:
            self._semaphore = anyio.Semaphore(self._limit)
        try:
            self._semaphore.acquire_nowait()  # the common case, without a cancel scope
        except anyio.WouldBlock:
            with anyio.move_on_after(timeout):
                await self._semaphore.acquire()
                return
            raise SendError("no connection of the pool was free within timeout.pool", timeout=True) from None

    def leave(self) -> None:
        assert self._semaphore is not None  # noqa: S101 - entered before
        self._semaphore.release()

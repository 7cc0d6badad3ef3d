"""The httpx backend: the loop's requests through an httpx transport (the default pool, or yours) or AsyncClient."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import httpx

from versive_client._transport import Answer, Request, SendError

if TYPE_CHECKING:
    from versive_client._transport import Secret


class HttpxBackend:
    """Sends each attempt as an ``httpx.Request`` and reads the whole answer, its connection released."""

    def __init__(self, via: httpx.AsyncBaseTransport | httpx.AsyncClient) -> None:
        """Send through `via`.

        A transport is closed with the backend; an ``AsyncClient`` is its owner's to close, and
        each request is built by it, so that its headers, params, cookies, auth and event hooks apply.
        """
        self._build = via.build_request if isinstance(via, httpx.AsyncClient) else httpx.Request
        self._send = (
            functools.partial(via.send, stream=True) if isinstance(via, httpx.AsyncClient) else via.handle_async_request
        )
        self._close = None if isinstance(via, httpx.AsyncClient) else via.aclose

    async def send(self, request: Request, timeout: httpx.Timeout, secret: Secret) -> Answer:
        """Send `request` once; raise `SendError` from httpx's exception when there is no whole answer."""
        method, url, headers, content = request
        outgoing = self._build(method, url, headers=headers, content=content, extensions={"timeout": timeout.as_dict()})
        outgoing.headers["authorization"] = secret.authorization
        try:
            response = await self._send(outgoing)
            raw = await _read(response)
        except httpx.HTTPStatusError as exc:  # your client's event hook raised for the status: it is the answer
            return Answer(exc.response.status_code, exc.response.headers, b"")
        except httpx.HTTPError as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            # Any other error is a local misuse (an unsupported scheme, a bad proxy): it would fail again.
            retryable = timed_out or isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError)
            raise SendError(str(exc) or type(exc).__name__, timeout=timed_out, retryable=retryable) from exc
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

"""FakeVersiveTransport: the fake answering through httpx in-process, faults included, no sockets."""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
import httpx

from .faults import CloseMidBody, Delay, Reset

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._fake import FakeVersive


class FakeVersiveTransport(httpx.AsyncBaseTransport):
    """An httpx transport backed by a :class:`FakeVersive`, for fast tests without sockets.

    Transport faults surface as httpx's own transport would raise them: a reset as
    ``httpx.ReadError``, a body cut short as ``httpx.RemoteProtocolError`` while reading
    it, and a delay longer than the request's read timeout as ``httpx.ReadTimeout``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, fake: FakeVersive) -> None:
        """Answer requests from `fake`."""
        self.fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request from the fake, applying its fault's transport effect."""
        body = await request.aread()
        reply = self.fake.handle(
            request.method, request.url.raw_path.decode("ascii"), request.headers.multi_items(), body
        )
        fault = reply.fault
        if isinstance(fault, Reset):
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if isinstance(fault, Delay):
            read_timeout = request.extensions.get("timeout", {}).get("read")
            if read_timeout is not None and fault.seconds > read_timeout:
                await anyio.sleep(read_timeout)
                raise httpx.ReadTimeout("timed out", request=request)
            await anyio.sleep(fault.seconds)
        headers = [*reply.headers, ("content-length", str(len(reply.body)))]
        if isinstance(fault, CloseMidBody):
            return httpx.Response(reply.status, headers=headers, stream=_CutShort(reply.body, request))
        return httpx.Response(reply.status, headers=headers, content=reply.body)


class _CutShort(httpx.AsyncByteStream):
    """A body that yields its first half, then fails as a connection closed mid-body does."""

    def __init__(self, body: bytes, request: httpx.Request) -> None:
        self._body = body
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        half = self._body[: len(self._body) // 2]
        yield half
        raise httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body "
            f"(received {len(half)} bytes, expected {len(self._body)})",
            request=self._request,
        )

"""FakeVersiveTransport: the fake answering through httpx in-process, faults included, no sockets."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

import anyio
import httpx

from .faults import BadContentEncoding, CloseMidBody, Delay, Reset, TruncatedChunked, WrongContentLength

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from ._fake import FakeVersive


class FakeVersiveTransport(httpx.AsyncBaseTransport):
    """An httpx transport backed by a :class:`FakeVersive`, for fast tests without sockets.

    Transport faults surface as httpx's own transport would raise them: a reset as
    ``httpx.ReadError``, a body cut short (mid-body, a truncated chunked body, a
    Content-Length longer than the body) as ``httpx.RemoteProtocolError`` while reading
    it, a delay longer than the request's read timeout as ``httpx.ReadTimeout``, and a
    body that is not the gzip its header says as it comes (httpx fails to decode it).

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
        body = reply.body
        length = len(body) + fault.extra if isinstance(fault, WrongContentLength) else len(body)
        framing = (
            [("transfer-encoding", "chunked")]
            if isinstance(fault, TruncatedChunked)
            else [("content-length", str(length))]
        )
        if reply.status == HTTPStatus.NO_CONTENT:  # a 204 has no body to frame
            framing = []
        if request.method == "HEAD":  # nor has the answer to a HEAD request
            body = b""
        headers = [*reply.headers, *framing]
        if isinstance(fault, BadContentEncoding):
            # A stream, not content: httpx would decode (and fail on) content as it builds the response.
            headers.append(("content-encoding", "gzip"))
            return httpx.Response(reply.status, headers=headers, stream=httpx.ByteStream(body))
        if isinstance(fault, CloseMidBody | TruncatedChunked | WrongContentLength):
            sent = body if isinstance(fault, WrongContentLength) else body[: len(body) // 2]
            return httpx.Response(reply.status, headers=headers, stream=_CutShort(sent, length, request))
        return httpx.Response(reply.status, headers=headers, content=body)


class _CutShort(httpx.AsyncByteStream):
    """A body that yields `sent`, then fails as a connection closed before `expected` bytes does."""

    def __init__(self, sent: bytes, expected: int, request: httpx.Request) -> None:
        self._sent = sent
        self._expected = expected
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._sent
        raise httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body "
            f"(received {len(self._sent)} bytes, expected {self._expected})",
            request=self._request,
        )

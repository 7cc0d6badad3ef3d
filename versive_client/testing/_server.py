"""The fake on loopback: a small HTTP/1.1 server on h11 and anyio, in a thread or in the foreground.

Hand-written on h11 (the HTTP/1.1 state machine httpx itself uses) rather than an ASGI
server: the faults need the raw connection, to reset it (RST) before a response or to
close it half-way through a body, which no ASGI server exposes.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
from email.utils import formatdate
from http import HTTPStatus
from typing import TYPE_CHECKING

import anyio
import anyio.from_thread
import h11
from anyio.abc import SocketAttribute

from .faults import BadContentEncoding, CloseMidBody, Delay, Reset, TruncatedChunked, WrongContentLength

if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future

    from anyio.abc import Listener, SocketStream

    from ._fake import FakeVersive, Reply

logger = logging.getLogger("versive_client.testing")

MAX_BODY_BYTES = 1 << 20
RECEIVE_SIZE = 65536


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 host in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def open_listener(host: str, port: int) -> tuple[Listener[SocketStream], str]:
    """Bind and listen on (host, port); returns the listener and its base URL."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    return listener, base_url(host, listener.extra(SocketAttribute.local_port))


async def serve(fake: FakeVersive, listener: Listener[SocketStream]) -> None:
    """Serve `fake` on `listener` until cancelled."""

    async def handler(stream: SocketStream) -> None:
        await _serve_connection(fake, stream)

    async with listener:
        await listener.serve(handler)


class BackgroundServer:
    """The loopback server in a thread with its own event loop; start() and stop() block."""

    def __init__(self, fake: FakeVersive, host: str, port: int) -> None:
        self._fake, self._host, self._port = fake, host, port
        self._exit = contextlib.ExitStack()
        self._future: Future[None] | None = None

    def start(self) -> str:
        """Start serving; returns the base URL once the socket accepts connections."""
        with contextlib.ExitStack() as on_failure:
            on_failure.push(self._exit)
            portal = self._exit.enter_context(anyio.from_thread.start_blocking_portal())
            listener, url = portal.call(open_listener, self._host, self._port)
            self._future = portal.start_task_soon(serve, self._fake, listener)
            on_failure.pop_all()
        return url

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._future is not None:
            self._future.cancel()
            self._future = None
        self._exit.close()


async def _serve_connection(fake: FakeVersive, stream: SocketStream) -> None:
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    try:
        while True:
            request = await _receive_request(connection, stream)
            if request is None:
                return
            event, body = request
            method, target = event.method.decode("latin-1"), event.target.decode("latin-1")
            reply = fake.handle(method, target, _decoded(event.headers), body)
            fault = f" (fault: {reply.fault!r})" if reply.fault else ""
            logger.info("%s %s -> %s%s", method, target, reply.status or "reset", fault)
            if not await _send_reply(connection, stream, reply, head=method == "HEAD"):
                return
            if connection.our_state is h11.MUST_CLOSE:
                return
            connection.start_next_cycle()
    except _BodyTooLargeError:
        await _send_simple(connection, stream, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    except h11.RemoteProtocolError as exc:
        await _send_simple(connection, stream, HTTPStatus(exc.error_status_hint))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
        return
    except Exception:
        # One connection's failure must never take the server (and every other test) down.
        logger.exception("fake Versive: error while serving a connection")
        await _send_simple(connection, stream, HTTPStatus.INTERNAL_SERVER_ERROR)
    finally:
        await stream.aclose()


class _BodyTooLargeError(Exception):
    """The request body is over MAX_BODY_BYTES."""


async def _receive_request(connection: h11.Connection, stream: SocketStream) -> tuple[h11.Request, bytes] | None:
    request: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:
                data = await stream.receive(RECEIVE_SIZE)
            except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError):
                data = b""
            connection.receive_data(data)
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY_BYTES:
                raise _BodyTooLargeError
        elif isinstance(event, h11.EndOfMessage) and request is not None:
            return request, bytes(body)
        else:  # ConnectionClosed, or PAUSED: the client is done
            return None


async def _send_reply(connection: h11.Connection, stream: SocketStream, reply: Reply, *, head: bool) -> bool:
    """Send `reply` with its fault's effect; False when the connection must not be reused.

    The answer to a HEAD request, and a 204, go without a body, as HTTP has it.
    """
    fault = reply.fault
    if isinstance(fault, Reset):
        raw = stream.extra(SocketAttribute.raw_socket)
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if isinstance(fault, Delay):
        await anyio.sleep(fault.seconds)
    body = b"" if head else reply.body
    length = len(reply.body) + fault.extra if isinstance(fault, WrongContentLength) else len(reply.body)
    # h11 frames the body by these headers: chunked, or exactly `length` bytes; a 204 has no body to frame.
    framing = [("content-length", str(length))]
    if isinstance(fault, TruncatedChunked):
        framing = [("transfer-encoding", "chunked")]
    if reply.status == HTTPStatus.NO_CONTENT:
        framing = []
    headers = [*reply.headers, *framing, ("date", formatdate(usegmt=True)), ("server", "fake-versive")]
    if isinstance(fault, BadContentEncoding):
        headers.append(("content-encoding", "gzip"))
    await stream.send(
        connection.send(h11.Response(status_code=reply.status, headers=headers, reason=_reason(reply.status)))
    )
    if isinstance(fault, CloseMidBody | TruncatedChunked | WrongContentLength):
        # Half the body (the whole of it under a Content-Length that promises more), then close.
        sent = body if isinstance(fault, WrongContentLength) else body[: len(body) // 2]
        await stream.send(connection.send(h11.Data(data=sent)))
        return False
    if body:
        await stream.send(connection.send(h11.Data(data=body)))
    await stream.send(connection.send(h11.EndOfMessage()))
    return True


async def _send_simple(connection: h11.Connection, stream: SocketStream, status: HTTPStatus) -> None:
    if connection.our_state not in {h11.IDLE, h11.SEND_RESPONSE}:
        return
    body = f'{{"detail":"{status.phrase}"}}'.encode()
    headers = [("content-type", "application/json"), ("content-length", str(len(body))), ("connection", "close")]
    try:
        await stream.send(connection.send(h11.Response(status_code=int(status), headers=headers, reason=status.phrase)))
        await stream.send(connection.send(h11.Data(data=body)))
        await stream.send(connection.send(h11.EndOfMessage()))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError, h11.LocalProtocolError):
        return


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _decoded(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]

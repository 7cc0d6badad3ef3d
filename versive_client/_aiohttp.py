"""AiohttpTransport: httpx's transport interface on aiohttp's connection pool (the ``aiohttp`` extra).

Hand-written rather than on the httpx-aiohttp package, which maps every aiohttp
connection error (a reset, a closed connection) to ``httpx.ConnectTimeout`` and wraps the
body in a stream the SDK then reads whole anyway. This transport reads the body at once,
maps errors to the httpx exception a user of httpx would expect, and leaves everything
else (retries, timeouts, errors) to the retry transport above it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import httpx

from versive_client._transport import Answer, DirectTransport

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping, Sequence


class AiohttpTransport(DirectTransport):
    """Sends httpx requests through one aiohttp session and its pool (asyncio only)."""

    def __init__(self, limits: httpx.Limits) -> None:
        """Pool up to `limits.max_connections` connections; the session is made on first use."""
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._timeouts: tuple[httpx.Timeout, aiohttp.ClientTimeout] | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
            )
            # auto_decompress off: httpx decodes the body by its Content-Encoding, as usual.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, read the whole answer, and return it as an httpx response."""
        try:
            answer = await self.send_bytes(
                request.method,
                str(request.url),
                request.headers.multi_items(),
                request.content,
                httpx.Timeout(**request.extensions.get("timeout", {})),
            )
        except httpx.TransportError as exc:
            exc.request = request
            raise
        return answer.to_httpx(request)

    async def send_bytes(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | Sequence[tuple[str, str]],
        content: bytes,
        timeout: httpx.Timeout,
    ) -> Answer:
        """Send a request given as parts (see DirectTransport); the httpx exceptions carry no request."""
        try:
            async with self._session_now().request(
                method,
                url,
                headers=headers,
                data=content or None,
                allow_redirects=False,
                ssl=self._tls() if url.startswith("https:") else True,
                timeout=self._client_timeout(timeout),
            ) as answer:
                body = await answer.read()
                # The body is as sent (auto_decompress is off): httpx decodes it by its Content-Encoding.
                answer_headers = answer.headers
                return Answer(
                    answer.status,
                    answer.raw_headers,
                    body,
                    content_type=answer_headers.get(aiohttp.hdrs.CONTENT_TYPE, ""),
                    encoded=aiohttp.hdrs.CONTENT_ENCODING in answer_headers,
                )
        except TimeoutError as exc:  # aiohttp's timeouts all derive from it
            raise httpx.ReadTimeout(str(exc) or "timed out") from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc

    def _client_timeout(self, timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        """The aiohttp timeouts for `timeout` (aiohttp has no write timeout).

        The last pair is kept: calls mostly pass the client's own timeout object.
        """
        if self._timeouts is None or self._timeouts[0] is not timeout:
            client_timeout = aiohttp.ClientTimeout(
                sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool
            )
            self._timeouts = (timeout, client_timeout)
        return self._timeouts[1]

    def _tls(self) -> ssl.SSLContext:
        """The TLS settings httpx uses (certifi's CAs), made on the first https request (loading them takes ms)."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

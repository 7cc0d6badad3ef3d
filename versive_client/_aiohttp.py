"""AiohttpTransport: httpx's transport interface on aiohttp's connection pool (the ``aiohttp`` extra).

Hand-written rather than on the httpx-aiohttp package, which maps every aiohttp
connection error (a reset, a closed connection) to ``httpx.ConnectTimeout`` and wraps the
body in a stream the SDK then reads whole anyway. This transport reads the body at once,
maps errors to the httpx exception a user of httpx would expect, and leaves everything
else (retries, timeouts, errors) to the retry transport above it.
"""

from __future__ import annotations

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session and its pool (asyncio only)."""

    def __init__(self, limits: httpx.Limits) -> None:
        """Pool up to `limits.max_connections` connections; the session is made on first use."""
        self._limits = limits
        self._session: aiohttp.ClientSession | None = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._limits.max_connections or 0,
                keepalive_timeout=self._limits.keepalive_expiry,
                ssl=httpx.create_ssl_context(),
            )
            # auto_decompress off: httpx decodes the body by its Content-Encoding, as usual.
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`, read the whole answer, and return it as an httpx response."""
        timeout = request.extensions.get("timeout", {})
        client_timeout = aiohttp.ClientTimeout(
            sock_connect=timeout.get("connect"), sock_read=timeout.get("read"), connect=timeout.get("pool")
        )
        try:
            async with self._session_now().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=request.content or None,
                allow_redirects=False,
                timeout=client_timeout,
            ) as answer:
                content = await answer.read()
                return httpx.Response(answer.status, headers=answer.raw_headers, content=content, request=request)
        except TimeoutError as exc:  # aiohttp's timeouts all derive from it
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

"""The aiohttp backend (the ``aiohttp`` extra): the loop's requests on aiohttp's connection pool.

Hand-written rather than on the httpx-aiohttp package, which maps every aiohttp
connection error (a reset, a closed connection) to ``httpx.ConnectTimeout`` and wraps the
body in a stream the SDK then reads whole anyway. This adapter sends the loop's request,
reads the body at once, and says why an attempt failed; the loop does the rest.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import aiohttp
import httpx

from versive_client._transport import Answer, Request, SendError

if TYPE_CHECKING:
    import ssl

    from versive_client._transport import Secret


class AiohttpBackend:
    """One aiohttp session and its pool (asyncio only), made on first use.

    Never made again once closed: the loop refuses every attempt of a closed client
    before it reaches a backend.
    """

    def __init__(self, *, max_connections: int, proxy: str | None, trust_env: bool) -> None:
        """Pool up to `max_connections` connections; send through `proxy` if given.

        `trust_env`: TLS trusts ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, as httpx does.
        """
        self._limit, self._trust_env = max_connections, trust_env
        self._proxy = proxy  # aiohttp sends its credentials as Proxy-Authorization
        self._timeouts: tuple[httpx.Timeout, aiohttp.ClientTimeout] | None = None

    @functools.cached_property
    def _session(self) -> aiohttp.ClientSession:
        # Idle connections are kept as long as httpx keeps them (5 s), not aiohttp's 15 s.
        connector = aiohttp.TCPConnector(limit=self._limit, keepalive_timeout=httpx.Limits().keepalive_expiry)
        # auto_decompress off: the loop decodes every backend's bodies the same way.
        # trust_env off: the client has resolved the environment's proxy already, by
        # httpx's rules (aiohttp's own would ignore ALL_PROXY, and look again per request).
        return aiohttp.ClientSession(connector=connector, auto_decompress=False, trust_env=False)

    async def send(self, request: Request, timeout: httpx.Timeout, secret: Secret) -> Answer:
        """Send `request` once; raise `SendError` from aiohttp's exception when there is no whole answer."""
        try:
            async with self._session.request(
                request.method,
                request.url,
                headers={**request.headers, "authorization": secret.authorization},
                data=request.content or None,
                allow_redirects=False,
                timeout=self._client_timeout(timeout),
                ssl=self._tls if request.url.startswith("https:") else True,
                proxy=self._proxy,
            ) as response:
                return Answer(response.status, response.headers, await response.read())
        except TimeoutError as exc:  # aiohttp's timeouts all derive from it
            raise SendError(str(exc) or "timed out", timeout=True) from exc
        except aiohttp.ClientError as exc:
            raise SendError(str(exc) or type(exc).__name__) from exc

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        """The TLS settings httpx uses, made on the first https request: loading the CAs takes 20 ms."""
        return httpx.create_ssl_context(trust_env=self._trust_env)

    def _client_timeout(self, timeout: httpx.Timeout) -> aiohttp.ClientTimeout:
        """The aiohttp timeouts for `timeout`, the last pair kept (calls mostly pass the same timeout).

        aiohttp has no write timeout; its `connect` bounds waiting for a free connection and connecting.
        """
        if self._timeouts is None or self._timeouts[0] is not timeout:
            limits = aiohttp.ClientTimeout(sock_connect=timeout.connect, sock_read=timeout.read, connect=timeout.pool)
            self._timeouts = (timeout, limits)
        return self._timeouts[1]

    async def aclose(self) -> None:
        """Close the session and its connections (the closed session is kept: nothing makes another)."""
        if "_session" in self.__dict__:  # made on first use: an unused backend has no session to close
            await self._session.close()

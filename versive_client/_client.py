"""VersiveClient: configuration, lifecycle, create_interview(), and the configured generated client."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, cast

import httpx

from versive_client._errors import APIResponseValidationError, snippet
from versive_client._generated import AuthenticatedClient
from versive_client._generated.api.interviews import create_interview as _create_interview
from versive_client._generated.models import CreateInterviewReqV1, CreateInterviewReqV1MetadataType0, Interview
from versive_client._retry import RetryBudget, RetryPolicy
from versive_client._transport import (
    IDEMPOTENCY_HEADER,
    RETRY_COUNT_HEADER,
    CallOptions,
    ConcurrencyGate,
    RetryTransport,
    TransportOptions,
    full_response,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT", "VersiveClient"]

DEFAULT_BASE_URL = "https://api.getversive.com"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Per attempt: 5 s to connect, 30 s for each read, write and wait for a pooled connection."""
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_LIMITS = httpx.Limits(
    max_connections=DEFAULT_MAX_CONNECTIONS, max_keepalive_connections=DEFAULT_MAX_CONNECTIONS
)
HTTP_BACKENDS = ("httpx", "aiohttp")
API_KEY_ENV = "VERSIVE_API_KEY"
BASE_URL_ENV = "VERSIVE_BASE_URL"
LOG_ENV = "VERSIVE_LOG"
MAX_IDEMPOTENCY_KEY_CHARS = 255
# Headers the retry layer sets on each call; a default for every request would be wrong.
PER_CALL_HEADERS = frozenset({IDEMPOTENCY_HEADER.lower(), RETRY_COUNT_HEADER.lower()})

logger = logging.getLogger("versive_client")


class VersiveClient:
    """The Versive API client: one connection pool, shared by every concurrent call.

    ::

        async with VersiveClient() as versive:            # API key from VERSIVE_API_KEY
            interview = await versive.create_interview(study_id="study_123", title="Onboarding")
            print(interview.link)

    Args:
        api_key: the API key; defaults to ``$VERSIVE_API_KEY``. Never shown in reprs,
            logs or errors.
        base_url: defaults to ``$VERSIVE_BASE_URL``, then ``https://api.getversive.com``.
            Plain ``http`` is refused unless the host is loopback or `allow_insecure` is set.
        timeout: per attempt, in seconds or as an ``httpx.Timeout``
            (default: 5 s to connect, 30 s otherwise).
        max_retries: retries after the first attempt (default 2; 0 disables).
        deadline: optional total seconds for a call, across all attempts and waits: no
            attempt or wait runs past it, and each attempt's timeout shrinks to fit.
        retry_policy: backoff and ``Retry-After`` limits; ``RetryPolicy.no_wait()`` in tests.
        http_client: your own ``httpx.AsyncClient`` (proxies, TLS); you close it.
        transport: an httpx transport to send through instead (for example
            ``FakeVersive().transport()``); the client closes it.
        http_backend: ``"httpx"`` (default), or ``"aiohttp"`` for aiohttp's faster HTTP
            stack (the ``aiohttp`` extra; asyncio only): ``create_interview`` sends through it
            directly, other endpoints through httpx's transport interface. Retries, timeouts,
            errors and the generated client are the same on both.
        sleep: the coroutine function waits use (default ``anyio.sleep``), to observe
            or skip waits in tests.
        default_headers: extra headers for every request; one named like a header the
            SDK sets (in any case) replaces it. ``Idempotency-Key`` and
            ``X-Versive-Retry-Count`` are per call and refused here.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        allow_insecure: bool = False,
        http_backend: str = "httpx",
        sleep: Callable[[float], Awaitable[object]] | None = None,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        """Check every option, then set up the pool; nothing is sent until a call."""
        _configure_logging_from_env()
        key = _resolve_api_key(api_key)
        url = _resolve_base_url(base_url, allow_insecure=allow_insecure)
        options = TransportOptions(
            timeout=_as_timeout(timeout, "timeout"),
            max_retries=_check_max_retries(max_retries, "max_retries"),
            deadline=_check_deadline(deadline, "deadline"),
            policy=_check_policy(retry_policy),
        )
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise TypeError(f"http_client must be an httpx.AsyncClient, got {type(http_client).__name__}")
        if transport is not None and not isinstance(transport, httpx.AsyncBaseTransport):
            raise TypeError(f"transport must be an httpx.AsyncBaseTransport, got {type(transport).__name__}")
        if http_backend not in HTTP_BACKENDS:
            raise ValueError(f"http_backend must be one of {', '.join(HTTP_BACKENDS)}, got {http_backend!r}")
        if http_backend != "httpx" and (http_client is not None or transport is not None):
            raise ValueError(
                "http_backend chooses the connection pool; it cannot be combined with http_client or transport"
            )
        gate = None
        if http_client is not None:
            inner: httpx.AsyncBaseTransport = _ThroughClient(http_client)
        elif transport is not None:
            inner = transport
        elif http_backend == "aiohttp":
            inner = aiohttp_transport(DEFAULT_LIMITS)
        else:
            inner = httpx.AsyncHTTPTransport(limits=DEFAULT_LIMITS)
            gate = ConcurrencyGate(DEFAULT_MAX_CONNECTIONS)
        headers = _merge_headers(
            {"Authorization": f"Bearer {key}", "User-Agent": _user_agent()}, _check_default_headers(default_headers)
        )
        retrying = RetryTransport(
            inner, options, budget=RetryBudget(), sleep=sleep, gate=gate, owns_inner=http_client is None
        )
        self._setup(url, retrying, headers)

    def _setup(self, base_url: str, transport: RetryTransport, headers: dict[str, str]) -> None:
        self._base_url = base_url
        self._transport = transport
        # The key lives only in these headers: this dict (create_interview's requests) and
        # the httpx client's (the generated client's), whose repr httpx masks.
        self._headers = headers
        self._merged_headers: dict[tuple[tuple[str, str], ...], _Headers] = {}
        self._http = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=transport.options.timeout, headers=headers
        )
        # The token is unused (requests carry the header above) and would show in the attrs repr.
        self.generated_client = AuthenticatedClient(base_url=base_url, token="[set by VersiveClient]")  # noqa: S106
        """The generated client, sending through this client: any generated endpoint's
        ``asyncio``/``asyncio_detailed`` function gets the same auth, retries, timeouts and
        typed errors. (The generated ``sync`` functions are not supported.)"""
        self.generated_client.set_async_httpx_client(self._http)
        self.generated_client.set_httpx_client(httpx.Client(transport=_AsyncOnly()))

    def _headers_with(self, extra: dict[str, str]) -> dict[str, str]:
        """A new dict: the client's headers with an operation's own (the same few, call after call)."""
        key = tuple(extra.items())
        merged = self._merged_headers.get(key)
        if merged is None:
            merged = self._merged_headers[key] = _merge_headers(self._headers, extra)
        return _Headers(merged)

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> VersiveClient:
        """A client with other options that shares this one's connection pool and retry budget.

        Closing it leaves the pool open; closing this client closes the pool for both.
        """
        current = self._transport.options
        options = TransportOptions(
            timeout=current.timeout if timeout is None else _as_timeout(timeout, "timeout"),
            max_retries=current.max_retries if max_retries is None else _check_max_retries(max_retries, "max_retries"),
            deadline=current.deadline if deadline is None else _check_deadline(deadline, "deadline"),
            policy=current.policy if retry_policy is None else _check_policy(retry_policy),
        )
        derived = object.__new__(VersiveClient)
        derived._setup(self._base_url, self._transport.with_options(options), self._headers)
        return derived

    def __repr__(self) -> str:
        """Options only: the API key is never shown."""
        return (
            f"VersiveClient(base_url={self._base_url!r}, max_retries={self._transport.options.max_retries}, "
            f"timeout={self._transport.options.timeout!r}, deadline={self._transport.options.deadline!r})"
        )

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base_url

    @property
    def retry_budget(self) -> RetryBudget:
        """The retry budget this client shares with the clients derived from it."""
        return self._transport.budget

    async def aclose(self) -> None:
        """Close the connection pool (unless it came from your own `http_client`)."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        """Use as ``async with VersiveClient() as versive:``."""
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the pool."""
        await self.aclose()

    async def create_interview(
        self,
        study_id: str,
        *,
        title: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        language: str = "English",
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        idempotency_key: str | None = None,
    ) -> Interview:
        """Create an interview for a study; returns it, with the link to send a participant.

        Arguments are checked before anything is sent. Each call sends an
        ``Idempotency-Key`` (yours, or a random one), the same on every retry of the call.
        The real API does not document idempotency: a create retried after a timeout may
        have been done twice there.

        Args:
            study_id: the study, a non-empty string.
            title: the interview's title, or None.
            metadata: a mapping with string keys and JSON-encodable values (for example
                ``{"participant_id": "p-42"}``), kept on the interview.
            language: the interview's language.
            timeout: this call's per-attempt timeout, instead of the client's.
            max_retries: this call's retries, instead of the client's.
            deadline: this call's total time limit, instead of the client's.
            idempotency_key: the key to send, instead of a random one.

        Raises:
            TypeError, ValueError: an argument is not valid; nothing was sent.
            VersiveError: the call failed; see versive_client's error classes.
        """
        body = _create_interview_body(study_id, title=title, metadata=metadata, language=language)
        options = CallOptions(
            timeout=None if timeout is None else _as_timeout(timeout, "timeout"),
            max_retries=None if max_retries is None else _check_max_retries(max_retries, "max_retries"),
            deadline=None if deadline is None else _check_deadline(deadline, "deadline"),
            idempotency_key=_check_idempotency_key(idempotency_key),
        )
        # The generated function would send through httpx.AsyncClient, whose request building
        # costs a quarter of a call (docs/performance.md). The request comes from the same
        # generated description (_get_kwargs) and goes straight to the retry transport (on
        # the aiohttp backend without any httpx request); the answer is parsed by the
        # generated parser. Every other endpoint goes through generated_client as usual.
        kwargs = _create_interview._get_kwargs(body=body)  # noqa: SLF001
        method = kwargs["method"].upper()
        url = self._base_url + kwargs["url"]
        content = _encode_body(kwargs["json"])
        if self._http.is_closed:
            raise RuntimeError("this VersiveClient is closed")
        received = await self._transport.send_bytes(
            method, url, self._headers_with(kwargs["headers"]), content, options
        )
        try:
            # An Answer (the aiohttp backend) has what the generated parser reads of a
            # response: status_code, content and json().
            parse = _create_interview._parse_response  # noqa: SLF001
            parsed = parse(client=self.generated_client, response=cast("httpx.Response", received))
        except (KeyError, ValueError, TypeError) as exc:  # the generated parser met a body it cannot read
            raise _unusable(full_response(received, httpx.Request(method, url)), options.attempts, exc) from exc
        if not isinstance(parsed, Interview):
            raise _unusable(full_response(received, httpx.Request(method, url)), options.attempts, None)
        return parsed


def _create_interview_body(
    study_id: object, *, title: object, metadata: object, language: object
) -> CreateInterviewReqV1:
    if not isinstance(study_id, str):
        raise TypeError(f"study_id must be a string, got {type(study_id).__name__}")
    if not study_id.strip():
        raise ValueError("study_id must not be empty")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"title must be a string or None, got {type(title).__name__}")
    if not isinstance(language, str):
        raise TypeError(f"language must be a string, got {type(language).__name__}")
    if not language.strip():
        raise ValueError("language must not be empty")
    body = CreateInterviewReqV1(study_id=study_id, language=language)
    if title is not None:
        body.title = title
    if metadata is not None:
        body.metadata = CreateInterviewReqV1MetadataType0.from_dict(_check_metadata(metadata))
    return body


def _check_metadata(metadata: object) -> dict[str, Any]:
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping (such as a dict) or None, got {type(metadata).__name__}")
    checked = dict(metadata)
    for key in checked:
        if not isinstance(key, str):
            raise TypeError(f"metadata keys must be strings, got {type(key).__name__} {key!r}")
    return checked


def _encode_body(payload: dict[str, Any]) -> bytes:
    """The request body as compact UTF-8 JSON; an error names the metadata entry that cannot be sent."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        # Encoding the whole body once is the cheap path; on failure, find the entry at fault.
        metadata = payload.get("metadata")
        for key, value in (metadata if isinstance(metadata, dict) else {}).items():
            try:
                json.dumps(value, ensure_ascii=False, allow_nan=False).encode()
            except (TypeError, ValueError) as problem:
                raise ValueError(f"metadata[{key!r}] cannot be sent as JSON: {problem}") from None
        raise ValueError(f"the request cannot be sent as JSON: {exc}") from None


def _check_idempotency_key(key: object) -> str | None:
    if key is None:
        return None
    if not isinstance(key, str):
        raise TypeError(f"idempotency_key must be a string or None, got {type(key).__name__}")
    # isascii + isprintable: U+0020 to U+007E; the space is refused separately.
    if not key or len(key) > MAX_IDEMPOTENCY_KEY_CHARS or not (key.isascii() and key.isprintable()) or " " in key:
        raise ValueError(
            f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters without spaces"
        )
    return key


def _unusable(response: httpx.Response, attempts: int, exc: BaseException | None) -> APIResponseValidationError:
    where = f"{response.request.method} {response.request.url.path} answered {response.status_code}"
    if isinstance(exc, KeyError):
        problem = f"without the required field {exc.args[0]!r}"
    elif exc is not None:
        problem = f"with a body that does not match the spec ({exc})"
    else:
        problem = "which the spec does not document for this operation"
    return APIResponseValidationError(
        f"{where} {problem}: {snippet(response.text)}", response=response, attempts=attempts
    )


def _check_default_headers(headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"default_headers must be a mapping of strings, got {type(headers).__name__}")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str):
            raise TypeError(f"default_headers names must be strings, got {type(name).__name__} {name!r}")
        if not isinstance(value, str):
            raise TypeError(f"default_headers[{name!r}] must be a string, got {type(value).__name__}")
        if name.lower() in PER_CALL_HEADERS:
            raise ValueError(
                f"default_headers must not set {name}: each call sends its own "
                "(pass idempotency_key=... to create_interview to choose the key)"
            )
        checked[name] = value
    return checked


class _Headers(dict[str, str]):
    """Header names and values; the repr hides the Authorization value, as httpx.Headers's does.

    A plain dict (what aiohttp and httpx take) would show the API key wherever locals or
    attributes are printed: tracebacks with locals, error trackers, debuggers.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        """The headers, with ``[secure]`` for the Authorization value."""
        shown = {name: "[secure]" if name.lower() == "authorization" else value for name, value in self.items()}
        return f"{type(self).__name__}({shown!r})"


def _merge_headers(base: dict[str, str], extra: Mapping[str, str]) -> _Headers:
    """`base` updated with `extra`, header names compared without case (a new dict)."""
    merged = _Headers(base)
    for name, value in extra.items():
        lowered = name.lower()
        for existing in [key for key in merged if key.lower() == lowered]:
            del merged[existing]
        merged[name] = value
    return merged


def _resolve_api_key(api_key: str | None) -> str:
    key = os.environ.get(API_KEY_ENV) if api_key is None else api_key
    if key is None:
        raise ValueError(f"no API key: pass api_key=... or set {API_KEY_ENV}")
    if not isinstance(key, str):
        raise TypeError(f"api_key must be a string, got {type(key).__name__}")
    key = key.strip()
    if not key:
        source = "api_key" if api_key is not None else API_KEY_ENV
        raise ValueError(f"{source} is empty")
    if any(char < " " or char == "\x7f" for char in key):
        raise ValueError("the API key contains control characters")
    return key


def _resolve_base_url(base_url: str | None, *, allow_insecure: bool) -> str:
    raw = base_url if base_url is not None else os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    source = "base_url" if base_url is not None else (BASE_URL_ENV if os.environ.get(BASE_URL_ENV) else "base_url")
    if not isinstance(raw, str):
        raise TypeError(f"base_url must be a string, got {type(raw).__name__}")
    try:
        url = httpx.URL(raw.strip())
    except httpx.InvalidURL as exc:
        raise ValueError(f"{source} is not a valid URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(f"{source} must be an http(s) URL with a host, got {raw!r}")
    if url.scheme == "http" and not allow_insecure and not _is_loopback(url.host):
        raise ValueError(
            f"{source} uses plain http to {url.host}: the API key would travel unencrypted; "
            "use https, or pass allow_insecure=True"
        )
    return str(url).rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _as_timeout(timeout: object, name: str) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        return timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"{name} must be a number of seconds or an httpx.Timeout, got {type(timeout).__name__}")
    if not timeout > 0:
        raise ValueError(f"{name} must be > 0 seconds, got {timeout!r}")
    return httpx.Timeout(float(timeout))


def _check_max_retries(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_deadline(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number of seconds or None, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0 seconds, got {value!r}")
    return float(value)


def _check_policy(policy: object) -> RetryPolicy:
    if policy is None:
        return RetryPolicy()
    if not isinstance(policy, RetryPolicy):
        raise TypeError(f"retry_policy must be a RetryPolicy, got {type(policy).__name__}")
    return policy


def aiohttp_transport(limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    """An httpx transport over aiohttp's connection pool (the ``aiohttp`` extra)."""
    try:
        from versive_client._aiohttp import AiohttpTransport  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        raise ValueError(
            "http_backend='aiohttp' needs the aiohttp extra: pip install 'versive-client[aiohttp]'"
        ) from exc
    return AiohttpTransport(limits=limits)


def notice_statuses(client: VersiveClient, callback: Callable[[int], object]) -> None:
    """Call `callback` with the status of every response `client` receives, retried or not.

    For the CLI's create-batch, which slows down on every 429 an attempt meets (the
    retry layer hides the 429s it retries past).
    """
    client._transport.on_status = callback  # noqa: SLF001 - the package's own client


def _user_agent() -> str:
    from versive_client import __version__  # noqa: PLC0415 - the package imports this module

    # sys.version starts with what platform.python_version() returns, without importing platform.
    python = sys.version.split(" ", 1)[0]
    return f"versive-client/{__version__} Python/{python} httpx/{httpx.__version__}"


class _ThroughClient(httpx.AsyncBaseTransport):
    """Sends through the caller's own httpx.AsyncClient, keeping its proxies, TLS and pool."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._client.send(request, stream=True)
        return httpx.Response(
            response.status_code, headers=response.headers, stream=response.stream, extensions=response.extensions
        )

    async def aclose(self) -> None:
        """The caller's client is the caller's to close."""


class _AsyncOnly(httpx.BaseTransport):
    """Refuses the generated sync functions with a clear message instead of sending unauthenticated."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:  # noqa: ARG002 - refuses every request
        raise RuntimeError(
            "VersiveClient.generated_client supports the generated async functions "
            "(asyncio, asyncio_detailed), not sync/sync_detailed"
        )


_logging_configured = False


def _configure_logging_from_env() -> None:
    """``VERSIVE_LOG=debug`` (or ``info``) sends the SDK's log lines to stderr."""
    global _logging_configured  # noqa: PLW0603 - once per process, as logging configuration is
    level = os.environ.get(LOG_ENV, "").strip().upper()
    if _logging_configured or level not in {"DEBUG", "INFO"}:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    _logging_configured = True

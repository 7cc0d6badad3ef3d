"""VersiveClient: its options, its lifecycle, create_interview(), and the generated client sending through it."""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Self

import httpx

from versive_client._generated import AuthenticatedClient
from versive_client._generated.models import CreateInterviewReqV1, CreateInterviewReqV1MetadataType0, Interview
from versive_client._httpx import HttpxBackend
from versive_client._retry import RetryBudget, RetryPolicy
from versive_client._transport import (
    CALL_HEADERS,
    AttemptHooks,
    Headers,
    LoopTransport,
    Options,
    Request,
    Sender,
    require,
    unusable,
)
from versive_client._version import __version__

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Unpack

    from versive_client._transport import Attempt, Backend, Call, CallObserver, Observe, Route
    from versive_client.bulk import BulkOptions, BulkRun, Items
    from versive_client.otel import Telemetry

DEFAULT_BASE_URL = "https://api.getversive.com"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Per attempt: 5 s to connect, 30 s for each read, write and wait for a pooled connection."""
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_CONNECTIONS = 100
HTTP_BACKENDS = ("httpx", "aiohttp")
API_KEY_ENV = "VERSIVE_API_KEY"
BASE_URL_ENV = "VERSIVE_BASE_URL"
LOG_ENV = "VERSIVE_LOG"
MAX_IDEMPOTENCY_KEY_CHARS = 255
# Create Interview as the generated `create_interview.asyncio_detailed` sends it and reads
# its answer; tests/test_client.py holds this path to the generated one, request and answer.
CREATE_INTERVIEW_PATH = "/api/v1/interviews"
# sys.version starts with what platform.python_version() returns, without importing platform.
USER_AGENT = f"versive-client/{__version__} Python/{sys.version.split(' ', 1)[0]} httpx/{httpx.__version__}"
HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

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
            (default: 5 s to connect, 30 s to read, write, or wait for a free connection).
        max_retries: retries after the first attempt (default 2; 0 disables).
        deadline: optional total seconds for a call, across all attempts and waits: no
            attempt or wait runs past it.
        retry_policy: backoff and ``Retry-After`` limits; ``RetryPolicy.no_wait()`` in tests.
        http_client: your own ``httpx.AsyncClient`` (its proxies, TLS, hooks); you close it.
        transport: an httpx transport to send through instead (for example
            ``FakeVersive().transport()``); the client closes it.
        http_backend: ``"httpx"`` (default), or ``"aiohttp"`` for aiohttp's faster HTTP
            stack (the ``aiohttp`` extra; asyncio only). Every call goes through the same
            attempt loop on either: same retries, timeouts, errors and hooks.
        trust_env: honour ``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, ``NO_PROXY`` and
            ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as httpx does (default); False ignores them.
            (With `http_client` or `transport`, yours decide.)
        max_connections: the size of the connection pool (default 100); more concurrent
            calls wait for a free connection, at most ``timeout.pool``.
        sleep: the coroutine function waits use (default ``anyio.sleep``), to observe
            or skip waits in tests.
        default_headers: extra headers for every request; one named like a header the
            SDK sets (in any case) replaces it. ``Idempotency-Key`` and
            ``X-Versive-Retry-Count`` are per call and refused here.
        on_attempt: functions called with an `Attempt` after every attempt of every call
            (status or error, attempt number, the wait before the next); an exception
            raised by one ends the call with it.
        on_call: functions called with a `Call` as each call starts, returning a
            `CallObserver` (told before and after each attempt, and of the call's end) or None.
        telemetry: True (default): OpenTelemetry spans and metrics for every call when
            opentelemetry-api is installed (the ``otel`` extra), through the global
            providers; False: none; or a ``versive_client.otel.Telemetry`` with its own.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 `trust_env`, `max_connections` and `on_attempt`.
    .. versionchanged:: 0.3.0 `on_call` and `telemetry`.
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
        trust_env: bool = True,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        sleep: Callable[[float], Awaitable[object]] | None = None,
        default_headers: Mapping[str, str] | None = None,
        on_attempt: Sequence[Callable[[Attempt], object]] = (),
        on_call: Sequence[Callable[[Call], CallObserver | None]] = (),
        telemetry: bool | Telemetry = True,
    ) -> None:
        """Check every option, then set up the pool; nothing is sent until a call."""
        _configure_logging_from_env()
        url = _resolve_base_url(base_url, allow_insecure=allow_insecure)
        options = Options(timeout=timeout, max_retries=max_retries, deadline=deadline, retry_policy=retry_policy)
        extra = _check_default_headers(default_headers)
        observers = [*_observers(sleep, on_attempt, on_call), *_telemetry(telemetry)]
        backend = _backend(http_backend, http_client, transport, url, trust_env=trust_env, pool=max_connections)
        # The key last, and in no local of this frame: a traceback of a refused option cannot show it.
        # Header names in lower case (HTTP compares them without case): a default header replaces the SDK's own.
        headers = Headers({"authorization": f"Bearer {_resolve_api_key(api_key)}", "user-agent": USER_AGENT, **extra})
        sender = Sender(backend, budget=RetryBudget(), sleep=sleep, observers=observers)
        self._setup(url, sender, options, headers)

    def _setup(self, base_url: str, sender: Sender, options: Options, headers: Headers) -> None:
        self._base_url = base_url
        self._sender = sender
        self._options = options
        # The key lives only in these headers, whose repr hides it.
        self._headers = headers
        self._json_headers = Headers({**headers, "content-type": "application/json"})

    @functools.cached_property
    def generated_client(self) -> AuthenticatedClient:
        """The generated client, sending through this client's attempt loop and options.

        Any generated endpoint's ``asyncio``/``asyncio_detailed`` function gets the same
        auth, retries, timeouts, typed errors and hooks. (The generated ``sync`` functions
        are refused.)
        """
        # The token is unused (requests carry the client's header) and would show in the attrs repr.
        generated = AuthenticatedClient(base_url=self._base_url, token="[set by VersiveClient]")  # noqa: S106
        base_path = httpx.URL(self._base_url).path.rstrip("/")
        transport = LoopTransport(self._sender, self._options, functools.partial(_route_of, base_path))
        generated.set_async_httpx_client(
            httpx.AsyncClient(base_url=self._base_url, transport=transport, headers=self._headers, trust_env=False)
        )
        generated.set_httpx_client(httpx.Client(transport=_AsyncOnly(), trust_env=False))
        return generated

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int | None = None,
        deadline: float | None = None,
        retry_policy: RetryPolicy | None = None,
        on_attempt: Sequence[Callable[[Attempt], object]] = (),
        on_call: Sequence[Callable[[Call], CallObserver | None]] = (),
    ) -> VersiveClient:
        """A client with other options that shares this one's pool, retry budget, hooks and telemetry.

        `on_attempt` and `on_call` add hooks for the derived client's calls, after this client's.
        Closing it leaves this client open; closing this client closes it too.

        .. versionchanged:: 0.2.0 `on_attempt`.
        .. versionchanged:: 0.3.0 `on_call`.
        """
        self._sender.check_open()
        observers = _observers(None, on_attempt, on_call)
        changes = {"timeout": timeout, "max_retries": max_retries, "deadline": deadline, "retry_policy": retry_policy}
        options = self._options.but(**changes)
        derived = object.__new__(VersiveClient)
        derived._setup(self._base_url, self._sender.derive(observers), options, self._headers)
        return derived

    def __repr__(self) -> str:
        """Options only: the API key is never shown."""
        shown = f"max_retries={self._options.max_retries}, timeout={self._options.timeout!r}"
        return f"VersiveClient(base_url={self._base_url!r}, {shown}, deadline={self._options.deadline!r})"

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base_url

    @property
    def retry_budget(self) -> RetryBudget:
        """The retry budget this client shares with the clients derived from it."""
        return self._sender.budget

    async def aclose(self) -> None:
        """Close this client and the clients derived from it.

        The client made with the constructor closes the connection pool (unless it is your
        own `http_client`); a later call on any of them raises ``RuntimeError``.
        """
        await self._sender.aclose()

    async def __aenter__(self) -> Self:
        """Use as ``async with VersiveClient() as versive:``."""
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the client."""
        await self.aclose()

    def create_interviews(self, items: Items, **options: Unpack[BulkOptions]) -> BulkRun:
        """Create an interview for each of `items`, many at once, paced by what the API says.

        ::

            async with versive.create_interviews(rows, concurrency=16) as results:
                async for result in results:  # as each finishes, successes and failures alike
                    print(result.index, result.interview.link if result.ok else result.error)

        Each item is a mapping of `create_interview`'s arguments; items are read as workers
        are free. See `versive_client.bulk.BulkRun` for the options and the pacing.

        .. versionadded:: 0.2.0
        """
        from versive_client.bulk import BulkRun  # noqa: PLC0415 - only for bulk calls

        return BulkRun(self, items, **options)

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
            RuntimeError: the client is closed.
        """
        body = _create_interview_body(study_id, title=title, metadata=metadata, language=language)
        options = self._options.but(timeout=timeout, max_retries=max_retries, deadline=deadline)
        key = _check_idempotency_key(idempotency_key)
        url = self._base_url + CREATE_INTERVIEW_PATH
        request = Request("POST", url, Headers(self._json_headers), _encode_body(body.to_dict()))
        answer = await self._sender.send(request, options, key, ("create_interview", CREATE_INTERVIEW_PATH))
        if answer.status_code != HTTPStatus.OK:
            raise unusable(answer, request, "which the spec does not document for this operation")
        try:
            return Interview.from_dict(answer.json())
        except KeyError as exc:
            raise unusable(answer, request, f"without the required field {exc.args[0]!r}") from exc
        except (ValueError, TypeError) as exc:  # a body the generated model cannot read
            raise unusable(answer, request, f"with a body that does not match the spec ({exc})") from exc


def _create_interview_body(
    study_id: object, *, title: object, metadata: object, language: object
) -> CreateInterviewReqV1:
    body = CreateInterviewReqV1(study_id=_non_empty("study_id", study_id), language=_non_empty("language", language))
    if title is not None:
        body.title = require("title", title, str, "a string or None")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a mapping (such as a dict) or None, got {type(metadata).__name__}")
        for key in metadata:
            if not isinstance(key, str):
                raise TypeError(f"metadata keys must be strings, got {type(key).__name__} {key!r}")
        body.metadata = CreateInterviewReqV1MetadataType0.from_dict(dict(metadata))
    return body


def _non_empty(name: str, value: object) -> str:
    text = require(name, value, str, "a string")
    if not text.strip():
        raise ValueError(f"{name} must not be empty")
    return text


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
    text = require("idempotency_key", key, str, "a string or None")
    if not text or len(text) > MAX_IDEMPOTENCY_KEY_CHARS or _unsendable(text, allow_space=False):
        raise ValueError(
            f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters without spaces"
        )
    return text


def _unsendable(value: str, *, allow_space: bool) -> str | None:
    """What in `value` cannot go into an HTTP header (as the first such character's kind and place), or None."""
    for place, char in enumerate(value, start=1):
        if not ("!" <= char <= "~" or (allow_space and char in " \t")):
            kind = "a space" if char == " " else "a non-ASCII character" if char > "~" else "a control character"
            return f"has {kind} at position {place}, which cannot be sent in an HTTP header (a pasted typo?)"
    return None


def _check_default_headers(headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise TypeError(f"default_headers must be a mapping of strings, got {type(headers).__name__}")
    for name, value in headers.items():
        require("default_headers names", name, str, "strings")
        require(f"default_headers[{name!r}]", value, str, "a string")
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(f"default_headers has {name!r}, which is not a header name")
        if name.lower() in CALL_HEADERS:
            raise ValueError(
                f"default_headers must not set {name}: each call sends its own "
                "(pass idempotency_key=... to create_interview to choose the key)"
            )
        problem = _unsendable(value, allow_space=True)
        if problem:  # the value is not shown: it may be a secret
            raise ValueError(f"default_headers[{name!r}] {problem}")
    return {name.lower(): value for name, value in headers.items()}


def _observers(sleep: object, on_attempt: object, on_call: object) -> list[Observe]:
    """The call observers `on_attempt` and `on_call` give (checked, as `sleep` is)."""
    if sleep is not None and not callable(sleep):
        raise TypeError(f"sleep must be a coroutine function or None, got {type(sleep).__name__}")
    if not isinstance(on_attempt, Sequence) or not all(callable(hook) for hook in on_attempt):
        raise TypeError("on_attempt must be a sequence of functions taking an Attempt")
    if not isinstance(on_call, Sequence) or not all(callable(hook) for hook in on_call):
        raise TypeError("on_call must be a sequence of functions taking a Call")
    return [*on_call, AttemptHooks(tuple(on_attempt))] if on_attempt else list(on_call)


def _telemetry(telemetry: object) -> list[Observe]:
    """`telemetry` as call observers: by default OpenTelemetry's, when opentelemetry-api is installed."""
    if telemetry is False:
        return []
    if telemetry is True:
        default = _default_telemetry()
        return [default] if default is not None else []
    from versive_client.otel import Telemetry  # noqa: PLC0415 - only when one is given

    return [require("telemetry", telemetry, Telemetry, "True, False or a versive_client.otel.Telemetry")]


@functools.cache
def _default_telemetry() -> Observe | None:
    """One `Telemetry` on the global providers for every client, or None without opentelemetry-api.

    Imported at the first client, never by ``import versive_client``.
    """
    try:
        from versive_client.otel import Telemetry  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        if exc.name is None:  # installed, but too old: say so once, and go on untraced
            logger.warning("%s: clients are not traced (pip install 'versive-client[otel]')", exc)
        return None
    return Telemetry()


@functools.cache
def _routes() -> tuple[tuple[str, re.Pattern[str], Route], ...]:
    """Each generated operation's method, path pattern, and (name, path template)."""
    from versive_client._generated.operations import OPERATIONS  # noqa: PLC0415 - at the first traced call

    def pattern(template: str) -> re.Pattern[str]:
        parts = re.split(r"(\{[^}]*\})", template)
        return re.compile("".join("[^/]+" if part.startswith("{") else re.escape(part) for part in parts))

    return tuple((method, pattern(template), (name, template)) for method, template, name in OPERATIONS)


def _route_of(base_path: str, method: str, path: str) -> Route:
    """The operation a generated client's request under `base_path` is for, or (None, None)."""
    if path.startswith(base_path):
        relative = path[len(base_path) :]
        for known, pattern, route in _routes():
            if known == method and pattern.fullmatch(relative):
                return route
    return (None, None)


def _backend(
    http_backend: object, http_client: object, transport: object, base_url: str, *, trust_env: object, pool: object
) -> Backend:
    if http_backend not in HTTP_BACKENDS:
        raise ValueError(f"http_backend must be one of {', '.join(HTTP_BACKENDS)}, got {http_backend!r}")
    if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
        raise ValueError(f"max_connections must be an int >= 1, got {pool!r}")
    trust = require("trust_env", trust_env, bool, "True or False")
    if http_client is not None or transport is not None:
        if http_client is not None and transport is not None:
            raise ValueError("pass http_client or transport, not both")
        if http_backend != "httpx":
            raise ValueError("http_backend chooses the pool; it cannot be combined with http_client or transport")
        if http_client is not None:
            return HttpxBackend(require("http_client", http_client, httpx.AsyncClient, "an httpx.AsyncClient"))
        return HttpxBackend(require("transport", transport, httpx.AsyncBaseTransport, "an httpx.AsyncBaseTransport"))
    proxy = _environment_proxy(httpx.URL(base_url)) if trust else None
    if http_backend == "aiohttp":
        try:
            from versive_client._aiohttp import AiohttpBackend  # noqa: PLC0415 - an optional extra
        except ImportError as exc:
            raise ValueError(
                "http_backend='aiohttp' needs the aiohttp extra: pip install 'versive-client[aiohttp]'"
            ) from exc
        return AiohttpBackend(max_connections=pool, proxy=proxy, trust_env=trust)
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    return HttpxBackend(httpx.AsyncHTTPTransport(limits=limits, proxy=proxy, trust_env=trust), gate=pool)


def _environment_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment names for `url`, or None.

    ``HTTPS_PROXY``/``HTTP_PROXY`` by the URL's scheme, else ``ALL_PROXY``, unless
    ``NO_PROXY`` lists the host. httpx applies these only in an AsyncClient made
    without a transport, and aiohttp ignores ALL_PROXY, so the client resolves them
    itself, once for its base URL, by httpx's rules (``*``; a host and its subdomains;
    ``.domain`` for subdomains only; an IP), and gives both backends the same answer.
    """
    # The *_proxy variables as urllib.request.getproxies() reads them on Linux and macOS
    # (lower case wins), without importing urllib.request: 20 ms of a command's start-up.
    proxies: dict[str, str] = {}
    for name, value in os.environ.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy") and (name == lowered or lowered[:-6] not in proxies):
            proxies[lowered[:-6]] = value
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy:
        return None
    host = url.host.lower()
    for entry in (part.strip().lower() for part in proxies.get("no", "").split(",")):
        bare = entry.lstrip(".")
        if entry in {"*", host} or (bare and host.endswith("." + bare)):
            return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _resolve_api_key(api_key: object) -> str:
    key = os.environ.get(API_KEY_ENV) if api_key is None else api_key
    if key is None:
        raise ValueError(f"no API key: pass api_key=... or set {API_KEY_ENV}")
    source = "api_key" if api_key is not None else f"api_key (from {API_KEY_ENV})"
    key = require("api_key", key, str, "a string").strip()
    problem = "is empty" if not key else _unsendable(key, allow_space=False)
    if problem:  # the key itself is never shown
        raise ValueError(f"{source} {problem}")
    return key


def _resolve_base_url(base_url: str | None, *, allow_insecure: bool) -> str:
    from_env = base_url is None and os.environ.get(BASE_URL_ENV)
    source = BASE_URL_ENV if from_env else "base_url"
    raw = require("base_url", from_env or base_url or DEFAULT_BASE_URL, str, "a string")
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
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return host == "localhost" or host.endswith(".localhost")


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

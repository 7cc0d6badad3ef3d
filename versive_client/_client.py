"""VersiveClient: its options, its lifecycle, and the one generic call every resource method makes."""

from __future__ import annotations

import contextlib
import functools
import inspect
import ipaddress
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Self, TypeVar, cast

import httpx
from attrs import evolve

from versive_client._generated.resources import Resources, ResourcesWithRawResponse
from versive_client._generated.types import UNSET, Unset
from versive_client._httpx import HttpxBackend
from versive_client._operation import Response, build_request, check_headers, read_answer
from versive_client._retry import RetryBudget, RetryPolicy
from versive_client._transport import AttemptHooks, Options, Secret, Sender, _Gate, logger, require, unsendable
from versive_client._version import __version__
from versive_client.webhooks import Webhooks

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from typing import Unpack

    from versive_client._generated.operations import Operation
    from versive_client._generated.resources import Caller
    from versive_client._operation import Read, Values
    from versive_client._transport import Attempt, Backend, Call, CallObserver, Observe
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
MAX_KEY_CHARS = 255  # of an idempotency key
# sys.version starts with what platform.python_version() returns, without importing platform.
USER_AGENT = f"versive-client/{__version__} Python/{sys.version.split(' ', 1)[0]} httpx/{httpx.__version__}"
T = TypeVar("T")


class VersiveClient(Resources):
    """The Versive API client: every operation of the API, through one connection pool shared by every call.

    ::

        async with VersiveClient() as versive:            # API key from VERSIVE_API_KEY
            interview = await versive.create_interview(study_id="study_123", title="Onboarding")
            details = await versive.interviews.get(interview.id)
            print(interview.link, details.status)

    Each operation is a method of its resource: ``interviews``, ``studies``, ``folders``,
    ``questions``, ``question_logic`` (generated from the spec). Each takes the per-call
    options ``timeout``, ``max_retries``, ``deadline``, ``extra_headers``, ``extra_query``
    (``extra_body`` where it sends a body, ``idempotency_key`` where it creates); an option
    not given (`NOT_GIVEN`) keeps the client's, and ``deadline=None`` clears it.

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
        http_client: your own ``httpx.AsyncClient``; you close it. Each request is built by
            it, so its headers, params, cookies, auth, event hooks, proxies and TLS apply,
            and its timeout unless `timeout` is given.
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
            ``X-Versive-Retry-Count`` are per call and refused here; so is
            ``Authorization`` (the key is `api_key`, held where no traceback shows it).
        on_attempt: functions called with an `Attempt` after every attempt of every call
            (status or error, attempt number, the wait before the next); an exception
            raised by one is logged and changes nothing else.
        on_call: functions called with a `Call` as each call starts, returning a
            `CallObserver` (told before and after each attempt, and of the call's end) or None.
        telemetry: True (default): OpenTelemetry spans and metrics for every call when
            opentelemetry-api is installed (the ``otel`` extra), through the global
            providers; False: none; or a ``versive_client.otel.Telemetry`` with its own.
        webhook_secret: your webhook endpoint's ``whsec_...`` secret, for
            ``versive.webhooks.unwrap(body, headers)`` (the ``webhooks`` extra); defaults to
            ``$VERSIVE_WEBHOOK_SECRET``. Held as the API key is: never shown.

    .. versionadded:: 0.1.0
    .. versionchanged:: 0.2.0 `trust_env`, `max_connections` and `on_attempt`.
    .. versionchanged:: 0.3.0 `on_call` and `telemetry`.
    .. versionchanged:: 0.4.0 every operation of the API, as resource methods; `with_raw_response`.
    .. versionchanged:: 0.5.0 `http_client` keeps its settings; hooks that raise are logged, not raised.
    .. versionchanged:: 0.6.0 `webhook_secret`.
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
        webhook_secret: str | None = None,
    ) -> None:
        """Check every option, then set up the pool; nothing is sent until a call."""
        # The key is taken first, and this frame's local of it dropped: a traceback of a refused option,
        # rendered with its locals (as error trackers do), cannot show it.
        secret = Secret(os.environ.get(API_KEY_ENV), API_KEY_ENV) if api_key is None else Secret(api_key, "api_key")
        webhooks = Webhooks(webhook_secret)  # or $VERSIVE_WEBHOOK_SECRET; held as the key is
        del api_key, webhook_secret
        _configure_logging_from_env()
        url = _resolve_base_url(base_url, allow_insecure=allow_insecure)
        options = Options(timeout=timeout, max_retries=max_retries, deadline=deadline, retry_policy=retry_policy)
        extra = check_headers("default_headers", default_headers)
        # Telemetry first, so it is outermost: what the other observers do lies beneath its spans.
        observers = (*_telemetry(telemetry), *_observers(sleep, on_attempt, on_call))
        backend = _backend(http_backend, http_client, transport, url, trust_env=trust_env, pool=max_connections)
        if isinstance(http_client, httpx.AsyncClient) and timeout is DEFAULT_TIMEOUT:  # yours, unless you give one
            options = evolve(options, timeout=http_client.timeout)
        # The SDK's own pool has its gate (see _Gate); yours keeps its own limits.
        gate = _Gate(max_connections) if http_client is None and transport is None else None
        sender = Sender(backend, secret.check(), RetryBudget(), sleep, observers, gate)
        # Header names in lower case (HTTP compares them without case): a default header replaces the SDK's own.
        self._setup(url, sender, options, {"user-agent": USER_AGENT, **extra}, webhooks.check())

    def _setup(self, base_url: str, sender: Sender, options: Options, headers: dict[str, str], hooks: Webhooks) -> None:
        self._base_url = base_url
        self._webhooks = hooks
        self._sender = sender
        self._options = options
        self._headers = headers  # never the key: the sender's backend adds it as it sends
        self._caller = self  # what the resources call

    @functools.cached_property
    def with_raw_response(self) -> ResourcesWithRawResponse:
        """Every resource again, each method answering with the response as it came (a `RawResponse`).

        ::

            response = await versive.with_raw_response.interviews.get(interview_id)
            print(response.status_code, response.request_id, response.attempts)
            interview = response.parse()

        .. versionadded:: 0.4.0
        """
        # A caller whose call answers with the Response itself, which the raw resources' types say.
        return ResourcesWithRawResponse(cast("Caller", SimpleNamespace(call=self._call)))

    async def call(self, operation: Operation, arguments: Values, read: Read[T], options: Values) -> T:
        """The one call behind every resource method: check, send through the attempt loop, read the answer.

        Resource methods make it; call them instead (``versive.interviews.get(...)``).

        .. versionadded:: 0.4.0
        """
        return (await self._call(operation, arguments, read, options)).parse()

    async def _call(self, operation: Operation, arguments: Values, read: Read[T], options: Values) -> Response[T]:
        call_options = self._call_options(operation, options)
        key = _check_idempotency_key(options.get("idempotency_key"))
        request = build_request(operation, arguments, options, self._base_url, self._headers)
        answer = await self._sender.send(request, call_options, key, (operation.name, operation.path))
        parse = functools.partial(read_answer, answer, request, operation, read)
        return Response(answer.status_code, answer.headers, answer.attempt, answer.content, parse)

    def _call_options(self, operation: Operation, options: Values) -> Options:
        """This client's options with those the call gave, and the operation's own read timeout when it gave none."""
        given = {name: options.get(name, UNSET) for name in ("timeout", "max_retries", "deadline")}
        chosen = self._options.but(**given)
        read = chosen.timeout.read  # None: no limit, which no operation's own default shortens
        if given["timeout"] is UNSET and operation.read_timeout and read is not None and read < operation.read_timeout:
            return evolve(chosen, timeout=httpx.Timeout(**{**chosen.timeout.as_dict(), "read": operation.read_timeout}))
        return chosen

    def with_options(
        self,
        *,
        timeout: float | httpx.Timeout | Unset = UNSET,
        max_retries: int | Unset = UNSET,
        deadline: float | Unset | None = UNSET,
        retry_policy: RetryPolicy | Unset = UNSET,
        on_attempt: Sequence[Callable[[Attempt], object]] = (),
        on_call: Sequence[Callable[[Call], CallObserver | None]] = (),
    ) -> VersiveClient:
        """A client with other options that shares this one's pool, retry budget, hooks and telemetry.

        An option not given keeps this client's; ``deadline=None`` clears the deadline.
        `on_attempt` and `on_call` add hooks for the derived client's calls, after this client's.
        Closing it leaves this client open; closing this client closes it too.

        .. versionchanged:: 0.2.0 `on_attempt`.
        .. versionchanged:: 0.3.0 `on_call`.
        .. versionchanged:: 0.4.0 an option not given is `NOT_GIVEN`, so ``deadline=None`` clears it.
        """
        self._sender.check_open()
        sender = self._sender.derive(_observers(None, on_attempt, on_call))
        options = self._options.but(
            timeout=timeout, max_retries=max_retries, deadline=deadline, retry_policy=retry_policy
        )
        derived = object.__new__(VersiveClient)
        derived._setup(self._base_url, sender, options, self._headers, self._webhooks)
        return derived

    def __repr__(self) -> str:
        """Options only: the API key is never shown."""
        if not hasattr(self, "_options"):  # a constructor that refused an option, shown in a traceback's locals
            return "<VersiveClient (not set up)>"
        shown = f"max_retries={self._options.max_retries}, timeout={self._options.timeout!r}"
        return f"VersiveClient(base_url={self._base_url!r}, {shown}, deadline={self._options.deadline!r})"

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        return self._base_url

    @property
    def webhooks(self) -> Webhooks:
        """Webhook deliveries verified with this client's `webhook_secret`: ``versive.webhooks.unwrap(body, headers)``.

        .. versionadded:: 0.6.0
        """
        return self._webhooks

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


def _check_idempotency_key(key: object) -> str | None:
    if key is None:
        return None
    text = require("idempotency_key", key, str, "a string or None")
    if not text or len(text) > MAX_KEY_CHARS or unsendable(text, allow_space=False):
        raise ValueError(f"idempotency_key must be 1 to {MAX_KEY_CHARS} visible ASCII characters without spaces")
    return text


def _observers(sleep: object, on_attempt: object, on_call: object) -> list[Observe]:
    """The call observers `on_attempt` and `on_call` give (checked, as `sleep` is)."""
    if sleep is not None and not callable(sleep):
        raise TypeError(f"sleep must be a coroutine function or None, got {type(sleep).__name__}")
    if not isinstance(on_attempt, Sequence) or not all(callable(hook) for hook in on_attempt):
        raise TypeError("on_attempt must be a sequence of functions taking an Attempt")
    if not isinstance(on_call, Sequence) or not all(callable(hook) for hook in on_call):
        raise TypeError("on_call must be a sequence of functions taking a Call")
    for name, hooks in (("on_attempt", on_attempt), ("on_call", on_call)):
        if any(inspect.iscoroutinefunction(hook) for hook in hooks):  # one would never run, or never observe
            raise TypeError(f"{name} must be plain functions, not coroutine functions (wait_turn may await)")
    return [*on_call, AttemptHooks(tuple(on_attempt))] if on_attempt else list(on_call)


def _telemetry(telemetry: object) -> tuple[Observe, ...]:
    """`telemetry` as call observers: by default OpenTelemetry's, when opentelemetry-api is installed."""
    if isinstance(telemetry, bool):
        return _default_telemetry() if telemetry else ()
    from versive_client.otel import Telemetry  # noqa: PLC0415 - only when one is given

    return (require("telemetry", telemetry, Telemetry, "True, False or a versive_client.otel.Telemetry"),)


@functools.cache
def _default_telemetry() -> tuple[Observe, ...]:
    """One `Telemetry` on the global providers for every client, or none without opentelemetry-api.

    Imported at the first client, never by ``import versive_client``.
    """
    try:
        from versive_client.otel import Telemetry  # noqa: PLC0415 - an optional extra
    except ImportError as exc:
        if exc.name is None:  # installed, but too old: say so once, and go on untraced
            logger.warning("%s: clients are not traced (pip install 'versive-client[otel]')", exc)
        return ()
    return (Telemetry(),)


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
    return HttpxBackend(httpx.AsyncHTTPTransport(limits=limits, proxy=proxy, trust_env=trust))


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


def _configure_logging_from_env() -> None:
    """``VERSIVE_LOG=debug`` (or ``info``) sends the SDK's log lines to stderr, unless the logger has a handler."""
    level = os.environ.get(LOG_ENV, "").strip().upper()
    if level in {"DEBUG", "INFO"} and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(level)

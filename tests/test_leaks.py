"""The API key reaches no error tracker: every way a call fails, through every entry point, on both backends.

Error trackers do not print an exception with ``repr``: Sentry walks each frame's
locals, mappings and sequences item by item; rich and structlog pretty-print them the
same way. So each failure here is rendered by the trackers themselves (sentry-sdk with
its defaults and a transport that keeps the events, rich's traceback with
``show_locals``, structlog's dict tracebacks, ``logging.exception``, and
``traceback.TracebackException(capture_locals=True)``), and the text must hold neither
the key nor a piece of it. Each renderer must also show a known, harmless local of the
call (an id or a study id the test passed), so none of them can pass by showing nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import traceback
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import rich.console
import rich.scope
import rich.traceback
import sentry_sdk
import sentry_sdk.transport
import structlog.tracebacks
from conftest import ROOT, free_port

from versive_client import APIConnectionError, CallObserver, NotFoundError, RetryPolicy, VersiveClient
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator, MutableMapping
    from pathlib import Path

    from sentry_sdk.envelope import Envelope

    from versive_client import Attempt, Call

KEY = "vk_live_" + "S3cr3t" * 6
# Pieces of the key that give it away as surely as the whole: its end, and the header's start.
FRAGMENTS = (KEY, KEY[-16:], "Bearer " + KEY[:3])
MARKER = "study-visible-marker-42"
"""A harmless value every failing call holds in a local (its study id): each renderer must show it."""
OTHER_KEY = "someone-elses-key"


# -- what is looked for, and where it was found -------------------------------------------------------------


def assert_clean(text: str, renderer: str) -> None:
    """Fail if `text` holds the key or a piece of it, saying where (frame and local) it was found."""
    found = [fragment for fragment in FRAGMENTS if fragment in text]
    if found:
        places = "\n  ".join(_places(text)) or "(no frame could be named)"
        pytest.fail(f"{renderer} shows {found[0]!r}; found in:\n  {places}", pytrace=False)


def _places(text: str) -> list[str]:
    """Where in a rendering the key is: frame (function) and local, as precisely as the rendering says."""
    with contextlib.suppress(ValueError):
        return sorted(set(_json_places(json.loads(text), [], "")))
    places = []
    frame = "?"
    for line in text.splitlines():
        named = re.search(r'File "([^"]+)", line \d+, in (\S+)', line) or re.search(r"(\S+\.py):\d+ in (\S+)", line)
        if named:
            frame = f"{os.path.basename(named.group(1))}:{named.group(2)}"  # noqa: PTH119 - a path in a text
        if any(fragment in line for fragment in FRAGMENTS):
            places.append(f"{frame}: {line.strip()[:160]}")
    return sorted(set(places))


def _json_places(value: object, path: list[str], frame: str) -> Iterator[str]:
    """The paths to strings holding the key in a JSON rendering, labelled with the frame around them."""
    if isinstance(value, dict):
        if "function" in value or ("name" in value and "lineno" in value):
            where = value.get("module") or value.get("filename") or ""
            frame = f"{os.path.basename(str(where))}:{value.get('function') or value.get('name')}"  # noqa: PTH119
            path = []
        for key, item in value.items():
            yield from _json_places(item, [*path, str(key)], frame)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_places(item, [*path, f"[{index}]"], frame)
    elif isinstance(value, str) and any(fragment in value for fragment in FRAGMENTS):
        yield f"{frame or '(event)'}: {'.'.join(path)}"


# -- the renderers: an exception as each tracker records it ----------------------------------------------------


class _KeepingTransport(sentry_sdk.transport.Transport):
    """A Sentry transport that keeps each envelope instead of sending it."""

    def __init__(self) -> None:
        super().__init__()
        self.envelopes: list[Envelope] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)


def by_sentry(error: BaseException) -> str:
    """The events sentry-sdk would send for `error`, as JSON: its defaults (locals captured), no integrations."""
    transport = _KeepingTransport()
    client = sentry_sdk.Client(dsn="https://public@sentry.invalid/1", transport=transport, default_integrations=False)
    assert client.options["include_local_variables"], "the default: every frame's locals"
    try:
        with sentry_sdk.new_scope() as scope:
            scope.set_client(client)
            sentry_sdk.capture_exception(error)
        client.flush()
    finally:
        client.close()
    events = [envelope.get_event() for envelope in transport.envelopes]
    assert events, "sentry-sdk captured the exception"
    return json.dumps(events, default=str)


def by_rich(error: BaseException) -> str:
    """Rich's traceback with locals: every frame's locals panel, as ``Traceback(show_locals=True)`` prints it.

    The values are rich's own (its `Traceback` extracts them, as pretty-printed trees); each
    frame's panel is printed as the traceback prints it. The source excerpts beside them are
    left out: they show code, not values, and highlighting them costs a third of a second a
    traceback.
    """
    max_length, max_string = 1000, 10_000
    trace = rich.traceback.Traceback.from_exception(
        type(error),
        error,
        error.__traceback__,
        show_locals=True,
        locals_max_length=max_length,
        locals_max_string=max_string,
    ).trace
    output = io.StringIO()
    console = rich.console.Console(file=output, width=200, color_system=None, force_terminal=False)
    pending = list(trace.stacks)
    while pending:
        stack = pending.pop(0)
        console.print(f"{stack.exc_type}: {stack.exc_value}")
        for frame in stack.frames:
            title = f"{frame.filename}:{frame.lineno} in {frame.name}"
            scope = rich.scope.render_scope(
                frame.locals or {}, title=title, max_length=max_length, max_string=max_string
            )
            console.print(scope)
        pending += [stack for group in stack.exceptions for stack in group.stacks]
    return output.getvalue()


def by_structlog(error: BaseException) -> str:
    """Structlog's dict traceback with locals (what its ``dict_tracebacks`` processor logs), as JSON."""
    transform = structlog.tracebacks.ExceptionDictTransformer(
        show_locals=True, locals_max_length=1000, locals_max_string=10_000
    )
    return json.dumps(transform((type(error), error, error.__traceback__)), default=str)


def by_logging(error: BaseException) -> str:
    """``logging.exception`` through a handler with the standard formatter (no locals: the message and the stack)."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.Logger("tests.leaks")  # noqa: LOG001 - outside the logging tree: only this handler hears it
    logger.addHandler(handler)
    logger.exception("the call failed", exc_info=error)  # noqa: LOG004 - a failure held, as a bulk result's is
    return output.getvalue()


def by_traceback(error: BaseException) -> str:
    """``TracebackException(capture_locals=True)`` over every frame and the whole chain (cause, context)."""
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


RENDERERS: dict[str, Callable[[BaseException], str]] = {
    "sentry": by_sentry,
    "rich": by_rich,
    "structlog": by_structlog,
    "logging": by_logging,
    "traceback": by_traceback,
}


def render(renderer: str, error: BaseException, marker: str) -> str:
    """`error` rendered by `renderer`, which must show it, and the known local `marker` when it shows locals."""
    try:
        text = RENDERERS[renderer](error)
    except Exception as exc:  # noqa: BLE001 - a renderer that breaks on the error is a finding too
        pytest.fail(f"{renderer} could not render the error: {type(exc).__name__}: {exc}", pytrace=False)
    assert type(error).__name__ in text, f"{renderer} rendered the error"
    if renderer == "logging":
        assert "Traceback (most recent call last)" in text, "logging wrote the stack"
    else:
        assert marker in text, f"{renderer} showed the call's locals ({marker!r})"
    return text


class RedactingRepr(dict[str, str]):
    """A mapping whose repr hides its values, as the SDK's headers' does."""

    def __repr__(self) -> str:
        """No value shown."""
        return "RedactingRepr([secure])"


def _fails_holding(kind: type[dict[str, str]]) -> None:
    headers = kind(authorization=f"Bearer {KEY}")
    marker = MARKER
    raise RuntimeError(f"failed holding {len(headers)} headers ({marker})")


def _failure_holding(kind: type[dict[str, str]]) -> BaseException:
    try:
        _fails_holding(kind)
    except RuntimeError as exc:
        return exc
    pytest.fail("it did not fail")


@pytest.mark.parametrize(
    ("renderer", "walks_mappings"),
    [("sentry", True), ("rich", False), ("structlog", False), ("traceback", False)],
)
def test_each_renderer_shows_values_and_sentry_walks_past_a_redacting_repr(
    renderer: str, *, walks_mappings: bool
) -> None:
    """The renderers are what the tests rely on: each shows a local dict's values; Sentry ignores a redacting repr."""
    assert KEY in render(renderer, _failure_holding(dict), MARKER)
    assert (KEY in render(renderer, _failure_holding(RedactingRepr), MARKER)) is walks_mappings


# -- ways a call fails ------------------------------------------------------------------------------------------


HOOK_MARKER = "hook-visible-marker-7"
"""A harmless local of the hooks with a bug: what they raise is logged, not raised, and rendered from the log."""


def boom(attempt: Attempt) -> None:
    """An ``on_attempt`` hook with a bug."""
    note = HOOK_MARKER
    raise RuntimeError(f"the hook failed on attempt {attempt.number} ({len(note)})")


class FailingObserver(CallObserver):
    """An ``on_call`` observer with a bug: it raises as each attempt is about to be sent, the headers in hand."""

    def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:
        note = HOOK_MARKER
        raise RuntimeError(f"the observer failed before attempt {number} ({len(headers)} headers, {len(note)})")


def failing_observer(call: Call) -> CallObserver:
    """``on_call``: watch every call with a `FailingObserver`."""
    del call
    return FailingObserver()


MODES = [
    "refused",
    "read-timeout",
    "deadline",
    "500-after-retries",
    "401",
    "429-exhausted",
    "bad-argument",
    "not-json",
    "missing-field",
    "closed-client",
    "on-attempt-raises",
    "on-call-raises",
    "cancelled",
]
"""Every way a call can fail, each on both backends."""

FAULTS: dict[str, list[faults.Fault]] = {
    "read-timeout": [faults.Delay(5.0)],
    "deadline": [faults.Delay(5.0)],
    "500-after-retries": [faults.Status(500)] * 2,
    "429-exhausted": [faults.Status(429)] * 2,
    "not-json": [faults.NotJson()],
    "missing-field": [faults.MissingField("created_at")],
    "cancelled": [faults.Delay(5.0)],
}

OPTIONS: dict[str, dict[str, Any]] = {
    "read-timeout": {"timeout": 0.1, "max_retries": 0},
    "deadline": {"deadline": 0.2},
    "on-attempt-raises": {"on_attempt": [boom]},
    "on-call-raises": {"on_call": [failing_observer]},
}


async def create(client: VersiveClient, marker: str, *, bad: bool) -> object:
    """create_interview, with a language that is not a string when `bad`."""
    language: Any = 123 if bad else "English"
    return await client.create_interview(study_id=marker, language=language)


async def get(client: VersiveClient, marker: str, *, bad: bool) -> object:
    """A generic operation: interviews.get, with a header value that is not a string when `bad`."""
    extra_headers: Any = {"x-n": 1} if bad else None
    return await client.interviews.get(marker, extra_headers=extra_headers)


async def bulk(client: VersiveClient, marker: str, *, bad: bool) -> object:
    """One item through create_interviews: its result's error as it holds it (not raised again), or the run's own."""
    item: dict[str, Any] = {"study_id": marker, "language": 123 if bad else "English"}
    async with client.create_interviews([item], concurrency=1) as results:
        (result,) = [result async for result in results]
    return result.error or result.interview


ENTRIES: dict[str, Callable[..., Awaitable[object]]] = {"create": create, "get": get, "bulk": bulk}


async def failure_of(call: Callable[[], Awaitable[object]]) -> BaseException:
    """The exception `call` ends in, or answers with (a bulk result's error): it must fail."""
    try:
        answer = await call()
    except BaseException as exc:  # noqa: BLE001 - cancellation too: it is what is rendered
        return exc
    if isinstance(answer, BaseException):
        return answer
    pytest.fail("the call succeeded")


async def cancelled_midway(call: Callable[[], Awaitable[object]], fake: FakeVersive) -> BaseException:
    """The cancellation `call` ends in when its task is cancelled while the request waits for an answer."""
    caught: list[BaseException] = []

    async def run() -> None:
        try:
            await call()
        except BaseException as exc:
            caught.append(exc)
            raise

    sent = len(fake.requests)
    task = asyncio.create_task(run())
    for _ in range(500):
        if len(fake.requests) > sent:
            break
        await asyncio.sleep(0.01)
    assert len(fake.requests) > sent, "the request reached the fake"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert caught, "the call was cancelled"
    return caught[0]


_MADE: dict[tuple[str, str, str], tuple[BaseException, str]] = {}
"""Each failure, made once (a loopback server and a client) and rendered by every renderer's test."""


async def failed_call(entry: str, mode: str, backend: str) -> tuple[BaseException, str]:
    """The exception a call through `entry` ends in when it fails by `mode` on `backend`, and a local it holds."""
    case = (entry, mode, backend)
    if case not in _MADE:
        _MADE[case] = await _fail(entry, mode, backend)
    return _MADE[case]


async def _fail(entry: str, mode: str, backend: str) -> tuple[BaseException, str]:
    fake_key = OTHER_KEY if mode == "401" else KEY
    fake = FakeVersive(api_key=fake_key)
    async with fake.serve() as served:
        marker = MARKER
        if entry == "get":  # an interview that exists, for the faults that act on the API's answer
            async with VersiveClient(fake_key, base_url=served, telemetry=False) as setup:
                marker = (await setup.create_interview(study_id=MARKER)).id
        base_url = f"http://127.0.0.1:{free_port()}" if mode == "refused" else served
        options: dict[str, Any] = {"max_retries": 1, "retry_policy": RetryPolicy.no_wait(), **OPTIONS.get(mode, {})}
        fake.faults.queue(*FAULTS.get(mode, []))
        client = VersiveClient(KEY, base_url=base_url, http_backend=backend, **options)
        try:
            if mode == "closed-client":
                await client.aclose()
            call = _bound(ENTRIES[entry], client, marker, bad=mode == "bad-argument")
            if mode in {"on-attempt-raises", "on-call-raises"}:
                return await logged_failure(call), HOOK_MARKER
            error = await (cancelled_midway(call, fake) if mode == "cancelled" else failure_of(call))
        finally:
            await client.aclose()
    return error, marker


async def logged_failure(call: Callable[[], Awaitable[object]]) -> BaseException:
    """What a hook with a bug raised, as the SDK logged it: the call itself goes on and succeeds."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.handle = records.append  # type: ignore[method-assign,assignment]
    logger = logging.getLogger("versive_client")
    logger.addHandler(handler)
    try:
        answer = await call()
    finally:
        logger.removeHandler(handler)
    assert not isinstance(answer, BaseException), "the hook's bug did not fail the call"
    [exc_info] = [record.exc_info for record in records if record.exc_info]
    assert exc_info[1] is not None
    return exc_info[1]


def _bound(
    entry: Callable[..., Awaitable[object]], client: VersiveClient, marker: str, *, bad: bool
) -> Callable[[], Awaitable[object]]:
    async def call() -> object:
        return await entry(client, marker, bad=bad)

    return call


# -- the tests -------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["httpx", "aiohttp"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("renderer", list(RENDERERS))
async def test_a_failed_call_holds_the_key_out_of_every_tracker(
    renderer: str, entry: str, mode: str, backend: str
) -> None:
    """A call that fails, rendered by a real error tracker with every frame's locals: no key, no piece of it."""
    error, marker = await failed_call(entry, mode, backend)
    assert_clean(render(renderer, error, marker), renderer)


MALFORMED = KEY[:20] + " " + KEY[20:]
"""The key with a space pasted into it: refused, and still the key (its last 16 characters are whole)."""


def refused_construction(mode: str, monkeypatch: pytest.MonkeyPatch) -> BaseException:
    """The exception ``VersiveClient(...)`` raises for `mode`, the key given as an argument or in the environment."""
    base_url = f"http://127.0.0.1:{free_port()}"
    shown = {"x-marker": MARKER}  # a local of the constructor's frame, for the renderers to show
    try:
        if mode == "malformed-key":
            VersiveClient(MALFORMED, base_url=base_url, default_headers=shown)
        elif mode == "malformed-key-from-env":
            monkeypatch.setenv("VERSIVE_API_KEY", MALFORMED)
            VersiveClient(base_url=base_url, default_headers=shown)
        elif mode == "bad-option":
            VersiveClient(KEY, base_url=base_url, default_headers=shown, http_backend="curl")
        else:
            VersiveClient(KEY, base_url="http://api.example.com", default_headers=shown)
    except (TypeError, ValueError) as exc:
        return exc
    pytest.fail("the client was made")


@pytest.mark.parametrize("mode", ["malformed-key", "malformed-key-from-env", "bad-option", "insecure-base-url"])
@pytest.mark.parametrize("renderer", list(RENDERERS))
def test_a_refused_construction_holds_the_key_out_of_every_tracker(
    renderer: str, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client refused at construction (its key, or another option, is wrong): no tracker shows the key."""
    monkeypatch.delenv("VERSIVE_API_KEY", raising=False)
    error = refused_construction(mode, monkeypatch)
    assert_clean(render(renderer, error, MARKER), renderer)


# -- the command, with --debug ----------------------------------------------------------------------------------

COMMANDS = {
    "create": ["interviews", "create", "--study-id", MARKER],
    "get": ["interviews", "get", "interview-" + MARKER],
    "create-batch": ["interviews", "create-batch", "{participants}", "--study-id", MARKER, "--out", "{out}"],
}
CLI_CASES = [
    ("create", "refused"),
    ("get", "refused"),
    ("create", "500-after-retries"),
    ("get", "500-after-retries"),
    ("create-batch", "500-after-retries"),
    ("create", "401"),
    ("get", "401"),
    ("create-batch", "401"),
    ("create", "malformed-key"),
]


@contextlib.contextmanager
def cli_target(mode: str) -> Iterator[str]:
    """The base URL the command talks to in `mode`: a closed port, or a fake that fails every request."""
    if mode == "refused":
        yield f"http://127.0.0.1:{free_port()}"
        return
    fake = FakeVersive(api_key=OTHER_KEY if mode == "401" else KEY)
    if mode == "500-after-retries":  # Retry-After: 0, so the command's retries do not wait
        fake.faults.add_rule(faults.Status(500, retry_after=0), probability=1.0)
    with fake.serve_in_thread() as base_url:
        yield base_url


@pytest.mark.parametrize(("command", "mode"), CLI_CASES)
def test_the_command_with_debug_holds_the_key_out_of_its_output(command: str, mode: str, tmp_path: Path) -> None:
    """``versive --debug ...`` failing (DEBUG logs of every library, the traceback): no key in what it writes."""
    participants, out = tmp_path / "participants.csv", tmp_path / "results.csv"
    participants.write_text("participant_id\np-1\n", encoding="utf-8")
    args = [arg.format(participants=participants, out=out) for arg in COMMANDS[command]]
    with cli_target(mode) as base_url:
        env = {name: value for name, value in os.environ.items() if not name.startswith("VERSIVE_")}
        env.update(
            VERSIVE_API_KEY=MALFORMED if mode == "malformed-key" else KEY,
            VERSIVE_BASE_URL=base_url,
            PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        )
        result = subprocess.run(
            [sys.executable, "-m", "versive_client", "--debug", *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=60,
        )
    written = result.stdout + result.stderr + (out.read_text(encoding="utf-8") if out.exists() else "")
    assert result.returncode != 0, written
    if command != "create-batch":  # a batch reports each row's failure in its results file
        assert "Traceback (most recent call last)" in result.stderr, "--debug showed the traceback"
    assert "error" in written
    assert_clean(written, "versive --debug")


def test_the_key_cannot_be_pickled_or_copied_out() -> None:
    """What holds the key refuses pickling (a process pool, a cache) and copying, saying so without the key."""
    import copy  # noqa: PLC0415
    import pickle  # noqa: PLC0415

    client = VersiveClient(KEY, base_url="https://api.versive.test")
    secret = client._sender.secret  # noqa: SLF001 - the one object that holds the key
    with pytest.raises(TypeError, match="cannot be pickled or copied") as caught:
        pickle.dumps(secret)
    assert_clean(str(caught.value), "message")
    for attempt in (copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            attempt(secret)
    with pytest.raises(TypeError) as whole:  # whichever part of the client refuses first
        pickle.dumps(client)
    assert_clean(str(whole.value), "message")


@pytest.mark.asyncio
@pytest.mark.parametrize("backend", ["httpx", "aiohttp", "http_client"])
async def test_the_callers_own_exception_keeps_its_traceback(backend: str) -> None:
    """A call made while the application handles its own exception leaves that exception's stack alone.

    Only what the HTTP library raised loses its frames; the application's bug keeps its own.
    """

    def process() -> None:
        raise ValueError("the application's own bug")

    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Reset())
    async with fake.serve() as base_url, httpx.AsyncClient() as http:
        options: dict[str, Any] = {"http_client": http} if backend == "http_client" else {"http_backend": backend}
        client = VersiveClient(KEY, base_url=base_url, retry_policy=RetryPolicy.no_wait(), telemetry=False, **options)
        async with client:
            try:
                process()
            except ValueError as exc:
                await client.create_interview(study_id=MARKER)  # a reset, then a retry that works
                caught = exc
    assert "process" in [frame.name for frame in traceback.extract_tb(caught.__traceback__)]


@pytest.mark.asyncio
async def test_your_http_clients_errors_hold_no_request_with_the_key() -> None:
    """With http_client=, httpx's exceptions carry the request (the key in its headers): it is let go."""
    async with httpx.AsyncClient() as http:
        client = VersiveClient(KEY, base_url=f"http://127.0.0.1:{free_port()}", http_client=http, max_retries=0)
        async with client:
            with pytest.raises(APIConnectionError) as caught:
                await client.create_interview(study_id=MARKER)
    pending: list[BaseException | None] = [caught.value]
    while pending:
        current = pending.pop()
        if isinstance(current, httpx.HTTPError):
            with pytest.raises(RuntimeError):
                current.request  # noqa: B018 - httpx raises when the exception holds no request
        if current is not None:
            pending += [current.__cause__, current.__context__]


@pytest.mark.asyncio
async def test_a_raise_for_status_hook_on_your_http_client_keeps_status_errors_typed() -> None:
    """A common event hook, ``response.raise_for_status()``: a 503 is still retried, a 404 still a NotFoundError."""
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503))

    async def raise_for_status(response: httpx.Response) -> None:
        response.raise_for_status()

    async with httpx.AsyncClient(transport=fake.transport(), event_hooks={"response": [raise_for_status]}) as http:
        options: dict[str, Any] = {"http_client": http, "retry_policy": RetryPolicy.no_wait()}
        async with VersiveClient(KEY, base_url="https://api.versive.test", **options) as client:
            interview = await client.create_interview(study_id=MARKER)
            with pytest.raises(NotFoundError):
                await client.interviews.get("no-such-interview")
    assert interview.study_id == MARKER
    assert [request.status for request in fake.requests] == [503, 200, 404]

"""VersiveClient: configuration, bad input, secrets, logging and lifecycle."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import logging
import platform
import re
import sys
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest
import trustme
from conftest import KEY, PATH, ForwardProxy, Harness, TlsInFront, _LoopbackServer, _pipe

from versive_client import (
    APIConnectionError,
    APITimeoutError,
    Attempt,
    AuthenticationError,
    Call,
    CallObserver,
    InternalServerError,
    RetryPolicy,
    UnprocessableEntityError,
    VersiveClient,
    VersiveError,
    __version__,
)
from versive_client._client import _environment_proxy
from versive_client.models import Interview
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from pathlib import Path

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VERSIVE_* variable from the machine leaks into a test."""
    for name in ("VERSIVE_API_KEY", "VERSIVE_BASE_URL", "VERSIVE_LOG"):
        monkeypatch.delenv(name, raising=False)


async def test_the_quickstart_shape(harness: Harness) -> None:
    """create_interview takes plain values and returns the generated Interview."""
    client = harness.client()
    interview = await client.create_interview(
        study_id="study_123", title="Onboarding", metadata={"participant_id": "p-42"}, language="English"
    )
    assert isinstance(interview, Interview)
    assert interview.study_id == "study_123"
    assert interview.title == "Onboarding"
    assert interview.link.startswith("https://getversive.com/s/study_123?vid=")
    assert interview.created_at.tzinfo is not None
    (request,) = harness.fake.requests
    assert request.body == {
        "study_id": "study_123",
        "language": "English",
        "title": "Onboarding",
        "metadata": {"participant_id": "p-42"},
    }


async def test_the_key_and_base_url_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    """VERSIVE_API_KEY and VERSIVE_BASE_URL are used when no argument is given."""
    fake = FakeVersive(api_key="env-key")
    async with fake.serve() as base_url:
        monkeypatch.setenv("VERSIVE_API_KEY", "env-key")
        monkeypatch.setenv("VERSIVE_BASE_URL", base_url)
        async with VersiveClient(http_backend=backend) as client:
            assert client.base_url == base_url
            await client.create_interview(study_id="study_1")
    assert len(fake.interviews) == 1


async def test_the_default_base_url() -> None:
    """Without argument or environment the client talks to the production API over https."""
    async with VersiveClient("k") as client:
        assert client.base_url == "https://api.getversive.com"


async def test_no_key_is_an_error_at_construction() -> None:
    """Without api_key or VERSIVE_API_KEY the constructor says how to give one."""
    with pytest.raises(ValueError, match=r"no API key: pass api_key=\.\.\. or set VERSIVE_API_KEY"):
        VersiveClient()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"api_key": "  "}, ValueError, "api_key is empty"),
        ({"api_key": 123}, TypeError, "api_key must be a string"),
        ({"api_key": "k\nX-Injected: 1"}, ValueError, "api_key has a control character at position 2, which cannot"),
        ({"api_key": "sk-caf\u00e9"}, ValueError, "api_key has a non-ASCII character at position 7, which cannot be"),
        ({"api_key": "sk 1"}, ValueError, "api_key has a space at position 3, which cannot be sent in an HTTP header"),
        ({"trust_env": "yes"}, TypeError, "trust_env must be True or False, got str"),
        ({"max_connections": 0}, ValueError, "max_connections must be an int >= 1, got 0"),
        ({"sleep": 5}, TypeError, "sleep must be a coroutine function or None, got int"),
        ({"on_attempt": print}, TypeError, "on_attempt must be a sequence of functions taking an Attempt"),
        ({"on_attempt": [1]}, TypeError, "on_attempt must be a sequence of functions taking an Attempt"),
        ({"http_backend": "curl"}, ValueError, "http_backend must be one of httpx, aiohttp, got 'curl'"),
        ({"base_url": "http://api.example.com"}, ValueError, "plain http to api.example.com"),
        ({"base_url": "ftp://example.com"}, ValueError, "base_url must be an http(s) URL"),
        ({"base_url": "not a url"}, ValueError, "base_url must be an http(s) URL"),
        ({"timeout": 0}, ValueError, "timeout must be > 0"),
        ({"timeout": "30"}, TypeError, "timeout must be a number of seconds or an httpx.Timeout"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0"),
        ({"max_retries": True}, TypeError, "max_retries must be an int"),
        ({"deadline": 0}, ValueError, "deadline must be > 0"),
        ({"retry_policy": {"backoff_max": 1}}, TypeError, "retry_policy must be a RetryPolicy"),
        ({"http_client": object()}, TypeError, "http_client must be an httpx.AsyncClient"),
        ({"transport": object()}, TypeError, "transport must be an httpx.AsyncBaseTransport"),
    ],
)
async def test_bad_options_are_refused_naming_them(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Each bad option fails at construction with a message naming it."""
    kwargs.setdefault("api_key", "k")
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        VersiveClient(**kwargs)


async def test_http_client_and_transport_together_are_refused() -> None:
    """Only one way to send may be given."""
    async with httpx.AsyncClient() as own:
        with pytest.raises(ValueError, match="pass http_client or transport, not both"):
            VersiveClient("k", http_client=own, transport=httpx.AsyncHTTPTransport())


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"])
async def test_plain_http_is_allowed_on_loopback(url: str) -> None:
    """Loopback needs no TLS: the fake and local tools work over plain http."""
    async with VersiveClient("k", base_url=url) as client:
        assert client.base_url == url


async def test_plain_http_elsewhere_needs_an_explicit_opt_in() -> None:
    """allow_insecure=True lets a non-loopback http URL through."""
    async with VersiveClient("k", base_url="http://versive.internal/", allow_insecure=True) as client:
        assert client.base_url == "http://versive.internal"


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"study_id": ""}, ValueError, "study_id must not be empty"),
        ({"study_id": 5}, TypeError, "study_id must be a string, got int"),
        ({"study_id": "s", "title": 1}, TypeError, "title must be a string or None, got int"),
        ({"study_id": "s", "language": None}, TypeError, "language must be a string, got NoneType"),
        ({"study_id": " "}, ValueError, "study_id must not be empty"),
        ({"study_id": "s", "metadata": [("a", 1)]}, TypeError, "metadata must be a mapping"),
        ({"study_id": "s", "metadata": {1: "a"}}, TypeError, "metadata keys must be strings, got int 1"),
        ({"study_id": "s", "metadata": {"when": object()}}, ValueError, "metadata\\['when'\\] cannot be sent as JSON"),
        ({"study_id": "s", "metadata": {"x": float("nan")}}, ValueError, "metadata\\['x'\\] cannot be sent as JSON"),
        ({"study_id": "s", "idempotency_key": ""}, ValueError, "idempotency_key must be 1 to 255 visible ASCII"),
        ({"study_id": "s", "idempotency_key": "a b"}, ValueError, "idempotency_key must be 1 to 255 visible ASCII"),
        ({"study_id": "s", "idempotency_key": 7}, TypeError, "idempotency_key must be a string or None"),
        ({"study_id": "s", "timeout": -1}, ValueError, "timeout must be > 0"),
        ({"study_id": "s", "max_retries": -2}, ValueError, "max_retries must be >= 0"),
        ({"study_id": "s", "deadline": "soon"}, TypeError, "deadline must be a number of seconds or None"),
    ],
)
async def test_bad_arguments_are_refused_before_any_request(
    harness: Harness, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Bad input to create_interview names the argument, and nothing reaches the API."""
    with pytest.raises(error, match=message):
        await harness.client().create_interview(**kwargs)
    assert harness.fake.requests == []


async def test_what_a_call_sends_is_fixed_when_the_call_is_made(harness: Harness) -> None:
    """The caller's metadata (lists in it too) changed during a call, before an attempt or a retry: the same is sent."""
    original: dict[str, Any] = {"participant_id": "p-1", "tags": ["a"], "answers": {"q1": [1, 2]}}
    metadata = copy.deepcopy(original)
    changes: list[str] = []

    def meddle(when: str) -> None:
        """What a caller sharing its objects with other tasks may do while the call runs."""
        changes.append(when)
        metadata["participant_id"] = when
        metadata["tags"].append(when)
        metadata["answers"]["q1"].append(when)
        metadata[when] = True

    class Meddler(CallObserver):
        def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:  # noqa: ARG002
            meddle(f"before attempt {number}")

        def after_attempt(self, attempt: Attempt) -> None:
            meddle(f"after attempt {attempt.number}")

    def observe(_call: Call) -> CallObserver:
        meddle("call started")
        return Meddler()

    async def sleep(_seconds: float) -> None:  # the wait between the failed attempt and its retry
        meddle("waiting to retry")

    harness.fake.faults.queue(faults.Status(503))
    client = harness.client(on_call=[observe], sleep=sleep)
    interview = await client.create_interview(study_id="s", metadata=metadata)

    assert changes == [
        "call started",
        "before attempt 1",
        "after attempt 1",
        "waiting to retry",
        "before attempt 2",
        "after attempt 2",
    ]
    failed, retried = harness.fake.requests
    assert (failed.status, retried.status) == (503, 200)
    assert failed.body == retried.body == {"study_id": "s", "metadata": original}
    assert interview.to_dict()["metadata"] == original


async def test_every_method_goes_through_the_attempt_loop(harness: Harness) -> None:
    """A resource method gets the loop's retries, one idempotency key and typed errors, as create_interview does."""
    harness.fake.faults.queue(faults.Status(503), faults.Reset())
    client = harness.client()
    response = await client.with_raw_response.interviews.create(study_id="study_9")
    assert isinstance(response.parse(), Interview)
    assert response.attempts == 3
    assert len(harness.fake.requests) == 3
    assert len({r.idempotency_key for r in harness.fake.requests}) == 1

    with pytest.raises(UnprocessableEntityError) as caught:  # a field the client would refuse, sent as extra_body
        await client.interviews.create(study_id="s", extra_body={"study_id": 5})
    assert caught.value.errors[0]["loc"] == ["body", "study_id"]


async def test_nothing_a_user_can_reach_holds_an_http_client(harness: Harness) -> None:
    """No attribute of a client, its resources or raw resources is an HTTP client that could send around the loop."""
    client = harness.client()
    seen: set[int] = set()
    pending: list[object] = [client, client.with_raw_response, client.with_options(max_retries=1)]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        assert not isinstance(current, httpx.AsyncClient | httpx.Client | httpx.AsyncBaseTransport)
        for name in dir(current):
            if not name.startswith("_"):
                value = getattr(current, name)
                if not isinstance(value, str | int | float | type(None)) and not callable(value):
                    pending.append(value)
    assert not hasattr(client, "generated_client")
    assert len(seen) >= 12  # the client, with_raw_response, the derived client, and each one's resources


async def test_the_user_agent_names_the_sdk_python_and_httpx(harness: Harness) -> None:
    """User-Agent: versive-client/<version> Python/<version> httpx/<version>."""
    await harness.client().create_interview(study_id="s")
    assert harness.fake.requests[0].headers["user-agent"] == (
        f"versive-client/{__version__} Python/{platform.python_version()} httpx/{httpx.__version__}"
    )


async def test_default_headers_are_sent(harness: Harness) -> None:
    """default_headers reach every request."""
    await harness.client(default_headers={"X-Team": "research-ops"}).create_interview(study_id="s")
    assert harness.fake.requests[0].headers["x-team"] == "research-ops"


async def test_with_options_changes_what_it_is_given_and_keeps_the_rest(harness: Harness) -> None:
    """A derived client retries, waits, times out and has the deadline it is told, on its parent's key and URL."""
    calls: list[Call] = []
    client = harness.client(max_retries=2, on_call=[calls.append])
    derived = client.with_options(
        max_retries=5, timeout=httpx.Timeout(5.0, read=0.1), deadline=60, retry_policy=RetryPolicy.no_wait()
    )
    assert derived.base_url == client.base_url

    harness.fake.faults.queue(*[faults.Status(503)] * 5)
    response = await derived.with_raw_response.interviews.create(study_id="derived")
    assert response.attempts == 6, "max_retries=5; and the fake, which checks the key, answered the last"
    assert harness.sleeps == [], "no_wait"
    harness.fake.faults.queue(faults.Delay(1.0))
    with pytest.raises(APITimeoutError, match="timed out"):  # the derived client's read timeout, 0.1 s
        await derived.create_interview(study_id="derived", max_retries=0)

    harness.fake.faults.queue(faults.Delay(0.3), *[faults.Status(503)] * 3)
    assert (await client.create_interview(study_id="parent")).study_id == "parent", "its read timeout is 30 s"
    with pytest.raises(InternalServerError) as caught:
        await client.create_interview(study_id="parent")
    assert caught.value.attempts == 3
    assert len(harness.sleeps) == 2, "the parent's policy waits"
    assert [(call.max_retries, call.deadline) for call in calls] == [(5, 60.0), (0, 60.0), (2, None), (2, None)]
    assert {request.path for request in harness.fake.requests} == {PATH}


class CountingRelay(_LoopbackServer):
    """A loopback relay to `base_url` that counts the TCP connections clients open through it."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._target = urlsplit(base_url)
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        upstream_reader, upstream_writer = await asyncio.open_connection(self._target.hostname, self._target.port)
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def test_with_options_derives_a_client_sharing_the_pool(backend: str) -> None:
    """A derived client sends on its parent's connections: one kept alive serves both, and a busy one makes it wait."""
    fake = FakeVersive(api_key="k")
    async with fake.serve() as base_url:
        relay = CountingRelay(base_url)
        async with (
            relay as relay_url,
            VersiveClient("k", base_url=relay_url, http_backend=backend, max_connections=1, max_retries=0) as client,
        ):
            derived = client.with_options(timeout=httpx.Timeout(10.0, pool=0.1))
            await client.create_interview(study_id="parent")
            await derived.create_interview(study_id="derived")
            assert relay.connections == 1, "the derived client's call went on the parent's kept-alive connection"

            fake.faults.queue(faults.Delay(1.5))
            holding = asyncio.create_task(client.create_interview(study_id="holding"))
            while len(fake.requests) < 3:  # noqa: ASYNC110 - the fake runs in its own thread
                await asyncio.sleep(0.01)
            with pytest.raises(APITimeoutError, match="timed out"):  # waited its pool timeout for the one connection
                await derived.create_interview(study_id="waiting")
            assert not holding.done(), "the derived call gave up while the parent's still held the connection"
            assert (await holding).study_id == "holding"
    assert [request.body["study_id"] for request in fake.requests] == ["parent", "derived", "holding"]
    assert relay.connections == 1


async def test_closed_clients_refuse_calls(harness: Harness) -> None:
    """After aclose() a call fails instead of hanging."""
    client = harness.client()
    await client.aclose()
    with pytest.raises(RuntimeError, match="this VersiveClient is closed"):
        await client.create_interview(study_id="s")
    assert harness.fake.requests == []


async def test_secrets_never_appear_in_output(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """The key is in no repr, str, log line (DEBUG, faults firing), error message or traceback."""
    secret = KEY
    caplog.set_level(logging.DEBUG)
    harness.fake.faults.queue(faults.Status(503, retry_after=1), faults.Reset(), faults.CloseMidBody())
    client = harness.client(max_retries=3)
    interview = await client.create_interview(study_id="s", metadata={"p": 1})

    texts = [repr(client), str(client), repr(client.with_raw_response), repr(interview), repr(harness.fake.requests)]
    harness.fake.faults.queue(*[faults.HtmlBadGateway()] * 4)
    with pytest.raises(VersiveError) as caught:
        await client.create_interview(study_id="s")
    texts += [str(caught.value), repr(caught.value), "".join(traceback.format_exception(caught.value))]
    # Tracebacks with locals, as error trackers capture them (from below this test's own
    # frame, which holds the key), and the client's attributes.
    error = caught.value
    assert error.__traceback__ is not None
    below = traceback.TracebackException(type(error), error, error.__traceback__.tb_next, capture_locals=True)
    texts += ["".join(below.format())]
    texts += [repr(vars(client))]
    wrong = harness.client("wrong-" + secret)
    with pytest.raises(AuthenticationError) as denied:
        await wrong.create_interview(study_id="s")
    texts += [str(denied.value), "".join(traceback.format_exception(denied.value)), repr(wrong)]
    texts += [record.getMessage() for record in caplog.records]

    assert any("retrying in" in text for text in texts), "DEBUG lines were captured"
    for text in texts:
        assert secret not in text


async def test_one_debug_line_per_attempt(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Each failed attempt logs method, path, status, attempt and delay at DEBUG under versive_client."""
    caplog.set_level(logging.DEBUG, logger="versive_client")
    harness.fake.faults.queue(faults.Status(503, retry_after=2))
    await harness.client().create_interview(study_id="s")
    messages = [r.getMessage() for r in caplog.records if r.name == "versive_client"]
    assert "POST /api/v1/interviews -> 503 (attempt 1, retrying in 2.00s)" in messages
    assert "POST /api/v1/interviews -> 200 (attempt 2)" in messages


async def test_versive_log_debug_turns_on_a_stderr_handler() -> None:
    """VERSIVE_LOG=debug prints the SDK's log lines on stderr, without the key."""
    code = (
        "import asyncio\n"
        "from versive_client import VersiveClient\n"
        "from versive_client.testing import FakeVersive, faults\n"
        "async def main():\n"
        "    fake = FakeVersive(api_key='env-secret')\n"
        "    fake.faults.queue(faults.Status(503))\n"
        "    async with VersiveClient('env-secret', base_url='https://x.test', transport=fake.transport()) as c:\n"
        "        await c.create_interview(study_id='s')\n"
        "asyncio.run(main())\n"
    )
    result = await anyio.run_process(
        [sys.executable, "-c", code], check=True, env={"VERSIVE_LOG": "debug", "PATH": "/usr/bin:/bin"}
    )
    stderr, stdout = result.stderr.decode(), result.stdout.decode()
    assert "versive_client DEBUG POST /api/v1/interviews -> 503 (attempt 1, retrying in" in stderr
    assert "env-secret" not in stderr + stdout


async def test_the_error_hierarchy_is_catchable_as_versive_error(harness: Harness) -> None:
    """Every failure is a VersiveError; connection failures are APIConnectionError."""
    harness.fake.faults.queue(*[faults.Reset()] * 3)
    with pytest.raises(VersiveError) as caught:
        await harness.client().create_interview(study_id="s")
    assert isinstance(caught.value, APIConnectionError)
    assert caught.value.method == "POST"
    assert caught.value.url is not None
    assert caught.value.url.endswith(PATH)


async def test_a_request_id_is_kept_on_status_errors() -> None:
    """x-request-id from the server is on the error."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "Not Found"}, headers={"x-request-id": "req-123"})

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(VersiveError) as caught:
            await client.create_interview(study_id="s")
    assert getattr(caught.value, "request_id", None) == "req-123"
    assert getattr(caught.value, "body", None) == {"detail": "Not Found"}


async def test_a_success_without_the_body_it_documents_is_a_validation_error() -> None:
    """A 204 where the spec documents the created interview is reported, not returned as None."""

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(VersiveError, match="answered 204 without a body"):
            await client.create_interview(study_id="s")


async def test_a_body_with_a_wrong_date_is_a_validation_error() -> None:
    """A created_at that is not ISO 8601 is reported as a body the SDK cannot read."""
    body = {
        "id": "i",
        "study_id": "s",
        "link": "https://x",
        "status": "open",
        "created_at": "yesterday",
    }

    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode(), headers={"content-type": "application/json"})

    async with VersiveClient("k", base_url="https://x.test", transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(VersiveError, match="with a body that does not match the spec"):
            await client.create_interview(study_id="s")


async def test_a_default_header_replaces_the_sdks_own_whatever_its_case(harness: Harness) -> None:
    """default_headers={"user-agent": ...} replaces the SDK's User-Agent instead of sending two."""
    await harness.client(default_headers={"user-agent": "panel-tool/2.0"}).create_interview(study_id="s")
    assert harness.fake.requests[0].headers["user-agent"] == "panel-tool/2.0"


@pytest.mark.parametrize("name", ["Idempotency-Key", "x-versive-retry-count"])
async def test_default_headers_cannot_fix_what_each_call_sets(name: str) -> None:
    """A default Idempotency-Key would make every create after the first a replay: refused, named."""
    with pytest.raises(ValueError, match=f"default_headers must not set {name}: each call sends its own"):
        VersiveClient("k", base_url="https://x.test", default_headers={name: "fixed"})


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("X-Team", "a")], "default_headers must be a mapping of strings, got list"),
        ({"X-Team": 7}, "default_headers\\['X-Team'\\] must be a string, got int"),
        ({7: "a"}, "default_headers names must be strings, got int"),
    ],
)
async def test_default_headers_must_be_strings(headers: object, message: str) -> None:
    """Headers that httpx and aiohttp would each take differently are refused up front."""
    with pytest.raises(TypeError, match=message):
        VersiveClient("k", base_url="https://x.test", default_headers=headers)  # type: ignore[arg-type]


async def test_a_body_that_cannot_be_encoded_is_refused_before_sending(harness: Harness) -> None:
    """A title with a lone surrogate cannot be UTF-8: ValueError, nothing sent."""
    with pytest.raises(ValueError, match="title cannot be sent as JSON: 'utf-8' codec can't encode"):
        await harness.client().create_interview(study_id="s", title="broken \ud800")
    assert harness.fake.requests == []


PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy variable from the machine; the test sets its own."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_calls_go_through_the_proxy_the_environment_names(
    no_proxy_variables: pytest.MonkeyPatch, backend: str, variable: str
) -> None:
    """HTTP_PROXY (any case), or ALL_PROXY: every request goes through it, with the URL's credentials."""
    fake = FakeVersive(api_key="k")
    proxy = ForwardProxy()
    async with fake.serve() as base_url, proxy as proxy_url:
        no_proxy_variables.setenv(variable, proxy_url.replace("http://", "http://ops:s%40cret@"))
        async with VersiveClient("k", base_url=base_url, http_backend=backend) as client:
            await client.create_interview(study_id="s")
            await client.with_raw_response.interviews.create(study_id="g")
    assert proxy.seen == [f"POST {base_url}{PATH}"] * 2
    assert proxy.credentials == ["Basic " + base64.b64encode(b"ops:s@cret").decode()] * 2
    assert len(fake.interviews) == 2


@pytest.mark.parametrize(
    ("variables", "trust_env"),
    [
        ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1"}, True),
        ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "example.com, *"}, True),
        ({"HTTPS_PROXY": "{proxy}"}, True),
        ({"HTTP_PROXY": "{proxy}"}, False),
    ],
    ids=["no_proxy-host", "no_proxy-star", "https-proxy-only", "trust_env-false"],
)
async def test_no_proxy_the_scheme_and_trust_env_keep_calls_direct(
    no_proxy_variables: pytest.MonkeyPatch, backend: str, variables: dict[str, str], *, trust_env: bool
) -> None:
    """A host in NO_PROXY (or "*"), a proxy for the other scheme, or trust_env=False: nothing reaches the proxy."""
    fake = FakeVersive(api_key="k")
    proxy = ForwardProxy()
    async with fake.serve() as base_url, proxy as proxy_url:
        for name, value in variables.items():
            no_proxy_variables.setenv(name, value.format(proxy=proxy_url))
        async with VersiveClient("k", base_url=base_url, http_backend=backend, trust_env=trust_env) as client:
            await client.create_interview(study_id="s")
    assert proxy.seen == []
    assert len(fake.interviews) == 1


async def test_https_goes_through_the_proxy_tunnel_trusting_ssl_cert_file(
    no_proxy_variables: pytest.MonkeyPatch, backend: str, tmp_path: Path
) -> None:
    """HTTPS_PROXY and SSL_CERT_FILE, as behind a corporate proxy with its own CA: a CONNECT tunnel, verified TLS."""
    ca = trustme.CA()
    ca_file = tmp_path / "corporate-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    fake = FakeVersive(api_key="k")
    proxy = ForwardProxy()
    async with fake.serve() as base_url, TlsInFront(ca, base_url) as secure_url, proxy as proxy_url:
        no_proxy_variables.setenv("HTTPS_PROXY", proxy_url)
        no_proxy_variables.setenv("SSL_CERT_FILE", str(ca_file))
        async with VersiveClient("k", base_url=secure_url, http_backend=backend) as client:
            interview = await client.create_interview(study_id="s")
    assert proxy.seen == [f"CONNECT {secure_url.removeprefix('https://')}"]
    assert [i.id for i in fake.interviews] == [interview.id]


@pytest.mark.parametrize("trust_env", [True, False])
async def test_ssl_cert_file_is_trusted_unless_trust_env_is_false(
    monkeypatch: pytest.MonkeyPatch, backend: str, tmp_path: Path, *, trust_env: bool
) -> None:
    """SSL_CERT_FILE names the CAs to trust, as in httpx; with trust_env=False the certificate is refused."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    fake = FakeVersive(api_key="k")
    async with fake.serve() as base_url, TlsInFront(ca, base_url) as secure_url:
        client = VersiveClient("k", base_url=secure_url, http_backend=backend, trust_env=trust_env, max_retries=0)
        async with client:
            if trust_env:
                await client.create_interview(study_id="s")
            else:
                with pytest.raises(APIConnectionError, match=r"(?i)certificate verify failed"):
                    await client.create_interview(study_id="s")
    assert len(fake.interviews) == (1 if trust_env else 0)


@pytest.mark.parametrize(
    ("url", "variables", "proxy"),
    [
        ("https://api.example.com", {"HTTPS_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ("https://api.example.com", {"https_proxy": "http://low:1", "HTTP_PROXY": "http://up:1"}, "http://low:1"),
        ("http://api.example.com", {"HTTPS_PROXY": "http://s:1", "ALL_PROXY": "http://all:1"}, "http://all:1"),
        ("https://api.example.com", {"ALL_PROXY": "socks5://s:1080"}, "socks5://s:1080"),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, None),
        ("https://example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".example.com"}, "http://p:1"),
        ("https://notexample.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com"}, "http://p:1"),
        ("https://API.Example.com", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": " other.org ,EXAMPLE.com"}, None),
        ("https://10.0.0.7", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.7"}, None),
        ("https://api.example.com", {"NO_PROXY": "*"}, None),
    ],
)
async def test_the_environments_proxy_follows_httpx_rules(
    no_proxy_variables: pytest.MonkeyPatch, url: str, variables: dict[str, str], proxy: str | None
) -> None:
    """By scheme, else ALL_PROXY; lower case first; NO_PROXY by host, domain (".x": subdomains only) or "*"."""
    for name, value in variables.items():
        no_proxy_variables.setenv(name, value)
    assert _environment_proxy(httpx.URL(url)) == proxy


async def _use(client: VersiveClient, way: str) -> object:
    """Create an interview through `client` (its method or a raw resource method), or derive a client."""
    if way == "create_interview":
        return await client.create_interview(study_id="s")
    if way == "raw response":
        return await client.with_raw_response.interviews.create(study_id="s")
    return client.with_options(max_retries=1)


@pytest.mark.parametrize("way", ["create_interview", "raw response", "with_options"])
async def test_closing_a_client_closes_the_clients_derived_from_it(harness: Harness, way: str) -> None:
    """They share the pool: after aclose(), every call on the client or a derived one is refused, nothing sent."""
    client = harness.client()
    derived = client.with_options(max_retries=0)
    grandchild = derived.with_options(timeout=3)
    await grandchild.create_interview(study_id="s")
    await client.aclose()
    await client.aclose()  # closing twice is harmless
    for each in (client, derived, grandchild):
        with pytest.raises(RuntimeError, match="this VersiveClient is closed"):
            await _use(each, way)
    assert len(harness.fake.requests) == 1


async def test_closing_a_derived_client_leaves_the_others_open(harness: Harness) -> None:
    """A derived client's aclose() refuses its own calls (and its children's) only."""
    client = harness.client()
    derived = client.with_options(max_retries=0)
    sibling = client.with_options(max_retries=1)
    grandchild = derived.with_options(timeout=3)
    await derived.aclose()
    for closed in (derived, grandchild):
        with pytest.raises(RuntimeError, match="this VersiveClient is closed"):
            await closed.create_interview(study_id="s")
    assert (await client.create_interview(study_id="s")).status == "open"
    assert (await sibling.create_interview(study_id="s")).status == "open"


async def test_a_call_in_flight_when_its_client_closes_ends_refused(backend: str) -> None:
    """Closed mid-call: the attempt fails with the pool, and the retry is refused instead of opening a new pool."""
    fake = FakeVersive(api_key="k")
    fake.faults.queue(faults.Delay(1.0))
    async with fake.serve() as base_url:
        client = VersiveClient("k", base_url=base_url, http_backend=backend, retry_policy=RetryPolicy.no_wait())
        call = asyncio.create_task(client.create_interview(study_id="s"))
        while not fake.requests:  # noqa: ASYNC110 - the fake runs in its own thread
            await asyncio.sleep(0.01)
        await client.aclose()
        with pytest.raises(RuntimeError, match="this VersiveClient is closed"):
            await call
    assert len(fake.requests) == 1


async def _with_options(harness: Harness, where: str, options: dict[str, Any]) -> object:
    """Give `options` to the constructor, to with_options, or to a call."""
    if where == "constructor":
        return harness.client(**options)
    if where == "with_options":
        return harness.client().with_options(**options)
    return await harness.client().create_interview(study_id="s", **options)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"timeout": "30"}, TypeError, "timeout must be a number of seconds or an httpx.Timeout, got str"),
        ({"timeout": float("nan")}, ValueError, "timeout must be > 0 seconds, got nan"),
        ({"max_retries": 1.5}, TypeError, "max_retries must be an int, got float"),
        ({"max_retries": -1}, ValueError, "max_retries must be >= 0, got -1"),
        ({"deadline": True}, TypeError, "deadline must be a number of seconds or None, got bool"),
        ({"deadline": -2}, ValueError, "deadline must be > 0 seconds, got -2"),
    ],
)
@pytest.mark.parametrize("where", ["constructor", "with_options", "create_interview"])
async def test_options_are_checked_alike_wherever_they_are_given(
    harness: Harness, where: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """The constructor, with_options and a call check an option in one place: one error, one message."""
    with pytest.raises(error, match=re.escape(message)):
        await _with_options(harness, where, options)
    assert harness.fake.requests == []


async def test_a_key_from_the_environment_that_cannot_be_sent_is_named_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pasted key with a typo in VERSIVE_API_KEY: the error names api_key and the variable, never the key."""
    monkeypatch.setenv("VERSIVE_API_KEY", "sk-live-\u00a0abcdef")
    with pytest.raises(
        ValueError, match=r"api_key \(from VERSIVE_API_KEY\) has a non-ASCII character at position 9"
    ) as caught:
        VersiveClient()
    assert "abcdef" not in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"X Team": "a"}, "default_headers has 'X Team', which is not a header name"),
        ({"X-Team": "a\r\nX-Evil: 1"}, "default_headers['X-Team'] has a control character at position 2"),
        ({"X-Token": "s\u00e9cret"}, "default_headers['X-Token'] has a non-ASCII character at position 2"),
    ],
)
async def test_default_headers_that_cannot_be_sent_are_refused(headers: dict[str, str], message: str) -> None:
    """A header name or value no HTTP library would send is refused when the client is made; values are not shown."""
    with pytest.raises(ValueError, match=re.escape(message)) as caught:
        VersiveClient("k", base_url="https://x.test", default_headers=headers)
    assert "cret" not in str(caught.value)
    assert "Evil" not in str(caught.value)

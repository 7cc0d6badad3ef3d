"""Tracing, metrics and structured log records, read back through the OpenTelemetry SDK's in-memory exporters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import textwrap
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import KEY, PATH, Harness
from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

from versive_client import (
    APIConnectionError,
    Attempt,
    BadRequestError,
    Call,
    CallObserver,
    InternalServerError,
    RetryPolicy,
    VersiveClient,
)
from versive_client._version import __version__
from versive_client.otel import DURATION_BUCKETS, Telemetry, _redacted
from versive_client.testing import FakeVersive, faults

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from pathlib import Path

    from versive_client.models import Interview


WAYS = ["create_interview", "raw response"]
# A key no span, metric or log record could hold by chance.
SECRET = "sk-live-7Qz3YtW9xP2mKv8N"


class Otel:
    """A tracer and meter provider writing to memory, and the `Telemetry` on them."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        tracer_provider = tracer_provider or TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=self.meter_provider)
        self.tracer = tracer_provider.get_tracer("the application")

    def spans(self) -> list[ReadableSpan]:
        """The finished spans, in the order they started."""
        return sorted(self.exporter.get_finished_spans(), key=lambda span: span.start_time or 0)

    def call_span(self) -> ReadableSpan:
        """The one call span."""
        [span] = [span for span in self.spans() if span.name.startswith("versive.")]
        return span

    def attempt_spans(self) -> list[ReadableSpan]:
        """The CLIENT spans, in the order they started."""
        return [span for span in self.spans() if span.kind is SpanKind.CLIENT]

    def points(self, metric: str) -> list[Any]:
        """The data points of `metric`."""
        data = self.reader.get_metrics_data()
        return [
            point
            for resource in (data.resource_metrics if data else [])
            for scope in resource.scope_metrics
            for found in scope.metrics
            if found.name == metric
            for point in found.data.data_points
        ]

    def everything(self) -> str:
        """Every span and every metric, as the exporters would send them."""
        data = self.reader.get_metrics_data()
        return "\n".join([span.to_json() for span in self.spans()] + [data.to_json() if data else ""])


@pytest.fixture
def otel() -> Otel:
    """A fresh pair of in-memory providers for each test."""
    return Otel()


async def call(client: VersiveClient, way: str) -> Interview:
    """Create an interview through `client`, by create_interview or by its raw response."""
    if way == "create_interview":
        return await client.create_interview(study_id="study_1")
    return (await client.with_raw_response.interviews.create(study_id="study_1")).parse()


def in_process(fake: FakeVersive, **options: Any) -> VersiveClient:
    """A client reaching `fake` in-process (no sockets, unless `options` name another transport), with `options`."""
    options.setdefault("transport", fake.transport())
    return VersiveClient(KEY, base_url="https://api.versive.test", **options)


def traceparent(span: ReadableSpan) -> str:
    """The W3C traceparent header naming `span`, with its flags."""
    assert span.context is not None
    return f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{span.context.trace_flags:02x}"


@pytest.mark.asyncio
@pytest.mark.parametrize("way", WAYS)
async def test_a_call_retried_twice_is_one_call_span_over_three_attempt_spans(
    harness: Harness, otel: Otel, way: str
) -> None:
    """503, 503, then 200: one call span, three CLIENT spans beneath it with resend counts 0, 1, 2 and statuses."""
    harness.fake.faults.queue(faults.Status(503), faults.Status(503, retry_after=0))
    await call(harness.client(telemetry=otel.telemetry, deadline=30), way)

    parent, attempts = otel.call_span(), otel.attempt_spans()
    assert len(otel.spans()) == 4
    scopes = {(getattr(span.instrumentation_scope, "name", None), getattr(span.instrumentation_scope, "version", None))
              for span in otel.spans()}  # fmt: skip
    assert scopes == {("versive_client", __version__)}
    assert parent.name == "versive.create_interview"
    assert parent.kind is SpanKind.INTERNAL
    assert parent.status.status_code is StatusCode.UNSET
    key = harness.fake.requests[0].idempotency_key
    host = httpx.URL(harness.base_url)
    assert parent.attributes == {
        "versive.operation": "create_interview",
        "versive.max_retries": 2,
        "versive.idempotency_key": key,
        "versive.attempts": 3,
        "versive.deadline": 30.0,
        "server.address": host.host,
        "server.port": host.port or 443,
    }
    assert [span.name for span in attempts] == [f"POST {PATH}"] * 3
    assert all(span.parent is not None and span.parent.span_id == parent.context.span_id for span in attempts)
    assert {span.context.trace_id for span in otel.spans()} == {parent.context.trace_id}
    attributes = [dict(span.attributes or {}) for span in attempts]
    assert [a["http.request.resend_count"] for a in attributes] == [0, 1, 2]
    assert [a["versive.attempt"] for a in attributes] == [1, 2, 3]
    assert [a["http.response.status_code"] for a in attributes] == [503, 503, 200]
    assert [a.get("error.type") for a in attributes] == ["503", "503", None]
    assert [span.status.status_code for span in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert [str(span.status.description).split(":")[0] for span in attempts[:2]] == [
        f"POST {PATH} answered 503 Service Unavailable"
    ] * 2
    # The backoff the client waited (recorded, not slept), then the 0 s Retry-After asked for.
    assert [a.get("versive.retry.wait") for a in attributes] == [*harness.sleeps, None]  # Retry-After: 0 backs off
    assert [a.get("versive.retry_after") for a in attributes] == [None, 0.0, None]
    assert attributes[1]["versive.retry_after.honoured"] is True
    for found in attributes:
        assert found["http.request.method"] == "POST"
        assert found["url.full"] == harness.base_url + PATH
        assert found["url.template"] == PATH
        assert found["server.address"] == host.host
        assert found["versive.idempotency_key"] == key
    # The trace context each request carried names its own attempt span.
    assert [request.headers["traceparent"] for request in harness.fake.requests] == [traceparent(s) for s in attempts]


@pytest.mark.asyncio
@pytest.mark.parametrize("way", WAYS)
async def test_a_final_connection_error_is_recorded_with_its_type(backend: str, otel: Otel, way: str) -> None:
    """Nothing listening: every attempt span and the call span say APIConnectionError, with no status code."""
    async with FakeVersive().serve() as base_url:
        pass  # the port is free again once the server stops
    async with VersiveClient(
        KEY, base_url=base_url, http_backend=backend, retry_policy=RetryPolicy.no_wait(), telemetry=otel.telemetry
    ) as client:
        with pytest.raises(APIConnectionError):
            await call(client, way)
    parent, attempts = otel.call_span(), otel.attempt_spans()
    assert len(attempts) == 3
    for span in attempts:
        assert span.attributes is not None
        assert span.attributes["error.type"] == "APIConnectionError"
        assert "http.response.status_code" not in span.attributes
        assert span.status.status_code is StatusCode.ERROR
    assert parent.attributes is not None
    assert parent.attributes["error.type"] == "APIConnectionError"
    assert parent.attributes["versive.attempts"] == 3
    assert parent.status.status_code is StatusCode.ERROR
    assert parent.status.description is not None
    assert parent.status.description.startswith(f"POST {PATH} failed")
    [event] = parent.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert str(event.attributes["exception.type"]).endswith("APIConnectionError")


@pytest.mark.asyncio
async def test_measurements_per_attempt_per_call_and_per_retry(harness: Harness, otel: Otel) -> None:
    """http.client.request.duration per attempt by status, the call's duration, and one retry counted per retry."""
    harness.fake.faults.queue(faults.Status(503), faults.Status(503))
    started = time.monotonic()
    await harness.client(telemetry=otel.telemetry).create_interview(study_id="study_1")
    elapsed = time.monotonic() - started
    host = httpx.URL(harness.base_url)
    server = {"server.address": host.host, "server.port": host.port or 443}
    attempts = {point.attributes.get("http.response.status_code"): point for point in otel.points(
        "http.client.request.duration"
    )}  # fmt: skip
    assert set(attempts) == {200, 503}
    assert attempts[503].count == 2
    assert attempts[200].count == 1
    common = {"http.request.method": "POST", "url.template": PATH, **server}
    assert dict(attempts[503].attributes) == {**common, "http.response.status_code": 503, "error.type": "503"}
    assert dict(attempts[200].attributes) == {**common, "http.response.status_code": 200}
    [calls] = otel.points("versive.client.call.duration")
    assert dict(calls.attributes) == {"versive.operation": "create_interview", **server}
    assert calls.count == 1
    assert attempts[503].sum + attempts[200].sum <= calls.sum <= elapsed
    [retries] = otel.points("versive.client.call.retries")
    assert dict(retries.attributes) == {
        "versive.operation": "create_interview",
        "server.address": host.host,
        "error.type": "503",
    }
    assert retries.value == 2
    data = otel.reader.get_metrics_data()
    assert data is not None
    [[scope]] = [resource.scope_metrics for resource in data.resource_metrics]
    assert (scope.scope.name, scope.scope.version) == ("versive_client", __version__)
    assert {(metric.name, metric.unit, metric.description) for metric in scope.metrics} == {
        ("http.client.request.duration", "s", "Duration of HTTP client requests."),
        ("versive.client.call.duration", "s", "Duration of Versive SDK calls, every attempt and wait included."),
        ("versive.client.call.retries", "{retry}", "Attempts the SDK made again after a failure."),
    }
    # The HTTP semantic conventions' advice for the buckets, taken by the SDK.
    assert [list(point.explicit_bounds) for point in (attempts[200], calls)] == [list(DURATION_BUCKETS)] * 2


@pytest.mark.asyncio
async def test_a_failed_call_is_measured_with_its_error_type(harness: Harness, otel: Otel) -> None:
    """A call that ends in a 503 after its retries: the call duration carries the error's type."""
    harness.fake.faults.queue(faults.Status(503), faults.Status(503), faults.Status(503))
    with pytest.raises(InternalServerError):
        await harness.client(telemetry=otel.telemetry).create_interview(study_id="study_1")
    [calls] = otel.points("versive.client.call.duration")
    assert calls.attributes["error.type"] == "InternalServerError"
    [retries] = otel.points("versive.client.call.retries")
    assert retries.value == 2, "the last attempt failed, and was not retried"


INCOMING = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.mark.asyncio
@pytest.mark.parametrize("tracing", ["no SDK", "sampled out"])
async def test_an_unrecorded_call_passes_the_trace_context_on_and_is_still_measured(tracing: str) -> None:
    """No span recorded (OpenTelemetry's no-op tracer, or a sampler that drops it): requests still carry the trace."""
    otel = Otel(TracerProvider(sampler=ALWAYS_OFF))
    telemetry = otel.telemetry
    if tracing == "no SDK":
        telemetry = Telemetry(tracer_provider=trace.NoOpTracerProvider(), meter_provider=otel.meter_provider)
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503))
    incoming = propagate.extract({"traceparent": INCOMING})  # as a web framework reads it from its request
    async with in_process(fake, retry_policy=RetryPolicy.no_wait(), telemetry=telemetry) as client:
        token = context.attach(incoming)
        try:
            await client.create_interview(study_id="study_1")
        finally:
            context.detach(token)
    sent = [request.headers["traceparent"] for request in fake.requests]
    assert len(sent) == 2
    if tracing == "no SDK":
        assert sent == [INCOMING, INCOMING]
    else:  # the dropped call span's own context, in the incoming trace, not sampled
        assert {header.split("-")[1] for header in sent} == {INCOMING.split("-")[1]}
        assert {header.split("-")[3] for header in sent} == {"00"}
    assert otel.spans() == []
    assert [point.count for point in otel.points("http.client.request.duration")] == [1, 1]
    assert [point.count for point in otel.points("versive.client.call.duration")] == [1]
    assert [point.value for point in otel.points("versive.client.call.retries")] == [1]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("retry_after", "max_retries", "verdict"),
    [(0, 1, "honoured"), (0, 0, "not honoured"), (3600, 1, "not honoured")],
    ids=["waited for", "no retry left", "longer than the client waits"],
)
async def test_whether_a_retry_after_was_honoured(otel: Otel, retry_after: int, max_retries: int, verdict: str) -> None:
    """A Retry-After is honoured when the next attempt waited for it; not without a next attempt, or if too long."""
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503, retry_after=retry_after))
    async with in_process(fake, max_retries=max_retries, telemetry=otel.telemetry) as client:
        with contextlib.suppress(InternalServerError):
            await client.create_interview(study_id="study_1")
    first = dict(otel.attempt_spans()[0].attributes or {})
    assert first["versive.retry_after"] == retry_after
    assert first["versive.retry_after.honoured"] is (verdict == "honoured")


class Dropping:
    """A tracer provider whose spans are all invalid, as the no-op tracer of opentelemetry-api 1.30 makes them."""

    def get_tracer(self, *_args: Any, **_kwargs: Any) -> trace.Tracer:
        return self  # type: ignore[return-value]

    def start_span(self, *_args: Any, **_kwargs: Any) -> trace.Span:
        return trace.INVALID_SPAN


@pytest.mark.asyncio
async def test_with_a_tracer_that_makes_invalid_spans_the_callers_trace_is_passed_on() -> None:
    """A call span without a context of its own: each request carries the caller's trace context instead."""
    telemetry = Telemetry(tracer_provider=Dropping(), meter_provider=Otel().meter_provider)  # type: ignore[arg-type]
    fake = FakeVersive(api_key=KEY)
    async with in_process(fake, telemetry=telemetry) as client:
        token = context.attach(propagate.extract({"traceparent": INCOMING}))
        try:
            await client.create_interview(study_id="study_1")
        finally:
            context.detach(token)
    assert fake.requests[0].headers["traceparent"] == INCOMING


@pytest.mark.parametrize("global_providers", ["none", "tracer", "meter", "tracer and meter"])
def test_the_default_telemetry_works_once_either_global_provider_is_set(
    monkeypatch: pytest.MonkeyPatch, global_providers: str
) -> None:
    """On the global providers, a call is observed once a tracer or a meter provider is set, not before."""
    if "tracer" in global_providers:
        monkeypatch.setattr(trace, "get_tracer_provider", TracerProvider)
    if "meter" in global_providers:
        monkeypatch.setattr(metrics, "get_meter_provider", MeterProvider)
    started = Call("create_interview", "POST", "https://api.versive.test" + PATH, PATH, None, None, 2)
    observer = Telemetry()(started)
    assert (observer is None) == (global_providers == "none")
    if observer is not None:
        observer.end(None)
    # Providers given to Telemetry are used whatever the global ones are.
    given = Telemetry(tracer_provider=trace.NoOpTracerProvider())(started)
    assert given is not None
    given.end(None)


@pytest.mark.asyncio
async def test_the_call_span_is_a_child_of_the_applications_span_and_current_only_during_the_call(
    harness: Harness, otel: Otel
) -> None:
    """A call inside the application's span is traced beneath it; afterwards the application's span is current again."""
    client = harness.client(telemetry=otel.telemetry)
    with otel.tracer.start_as_current_span("import participants") as outer:
        await client.create_interview(study_id="study_1")
        assert trace.get_current_span() is outer
    parent = otel.call_span()
    assert parent.parent is not None
    assert parent.parent.span_id == outer.get_span_context().span_id


@pytest.mark.asyncio
async def test_a_span_made_in_a_hook_lies_beneath_the_attempt(harness: Harness, otel: Otel) -> None:
    """While an attempt runs, its span is the current one: an on_attempt hook's own span goes beneath it."""

    def hook(attempt: Attempt) -> None:
        with otel.tracer.start_as_current_span(f"hook {attempt.number}"):
            pass

    await harness.client(telemetry=otel.telemetry, on_attempt=[hook]).create_interview(study_id="study_1")
    [attempt] = otel.attempt_spans()
    [made] = [span for span in otel.spans() if span.name == "hook 1"]
    assert made.parent is not None
    assert made.parent.span_id == attempt.context.span_id


@pytest.mark.asyncio
async def test_a_cancelled_call_ends_its_spans_and_restores_the_context(
    harness: Harness, otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    """Cancelled mid-attempt: the attempt and call spans end, marked cancelled; the caller's context is as before."""
    caplog.set_level(logging.ERROR, logger="opentelemetry.context")  # where a context detached wrongly is reported
    harness.fake.faults.queue(faults.Delay(5.0))
    client = harness.client(telemetry=otel.telemetry)

    async def create() -> None:
        await client.create_interview(study_id="study_1")

    task = asyncio.create_task(create())
    while not harness.fake.requests:  # noqa: ASYNC110 - the fake may run in its own thread
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    parent, [attempt] = otel.call_span(), otel.attempt_spans()
    for span in (parent, attempt):
        assert span.attributes is not None
        assert span.attributes["error.type"] == "CancelledError"
        assert span.status.status_code is StatusCode.ERROR
    assert attempt.status.description == "CancelledError"
    assert caplog.records == []
    assert trace.get_current_span() is trace.INVALID_SPAN
    await client.create_interview(study_id="study_2")  # a later call is traced from the root again
    assert [span.parent for span in otel.spans() if span.name.startswith("versive.")][-1] is None


@pytest.mark.asyncio
async def test_a_call_to_no_known_operation_is_traced_by_its_method(otel: Otel) -> None:
    """A Call without an operation (as an application's own observer may be given): spans named by the method alone."""
    observer = otel.telemetry(
        Call(
            operation=None,
            method="GET",
            url="https://api.versive.test/elsewhere",
            route=None,
            idempotency_key=None,
            deadline=None,
            max_retries=0,
        )
    )
    assert observer is not None
    observer.before_attempt(1, {})
    observer.after_attempt(
        Attempt("GET", "https://api.versive.test/elsewhere", 1, 404, None, None, None, None, 0.01, {})
    )
    observer.end(None)
    assert otel.call_span().name == "versive.GET"
    [attempt] = otel.attempt_spans()
    assert attempt.name == "GET"
    assert attempt.attributes is not None
    assert "url.template" not in attempt.attributes
    assert attempt.attributes["http.response.status_code"] == 404


class Recorder(CallObserver):
    """Records what it is told, and adds a header before each attempt."""

    def __init__(self, events: list[Any], call: Call) -> None:
        self.events = events
        events.append(("call", call))

    def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:
        self.events.append(("before", number))
        headers["x-observed"] = str(number)

    def after_attempt(self, attempt: Attempt) -> None:
        self.events.append(("after", attempt.number, attempt.status_code))

    def end(self, error: BaseException | None) -> None:
        self.events.append(("end", type(error).__name__ if error else None))


@pytest.mark.asyncio
@pytest.mark.parametrize("base_path", ["", "/v"])
async def test_on_call_observers_see_each_call_and_its_attempts(base_path: str) -> None:
    """An on_call function gets the Call; its observer is told before and after each attempt, then of the end, once."""
    events: list[Any] = []
    fake = FakeVersive(api_key=KEY)
    seen: list[httpx.Request] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        rebased = request.url.copy_with(path=request.url.path.removeprefix(base_path))
        transport = fake.transport()
        return await transport.handle_async_request(httpx.Request(request.method, rebased, headers=request.headers,
                                                                  content=await request.aread()))  # fmt: skip

    fake.faults.queue(faults.Status(503))
    async with VersiveClient(
        KEY,
        base_url=f"https://api.versive.test{base_path}",
        transport=httpx.MockTransport(handle),
        retry_policy=RetryPolicy.no_wait(),
        deadline=30,
        on_call=[lambda call: Recorder(events, call), lambda _call: None],
        telemetry=False,
    ) as client:
        await call(client, "raw response")
        [(_, started)] = [event for event in events if event[0] == "call"]
        assert started == Call(
            operation="create_interview",
            method="POST",
            url=f"https://api.versive.test{base_path}{PATH}",
            route=PATH,
            idempotency_key=fake.requests[0].idempotency_key,
            deadline=30.0,
            max_retries=2,
        )
        assert events[1:] == [("before", 1), ("after", 1, 503), ("before", 2), ("after", 2, 200), ("end", None)]
        assert [request.headers["x-observed"] for request in seen] == ["1", "2"]

        events.clear()
        fake.faults.queue(faults.Status(400))
        derived: list[Any] = []
        with pytest.raises(BadRequestError):
            await client.with_options(on_call=[lambda call: Recorder(derived, call)]).create_interview(
                study_id="study_1"
            )
        assert events[1:] == [("before", 1), ("after", 1, 400), ("end", "BadRequestError")]
        assert derived == events, "a derived client's observers come after its parent's, told the same"


class Raising(CallObserver):
    """Raises from every method it has."""

    async def wait_turn(self, number: int) -> None:
        raise LookupError(f"wait_turn {number}")

    def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:  # noqa: ARG002
        raise LookupError(f"before_attempt {number}")

    def after_attempt(self, attempt: Attempt) -> None:
        raise LookupError(f"after_attempt {attempt.number}")

    def end(self, error: BaseException | None) -> None:  # noqa: ARG002
        raise LookupError("end")


@pytest.mark.asyncio
async def test_observers_nest_and_one_that_raises_is_logged_and_changes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """In order on the way in, reversed on the way out; a raising observer is logged and skips no other."""
    events: list[Any] = []

    class Named(Recorder):
        def __init__(self, name: str, call: Call) -> None:
            super().__init__([], call)
            self.name = name

        async def wait_turn(self, number: int) -> None:
            events.append((self.name, "turn", number))

        def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:  # noqa: ARG002
            events.append((self.name, "before", number))

        def after_attempt(self, attempt: Attempt) -> None:
            events.append((self.name, "after", attempt.number))

        def end(self, error: BaseException | None) -> None:
            events.append((self.name, "end", type(error).__name__ if error else None))

    def broken(call: Call) -> None:
        raise LookupError(f"no observer for {call.operation}")

    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503))
    observers = [lambda call: Named("a", call), lambda _call: Raising(), broken, lambda call: Named("b", call)]
    async with in_process(fake, on_call=observers, telemetry=False, retry_policy=RetryPolicy.no_wait()) as client:
        with caplog.at_level(logging.ERROR, logger="versive_client"):
            interview = await client.create_interview(study_id="study_1")
    assert [i.id for i in fake.interviews] == [interview.id], "created once, whatever the observers raised"
    assert events == [
        *[("a", "turn", 1), ("b", "turn", 1), ("a", "before", 1), ("b", "before", 1), ("b", "after", 1)],
        *[("a", "after", 1), ("a", "turn", 2), ("b", "turn", 2), ("a", "before", 2), ("b", "before", 2)],
        *[("b", "after", 2), ("a", "after", 2), ("b", "end", None), ("a", "end", None)],
    ]
    logged = [str(record.exc_info[1]) for record in caplog.records if record.exc_info]
    assert logged == [
        "no observer for create_interview",
        *["wait_turn 1", "before_attempt 1", "after_attempt 1", "wait_turn 2", "before_attempt 2"],
        *["after_attempt 2", "end"],
    ]


@pytest.mark.asyncio
async def test_a_call_cancelled_while_waiting_its_turn_is_traced_with_no_attempts(otel: Otel) -> None:
    """An observer waits before the first attempt and the caller gives up: 0 attempts, nothing sent, span ended."""

    class Holding(CallObserver):
        async def wait_turn(self, number: int) -> None:  # noqa: ARG002
            await asyncio.sleep(3600)

    fake = FakeVersive(api_key=KEY)
    before = context.get_current()
    async with in_process(fake, on_call=[lambda _call: Holding()], telemetry=otel.telemetry) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await client.create_interview(study_id="study_1")
    assert context.get_current() == before
    assert fake.requests == []
    assert otel.attempt_spans() == []
    attributes = otel.call_span().attributes or {}
    assert (attributes["versive.attempts"], attributes["error.type"]) == (0, "CancelledError")


@pytest.mark.asyncio
@pytest.mark.parametrize("outcome", ["created", "retried then created", "failed", "cancelled"])
async def test_several_telemetry_observers_restore_the_callers_context(outcome: str) -> None:
    """The client's telemetry and one added by with_options nest: after the call, the caller's context is as it was.

    So the application's next span is a child of its own span, not of a call span that has ended.
    """
    outer, inner = Otel(), Otel()
    fake = FakeVersive(api_key=KEY)
    scripted: dict[str, list[faults.Fault]] = {
        "created": [],
        "retried then created": [faults.Status(503)],
        "failed": [faults.Status(500)] * 3,
        "cancelled": [faults.Delay(3600)],
    }
    fake.faults.queue(*scripted[outcome])
    options: dict[str, Any] = {"telemetry": outer.telemetry, "retry_policy": RetryPolicy.no_wait()}
    async with in_process(fake, **options) as parent:
        client = parent.with_options(on_call=[inner.telemetry, inner.telemetry])  # three telemetries in all
        with outer.tracer.start_as_current_span("the application's request") as request_span:
            before = context.get_current()
            with contextlib.suppress(InternalServerError, TimeoutError):
                async with asyncio.timeout(0.5 if outcome == "cancelled" else None):
                    await client.create_interview(study_id="study_1")
            assert context.get_current() == before
            assert trace.get_current_span() is request_span
            with outer.tracer.start_as_current_span("next"):
                pass
    [following] = [span for span in outer.spans() if span.name == "next"]
    assert following.parent is not None
    assert following.parent.span_id == request_span.get_span_context().span_id
    [outer_call] = [span for span in outer.spans() if span.name.startswith("versive.")]
    inner_calls = [span for span in inner.spans() if span.name.startswith("versive.")]
    assert len(inner_calls) == 2
    assert outer_call.parent is not None
    assert outer_call.parent.span_id == request_span.get_span_context().span_id
    assert inner_calls[0].parent is not None
    assert inner_calls[0].parent.span_id in {span.context.span_id for span in [*outer.attempt_spans(), outer_call]}
    ended = {span.context.span_id for span in outer.spans() + inner.spans()}
    assert len(ended) == len(outer.spans()) + len(inner.spans())  # every span ended once


def test_bad_on_call_and_telemetry_values_are_refused_naming_the_option() -> None:
    """on_call must be a sequence of functions; telemetry True, False or a Telemetry."""
    with pytest.raises(TypeError, match="on_call must be a sequence of functions taking a Call"):
        VersiveClient(KEY, on_call=print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"telemetry must be True, False or a versive_client\.otel\.Telemetry"):
        VersiveClient(KEY, telemetry="yes")  # type: ignore[arg-type]
    client = VersiveClient(KEY, telemetry=False)
    with pytest.raises(TypeError, match="on_call must be a sequence"):
        client.with_options(on_call=[1])  # type: ignore[list-item]


class RequestIds(httpx.AsyncBaseTransport):
    """The fake, with an ``x-request-id`` on every response."""

    def __init__(self, fake: FakeVersive) -> None:
        self.inner = fake.transport()
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.count += 1
        response.headers["x-request-id"] = f"req_{self.count}"
        return response


@pytest.mark.asyncio
async def test_log_records_carry_their_fields(caplog: pytest.LogCaptureFixture, otel: Otel) -> None:
    """Each attempt's record has method, path, status or error type, attempt, wait, request id and key as attributes."""
    caplog.set_level(logging.DEBUG, logger="versive_client")
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503))
    async with in_process(
        fake, transport=RequestIds(fake), retry_policy=RetryPolicy.no_wait(), telemetry=otel.telemetry
    ) as client:
        await client.create_interview(study_id="study_1")
    records = [record for record in caplog.records if record.name == "versive_client"]
    assert [record.getMessage() for record in records] == [
        f"POST {PATH} -> 503 (attempt 1, retrying in 0.00s)",
        f"POST {PATH} -> 200 (attempt 2)",
    ]
    key = fake.requests[0].idempotency_key
    fields = ("method", "path", "status_code", "error_type", "attempt", "wait", "request_id", "idempotency_key")
    assert [{name: getattr(record, name) for name in fields} for record in records] == [
        {"method": "POST", "path": PATH, "status_code": 503, "error_type": "InternalServerError", "attempt": 1,
         "wait": 0.0, "request_id": "req_1", "idempotency_key": key},
        {"method": "POST", "path": PATH, "status_code": 200, "error_type": None, "attempt": 2,
         "wait": None, "request_id": "req_2", "idempotency_key": key},
    ]  # fmt: skip
    # Logged while the attempt's span is current: a log bridge ties each record to its attempt.
    assert [dict(span.attributes or {})["versive.request_id"] for span in otel.attempt_spans()] == ["req_1", "req_2"]


@pytest.mark.asyncio
async def test_a_connection_error_is_logged_with_its_type(caplog: pytest.LogCaptureFixture) -> None:
    """No response: the record's error_type is the error's class; status and request id are None."""
    caplog.set_level(logging.DEBUG, logger="versive_client")
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Reset())
    async with in_process(fake, max_retries=0, telemetry=False) as client:
        with pytest.raises(APIConnectionError):
            await client.create_interview(study_id="study_1")
    [record] = [record for record in caplog.records if record.name == "versive_client"]
    assert (record.error_type, record.status_code, record.request_id) == ("APIConnectionError", None, None)  # type: ignore[attr-defined]


@pytest.mark.asyncio
@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("reach", ["in-process", "httpx", "aiohttp"])
async def test_no_span_metric_or_log_record_holds_the_api_key(
    otel: Otel, caplog: pytest.LogCaptureFixture, reach: str, way: str
) -> None:
    """A retried call, a failed one and a connection error, on each backend: the key is in no export and no record."""
    caplog.set_level(logging.DEBUG)
    fake = FakeVersive(api_key=SECRET)
    options: dict[str, Any] = {"retry_policy": RetryPolicy.no_wait(), "telemetry": otel.telemetry}
    async with contextlib.AsyncExitStack() as stack:
        if reach == "in-process":
            options.update(base_url="https://api.versive.test", transport=fake.transport())
        else:
            options.update(base_url=await stack.enter_async_context(fake.serve()), http_backend=reach)
        client = await stack.enter_async_context(VersiveClient(SECRET, **options))
        fake.faults.queue(faults.Status(503))
        await call(client, way)
        fake.faults.queue(faults.Status(400))
        with pytest.raises(BadRequestError):
            await call(client, way)
        fake.faults.queue(faults.Reset(), faults.Reset(), faults.Reset())
        with pytest.raises(APIConnectionError):
            await call(client, way)
    assert len(otel.attempt_spans()) == 6
    assert len(caplog.records) >= 6
    assert SECRET not in otel.everything()
    assert SECRET not in repr([vars(record) for record in caplog.records])


@pytest.mark.anyio
async def test_tracing_works_under_trio(otel: Otel) -> None:
    """Under trio, over loopback: a retried call gives one call span over two attempt spans, context restored."""
    fake = FakeVersive(api_key=KEY)
    fake.faults.queue(faults.Status(503))
    async with fake.serve() as base_url, VersiveClient(
        KEY, base_url=base_url, retry_policy=RetryPolicy(backoff_initial=0.01), telemetry=otel.telemetry
    ) as client:  # fmt: skip
        await client.create_interview(study_id="study_trio")
    parent, attempts = otel.call_span(), otel.attempt_spans()
    assert [dict(span.attributes or {})["http.request.resend_count"] for span in attempts] == [0, 1]
    assert all(span.parent is not None and span.parent.span_id == parent.context.span_id for span in attempts)
    assert [request.headers["traceparent"] for request in fake.requests] == [traceparent(s) for s in attempts]
    assert trace.get_current_span() is trace.INVALID_SPAN


@pytest.fixture
def anyio_backend() -> str:
    """The anyio-marked test runs under trio."""
    return "trio"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://api.versive.test/api/v1/interviews", "https://api.versive.test/api/v1/interviews"),
        ("https://user:pw@api.versive.test/x", "https://REDACTED:REDACTED@api.versive.test/x"),
        ("https://api.versive.test/x?sig=abc&page=2", "https://api.versive.test/x?sig=REDACTED&page=2"),
        ("https://api.versive.test/x?page=2", "https://api.versive.test/x?page=2"),
        ("https://u:p@ss@api.versive.test/x", "https://REDACTED:REDACTED@api.versive.test/x"),
        (
            "https://api.versive.test/x?a=%20+b&sig=&flag&Signature=s",
            "https://api.versive.test/x?a=%20+b&sig=REDACTED&flag&Signature=REDACTED",
        ),
        ("https://api.versive.test/x?signature=lower", "https://api.versive.test/x?signature=lower"),
        ("https://api.versive.test/x?sig=a=b", "https://api.versive.test/x?sig=REDACTED"),
    ],
)
def test_url_full_hides_credentials_and_signatures(url: str, shown: str) -> None:
    """url.full as the semantic conventions ask: user and password, and signature query values, redacted."""
    assert _redacted(url) == shown


def run_python(code: str) -> str:
    """Run `code` in a fresh interpreter; its stdout."""
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_without_the_extra_nothing_of_opentelemetry_is_imported_and_calls_work() -> None:
    """Opentelemetry not importable: the client works, untraced; importing the package alone never loads it."""
    out = run_python(
        """
        import sys
        import versive_client
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry")))
        sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
        import asyncio
        from versive_client import VersiveClient
        from versive_client.testing import FakeVersive

        async def main():
            fake = FakeVersive(api_key="k")
            async with VersiveClient("k", base_url="https://api.versive.test", transport=fake.transport()) as client:
                interview = await client.create_interview(study_id="study_1")
            print(interview.study_id, "traceparent" in fake.requests[0].headers)

        asyncio.run(main())
        print(sorted(name for name in sys.modules if name.startswith("opentelemetry") and sys.modules[name]))
        """
    )
    assert out.splitlines() == ["[]", "study_1 False", "[]"]


def test_by_default_the_global_providers_are_used_once_set_and_telemetry_false_turns_it_off() -> None:
    """Before any global provider is set a call is left alone; then a meter provider, then a tracer provider."""
    out = run_python(
        """
        import asyncio
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from versive_client import VersiveClient
        from versive_client.testing import FakeVersive

        def measured(reader):
            data = reader.get_metrics_data()
            return sorted(m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics)

        async def main():
            fake = FakeVersive(api_key="k")
            made = {"transport": fake.transport(), "base_url": "https://api.versive.test"}
            async with VersiveClient("k", **made) as traced, VersiveClient("k", telemetry=False, **made) as quiet:
                await traced.create_interview(study_id="before any provider")
                reader = InMemoryMetricReader()
                metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
                await traced.create_interview(study_id="with a meter provider")
                print(measured(reader))
                exporter = InMemorySpanExporter()
                provider = TracerProvider()
                provider.add_span_processor(SimpleSpanProcessor(exporter))
                trace.set_tracer_provider(provider)
                await traced.create_interview(study_id="with both")
                await quiet.create_interview(study_id="telemetry=False")
            print(sorted(span.name for span in exporter.get_finished_spans()))
            flags = [request.headers.get("traceparent", "")[-2:] for request in fake.requests]
            print([flag and ("sampled" if int(flag, 16) & 1 else "not sampled") for flag in flags])

        asyncio.run(main())
        """
    )
    assert out.splitlines() == [
        "['http.client.request.duration', 'versive.client.call.duration']",
        "['POST /api/v1/interviews', 'versive.create_interview']",
        # none before a provider, nor with only metrics (no trace to pass on); then a sampled span
        "['', '', 'sampled', '']",
    ]


def test_an_opentelemetry_api_older_than_the_extra_asks_for_is_named_and_clients_still_work(tmp_path: Path) -> None:
    """opentelemetry-api 1.20 (from some other package): a warning naming it, untraced calls; Telemetry refused."""
    stub = tmp_path / "opentelemetry" / "version"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('__version__ = "1.20.0"\n')
    out = run_python(
        f"""
        import asyncio, logging, sys
        sys.path.insert(0, {str(tmp_path)!r})
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stdout)
        from versive_client import VersiveClient
        from versive_client.testing import FakeVersive

        async def main():
            fake = FakeVersive(api_key="k")
            made = {{"base_url": "https://api.versive.test", "transport": fake.transport()}}
            for _ in range(2):  # the warning comes once
                async with VersiveClient("k", **made) as client:
                    await client.create_interview(study_id="study_1")
            print(len(fake.interviews), "traceparent" in fake.requests[0].headers)

        asyncio.run(main())
        try:
            VersiveClient("k", telemetry=object())
        except ImportError as exc:
            print("refused:", exc)
        """
    )
    too_old = "versive_client.otel needs opentelemetry-api >= 1.30 (the otel extra); 1.20.0 is installed"
    assert out.splitlines() == [
        f"WARNING {too_old}: clients are not traced (pip install 'versive-client[otel]')",
        "2 False",
        f"refused: {too_old}",
    ]


def test_opentelemetry_is_imported_by_the_first_client_not_by_the_package() -> None:
    """With the extra installed, `import versive_client` loads no opentelemetry module; making a client does."""
    out = run_python(
        """
        import sys
        import versive_client
        print(any(name.startswith("opentelemetry") for name in sys.modules))
        versive_client.VersiveClient("k", telemetry=False)
        print(any(name.startswith("opentelemetry") for name in sys.modules))
        versive_client.VersiveClient("k")
        print(any(name.startswith("opentelemetry") for name in sys.modules))
        """
    )
    assert out.splitlines() == ["False", "False", "True"]


@pytest.mark.asyncio
@pytest.mark.parametrize("base_path", ["", "/v"])
async def test_a_method_with_a_path_parameter_is_named_by_its_operation_and_template(
    otel: Otel, base_path: str
) -> None:
    """interviews.get: the call span is named by the generated function, each attempt by the path template."""
    details = {"id": "i/1", "status": "open", "created_at": "2024-01-01T00:00:00Z"}
    paths: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(200, json=details)

    async with VersiveClient(
        KEY,
        base_url=f"https://api.versive.test{base_path}",
        transport=httpx.MockTransport(handle),
        telemetry=otel.telemetry,
    ) as client:
        interview = await client.interviews.get("i/1")
    assert interview.id == "i/1"
    assert paths == [f"{base_path}/api/v1/interviews/i%2F1"]
    assert otel.call_span().name == "versive.get_interview_by_id"
    [attempt] = otel.attempt_spans()
    assert attempt.name == "GET /api/v1/interviews/{id}"
    assert attempt.attributes is not None
    assert attempt.attributes["url.template"] == "/api/v1/interviews/{id}"
    assert attempt.attributes["url.full"] == f"https://api.versive.test{base_path}/api/v1/interviews/i%2F1"


@pytest.mark.asyncio
async def test_an_on_call_function_that_returns_no_observer_is_logged_and_the_call_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A duck-typed object without every method, or a dict: logged once by what it is; the call is created once."""

    class HeaderAdder:  # not a CallObserver: only what it needs
        def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:  # noqa: ARG002
            headers["x-tenant"] = "acme"

    fake = FakeVersive(api_key=KEY)
    with caplog.at_level(logging.ERROR, logger="versive_client"):
        async with in_process(fake, on_call=[lambda _call: HeaderAdder(), lambda _call: {}], telemetry=False) as client:
            interview = await client.create_interview(study_id="study_1")
    assert [i.id for i in fake.interviews] == [interview.id]
    messages = [record.getMessage() for record in caplog.records]
    assert any("returned a HeaderAdder, not a CallObserver" in message for message in messages), messages
    assert any("returned a dict, not a CallObserver" in message for message in messages), messages


def test_async_hooks_are_refused_when_the_client_is_made() -> None:
    """An async on_attempt hook would never run, an async on_call function never observe: refused, by name."""

    async def hook(attempt: Attempt) -> None:  # noqa: ARG001
        return None

    async def observe(call: Call) -> CallObserver:  # noqa: ARG001
        return CallObserver()

    with pytest.raises(TypeError, match="on_attempt must be plain functions, not coroutine functions"):
        VersiveClient(KEY, on_attempt=[hook])
    with pytest.raises(TypeError, match="on_call must be plain functions, not coroutine functions"):
        VersiveClient(KEY, on_call=[observe])  # type: ignore[list-item]

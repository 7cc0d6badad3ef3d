"""OpenTelemetry traces and metrics for every call: the ``otel`` extra (``pip install 'versive-client[otel]'``).

With opentelemetry-api installed, every `VersiveClient` reports through the global tracer
and meter providers (until the application sets one, calls skip this work); pass
``telemetry=Telemetry(tracer_provider=..., meter_provider=...)`` for others, or
``telemetry=False`` for none. Built on the client's public ``on_call`` hooks:

- a span per call (``versive.create_interview``, or the generated function's name), with a
  CLIENT span per HTTP attempt beneath it carrying OpenTelemetry's HTTP client attributes;
- the attempt span's W3C trace context on each request (``traceparent``), through the
  application's configured propagators;
- the ``http.client.request.duration`` histogram per attempt, ``versive.client.call.duration``
  per call and the ``versive.client.call.retries`` counter, with low-cardinality attributes.

No span or metric holds a header: the API key is never recorded.
"""

from __future__ import annotations

import functools
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from opentelemetry.version import __version__ as api_version

# Another package may have installed an older API than the extra asks for; refuse it by name
# here rather than fail later, inside a client, on an argument it does not know.
if tuple(map(int, re.findall(r"\d+", api_version)[:2])) < (1, 30):
    raise ImportError(
        f"versive_client.otel needs opentelemetry-api >= 1.30 (the otel extra); {api_version} is installed"
    )

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind, StatusCode

from versive_client._errors import APIStatusError
from versive_client._transport import Call, CallObserver
from versive_client._version import __version__

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider
    from opentelemetry.util.types import AttributeValue

    from versive_client._transport import Attempt

__all__ = ["Telemetry"]

SCOPE = "versive_client"
# The HTTP client semantic conventions' advice for http.client.request.duration, in seconds.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
# Query parameters whose values url.full must not show (the semantic conventions' list).
SECRET_QUERY_KEYS = frozenset({"AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"})


class Telemetry:
    """Traces and metrics for a client's calls: ``VersiveClient(telemetry=Telemetry(...))``.

    Args:
        tracer_provider: where spans go; the global tracer provider by default.
        meter_provider: where measurements go; the global meter provider by default.

    .. versionadded:: 0.3.0
    """

    def __init__(
        self, *, tracer_provider: TracerProvider | None = None, meter_provider: MeterProvider | None = None
    ) -> None:
        """Take the tracer and the instruments from the providers (global ones follow a provider set later)."""
        self.global_providers = tracer_provider is None and meter_provider is None
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        meter = metrics.get_meter(SCOPE, __version__, meter_provider)
        self.attempt_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.call_duration = meter.create_histogram(
            "versive.client.call.duration",
            unit="s",
            description="Duration of Versive SDK calls, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.retries = meter.create_counter(
            "versive.client.call.retries", unit="{retry}", description="Attempts the SDK made again after a failure."
        )

    def __call__(self, call: Call) -> CallObserver | None:
        """Trace and measure `call` (an ``on_call`` function); nothing while no global provider is set."""
        if self.global_providers and _no_global_provider():
            return None  # every span and measurement would be dropped: skip the work
        return _Traced(self, call)


def _no_global_provider() -> bool:
    """Neither a global tracer provider nor a global meter provider has been set."""
    # The API's stand-in meter provider is private (_ProxyMeterProvider), so it is known by its
    # name: were it renamed, every call would be measured as if a provider were set (slower, never wrong).
    return (
        isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
        and type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
    )


class _Traced(CallObserver):
    """One call's span, its attempts' spans, and their measurements."""

    def __init__(self, telemetry: Telemetry, call: Call) -> None:
        self.telemetry = telemetry
        self.call = call
        self.server, self.url = _where(call.url)
        self.operation = call.operation or call.method
        attributes: dict[str, AttributeValue] = {"versive.operation": self.operation, **self.server}
        attributes["versive.max_retries"] = call.max_retries
        if call.idempotency_key is not None:
            attributes["versive.idempotency_key"] = call.idempotency_key
        if call.deadline is not None:
            attributes["versive.deadline"] = call.deadline
        self.span = telemetry.tracer.start_span(f"versive.{self.operation}", attributes=attributes)
        # A span no one records (a no-op tracer, or sampled out) gets no attempt spans: each request
        # then carries the call span's context, or, if it has none, the caller's (an incoming one, say).
        valid = self.span.get_span_context().is_valid
        call_context = trace.set_span_in_context(self.span) if valid else context.get_current()
        self.recording = self.span.is_recording()
        # Current for the call: attempt spans, and spans the application makes in hooks, go beneath it.
        self.token = context.attach(call_context)
        # What every attempt's span starts with and every attempt's measurement carries.
        self.common: dict[str, AttributeValue] = {"http.request.method": call.method, **self.server}
        if call.route is not None:
            self.common["url.template"] = call.route
        self.started = time.monotonic()
        self.attempts = 0
        self.attempt: tuple[Span, Token[Context]] | None = None

    def before_attempt(self, number: int, headers: MutableMapping[str, str]) -> None:
        self.attempts = number
        if not self.recording:
            propagate.inject(headers)
            return
        call = self.call
        # The semantic conventions set the resend count on resends only; 0 marks the first attempt explicitly.
        attributes = {**self.common, "url.full": self.url, "http.request.resend_count": number - 1}
        name = f"{call.method} {call.route}" if call.route else call.method
        span = self.telemetry.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        attempt_context = trace.set_span_in_context(span)
        propagate.inject(headers, context=attempt_context)
        self.attempt = (span, context.attach(attempt_context))

    def after_attempt(self, attempt: Attempt) -> None:
        error_type = _error_type(attempt)
        outcome: dict[str, AttributeValue] = {}
        if attempt.status_code is not None:
            outcome["http.response.status_code"] = attempt.status_code
        if error_type is not None:
            outcome["error.type"] = error_type
        if self.attempt is not None:
            span, token = self.attempt
            self.attempt = None
            span.set_attributes({**outcome, **_attempt_attributes(attempt)})
            if error_type is not None:
                span.set_status(StatusCode.ERROR, str(attempt.error))
            context.detach(token)
            span.end()
        self.telemetry.attempt_duration.record(attempt.elapsed, {**self.common, **outcome})
        if attempt.wait is not None and error_type is not None:  # a retry follows a failed attempt
            retried = {"versive.operation": self.operation, "server.address": self.server["server.address"]}
            self.telemetry.retries.add(1, {**retried, "error.type": error_type})

    def end(self, error: BaseException | None) -> None:
        measured: dict[str, AttributeValue] = {"versive.operation": self.operation, **self.server}
        if error is not None:
            measured["error.type"] = kind = type(error).__name__
            if self.attempt is not None:  # cancelled, or a hook raised, during an attempt
                span, token = self.attempt
                span.set_attribute("error.type", kind)
                span.set_status(StatusCode.ERROR, kind)
                context.detach(token)
                span.end()
            self.span.set_attribute("error.type", kind)
            self.span.set_status(StatusCode.ERROR, str(error) or kind)
            self.span.record_exception(error)
        self.span.set_attribute("versive.attempts", self.attempts)
        context.detach(self.token)
        self.span.end()
        self.telemetry.call_duration.record(time.monotonic() - self.started, measured)


def _attempt_attributes(attempt: Attempt) -> dict[str, AttributeValue]:
    """The SDK's own attributes of an attempt span: number, key, wait, Retry-After, request id."""
    found: dict[str, AttributeValue] = {"versive.attempt": attempt.number}
    if attempt.idempotency_key is not None:
        found["versive.idempotency_key"] = attempt.idempotency_key
    if attempt.wait is not None:
        found["versive.retry.wait"] = attempt.wait
    if attempt.retry_after is not None:
        found["versive.retry_after"] = attempt.retry_after
        found["versive.retry_after.honoured"] = attempt.wait is not None and attempt.wait >= attempt.retry_after
    if attempt.request_id:
        found["versive.request_id"] = attempt.request_id
    return found


@functools.lru_cache(maxsize=64)
def _where(url: str) -> tuple[dict[str, AttributeValue], str]:
    """`url`'s ``server.*`` attributes and its ``url.full``; cached, as a client calls the same few URLs."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return {"server.address": parts.hostname or "", "server.port": port}, _redacted(url)


def _error_type(attempt: Attempt) -> str | None:
    """The semantic conventions' ``error.type``: the status code for a status of 400 or more, else the error's class."""
    error = attempt.error
    if error is None:
        return None
    if isinstance(error, APIStatusError):
        return str(error.status_code)
    return type(error).__name__


def _redacted(url: str) -> str:
    """`url` for ``url.full``: credentials in it and signature query values replaced by ``REDACTED``.

    Textually, so that the rest of the URL is as sent (a parse and re-encoding would normalise it).
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "REDACTED:REDACTED@" + netloc.rsplit("@", 1)[1]
    fields = parts.query.split("&")
    query = "&".join(
        f"{name}=REDACTED" if (name := field.partition("=")[0]) in SECRET_QUERY_KEYS else field for field in fields
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

"""The one generic call: each method's request as the generator builds it, its answer read in one place, options."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import pkgutil
import re
import unittest.mock
import uuid
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest

from versive_client import (
    NOT_GIVEN,
    APIResponseValidationError,
    Call,
    InternalServerError,
    NotFoundError,
    RetryPolicy,
    VersiveClient,
)
from versive_client._generated import api
from versive_client._generated.client import Client
from versive_client._generated.operations import OPERATIONS, Operation, Param
from versive_client._generated.resources import InterviewsResource
from versive_client.models import (
    CreateBatchQuestionsReqV1QuestionsItem,
    CreateInterviewReqV1MetadataType0,
    Folder,
    Interview,
    InterviewDetails,
    Study,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

pytestmark = pytest.mark.asyncio

DOCUMENT = json.loads(
    importlib.resources.files("versive_client._generated").joinpath("openapi.json").read_text(encoding="utf-8")
)
BASE = "https://api.versive.test"


def generated_module(operation: Operation) -> ModuleType:
    """The module the generator wrote for `operation` (its function's name), whatever its tag's folder."""
    for found in pkgutil.walk_packages(api.__path__, f"{api.__name__}."):
        if found.name.rsplit(".", 1)[-1] == operation.name:
            return importlib.import_module(found.name)
    raise LookupError(operation.name)


def spec_operation(operation: Operation) -> dict[str, Any]:
    """The operation's object in the corrected spec."""
    found: dict[str, Any] = DOCUMENT["paths"][operation.path][operation.method.lower()]
    return found


def example_call(operation: Operation) -> tuple[list[str], dict[str, Any]]:
    """Path arguments and keyword arguments for `operation`, from its documented request example where it has one."""
    example = spec_operation(operation).get("requestBody", {}).get("content", {}).get("application/json", {})
    body = example.get("example", {})
    path = [f"{param.key}-1/x" for param in operation.params if param.where == "path"]
    keywords = {p.name: f"{p.key}-1" for p in operation.params if p.where == "query"}
    keywords |= {p.name: body[p.key] for p in operation.params if p.where == "body" and p.key in body}
    return path, keywords


def example_answer(operation: Operation) -> tuple[int, Any]:
    """The documented success status and example body of `operation` (no body for a 204)."""
    status = operation.statuses[0]
    content = spec_operation(operation)["responses"][str(status)].get("content", {}).get("application/json", {})
    return status, content.get("example")


def method_of(client: object, operation: Operation) -> Callable[..., Any]:
    """``client.<resource>.<verb>``."""
    method: Callable[..., Any] = getattr(getattr(client, operation.resource), operation.verb)
    return method


def answering(status: int, body: Any = None, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering every request with `status` and `body` (JSON, or none)."""

    def handle(_request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handle


class Recorded:
    """A MockTransport that records each request and answers from a handler."""

    def __init__(self, handle: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.handle = handle

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handle(request)

    def client(self, **options: Any) -> VersiveClient:
        options.setdefault("retry_policy", RetryPolicy.no_wait())
        return VersiveClient("k", base_url=BASE, transport=httpx.MockTransport(self), telemetry=False, **options)


@pytest.fixture
def recorded() -> Callable[..., Recorded]:
    """Make a Recorded transport answering with a handler."""
    return Recorded


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.resource}.{op.verb}")
async def test_each_method_sends_and_reads_what_the_generated_function_does(operation: Operation) -> None:
    """The seam to the generated code, for every operation: the same request, and the same model from its example.

    Each method builds its request from the operation's description and reads its answer in
    one generic place; this holds both to the generated function of the operation, so a
    generator upgrade (or a description gone wrong) that changes either side fails here.
    """
    status, example = example_answer(operation)
    transport = Recorded(answering(status, example))
    path, keywords = example_call(operation)
    async with transport.client() as client:
        ours = await method_of(client, operation)(*path, **keywords)

    module = generated_module(operation)
    body_model = None
    generated_args: dict[str, Any] = {p.key: v for p, v in zip(
        [p for p in operation.params if p.where == "path"], path, strict=True)}  # fmt: skip
    generated_args |= {p.key: keywords[p.name] for p in operation.params if p.where == "query"}
    if operation.body:
        body = {p.key: keywords[p.name] for p in operation.params if p.where == "body" and p.name in keywords}
        model = module._get_kwargs.__annotations__["body"]  # noqa: SLF001 - the generated function's own request
        body_model = model.from_dict(body)
        generated_args["body"] = body_model
    kwargs = module._get_kwargs(**generated_args)  # noqa: SLF001
    expected = httpx.AsyncClient(base_url=BASE).build_request(**kwargs)
    [sent] = transport.requests
    assert (sent.method, sent.url.raw_path) == (expected.method, expected.url.raw_path)
    assert dict(sent.url.params) == dict(expected.url.params)
    if operation.body:
        assert sent.headers["content-type"] == "application/json"
        assert json.loads(sent.content) == json.loads(expected.content)
    else:
        assert sent.content == b""

    generated = Client(base_url=BASE, raise_on_unexpected_status=True)
    answer = httpx.Response(status, json=example) if example is not None else httpx.Response(status)
    theirs = module._parse_response(client=generated, response=answer)  # noqa: SLF001
    assert ours == theirs


async def test_create_interview_is_interviews_create(recorded: Callable[..., Recorded]) -> None:
    """versive.create_interview makes the same call as versive.interviews.create, and is the client's own method."""
    transport = recorded(answering(200, example_answer(OPERATIONS[3])[1]))
    async with transport.client() as client:
        by_alias = await client.create_interview(study_id="s", title="T", idempotency_key="k-1", extra_body={"a": 1})
        by_resource = await client.interviews.create(
            study_id="s", title="T", idempotency_key="k-1", extra_body={"a": 1}
        )
    assert by_alias == by_resource
    first, second = transport.requests
    assert (first.method, first.url, first.content) == (second.method, second.url, second.content)
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "k-1"
    # A method of the class, so a test double of the client has it (as before it was generated).
    double = unittest.mock.create_autospec(VersiveClient, instance=True)
    double.create_interview.return_value = by_alias
    assert await double.create_interview(study_id="s") is by_alias
    assert inspect.signature(VersiveClient.create_interview) == inspect.signature(InterviewsResource.create)


async def test_an_undocumented_success_status_is_read_as_the_documented_answer(
    recorded: Callable[..., Recorded],
) -> None:
    """The API did what was asked: a 200 where the spec says 201, or a 200 with a body for a 204, is read."""
    created = {"id": "f", "name": "N", "created_at": "2024-01-01T00:00:00Z"}
    async with recorded(answering(200, created)).client() as client:
        assert (await client.folders.create(name="N")).id == "f"
        assert await client.questions.delete("q") is None  # type: ignore[func-returns-value]


async def test_an_optional_id_may_be_empty_and_a_required_one_may_not(recorded: Callable[..., Recorded]) -> None:
    """The spec's own default for next_question_id is "": sent; an empty required argument is refused, naming it."""
    transport = recorded(answering(204))
    async with transport.client() as client:
        await client.question_logic.update("l_1", operation="equals", next_question_id="")
        with pytest.raises(ValueError, match="vid must not be empty"):
            await client.interviews.get_by_vid(vid=" ")
    assert json.loads(transport.requests[0].content) == {"operation": "equals", "next_question_id": ""}
    assert len(transport.requests) == 1


async def test_a_client_without_a_read_timeout_keeps_none_for_the_ai_edits(recorded: Callable[..., Recorded]) -> None:
    """No read limit on the client means none for ai_edit too: its own 180 s only lengthens a shorter one."""
    transport = recorded(answering(200, {"questions": [], "change_log": {}, "deleted_questions": []}))
    async with transport.client(timeout=httpx.Timeout(10, read=None)) as client:
        await client.studies.ai_edit("s", current_message="m", questions=[], language="English")
    assert transport.requests[0].extensions["timeout"]["read"] is None


async def test_a_list_is_a_list_of_models(recorded: Callable[..., Recorded]) -> None:
    """studies.list and folders.list: each item parsed into its model, unknown fields kept."""
    studies = [{"id": "s1", "title": "A", "created_at": "2024-01-01T00:00:00Z", "new_field": 1}]
    async with recorded(answering(200, studies)).client() as client:
        [study] = await client.studies.list()
    assert isinstance(study, Study)
    assert study.created_at == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert study["new_field"] == 1
    async with recorded(answering(200, [])).client() as client:
        assert await client.folders.list() == []


async def test_a_204_is_none(recorded: Callable[..., Recorded]) -> None:
    """questions.delete answers 204 with no body: None; its raw response says 204 and parses to None."""
    async with recorded(answering(204)).client() as client:
        assert await client.questions.delete("q_1") is None  # type: ignore[func-returns-value]
        raw = await client.with_raw_response.questions.delete("q_1")
    assert (raw.status_code, raw.content, raw.parse()) == (204, b"", None)


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        (200, b'{"id": "i", "status": "ope', {}, "with a body that is not JSON"),
        (200, b"", {}, "answered 200 without a body"),
        (200, b'{"status": "open", "created_at": "2024-01-01T00:00:00Z"}', {}, "without the required field 'id'"),
        (200, b"[]", {}, "with a JSON list where the spec has an object"),
        (200, b'{"id": "i", "status": "open", "created_at": "soon"}', {}, "does not match the spec"),
        (204, b"", {}, "answered 204 without a body"),
        (200, b"<html></html>", {"content-type": "text/html"}, r"with a body that is not JSON \(text/html\)"),
    ],
    ids=["truncated", "empty", "missing-field", "wrong-shape", "bad-date", "no-content", "html"],
)
async def test_an_answer_that_does_not_match_is_a_typed_error(
    recorded: Callable[..., Recorded], status: int, body: bytes, headers: dict[str, str], message: str
) -> None:
    """A 2xx the SDK cannot use is APIResponseValidationError, saying why, whether read at once or from raw."""
    headers = {"content-type": "application/json", **headers}
    transport = recorded(lambda _request: httpx.Response(status, content=body, headers=headers))
    async with transport.client() as client:
        with pytest.raises(APIResponseValidationError, match=message) as caught:
            await client.interviews.get("i")
        with pytest.raises(APIResponseValidationError, match=message):  # a body that is not JSON: at once
            (await client.with_raw_response.interviews.get("i")).parse()
    assert caught.value.response.status_code == status
    assert len(transport.requests) == 2, "a 2xx the SDK cannot use is never retried"


async def test_a_list_item_without_a_required_field_is_named(recorded: Callable[..., Recorded]) -> None:
    """One study of a list lacking its id: the error names the field."""
    async with recorded(answering(200, [{"title": "A", "created_at": "2024-01-01T00:00:00Z"}])).client() as client:
        with pytest.raises(APIResponseValidationError, match="without the required field 'id'"):
            await client.studies.list()
    async with recorded(answering(200, {"id": "s"})).client() as client:
        with pytest.raises(APIResponseValidationError, match="with a JSON dict where the spec has an array"):
            await client.studies.list()


async def test_the_raw_response_tells_status_headers_request_id_and_attempts(
    recorded: Callable[..., Recorded],
) -> None:
    """with_raw_response: the status, headers, request id and attempts, and parse() for the model."""
    answers = iter([httpx.Response(503), httpx.Response(200, json=[], headers={"X-Request-Id": "req-7"})])
    async with recorded(lambda _request: next(answers)).client() as client:
        raw = await client.with_raw_response.folders.list()
    assert (raw.status_code, raw.request_id, raw.attempts) == (200, "req-7", 2)
    assert raw.headers["x-request-id"] == "req-7"
    assert raw.parse() == []
    assert repr(raw) == "Response(status_code=200, attempts=2)"


async def test_deadline_none_clears_the_clients_deadline(recorded: Callable[..., Recorded]) -> None:
    """A call, or with_options, given deadline=None has none; NOT_GIVEN keeps the client's."""
    calls: list[Call] = []

    def watch(call: Call) -> None:
        calls.append(call)

    async with recorded(answering(200, [])).client(deadline=30, on_call=[watch]) as client:
        await client.folders.list()
        await client.folders.list(deadline=None)
        await client.folders.list(deadline=NOT_GIVEN)
        await client.with_options(deadline=None).folders.list()
        await client.with_options(deadline=NOT_GIVEN).folders.list(deadline=5)
    assert [call.deadline for call in calls] == [30.0, None, 30.0, None, 5.0]


async def test_extras_reach_the_server(recorded: Callable[..., Recorded]) -> None:
    """extra_headers, extra_query and extra_body go with the request; extra_body wins over an argument."""
    transport = recorded(answering(201, {"id": "f", "name": "N", "created_at": "2024-01-01T00:00:00Z"}))
    async with transport.client() as client:
        folder = await client.folders.create(
            name="n",
            extra_headers={"X-Team": "ops"},
            extra_query={"dry_run": True, "skip": None, "tag": ["a", "b"]},
            extra_body={"name": "N", "color": "teal"},
        )
    assert isinstance(folder, Folder)
    [sent] = transport.requests
    assert sent.headers["x-team"] == "ops"
    assert sent.url.params.multi_items() == [("dry_run", "true"), ("tag", "a"), ("tag", "b")]
    assert json.loads(sent.content) == {"name": "N", "color": "teal"}


@pytest.mark.parametrize(
    ("extras", "error", "message"),
    [
        ({"extra_headers": {"Idempotency-Key": "k"}}, ValueError, "extra_headers must not set Idempotency-Key"),
        ({"extra_headers": {"X-A": 1}}, TypeError, "extra_headers['X-A'] must be a string, got int"),
        ({"extra_query": [("a", 1)]}, TypeError, "extra_query must be a mapping or None, got list"),
        ({"extra_body": {1: "a"}}, TypeError, "extra_body keys must be strings, got int"),
        ({"extra_body": {"when": object()}}, ValueError, "when cannot be sent as JSON"),
    ],
)
async def test_bad_extras_are_refused_before_sending(
    recorded: Callable[..., Recorded], extras: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Extras are checked like every argument: named, before anything is sent."""
    transport = recorded(answering(500))
    async with transport.client() as client:
        with pytest.raises(error) as caught:
            await client.folders.create(name="n", **extras)
    assert message in str(caught.value)
    assert transport.requests == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.interviews.get(""), ValueError, "id must not be empty"),
        (lambda c: c.interviews.get(7), TypeError, "id must be a string, got int"),
        (lambda c: c.interviews.get_by_vid(vid=None), TypeError, "vid must be a string, got NoneType"),
        (lambda c: c.questions.update("q", display_order="3"), TypeError, "display_order must be an int or None"),
        (lambda c: c.questions.update("q", display_order=True), TypeError, "display_order must be an int or None"),
        (
            lambda c: c.question_logic.create(
                study_id="s",
                question_id="q",
                operation="eq",
                comparison_value_type="t",
                action_type="a",
                end_interview="yes",
            ),
            TypeError,
            "end_interview must be True or False, got str",
        ),
        (lambda c: c.questions.create_batch(questions="abc"), TypeError, "questions must be a list, got str"),
        (lambda c: c.studies.update("s", config=[1]), TypeError, "config must be a mapping or None, got list"),
        (lambda c: c.folders.create(name="n", access_policy="ALL"), ValueError, "access_policy must be one of"),
        (lambda c: c.studies.ai_edit("s", current_message="m", questions=[], language=3), TypeError, "language"),
    ],
    ids=[
        "empty-path",
        "int-path",
        "none-query",
        "str-int",
        "bool-int",
        "str-bool",
        "str-list",
        "list-map",
        "enum",
        "ai",
    ],
)
async def test_an_argument_that_the_spec_does_not_allow_is_refused_by_name(
    recorded: Callable[..., Recorded], call: Callable[[VersiveClient], Any], error: type[Exception], message: str
) -> None:
    """Every method checks its arguments against the spec's kinds and values, naming the one at fault."""
    transport = recorded(answering(500))
    async with transport.client() as client:
        with pytest.raises(error, match=message):
            await call(client)
    assert transport.requests == []


async def test_generated_models_and_json_values_are_sent_as_json(recorded: Callable[..., Recorded]) -> None:
    """Objects may be the generated models; dates, times and UUIDs in them are sent in ISO form."""
    transport = recorded(answering(201, {"created_question_ids": ["q"], "updated_question_ids": []}))
    item = CreateBatchQuestionsReqV1QuestionsItem.from_dict({"study_id": "s", "content": "Why?", "type": "text"})
    async with transport.client() as client:
        await client.questions.create_batch(questions=(item, {"id": "q_0", "content": "How?"}))
    transport.handle = answering(200, {**Interview("i", "s", "l", "open", dt.datetime.now(dt.UTC)).to_dict()})
    when, ref = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC), uuid.UUID(int=1)
    metadata = CreateInterviewReqV1MetadataType0.from_dict({"when": when, "ref": ref, "day": when.date()})
    async with transport.client() as client:
        await client.create_interview(study_id="s", metadata=metadata)
    assert json.loads(transport.requests[0].content) == {
        "questions": [{"study_id": "s", "content": "Why?", "type": "text"}, {"id": "q_0", "content": "How?"}]
    }
    assert json.loads(transport.requests[1].content)["metadata"] == {
        "when": "2024-05-01T12:00:00+00:00",
        "ref": "00000000-0000-0000-0000-000000000001",
        "day": "2024-05-01",
    }


async def test_a_nullable_field_given_none_is_sent_as_null_and_one_not_given_is_not_sent(
    recorded: Callable[..., Recorded],
) -> None:
    """title=None sends null (the spec allows it); leaving title out sends nothing for it."""
    transport = recorded(answering(200, example_answer(OPERATIONS[3])[1]))
    async with transport.client() as client:
        await client.create_interview(study_id="s", title=None)
        await client.create_interview(study_id="s")
    assert [json.loads(r.content) for r in transport.requests] == [{"study_id": "s", "title": None}, {"study_id": "s"}]


@pytest.mark.parametrize(
    ("call", "method"),
    [
        (lambda c: c.interviews.get("i"), "GET"),
        (lambda c: c.studies.update("s", config={"a": 1}), "PUT"),
        (lambda c: c.questions.delete("q"), "DELETE"),
    ],
    ids=["get", "put", "delete"],
)
async def test_reads_updates_and_deletes_are_retried_as_idempotent(
    recorded: Callable[..., Recorded], call: Callable[[VersiveClient], Any], method: str
) -> None:
    """GET, PUT and DELETE are retried after a 503, without an Idempotency-Key (repeating them does no harm)."""
    transport = recorded(answering(503))
    async with transport.client(max_retries=2) as client:
        with pytest.raises(InternalServerError):
            await call(client)
    assert [r.method for r in transport.requests] == [method] * 3
    assert all("idempotency-key" not in r.headers for r in transport.requests)


async def test_a_creation_is_retried_with_one_key_and_takes_the_callers(recorded: Callable[..., Recorded]) -> None:
    """A POST is retried under one Idempotency-Key: the caller's when given, else a random one."""
    transport = recorded(answering(503))
    async with transport.client(max_retries=1) as client:
        with pytest.raises(InternalServerError):
            await client.folders.create(name="n", idempotency_key="folder-n")
        with pytest.raises(InternalServerError):
            await client.studies.ai_edit("s", current_message="m", questions=[], language="English")
    keys = [r.headers["idempotency-key"] for r in transport.requests]
    assert keys[:2] == ["folder-n", "folder-n"]
    assert keys[2] == keys[3] != "folder-n"


async def test_an_agent_edit_is_never_sent_twice_unless_the_caller_asks(recorded: Callable[..., Recorded]) -> None:
    """agent_edit saves what the agent did: one attempt by default, whatever the client's max_retries."""
    transport = recorded(answering(503))
    async with transport.client(max_retries=5) as client:
        with pytest.raises(InternalServerError):
            await client.studies.agent_edit("s", message="add a question")
        assert len(transport.requests) == 1
        with pytest.raises(InternalServerError):
            await client.studies.agent_edit("s", message="add a question", max_retries=2)
    assert len(transport.requests) == 4
    assert len({r.headers["idempotency-key"] for r in transport.requests[1:]}) == 1


async def test_the_ai_edits_wait_minutes_for_their_answer_unless_told(recorded: Callable[..., Recorded]) -> None:
    """The AI edits read for 180 s by default: a shorter client timeout does not cut it; a call's, a longer one do."""
    answer: dict[str, list[str] | dict[str, str]] = {"questions": [], "change_log": {}, "deleted_questions": []}
    transport = recorded(answering(200, answer))
    async with transport.client(timeout=10) as client:
        await client.studies.ai_edit("s", current_message="m", questions=[], language="English")
        await client.studies.ai_edit("s", current_message="m", questions=[], language="English", timeout=20)
        with pytest.raises(APIResponseValidationError):
            await client.studies.agent_edit("s", message="m")  # the answer is ai_edit's shape: refused, not retried
    reads = [r.extensions["timeout"]["read"] for r in transport.requests]
    connects = [r.extensions["timeout"]["connect"] for r in transport.requests]
    assert reads == [180.0, 20.0, 180.0]
    assert connects == [10.0, 20.0, 10.0]
    transport = recorded(answering(200, answer))
    async with transport.client(timeout=httpx.Timeout(5, read=600)) as client:
        await client.studies.ai_edit("s", current_message="m", questions=[], language="English")
    assert transport.requests[0].extensions["timeout"]["read"] == 600.0, "a longer client read timeout is kept"


async def test_a_path_argument_is_quoted_and_named_in_errors(recorded: Callable[..., Recorded]) -> None:
    """An id with a slash stays one path segment; a NotFoundError names the path as sent."""
    async with recorded(answering(404, {"detail": "Not Found"})).client() as client:
        with pytest.raises(NotFoundError, match=r"GET /api/v1/interviews/a/b answered 404 Not Found: Not Found"):
            await client.interviews.get("a/b")


async def test_a_details_read_parses_every_documented_field(recorded: Callable[..., Recorded]) -> None:
    """The documented interview read back: statuses kept as they come, turns typed, times aware."""
    _, example = example_answer(next(op for op in OPERATIONS if op.name == "get_interview_by_id"))
    async with recorded(answering(200, {**example, "status": "archived_by_robot"})).client() as client:
        details = await client.interviews.get("i")
    assert isinstance(details, InterviewDetails)
    assert details.status == "archived_by_robot"
    assert isinstance(details.conversation_json, list)
    assert details.conversation_json[0].role == "assistant"
    assert details.completed_at == dt.datetime(2024, 1, 1, 0, 10, tzinfo=dt.UTC)


async def test_a_nullable_query_parameter_given_none_is_left_out(recorded: Callable[..., Recorded]) -> None:
    """As the generated functions do: None for a query parameter that may be null sends no parameter."""
    operation = Operation(
        name="search_interviews",
        method="GET",
        path="/api/v1/interviews/search",
        resource="interviews",
        verb="search",
        params=(Param("status", "status", "query", ("string", "null"), ()),),
        body=False,
        answer="any",
        statuses=(200,),
        summary="Search",
        read_timeout=None,
    )
    transport = recorded(answering(200, []))
    async with transport.client() as client:
        assert await client.call(operation, {"status": None}, list, {}) == []
        assert await client.call(operation, {"status": "open"}, list, {}) == []
    assert [str(r.url) for r in transport.requests] == [
        f"{BASE}/api/v1/interviews/search",
        f"{BASE}/api/v1/interviews/search?status=open",
    ]


ANSWERING = [op for op in OPERATIONS if op.answer is not None]


async def parsed(call: Any) -> object:
    """What the call answers, parsed when it is a raw response."""
    result = await call
    return result.parse() if hasattr(result, "parse") else result


@pytest.mark.parametrize("operation", ANSWERING, ids=lambda op: f"{op.resource}.{op.verb}")
@pytest.mark.parametrize("how", ["method", "raw response"])
async def test_a_truncated_or_incomplete_answer_is_a_typed_error_on_every_method(
    recorded: Callable[..., Recorded], operation: Operation, how: str
) -> None:
    """The documented answer cut short, or without a required field: APIResponseValidationError, never a raw error."""
    status, example = example_answer(operation)
    whole = json.dumps(example).encode()
    first = example[0] if isinstance(example, list) else example
    required = DOCUMENT["components"]["schemas"]
    schema = spec_operation(operation)["responses"][str(status)]["content"]["application/json"]["schema"]
    name = (schema.get("items") or schema)["$ref"].rsplit("/", 1)[-1]
    field = required[name]["required"][0]
    incomplete = {key: value for key, value in first.items() if key != field}
    bodies = [whole[: len(whole) // 2], json.dumps([incomplete] if isinstance(example, list) else incomplete).encode()]
    for body, problem in zip(
        bodies, ["with a body that is not JSON", f"without the required field {field!r}"], strict=True
    ):
        transport = recorded(
            lambda _request, body=body: httpx.Response(
                status, content=body, headers={"content-type": "application/json"}
            )
        )
        path, keywords = example_call(operation)
        async with transport.client() as client:
            target = client if how == "method" else client.with_raw_response
            with pytest.raises(APIResponseValidationError, match=problem):
                await parsed(method_of(target, operation)(*path, **keywords))


async def test_a_header_parameter_goes_in_the_headers(recorded: Callable[..., Recorded]) -> None:
    """A parameter the spec puts in a header is sent there, under its own name."""
    operation = Operation(
        name="get_export",
        method="GET",
        path="/api/v1/exports/{id}",
        resource="exports",
        verb="get",
        params=(Param("id", "id", "path", ("string",), ()), Param("if_match", "If-Match", "header", ("string",), ())),
        body=False,
        answer="any",
        statuses=(200,),
        summary="Get Export",
        read_timeout=None,
    )
    transport = recorded(answering(200, {}))
    async with transport.client() as client:
        assert await client.call(operation, {"id": "e 1", "if_match": '"v7"'}, dict, {}) == {}
    [sent] = transport.requests
    assert (sent.url.raw_path, sent.headers["if-match"]) == (b"/api/v1/exports/e%201", '"v7"')


async def test_the_body_is_compact_json_with_one_content_type_the_caller_may_choose(
    recorded: Callable[..., Recorded],
) -> None:
    """The body is compact UTF-8 JSON; extra_headers may name another content type, sent alone in any case."""
    transport = recorded(answering(200, {"id": "s", "title": "T", "created_at": "2024-01-01T00:00:00Z"}))
    async with transport.client() as client:
        await client.studies.update(
            "s", config={"name": "Zoë"}, extra_headers={"Content-Type": "application/merge+json"}
        )
    [sent] = transport.requests
    assert sent.content == '{"config":{"name":"Zoë"}}'.encode()
    assert sent.headers.get_list("content-type") == ["application/merge+json"]


async def test_header_values_may_hold_spaces_and_any_visible_character(recorded: Callable[..., Recorded]) -> None:
    """extra_headers values are sent as given when HTTP allows them: spaces and tabs inside, ! to ~."""
    transport = recorded(answering(200, []))
    async with transport.client() as client:
        await client.folders.list(extra_headers={"X-Team": "!research\tops ~"})
    assert transport.requests[0].headers["x-team"] == "!research\tops ~"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"when": object()}, "metadata['when'] cannot be sent as JSON: Object of type object is not JSON serializable"),
        ({"tags": ["a", {"b": float("inf")}]}, "metadata['tags'][1]['b'] cannot be sent as JSON: Out of range float"),
        ({"day": dt.date(2024, 1, 1), "bad": {1, 2}}, "metadata['bad'] cannot be sent as JSON: Object of type set"),
    ],
    ids=["object", "nested-infinity", "a-date-beside-a-set"],
)
async def test_a_value_json_cannot_hold_is_named_where_it_sits(
    recorded: Callable[..., Recorded], metadata: dict[str, Any], message: str
) -> None:
    """The error names the entry at fault, however deep, and only it (a date is JSON's, as ISO text)."""
    transport = recorded(answering(500))
    async with transport.client() as client:
        with pytest.raises(ValueError, match=re.escape(message)):
            await client.create_interview(study_id="s", metadata=metadata)
    assert transport.requests == []


async def test_a_mapping_that_holds_itself_is_refused_clearly(recorded: Callable[..., Recorded]) -> None:
    """Metadata that contains itself cannot be JSON: a ValueError naming where, not a recursion error."""
    loop: dict[str, Any] = {"a": 1}
    loop["self"] = loop
    async with recorded(answering(500)).client() as client:
        with pytest.raises(ValueError, match=r"metadata\['self'\] cannot be sent as JSON: Circular reference"):
            await client.create_interview(study_id="s", metadata=loop)


async def test_an_object_with_to_dict_that_is_no_generated_model_is_refused(recorded: Callable[..., Recorded]) -> None:
    """A table-like object with its own to_dict (a DataFrame, say) is not taken for a model: refused, not sent."""

    class Table:
        def to_dict(self) -> dict[str, Any]:
            return {"rows": 3}

    @attrs.define
    class Point:  # an attrs class of the application's own, with no to_dict
        x: int

    async with recorded(answering(500)).client() as client:
        with pytest.raises(TypeError, match="metadata must be a mapping or None, got Table"):
            await client.create_interview(study_id="s", metadata=Table())  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="metadata must be a mapping or None, got Point"):
            await client.create_interview(study_id="s", metadata=Point(1))  # type: ignore[arg-type]


async def test_an_enum_error_lists_the_values(recorded: Callable[..., Recorded]) -> None:
    """access_policy outside the spec's list: the message gives every value it may be."""
    async with recorded(answering(500)).client() as client:
        with pytest.raises(ValueError, match="access_policy must be one of") as caught:
            await client.folders.create(name="n", access_policy="ALL")  # type: ignore[arg-type]
    assert str(caught.value) == (
        "access_policy must be one of 'CAN_EDIT', 'CAN_EDIT_SURVEY_ONLY', 'CAN_VIEW', 'FULL_ACCESS', 'INVITE_ONLY', "
        "None, got 'ALL'"
    )


async def test_any_sequence_is_sent_as_a_json_list(recorded: Callable[..., Recorded]) -> None:
    """A list the caller builds lazily (a range, a tuple) goes as a JSON array."""
    transport = recorded(answering(201, {"created_question_ids": [], "updated_question_ids": []}))
    async with transport.client() as client:
        await client.questions.create_batch(questions=(), extra_body={"order": range(3)})
    assert json.loads(transport.requests[0].content) == {"questions": [], "order": [0, 1, 2]}


async def test_what_no_entry_explains_is_named_as_the_request(recorded: Callable[..., Recorded]) -> None:
    """A key JSON cannot hold deep in a mapping: the request is named, with JSON's own reason."""
    async with recorded(answering(500)).client() as client:
        with pytest.raises(ValueError, match=r"^the request cannot be sent as JSON: keys must be str, int"):
            await client.create_interview(study_id="s", metadata={"a": {("x", 1): 2}})

"""scripts/surface.py: how operations become resource methods, and what the spec must say for that to work."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import regenerate
import surface

CORRECTED = regenerate.corrected_spec()


def methods_of(document: dict[str, Any]) -> dict[str, surface.Method]:
    """The SDK's methods for `document`, by ``resource.verb``."""
    return {f"{m.resource}.{m.verb}": m for m in regenerate.surface_of(document)}


def with_operation(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """The corrected spec with one more operation, answering 200 with `schema: {}` unless it says otherwise."""
    document = copy.deepcopy(CORRECTED)
    operation.setdefault("responses", {"200": {"description": "OK", "content": {"application/json": {"schema": {}}}}})
    document["paths"].setdefault(path, {})[method] = operation
    return document


def test_every_operation_of_versives_document_has_the_documented_name() -> None:
    """The twenty operations are the methods the README lists, by the one rule and no hand-kept list."""
    assert set(methods_of(CORRECTED)) == {
        "interviews.create",
        "interviews.get",
        "interviews.get_by_vid",
        "interviews.update",
        "studies.list",
        "studies.create",
        "studies.get",
        "studies.update",
        "studies.ai_edit",
        "studies.agent_edit",
        "folders.list",
        "folders.create",
        "questions.list",
        "questions.create_batch",
        "questions.update",
        "questions.delete",
        "question_logic.list",
        "question_logic.create",
        "question_logic.update",
        "question_logic.delete",
    }


@pytest.mark.parametrize(
    ("path", "operation_id", "parameters", "answer", "expected"),
    [
        ("/api/v1/interviews/{id}/notes", "get_interview_notes", ["id"], {}, "interviews.get_notes"),
        ("/api/v1/interviews/{id}/x", "archive_interviews", ["id"], {}, "interviews.archive"),
        ("/api/v1/interviews/{id}/y", "get_transcript_by_id", ["id"], {}, "interviews.get_transcript"),
        ("/api/v1/interviews/z", "get_transcript_by_vid", [], {}, "interviews.get_transcript_by_vid"),
        # Only a bare `get` of a list becomes `list`.
        ("/api/v1/interviews/w", "get_transcripts", [], {"type": "array", "items": {}}, "interviews.get_transcripts"),
        ("/api/v1/interviews/v", "interviews", [], {}, "interviews.interviews"),
        ("/api/v1/interviews/u", "search", [], {}, "interviews.search"),
    ],
)
def test_the_naming_rule(
    path: str, operation_id: str, parameters: list[str], answer: dict[str, Any], expected: str
) -> None:
    """The resource's words (singular or plural) go, a trailing by_<path parameter> goes; a get of a list is list."""
    operation: dict[str, Any] = {
        "tags": ["Interviews"],
        "operationId": operation_id,
        "parameters": [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in parameters],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": answer}}}},
    }
    assert expected in methods_of(with_operation(path, "get", operation))


def test_a_get_of_a_list_is_list_and_a_get_of_one_is_get() -> None:
    """get_studies answers an array: studies.list; get_study_by_id answers one: studies.get(id)."""
    found = methods_of(CORRECTED)
    assert found["studies.list"].name == "get_studies"
    assert found["studies.get"].name == "get_study_by_id"
    assert [p.name for p in found["studies.get"].params] == ["id"]


def test_an_operation_is_renamed_or_moved_by_its_x_sdk_extension() -> None:
    """x-sdk name and resource, from the reviewed overlay, override the rule."""
    document = with_operation(
        "/api/v1/interviews/{id}/export",
        "post",
        {
            "tags": ["Interviews"],
            "operationId": "export_interview",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "x-sdk": {"resource": "exports", "name": "start"},
        },
    )
    assert methods_of(document)["exports.start"].name == "export_interview"


def test_the_ai_operations_carry_their_own_defaults() -> None:
    """The overlay gives agent_edit no retries and both AI edits a three-minute read timeout."""
    found = methods_of(CORRECTED)
    assert (found["studies.agent_edit"].max_retries, found["studies.agent_edit"].read_timeout) == (0, 180.0)
    assert (found["studies.ai_edit"].max_retries, found["studies.ai_edit"].read_timeout) == (None, 180.0)
    assert (found["studies.get"].max_retries, found["studies.get"].read_timeout) == (None, None)


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        (
            {"retries": 1},
            "x-sdk has 'retries'; known keys are resource, name, alias, max_retries, read_timeout, waiter",
        ),
        ({"max_retries": "0"}, "x-sdk.max_retries must be a int, got '0'"),
        ({"read_timeout": True}, "x-sdk.read_timeout must be a number, got True"),
        ("fast", "x-sdk must be a mapping"),
    ],
)
def test_a_bad_x_sdk_extension_is_refused_by_name(extension: object, message: str) -> None:
    """An x-sdk the SDK cannot read fails the regeneration, naming the operation and the key."""
    document = with_operation("/api/v1/interviews/q", "get", {"tags": ["Interviews"], "operationId": "q"})
    document["paths"]["/api/v1/interviews/q"]["get"]["x-sdk"] = extension
    with pytest.raises(regenerate.RegenerationError, match=re.escape(f"GET /api/v1/interviews/q: {message}")):
        methods_of(document)


def test_the_interview_waiter_comes_from_the_overlay() -> None:
    """x-sdk: {waiter: ...} on Get Interview By Id: interviews.wait, polling status until a final one."""
    found = methods_of(CORRECTED)
    assert found["interviews.get"].waiter == surface.Waiter("wait", "status", ("closed", "screened_out", "canceled"))
    assert [name for name, method in found.items() if method.waiter] == ["interviews.get"]


def _waiting(waiter: object, *, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The corrected spec with an operation reading an interview by id that declares `waiter`."""
    path_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    answer = {"$ref": "#/components/schemas/InterviewDetails"}
    operation = {
        "tags": ["Interviews"],
        "operationId": "peek",
        "parameters": [path_id, *(parameters or [])],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": answer}}}},
        "x-sdk": {"waiter": waiter},
    }
    return with_operation("/api/v1/interviews/{id}/peek", "get", operation)


GOOD_WAITER = {"name": "wait_peek", "field": "status", "until": ["closed"]}


@pytest.mark.parametrize(
    ("waiter", "message"),
    [
        ({"name": "w", "field": "status"}, "waiter must have exactly the keys name, field, until, got name, field"),
        ({**GOOD_WAITER, "every": 1}, "waiter must have exactly the keys name, field, until"),
        ({**GOOD_WAITER, "name": "wait-peek"}, "waiter.name must be a method name, got 'wait-peek'"),
        ({**GOOD_WAITER, "name": "class"}, "waiter.name must be a method name, got 'class'"),
        ({**GOOD_WAITER, "until": []}, "waiter.until must be a non-empty list of strings, got []"),
        ({**GOOD_WAITER, "until": "closed"}, "waiter.until must be a non-empty list of strings, got 'closed'"),
        ({**GOOD_WAITER, "field": "state"}, "waiter.field 'state' is not a field of the operation's answer"),
    ],
)
def test_a_bad_waiter_is_refused_by_name(waiter: dict[str, Any], message: str) -> None:
    """A waiter the SDK cannot generate fails the regeneration, naming the operation and what is wrong."""
    with pytest.raises(
        regenerate.RegenerationError, match=re.escape(f"GET /api/v1/interviews/{{id}}/peek: x-sdk.{message}")
    ):
        methods_of(_waiting(waiter))


def test_a_waiter_polls_an_operation_of_path_arguments_only() -> None:
    """A query parameter the waiter could not pass: refused."""
    query = {"name": "fields", "in": "query", "schema": {"type": "string"}}
    with pytest.raises(
        regenerate.RegenerationError, match="a waiter polls an operation whose only arguments are in its path"
    ):
        methods_of(_waiting(GOOD_WAITER, parameters=[query]))


def test_a_waiter_named_like_a_method_is_refused() -> None:
    """interviews.wait twice (a second waiter), or a waiter named like a method: both named, with the fix."""
    with pytest.raises(regenerate.RegenerationError, match=r"are both interviews.get; name one in the overlay"):
        methods_of(_waiting({**GOOD_WAITER, "name": "get"}))
    with pytest.raises(regenerate.RegenerationError) as caught:
        methods_of(_waiting({**GOOD_WAITER, "name": "wait"}))
    assert str(caught.value).startswith(
        "the waiter of GET /api/v1/interviews/{id} and the waiter of GET /api/v1/interviews/{id}/peek are both "
        "interviews.wait"
    )


def test_an_operation_the_generator_cannot_read_is_refused_not_dropped() -> None:
    """A path parameter the operation does not declare: the generator skips it; the surface says so."""
    document = with_operation("/api/v1/interviews/{id}/lost", "get", {"tags": ["Interviews"], "operationId": "lost"})
    with pytest.raises(regenerate.RegenerationError, match="the generator could not read an operation"):
        methods_of(document)


def test_two_operations_with_one_name_are_refused_with_the_fix() -> None:
    """Two methods named alike in one resource: both are named, with the overlay key that settles it."""
    path_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    document = with_operation(
        "/api/v1/studies/{id}/copy", "get", {"tags": ["Studies"], "operationId": "get_study", "parameters": [path_id]}
    )
    with pytest.raises(regenerate.RegenerationError) as caught:
        methods_of(document)
    assert str(caught.value) == (
        "GET /api/v1/studies/{id} and GET /api/v1/studies/{id}/copy are both studies.get; "
        "name one in the overlay (x-sdk: {name: ...})"
    )


@pytest.mark.parametrize(
    ("operation", "message"),
    [
        (
            {"parameters": [{"name": "timeout", "in": "query", "schema": {"type": "number"}}]},
            "two arguments (or an argument and an option) are named 'timeout'",
        ),
        (
            {"parameters": [{"name": "session", "in": "cookie", "schema": {"type": "string"}}]},
            "cookie parameters are not supported",
        ),
        (
            {
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {}}}},
                }
            },
            "only one JSON request body is supported",
        ),
        (
            {
                "responses": {
                    "200": {"description": "a", "content": {"application/json": {"schema": {"type": "string"}}}},
                    "201": {"description": "b", "content": {"application/json": {"schema": {}}}},
                }
            },
            "a success answer of StringProperty is not supported",
        ),
        (
            {
                "responses": {
                    "200": {"description": "a", "content": {"application/json": {"schema": {}}}},
                    "204": {"description": "b"},
                }
            },
            "documents more than one kind of success answer; the SDK reads exactly one",
        ),
        (
            {"responses": {"404": {"description": "missing"}}},
            "documents none of success answer; the SDK reads exactly one",
        ),
    ],
)
def test_what_a_method_cannot_express_is_refused_by_name(operation: dict[str, Any], message: str) -> None:
    """A spec shape the generic call cannot serve fails the regeneration loudly, naming the operation."""
    operation = {"tags": ["Interviews"], "operationId": "odd", **operation}
    with pytest.raises(regenerate.RegenerationError, match=f"^POST /api/v1/interviews/odd: {re.escape(message)}"):
        methods_of(with_operation("/api/v1/interviews/odd", "post", operation))


def test_each_argument_says_where_it_goes_and_what_it_may_be() -> None:
    """Kinds and listed values come from the schemas: nullable, enums, objects, arrays, booleans, integers."""
    found = methods_of(CORRECTED)
    params = {
        p.name: p for m in ("interviews.create", "folders.create", "question_logic.create") for p in found[m].params
    }
    assert params["study_id"][2:5] == ("body", ("string",), ())
    assert params["metadata"].kinds == ("object", "null")
    assert params["metadata"].annotation == "Mapping[str, Any] | CreateInterviewReqV1MetadataType0 | None"
    assert params["access_policy"].values == (
        "CAN_EDIT",
        "CAN_EDIT_SURVEY_ONLY",
        "CAN_VIEW",
        "FULL_ACCESS",
        "INVITE_ONLY",
        None,
    )
    assert params["end_interview"].kinds == ("boolean",)
    questions = found["questions.create_batch"].params[0]
    assert (questions.name, questions.kinds, questions.required) == ("questions", ("array",), True)
    assert questions.annotation == "Sequence[Mapping[str, Any] | CreateBatchQuestionsReqV1QuestionsItem]"
    order = found["questions.update"].params[-2]
    assert (order.name, order.kinds) == ("display_order", ("integer", "null"))
    # A field named like a Python builtin keeps the spec's name; the generated model says type_.
    assert "type" in {p.name for p in found["studies.create"].params}


def test_the_reference_table_lists_every_method_with_its_request() -> None:
    """One row per method: the call, the HTTP request, the spec's summary."""
    table = surface.reference_table(regenerate.surface_of(CORRECTED))
    rows = table.splitlines()
    assert len(rows) == 2 + 20 + 1  # the header, the operations, and the waiter interviews.wait
    assert "| `versive.interviews.get(id)` | `GET /api/v1/interviews/{id}` | Get Interview By Id |" in rows
    assert "| `versive.studies.list()` | `GET /api/v1/studies` | Get Studies |" in rows

"""versive_client.testing._spec: the fake's routes from the spec, and jsonschema's errors worded as FastAPI's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import GENERATED

from versive_client.testing import _spec

MISSING = ("field required", "value_error.missing")
ENUM = "type_error.enum"


def problem(loc: list[str | int], msg: str, kind: str) -> dict[str, Any]:
    """One FastAPI detail entry."""
    return {"loc": loc, "msg": msg, "type": kind}


def test_the_document_is_the_generated_one() -> None:
    """The fake reads the corrected spec the client is generated from, shipped in the package."""
    assert _spec.document() == json.loads((GENERATED / "openapi.json").read_text(encoding="utf-8"))


def test_every_operation_of_the_spec_is_a_route() -> None:
    """One route per operation, with the spec's success status."""
    operations = {
        op["operationId"]: (method.upper(), template)
        for template, item in _spec.document()["paths"].items()
        for method, op in item.items()
    }
    assert {route.operation_id: (route.method, route.template) for route in _spec.routes()} == operations
    assert len(operations) == 20
    assert _spec.route_of("create_study").status == 201
    assert _spec.route_of("delete_question").status == 204
    assert _spec.route_of("get_studies").status == 200


@pytest.mark.parametrize(
    ("method", "path", "operation", "params"),
    [
        ("POST", "/api/v1/questions/batch", "create_questions_batch", {}),
        ("PUT", "/api/v1/questions/batch", "update_question", {"question_id": "batch"}),
        ("GET", "/api/v1/interviews/a%20b%2Fc", "get_interview_by_id", {"id": "a b/c"}),
        ("POST", "/api/v1/studies/s-1/ai-edit", "ai_edit_study", {"study_id": "s-1"}),
    ],
)
def test_a_path_resolves_to_its_operation(method: str, path: str, operation: str, params: dict[str, str]) -> None:
    """A literal template wins over a parameter; path parameters are percent-decoded."""
    route, found, allowed = _spec.resolve(method, path)
    assert route is not None
    assert (route.operation_id, found, allowed) == (operation, params, ())


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/interviews", ("GET", "POST")),
        ("GET", "/api/v1/questions/batch", ("POST",)),
        ("POST", "/api/v1/questions/q-1", ("PUT", "DELETE")),
        ("GET", "/api/v1/nothing", ()),
        ("GET", "/api/v1/interviews/a/b", ()),
    ],
)
def test_a_method_the_path_lacks_names_the_methods_it_has(method: str, path: str, allowed: tuple[str, ...]) -> None:
    """No route: the methods of the most literal template that matches, or none for a path the spec lacks."""
    assert _spec.resolve(method, path) == (None, {}, allowed)


SCHEMA = _spec.schema_of(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 2},
            "count": {"type": "integer"},
            "ratio": {"type": "number"},
            "on": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "kind": {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]},
            "either": {"type": ["object", "null"]},
            "message": {"$ref": f"{_spec.SPEC_URI}#/components/schemas/StudyMessage"},
        },
        "required": ["name", "count"],  # after the properties, as in the spec: jsonschema reports it last
    }
)


@pytest.mark.parametrize(
    ("instance", "expected"),
    [
        pytest.param({}, [problem(["x", "name"], *MISSING), problem(["x", "count"], *MISSING)], id="required-in-order"),
        pytest.param(
            {"count": "1"},
            [
                problem(["x", "name"], *MISSING),
                problem(["x", "count"], "value is not a valid integer", "type_error.integer"),
            ],
            id="a-missing-field-in-its-place",
        ),
        pytest.param(
            {"count": "1", "name": 1},
            [
                problem(["x", "name"], "str type expected", "type_error.str"),
                problem(["x", "count"], "value is not a valid integer", "type_error.integer"),
            ],
            id="types-in-declared-order",
        ),
        pytest.param(
            {"name": "ab", "count": 1, "ratio": "x", "on": 1, "tags": "x"},
            [
                problem(["x", "ratio"], "value is not a valid float", "type_error.float"),
                problem(["x", "on"], "value could not be parsed to a boolean", "type_error.bool"),
                problem(["x", "tags"], "value is not a valid list", "type_error.list"),
            ],
            id="float-bool-list",
        ),
        pytest.param(
            {"name": "ab", "count": None, "tags": ["ok", 2]},
            [
                problem(["x", "count"], "none is not an allowed value", "type_error.none.not_allowed"),
                problem(["x", "tags", 1], "str type expected", "type_error.str"),
            ],
            id="null-and-an-item",
        ),
        pytest.param(
            {"name": "ab", "count": 1, "note": 5, "kind": "c", "either": [], "message": {"title": 5}},
            [
                problem(["x", "note"], "str type expected", "type_error.str"),
                problem(["x", "kind"], "value is not a valid enumeration member; permitted: 'a', 'b'", ENUM),
                problem(["x", "either"], "value is not a valid dict", "type_error.dict"),
                problem(["x", "message", "title"], "str type expected", "type_error.str"),
            ],
            id="any-of-reports-the-branch-that-is-not-null",
        ),
        pytest.param(
            {"name": "a", "count": 1},
            [problem(["x", "name"], "'a' is too short", "value_error.minLength")],
            id="another-keyword-as-jsonschema-words-it",
        ),
        pytest.param({"name": "ab", "count": 1, "note": None, "either": None}, [], id="null-where-allowed"),
        pytest.param([], [problem(["x"], "value is not a valid dict", "type_error.dict")], id="not-an-object"),
    ],
)
def test_problems_are_worded_as_fastapi_words_them(instance: object, expected: list[dict[str, Any]]) -> None:
    """Each jsonschema error is one detail entry under the given location, in the order the schema declares."""
    assert _spec.problems(SCHEMA, instance, ["x"]) == expected


def test_defaults_come_from_the_spec() -> None:
    """A create body gets the defaults its schema declares, and keeps what it sent."""
    assert _spec.with_defaults("CreateInterviewReqV1", {"study_id": "s"}) == {"study_id": "s", "language": "English"}
    assert _spec.with_defaults("CreateStudyReqV1", {"title": "t", "mode": "VIDEO"}) == {
        "title": "t",
        "mode": "VIDEO",
        "type": "VERSIVE_STUDY",
    }

"""The corrected spec at run time: the fake's routes, and its requests checked as FastAPI reports problems.

The document is ``versive_client/_generated/openapi.json``, the one the client is
generated from (it ships in the package), read once, on first use. Requests are checked
by ``jsonschema`` (Draft 2020-12 is the dialect of OpenAPI 3.1 schemas) against the
spec's own schemas, with every ``$ref`` resolved in that document; its errors are then
worded as FastAPI (pydantic v1) words them, since that shape is what clients of the real
API see: ``{"loc": ["body", "study_id"], "msg": "field required", "type": "value_error.missing"}``.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from attrs import frozen
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from jsonschema.exceptions import ValidationError

# Where the document sits in the validators' registry: `$ref`s below point into it by this URI.
SPEC_URI = "urn:versive-client:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")

Problem = dict[str, Any]

# pydantic v1's wording of "not of this JSON type", which FastAPI passes on.
_TYPE_ERRORS = {
    "string": ("str type expected", "type_error.str"),
    "object": ("value is not a valid dict", "type_error.dict"),
    "array": ("value is not a valid list", "type_error.list"),
    "integer": ("value is not a valid integer", "type_error.integer"),
    "number": ("value is not a valid float", "type_error.float"),
    "boolean": ("value could not be parsed to a boolean", "type_error.bool"),
}


@functools.cache
def document() -> dict[str, Any]:
    """The corrected spec, parsed once."""
    text = importlib.resources.files("versive_client._generated").joinpath("openapi.json").read_text(encoding="utf-8")
    parsed: dict[str, Any] = json.loads(text)
    return parsed


@functools.cache
def _registry() -> Registry[Any]:
    # Every `$ref` made absolute (they are all local, `#/...`), so that any part of the
    # document stands alone as a schema: a validator compiled on it never looks its root up again.
    contents = _absolute_refs(document())
    registry: Registry[Any] = Registry().with_resource(
        SPEC_URI, Resource.from_contents(contents, default_specification=DRAFT202012)
    )
    return registry


def _absolute_refs(node: Any) -> Any:  # noqa: ANN401 - any JSON
    if isinstance(node, dict):
        return {
            key: f"{SPEC_URI}{value}" if key == "$ref" and value.startswith("#") else _absolute_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(item) for item in node]
    return node


def _pointer(*parts: str | int) -> str:
    """A `$ref` to the node at `parts` of the document (JSON Pointer, percent-encoded for a URI)."""
    tokens = (str(part).replace("~", "~0").replace("/", "~1") for part in parts)
    return f"{SPEC_URI}#{quote('/' + '/'.join(tokens), safe='/~')}"


def _resolved(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """`schema`, or what its `$ref` (and theirs, in turn) points to."""
    while "$ref" in schema:
        schema = _registry().resolver().lookup(schema["$ref"]).contents
    return schema


@frozen
class Schema:
    """A schema of the document, ready to check instances: its validator, and the order it declares its fields in."""

    validator: Draft202012Validator
    order: Mapping[str, int]


def schema_of(schema: Mapping[str, Any]) -> Schema:
    """`schema`, ready to check instances; a `$ref` in it may point into the document (see `SPEC_URI`)."""
    schema = _resolved(schema)
    validator = Draft202012Validator(schema, registry=_registry())
    return Schema(validator, {name: i for i, name in enumerate(schema.get("properties", {}))})


@functools.cache
def component(name: str) -> Schema:
    """``#/components/schemas/<name>``."""
    return schema_of({"$ref": _pointer("components", "schemas", name)})


def properties(name: str) -> tuple[str, ...]:
    """The names a component schema declares, in the spec's order."""
    return tuple(document()["components"]["schemas"][name].get("properties", {}))


def with_defaults(name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with the defaults component schema `name` gives the fields it lacks, as FastAPI fills them in."""
    declared = document()["components"]["schemas"][name].get("properties", {})
    return {**{key: field["default"] for key, field in declared.items() if "default" in field}, **body}


@frozen
class Route:
    """One operation: the method and path template that reach it, and how to check its request."""

    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    status: int
    query: Schema | None
    body: Schema | None
    body_required: bool

    def check(self, query: Mapping[str, str], content_type: str | None, body: bytes) -> tuple[Any, list[Problem]]:
        """The request's JSON body (None without one) and its problems, query's first, as FastAPI orders them."""
        found = problems(self.query, dict(query), ["query"]) if self.query is not None else []
        if self.body is None:
            return None, found
        payload, body_problems = _parse_body(content_type, body, required=self.body_required)
        if not body_problems and body.strip():
            body_problems = problems(self.body, payload, ["body"])
        return payload, found + body_problems


@functools.cache
def routes() -> tuple[Route, ...]:
    """Every operation of the spec, the more literal templates first: ``/questions/batch``, then ``/questions/{id}``."""
    paths = document()["paths"]
    found = [
        _route(template, method, item[method])
        for template, item in paths.items()
        for method in METHODS
        if method in item
    ]
    return tuple(sorted(found, key=lambda route: route.template.count("{")))


def _route(template: str, method: str, operation: Mapping[str, Any]) -> Route:
    pattern = re.compile("".join(_segment(part) for part in re.split(r"(\{[^}]+\})", template)))
    query = [(i, p) for i, p in enumerate(operation.get("parameters", [])) if p["in"] == "query"]
    query_schema = {
        "type": "object",
        "properties": {
            p["name"]: _resolved({"$ref": _pointer("paths", template, method, "parameters", i, "schema")})
            for i, p in query
        },
        "required": [p["name"] for _, p in query if p.get("required")],
    }
    request_body = operation.get("requestBody")
    body = None
    if request_body is not None:
        where = ("paths", template, method, "requestBody", "content", "application/json", "schema")
        body = schema_of({"$ref": _pointer(*where)})
    return Route(
        operation_id=operation["operationId"],
        method=method.upper(),
        template=template,
        pattern=pattern,
        status=min(int(status) for status in operation["responses"] if status.startswith("2")),
        query=schema_of(query_schema) if query else None,
        body=body,
        body_required=bool(request_body and request_body.get("required")),
    )


def _segment(part: str) -> str:
    if part.startswith("{"):
        return f"(?P<{part[1:-1]}>[^/]+)"
    return re.escape(part)


def resolve(method: str, path: str) -> tuple[Route | None, dict[str, str], tuple[str, ...]]:
    """The route of `method` `path` and its path parameters; else None and the methods the path has (none: no path)."""
    allowed: tuple[str, ...] = ()
    named: str | None = None  # the most literal template that matches: the resource the path names
    for route in routes():
        match = route.pattern.fullmatch(path)
        if match is None:
            continue
        if route.method == method:
            return route, {name: unquote(value) for name, value in match.groupdict().items()}, ()
        if named in {None, route.template}:
            named = route.template
            allowed = (*allowed, route.method)
    return None, {}, allowed


def problems(schema: Schema, instance: object, loc: Sequence[str | int]) -> list[Problem]:
    """`instance`'s problems against `schema`, as FastAPI's ``detail`` entries under `loc`.

    One entry per location, in the order the schema declares its fields (as FastAPI
    reports a model's).
    """
    found: dict[str, Problem] = {}
    for error in schema.validator.iter_errors(instance):
        for entry in _entries(error, list(loc)):
            found.setdefault(json.dumps(entry["loc"]), entry)
    depth = len(loc)

    def position(entry: Problem) -> int:
        where = entry["loc"]
        return schema.order.get(where[depth], len(schema.order)) if len(where) > depth else -1

    return sorted(found.values(), key=position)


def _entries(error: ValidationError, loc: list[str | int]) -> Iterator[Problem]:
    where = [*loc, *error.absolute_path]
    instance: Any = error.instance
    value: Any = error.validator_value  # the keyword's value in the schema: the names required, the type, ...
    if error.validator == "required":
        for name in value:
            if name not in instance:
                yield problem([*where, name], "field required", "value_error.missing")
    elif instance is None:
        yield problem(where, "none is not an allowed value", "type_error.none.not_allowed")
    elif error.validator in {"anyOf", "oneOf"}:
        # The instance is not null (null failed above), so a "null" branch says nothing: report the first other one.
        yield from _entries(min(error.context, key=_is_null_branch), loc)
    elif error.validator == "type":
        expected = value if isinstance(value, list) else [value]
        kind = next((name for name in expected if name != "null"), expected[0])
        yield problem(where, *_TYPE_ERRORS.get(kind, (error.message, f"type_error.{kind}")))
    elif error.validator == "enum":
        permitted = ", ".join(repr(member) for member in value)
        yield problem(where, f"value is not a valid enumeration member; permitted: {permitted}", "type_error.enum")
    else:
        yield problem(where, error.message, f"value_error.{error.validator}")


def _is_null_branch(error: ValidationError) -> bool:
    return error.validator == "type" and error.validator_value == "null"


def _parse_body(content_type: str | None, body: bytes, *, required: bool) -> tuple[Any, list[Problem]]:
    """The JSON body, or FastAPI's problem with it: not JSON, empty, or undecodable (with the position)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    is_json = media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )
    if media_type and not is_json:
        return None, [problem(["body"], "value is not a valid dict", "type_error.dict")]
    if not body.strip():
        return None, [problem(["body"], "field required", "value_error.missing")] if required else []
    try:
        return json.loads(body), []
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        return None, [problem(["body", position], str(exc), "value_error.jsondecode")]


def problem(loc: list[str | int], msg: str, kind: str) -> Problem:
    """One FastAPI ``detail`` entry."""
    return {"loc": loc, "msg": msg, "type": kind}


def route_of(operation_id: str) -> Route:
    """The route of the operation with this operationId."""
    return next(route for route in routes() if route.operation_id == operation_id)

"""The rules scripts/spec_diff.py classifies changes by: one case each, and each verdict proven on generated code.

Every case is a minimal before/after pair of specs and a probe: code written against the
client generated from the *before* spec. The round trip generates both clients with the
pinned openapi-python-client, type-checks the probe against each with mypy --strict, and
runs it against a loopback-free mock of the server each spec describes. A change is
breaking when the probe, correct against the old client and the old server, fails against
the new client (type check or run) or when the old client meets the new server. Each rule's
verdict in spec_diff.RULES must agree with what the round trip finds.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import importlib
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from attrs import frozen
from jsonschema import Draft202012Validator
from spec_diff import RULES, compare

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

PATH = "/things/{thing_id}"
SERVER = "https://api.mini.test"
Doc = dict[str, Any]


def ref(name: str) -> dict[str, str]:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: Any) -> dict[str, Any]:
    """A JSON content map for `schema`."""
    return {"application/json": {"schema": schema}}


def mini() -> Doc:
    """The before spec of most cases: one operation, with each kind of thing a rule is about."""
    thing_in = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["a", "b"]},
            "size": {"type": "integer"},
            "note": {"type": ["string", "null"]},
            "colour": {"type": "string", "default": "red"},
            "config": ref("Config"),
            "tags": {"type": "array", "items": {"type": "string"}},
            "shape": {"oneOf": [ref("Circle"), ref("Square"), ref("Triangle")]},
        },
    }
    thing = {
        "type": "object",
        "required": ["id", "status", "name", "created_at"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "closed"]},
            "name": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "score": {"type": "integer"},
            "note": {"type": ["string", "null"]},
            "config": ref("Config"),
            "labels": {"type": "array", "items": {"type": "string"}},
            "shape": {"oneOf": [ref("Circle"), ref("Square")]},
        },
    }
    shape = {"type": "object", "additionalProperties": False}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mini", "version": "1"},
        "servers": [{"url": SERVER}],
        "paths": {
            "/things": {
                "get": {
                    "operationId": "list_things",
                    "responses": {
                        "200": {"description": "OK", "content": json_body({"type": "array", "items": ref("Thing")})}
                    },
                }
            },
            PATH: {
                "post": {
                    "operationId": "update_thing",
                    "parameters": [
                        {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "dry_run", "in": "query", "required": False, "schema": {"type": "boolean"}},
                    ],
                    "requestBody": {"required": True, "content": json_body(ref("ThingIn"))},
                    "responses": {
                        "200": {"description": "OK", "content": json_body(ref("Thing"))},
                        "404": {"description": "Not found"},
                    },
                    "security": [{"bearer": []}],
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "ThingIn": thing_in,
                "Thing": thing,
                "Config": {
                    "type": "object",
                    "properties": {"welcome_message": {"type": "string"}, "parent": ref("Config")},
                },
                "Circle": {**shape, "required": ["radius"], "properties": {"radius": {"type": "number"}}},
                "Square": {**shape, "required": ["side"], "properties": {"side": {"type": "number"}}},
                "Triangle": {**shape, "required": ["base"], "properties": {"base": {"type": "number"}}},
            },
        },
    }


THING = {
    "id": "t1",
    "status": "open",
    "name": "n",
    "created_at": "2024-01-01T00:00:00Z",
    "score": 1,
    "note": "x",
    "config": {"welcome_message": "hi"},
    "labels": ["a"],
    "shape": {"radius": 1.0},
}


def op(doc: Doc) -> Doc:
    """The POST operation."""
    operation: Doc = doc["paths"][PATH]["post"]
    return operation


def schemas(doc: Doc) -> Doc:
    """The component schemas."""
    found: Doc = doc["components"]["schemas"]
    return found


def prop(doc: Doc, model: str, name: str) -> Doc:
    """One property of a component schema."""
    found: Doc = schemas(doc)[model]["properties"][name]
    return found


@frozen
class Answer:
    """What the server of a spec answers."""

    status: int = 200
    body: Any = THING
    content_type: str = "application/json"


@frozen
class Case:
    """A minimal before/after pair for one rule, and code written against the before client."""

    rule: str
    after: Callable[[Doc], object]
    before: Callable[[Doc], object] = lambda _: None
    also: tuple[str, ...] = ()
    fields: str = ""  # more ThingIn(...) arguments
    args: str = ""  # more update_thing arguments
    client: str = 'AuthenticatedClient(base_url=base_url, token="tok", httpx_args={"transport": transport})'
    call: str = ""  # replaces the call and its check
    imports: str = ""  # more names from models
    uses: str = ""  # more lines using the answer
    answer_before: Answer = Answer()
    answer_after: Answer = Answer()

    @property
    def id(self) -> str:
        """The test id."""
        return self.rule + ("" if self.also == () else "+" + "+".join(self.also))

    def documents(self) -> tuple[Doc, Doc]:
        """The before and after specs."""
        before = mini()
        self.before(before)
        after = copy.deepcopy(before)
        self.after(after)
        return before, after


def _set(target: Doc, key: str, value: Any) -> None:
    target[key] = value


def _rename_config(doc: Doc) -> None:
    schemas(doc)["Settings"] = schemas(doc).pop("Config")
    text = json.dumps(doc).replace("#/components/schemas/Config", "#/components/schemas/Settings")
    doc.update(json.loads(text))


def _status_201(doc: Doc) -> None:
    op(doc)["responses"]["201"] = op(doc)["responses"]["200"]


READ_SCORE = "    if not isinstance(thing.score, Unset):\n        print(thing.score + 1)"
CASES = [
    Case("operation-added", lambda d: _set(d["paths"][PATH], "get", {**op(d), "operationId": "get_thing"})),
    Case("operation-removed", lambda d: d["paths"][PATH].pop("post")),
    Case("operation-id-changed", lambda d: _set(op(d), "operationId", "modify_thing")),
    Case("operation-tag-changed", lambda d: _set(op(d), "tags", ["things"])),
    Case("server-added", lambda d: d["servers"].append({"url": "https://eu.mini.test"})),
    Case("server-removed", lambda d: _set(d, "servers", [{"url": "https://api2.mini.test"}]), also=("server-added",)),
    Case(
        "auth-required",
        lambda d: _set(op(d), "security", [{"bearer": []}]),
        before=lambda d: _set(op(d), "security", []),
        client='Client(base_url=base_url, httpx_args={"transport": transport})',
    ),
    Case("auth-optional", lambda d: _set(op(d), "security", [])),
    Case(
        "auth-scheme-changed",
        lambda d: _set(
            d["components"]["securitySchemes"], "bearer", {"type": "apiKey", "in": "header", "name": "X-Key"}
        ),
    ),
    Case(
        "parameter-added-required",
        lambda d: op(d)["parameters"].append(
            {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
    ),
    Case(
        "parameter-added-optional",
        lambda d: op(d)["parameters"].append({"name": "region", "in": "query", "schema": {"type": "string"}}),
    ),
    Case("parameter-removed", lambda d: op(d)["parameters"].pop(1), args=", dry_run=True"),
    Case("parameter-made-required", lambda d: op(d)["parameters"][1].update(required=True)),
    Case(
        "parameter-made-optional",
        lambda d: op(d)["parameters"][1].update(required=False),
        before=lambda d: op(d)["parameters"][1].update(required=True),
        args=", dry_run=True",
    ),
    Case(
        "request-body-made-required",
        lambda d: op(d)["requestBody"].update(required=True),
        before=lambda d: op(d)["requestBody"].update(required=False),
        call='    thing = await update_thing.asyncio(client=client, thing_id="t1")\n'
        "    assert isinstance(thing, Thing)",
    ),
    Case("request-body-made-optional", lambda d: op(d)["requestBody"].update(required=False)),
    Case(
        "request-media-type-added",
        lambda d: _set(
            op(d)["requestBody"]["content"],
            "application/octet-stream",
            {"schema": {"type": "string", "format": "binary"}},
        ),
    ),
    Case(
        "request-media-type-removed",
        lambda d: _set(
            op(d)["requestBody"],
            "content",
            {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        ),
        also=("request-media-type-added",),
    ),
    Case("success-status-added", _status_201, answer_after=Answer(201)),
    Case("success-status-removed", lambda d: op(d)["responses"].pop("201"), before=_status_201),
    Case("error-status-added", lambda d: _set(op(d)["responses"], "409", {"description": "Conflict"})),
    Case("error-status-removed", lambda d: op(d)["responses"].pop("404")),
    Case(
        "response-media-type-added",
        lambda d: _set(
            op(d)["responses"]["200"]["content"],
            "application/octet-stream",
            {"schema": {"type": "string", "format": "binary"}},
        ),
        answer_after=Answer(body="raw bytes", content_type="application/octet-stream"),
    ),
    Case(
        "response-media-type-removed",
        lambda d: op(d)["responses"]["200"]["content"].pop("application/octet-stream"),
        before=lambda d: _set(
            op(d)["responses"]["200"]["content"],
            "application/octet-stream",
            {"schema": {"type": "string", "format": "binary"}},
        ),
    ),
    Case(
        "response-body-added",
        lambda d: _set(op(d)["responses"]["200"], "content", json_body(ref("Thing"))),
        before=lambda d: op(d)["responses"]["200"].pop("content"),
        call="    response = await update_thing.asyncio_detailed(\n"
        '        client=client, thing_id="t1", body=ThingIn(name="n")\n'
        "    )\n"
        "    assert response.status_code == 200",
    ),
    Case(
        "response-body-removed",
        lambda d: op(d)["responses"]["200"].pop("content"),
        answer_after=Answer(body=None, content_type=""),
    ),
    Case(
        "request-property-added-required",
        lambda d: schemas(d)["ThingIn"].update(
            properties={**schemas(d)["ThingIn"]["properties"], "email": {"type": "string"}},
            required=[*schemas(d)["ThingIn"]["required"], "email"],
        ),
    ),
    Case(
        "request-property-added-optional",
        lambda d: _set(schemas(d)["ThingIn"]["properties"], "email", {"type": "string"}),
    ),
    Case("request-property-made-required", lambda d: schemas(d)["ThingIn"]["required"].append("size")),
    Case(
        "request-property-made-optional",
        lambda d: schemas(d)["ThingIn"]["required"].remove("size"),
        before=lambda d: schemas(d)["ThingIn"]["required"].append("size"),
        fields=", size=1",
    ),
    Case(
        "request-type-widened",
        lambda d: _set(prop(d, "ThingIn", "size"), "type", ["integer", "string"]),
        fields=", size=1",
    ),
    Case(
        "request-type-narrowed",
        lambda d: _set(prop(d, "ThingIn", "size"), "type", "integer"),
        before=lambda d: _set(prop(d, "ThingIn", "size"), "type", ["integer", "string"]),
        fields=', size="big"',
    ),
    Case("request-nullable-added", lambda d: _set(prop(d, "ThingIn", "name"), "type", ["string", "null"])),
    Case(
        "request-nullable-removed", lambda d: _set(prop(d, "ThingIn", "note"), "type", "string"), fields=", note=None"
    ),
    Case("request-enum-value-added", lambda d: prop(d, "ThingIn", "kind")["enum"].append("c"), fields=', kind="a"'),
    Case("request-enum-value-removed", lambda d: prop(d, "ThingIn", "kind")["enum"].remove("b"), fields=', kind="b"'),
    Case(
        "request-variant-added",
        lambda d: prop(d, "ThingIn", "shape")["oneOf"].append({"type": "string"}),
        fields=", shape=Circle(radius=1.0)",
        imports=", Circle",
    ),
    Case(
        "request-variant-removed",
        lambda d: prop(d, "ThingIn", "shape")["oneOf"].pop(),
        fields=", shape=Triangle(base=1.0)",
        imports=", Triangle",
    ),
    Case(
        "request-constraint-tightened",
        lambda d: _set(prop(d, "ThingIn", "size"), "maximum", 10),
        fields=", size=50",
    ),
    Case(
        "request-constraint-loosened",
        lambda d: _set(prop(d, "ThingIn", "size"), "maximum", 1000),
        before=lambda d: _set(prop(d, "ThingIn", "size"), "maximum", 100),
        fields=", size=50",
    ),
    Case("response-constraint-changed", lambda d: _set(prop(d, "Thing", "score"), "maximum", 10), uses=READ_SCORE),
    Case("response-property-added", lambda d: _set(schemas(d)["Thing"]["properties"], "email", {"type": "string"})),
    Case("response-property-made-required", lambda d: schemas(d)["Thing"]["required"].append("score"), uses=READ_SCORE),
    Case(
        "response-property-made-optional",
        lambda d: schemas(d)["Thing"]["required"].remove("name"),
        uses="    print(thing.name.upper())",
    ),
    Case(
        "response-type-widened",
        lambda d: _set(prop(d, "Thing", "score"), "type", ["integer", "string"]),
        uses=READ_SCORE,
    ),
    Case(
        "response-type-narrowed",
        lambda d: _set(prop(d, "Thing", "score"), "type", "integer"),
        before=lambda d: _set(prop(d, "Thing", "score"), "type", ["integer", "string"]),
        uses="    print(str(thing.score))",
    ),
    Case(
        "response-nullable-added",
        lambda d: _set(prop(d, "Thing", "name"), "type", ["string", "null"]),
        uses="    print(thing.name.upper())",
    ),
    Case(
        "response-nullable-removed",
        lambda d: _set(prop(d, "Thing", "note"), "type", "string"),
        uses="    if isinstance(thing.note, str):\n        print(thing.note.upper())",
    ),
    Case(
        "response-enum-value-added",
        lambda d: prop(d, "Thing", "status")["enum"].append("archived"),
        answer_after=Answer(body={**THING, "status": "archived"}),
    ),
    Case(
        "response-enum-value-removed",
        lambda d: prop(d, "Thing", "status")["enum"].remove("closed"),
        uses="    print(thing.status)",
    ),
    Case(
        "response-variant-added",
        lambda d: prop(d, "Thing", "shape")["oneOf"].append(ref("Triangle")),
        answer_after=Answer(body={**THING, "shape": {"base": 2.0}}),
    ),
    Case(
        "response-variant-removed",
        lambda d: prop(d, "Thing", "shape")["oneOf"].pop(),
        before=lambda d: prop(d, "Thing", "shape")["oneOf"].append(ref("Triangle")),
        uses="    print(thing.shape)",
    ),
    Case("property-removed", lambda d: schemas(d)["Thing"]["properties"].pop("score"), uses=READ_SCORE),
    Case("type-changed", lambda d: _set(prop(d, "Thing", "score"), "type", "string"), uses=READ_SCORE),
    Case(
        "format-changed",
        lambda d: prop(d, "Thing", "created_at").pop("format"),
        uses="    print(thing.created_at.year)",
    ),
    Case(
        "format-annotation-changed",
        lambda d: _set(prop(d, "Thing", "name"), "format", "email"),
        uses="    print(thing.name.upper())",
    ),
    Case("default-changed", lambda d: _set(prop(d, "ThingIn", "colour"), "default", "blue")),
    Case(
        "model-removed",
        lambda d: schemas(d).pop("Legacy"),
        before=lambda d: _set(schemas(d), "Legacy", {"type": "object", "properties": {"code": {"type": "string"}}}),
        imports=", Legacy",
        uses='    print(Legacy(code="x"))',
    ),
    Case(
        "model-renamed",
        _rename_config,
        fields=', config=Config(welcome_message="hi")',
        imports=", Config",
    ),
    Case(
        "additional-properties-forbidden",
        lambda d: schemas(d)["Config"].update(additionalProperties=False),
        call='    config = Config(welcome_message="hi")\n    config["colour"] = "red"\n'
        '    thing = await update_thing.asyncio(client=client, thing_id="t1", body=ThingIn(name="n", config=config))\n'
        "    assert isinstance(thing, Thing)",
        imports=", Config",
    ),
    Case(
        "additional-properties-allowed",
        lambda d: schemas(d)["Config"].pop("additionalProperties"),
        before=lambda d: schemas(d)["Config"].update(additionalProperties=False),
        fields=', config=Config(welcome_message="hi")',
        imports=", Config",
        answer_before=Answer(body={**THING, "config": {"welcome_message": "hi"}}),
    ),
]

# Where each case's change is reported (operations, JSON path) and what it says.
REPORTED = {
    "operation-added": ("GET /things/{thing_id}", "$.paths['/things/{thing_id}'].get", "new function get_thing"),
    "operation-removed": ("POST /things/{thing_id}", "$.paths['/things/{thing_id}'].post", "update_thing is gone"),
    "operation-id-changed": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.operationId",
        "update_thing -> modify_thing",
    ),
    "operation-tag-changed": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.tags",
        "default -> things",
    ),
    "server-added": ("servers", "$.servers", "https://eu.mini.test"),
    "server-removed": ("servers", "$.servers", "https://api.mini.test"),
    "auth-required": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.security",
        "credentials now required",
    ),
    "auth-optional": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.security",
        "credentials no longer required",
    ),
    "auth-scheme-changed": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.security",
        "http bearer -> apikey header x-key",
    ),
    "parameter-added-required": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.parameters[2]",
        "query parameter 'region'",
    ),
    "parameter-added-optional": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.parameters[2]",
        "query parameter 'region'",
    ),
    "parameter-removed": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.parameters[1]",
        "query parameter 'dry_run'",
    ),
    "parameter-made-required": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.parameters[1]",
        "query parameter 'dry_run'",
    ),
    "parameter-made-optional": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.parameters[1]",
        "query parameter 'dry_run'",
    ),
    "request-body-made-required": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.requestBody",
        "body required",
    ),
    "request-body-made-optional": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.requestBody",
        "body optional",
    ),
    "request-media-type-added": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.requestBody.content['application/octet-stream']",
        "application/octet-stream",
    ),
    "request-media-type-removed": (
        "POST /things/{thing_id}",
        "$.paths['/things/{thing_id}'].post.requestBody.content['application/json']",
        "application/json",
    ),
    "success-status-added": ("POST /things/{thing_id}", "$.paths['/things/{thing_id}'].post.responses['201']", "201"),
    "success-status-removed": ("POST /things/{thing_id}", "$.paths['/things/{thing_id}'].post.responses['201']", "201"),
    "error-status-added": ("POST /things/{thing_id}", "$.paths['/things/{thing_id}'].post.responses['409']", "409"),
    "error-status-removed": ("POST /things/{thing_id}", "$.paths['/things/{thing_id}'].post.responses['404']", "404"),
    "response-media-type-added": (
        "POST /things/{thing_id} 200",
        "$.paths['/things/{thing_id}'].post.responses['200'].content['application/octet-stream']",
        "application/octet-stream",
    ),
    "response-media-type-removed": (
        "POST /things/{thing_id} 200",
        "$.paths['/things/{thing_id}'].post.responses['200'].content['application/octet-stream']",
        "application/octet-stream",
    ),
    "response-body-added": (
        "POST /things/{thing_id} 200",
        "$.paths['/things/{thing_id}'].post.responses['200'].content",
        "application/json",
    ),
    "response-body-removed": (
        "POST /things/{thing_id} 200",
        "$.paths['/things/{thing_id}'].post.responses['200'].content",
        "application/json",
    ),
    "request-property-added-required": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.email",
        "required email",
    ),
    "request-property-added-optional": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.email",
        "optional email",
    ),
    "request-property-made-required": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "size",
    ),
    "request-property-made-optional": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "size",
    ),
    "request-type-widened": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "integer -> integer|string",
    ),
    "request-type-narrowed": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "integer|string -> integer",
    ),
    "request-nullable-added": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.name",
        "may be null",
    ),
    "request-nullable-removed": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.note",
        "no longer null",
    ),
    "request-enum-value-added": ("POST /things/{thing_id}", "$.components.schemas.ThingIn.properties.kind", "'c'"),
    "request-enum-value-removed": ("POST /things/{thing_id}", "$.components.schemas.ThingIn.properties.kind", "'b'"),
    "request-variant-added": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.shape.oneOf[3]",
        "string",
    ),
    "request-variant-removed": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.shape.oneOf[2]",
        "Triangle",
    ),
    "request-constraint-tightened": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "maximum: none -> 10",
    ),
    "request-constraint-loosened": (
        "POST /things/{thing_id}",
        "$.components.schemas.ThingIn.properties.size",
        "maximum: 100 -> 1000",
    ),
    "response-constraint-changed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "maximum: none -> 10",
    ),
    "response-property-added": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.email",
        "optional email",
    ),
    "response-property-made-required": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "score",
    ),
    "response-property-made-optional": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.name",
        "name",
    ),
    "response-type-widened": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "integer -> integer|string",
    ),
    "response-type-narrowed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "integer|string -> integer",
    ),
    "response-nullable-added": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.name",
        "may be null",
    ),
    "response-nullable-removed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.note",
        "no longer null",
    ),
    "response-enum-value-added": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.status",
        "'archived'",
    ),
    "response-enum-value-removed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.status",
        "'closed'",
    ),
    "response-variant-added": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.shape.oneOf[2]",
        "Triangle",
    ),
    "response-variant-removed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.shape.oneOf[2]",
        "Triangle",
    ),
    "property-removed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "score",
    ),
    "type-changed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.score",
        "integer -> string",
    ),
    "format-changed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.created_at",
        "string:date-time -> string",
    ),
    "format-annotation-changed": (
        "GET /things 200, POST /things/{thing_id} 200",
        "$.components.schemas.Thing.properties.name",
        "string -> string:email",
    ),
    "default-changed": ("POST /things/{thing_id}", "$.components.schemas.ThingIn.properties.colour", "'red' -> 'blue'"),
    "model-removed": ("components", "$.components.schemas.Legacy", "Legacy"),
    "model-renamed": (
        "GET /things 200, POST /things/{thing_id}, POST /things/{thing_id} 200",
        "$.components.schemas.Settings",
        "Config -> Settings",
    ),
    "additional-properties-forbidden": (
        "GET /things 200, POST /things/{thing_id}, POST /things/{thing_id} 200",
        "$.components.schemas.Config.additionalProperties",
        "false",
    ),
    "additional-properties-allowed": (
        "GET /things 200, POST /things/{thing_id}, POST /things/{thing_id} 200",
        "$.components.schemas.Config.additionalProperties",
        "allowed",
    ),
}


PROBE = """\
from __future__ import annotations

import httpx

from {pkg}.api.default import update_thing
from {pkg}.client import AuthenticatedClient, Client
from {pkg}.models import Thing, ThingIn{imports}
from {pkg}.types import Unset


async def main(base_url: str, transport: httpx.MockTransport) -> None:
    client = {client}
{call}
{uses}
"""
CALL = """\
    thing = await update_thing.asyncio(client=client, thing_id="t1", body=ThingIn(name="n"{fields}){args})
    assert isinstance(thing, Thing), thing"""


def probe(case: Case, package: str) -> str:
    """The case's code, written against the client generated as `package`."""
    call = case.call or CALL.format(fields=case.fields, args=case.args)
    return PROBE.format(pkg=package, imports=case.imports, client=case.client, call=call, uses=case.uses or "    pass")


# -- the rules, one case each ---------------------------------------------------------


def test_every_rule_has_a_case() -> None:
    """One rule, one test: a case per rule, no case without a rule."""
    assert sorted(case.rule for case in CASES) == sorted(RULES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_rule_finds_its_change(case: Case) -> None:
    """The minimal pair is reported as exactly its rule (and the ones it cannot come without)."""
    before, after = case.documents()
    changes = compare(before, after)
    assert sorted(c.rule for c in changes) == sorted([case.rule, *case.also])
    change = next(c for c in changes if c.rule == case.rule)
    assert (change.where, change.path, change.detail) == REPORTED[case.rule]
    assert compare(after, after) == []


# -- the walk: the whole schema graph as the generator sees it -------------------------


def _changes(before: Doc, after: Doc) -> list[tuple[str, str, str]]:
    return [(c.rule, c.path, c.detail) for c in compare(before, after)]


def test_a_change_deep_inside_is_found_at_its_place() -> None:
    """Nested inline objects, array items and a $ref cycle: the change is named by its JSON path, once."""
    before = mini()
    prop(before, "Thing", "labels")["items"] = {
        "type": "object",
        "properties": {"meta": {"type": "object", "properties": {"colour": {"type": "string"}}}},
    }
    after = copy.deepcopy(before)
    prop(after, "Thing", "labels")["items"]["properties"]["meta"]["properties"]["colour"]["enum"] = ["red"]
    schemas(after)["Config"]["properties"].pop("welcome_message")
    assert _changes(before, after) == [
        ("property-removed", "$.components.schemas.Config.properties.welcome_message", "welcome_message"),
        (
            "response-enum-value-removed",
            "$.components.schemas.Thing.properties.labels.items.properties.meta.properties.colour",
            "any value -> 'red'",
        ),
    ]
    (removed, _) = compare(before, after)
    assert removed.where == "GET /things 200, POST /things/{thing_id}, POST /things/{thing_id} 200"


def test_what_the_generator_reads_alike_is_no_change() -> None:
    """FastAPI's anyOf-with-null is type [.., null]; an inline schema equals its $ref; allOf merges; keys reorder."""
    before, after = mini(), mini()
    prop(after, "Thing", "note").clear()
    prop(after, "Thing", "note")["anyOf"] = [{"type": "string"}, {"type": "null"}]
    schemas(after)["Thing"]["properties"]["config"] = copy.deepcopy(schemas(after)["Config"])
    schemas(after)["Thing"]["properties"]["config"]["properties"]["parent"] = ref("Config")
    thing_in = schemas(after)["ThingIn"]
    schemas(after)["Named"] = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    thing_in["properties"].pop("name")
    thing_in["required"].remove("name")
    schemas(after)["ThingIn"] = {"allOf": [ref("Named"), thing_in]}
    assert _changes(before, after) == []


def test_allof_members_and_union_variants_are_walked() -> None:
    """A field removed from an allOf member, and one retyped inside a oneOf variant."""
    before = mini()
    schemas(before)["Named"] = {"type": "object", "properties": {"label": {"type": "string"}}}
    schemas(before)["ThingIn"] = {"allOf": [ref("Named"), schemas(before)["ThingIn"]]}
    after = copy.deepcopy(before)
    schemas(after)["Named"]["properties"].pop("label")
    prop(after, "Circle", "radius")["type"] = "string"
    assert [(rule, path) for rule, path, _ in _changes(before, after)] == [
        ("type-changed", "$.components.schemas.Circle.properties.radius"),
        ("property-removed", "$.components.schemas.Named.properties.label"),
    ]


def test_a_renamed_path_parameter_is_the_same_operation_with_another_argument() -> None:
    """/things/{thing_id} -> /things/{id}: not an operation removed and added, but its parameter renamed."""
    before = mini()
    after = copy.deepcopy(before)
    after["paths"]["/things/{id}"] = after["paths"].pop(PATH)
    op_after = after["paths"]["/things/{id}"]["post"]
    op_after["parameters"][0]["name"] = "id"
    assert sorted(rule for rule, _, _ in _changes(before, after)) == ["parameter-added-required", "parameter-removed"]


def test_path_level_and_referenced_parameters_count() -> None:
    """Parameters declared on the path item, or through components.parameters, are the operation's too."""
    before = mini()
    before["components"]["parameters"] = {"Trace": {"name": "X-Trace", "in": "header", "schema": {"type": "string"}}}
    before["paths"][PATH]["parameters"] = [{"$ref": "#/components/parameters/Trace"}]
    after = copy.deepcopy(before)
    after["components"]["parameters"]["Trace"]["required"] = True
    assert _changes(before, after) == [
        ("parameter-made-required", "$.components.parameters.Trace", "header parameter 'X-Trace'")
    ]


def test_a_ref_cycle_ends() -> None:
    """Schemas that refer to each other, and a $ref to itself, are walked once."""
    before = mini()
    schemas(before)["Loop"] = ref("Loop")
    prop(before, "Thing", "labels")["items"] = ref("Loop")
    schemas(before)["Config"]["properties"]["child"] = ref("Thing")
    after = copy.deepcopy(before)
    schemas(after)["Config"]["properties"]["depth"] = {"type": "integer"}
    assert [rule for rule, _, _ in _changes(before, after)] == [
        "request-property-added-optional",
        "response-property-added",
    ]


# -- the round trip -----------------------------------------------------------------


def _serve(document: Doc, answer: Answer) -> httpx.MockTransport:
    """A mock of the server `document` describes: its addresses, its request schema, its credentials, then `answer`."""
    servers = [s["url"] for s in document.get("servers") or []]
    operation = document["paths"].get(PATH, {}).get("post") or {}
    requirements = operation.get("security", document.get("security")) or []
    schemes = document["components"].get("securitySchemes") or {}

    body = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json") or {}
    validator = Draft202012Validator({"components": document["components"], **body.get("schema", {})})

    def handler(request: httpx.Request) -> httpx.Response:
        if servers and not any(str(request.url).startswith(url) for url in servers):
            return httpx.Response(404)
        if not request.content and (operation.get("requestBody") or {}).get("required"):
            return httpx.Response(422)
        if request.content and not validator.is_valid(json.loads(request.content)):
            return httpx.Response(422)
        if requirements and all(requirements):
            scheme = schemes[next(iter(requirements[0]))]
            header = scheme.get("name", "Authorization") if scheme["type"] == "apiKey" else "Authorization"
            value = request.headers.get(header, "")
            if not value or (scheme["type"] == "http" and not value.startswith("Bearer ")):
                return httpx.Response(401)
        if answer.body is None:
            return httpx.Response(answer.status)
        content = answer.body.encode() if isinstance(answer.body, str) else json.dumps(answer.body).encode()
        return httpx.Response(answer.status, content=content, headers={"content-type": answer.content_type})

    return httpx.MockTransport(handler)


@frozen
class Trip:
    """What the round trip found for one case."""

    typed_old: str  # mypy's errors against the before client ("" when none)
    typed_new: str
    ran_old: str  # the probe, before client, before server: the error, or ""
    old_client_new_server: str
    new_client_new_server: str

    @property
    def broken(self) -> bool:
        """Whether code written against the old client fails once the change lands."""
        return bool(self.typed_new or self.old_client_new_server or self.new_client_new_server)


def _generate(document: Doc, root: Path) -> str:
    """Generate the client for `document` under `root` (once per distinct document); its package name."""
    digest = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:12]
    package = f"mini_{digest}"
    if not (root / package).exists():
        from openapi_python_client import generate  # noqa: PLC0415 - a dev tool, loaded only for the round trip
        from openapi_python_client.config import Config, ConfigFile, MetaType  # noqa: PLC0415

        (root / f"{package}.json").write_text(json.dumps(document))
        config = Config.from_sources(
            ConfigFile(package_name_override=package, literal_enums=True, post_hooks=[]),
            MetaType.NONE,
            root / f"{package}.json",
            "utf-8",
            False,  # noqa: FBT003 - the library's positional API
            root / package,
        )
        errors = generate(config=config)
        assert not errors, [str(e) for e in errors]
    return package


def _run(module: str, base_url: str, transport: httpx.MockTransport) -> str:
    try:
        asyncio.run(importlib.import_module(module).main(base_url, transport))
    except Exception as exc:  # noqa: BLE001 - any failure of the user's code is the finding
        return f"{type(exc).__name__}: {exc}"
    return ""


@pytest.fixture(scope="module")
def round_trips(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Trip]]:
    """Every case's round trip: clients generated, probes type-checked in one mypy run, then run."""
    root = tmp_path_factory.mktemp("round_trip")
    modules = {}
    for index, case in enumerate(CASES):
        before, after = case.documents()
        for side, document in (("old", before), ("new", after)):
            name = f"probe_{index}_{side}"
            (root / f"{name}.py").write_text(probe(case, _generate(document, root)))
            modules[index, side] = name
    (root / "mypy.ini").write_text("[mypy]\nstrict = True\nfollow_imports = silent\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--no-error-summary", "--hide-error-context",
         *sorted(f"{m}.py" for m in modules.values())],
        capture_output=True, text=True, check=False, cwd=root,
    )  # fmt: skip
    errors: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        errors.setdefault(line.split(".py:", 1)[0], []).append(line)
    sys.path.insert(0, str(root))
    try:
        trips = {}
        for index, case in enumerate(CASES):
            before, after = case.documents()
            base_url = before["servers"][0]["url"]
            old, new = modules[index, "old"], modules[index, "new"]
            trips[case.id] = Trip(
                typed_old="\n".join(errors.get(old, [])),
                typed_new="\n".join(errors.get(new, [])),
                ran_old=_run(old, base_url, _serve(before, case.answer_before)),
                old_client_new_server=_run(old, base_url, _serve(after, case.answer_after)),
                new_client_new_server=_run(new, base_url, _serve(after, case.answer_after)),
            )
        yield trips
    finally:
        sys.path.remove(str(root))
        for module in [m for m in sys.modules if m.startswith(("mini_", "probe_"))]:
            del sys.modules[module]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_each_verdict_holds_on_generated_code(case: Case, round_trips: dict[str, Trip]) -> None:
    """Breaking: the probe fails against the new client or the old client fails on the new server; else all pass."""
    trip = round_trips[case.id]
    assert trip.typed_old == "", f"the probe must type-check against the old client:\n{trip.typed_old}"
    assert trip.ran_old == "", f"the probe must run against the old client and server: {trip.ran_old}"
    assert trip.broken == RULES[case.rule].breaking, trip


@pytest.mark.parametrize(
    ("before", "after", "found"),
    [
        (
            {"type": "string"},
            {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            [("type-changed", "string -> integer | string")],
        ),
        ({}, {"type": "string"}, [("response-type-narrowed", "any -> string")]),
        ({"type": "string"}, {}, [("response-type-widened", "string -> any")]),
        ({"enum": ["a", "b"]}, {"type": "string"}, [("response-enum-value-added", "'a', 'b' -> any value")]),
        (
            {"const": "a"},
            {"const": "b"},
            [("response-enum-value-added", "'b'"), ("response-enum-value-removed", "'a'")],
        ),
        (
            {"enum": [1, 2]},
            {"enum": ["1", "2"]},
            [
                ("type-changed", "integer -> string"),
                ("response-enum-value-added", "'1', '2'"),
                ("response-enum-value-removed", "1, 2"),
            ],
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"type": "object", "additionalProperties": {"type": "string"}},
            [("type-changed", "integer -> string")],
        ),
        (
            {"type": "object", "additionalProperties": False},
            {"type": "object"},
            [("additional-properties-allowed", "allowed")],
        ),
        (
            {"type": "string", "minLength": 1},
            {"type": "string"},
            [("response-constraint-changed", "minLength: 1 -> none")],
        ),
        (
            {"type": "array", "items": ref("Circle")},
            {"type": "array", "items": ref("Square")},
            [
                ("model-renamed", "Circle -> Square"),
                ("property-removed", "radius"),
                ("response-property-added", "required side"),
            ],
        ),
        (
            {"allOf": [ref("Circle")]},
            {"allOf": [ref("Square")]},
            [("property-removed", "radius"), ("response-property-added", "required side")],
        ),
    ],
)
def test_each_kind_of_schema_is_compared(before: Doc, after: Doc, found: list[tuple[str, str]]) -> None:
    """Unions against plain types, anything against a type, enums and const, typed additionalProperties, bounds."""
    old, new = mini(), mini()
    schemas(old)["Thing"]["properties"]["extra"] = before
    schemas(new)["Thing"]["properties"]["extra"] = after
    assert sorted((c.rule, c.detail) for c in compare(old, new)) == sorted(found)


@pytest.mark.parametrize(
    ("keyword", "before", "after", "rule"),
    [
        ("minLength", 1, 2, "request-constraint-tightened"),
        ("minLength", 2, 1, "request-constraint-loosened"),
        ("maxItems", None, 3, "request-constraint-tightened"),
        ("maxItems", 3, None, "request-constraint-loosened"),
        ("pattern", "^a", "^b", "request-constraint-tightened"),
        ("multipleOf", 2, 4, "request-constraint-tightened"),
        ("multipleOf", 4, 2, "request-constraint-loosened"),
        ("uniqueItems", False, True, "request-constraint-tightened"),
        ("uniqueItems", True, False, "request-constraint-loosened"),
        ("uniqueItems", None, False, "request-constraint-loosened"),
    ],
)
def test_request_bounds_tighten_or_loosen(keyword: str, before: Any, after: Any, rule: str) -> None:
    """Upper bounds down, lower bounds up, a new pattern or uniqueness: tighter; the reverse: looser."""
    old, new = mini(), mini()
    for document, value in ((old, before), (new, after)):
        if value is not None:
            prop(document, "ThingIn", "tags")[keyword] = value
    assert [c.rule for c in compare(old, new)] == [rule]


def test_security_changes_name_the_schemes() -> None:
    """Credentials no longer required, and a scheme swapped, say which scheme."""
    before, after = mini(), mini()
    after["components"]["securitySchemes"]["key"] = {"type": "apiKey", "in": "header", "name": "X-Key"}
    op(after)["security"] = [{"key": []}]
    ((rule, _, detail),) = _changes(before, after)
    assert (rule, detail) == ("auth-scheme-changed", "http bearer -> apikey header x-key")
    op(after)["security"] = [{}, {"key": []}]
    assert [(r, d) for r, _, d in _changes(before, after)] == [("auth-optional", "credentials no longer required")]


def test_a_changed_success_status_still_compares_what_it_answers() -> None:
    """200 -> 201 with a field dropped from the answer: both the status and the field are reported."""
    before = mini()
    before["paths"].pop("/things")
    after = copy.deepcopy(before)
    op(after)["responses"]["201"] = op(after)["responses"].pop("200")
    schemas(after)["Thing"]["properties"].pop("score")
    assert sorted((c.rule, c.where) for c in compare(before, after)) == [
        ("property-removed", "POST /things/{thing_id} 201"),
        ("success-status-added", "POST /things/{thing_id}"),
        ("success-status-removed", "POST /things/{thing_id}"),
    ]


@pytest.mark.parametrize(
    ("before", "after", "found"),
    [
        ({"type": "string"}, {"type": "string", "nullable": True}, ["response-nullable-added"]),
        (
            {"oneOf": [ref("Circle"), ref("Square")]},
            {"oneOf": [ref("Circle"), ref("Square"), {"type": "null"}]},
            ["response-nullable-added"],
        ),
        ({"type": "object", "properties": {"a": {"type": "string"}}}, {"properties": {"a": {"type": "string"}}}, []),
        ({"type": "object"}, {"type": "object", "additionalProperties": True}, []),
        ({"type": "object"}, {"type": "object", "additionalProperties": {}}, []),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"allOf": [{"additionalProperties": False}], "properties": {"a": {"type": "string"}}},
            ["additional-properties-forbidden"],
        ),
        ({"allOf": [{"type": "string"}]}, {"allOf": [{"type": "integer"}]}, ["type-changed"]),
        (
            {"enum": [True]},
            {"enum": [1.5]},
            ["type-changed", "response-enum-value-added", "response-enum-value-removed"],
        ),
    ],
)
def test_the_shape_is_read_as_the_generator_reads_it(before: Doc, after: Doc, found: list[str]) -> None:
    """OpenAPI 3.0's nullable, a null variant among others, an implied object, allOf members' keywords, enum types."""
    old, new = mini(), mini()
    schemas(old)["Thing"]["properties"]["extra"] = before
    schemas(new)["Thing"]["properties"]["extra"] = after
    assert sorted(c.rule for c in compare(old, new)) == sorted(found)


def test_a_ref_with_escaped_characters_is_followed() -> None:
    """JSON pointer escapes in a $ref (~1 for /, ~0 for ~) reach the schema they name."""
    before = mini()
    schemas(before)["a/b~c"] = {"type": "object", "properties": {"x": {"type": "string"}}}
    prop(before, "Thing", "labels")["items"] = {"$ref": "#/components/schemas/a~1b~0c"}
    after = copy.deepcopy(before)
    schemas(after)["a/b~c"]["properties"]["x"]["type"] = "integer"
    assert _changes(before, after) == [
        ("type-changed", "$.components.schemas['a/b~c'].properties.x", "string -> integer")
    ]


def test_security_declared_for_the_whole_document_is_each_operations() -> None:
    """A document-level security requirement applies to operations that state none; dropping it is auth-optional."""
    before = mini()
    op(before).pop("security")
    before["security"] = [{"bearer": []}]
    after = copy.deepcopy(before)
    after.pop("security")
    assert [(rule, path) for rule, path, _ in _changes(before, after)] == [
        ("auth-optional", "$.paths['/things'].get.security"),
        ("auth-optional", "$.paths['/things/{thing_id}'].post.security"),
    ]


def test_a_path_level_parameter_and_an_anyof_variant_are_named_where_they_are() -> None:
    """Changes are named at the path item's parameters, and inside an anyOf variant, where the spec has them."""
    before = mini()
    before["paths"][PATH]["parameters"] = [{"name": "X-Trace", "in": "header", "schema": {"type": "string"}}]
    schemas(before)["Thing"]["properties"]["extra"] = {
        "anyOf": [ref("Circle"), {"type": "object", "properties": {"n": {"type": "integer"}}}]
    }
    after = copy.deepcopy(before)
    after["paths"][PATH]["parameters"][0]["required"] = True
    schemas(after)["Thing"]["properties"]["extra"]["anyOf"][1]["properties"]["n"]["type"] = "string"
    assert sorted((rule, path) for rule, path, _ in _changes(before, after)) == [
        ("parameter-made-required", "$.paths['/things/{thing_id}'].parameters[0]"),
        ("type-changed", "$.components.schemas.Thing.properties.extra.anyOf[1].properties.n"),
    ]

"""What changed between two OpenAPI documents, for code written against the SDK generated from the first.

`compare(old, new)` walks every operation (matched by method and path template) and, through
every `$ref` (cycles included), the whole schema graph the generated client sees: nested
objects, arrays' items, `allOf` (merged, as the generator merges it), `oneOf`/`anyOf`
(variants; a `null` member is nullability), `additionalProperties`, enums, `nullable` and
`type: [..., "null"]`, formats, defaults, validation keywords; request and response content
types, every documented status code, path, query, header and cookie parameters, tags,
security requirements and servers. Each change is one of the `RULES` below, which say whether it breaks code
written against the previous SDK and why. A schema reached through a `$ref` is reported at
its place in `components`, once however many operations use it.

Request and response are told apart: the SDK *sends* what a request schema describes (a
change that accepts less breaks callers) and *reads* what a response schema describes (a
change that may answer more, or something else, breaks readers).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

from attrs import Factory, evolve, field, frozen

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

Side = Literal["request", "response"]
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Validation keywords: the generated client checks none of them, the server checks them all.
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
OTHER_CONSTRAINTS = ("pattern", "multipleOf", "uniqueItems")
# Formats openapi-python-client turns into another Python type than the bare JSON one.
TYPED_FORMATS = {"date-time", "date", "uuid", "binary"}


@frozen
class Rule:
    """One kind of change, and what it does to code written against the previous SDK."""

    id: str
    breaking: bool
    why: str


BREAKS, KEEPS = True, False
# The rules: (id, whether it breaks code written against the previous SDK, why). One test each:
# tests/test_spec_rules.py, which also proves each verdict against code generated from both specs.
_TABLE: tuple[tuple[str, bool, str], ...] = (
    # operations
    ("operation-added", KEEPS, "a new function; existing code is untouched"),
    ("operation-removed", BREAKS, "its function is gone from the SDK"),
    ("operation-id-changed", BREAKS, "its function is renamed, so imports of the old name fail"),
    ("operation-tag-changed", BREAKS, "the generator makes a module per first tag: the function's import path moves"),
    # servers and security
    ("server-added", KEEPS, "one more address the API answers at"),
    ("server-removed", BREAKS, "code (and VersiveClient's default base_url) pointing at it reaches nothing"),
    ("auth-required", BREAKS, "the function now takes an AuthenticatedClient only; unauthenticated calls fail"),
    ("auth-optional", KEEPS, "the function accepts an unauthenticated client as well"),
    ("auth-scheme-changed", BREAKS, "the previous SDK sends the credentials the old scheme asked for"),
    # parameters
    ("parameter-added-required", BREAKS, "a new required argument; existing calls lack it"),
    ("parameter-added-optional", KEEPS, "a new keyword argument with a default"),
    ("parameter-removed", BREAKS, "calls passing it fail with an unexpected keyword argument"),
    ("parameter-made-required", BREAKS, "calls that left it out now fail"),
    ("parameter-made-optional", KEEPS, "calls passing it still work"),
    # request bodies
    ("request-body-made-required", BREAKS, "calls without a body now fail"),
    ("request-body-made-optional", KEEPS, "calls passing a body still work"),
    ("request-media-type-added", KEEPS, "another way to send the body; the previous one still works"),
    ("request-media-type-removed", BREAKS, "the body the previous SDK sends is no longer accepted"),
    # responses
    ("success-status-added", BREAKS, "the previous SDK reads an answer with this status as undocumented (None)"),
    ("success-status-removed", KEEPS, "the server no longer answers it; code handling it is dead, not wrong"),
    ("error-status-added", KEEPS, "raised as a typed error by its status, as before"),
    ("error-status-removed", KEEPS, "an error the server no longer answers"),
    ("response-media-type-added", BREAKS, "the previous SDK parses only the types it knew; this one goes unread"),
    ("response-media-type-removed", KEEPS, "another type the answer may come in remains"),
    ("response-body-added", KEEPS, "a body where there was none; code that ignored it still does"),
    ("response-body-removed", BREAKS, "the answer has no body to parse: readers get None"),
    # schemas: what the SDK sends
    ("request-property-added-required", BREAKS, "a new required field; models built without it fail"),
    ("request-property-added-optional", KEEPS, "a new optional field; models built without it still work"),
    ("request-property-made-required", BREAKS, "models built without it now fail"),
    ("request-property-made-optional", KEEPS, "models that set it still work"),
    ("request-type-widened", KEEPS, "more values are accepted; those sent before still are"),
    ("request-type-narrowed", BREAKS, "some values callers could send are no longer accepted"),
    ("request-nullable-added", KEEPS, "None is accepted too"),
    ("request-nullable-removed", BREAKS, "callers passing None now fail"),
    ("request-enum-value-added", KEEPS, "one more value callers may send"),
    ("request-enum-value-removed", BREAKS, "callers sending that value now fail (a Literal type error)"),
    ("request-variant-added", KEEPS, "one more shape callers may send"),
    ("request-variant-removed", BREAKS, "callers sending that shape now fail"),
    ("request-constraint-tightened", BREAKS, "the generated client does not check bounds: the server refuses (422)"),
    ("request-constraint-loosened", KEEPS, "every value accepted before still is"),
    # schemas: what the SDK reads
    ("response-property-added", KEEPS, "a new field readers may ignore"),
    ("response-property-made-required", KEEPS, "always present now; code that checked for Unset still works"),
    ("response-property-made-optional", BREAKS, "readers may get Unset where the field was always present"),
    ("response-type-widened", BREAKS, "readers may get a type they do not handle"),
    ("response-type-narrowed", KEEPS, "readers get fewer kinds of value than they handle"),
    ("response-nullable-added", BREAKS, "readers may get None"),
    ("response-nullable-removed", KEEPS, "readers no longer get None"),
    ("response-enum-value-added", BREAKS, "the previous SDK's Literal check refuses the new value when parsing"),
    ("response-enum-value-removed", KEEPS, "readers no longer get that value"),
    ("response-variant-added", BREAKS, "the previous SDK cannot parse the new shape"),
    ("response-variant-removed", KEEPS, "readers no longer get that shape"),
    ("response-constraint-changed", KEEPS, "the generated client does not check bounds on what it reads"),
    # schemas: either way
    ("property-removed", BREAKS, "the model loses the attribute: code setting or reading it fails"),
    ("type-changed", BREAKS, "the generated type changes: code using the old one fails"),
    ("format-changed", BREAKS, "the generated type follows the format (str, datetime, date, UUID, File)"),
    ("format-annotation-changed", KEEPS, "a format the generator does not type: str either way"),
    ("default-changed", KEEPS, "a caller that leaves the field unset sends the default it was generated with"),
    ("model-removed", BREAKS, "the generator makes a class of every component schema: imports of this one fail"),
    ("model-renamed", BREAKS, "the generated class is renamed: imports and annotations of the old name fail"),
    ("additional-properties-forbidden", BREAKS, "the model loses additional_properties and item access"),
    ("additional-properties-allowed", KEEPS, "the model gains additional_properties; nothing else changes"),
)
RULES: dict[str, Rule] = {rid: Rule(rid, breaking=breaks, why=why) for rid, breaks, why in _TABLE}


@frozen
class Change:
    """One change an SDK user can see: its rule, where (operations and JSON path), what, and why."""

    rule: str
    where: str
    path: str
    detail: str
    breaking: bool = field(init=False, default=Factory(lambda self: RULES[self.rule].breaking, takes_self=True))
    why: str = field(init=False, default=Factory(lambda self: RULES[self.rule].why, takes_self=True))


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every change between two documents, each classified for code written against the first."""
    walk = _Walk(old, new)
    walk.servers()
    old_ops, new_ops = _operations(old), _operations(new)
    for key in new_ops.keys() - old_ops.keys():
        path, method, op = new_ops[key]
        walk.add(
            "operation-added",
            f"{method.upper()} {path}",
            _op_path(path, method),
            f"new function {op.get('operationId')}",
        )
    for key in old_ops.keys() - new_ops.keys():
        path, method, op = old_ops[key]
        walk.add(
            "operation-removed", f"{method.upper()} {path}", _op_path(path, method), f"{op.get('operationId')} is gone"
        )
    for key in old_ops.keys() & new_ops.keys():
        walk.operation(old_ops[key], new_ops[key])
    walk.models()
    return walk.result()


def _operations(document: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, str, dict[str, Any]]]:
    """(method, path template with its parameter names blanked) -> (path, method, operation with path parameters)."""
    found = {}
    for path, item in (document.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                found[method, re.sub(r"\{[^}]*\}", "{}", path)] = (path, method, {**op, "x-path-parameters": shared})
    return found


def _op_path(path: str, method: str) -> str:
    return f"$.paths{_key(path)}.{method}"


def _key(name: object) -> str:
    """A JSON path step: `.name` for identifiers, `['...']` otherwise."""
    text = str(name)
    return f".{text}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text) else f"[{text!r}]"


@frozen
class _Shape:
    """A schema as the generator sees it: $ref followed, allOf merged, a null variant read as nullable."""

    path: str
    ref: str | None
    types: frozenset[str]
    nullable: bool
    format: str | None
    enum: tuple[Any, ...] | None
    default: tuple[Any, ...]  # () when there is no default, (value,) otherwise
    properties: dict[str, tuple[Any, str]]
    required: frozenset[str]
    additional: Literal["any", "none"] | tuple[Any, str]
    items: tuple[Any, str] | None
    variants: dict[str, tuple[Any, str]] | None
    constraints: dict[str, Any]


class _Walk:
    """One comparison: the two documents, the changes found, and the schema pairs already walked."""

    def __init__(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        self.old, self.new = old, new
        self.found: dict[tuple[str, str], tuple[list[str], str]] = {}
        # Each pair of components compared (by side), with the changes found inside it: met again
        # (a cycle, or another operation using it), its changes gain the new place, unwalked.
        self.walked: dict[tuple[str, str, str], set[tuple[str, str]]] = {}
        self.active: list[tuple[str, str, str]] = []

    def add(self, rule: str, where: str, path: str, detail: str) -> None:
        wheres, _ = self.found.setdefault((rule, path), ([], detail))
        if where not in wheres:
            wheres.append(where)
        for key in self.active:
            self.walked[key].add((rule, path))

    def result(self) -> list[Change]:
        changes = [Change(rule, ", ".join(sorted(w)), path, d) for (rule, path), (w, d) in self.found.items()]
        return sorted(changes, key=lambda c: (not c.breaking, c.path, c.rule))

    def servers(self) -> None:
        old = {str(s.get("url")) for s in self.old.get("servers") or [] if isinstance(s, dict)}
        new = {str(s.get("url")) for s in self.new.get("servers") or [] if isinstance(s, dict)}
        for url in sorted(new - old):
            self.add("server-added", "servers", "$.servers", url)
        for url in sorted(old - new):
            self.add("server-removed", "servers", "$.servers", url)

    def models(self) -> None:
        """Component schemas gone (and not reported renamed where they were used)."""
        old = (self.old.get("components") or {}).get("schemas") or {}
        new = (self.new.get("components") or {}).get("schemas") or {}
        renamed = {detail.split(" -> ")[0] for (rule, _), (_, detail) in self.found.items() if rule == "model-renamed"}
        for name in sorted(old.keys() - new.keys() - renamed):
            self.add("model-removed", "components", f"$.components.schemas{_key(name)}", name)

    def operation(self, old: tuple[str, str, dict[str, Any]], new: tuple[str, str, dict[str, Any]]) -> None:
        (_, _, before), (path, method, after) = old, new
        where, at = f"{method.upper()} {path}", _op_path(path, method)
        if before.get("operationId") != after.get("operationId"):
            detail = f"{before.get('operationId')} -> {after.get('operationId')}"
            self.add("operation-id-changed", where, f"{at}.operationId", detail)
        if (before.get("tags") or [None])[0] != (after.get("tags") or [None])[0]:
            detail = f"{(before.get('tags') or ['default'])[0]} -> {(after.get('tags') or ['default'])[0]}"
            self.add("operation-tag-changed", where, f"{at}.tags", detail)
        self.security(where, at, before, after)
        self.parameters(where, at, before, after)
        self.request_body(where, at, before, after)
        self.responses(where, at, before, after)

    def security(self, where: str, at: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        was, now = self._security(before, self.old), self._security(after, self.new)
        if was is None and now is not None:
            self.add("auth-required", where, f"{at}.security", "credentials now required")
        elif was is not None and now is None:
            self.add("auth-optional", where, f"{at}.security", "credentials no longer required")
        elif was != now:
            self.add("auth-scheme-changed", where, f"{at}.security", f"{_schemes(was)} -> {_schemes(now)}")

    @staticmethod
    def _security(op: Mapping[str, Any], document: Mapping[str, Any]) -> frozenset[tuple[str, ...]] | None:
        """The schemes a call must satisfy (type, scheme, in, name), or None when a call may send none."""
        requirements = op.get("security", document.get("security")) or []
        if not requirements or any(not r for r in requirements):
            return None
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
        found = set()
        for requirement in requirements:
            for name in requirement:
                scheme = schemes.get(name) or {}
                found.add(tuple(str(scheme.get(k, "")).lower() for k in ("type", "scheme", "in", "name")))
        return frozenset(found)

    def parameters(self, where: str, at: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        old, new = self._parameters(before, self.old, at), self._parameters(after, self.new, at)
        for key in sorted(new.keys() - old.keys()):
            param, path = new[key]
            rule = "parameter-added-required" if param.get("required") else "parameter-added-optional"
            self.add(rule, where, path, f"{key[0]} parameter {key[1]!r}")
        for key in sorted(old.keys() - new.keys()):
            self.add("parameter-removed", where, old[key][1], f"{key[0]} parameter {key[1]!r}")
        for key in sorted(old.keys() & new.keys()):
            (was, _), (now, path) = old[key], new[key]
            if now.get("required") and not was.get("required"):
                self.add("parameter-made-required", where, path, f"{key[0]} parameter {key[1]!r}")
            elif was.get("required") and not now.get("required"):
                self.add("parameter-made-optional", where, path, f"{key[0]} parameter {key[1]!r}")
            self.schema(
                where, "request", (was.get("schema"), f"{old[key][1]}.schema"), (now.get("schema"), f"{path}.schema")
            )

    def _parameters(
        self, op: Mapping[str, Any], document: Mapping[str, Any], at: str
    ) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        found = {}
        for group, base in (
            (op.get("x-path-parameters") or [], at.rsplit(".", 1)[0]),
            (op.get("parameters") or [], at),
        ):
            for index, raw in enumerate(group):
                param, path = _resolve(raw, f"{base}.parameters[{index}]", document)
                found[str(param.get("in")), str(param.get("name"))] = (param, path)
        return found

    def request_body(self, where: str, at: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        (was, _), (now, path) = (
            _resolve(before.get("requestBody"), f"{at}.requestBody", self.old),
            _resolve(after.get("requestBody"), f"{at}.requestBody", self.new),
        )
        if now.get("required") and not was.get("required"):
            self.add("request-body-made-required", where, path, "body required")
        elif was.get("required") and not now.get("required"):
            self.add("request-body-made-optional", where, path, "body optional")
        self.contents(where, "request", was.get("content") or {}, now.get("content") or {}, f"{path}.content")

    def responses(self, where: str, at: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        old, new = before.get("responses") or {}, after.get("responses") or {}
        old, new = {str(k): v for k, v in old.items()}, {str(k): v for k, v in new.items()}
        for status in sorted(new.keys() - old.keys()):
            rule = "success-status-added" if status.startswith("2") else "error-status-added"
            self.add(rule, where, f"{at}.responses{_key(status)}", status)
        for status in sorted(old.keys() - new.keys()):
            rule = "success-status-removed" if status.startswith("2") else "error-status-removed"
            self.add(rule, where, f"{at}.responses{_key(status)}", status)
        pairs = [(status, status) for status in sorted(old.keys() & new.keys())]
        # A success status changed (200 -> 201): what the generated client parses moved with it.
        gone = sorted(k for k in old.keys() - new.keys() if k.startswith("2"))
        came = sorted(k for k in new.keys() - old.keys() if k.startswith("2"))
        if gone and came:
            pairs.append((gone[0], came[0]))
        for was_status, status in pairs:
            path = f"{at}.responses{_key(status)}"
            was, _ = _resolve(old[was_status], f"{at}.responses{_key(was_status)}", self.old)
            now, path = _resolve(new[status], path, self.new)
            self.contents(f"{where} {status}", "response", was.get("content") or {}, now.get("content") or {},
                          f"{path}.content")  # fmt: skip

    def contents(self, where: str, side: Side, old: Mapping[str, Any], new: Mapping[str, Any], at: str) -> None:
        if side == "response" and bool(old) != bool(new):
            self.add(
                "response-body-added" if new else "response-body-removed", where, at, ", ".join(sorted(old or new))
            )
            return
        for media in sorted(new.keys() - old.keys()):
            self.add(f"{side}-media-type-added", where, f"{at}{_key(media)}", media)
        for media in sorted(old.keys() - new.keys()):
            self.add(f"{side}-media-type-removed", where, f"{at}{_key(media)}", media)
        for media in sorted(old.keys() & new.keys()):
            path = f"{at}{_key(media)}.schema"
            self.schema(where, side, ((old[media] or {}).get("schema"), path), ((new[media] or {}).get("schema"), path))

    # -- schemas ------------------------------------------------------------------

    def schema(self, where: str, side: Side, old: tuple[Any, str], new: tuple[Any, str]) -> None:
        was, now = _shape(*old, self.old), _shape(*new, self.new)
        key = (side, was.ref, now.ref) if was.ref and now.ref else None
        if key is not None:
            if key in self.walked:
                for rule, path in sorted(self.walked[key]):
                    self.add(rule, where, path, self.found[rule, path][1])
                return
            self.walked[key] = set()
            self.active.append(key)
        self.compare_shapes(where, side, was, now)
        if key is not None:
            self.active.pop()

    def compare_shapes(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        if was.ref and now.ref and _name(was.ref) != _name(now.ref):
            self.add("model-renamed", where, now.path, f"{_name(was.ref)} -> {_name(now.ref)}")
        if was.variants is not None or now.variants is not None:
            self.variants(where, side, was, now)
        else:
            self.types(where, side, was, now)
        self.nullable(where, side, was, now)
        self.constraints(where, side, was, now)
        self.values(where, side, was, now)
        self.objects(where, side, was, now)
        if was.items is not None and now.items is not None:
            self.schema(where, side, was.items, now.items)

    def variants(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        if was.variants is None or now.variants is None:
            self.add("type-changed", where, now.path, f"{_describe(was)} -> {_describe(now)}")
            return
        for key in sorted(now.variants.keys() - was.variants.keys()):
            self.add(f"{side}-variant-added", where, now.variants[key][1], key)
        for key in sorted(was.variants.keys() - now.variants.keys()):
            self.add(f"{side}-variant-removed", where, was.variants[key][1], key)
        for key in sorted(was.variants.keys() & now.variants.keys()):
            self.schema(where, side, was.variants[key], now.variants[key])

    def types(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        added, removed = now.types - was.types, was.types - now.types
        if not was.types and now.types:  # anything -> something
            added, removed = frozenset(), frozenset({"any"})
        elif was.types and not now.types:
            added, removed = frozenset({"any"}), frozenset()
        detail = f"{_describe(was)} -> {_describe(now)}"
        if added and removed:
            self.add("type-changed", where, now.path, detail)
        elif added:
            self.add(f"{side}-type-widened", where, now.path, detail)
        elif removed:
            self.add(f"{side}-type-narrowed", where, now.path, detail)
        elif was.format != now.format:
            typed = {was.format, now.format} & TYPED_FORMATS
            self.add("format-changed" if typed else "format-annotation-changed", where, now.path, detail)

    def nullable(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        if now.nullable and not was.nullable:
            self.add(f"{side}-nullable-added", where, now.path, "may be null")
        elif was.nullable and not now.nullable:
            self.add(f"{side}-nullable-removed", where, now.path, "no longer null")

    def constraints(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        for keyword in sorted(was.constraints.keys() | now.constraints.keys()):
            before, after = was.constraints.get(keyword), now.constraints.get(keyword)
            if before == after:
                continue
            detail = f"{keyword}: {'none' if before is None else before} -> {'none' if after is None else after}"
            if side == "response":
                self.add("response-constraint-changed", where, now.path, detail)
            elif _tighter(keyword, before, after):
                self.add("request-constraint-tightened", where, now.path, detail)
            else:
                self.add("request-constraint-loosened", where, now.path, detail)

    def values(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        if was.enum != now.enum:
            if now.enum is None:  # some values -> any value of the type
                self.add(f"{side}-enum-value-added", where, now.path, f"{_values(was.enum)} -> any value")
            elif was.enum is None:
                self.add(f"{side}-enum-value-removed", where, now.path, f"any value -> {_values(now.enum)}")
            else:
                added = [v for v in now.enum if v not in was.enum]
                removed = [v for v in was.enum if v not in now.enum]
                if added:
                    self.add(f"{side}-enum-value-added", where, now.path, _values(added))
                if removed:
                    self.add(f"{side}-enum-value-removed", where, now.path, _values(removed))
        if was.default != now.default:
            detail = f"{_values(was.default) or 'none'} -> {_values(now.default) or 'none'}"
            self.add("default-changed", where, now.path, detail)

    def objects(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        old, new = was.properties, now.properties
        for name in sorted(new.keys() - old.keys()):
            required = name in now.required
            if side == "request":
                rule = "request-property-added-required" if required else "request-property-added-optional"
            else:
                rule = "response-property-added"
            self.add(rule, where, new[name][1], f"{'required' if required else 'optional'} {name}")
        for name in sorted(old.keys() - new.keys()):
            self.add("property-removed", where, old[name][1], name)
        for name in sorted(old.keys() & new.keys()):
            if name in now.required and name not in was.required:
                self.add(f"{side}-property-made-required", where, new[name][1], name)
            elif name in was.required and name not in now.required:
                self.add(f"{side}-property-made-optional", where, new[name][1], name)
            self.schema(where, side, old[name], new[name])
        self.additional(where, side, was, now)

    def additional(self, where: str, side: Side, was: _Shape, now: _Shape) -> None:
        if not (was.types | now.types) & {"object"} and not (was.properties or now.properties):
            return
        if was.additional != "none" and now.additional == "none":
            self.add("additional-properties-forbidden", where, f"{now.path}.additionalProperties", "false")
        elif was.additional == "none" and now.additional != "none":
            self.add("additional-properties-allowed", where, f"{now.path}.additionalProperties", "allowed")
        elif isinstance(was.additional, tuple) and isinstance(now.additional, tuple):
            self.schema(where, side, was.additional, now.additional)


def _resolve(node: Any, path: str, document: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """Follow local $refs (a cycle of refs-to-refs ends as an empty schema); returns the node and its path."""
    seen: set[str] = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"] not in seen:
        ref = node["$ref"]
        seen.add(ref)
        node, path = document, "$"
        for part in ref.removeprefix("#/").split("/"):
            part = part.replace("~1", "/").replace("~0", "~")  # noqa: PLW2901 - JSON pointer unescaping
            node = node.get(part, {}) if isinstance(node, dict) else {}
            path += _key(part)
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return {}, path
    return (node if isinstance(node, dict) else {}), path


def _shape(schema: Any, path: str, document: Mapping[str, Any]) -> _Shape:
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    node, path = _resolve(schema, path, document)
    node, properties, required = _merge_all_of(node, path, document)
    nullable = bool(node.get("nullable"))
    variants = None
    members = node.get("oneOf") or node.get("anyOf")
    keyword = "oneOf" if "oneOf" in node else "anyOf"
    if isinstance(members, list):
        named = []
        for index, member in enumerate(members):
            resolved, _ = _resolve(member, f"{path}.{keyword}[{index}]", document)
            if _types(resolved) == {"null"}:
                nullable = True
            else:
                named.append((member, f"{path}.{keyword}[{index}]"))
        if len(named) == 1:  # Optional[X] as FastAPI writes it: X, nullable
            inner = _shape(*named[0], document)
            return evolve(inner, nullable=True, ref=inner.ref or ref)
        variants = {_variant_key(member, document): (member, at) for member, at in named}
    types = _types(node)
    nullable = nullable or "null" in types
    if "default" in node:
        default: tuple[Any, ...] = (node["default"],)
    else:
        default = ()
    enum = node.get("enum")
    if "const" in node:
        enum = [node["const"]]
    additional = node.get("additionalProperties", True)
    if additional is False:
        additional_shape: Literal["any", "none"] | tuple[Any, str] = "none"
    elif isinstance(additional, dict) and additional:
        additional_shape = (additional, f"{path}.additionalProperties")
    else:
        additional_shape = "any"
    items = (node["items"], f"{path}.items") if isinstance(node.get("items"), dict) else None
    return _Shape(
        path=path,
        ref=ref,
        types=frozenset(types - {"null"}),
        nullable=nullable,
        format=node.get("format"),
        enum=tuple(v for v in enum if v is not None) if isinstance(enum, list) else None,
        default=default,
        properties=properties,
        required=required,
        additional=additional_shape,
        items=items,
        variants=variants,
        constraints={k: node[k] for k in (*UPPER_BOUNDS, *LOWER_BOUNDS, *OTHER_CONSTRAINTS) if k in node},
    )


def _merge_all_of(
    node: dict[str, Any], path: str, document: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, tuple[Any, str]], frozenset[str]]:
    """The node with its allOf members merged in, as the generator makes one model of them."""
    properties = {
        name: (value, f"{path}.properties{_key(name)}") for name, value in (node.get("properties") or {}).items()
    }
    required = set(node.get("required") or [])
    merged = dict(node)
    for index, member in enumerate(node.get("allOf") or []):
        resolved, at = _resolve(member, f"{path}.allOf[{index}]", document)
        resolved, more, needed = _merge_all_of(resolved, at, document)
        properties = {**more, **properties}
        required |= needed
        for key, value in resolved.items():
            if key not in {"properties", "required", "allOf", "title", "description"}:
                merged.setdefault(key, value)
    return merged, properties, frozenset(required)


def _tighter(keyword: str, before: Any, after: Any) -> bool:
    """Whether a validation keyword changed to accept less (a new or changed pattern is taken to)."""
    if after is None:
        return False
    if before is None:
        return after is not False
    if keyword in UPPER_BOUNDS:
        return bool(after < before)
    if keyword in LOWER_BOUNDS:
        return bool(after > before)
    if keyword == "multipleOf":  # looser only when the new step divides the old one
        return bool(before % after != 0)
    return keyword != "uniqueItems" or bool(after)


def _types(node: Mapping[str, Any]) -> set[str]:
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return {str(k) for k in kind}
    if "properties" in node or "allOf" in node:
        return {"object"}
    values = node.get("enum") if "enum" in node else ([node["const"]] if "const" in node else None)
    if isinstance(values, list):
        names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
        return {names.get(type(v), "object") for v in values}
    return set()


def _variant_key(member: Any, document: Mapping[str, Any]) -> str:
    if isinstance(member, dict) and isinstance(member.get("$ref"), str):
        return _name(member["$ref"])
    return _describe(_shape(member, "$", document))


def _name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _describe(shape: _Shape) -> str:
    if shape.variants is not None:
        return " | ".join(sorted(shape.variants))
    kinds = sorted(shape.types) or ["any"]
    text = "|".join(f"{k}:{shape.format}" if shape.format and k == "string" else k for k in kinds)
    if shape.items is not None and "array" in shape.types:
        item = shape.items[0]
        inner = _name(item["$ref"]) if isinstance(item.get("$ref"), str) else _describe(_shape(item, "$", {}))
        text = text.replace("array", f"array<{inner}>")
    return text


def _values(values: Any) -> str:
    return ", ".join(repr(v) for v in values or ())


def _schemes(schemes: frozenset[tuple[str, ...]] | None) -> str:
    if schemes is None:
        return "none"
    return "; ".join(" ".join(part for part in scheme if part) for scheme in sorted(schemes))


def rules_table() -> Iterator[str]:
    """The rules as Markdown table rows, as README lists them."""
    yield "| rule | breaking | why |"
    yield "| --- | --- | --- |"
    for rule in RULES.values():
        yield f"| `{rule.id}` | {'yes' if rule.breaking else 'no'} | {rule.why} |"

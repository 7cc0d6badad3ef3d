"""The SDK's surface, written from the generator's own reading of the spec: the operations table and the resources.

``operations.py`` describes every operation as data (method, path, each argument's place
and JSON kinds, what the answer is); ``resources.py`` gives each operation a typed method
of its resource (``versive.interviews.get(...)``) that hands its arguments and that
description to the client's one generic call. Both come from openapi-python-client's own
parser, run on the corrected spec with generator-config.yml, so the names and types are
the generated models' own.

How an operation is named: its resource is its first tag in snake case (``Question Logic``
becomes ``question_logic``); its method is its operationId (FastAPI's suffix already
removed) without the resource's own words, singular or plural (``create_questions_batch``
in Questions becomes ``create_batch``), without a trailing ``by_<p>`` when ``p`` is a path
parameter (``get_interview_by_id`` becomes ``get``), and ``list`` for a ``get`` whose
answer is an array (``get_studies``). An operation's ``x-sdk`` extension (set by the
overlay) overrides either: ``{resource: ..., name: ...}``; ``alias`` gives it a second
name, a method of the client itself (``create_interview``); ``max_retries`` and
``read_timeout`` set the operation's own defaults; ``waiter: {name, field, until}`` gives its
resource a method that polls it until the answer's `field` is one of `until`
(``interviews.wait``), and the command a ``wait`` too.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Any, NamedTuple

from openapi_python_client import strings
from openapi_python_client.parser.properties.any import AnyProperty
from openapi_python_client.parser.properties.boolean import BooleanProperty
from openapi_python_client.parser.properties.const import ConstProperty
from openapi_python_client.parser.properties.date import DateProperty
from openapi_python_client.parser.properties.datetime import DateTimeProperty
from openapi_python_client.parser.properties.float import FloatProperty
from openapi_python_client.parser.properties.int import IntProperty
from openapi_python_client.parser.properties.list_property import ListProperty
from openapi_python_client.parser.properties.literal_enum_property import LiteralEnumProperty
from openapi_python_client.parser.properties.model_property import ModelProperty
from openapi_python_client.parser.properties.none import NoneProperty
from openapi_python_client.parser.properties.string import StringProperty
from openapi_python_client.parser.properties.union import UnionProperty
from openapi_python_client.parser.properties.uuid import UuidProperty

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from openapi_python_client.parser import GeneratorData
    from openapi_python_client.parser.openapi import Endpoint

# The per-call options every method takes, after its own arguments; an argument may not be named like one.
OPTIONS = ("idempotency_key", "timeout", "max_retries", "deadline", "extra_headers", "extra_query", "extra_body")
SDK_EXTENSION = "x-sdk"
SDK_KEYS: dict[str, type | tuple[type, ...]] = {
    "resource": str,
    "name": str,
    "alias": str,
    "max_retries": int,
    "read_timeout": (int, float),
    "waiter": dict,
}
WAITER_KEYS = ("name", "field", "until")
CREATION_METHODS = ("POST", "PATCH")  # a retry could repeat the work: they take an idempotency key


class SurfaceError(Exception):
    """The spec describes something the SDK's surface cannot express; the message says what and where."""


class Param(NamedTuple):
    """One argument of a generated method, as the generator read it."""

    name: str
    key: str
    where: str
    kinds: tuple[str, ...]
    values: tuple[object, ...]
    annotation: str
    required: bool
    description: str


class Answer(NamedTuple):
    """How a method reads its answer: the JSON kind expected, the reader's source, the return type, its model."""

    kind: str | None
    reader: str
    annotation: str
    model: tuple[str, str] | None = None
    """The module and class of the model the reader makes, imported when the method runs."""


class Waiter(NamedTuple):
    """A method polling an operation until its answer's `field` is one of `until`, from ``x-sdk: {waiter: ...}``."""

    name: str
    field: str
    until: tuple[str, ...]


class Method(NamedTuple):
    """One operation as the SDK exposes it."""

    name: str
    resource: str
    verb: str
    method: str
    path: str
    params: tuple[Param, ...]
    body: bool
    answer: Answer
    statuses: tuple[int, ...]
    summary: str
    max_retries: int | None
    read_timeout: float | None
    models: frozenset[str]
    alias: str | None = None
    """A second name, a method of the client itself (``create_interview``), from ``x-sdk: {alias: ...}``."""
    waiter: Waiter | None = None


# -- reading the generator's endpoints ----------------------------------------------


def methods(data: GeneratorData, document: Mapping[str, Any]) -> list[Method]:
    """Every operation of `data`, named and described, in the generator's order (by tag, then the spec's)."""
    found = []
    for tag, collection in data.endpoint_collections_by_tag.items():
        for error in collection.parse_errors:  # an operation the generator skipped would silently have no method
            raise SurfaceError(f"the generator could not read an operation: {error.header}: {error.detail}")
        for endpoint in collection.endpoints:
            operation = document["paths"][endpoint.path.get_untrusted_value()][endpoint.method]
            found.append(_method(endpoint, str(tag), _extension(operation, endpoint)))
    _check_unique(found)
    return found


def _extension(operation: Mapping[str, Any], endpoint: Endpoint) -> dict[str, Any]:
    extension = operation.get(SDK_EXTENSION) or {}
    where = f"{endpoint.method.upper()} {endpoint.path.get_untrusted_value()}: {SDK_EXTENSION}"
    if not isinstance(extension, dict):
        raise SurfaceError(f"{where} must be a mapping")
    for key, value in extension.items():
        expected = SDK_KEYS.get(key)
        if expected is None:
            raise SurfaceError(f"{where} has {key!r}; known keys are {', '.join(SDK_KEYS)}")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise SurfaceError(f"{where}.{key} must be a {getattr(expected, '__name__', 'number')}, got {value!r}")
    return extension


def _method(endpoint: Endpoint, tag: str, extension: Mapping[str, Any]) -> Method:
    http_method = endpoint.method.upper()
    where = f"{http_method} {endpoint.path.get_untrusted_value()}"
    params = [
        *(_param(p, "path", where) for p in endpoint.path_parameters),
        *(_param(p, "query", where) for p in endpoint.query_parameters),
        *(_param(p, "header", where) for p in endpoint.header_parameters),
    ]
    if endpoint.cookie_parameters:
        raise SurfaceError(f"{where}: cookie parameters are not supported")
    body = bool(endpoint.bodies)
    if body:
        params += _body_params(endpoint, where)
    answer = _answer(endpoint, where)
    resource = extension.get("resource") or tag
    verb = extension.get("name") or derive_verb(str(endpoint.name), resource, endpoint, answer.kind)
    names = [p.name for p in params]
    for name in names:
        if name in OPTIONS or names.count(name) > 1:
            raise SurfaceError(f"{where}: two arguments (or an argument and an option) are named {name!r}")
    models = frozenset(_models_in(p.annotation for p in params) | _models_in([answer.annotation]))
    return Method(
        name=str(endpoint.name),
        resource=resource,
        verb=verb,
        method=http_method,
        path=endpoint.path.get_untrusted_value(),
        params=tuple(params),
        body=body,
        answer=answer,
        statuses=_success_statuses(endpoint),
        summary=_text(endpoint.summary) or _text(endpoint.description) or str(endpoint.name),
        max_retries=extension.get("max_retries"),
        read_timeout=float(extension["read_timeout"]) if "read_timeout" in extension else None,
        models=models,
        alias=extension.get("alias"),
        waiter=_waiter(extension.get("waiter"), endpoint, params, where),
    )


def _waiter(spec: Mapping[str, Any] | None, endpoint: Endpoint, params: Sequence[Param], where: str) -> Waiter | None:
    """The waiter ``x-sdk: {waiter: {name, field, until}}`` asks for, checked against the operation."""
    if spec is None:
        return None
    where = f"{where}: {SDK_EXTENSION}.waiter"
    if sorted(spec) != sorted(WAITER_KEYS):
        raise SurfaceError(f"{where} must have exactly the keys {', '.join(WAITER_KEYS)}, got {', '.join(spec)}")
    name, field, until = spec["name"], spec["field"], spec["until"]
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise SurfaceError(f"{where}.name must be a method name, got {name!r}")
    if not isinstance(until, list) or not until or not all(isinstance(value, str) for value in until):
        raise SurfaceError(f"{where}.until must be a non-empty list of strings, got {until!r}")
    if any(p.where != "path" for p in params):
        raise SurfaceError(f"{where}: a waiter polls an operation whose only arguments are in its path")
    model = next((r.prop for r in endpoint.responses if _is_success(r)), None)
    fields = (
        [*(model.required_properties or []), *(model.optional_properties or [])]
        if isinstance(model, ModelProperty)
        else []
    )
    if not any(prop.name == field for prop in fields):
        raise SurfaceError(f"{where}.field {field!r} is not a field of the operation's answer (an object)")
    return Waiter(name, field, tuple(until))


def _body_params(endpoint: Endpoint, where: str) -> list[Param]:
    if len(endpoint.bodies) != 1 or endpoint.bodies[0].body_type != "json":
        raise SurfaceError(f"{where}: only one JSON request body is supported")
    model = endpoint.bodies[0].prop
    if not isinstance(model, ModelProperty) or model.required_properties is None:
        raise SurfaceError(f"{where}: the request body must be an object with properties")
    fields = [*model.required_properties, *(model.optional_properties or [])]
    return [_param(prop, "body", where) for prop in fields]


def _param(prop: Any, where: str, operation: str) -> Param:
    key = prop.name if isinstance(prop.name, str) else prop.name.get_untrusted_value()
    # The name in the spec when Python allows it (`type`, not the models' `type_`); else the generator's.
    name = key if key.isidentifier() and not keyword.iskeyword(key) and key != "self" else str(prop.python_name)
    values: tuple[object, ...] = ()
    if isinstance(prop, LiteralEnumProperty) or (
        isinstance(prop, UnionProperty) and any(isinstance(p, LiteralEnumProperty) for p in prop.inner_properties)
    ):
        enums = [prop] if isinstance(prop, LiteralEnumProperty) else prop.inner_properties
        values = tuple(sorted(v for e in enums if isinstance(e, LiteralEnumProperty) for v in e.values))
        if any(isinstance(p, NoneProperty) for p in getattr(prop, "inner_properties", [])):
            values += (None,)
    return Param(
        name=name,
        key=key,
        where=where,
        kinds=_kinds(prop, f"{operation}: {where} {key}"),
        values=values,
        annotation=_annotation(prop, f"{operation}: {where} {key}"),
        required=bool(prop.required),
        description=_text(getattr(prop, "description", None)),
    )


_KINDS: tuple[tuple[type, str, str], ...] = (
    (StringProperty, "string", "str"),
    (IntProperty, "integer", "int"),
    (FloatProperty, "number", "float"),
    (BooleanProperty, "boolean", "bool"),
    (NoneProperty, "null", "None"),
    (DateTimeProperty, "date-time", "datetime.datetime"),
    (DateProperty, "date", "datetime.date"),
    (UuidProperty, "uuid", "UUID"),
)


def _kinds(prop: Any, where: str) -> tuple[str, ...]:
    """The JSON kinds a value may be: () for any."""
    if isinstance(prop, UnionProperty):
        inner = [_kinds(p, where) for p in prop.inner_properties]
        return () if () in inner else tuple(dict.fromkeys(k for kinds in inner for k in kinds))
    if isinstance(prop, ModelProperty):
        return ("object",)
    if isinstance(prop, ListProperty):
        return ("array",)
    if isinstance(prop, LiteralEnumProperty | ConstProperty):
        return ("string",) if all(isinstance(v, str) for v in _values(prop)) else ()
    if isinstance(prop, AnyProperty):
        return ()
    for kind, json_kind, _ in _KINDS:
        if isinstance(prop, kind):
            return (json_kind,)
    raise SurfaceError(f"{where}: {type(prop).__name__} is not supported")


def _values(prop: Any) -> list[object]:
    return list(prop.values) if isinstance(prop, LiteralEnumProperty) else [prop.value.raw_value]


def _annotation(prop: Any, where: str) -> str:  # noqa: PLR0911 - one answer per kind of property
    """The type a caller may pass: objects as mappings or the generated models, lists as sequences."""
    if isinstance(prop, UnionProperty):
        return " | ".join(dict.fromkeys(_annotation(p, where) for p in prop.inner_properties))
    if isinstance(prop, ModelProperty):
        return f"Mapping[str, Any] | {prop.class_info.name}"
    if isinstance(prop, ListProperty):
        return f"Sequence[{_annotation(prop.inner_property, where)}]"
    if isinstance(prop, LiteralEnumProperty):
        return str(prop.class_info.name)
    if isinstance(prop, ConstProperty):
        return prop.get_type_string(no_optional=True).as_unembedded_code()
    if isinstance(prop, AnyProperty):
        return "Any"
    for kind, _, annotation in _KINDS:
        if isinstance(prop, kind):
            return annotation
    raise SurfaceError(f"{where}: {type(prop).__name__} is not supported")


def _answer(endpoint: Endpoint, where: str) -> Answer:
    """How the success answer is read; an operation documenting two different ones is refused."""
    readers = {_reader(r.prop, r.source["return_type"], where) for r in endpoint.responses if _is_success(r)}
    if len(readers) != 1:
        found = "none" if not readers else "more than one kind"
        raise SurfaceError(f"{where}: documents {found} of success answer; the SDK reads exactly one")
    return readers.pop()


def _success_statuses(endpoint: Endpoint) -> tuple[int, ...]:
    codes: set[int] = set()
    for response in endpoint.responses:
        if _is_success(response):
            low, high = response.status_code.range or (0, -1)
            codes.update(range(low, high + 1))
    return tuple(sorted(codes))


def _is_success(response: Any) -> bool:
    low, high = response.status_code.range or (0, 0)
    return low >= 200 and high < 300  # noqa: PLR2004 - the success range


def _reader(prop: Any, source: str, where: str) -> Answer:
    if source == "None":
        return Answer(None, "_none", "None")
    if isinstance(prop, ModelProperty):
        model = (str(prop.class_info.module_name), str(prop.class_info.name))
        return Answer("object", f"{prop.class_info.name}.from_dict", str(prop.class_info.name), model)
    if isinstance(prop, ListProperty) and isinstance(prop.inner_property, ModelProperty):
        info = prop.inner_property.class_info
        reader = f"lambda data: [{info.name}.from_dict(item) for item in data]"
        return Answer("array", reader, f"list[{info.name}]", (str(info.module_name), str(info.name)))
    if isinstance(prop, ListProperty):  # of plain values, as the JSON has them
        return Answer("array", "_any", prop.get_type_string(no_optional=True).as_unembedded_code())
    if isinstance(prop, AnyProperty):
        return Answer("any", "_any", "Any")
    raise SurfaceError(f"{where}: a success answer of {type(prop).__name__} is not supported")


def _models_in(annotations: Iterable[str]) -> set[str]:
    """The generated model and literal names an annotation uses."""
    builtin = {"Mapping", "Sequence", "Any", "None", "UUID", "Literal"}
    names = set()
    for annotation in annotations:
        for word in annotation.replace("[", " ").replace("]", " ").replace("|", " ").replace(",", " ").split():
            if word[:1].isupper() and word not in builtin and "." not in word:
                names.add(word)
    return names


def _text(value: Any) -> str:
    if value is None:
        return ""
    return " ".join(strings.safe_for_docstring(value).split())


def derive_verb(operation_id: str, resource: str, endpoint: Endpoint, answer_kind: str | None) -> str:
    """The method name of an operation of `resource` (see the module docstring for the rule)."""
    words = operation_id.split("_")
    noun = resource.split("_")
    for start in range(len(words) - len(noun) + 1):
        if all(_same_word(words[start + i], word) for i, word in enumerate(noun)):
            words = words[:start] + words[start + len(noun) :]
            break
    path_names = {str(p.python_name) for p in endpoint.path_parameters}
    if len(words) > 2 and words[-2] == "by" and words[-1] in path_names:  # noqa: PLR2004 - `by` and a name
        words = words[:-2]
    if words == ["get"] and answer_kind == "array":
        words = ["list"]
    return "_".join(words) or operation_id


def _same_word(word: str, noun: str) -> bool:
    return word in {noun, _singular(noun)} or _singular(word) == _singular(noun)


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _check_unique(found: Sequence[Method]) -> None:
    resources = {method.resource for method in found}
    for method in found:
        if method.alias in resources or (method.alias and [m.alias for m in found].count(method.alias) > 1):
            raise SurfaceError(f"{method.method} {method.path}: the alias {method.alias!r} is taken")
    seen: dict[tuple[str, str], str] = {}
    names = [(m.resource, m.verb, f"{m.method} {m.path}") for m in found]
    names += [(m.resource, m.waiter.name, f"the waiter of {m.method} {m.path}") for m in found if m.waiter]
    for resource, name, what in names:
        if (resource, name) in seen:
            raise SurfaceError(
                f"{seen[resource, name]} and {what} are both {resource}.{name}; "
                f"name one in the overlay ({SDK_EXTENSION}: {{name: ...}})"
            )
        seen[resource, name] = what


# -- writing ------------------------------------------------------------------------


def _constant(method: Method) -> str:
    return method.name.upper()


def operations_source(found: Sequence[Method]) -> str:
    """The source of ``operations.py``: each operation described as data, for the client's generic call."""
    rows = []
    for method in found:
        params = "".join(
            f"        Param({p.name!r}, {p.key!r}, {p.where!r}, {p.kinds!r}, {p.values!r}, {p.required!r}),\n"
            for p in method.params
        )
        rows.append(
            f"{_constant(method)} = Operation(\n"
            f"    name={method.name!r},\n"
            f"    method={method.method!r},\n"
            f"    path={method.path!r},\n"
            f"    resource={method.resource!r},\n"
            f"    verb={method.verb!r},\n"
            f"    params=(\n{params}    ),\n"
            f"    body={method.body!r},\n"
            f"    answer={method.answer.kind!r},\n"
            f"    statuses={method.statuses!r},\n"
            f"    summary={method.summary!r},\n"
            f"    read_timeout={method.read_timeout!r},\n"
            ")\n"
        )
    table = "".join(f"    {_constant(m)},\n" for m in found)
    waiters = "".join(
        f"    Waiter({m.waiter.name!r}, {_constant(m)}, {m.waiter.field!r}, {m.waiter.until!r}),\n"
        for m in found
        if m.waiter
    )
    return (
        OPERATIONS_HEADER
        + "\n\n".join(rows)
        + f"\nOPERATIONS: tuple[Operation, ...] = (\n{table})\n"
        + f"\nWAITERS: tuple[Waiter, ...] = (\n{waiters})\n"
    )


OPERATIONS_HEADER = '''"""Every operation of the API, described as data for the client's one generic call."""

from typing import NamedTuple


class Param(NamedTuple):
    """One argument of an operation.

    `name` is the method's argument; `key` its name in the request; `where` is ``path``,
    ``query``, ``header`` or ``body``; `kinds` the JSON kinds it may be (``string``,
    ``integer``, ``number``, ``boolean``, ``object``, ``array``, ``null``, ``date-time``,
    ``date``, ``uuid``; none: any); `values` the values it may take, when the spec lists them;
    `required` whether the method requires it.
    """

    name: str
    key: str
    where: str
    kinds: tuple[str, ...]
    values: tuple[object, ...]
    required: bool = False


class Operation(NamedTuple):
    """One operation: how to send it and what its answer is.

    `name` is the generated function's name; `resource` and `verb` the method that calls
    it (``interviews.get``); `answer` the JSON kind of its success answer (``object``,
    ``array``, ``any``), None when it has no body; `statuses` the success statuses the spec
    documents; `read_timeout` how long its answer may take, when it says (the AI edits).
    """

    name: str
    method: str
    path: str
    resource: str
    verb: str
    params: tuple[Param, ...]
    body: bool
    answer: str | None
    statuses: tuple[int, ...]
    summary: str
    read_timeout: float | None


class Waiter(NamedTuple):
    """A method of `operation`'s resource (``interviews.wait``) polling it until the answer's `field` is in `until`."""

    name: str
    operation: Operation
    field: str
    until: tuple[str, ...]


'''


def resources_source(found: Sequence[Method]) -> str:
    """The source of ``resources.py``: a class per resource, a method per operation, and the classes grouping them."""
    by_resource: dict[str, list[Method]] = {}
    for method in found:
        by_resource.setdefault(method.resource, []).append(method)
    models = sorted(set().union(*(m.models for m in found)))
    constants = ", ".join(_constant(m) for m in found)
    parts = [
        RESOURCES_HEADER.replace("@MODELS@", "".join(f"        {name},\n" for name in models)).replace(
            "@CONSTANTS@", constants
        )
    ]
    for resource, members in by_resource.items():
        parts.append(_resource_class(resource, members))
        parts.append(_raw_class(resource, members))
    parts.append(
        _group("Resources", "Every resource of the API, each an attribute (made on first use).", by_resource, "")
    )
    raw_doc = "Every resource, each method answering with the raw response: ``versive.with_raw_response``."
    parts.append(
        _group("ResourcesWithRawResponse", raw_doc, by_resource, "WithRawResponse")
        + "\n    def __init__(self, caller: Caller) -> None:\n        self._caller = caller\n"
    )
    return "\n\n".join(parts)


RESOURCES_HEADER = '''"""Every operation of the API as a method of its resource: ``versive.interviews.get(id)``.

Each method checks nothing and sends nothing itself: it hands its arguments, its
operation's description and the way to read its answer to the client's one generic call
(`Caller`), which checks, sends through the attempt loop and reads.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, cast, runtime_checkable

from .operations import @CONSTANTS@, Operation
from .types import UNSET, Unset

if TYPE_CHECKING:
    import datetime
    from uuid import UUID

    import httpx

    # Each method imports the model it answers with when it runs: importing every model
    # here would cost every `import versive_client` tens of milliseconds.
    from .models import (
@MODELS@    )

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
P = ParamSpec("P")

__all__ = ["Caller", "RawResponse", "Resources", "ResourcesWithRawResponse"]


@runtime_checkable
class RawResponse(Protocol[T_co]):
    """An answer as it came, from ``versive.with_raw_response.<resource>.<method>(...)``."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""
        ...

    @property
    def headers(self) -> Mapping[str, str]:
        """The response's headers (names in any case)."""
        ...

    @property
    def request_id(self) -> str | None:
        """The response's ``x-request-id`` (or ``request-id``), if it had one."""
        ...

    @property
    def attempts(self) -> int:
        """How many requests the call made: 1 plus the retries."""
        ...

    @property
    def content(self) -> bytes:
        """The body, decoded by its Content-Encoding."""
        ...

    def parse(self) -> T_co:
        """The answer read as the method returns it (the model, a list of models, or None)."""
        ...


class Caller(Protocol):
    """What the resources need of a client: one generic call.

    `arguments` and `options` hold only what the caller gave: one left out is not given.
    """

    async def call(
        self,
        operation: Operation,
        arguments: Mapping[str, object],
        read: Callable[[Any], T],
        options: Mapping[str, object],
    ) -> T:
        """Check `arguments`, send `operation` with them and `options`, and `read` the answer."""
        ...


def _given(values: dict[str, object]) -> dict[str, object]:
    # What the caller passed: an argument left at UNSET is not given, so not sent.
    return {name: value for name, value in values.items() if value is not UNSET}


def _none(data: object) -> None:
    return None


def _any(data: Any) -> Any:
    return data


def _raw(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[RawResponse[T]]]:
    # A resource made on a raw caller answers with that caller's RawResponse.
    return cast("Callable[P, Awaitable[RawResponse[T]]]", method)'''


def _class_name(resource: str) -> str:
    return strings.pascal_case(resource) + "Resource"


def _resource_class(resource: str, members: Sequence[Method]) -> str:
    verbs = ", ".join(m.verb for m in members)
    lines = [
        f"class {_class_name(resource)}:",
        f'    """{strings.pascal_case(resource)}: {verbs}."""',
        "",
        "    def __init__(self, caller: Caller) -> None:",
        "        self._caller = caller",
    ]
    for member in members:
        lines += ["", *_method_source(member)]
        if member.waiter:
            lines += ["", *_waiter_source(member, member.waiter)]
    return "\n".join(lines)


def _signature(method: Method) -> tuple[list[str], list[tuple[str, str]]]:
    """The method's parameters (path ones positional, the rest keyword), and its per-call options."""
    path = [p for p in method.params if p.where == "path"]
    named = [p for p in method.params if p.where != "path"]
    named.sort(key=lambda p: not p.required)
    signature = ["self", *(f"{p.name}: {p.annotation}" for p in path)]
    if path:
        signature.append("/")
    signature.append("*")
    signature += [
        f"{p.name}: {p.annotation}" if p.required else f"{p.name}: {p.annotation} | Unset = UNSET" for p in named
    ]
    options = _options(method)
    return [*signature, *(f"{name}: {annotation}" for name, annotation in options)], options


def _docstring(method: Method, lead: str) -> str:
    docs = [lead, "", f"``{method.method} {method.path}``"]
    if method.params:
        docs += ["", "Args:"]
        docs += [f"    {p.name}: {p.description or _PLACES[p.where].format(p.key)}" for p in method.params]
    docs += ["", "Options:", f"    {', '.join(name for name, _ in _options(method))}: see ``VersiveClient``."]
    if method.read_timeout is not None:
        docs.append(f"    It waits up to {method.read_timeout:g} s for its answer unless given ``timeout``.")
    if method.max_retries is not None:
        docs.append(f"    It is sent at most {method.max_retries + 1} time(s) unless given ``max_retries``.")
    docs += ["", "Returns:", f"    {method.answer.annotation}", "", "Raises:"]
    docs += ["    TypeError, ValueError: an argument the spec does not allow; nothing was sent."]
    docs += ["    VersiveError: the call failed (a status error, a connection error, an unusable answer)."]
    return "\n".join(f"        {line}".rstrip() for line in docs).lstrip()


def _method_source(method: Method) -> list[str]:
    signature, options = _signature(method)
    arguments = ", ".join(f"{p.name!r}: {p.name}" for p in method.params)
    option_values = ", ".join(f"{name!r}: {name}" for name, _ in options)
    model = method.answer.model
    imports = [f"        from .models.{model[0]} import {model[1]}", ""] if model else []
    return [
        f"    async def {method.verb}({', '.join(signature)}) -> {method.answer.annotation}:",
        f'        """{_docstring(method, f"{method.summary}.")}\n        """',
        *imports,
        "        return await self._caller.call(",
        f"            {_constant(method)},",
        f"            _given({{{arguments}}}),",
        f"            {method.answer.reader},",
        f"            _given({{{option_values}}}),",
        "        )",
    ]


def _waiter_source(method: Method, waiter: Waiter) -> list[str]:
    """A method polling `method` until its answer's field is final: it hands them to the SDK's one wait."""
    path = [p for p in method.params if p.where == "path"]
    until = " or ".join([", ".join(waiter.until[:-1]), waiter.until[-1]] if len(waiter.until) > 1 else waiter.until)
    signature = ", ".join(["self", *(f"{p.name}: {p.annotation}" for p in path), "/", "*"])
    signature += ", timeout: float"
    signature += f", until: str | Collection[str] = {waiter.until!r}"
    signature += ", poll_interval: float = 1.0, max_poll_interval: float = 30.0"
    called = f"{method.resource}.{method.verb}"
    shown = 'f"' + called + "(" + ", ".join("{" + p.name + "!r}" for p in path) + ')"'
    docs = [
        f"Wait until its {waiter.field} is {until} (or one of `until`), and return it.",
        "",
        f"``{method.method} {method.path}`` every `poll_interval` seconds at first, each wait doubling",
        "up to `max_poll_interval`, with jitter, and at least what a ``Retry-After`` asks. Each poll",
        "is a call of the client with its own options (retries, timeouts, its deadline, telemetry),",
        "cut short if still going when `timeout` runs out. A poll that fails for a while (a",
        "connection lost or refused, a timeout, 408, 429, any 5xx) is tried again at the next",
        "turn; any other error ends the wait at once. Not on ``with_raw_response``: a wait is many calls.",
        "",
        "Args:",
        *(f"    {p.name}: {p.description or _PLACES[p.where].format(p.key)}" for p in path),
        "    timeout: the most seconds to wait.",
        f"    until: the {waiter.field} values that end the wait.",
        "    poll_interval: seconds between the first two polls.",
        "    max_poll_interval: the longest wait between two polls.",
        "",
        "Returns:",
        f"    {method.answer.annotation}: the first answer whose {waiter.field} is one of `until`.",
        "",
        "Raises:",
        f"    WaitTimeoutError: not there within `timeout`; it says the last {waiter.field} seen.",
        "    TypeError, ValueError: an argument that is not allowed; nothing was sent.",
        "    VersiveError: a poll failed for good (404, 401, an unusable answer).",
    ]
    doc = "\n".join(f"        {line}".rstrip() for line in docs).lstrip()
    return [
        f"    async def {waiter.name}({signature}) -> {method.answer.annotation}:",
        f'        """{doc}\n        """',
        "        from versive_client.webhooks import wait_until",
        "",
        "        return await wait_until(",
        f"            functools.partial(self.{method.verb}, {', '.join(p.name for p in path)}),",
        f"            {shown},",
        f"            {waiter.field!r},",
        "            until,",
        "            timeout=timeout,",
        "            poll_interval=poll_interval,",
        "            max_poll_interval=max_poll_interval,",
        "        )",
    ]


def _alias_source(method: Method) -> list[str]:
    """A method of the client itself making the same call, under the operation's alias."""
    signature, options = _signature(method)
    passed = [p.name for p in method.params if p.where == "path"]
    passed += [f"{p.name}={p.name}" for p in method.params if p.where != "path"]
    passed += [f"{name}={name}" for name, _ in options]
    lead = f"{method.summary}: the same call as ``{method.resource}.{method.verb}``."
    return [
        f"    async def {method.alias}({', '.join(signature)}) -> {method.answer.annotation}:",
        f'        """{_docstring(method, lead)}\n        """',
        f"        return await self.{method.resource}.{method.verb}({', '.join(passed)})",
    ]


_PLACES = {
    "path": "the ``{}`` in the path.",
    "query": "the ``{}`` query parameter.",
    "header": "the ``{}`` header.",
    "body": "the body's ``{}``.",
}


def _options(method: Method) -> list[tuple[str, str]]:
    options = []
    if method.method in CREATION_METHODS:
        options.append(("idempotency_key", "str | None | Unset = UNSET"))
    options += [
        ("timeout", "float | httpx.Timeout | Unset = UNSET"),
        # An operation's own default shows in its signature (agent_edit: 0, never sent twice unless asked).
        ("max_retries", f"int | Unset = {'UNSET' if method.max_retries is None else method.max_retries}"),
        ("deadline", "float | None | Unset = UNSET"),
        ("extra_headers", "Mapping[str, str] | None = None"),
        ("extra_query", "Mapping[str, object] | None = None"),
    ]
    if method.body:
        options.append(("extra_body", "Mapping[str, object] | None = None"))
    return options


def _raw_class(resource: str, members: Sequence[Method]) -> str:
    lines = [
        f"class {_class_name(resource)}WithRawResponse:",
        f'    """{strings.pascal_case(resource)}, each method answering with the raw response."""',
        "",
        "    def __init__(self, caller: Caller) -> None:",
        f"        resource = {_class_name(resource)}(caller)",
        *(f"        self.{m.verb} = _raw(resource.{m.verb})" for m in members),
    ]
    return "\n".join(lines)


def _group(name: str, doc: str, by_resource: Mapping[str, Sequence[Method]], suffix: str) -> str:
    """A class holding each resource as an attribute made on first use, for the caller it holds in `_caller`."""
    lines = [f"class {name}:", f'    """{doc}"""', "", "    _caller: Caller"]
    for resource, members in by_resource.items():
        kind = f"{_class_name(resource)}{suffix}"
        lines += [
            "",
            "    @functools.cached_property",
            f"    def {resource}(self) -> {kind}:",
            f'        """{strings.pascal_case(resource)}: {", ".join(m.verb for m in members)}."""',
            f"        return {kind}(self._caller)",
        ]
        if not suffix:
            for member in (m for m in members if m.alias):
                lines += ["", *_alias_source(member)]
    return "\n".join(lines) + "\n"


def reference_table(found: Sequence[Method]) -> str:
    """The README's table of every method: the call (path arguments, required keywords, ``...`` for the rest)."""
    rows = ["| method | request | what it does |", "| --- | --- | --- |"]
    for method in found:
        arguments = [p.name for p in method.params if p.where == "path"]
        arguments += [f"{p.name}=..." for p in method.params if p.where != "path" and p.required]
        if any(p.where != "path" and not p.required for p in method.params):
            arguments.append("...")
        call = f"versive.{method.resource}.{method.verb}({', '.join(arguments)})"
        rows.append(f"| `{call}` | `{method.method} {method.path}` | {method.summary} |")
        if method.waiter:
            waiter, paths = method.waiter, [p.name for p in method.params if p.where == "path"]
            call = f"versive.{method.resource}.{waiter.name}({', '.join([*paths, 'timeout=...', '...'])})"
            what = f"Wait until the {waiter.field} is {', '.join(waiter.until)} (polls {method.verb})"
            rows.append(f"| `{call}` | `{method.method} {method.path}`, polled | {what} |")
    return "\n".join(rows) + "\n"
